"""The responsibility list (权责清单) applied: category × words × county → lead department and co-handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.dispatch.policies import ResponsibilityPolicy, ResponsibilityRule
from pingan.orgs.models import Department
from pingan.policy import registry


def policy() -> ResponsibilityPolicy:
    return registry.load("responsibility", ResponsibilityPolicy)


@dataclass
class Assignment:
    rule: ResponsibilityRule
    matched: list[str]
    lead: Department | None
    co: list[Department] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "rule_id": self.rule.id,
            "label": self.rule.label,
            "matched": self.matched,
            "lead_code": self.rule.lead,
            "co_codes": self.rule.co,
        }


def _departments(session: Session, codes: set[str]) -> dict[str, Department]:
    if not codes:
        return {}
    return {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(sorted(codes))))}


def assign(
    session: Session,
    category: str | None,
    text: str,
    county_code: str | None,
    pol: ResponsibilityPolicy | None = None,
    cache: dict[str, Department] | None = None,
) -> Assignment | None:
    """The rule that owns this matter and its departments: the county counterpart where one exists (and the
    rule's level is county), else the city department. None when no rule matches."""
    pol = pol or policy()
    found = pol.match(category, text, county_code)
    if found is None:
        return None
    rule, matched = found

    def key(code: str) -> list[str]:
        if rule.level == "county" and county_code:
            return [f"{code}_{county_code}", code]
        return [code]

    wanted = {k for c in [rule.lead, *rule.co] for k in key(c)}
    deps = cache if cache is not None else {}
    missing = wanted - deps.keys()
    if missing:
        deps.update(_departments(session, missing))

    def pick(code: str) -> Department | None:
        for k in key(code):
            d = deps.get(k)
            if d is not None and d.active:
                return d
        return None

    lead = pick(rule.lead)
    co = [d for d in (pick(c) for c in rule.co) if d is not None and (lead is None or d.id != lead.id)]
    return Assignment(rule, matched, lead, co)
