"""Point → grid / village / town / county from the polygon layer (filled in by the geo package)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pingan.geo.locate import Location


def locate_point(session: Session, lon: float, lat: float) -> Location | None:
    """No polygon layer is loaded yet: points cannot be placed."""
    return None
