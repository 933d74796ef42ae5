"""Policy of the metrics (考核指标): what each figure divides by what, satisfied levels, weights and bands."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pingan.policy.registry import register

# The figures Pingan computes; the SQL behind each is in pingan.metrics.kpis.
METRIC_IDS = (
    "response_rate",
    "solved_rate",
    "satisfaction_rate",
    "closure_rate",
    "ontime_closure_rate",
    "rework_rate",
    "accurate_dispatch_rate",
)
# Figures where lower is better; the composite score uses 100 − value for them.
LOWER_IS_BETTER = frozenset({"rework_rate"})
REWORK_ACTIONS = ("verify_fail", "reopen")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricText(Strict):
    label: str = Field(min_length=1, max_length=40)
    label_en: str = Field(min_length=1, max_length=80)
    numerator: str = Field(min_length=1, max_length=200)
    numerator_en: str = Field(min_length=1, max_length=300)
    denominator: str = Field(min_length=1, max_length=200)
    denominator_en: str = Field(min_length=1, max_length=300)


class Band(Strict):
    band: str = Field(min_length=1, max_length=4)
    min: float = Field(ge=0, le=100)


@register("metrics", "metrics.yaml")
class MetricsPolicy(Strict):
    # 满意率 counts these levels of the 回访 answer as satisfied (基本满意 in or out is a local choice).
    satisfied_levels: list[str] = Field(min_length=1)
    # Timeline actions that count as 返工 after a verification.
    rework_actions: list[str] = Field(min_length=1)
    metrics: dict[str, MetricText]
    weights: dict[str, float]
    bands: list[Band] = Field(min_length=1)
    decimals: int = Field(default=1, ge=0, le=4)

    @field_validator("rework_actions")
    @classmethod
    def _known_actions(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(REWORK_ACTIONS)
        if unknown:
            raise ValueError(f"rework_actions may only name {REWORK_ACTIONS}, got {sorted(unknown)}")
        return v

    @model_validator(mode="after")
    def _complete(self) -> MetricsPolicy:
        if set(self.metrics) != set(METRIC_IDS):
            missing = sorted(set(METRIC_IDS) - set(self.metrics))
            extra = sorted(set(self.metrics) - set(METRIC_IDS))
            raise ValueError(f"metrics must define exactly {METRIC_IDS}; missing {missing}, unknown {extra}")
        unknown = set(self.weights) - set(METRIC_IDS)
        if unknown:
            raise ValueError(f"weights name unknown metrics: {sorted(unknown)}")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        mins = [b.min for b in self.bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("bands must be listed from the highest minimum down, without repeats")
        if mins[-1] != 0:
            raise ValueError("the last band must have min 0 so that every value gets a band")
        return self

    def band_of(self, value: float | None) -> str | None:
        if value is None:
            return None
        for b in self.bands:
            if value >= b.min:
                return b.band
        return self.bands[-1].band
