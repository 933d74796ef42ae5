"""Grid workers (roster, captains, duty, masked phones), case notifications to them, and the map endpoints."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from pingan.errors import Invalid
from pingan.geo.grids import grid_recipients, import_roster, read_roster_xlsx
from pingan.geo.models import Grid, GridWorker
from pingan.geo.shapes import from_wkb
from pingan.notify.models import OutboxMessage
from pingan.orgs.models import User


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["工号", "姓名", "手机", "网格编码", "网格长", "在岗", "账号"])
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _two_grids(s: Any) -> list[str]:
    return list(s.scalars(select(Grid.code).where(Grid.county_code == "430602").order_by(Grid.code).limit(2)))


def test_roster_import_captains_and_duty(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        g1, g2 = _two_grids(s)
        wangge = s.scalar(select(User.id).where(User.username == "wangge"))
        raw = _xlsx(
            [
                ["W001", "刘芳", "13812345678", f"{g1},{g2}", g1, "是", "wangge"],
                ["W002", "张伟", "13912345678", g1, g2, "否", None],
                ["W003", "李娜", "13712345678", g2, "", "是", None],
            ]
        )
        result = import_roster(s, read_roster_xlsx(raw))
        assert result == {"workers": 3, "grids_with_captain": 2}
        w3 = s.scalar(select(GridWorker.id).where(GridWorker.worker_no == "W003"))
        # g1: captain W001 (has an account), W002 is off duty.
        assert grid_recipients(s, g1) == [f"user:{wangge}"]
        # g2: captain W002 is off duty, so the on-duty workers are told.
        assert grid_recipients(s, g2) == [f"user:{wangge}", f"grid_worker:{w3}"]
        # The synthetic roster was replaced: other grids have nobody, the message goes to the grid itself.
        other = s.scalar(select(Grid.code).where(Grid.code.not_in([g1, g2])).limit(1))
        assert grid_recipients(s, other) == [f"grid:{other}"]
        s.rollback()


def test_bad_roster_imports_nothing(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        g1, g2 = _two_grids(s)
        before = grid_recipients(s, g1)
        raw = _xlsx(
            [
                ["W001", "刘芳", "13812345678", g1, g1, "是", None],
                ["W002", "张伟", "13912345678", g1, g1, "是", None],  # a second captain for g1
                ["W003", "李娜", "13712345678", "430602999999001", "", "是", None],  # no such grid
                ["W004", "王五", "", g2, "", "是", "nobody"],  # no such account
            ]
        )
        with pytest.raises(Invalid) as exc:
            import_roster(s, read_roster_xlsx(raw))
        kinds = {e["error"] for e in exc.value.details["errors"]}
        assert kinds == {"two_captains", "unknown_grid", "unknown_user"}
        assert grid_recipients(s, g1) == before
        with pytest.raises(Invalid) as exc:
            read_roster_xlsx(_xlsx_missing_columns())
        assert exc.value.code == "roster_columns"


def _xlsx_missing_columns() -> bytes:
    wb = Workbook()
    wb.active.append(["姓名", "电话"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_case_in_a_grid_notifies_its_workers(layer, api) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        code, geom = s.execute(select(Grid.code, Grid.geom).where(Grid.county_code == "430602").limit(1)).one()
        p = from_wkb(geom).representative_point()
        expected = grid_recipients(s, code)
    assert expected and all(r.startswith("grid_worker:") for r in expected)  # the synthetic captain
    body = {
        "report_id": "geo-" + uuid.uuid4().hex[:12],
        "title": "井盖缺失",
        "content": "人行道井盖缺失",
        "position": {"lat": p.y, "lon": p.x, "crs": "wgs84"},
    }
    r = api.post("wangge", "/api/v1/intake/grid", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["region_code"] == code and r.json()["locate_level"] == "grid"
    with layer.session() as s:
        got = list(
            s.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.case_id == r.json()["case_id"], OutboxMessage.kind == "notify"
                )
            )
        )
    assert sorted(got) == sorted(expected)


def test_grid_detail_masks_phones_by_role(layer, api) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        code = s.scalar(select(Grid.code).limit(1))
    full = api.get("paiqian", f"/api/v1/geo/grids/{code}").json()
    masked = api.get("wangge", f"/api/v1/geo/grids/{code}").json()
    assert full["synthetic"] is True and "合成" in full["note"]
    phone = full["workers"][0]["phone"]
    assert phone and "*" not in phone
    assert masked["workers"][0]["phone"] == phone[:3] + "****" + phone[-4:]
    gcj = api.get("paiqian", f"/api/v1/geo/grids/{code}", params={"crs": "gcj02"}).json()
    assert gcj["centre"]["lon"] != full["centre"]["lon"]
    assert api.get("paiqian", "/api/v1/geo/grids/430602000000000").status_code == 404


def test_map_layers_zoom_etag_and_synthetic_flag(layer, api) -> None:  # type: ignore[no-untyped-def]
    r = api.get("lingdao", "/api/v1/geo/map/divisions", params={"level": "county", "zoom": 8})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert len(fc["features"]) == 10
    quyuan = next(f for f in fc["features"] if f["id"] == "430671")
    assert quyuan["properties"]["synthetic"] is True
    etag = r.headers["etag"]
    again = api.client.get(
        "/api/v1/geo/map/divisions",
        params={"level": "county", "zoom": 8},
        headers={**api.as_("lingdao"), "If-None-Match": etag},
    )
    assert again.status_code == 304 and again.headers["etag"] == etag
    fine = api.get("lingdao", "/api/v1/geo/map/divisions", params={"level": "county", "zoom": 14})
    assert len(fine.content) > len(r.content) and fine.headers["etag"] != etag
    grids = api.get("lingdao", "/api/v1/geo/map/grids", params={"parent": "430602001"}).json()
    assert grids["features"] and all(f["properties"]["synthetic"] for f in grids["features"])
    assert all(f["id"].startswith("430602001") for f in grids["features"])
    villages = api.get("lingdao", "/api/v1/geo/map/divisions", params={"level": "village", "parent": "430602001"})
    assert len(villages.json()["features"]) > 0


def test_choropleth_counts_open_cases(layer, api) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        code, geom = s.execute(select(Grid.code, Grid.geom).where(Grid.county_code == "430621").limit(1)).one()
        p = from_wkb(geom).representative_point()
    for i in range(2):
        body = {
            "report_id": f"ch-{i}-" + uuid.uuid4().hex[:8],
            "title": "垃圾堆放",
            "content": "路边垃圾",
            "position": {"lat": p.y, "lon": p.x, "crs": "wgs84"},
        }
        assert api.post("wangge", "/api/v1/intake/grid", json=body).status_code == 201
    c = api.get("lingdao", "/api/v1/geo/map/choropleth", params={"level": "grid", "parent": code[:9]}).json()
    assert c["counts"] == {code: 2} and c["total"] == 2
    t = api.get("lingdao", "/api/v1/geo/map/choropleth", params={"level": "township"}).json()
    assert t["counts"][code[:9]] == 2


def test_upload_endpoints_refuse_bad_files_and_roles(layer, api) -> None:  # type: ignore[no-untyped-def]
    bad = (
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "1"}, '
        b'"geometry": {"type": "Polygon", "coordinates": [[[113, 29], [113.1, 29], [113, 29.1]]]}}]}'
    )
    files = {"file": ("grids.geojson", bad, "application/geo+json")}
    r = api.post("admin", "/api/v1/geo/grids/import", files=files)
    assert r.status_code == 422 and r.json()["error"]["code"] == "grid_file_invalid"
    assert {e["error"] for e in r.json()["error"]["details"]["errors"]} == {"bad_code", "unclosed_ring"}
    assert api.post("wangge", "/api/v1/geo/grids/import", files=files).status_code == 403
    roster = _xlsx([["W9", "某某", "", "430602999999001", "", "是", None]])
    r = api.post("admin", "/api/v1/geo/workers/import", files={"file": ("roster.xlsx", roster)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "roster_invalid"


def test_duty_switch_changes_who_is_told(layer, api) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        code = s.scalar(select(Grid.code).where(Grid.county_code == "430611").limit(1))
        worker = s.scalar(select(GridWorker.id).where(GridWorker.worker_no == f"S{code}"))
    assert api.post("wangge", f"/api/v1/geo/workers/{worker}/duty", json={"on_duty": False}).status_code == 403
    r = api.post("paiqian", f"/api/v1/geo/workers/{worker}/duty", json={"on_duty": False})
    assert r.status_code == 200 and r.json()["on_duty"] is False
    detail = api.get("paiqian", f"/api/v1/geo/grids/{code}").json()
    assert detail["workers"][0]["on_duty"] is False
    # The only worker is off duty: he is still told (nobody else would be).
    with layer.session() as s:
        assert grid_recipients(s, code) == [f"grid_worker:{worker}"]
    assert api.post("paiqian", f"/api/v1/geo/workers/{worker}/duty", json={"on_duty": True}).status_code == 200
