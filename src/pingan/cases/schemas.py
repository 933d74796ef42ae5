"""Request and response shapes of the case API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ActionInput(BaseModel):
    """Fields an action may need; each action checks the ones it requires."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="expected case version (optimistic lock)")
    note: str = Field(default="", max_length=2000)
    reason: str | None = Field(default=None, max_length=1000)
    department_id: int | None = Field(default=None, ge=1)
    category: str | None = Field(default=None, max_length=20, description="correct the category when dispatching")
    co_department_ids: list[int] = Field(default_factory=list, max_length=10)
    result: str | None = Field(default=None, max_length=4000)
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)
    satisfaction: str | None = Field(default=None, max_length=10)
    solved: bool | None = None
    amount: float | None = Field(default=None, gt=0, le=60, description="extension length")
    unit: str | None = Field(default=None, pattern="^(hours|work_hours|work_days)$")
    target_case_id: int | None = Field(default=None, ge=1)
    three_way_call: str | None = Field(default=None, max_length=500, description="三方通话 outcome")
    incident_no: str | None = Field(default=None, max_length=64)


class DepartmentRef(BaseModel):
    id: int
    name: str
    role: str
    active: bool
    feedback: str | None = None


class CaseOut(BaseModel):
    id: int
    tracking_code: str
    channel: str
    external_id: str
    case_type: str
    kind: str
    urgency: str
    title: str
    content: str
    address: str
    lat: float | None
    lon: float | None
    crs: str = "wgs84"
    region_code: str
    county_code: str
    town_code: str | None
    village_code: str | None
    grid_code: str | None
    locate_level: str
    category: str | None
    status: str
    status_label: str
    caller_name: str | None
    caller_phone: str | None
    caller_id_number: str | None = None
    confidential: bool
    department_id: int | None
    departments: list[DepartmentRef]
    owner_platform: str
    received_at: datetime
    assigned_at: datetime | None
    sign_deadline_at: datetime | None
    deadline_at: datetime | None
    deadline_provisional: bool
    closed_at: datetime | None
    merged_into_id: int | None
    pending_request: dict[str, Any] | None
    return_count: int
    rework_count: int
    urge_count: int
    supervised: bool
    escalation_level: int
    satisfaction: str | None
    routing: dict[str, Any] | None
    overdue: bool
    version: int
    updated_at: datetime


class EventOut(BaseModel):
    seq: int
    action: str
    action_label: str
    actor_name: str
    actor_role: str
    at: datetime
    from_status: str | None
    to_status: str | None
    note: str
    data: dict[str, Any]
    hash: str


class Page(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    page_size: int
