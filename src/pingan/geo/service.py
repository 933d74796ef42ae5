"""Writes and strict reads of the geography (the views and the CLI go through here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.errors import Conflict, Invalid, NotFound
from pingan.geo import locator
from pingan.geo.locate import Location, Place, gazetteer, reset_cache
from pingan.geo.models import GeoPlace, Grid, LayerState, Region
from pingan.timeutil import utcnow


def search(session: Session, q: str, limit: int = 20) -> list[tuple[Place, str, float]]:
    return gazetteer(session).search(q, limit)


def locate_point_strict(session: Session, lon: float, lat: float) -> Location:
    """A WGS-84 point → its grid (or county where no grid covers it); a clear error outside the city."""
    index = locator.index_for(session)
    if index is None:
        raise Invalid(
            "no_geometry", "尚未加载区划边界，无法按坐标定位", "no boundaries are loaded: points cannot be located"
        )
    loc = locator.location_of(index, lon, lat)
    if loc is None:
        raise Invalid(
            "outside_city",
            "该位置不在岳阳市范围内（请检查经纬度顺序和坐标系 crs）",
            "the position is outside the city (check the lon/lat order and the crs)",
            lon=round(lon, 7),
            lat=round(lat, 7),
        )
    return loc


def add_place(
    session: Session, name: str, region_code: str, kind: str = "place", pos: tuple[float, float] | None = None
) -> GeoPlace:
    """Register a place or alias for the address gazetteer (region_code: a division or a grid)."""
    name = name.strip()
    if session.get(Region, region_code) is None and session.get(Grid, region_code) is None:
        raise NotFound("region_not_found", f"没有区划或网格 {region_code}", f"no region or grid {region_code}")
    dup = session.scalar(select(GeoPlace).where(GeoPlace.name == name, GeoPlace.region_code == region_code))
    if dup is not None:
        raise Conflict("place_exists", f"地名 {name} 已登记", f"place {name} is already registered")
    p = GeoPlace(
        name=name,
        kind=kind,
        region_code=region_code,
        lon=pos[0] if pos else None,
        lat=pos[1] if pos else None,
        created_at=utcnow(),
    )
    session.add(p)
    state = session.get(LayerState, "places")
    if state is None:
        state = LayerState(name="places", version=0, source="registered places and aliases")
        session.add(state)
    state.version = (state.version or 0) + 1
    state.feature_count = (state.feature_count or 0) + 1
    state.updated_at = utcnow()
    session.flush()
    reset_cache()
    return p
