"""Dispatch policy as data: the responsibility list (权责清单) and the 12345⇄110 transfer list (转办清单).

Both are YAML files in the policy directory that an administrator edits; `pingan policy check FILE` validates
them. Rules are tried in order; the first that matches wins, so specific rules go before general ones.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pingan.dispatch.dataset import LABELS
from pingan.policy.registry import register

_RULE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
_DEPT = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
_COUNTY = re.compile(r"^\d{6}$")
CHANNELS = ("hotline_12345", "police_110", "grid", "online", "visit")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_categories(values: list[str]) -> list[str]:
    unknown = [c for c in values if c not in LABELS]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; the classifier knows {list(LABELS)}")
    return values


def _words(values: list[str]) -> list[str]:
    out = [w.strip() for w in values]
    if any(not w for w in out):
        raise ValueError("keywords must not be empty strings")
    return out


class ResponsibilityRule(Strict):
    """One line of the responsibility list: (category, keywords, counties) → lead department (+ co-handlers)."""

    id: str = Field(pattern=_RULE_ID)
    label: str = Field(min_length=1, max_length=60, description="sub-category shown to the dispatcher")
    category: str | None = Field(default=None, description="first-level category; None = any")
    keywords: list[str] = Field(default_factory=list, description="any of these in the text (empty = always)")
    exclude: list[str] = Field(default_factory=list, description="none of these in the text")
    counties: list[str] = Field(default_factory=list, description="county codes (empty = every county)")
    lead: str = Field(description="department code (departments.yaml)")
    co: list[str] = Field(default_factory=list, description="co-handlers (协办) for a 协调件")
    level: Literal["county", "city"] = Field(
        default="county", description="county: the county counterpart where one exists; city: the city department"
    )

    @field_validator("category")
    @classmethod
    def _category(cls, v: str | None) -> str | None:
        if v is not None:
            _known_categories([v])
        return v

    @field_validator("keywords", "exclude")
    @classmethod
    def _kw(cls, v: list[str]) -> list[str]:
        return _words(v)

    @field_validator("counties")
    @classmethod
    def _counties(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not _COUNTY.match(c)]
        if bad:
            raise ValueError(f"county codes must have 6 digits: {bad}")
        return v

    @model_validator(mode="after")
    def _co_differs(self) -> ResponsibilityRule:
        if self.lead in self.co:
            raise ValueError(f"rule {self.id}: the lead department {self.lead} is also listed as a co-handler")
        return self

    def matches(self, category: str | None, text: str, county_code: str | None) -> list[str] | None:
        """The keywords that made this rule match (empty list = matched without keywords), or None."""
        if self.category is not None and self.category != category:
            return None
        if self.counties and county_code not in self.counties:
            return None
        if any(w in text for w in self.exclude):
            return None
        if not self.keywords:
            return []
        hit = [w for w in self.keywords if w in text]
        return hit or None


@register("responsibility", "responsibility.yaml")
class ResponsibilityPolicy(Strict):
    auto_dispatch_threshold: float = Field(
        gt=0, le=1, description="calibrated confidence at or above which a case is dispatched without a person"
    )
    auto_dispatch: bool = Field(default=True, description="false: every case waits for a dispatcher")
    suggestions: int = Field(default=3, ge=1, le=7, description="suggestions shown to the dispatcher")
    rules: list[ResponsibilityRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ResponsibilityPolicy:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        defaults = {r.category for r in self.rules if not r.keywords and not r.counties}
        missing = [c for c in LABELS if c not in defaults and None not in defaults]
        if missing:
            raise ValueError(f"categories without a default rule (no keywords, no counties): {missing}")
        known = _department_codes()
        if known is not None:
            for r in self.rules:
                unknown = [d for d in [r.lead, *r.co] if d not in known]
                if unknown:
                    raise ValueError(f"rule {r.id}: unknown department codes {unknown} (see departments.yaml)")
        return self

    @cached_property
    def rules_by_category(self) -> dict[str | None, list[ResponsibilityRule]]:
        """The rules that can match a category, in their order (filled as categories are asked for). A plain
        attribute once computed: a pydantic private attribute costs a `__getattr__` on every read."""
        return {}

    def match(
        self, category: str | None, text: str, county_code: str | None
    ) -> tuple[ResponsibilityRule, list[str]] | None:
        by_category = self.rules_by_category
        rules = by_category.get(category)
        if rules is None:
            rules = by_category[category] = [r for r in self.rules if r.category in (None, category)]
        for rule in rules:
            hit = rule.matches(category, text, county_code)
            if hit is not None:
                return rule, hit
        return None


def _department_codes() -> set[str] | None:
    """Codes of the departments policy in the policy directory, or None when it cannot be read."""
    from pingan.orgs.policies import DepartmentPolicy
    from pingan.policy import registry

    try:
        pol = registry.load("departments", DepartmentPolicy)
    except Exception:  # the departments file is checked on its own; do not hide this file's errors
        return None
    return {d.code for d in pol.departments}


class TransferRule(Strict):
    """One item of the 12345⇄110 transfer list (转办清单)."""

    id: str = Field(pattern=_RULE_ID)
    direction: Literal["to_110", "to_12345"] = Field(
        description="to_110: a police matter arriving at 12345; to_12345: a non-police matter arriving from 110"
    )
    klass: str = Field(alias="class", min_length=1, max_length=30, description="class of the list, e.g. 刑事警情")
    label: str = Field(min_length=1, max_length=80)
    keywords: list[str] = Field(default_factory=list, description="any of these in the text")
    exclude: list[str] = Field(default_factory=list, description="none of these in the text")
    categories: list[str] = Field(default_factory=list, description="classifier categories (empty = any)")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="for category rules: classifier confidence")
    basis: str = Field(default="", max_length=200, description="the rule's source (e.g. 国办发〔2022〕12号)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("keywords", "exclude")
    @classmethod
    def _kw(cls, v: list[str]) -> list[str]:
        return _words(v)

    @field_validator("categories")
    @classmethod
    def _cats(cls, v: list[str]) -> list[str]:
        return _known_categories(v)

    @model_validator(mode="after")
    def _something(self) -> TransferRule:
        if not self.keywords and not self.categories:
            raise ValueError(f"rule {self.id}: needs keywords or categories (otherwise it matches everything)")
        return self

    def matches(self, text: str, category: str | None, confidence: float) -> list[str] | None:
        if any(w in text for w in self.exclude):
            return None
        if self.categories and (category not in self.categories or confidence < self.min_confidence):
            return None
        if not self.keywords:
            return []
        hit = [w for w in self.keywords if w in text]
        return hit or None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "direction": self.direction,
            "class": self.klass,
            "label": self.label,
            "keywords": self.keywords,
            "exclude": self.exclude,
            "categories": self.categories,
            "min_confidence": self.min_confidence,
            "basis": self.basis,
        }


@register("transfer", "transfer.yaml")
class TransferPolicy(Strict):
    # Channels whose matters are checked against the to_110 rules (everything but 110 itself by default).
    to_110_channels: list[str] = Field(default_factory=lambda: [c for c in CHANNELS if c != "police_110"])
    to_12345_channels: list[str] = Field(default_factory=lambda: ["police_110"])
    rules: list[TransferRule] = Field(min_length=1)

    @field_validator("to_110_channels", "to_12345_channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CHANNELS]
        if bad:
            raise ValueError(f"unknown channels {bad}; one of {list(CHANNELS)}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> TransferPolicy:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        return self

    def direction_for(self, channel: str) -> str | None:
        if channel in self.to_12345_channels:
            return "to_12345"
        if channel in self.to_110_channels:
            return "to_110"
        return None
