"""Policy of the mediation module (data/policy/mediation.yaml): limits, risk scoring, rota size, statistics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pingan.policy.registry import register

RiskLevel = Literal["low", "medium", "high"]
RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
RISK_LABELS: dict[str, str] = {"low": "低", "medium": "中", "high": "高"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MediationLimit(Strict):
    amount: int = Field(gt=0, le=365)
    unit: Literal["months", "days", "work_days"]


class RiskFactor(Strict):
    label: str
    points: int = Field(ge=0, le=100)
    # For numeric factors (petitions, people, amount): the factor counts when the value reaches `min`.
    min: float | None = None


class RiskBand(Strict):
    level: RiskLevel
    min_points: int = Field(ge=0)


class RiskPolicy(Strict):
    factors: dict[str, RiskFactor]
    levels: list[RiskBand] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RiskPolicy:
        known = {"threats", "prior_violence", "repeated_petitions", "group_size", "amount"}
        unknown = set(self.factors) - known
        if unknown:
            raise ValueError(f"unknown risk factors {sorted(unknown)}; known: {sorted(known)}")
        if not any(b.min_points == 0 for b in self.levels):
            raise ValueError("risk levels need a band with min_points 0")
        return self

    def level_for(self, points: int) -> str:
        best = max((b for b in self.levels if points >= b.min_points), key=lambda b: b.min_points)
        return best.level


class RotaPolicy(Strict):
    per_day: int = Field(ge=1, le=10)
    working_days_only: bool = True


@register("mediation", "mediation.yaml")
class MediationPolicy(Strict):
    dispute_types: list[str] = Field(min_length=1)
    ways: list[str] = Field(min_length=1)
    routes: list[str] = Field(min_length=1)
    limit: MediationLimit
    judicial_confirmation_days: int = Field(gt=0, le=365)
    cooling_off_days: int = Field(gt=0, le=365)
    risk: RiskPolicy
    alert_recipients: list[str] = Field(min_length=1)
    group_incident_min_people: int = Field(ge=2)
    rota: RotaPolicy
    petition_accept_days: int = Field(gt=0)
    petition_reply_days: int = Field(gt=0)
    petition_levels: list[str] = Field(min_length=2)
    petition_proper_level: str

    @model_validator(mode="after")
    def _levels(self) -> MediationPolicy:
        if self.petition_proper_level not in self.petition_levels:
            raise ValueError("petition_proper_level must be one of petition_levels")
        return self
