"""热点: the heat index, the clustering rules, the evaluation on messages_likes.csv, the API and the CLI."""

from __future__ import annotations

import csv
import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cli import app as pingan_app
from pingan.dispatch import duplicates, hot
from pingan.orgs.roles import Role

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
MIXER = [
    ("小区旁搅拌站噪音扰民", "丽景小区旁边的混凝土搅拌站日夜施工，噪音和粉尘严重影响居民休息。"),
    ("投诉丽景小区附近搅拌站粉尘噪音", "丽景小区附近搅拌站粉尘很大，噪音扰民，晚上无法休息。"),
    ("丽景小区搅拌站扰民问题", "丽景小区旁的搅拌站噪音粉尘扰民，请求搬迁搅拌站。"),
]
LAMP = [
    ("学校路口路灯不亮", "实验学校路口的路灯坏了一个星期，晚上很黑，孩子放学不安全。"),
    ("实验学校路口路灯坏了", "实验学校门前路口路灯不亮一个多星期了，晚上很黑，学生放学不安全。"),
]
OTHER = [("公积金提取咨询", "请问离职后公积金怎么提取，需要哪些材料。")]


def matter(i: int, text: tuple[str, str], days: float = 0, **kw: Any) -> hot.Matter:
    return hot.Matter(key=str(i), title=text[0], content=text[1], at=T0 + timedelta(days=days), person=f"p{i}", **kw)


def test_heat_formula_is_bounded_monotonic_and_documented_weights() -> None:
    pol = duplicates.policy().hot
    h, comp = hot.heat(5, 4, 3, 100, pol)
    expected = sum(
        getattr(pol.weights, k) * min(1.0, math.log1p(x) / math.log1p(getattr(pol.refs, k)))
        for k, x in (("count", 5), ("people", 4), ("spread", 3), ("support", 100))
    )
    assert h == pytest.approx(100 * expected)
    assert set(comp) == {"count", "people", "spread", "support"} and all(0 <= v <= 1 for v in comp.values())
    assert hot.heat(6, 4, 3, 100, pol)[0] > h and hot.heat(5, 5, 3, 100, pol)[0] > h
    assert hot.heat(5, 4, 4, 100, pol)[0] > h and hot.heat(5, 4, 3, 200, pol)[0] > h
    assert hot.heat(10**6, 10**6, 10**6, 10**9, pol)[0] == pytest.approx(100.0)
    assert hot.heat(0, 0, 0, 0, pol)[0] == 0.0


def test_similar_matters_cluster_and_others_do_not() -> None:
    ms = [matter(i, t, days=i) for i, t in enumerate(MIXER + LAMP + OTHER)]
    found = hot.cluster(ms)
    groups = sorted(sorted(c.members) for c in found)
    assert groups == [["0", "1", "2"], ["3", "4"]]
    top = found[0]
    assert top.size == 3 and top.people == 3 and top.days == 3 and "搅拌站" in "".join(top.keywords)
    assert top.first_at == T0 and top.last_at == T0 + timedelta(days=2)


def test_support_counts_raise_heat_and_opposes_lower_it() -> None:
    base = hot.cluster([matter(i, t) for i, t in enumerate(LAMP)])[0]
    liked = hot.cluster([matter(i, t, likes=300) for i, t in enumerate(LAMP)])[0]
    opposed = hot.cluster([matter(i, t, likes=300, opposes=200) for i, t in enumerate(LAMP)])[0]
    assert liked.heat > opposed.heat > base.heat
    assert liked.support == 600 and opposed.support == 600 - duplicates.policy().hot.oppose_factor * 400


def test_period_and_area_rules_split_clusters() -> None:
    pol = duplicates.policy().hot
    far_in_time = [matter(0, LAMP[0]), matter(1, LAMP[1], days=pol.max_gap_days + 1)]
    assert hot.cluster(far_in_time) == []
    other_town = [matter(0, LAMP[0], area="430602001"), matter(1, LAMP[1], area="430602002")]
    assert hot.cluster(other_town) == []
    same_town = [matter(0, LAMP[0], area="430602001"), matter(1, LAMP[1], area="430602001")]
    assert len(hot.cluster(same_town)) == 1
    lon, lat = 113.13, 29.36
    far = [matter(0, LAMP[0], lon=lon, lat=lat), matter(1, LAMP[1], lon=lon + 0.05, lat=lat)]
    near = [matter(0, LAMP[0], lon=lon, lat=lat), matter(1, LAMP[1], lon=lon + 0.002, lat=lat)]
    assert hot.cluster(far) == [] and len(hot.cluster(near)) == 1


def test_evaluation_on_messages_likes_finds_the_known_hot_issues() -> None:
    clusters = hot.evaluate_messages()
    top = clusters[:10]
    assert len(top) == 10 and all(a.heat >= b.heat for a, b in zip(top, top[1:], strict=False))
    labels = " ".join(c.label + " ".join(c.keywords) for c in top[:3])
    # the messages' best-known clusters: a mixing plant near 丽发新城 and bundled parking at 伊景园滨河苑
    assert "搅拌" in labels and "伊景园" in labels
    assert top[0].size >= 10 and top[0].people >= 10


def write_likes(path: Path, rows: list[tuple[str, str, int, int]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "点赞数", "反对数"])
        for i, (title, content, likes, opposes) in enumerate(rows):
            w.writerow([i + 1, f"U{i}", title, f"2019/3/{i + 1} 10:00:00", content, likes, opposes])


def test_cli_evaluate_prints_top_clusters(tmp_path: Path) -> None:
    f = tmp_path / "likes.csv"
    write_likes(f, [(t, c, 10 * i, 0) for i, (t, c) in enumerate(MIXER + LAMP + OTHER)])
    r = CliRunner().invoke(pingan_app, ["hot", "evaluate", "--file", str(f), "--top", "5", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["messages"] == 6 and body["clusters"] == 2
    assert body["top"][0]["size"] == 3 and body["top"][0]["likes"] == 0 + 10 + 20
    r = CliRunner().invoke(pingan_app, ["hot", "evaluate", "--file", str(f)])
    assert r.exit_code == 0 and "热点" in r.output
    assert CliRunner().invoke(pingan_app, ["hot", "evaluate", "--file", str(tmp_path / "missing.csv")]).exit_code == 2


# ----------------------------------------------------------------------------------------------------- API


@pytest.fixture
def tx(db: Any) -> Iterator[Session]:
    with db.session() as s:
        yield s


def store(session: Session, text: tuple[str, str], at: datetime, county: str, town: str, **extra: Any) -> Case:
    case = Case(
        channel="online",
        external_id=uuid.uuid4().hex[:16],
        case_type="投诉",
        title=text[0],
        content=text[1],
        region_code=town,
        county_code=county,
        town_code=town,
        received_at=at,
        caller_phone=f"1380000{uuid.uuid4().int % 10000:04d}",
        extra=extra,
        departments=[],
    )
    case, _ = service.open_case(session, case, Actor(id=None, name="t", role=Role.OPERATOR), at, {})
    return case


def test_api_hot_issues_for_the_command_center(api: Any, tx: Session) -> None:
    now = datetime.now(UTC)
    town = "430602001"
    ids = [store(tx, t, now - timedelta(days=3 - i), "430602", town, likes=5).id for i, t in enumerate(MIXER)]
    store(tx, LAMP[0], now - timedelta(days=2), "430611", "430611001")
    store(tx, LAMP[1], now - timedelta(days=1), "430611", "430611001")
    store(tx, MIXER[0], now - timedelta(days=90), "430602", town)  # outside the default period
    tx.commit()
    r = api.get("lingdao", "/api/v1/hot-issues")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cases"] == 5 and len(body["items"]) == 2
    first = body["items"][0]
    assert first["rank"] == 1 and first["size"] == 3 and first["likes"] == 15 and first["area"] == town
    assert {m["case_id"] for m in first["members"]} == set(ids)
    assert "heat" in body["formula"] and body["weights"]["count"] > 0
    # region filter and the district dispatcher's own scope
    r = api.get("paiqian", "/api/v1/hot-issues?region=430611")
    assert r.status_code == 200 and [i["size"] for i in r.json()["items"]] == [2]
    r = api.get("yylq", "/api/v1/hot-issues")
    assert r.status_code == 200 and [i["size"] for i in r.json()["items"]] == [3]
    assert api.get("yylq", "/api/v1/hot-issues?region=430611").status_code == 422
    # period
    old = (now - timedelta(days=100)).isoformat()
    r = api.get("lingdao", "/api/v1/hot-issues", params={"since": old, "until": (now - timedelta(days=80)).isoformat()})
    assert r.status_code == 200 and r.json()["cases"] == 1 and r.json()["items"] == []
    r = api.get("lingdao", "/api/v1/hot-issues", params={"since": now.isoformat(), "until": old})
    assert r.status_code == 422
    # not the command center
    assert api.get("chengguan", "/api/v1/hot-issues").status_code == 403
    assert api.get("zuoxi", "/api/v1/hot-issues").status_code == 403
