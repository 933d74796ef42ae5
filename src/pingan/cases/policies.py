"""Policy models for the case lifecycle: deadlines (办理时限) and satisfaction (回访)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pingan.policy.registry import register

CASE_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "上报")
URGENCIES = ("normal", "urgent", "emergency")
Unit = Literal["hours", "work_hours", "work_days"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(Strict):
    amount: float = Field(gt=0, le=3650)
    unit: Unit


class DeadlineRule(Limit):
    case_type: str
    urgency: str

    @field_validator("case_type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v != "*" and v not in CASE_TYPES:
            raise ValueError(f"unknown case_type {v!r}; one of {CASE_TYPES} or '*'")
        return v

    @field_validator("urgency")
    @classmethod
    def _known_urgency(cls, v: str) -> str:
        if v != "*" and v not in URGENCIES:
            raise ValueError(f"unknown urgency {v!r}; one of {URGENCIES} or '*'")
        return v


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@register("deadlines", "deadlines.yaml")
class DeadlinePolicy(Strict):
    working_hours: list[tuple[str, str]] = Field(min_length=1)
    sign_limit: Limit
    rules: list[DeadlineRule] = Field(min_length=1)
    urge_at_share: float = Field(gt=0, lt=1)
    supervise_when_overdue: bool = True
    escalate_after: Limit
    extension_max: Limit

    @field_validator("working_hours")
    @classmethod
    def _segments(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        last = "00:00"
        for start, end in v:
            if not (_HHMM.match(start) and _HHMM.match(end)):
                raise ValueError(f"working hours must be HH:MM, got {start}-{end}")
            if not (last <= start < end):
                raise ValueError("working-hour segments must be ordered and not overlap")
            last = end
        return v

    @model_validator(mode="after")
    def _has_default(self) -> DeadlinePolicy:
        if not any(r.case_type == "*" and r.urgency == "*" for r in self.rules):
            raise ValueError("rules need a default rule with case_type '*' and urgency '*'")
        return self

    def limit_for(self, case_type: str, urgency: str) -> Limit:
        for rule in self.rules:
            if rule.case_type in ("*", case_type) and rule.urgency in ("*", urgency):
                return Limit(amount=rule.amount, unit=rule.unit)
        raise AssertionError("validated policy always has a default rule")


@register("satisfaction", "satisfaction.yaml")
class SatisfactionPolicy(Strict):
    levels: list[str] = Field(min_length=2)
    satisfied: list[str]
    reopen_on: list[str]
    reopen_on_unsatisfied_if_unsolved: bool = True

    @model_validator(mode="after")
    def _subsets(self) -> SatisfactionPolicy:
        for name in ("satisfied", "reopen_on"):
            unknown = set(getattr(self, name)) - set(self.levels)
            if unknown:
                raise ValueError(f"{name} names levels not in levels: {sorted(unknown)}")
        return self
