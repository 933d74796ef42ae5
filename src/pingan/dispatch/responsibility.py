"""The responsibility list (权责清单) applied: category × words × county → lead department and co-handlers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.db import database_key
from pingan.dispatch.policies import ResponsibilityPolicy, ResponsibilityRule
from pingan.orgs.models import Department
from pingan.policy import registry


def policy() -> ResponsibilityPolicy:
    return registry.load("responsibility", ResponsibilityPolicy)


@dataclass(frozen=True)
class DeptRef:
    """What routing needs of a department (cached per process, see `_departments`)."""

    id: int
    code: str
    name: str
    active: bool


@dataclass
class Assignment:
    rule: ResponsibilityRule
    matched: list[str]
    lead: DeptRef | None
    co: list[DeptRef] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "rule_id": self.rule.id,
            "label": self.rule.label,
            "matched": self.matched,
            "lead_code": self.rule.lead,
            "co_codes": self.rule.co,
        }


DEPARTMENTS_TTL_S = 60.0  # a department added or stopped is routed to (or not) within this long
_DEPTS: dict[str, tuple[float, dict[str, DeptRef]]] = {}
_DEPTS_LOCK = threading.Lock()


def _departments(session: Session) -> dict[str, DeptRef]:
    """Every department by code, read once a minute per process and database (routing asks on every case)."""
    key = database_key(session)
    now = time.monotonic()
    with _DEPTS_LOCK:
        hit = _DEPTS.get(key)
    if hit is not None and now - hit[0] < DEPARTMENTS_TTL_S:
        return hit[1]
    deps = {d.code: DeptRef(d.id, d.code, d.name, d.active) for d in session.scalars(select(Department))}
    if deps:
        with _DEPTS_LOCK:
            _DEPTS[key] = (now, deps)
    return deps


def forget_departments() -> None:
    with _DEPTS_LOCK:
        _DEPTS.clear()


def assign(
    session: Session,
    category: str | None,
    text: str,
    county_code: str | None,
    pol: ResponsibilityPolicy | None = None,
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

    deps = _departments(session)

    def pick(code: str) -> DeptRef | None:
        for k in key(code):
            d = deps.get(k)
            if d is not None and d.active:
                return d
        return None

    lead = pick(rule.lead)
    co = [d for d in (pick(c) for c in rule.co) if d is not None and (lead is None or d.id != lead.id)]
    return Assignment(rule, matched, lead, co)
