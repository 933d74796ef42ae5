"""Channel adapters: each translates its channel's format into one IntakeRecord; nothing more."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pingan.cases.actors import Actor
from pingan.geo.crs import to_wgs84
from pingan.intake import schemas as s
from pingan.timeutil import as_utc, utcnow

CHANNELS = ("hotline_12345", "police_110", "grid", "online", "visit")
CHANNEL_LABELS = {
    "hotline_12345": "12345热线",
    "police_110": "110转办",
    "grid": "网格上报",
    "online": "线上自报",
    "visit": "来访",
}


@dataclass
class IntakeRecord:
    channel: str
    external_id: str
    case_type: str
    title: str
    content: str
    address: str = ""
    lon: float | None = None
    lat: float | None = None
    urgency: str = "normal"
    caller_name: str | None = None
    caller_phone: str | None = None
    caller_id_number: str | None = None
    confidential: bool = False
    received_at: datetime = field(default_factory=utcnow)
    reporter_id: int | None = None
    attachment_ids: list[int] = field(default_factory=list)
    on_spot_result: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _wgs84(pos: s.Position | None) -> tuple[float | None, float | None]:
    if pos is None:
        return None, None
    lon, lat = to_wgs84(pos.lon, pos.lat, pos.crs)
    return round(lon, 7), round(lat, 7)


def _content_key(*parts: str | None) -> str:
    """An external id for channels without one: the same submission always maps to the same id."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return "h" + digest[:40]


def _common(m: s.Matter) -> dict[str, Any]:
    lon, lat = _wgs84(m.position)
    return {
        "title": m.title,
        "content": m.content,
        "address": m.address,
        "lon": lon,
        "lat": lat,
        "urgency": m.urgency,
        "caller_name": m.caller_name,
        "caller_phone": m.caller_phone,
        "caller_id_number": m.caller_id_number,
        "confidential": m.confidential,
    }


def from_hotline(m: s.Hotline12345In, actor: Actor) -> IntakeRecord:
    return IntakeRecord(
        channel="hotline_12345",
        external_id=m.work_order_no,
        case_type=m.case_type,
        received_at=as_utc(m.received_at) if m.received_at else utcnow(),
        **_common(m),
    )


def from_police(m: s.Police110In, actor: Actor) -> IntakeRecord:
    return IntakeRecord(
        channel="police_110",
        external_id=m.incident_no,
        case_type=m.case_type,
        received_at=as_utc(m.transfer_time),
        extra={"incident_no": m.incident_no, "operator_note": m.operator_note},
        **_common(m),
    )


def from_grid(m: s.GridReportIn, actor: Actor) -> IntakeRecord:
    lon, lat = _wgs84(m.position)
    return IntakeRecord(
        channel="grid",
        external_id=m.report_id,
        case_type="上报",
        title=m.title,
        content=m.content,
        address=m.address,
        lon=lon,
        lat=lat,
        urgency=m.urgency,
        caller_name=actor.name,
        reporter_id=actor.id,
        attachment_ids=m.attachment_ids,
        received_at=as_utc(m.observed_at) if m.observed_at else utcnow(),
        on_spot_result=m.on_spot_result if m.handled_on_spot else None,
        extra={"handled_on_spot": m.handled_on_spot},
    )


def from_online(m: s.OnlineIn, actor: Actor) -> IntakeRecord:
    ext = m.client_request_id or _content_key("online", m.caller_phone, m.title, m.content)
    return IntakeRecord(channel="online", external_id=ext, case_type=m.case_type, **_common(m))


def from_visit(m: s.VisitIn, actor: Actor) -> IntakeRecord:
    ext = m.visit_no or _content_key("visit", m.caller_phone, m.caller_name, m.title, m.content)
    return IntakeRecord(channel="visit", external_id=ext, case_type=m.case_type, reporter_id=actor.id, **_common(m))
