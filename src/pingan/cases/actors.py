"""Who is acting: a user, a channel system or the system itself."""

from __future__ import annotations

from dataclasses import dataclass

from pingan.orgs.roles import Role

CITY_CODE = "430600"


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str
    role: Role
    department_id: int | None = None
    region_code: str = CITY_CODE
    channel: str | None = None

    @classmethod
    def system(cls, name: str = "系统") -> Actor:
        return cls(id=None, name=name, role=Role.SYSTEM)
