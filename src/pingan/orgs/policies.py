"""Organisation policy: the departments a command center links (联动单位)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pingan.policy.registry import register


class DepartmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")
    name: str = Field(min_length=2, max_length=60)
    short_name: str = Field(min_length=1, max_length=20)
    name_en: str = ""
    county_counterpart: bool = True


@register("departments", "departments.yaml")
class DepartmentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    city_prefix: str = "岳阳市"
    departments: list[DepartmentSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> DepartmentPolicy:
        codes = [d.code for d in self.departments]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate department codes: {dupes}")
        return self
