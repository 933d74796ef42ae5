"""Policy models of the duplicate finder (并案候选) and of hot issues (热点): data/policy/duplicates.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pingan.policy.registry import register


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreWeights(Strict):
    """score = text·similarity + distance·(1 − d/radius) + time·(1 − Δt/window); the weights sum to 1."""

    text: float = Field(ge=0, le=1)
    distance: float = Field(ge=0, le=1)
    time: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_one(self) -> ScoreWeights:
        if abs(self.text + self.distance + self.time - 1.0) > 1e-6:
            raise ValueError("weights text + distance + time must sum to 1")
        return self


class TextSettings(Strict):
    """How a matter's text becomes a vector: character bigrams weighted by TF-IDF (IDF from the shipped
    messages), the `top_terms` heaviest kept."""

    text_chars: int = Field(ge=20, le=2000, description="characters of the content used after the title")
    top_terms: int = Field(ge=8, le=256)
    stop_terms: list[str] = Field(default_factory=list, description="removed before bigrams (place/boilerplate)")


class HeatWeights(Strict):
    """heat = 100 · Σ weight · min(1, ln(1+x) / ln(1+ref)) over count, people, spread (days), support."""

    count: float = Field(ge=0)
    people: float = Field(ge=0)
    spread: float = Field(ge=0)
    support: float = Field(ge=0)

    @model_validator(mode="after")
    def _sum_one(self) -> HeatWeights:
        if abs(self.count + self.people + self.spread + self.support - 1.0) > 1e-6:
            raise ValueError("heat weights must sum to 1")
        return self


class HeatRefs(Strict):
    """The value of each component that scores full marks (log-scaled below it)."""

    count: float = Field(gt=0)
    people: float = Field(gt=0)
    spread: float = Field(gt=0)
    support: float = Field(gt=0)


class HotSettings(Strict):
    similarity: float = Field(gt=0, lt=1, description="cosine at or above which two matters are linked")
    period_days: int = Field(ge=1, le=366, description="default window of GET /hot-issues")
    max_gap_days: int = Field(ge=1, le=366, description="two linked matters are at most this far apart in time")
    area_radius_m: float = Field(gt=0, le=50_000, description="cases with coordinates: same area within this")
    min_size: int = Field(ge=2, le=1000)
    top: int = Field(ge=1, le=200)
    oppose_factor: float = Field(ge=0, le=1, description="support = likes − oppose_factor · opposes (≥ 0)")
    weights: HeatWeights
    refs: HeatRefs


@register("duplicates", "duplicates.yaml")
class DuplicatesPolicy(Strict):
    radius_m: float = Field(gt=0, le=10_000)
    days: float = Field(gt=0, le=365)
    limit: int = Field(ge=1, le=50)
    min_text: float = Field(ge=0, le=1, description="text similarity a candidate needs (with coordinates)")
    min_text_no_coords: float = Field(ge=0, le=1, description="… when either side has no coordinates")
    min_score: float = Field(ge=0, le=1)
    hold_auto_dispatch_score: float = Field(
        default=0.6, ge=0, le=1, description="a candidate this likely keeps the new case for the dispatcher (并案?)"
    )
    same_area_proximity: float = Field(ge=0, le=1, description="proximity credited for 'same town' without coordinates")
    weights: ScoreWeights
    cell_m: float = Field(ge=50, le=5000, description="spatial index cell size")
    resync_seconds: float = Field(ge=1, le=86_400, description="full reconcile of the open set (reopened cases)")
    text: TextSettings
    hot: HotSettings
