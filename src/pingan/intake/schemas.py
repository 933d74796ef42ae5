"""What each channel sends. Adapters (pingan.intake.adapters) turn these into one IntakeRecord."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pingan.geo.crs import out_of_china

CaseType = Literal["咨询", "求助", "投诉", "举报", "建议"]
Urgency = Literal["normal", "urgent", "emergency"]


def normalise_phone(value: str | None) -> str | None:
    """A Chinese mobile or landline number in E.164 (+86…); raises ValueError when it is not one."""
    if value is None or not value.strip():
        return None
    return _e164(value.strip())


@lru_cache(maxsize=4096)  # callers call again: parsing costs more than the rest of an intake's validation
def _e164(value: str) -> str:
    try:
        num = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(num):
        raise ValueError("not a valid Chinese mobile or landline number")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_id_number(value: str | None) -> str | None:
    """A resident ID number (GB 11643): 17 digits and a check character (0–9 or X)."""
    if value is None or not value.strip():
        return None
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        raise ValueError("an ID number has 17 digits and a check digit or X")
    check = "10X98765432"[sum(int(c) * w for c, w in zip(v[:17], _ID_WEIGHTS, strict=True)) % 11]
    if v[17] != check:
        raise ValueError("the ID number's check digit is wrong")
    return v


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Position(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    crs: Literal["wgs84", "gcj02", "bd09"] = Field(description="coordinate system of lat/lon")

    @model_validator(mode="after")
    def _in_china(self) -> Position:
        if out_of_china(self.lon, self.lat):
            raise ValueError("position is outside China (check lat/lon order and crs)")
        return self


class Caller(Strict):
    caller_name: str | None = Field(default=None, max_length=64)
    caller_phone: str | None = Field(default=None, max_length=32)
    caller_id_number: str | None = Field(default=None, max_length=18, description="居民身份证号码 (18 characters)")
    confidential: bool = Field(default=False, description="保密: hide the caller from departments")

    @field_validator("caller_id_number")
    @classmethod
    def _id_number(cls, v: str | None) -> str | None:
        return check_id_number(v)

    @field_validator("caller_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return normalise_phone(v)


class Matter(Caller):
    title: str = Field(min_length=2, max_length=200)
    content: str = Field(min_length=2, max_length=4000)
    address: str = Field(default="", max_length=300)
    position: Position | None = None
    urgency: Urgency = "normal"


class Hotline12345In(Matter):
    """A 12345 work order (工单)."""

    work_order_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    case_type: CaseType
    received_at: datetime | None = None


class Police110In(Matter):
    """A non-police matter transferred from the 110 platform (110 转 12345)."""

    incident_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    transfer_time: datetime
    operator_note: str = Field(default="", max_length=1000)
    case_type: CaseType = "求助"


class GridReportIn(Strict):
    """A grid worker's patrol report (网格上报): photo, position and what was seen."""

    report_id: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="client-generated id, so that a phone's retry is not a second report",
    )
    title: str = Field(min_length=2, max_length=200)
    content: str = Field(min_length=2, max_length=4000)
    position: Position
    address: str = Field(default="", max_length=300)
    attachment_ids: list[int] = Field(default_factory=list, max_length=9)
    handled_on_spot: bool = False
    on_spot_result: str | None = Field(default=None, max_length=2000)
    urgency: Urgency = "normal"
    observed_at: datetime | None = None


class OnlineIn(Matter):
    """A resident's own report (线上自报)."""

    client_request_id: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    case_type: CaseType = "求助"
    caller_phone: str = Field(min_length=5, max_length=32)

    @field_validator("caller_phone")
    @classmethod
    def _phone_required(cls, v: str) -> str:
        out = normalise_phone(v)
        if out is None:
            raise ValueError("a phone number is required to look the case up later")
        return out


class VisitIn(Matter):
    """A walk-in (来访) recorded at the counter."""

    visit_no: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    case_type: CaseType = "求助"


class IntakeResult(BaseModel):
    case_id: int
    tracking_code: str
    status: str
    created: bool
    region_code: str
    locate_level: str
    category: str | None = None
    department_id: int | None = None
    auto_dispatched: bool = False


class TrackOut(BaseModel):
    tracking_code: str
    title: str
    status: str
    status_label: str
    received_at: datetime
    deadline_at: datetime | None
    closed_at: datetime | None
    department: str | None
    replies: list[dict[str, str]]
