"""Request and response shapes of the mediation API (unknown fields are refused)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


SOURCES = ("case", "sweep", "court", "walk_in", "petition")
SOURCE_LABELS = {
    "case": "案件转入",
    "sweep": "网格排查",
    "court": "法院委派",
    "walk_in": "来访",
    "petition": "信访转入",
}
PARTY_ROLES = ("申请人", "被申请人", "第三人")
INCIDENT_KINDS = ("民转刑", "群体性事件", "越级上访", "其他")


class PartyIn(In):
    role: Literal["申请人", "被申请人", "第三人"]
    name: str = Field(min_length=1, max_length=64)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9\- ]{5,20}$")
    id_number: str | None = Field(default=None, pattern=r"^\d{17}[\dXx]$")
    address: str = Field(default="", max_length=200)
    minor: bool = False


class RiskInput(In):
    """What the mediator observed; petitions, people and amount are taken from the records."""

    threats: bool = False
    prior_violence: bool = False


class DisputeIn(In):
    title: str = Field(min_length=2, max_length=200)
    dispute_type: str = Field(max_length=20)
    scale: Literal["一般", "较大", "重大"] = "一般"
    people_count: int = Field(default=2, ge=1, le=100000)
    amount: float | None = Field(default=None, ge=0, le=1e11)
    place: str = Field(default="", max_length=300)
    region_code: str = Field(pattern=r"^\d{6}(\d{3}(\d{3})?)?$")
    grid_code: str | None = Field(default=None, pattern=r"^\d{15}$")
    description: str = Field(min_length=2, max_length=8000)
    source: Literal["case", "sweep", "court", "walk_in", "petition"]
    source_ref: str = Field(default="", max_length=100)
    case_id: int | None = Field(default=None, ge=1)
    petition_id: int | None = Field(default=None, ge=1)
    way: str = Field(default="人民调解", max_length=10)
    organisation: str = Field(default="", max_length=100)
    mediator_id: int | None = Field(default=None, ge=1)
    center: str = Field(default="", max_length=40)
    family_kind: Literal["divorce", "domestic_violence", "minors"] | None = None
    parties: list[PartyIn] = Field(min_length=1, max_length=50)
    risk: RiskInput = Field(default_factory=RiskInput)


class SessionIn(In):
    held_at: datetime | None = None
    place: str = Field(min_length=1, max_length=200)
    participants: list[str] = Field(min_length=1, max_length=50)
    notes: str = Field(min_length=1, max_length=8000)
    risk: RiskInput
    people_count: int | None = Field(default=None, ge=1, le=100000)
    amount: float | None = Field(default=None, ge=0, le=1e11)


class AgreementIn(In):
    facts: str = Field(min_length=2, max_length=8000, description="纠纷主要事实、争议事项")
    terms: list[str] = Field(min_length=1, max_length=50, description="双方达成的协议内容")
    performance_manner: str = Field(min_length=1, max_length=500, description="履行方式")
    performance_deadline: date = Field(description="履行期限")
    outcome: Literal["达成协议", "和好", "协议离婚"] = "达成协议"


class DisputeActionInput(In):
    version: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)
    reason: str | None = Field(default=None, max_length=1000)
    mediator_id: int | None = Field(default=None, ge=1)
    session: SessionIn | None = None
    risk: RiskInput | None = None
    agreement: AgreementIn | None = None
    document_id: int | None = Field(default=None, ge=1)
    routes: list[str] = Field(default_factory=list, max_length=3)
    party_id: int | None = Field(default=None, ge=1)
    evaluation: Literal["满意", "基本满意", "不满意"] | None = None
    result: Literal["确认有效", "驳回"] | None = None
    incident_kind: Literal["民转刑", "群体性事件", "越级上访", "其他"] | None = None


class PartyOut(BaseModel):
    id: int
    role: str
    name: str | None
    phone: str | None
    id_number: str | None
    minor: bool
    refused: bool


class SessionOut(BaseModel):
    seq: int
    held_at: datetime
    place: str
    participants: list[Any]
    notes: str
    risk_level: str
    risk_reasons: list[Any]
    recorded_by: str


class DisputeOut(BaseModel):
    id: int
    code: str
    title: str
    dispute_type: str
    scale: str
    people_count: int
    amount: float | None
    place: str
    region_code: str
    county_code: str
    town_code: str | None
    grid_code: str | None
    description: str
    source: str
    source_label: str
    source_ref: str
    case_id: int | None
    way: str
    organisation: str
    mediator_id: int | None
    mediator_name: str | None
    center: str
    family_kind: str | None
    status: str
    status_label: str
    risk_level: str
    risk_reasons: list[Any]
    peak_risk: str
    escalated: bool
    group_incident: bool
    registered_at: datetime
    accepted_at: datetime | None
    deadline_at: datetime | None
    overdue: bool
    agreed_at: datetime | None
    signed_at: datetime | None
    performed_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    agreement: dict[str, Any] | None
    routes: list[Any]
    cooling_off_until: date | None
    judicial_deadline: date | None
    judicial_applied_at: datetime | None
    judicial_result: str | None
    session_count: int
    revisit_count: int
    evaluation: str | None
    version: int
    parties: list[PartyOut]
    sessions: list[SessionOut]


class EventOut(BaseModel):
    seq: int
    action: str
    actor_name: str
    actor_role: str
    at: datetime
    from_status: str | None
    to_status: str | None
    note: str
    data: dict[str, Any]
    hash: str


class DocumentOut(BaseModel):
    id: int
    kind: str
    filename: str
    mime: str
    size: int
    sha256: str
    created_at: datetime


class MediatorIn(In):
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["lawyer", "mediator", "counsellor", "officer", "judge", "volunteer"]
    organisation: str = Field(min_length=1, max_length=100)
    center: str = Field(default="", max_length=40)
    region_code: str = Field(pattern=r"^\d{6}(\d{3}(\d{3})?)?$")
    user_id: int | None = Field(default=None, ge=1)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9\- ]{5,20}$")


class MediatorOut(BaseModel):
    id: int
    name: str
    kind: str
    organisation: str
    center: str
    region_code: str
    user_id: int | None
    phone: str | None
    active: bool


class UnavailableIn(In):
    days: list[date] = Field(min_length=1, max_length=366)
    reason: str = Field(default="", max_length=200)


class RotaGenerateIn(In):
    start: date
    end: date
    per_day: int | None = Field(default=None, ge=1, le=10)
    replace: bool = False


class SwapIn(In):
    day: date
    from_mediator_id: int = Field(ge=1)
    to_mediator_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=500)


class PetitionIn(In):
    form: Literal["来信", "来访", "网上"]
    petitioner_name: str = Field(min_length=1, max_length=64)
    petitioner_phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9\- ]{5,20}$")
    petitioner_id_number: str | None = Field(default=None, pattern=r"^\d{17}[\dXx]$")
    people_count: int = Field(default=1, ge=1, le=100000)
    subject: str = Field(min_length=2, max_length=200)
    content: str = Field(min_length=2, max_length=8000)
    region_code: str = Field(pattern=r"^\d{6}(\d{3}(\d{3})?)?$")
    received_level: Literal["town", "county", "city", "province", "national"] = "county"
    repeat_of_id: int | None = Field(default=None, ge=1)


class PetitionActionInput(In):
    version: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)
    reason: str | None = Field(default=None, max_length=1000)
    reply: str | None = Field(default=None, max_length=8000)
    resolved: bool | None = None
    owner: str | None = Field(default=None, max_length=100)
    deadline: date | None = None
    dispute: DisputeIn | None = None


class PetitionOut(BaseModel):
    id: int
    code: str
    form: str
    petitioner_name: str | None
    petitioner_phone: str | None
    petitioner_id_number: str | None
    people_count: int
    subject: str
    content: str
    region_code: str
    county_code: str
    received_level: str
    proper_level: str
    skip_level: bool
    repeat_of_id: int | None
    repeat_index: int
    petitions_by_same_person: int
    dispute_id: int | None
    status: str
    status_label: str
    received_at: datetime
    accept_deadline: date | None
    reply_deadline: date | None
    accepted_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    resolved: bool | None
    reply: str | None
    backlog: bool
    backlog_owner: str | None
    backlog_deadline: date | None
    version: int
