"""The KPI API: figures with formulas, drill-down lists, scope and access."""

from __future__ import annotations

from typing import Any

from pingan.metrics.policies import METRIC_IDS
from tests.metrics.scenario import CITY, SINCE, UNTIL, build, ids_of


def _get(api: Any, user: str, url: str, **params: Any) -> dict[str, Any]:
    r = api.get(user, url, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_api_kpis_and_drill_down(api: Any, db: Any) -> None:
    with db.session() as s:
        world = build(s)
    window = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    body = _get(api, "lingdao", "/api/v1/stats/kpis", group_by="department", **window)
    assert set(body["definitions"]) == set(METRIC_IDS)
    total = body["total"]["figures"]
    for metric, (num, den) in CITY.items():
        f = total[metric]
        assert (f["numerator"], f["denominator"]) == (len(num), len(den))
        assert f["formula"].endswith(f"{len(num)} / {len(den)} = {100 * len(num) / len(den):.1f}%")
        listed = _get(api, "lingdao", f["drill"]["numerator"].split("?")[0], **_params(f["drill"]["numerator"]))
        assert listed["case_ids"] == ids_of(world, num)
        assert [i["id"] for i in listed["items"]] == ids_of(world, num)
    groups = {g["key"]: g for g in body["groups"]}
    d2 = groups[str(world.d2)]
    assert d2["label"].endswith("住房和城乡建设局")
    assert (d2["figures"]["response_rate"]["numerator"], d2["figures"]["response_rate"]["denominator"]) == (1, 2)
    den = _get(
        api,
        "lingdao",
        "/api/v1/stats/kpis/response_rate/cases",
        **_params(d2["figures"]["response_rate"]["drill"]["denominator"]),
    )
    assert den["case_ids"] == ids_of(world, {"c3", "c4"})
    paged = _get(
        api,
        "lingdao",
        "/api/v1/stats/kpis/closure_rate/cases",
        part="denominator",
        page=2,
        page_size=1,
        ids_only="true",
        **window,
    )
    assert paged["total"] == 4 and paged["case_ids"] == ids_of(world, CITY["closure_rate"][1])[1:2]
    assert "items" not in paged
    assert d2["score"]["band"] in {"A", "B", "C", "D", "E"}
    assert "综合得分" in d2["score"]["formula"]


def _params(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


def test_api_scope_and_access(api: Any, db: Any) -> None:
    with db.session() as s:
        build(s)
    window = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    body = _get(api, "yylq", "/api/v1/stats/kpis", group_by="county", **window)
    assert [g["key"] for g in body["groups"]] == ["430602"]
    assert body["groups"][0]["label"] == "岳阳楼区"
    assert body["total"]["figures"]["response_rate"]["denominator"] == 4
    assert api.get("wangge", "/api/v1/stats/kpis").status_code == 403
    assert api.get("api12345", "/api/v1/stats/queues").status_code == 403
    r = api.get("paiqian", "/api/v1/stats/kpis", params={"group_by": "weekday"})
    assert r.status_code == 422
    r = api.get("paiqian", "/api/v1/stats/kpis", params={"since": UNTIL.isoformat(), "until": SINCE.isoformat()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "window_empty"
    r = api.get("paiqian", "/api/v1/stats/kpis/made_up/cases")
    assert r.status_code == 422
    defs = _get(api, "paiqian", "/api/v1/stats/definitions")
    sat = next(m for m in defs["metrics"] if m["metric"] == "satisfaction_rate")
    assert "非常满意+满意+基本满意" in sat["formula"]
