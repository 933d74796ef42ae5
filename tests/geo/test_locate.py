"""Point location on the synthetic layer: interior points, shared edges, outside the city, CRS at the API."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import func, select

from pingan.geo import locator
from pingan.geo.crs import distance_m, from_wgs84
from pingan.geo.models import Grid, RegionShape
from pingan.geo.shapes import area_m2, from_wkb
from pingan.geo.synth import QUYUAN, SynthLayer


def test_synthetic_layer_tiles_the_real_counties(synth_layer: SynthLayer) -> None:
    assert len(synth_layer.villages) == 1899 and len(synth_layer.towns) == 138
    assert 9000 <= len(synth_layer.grids) <= 11000
    assert all(g.geom.is_valid for g in synth_layer.grids)
    codes = [g.code for g in synth_layer.grids]
    assert len(set(codes)) == len(codes) and all(len(c) == 15 for c in codes)
    for county, geom in synth_layer.counties.items():
        union = shapely.union_all([g.geom for g in synth_layer.grids if g.code.startswith(county)])
        assert area_m2(shapely.symmetric_difference(union, geom)) < 1.0, county
    urban = np.median([area_m2(g.geom) for g in synth_layer.grids if g.urban])
    rural = np.median([area_m2(g.geom) for g in synth_layer.grids if not g.urban])
    assert urban * 2 < rural
    assert 150e6 < area_m2(synth_layer.counties[QUYUAN]) <= 200e6 * 1.01


def test_deterministic(synth_layer: SynthLayer) -> None:
    from pingan.geo.synth import generate

    again = generate()
    assert [g.code for g in again.grids] == [g.code for g in synth_layer.grids]
    assert all(a.geom.equals_exact(b.geom, 0) for a, b in zip(again.grids[:300], synth_layer.grids[:300], strict=True))


def test_every_grid_finds_itself(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        rows = s.execute(select(Grid.code, Grid.geom).order_by(Grid.code)).all()
        sample = rows[:: max(1, len(rows) // 300)]
        for code, geom in sample:
            p = from_wkb(geom).representative_point()
            loc = locator.locate_point(s, p.x, p.y)
            assert loc is not None and loc.grid_code == code and loc.level == "grid"
            assert (loc.county_code, loc.town_code, loc.village_code) == (code[:6], code[:9], code[:12])


def test_shared_edges_are_deterministic(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        index = locator.index_for(s)
        assert index is not None
        tree = shapely.STRtree(index.geoms)
        checked = 0
        for a in range(0, len(index.codes), 97):
            for b in tree.query(index.geoms[a], predicate="touches"):
                shared = shapely.intersection(index.geoms[a].boundary, index.geoms[int(b)].boundary)
                if shared.length == 0:
                    continue
                mid = shapely.line_interpolate_point(shapely.line_merge(shared), 0.5, normalized=True)
                mid = shapely.get_parts(mid)[0] if mid.geom_type != "Point" else mid
                x, y = mid.x, mid.y
                want = min(a, int(b), key=lambda i: index.codes[i])
                covering = [i for i in (a, int(b)) if shapely.intersects_xy(index.geoms[i], x, y)]
                if len(covering) < 2:
                    continue  # floating point put the midpoint just inside one of them
                assert index.grid_at(x, y) == want
                assert int(index.grids_at(np.array([x]), np.array([y]))[0]) == want
                checked += 1
        assert checked > 20


def test_batch_equals_single(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        index = locator.index_for(s)
        assert index is not None
        rng = np.random.default_rng(3)
        xs, ys = rng.uniform(112.2, 114.3, 5000), rng.uniform(28.3, 29.95, 5000)
        batch = index.grids_at(xs, ys)
        assert batch.tolist() == [index.grid_at(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
        # And both agree with a brute-force test of every polygon (smallest code on ties).
        pts, gi = shapely.STRtree(index.geoms).query(shapely.points(xs, ys), predicate="intersects")
        brute = np.full(len(xs), -1)
        for p, g in zip(pts.tolist(), gi.tolist(), strict=True):
            brute[p] = g if brute[p] == -1 else min(brute[p], g)
        assert (brute == batch).all()


def test_outside_the_city(layer, api) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        assert locator.locate_point(s, 115.5, 30.5) is None
    r = api.post("zuoxi", "/api/v1/geo/locate", json={"lon": 115.5, "lat": 30.5, "crs": "wgs84"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "outside_city"
    r = api.post("zuoxi", "/api/v1/geo/locate", json={"lon": 113.1, "lat": 29.3})
    assert r.status_code == 422  # crs is required with a position
    r = api.post("zuoxi", "/api/v1/geo/locate", json={"lon": 113.1, "lat": 29.3, "crs": "wgs84", "zoom": 3})
    assert r.status_code == 422  # unknown fields are rejected


def test_api_accepts_and_answers_each_crs(layer, api) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        code, geom = s.execute(select(Grid.code, Grid.geom).where(Grid.urban.is_(True)).limit(1)).one()
        p = from_wkb(geom).representative_point()
        n_counties = s.scalar(select(func.count()).select_from(RegionShape).where(RegionShape.level == "county"))
    assert n_counties == 10
    for system in ("wgs84", "gcj02", "bd09"):
        x, y = from_wgs84(p.x, p.y, system)
        r = api.post("zuoxi", "/api/v1/geo/locate", json={"lon": x, "lat": y, "crs": system, "out_crs": system})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["grid_code"] == code and body["synthetic"] is True and body["names"]["grid"]
        assert distance_m(body["position"]["lon"], body["position"]["lat"], x, y) < 1.0
    # The same point read as the wrong system lands hundreds of metres away: a different grid or none.
    r = api.post("zuoxi", "/api/v1/geo/locate", json={"lon": p.x, "lat": p.y, "crs": "bd09"})
    assert r.status_code == 422 or r.json()["grid_code"] != code


def test_cache_is_rebuilt_when_the_layer_changes(layer) -> None:  # type: ignore[no-untyped-def]
    from pingan.geo.grids import GridFeature, replace_grids

    with layer.session() as s:
        first = locator.index_for(s)
        assert locator.index_for(s) is first
        code, geom = s.execute(select(Grid.code, Grid.geom).limit(1)).one()
        g = from_wkb(geom)
        replace_grids(s, [GridFeature(code, "only", g)], synthetic=False, source="test")
        second = locator.index_for(s)
        assert second is not first and second is not None and second.codes == [code]
        s.rollback()
    with layer.session() as s:
        third = locator.index_for(s)
        assert third is not None and len(third.codes) > 9000
