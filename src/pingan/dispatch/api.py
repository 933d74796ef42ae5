"""What the intake pipeline asks the dispatch package: who should own this matter, and how sure are we.

`route` is the single entry point; the classifier, the responsibility list (权责清单), the 12345⇄110
triage and the duplicate finder sit behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


@dataclass
class RoutingDecision:
    category: str | None = None
    confidence: float = 0.0
    department_id: int | None = None
    co_department_ids: list[int] = field(default_factory=list)
    # Top suggestions for the dispatcher: {category, department_id, department_name, score, reasons}.
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    auto: bool = False  # confident enough to dispatch without a person
    triage: dict[str, Any] | None = None  # the 110/12345 transfer rule that fired, if any
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "department_id": self.department_id,
            "co_department_ids": self.co_department_ids,
            "suggestions": self.suggestions,
            "auto": self.auto,
            "triage": self.triage,
            "duplicates": self.duplicates,
        }


def route(
    session: Session,
    *,
    title: str,
    content: str,
    channel: str,
    county_code: str,
    region_code: str,
    lon: float | None = None,
    lat: float | None = None,
    case_id: int | None = None,
) -> RoutingDecision:
    """No routing model is installed yet: every case waits for a dispatcher."""
    return RoutingDecision()
