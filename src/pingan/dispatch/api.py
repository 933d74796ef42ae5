"""What the intake pipeline asks the dispatch package: who should own this matter, and how sure are we.

`route` is the single entry point; the classifier, the responsibility list (权责清单), the 12345⇄110
triage and the duplicate finder sit behind it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from pingan.dispatch import responsibility

if TYPE_CHECKING:
    from pingan.dispatch.classifier import Prediction
    from pingan.dispatch.policies import ResponsibilityPolicy

log = logging.getLogger(__name__)


def auto_dispatch_enabled(policy_switch: bool) -> bool:
    """The policy's switch, overridden off by PINGAN_AUTO_DISPATCH=0 (e.g. a test run that drives every
    case by hand)."""
    return policy_switch and os.environ.get("PINGAN_AUTO_DISPATCH", "1").lower() not in ("0", "false", "no", "off")


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
    # The responsibility-list rule that chose the department: {rule_id, label, matched, lead_code, co_codes}.
    responsibility: dict[str, Any] | None = None
    threshold: float | None = None  # the policy's auto-dispatch threshold at the time of routing
    model: str | None = None  # fingerprint of the classifier that decided (None: no model installed)

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
            "responsibility": self.responsibility,
            "threshold": self.threshold,
            "model": self.model,
        }


@dataclass(frozen=True)
class RoutingInput:
    """What routing reads of a matter."""

    title: str
    content: str
    channel: str
    county_code: str
    region_code: str
    lon: float | None = None
    lat: float | None = None


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
    """Classify, triage and apply the responsibility list (`route_many` for one matter)."""
    return route_many(session, [RoutingInput(title, content, channel, county_code, region_code, lon, lat)])[0]


def route_many(session: Session, matters: Sequence[RoutingInput]) -> list[RoutingDecision]:
    """Classify (the whole batch in one model call), triage and apply the responsibility list.

    auto is True only when the classifier's calibrated confidence reaches the policy threshold, a department
    was found, and no 110/12345 transfer rule fired; otherwise the case waits for a dispatcher with the top
    suggestions and the words that drove them.
    """
    from pingan.dispatch import classifier, triage

    pol = responsibility.policy()
    try:
        model = classifier.load()
    except classifier.ModelMissing as exc:
        log.warning("routing without a model: %s", exc)
        return [
            RoutingDecision(threshold=pol.auto_dispatch_threshold, triage=triage.check(m.channel, _text(m)))
            for m in matters
        ]
    preds = model.predict_many([(m.title or "", m.content or "") for m in matters], k=pol.suggestions)
    fingerprint = str(model.meta.get("data_sha256", ""))[:12]
    return [_decide(session, m, pred, pol, fingerprint) for m, pred in zip(matters, preds, strict=True)]


def _text(m: RoutingInput) -> str:
    return f"{m.title or ''}\n{m.content or ''}"


def _decide(
    session: Session, m: RoutingInput, pred: Prediction, pol: ResponsibilityPolicy, fingerprint: str
) -> RoutingDecision:
    from pingan.dispatch import triage

    text = _text(m)
    decision = RoutingDecision(threshold=pol.auto_dispatch_threshold, model=fingerprint)
    decision.category = pred.category
    decision.confidence = pred.confidence
    for i, sug in enumerate(pred.top):
        a = responsibility.assign(session, sug.category, text, m.county_code, pol)
        decision.suggestions.append(
            {
                "category": sug.category,
                "score": round(sug.score, 4),
                "reasons": sug.reasons,
                "department_id": a.lead.id if a and a.lead else None,
                "department_name": a.lead.name if a and a.lead else None,
                "co_department_ids": [d.id for d in a.co] if a else [],
                "rule_id": a.rule.id if a else None,
                "rule_label": a.rule.label if a else None,
            }
        )
        if i == 0 and a is not None:
            decision.responsibility = a.to_json()
            decision.department_id = a.lead.id if a.lead else None
            decision.co_department_ids = [d.id for d in a.co]
    decision.triage = triage.check(m.channel, text, pred.category, pred.confidence)
    decision.auto = (
        auto_dispatch_enabled(pol.auto_dispatch)
        and decision.confidence >= pol.auto_dispatch_threshold
        and decision.department_id is not None
        and decision.triage is None
    )
    return decision
