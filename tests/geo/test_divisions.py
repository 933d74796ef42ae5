"""The real divisions of Yueyang: counts, hierarchy, name/pinyin/fuzzy search, on SQLite and PostgreSQL."""

from __future__ import annotations

from pingan.geo import divisions
from pingan.geo.locate import gazetteer, locate


def test_counts_of_the_real_divisions(session) -> None:  # type: ignore[no-untyped-def]
    c = divisions.counts(session, "430600")
    assert c["by_level"] == {"county": 10, "township": 138, "village": 1899}
    v = {k.split(":")[1]: n for k, n in c["by_subtype"].items() if k.startswith("village:")}
    assert v["village"] == 1391 and v["community"] == 482
    assert v["farm_living_area"] + v["village_like_farm"] == 26
    t = {k.split(":")[1]: n for k, n in c["by_subtype"].items() if k.startswith("township:")}
    assert sum(t.values()) == 138 and t["street"] == 31


def test_hierarchy(session) -> None:  # type: ignore[no-untyped-def]
    town = [r for r in divisions.children(session, "430621") if r.name == "荣家湾镇"]
    assert len(town) == 1
    villages = divisions.children(session, town[0].code)
    assert villages and all(v.parent_code == town[0].code for v in villages)
    chain = divisions.ancestors(session, villages[0].code)
    assert [r.code for r in chain] == ["430600", "430621", town[0].code]
    every = divisions.descendants(session, "430621")
    assert len([r for r in every if r.level == "township"]) == len(divisions.children(session, "430621"))
    # Codes nest: each descendant's code starts with its county's code.
    assert all(r.code.startswith("430621") for r in every)
    assert len(divisions.descendants(session, "430600", "village")) == 1899


def test_search_by_name_pinyin_initials_and_typo(session) -> None:  # type: ignore[no-untyped-def]
    g = gazetteer(session)
    for q in ("荣家湾", "rongjiawan", "RongJiaWan", "荣佳湾"):
        hits = g.search(q, 5)
        assert hits and hits[0][0].name == "荣家湾镇", (q, hits[:3])
    assert g.search("rjw", 5)[0][0].name == "荣家湾镇"
    assert g.search("zzzzqqq", 5) == []


def test_address_text_is_located_with_level_and_confidence(session) -> None:  # type: ignore[no-untyped-def]
    loc = locate(session, None, None, "岳阳县荣家湾镇建设路12号")
    assert loc.level == "township" and loc.county_code == "430621" and loc.town_code == "430621100"
    spoken = locate(session, None, None, "rongjiawan")
    assert spoken.town_code == "430621100" and spoken.confidence < loc.confidence
    homophone = locate(session, None, None, "荣佳湾镇菜市场门口")
    assert homophone.town_code == "430621100" and homophone.confidence < loc.confidence
    # A longer name in the text is not also read as the shorter one inside it (岳阳楼区 ≠ 岳阳楼社区).
    county = locate(session, None, None, "岳阳楼区")
    assert county.level == "county" and county.region_code == "430602"
    assert locate(session, None, None, "某某路123号").level == "city"


def test_region_api(api) -> None:  # type: ignore[no-untyped-def]
    r = api.get("zuoxi", "/api/v1/geo/regions/search", params={"q": "rongjiawan"})
    assert r.status_code == 200 and r.json()[0]["code"] == "430621100"
    d = api.get("zuoxi", "/api/v1/geo/regions/430621100").json()
    assert [a["code"] for a in d["ancestors"]] == ["430600", "430621"]
    assert api.get("zuoxi", "/api/v1/geo/regions/999999").status_code == 404
    c = api.get("zuoxi", "/api/v1/geo/regions/counts", params={"code": "430600"}).json()
    assert c["by_level"]["village"] == 1899


def test_registered_places_and_aliases(api, session) -> None:  # type: ignore[no-untyped-def]
    before = locate(session, None, None, "星光花园东口")
    assert before.level == "city"
    r = api.post(
        "paiqian", "/api/v1/geo/places", json={"name": "星光花园", "region_code": "430602001", "kind": "place"}
    )
    assert r.status_code == 201, r.text
    assert (
        api.post("paiqian", "/api/v1/geo/places", json={"name": "星光花园", "region_code": "430602001"}).status_code
        == 409
    )
    assert api.post("zuoxi", "/api/v1/geo/places", json={"name": "某地", "region_code": "430602001"}).status_code == 403
    assert (
        api.post("paiqian", "/api/v1/geo/places", json={"name": "某地", "region_code": "430602999"}).status_code == 404
    )
    session.rollback()  # see the committed place
    after = locate(session, None, None, "星光花园东口")
    assert after.town_code == "430602001" and after.level == "township" and after.matched == "星光花园"
    r = api.post("zuoxi", "/api/v1/geo/locate", json={"address": "星光花园东口"})
    assert r.json()["town_code"] == "430602001" and r.json()["names"]["township"]
