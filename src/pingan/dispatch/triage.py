"""12345 ⇄ 110 triage: flag police matters that arrived at 12345 and non-police matters that arrived from 110.

A flag is advice with its reason (the rule and the words that fired); the operator confirms, and the transfer
itself goes through the case lifecycle (转110 / 对方确认接收 / 不予接收).
"""

from __future__ import annotations

from typing import Any

from pingan.dispatch.policies import TransferPolicy
from pingan.policy import registry


def policy() -> TransferPolicy:
    return registry.load("transfer", TransferPolicy)


def check(
    channel: str, text: str, category: str | None = None, confidence: float = 0.0, pol: TransferPolicy | None = None
) -> dict[str, Any] | None:
    """The first transfer rule that fires for a matter arriving by `channel`, or None."""
    pol = pol or policy()
    direction = pol.direction_for(channel)
    if direction is None:
        return None
    if direction == "to_12345" and any(
        r.direction == "to_110" and r.matches(text, category, confidence) is not None for r in pol.rules
    ):
        return None  # what the 12345→110 list calls a police matter never leaves 110
    for rule in pol.rules:
        if rule.direction != direction:
            continue
        hit = rule.matches(text, category, confidence)
        if hit is None:
            continue
        return {
            "rule_id": rule.id,
            "direction": rule.direction,
            "to": "110" if rule.direction == "to_110" else "12345",
            "class": rule.klass,
            "label": rule.label,
            "matched": hit,
            "category": category if rule.categories else None,
            "basis": rule.basis,
        }
    return None
