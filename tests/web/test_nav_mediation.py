"""The top navigation leads mediators and the command center to the mediation pages."""

from __future__ import annotations

from pingan.sim.org import DEMO_PASSWORD


def test_mediation_is_in_the_navigation(api) -> None:  # type: ignore[no-untyped-def]
    client = api.client
    r = client.post("/api/v1/auth/login", json={"username": "paiqian", "password": DEMO_PASSWORD})
    assert r.status_code == 200
    home = client.get("/cases")
    assert home.status_code == 200 and 'href="/mediation"' in home.text and "矛盾纠纷调解" in home.text
    page = client.get("/mediation")
    assert page.status_code == 200 and "矛盾纠纷" in page.text
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": "chengguan", "password": DEMO_PASSWORD})
    assert 'href="/mediation"' not in client.get("/cases").text
    client.cookies.clear()
