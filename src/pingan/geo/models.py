"""Administrative divisions (行政区划) by NBS code: city → county → town/street → village/community."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base
from pingan.orgs import models as _orgs_models  # noqa: F401  (geo_grid_workers.user_id → users.id)

LEVELS = ("city", "county", "township", "village")


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    subtype: Mapped[str] = mapped_column(String(20), default="")


class RegionShape(Base):
    """The polygon of a division (county from the shipped boundaries; towns/villages synthetic or derived).

    Geometry is WKB in WGS-84 (EPSG:4326, lon/lat). `synthetic` marks shapes Pingan generated for the demo.
    """

    __tablename__ = "geo_region_shapes"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    geom: Mapped[bytes] = mapped_column(LargeBinary)
    synthetic: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(200), default="")


class Grid(Base):
    """A grid (网格): 15-digit code = 6 county + 3 town + 3 village + 3 sequence; polygon as WGS-84 WKB."""

    __tablename__ = "geo_grids"

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    village_code: Mapped[str] = mapped_column(String(12), index=True)
    town_code: Mapped[str] = mapped_column(String(9), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    geom: Mapped[bytes] = mapped_column(LargeBinary)
    area_m2: Mapped[float] = mapped_column(Float)
    urban: Mapped[bool] = mapped_column(default=False)
    synthetic: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(200), default="")


class LayerState(Base):
    """One row per layer ("grids"): its version changes on every import so that every process's cached
    index knows it must be rebuilt."""

    __tablename__ = "geo_layer_state"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    synthetic: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(200), default="")
    feature_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class GridWorker(Base):
    """A grid worker (网格员) from the roster; phone is personal data (masked for roles that do not need it)."""

    __tablename__ = "geo_grid_workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    on_duty: Mapped[bool] = mapped_column(default=True)
    synthetic: Mapped[bool] = mapped_column(default=False)


class GridAssignment(Base):
    """Which worker serves which grid; exactly one captain (网格长) per grid (enforced by the roster import)."""

    __tablename__ = "geo_grid_assignments"

    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("geo_grid_workers.id"), primary_key=True, index=True)
    captain: Mapped[bool] = mapped_column(default=False)


class GeoPlace(Base):
    """A name the gazetteer knows besides the division names: an alias (荣家湾 → 荣家湾镇) or a place the city
    registers (a market, a compound, a school), optionally with its WGS-84 position."""

    __tablename__ = "geo_places"
    __table_args__ = (UniqueConstraint("name", "region_code", name="uq_geo_places_name_region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="place")  # alias / place
    region_code: Mapped[str] = mapped_column(String(15))
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    created_at: Mapped[datetime]
