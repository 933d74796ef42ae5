"""The board's counts on the home page and the workbench: capped above BOARD_COUNT_CAP for wide scopes (the
tile says "N+", the list it links to has the exact total), exact for a department, memoised per data scope
and fresh after a write in this process."""

from __future__ import annotations

import re
import uuid

import pytest

from pingan.web import data
from tests.conftest import Api, Database
from tests.web.test_pages import _assign, _case, _dep


def tile(html: str, testid: str) -> str:
    m = re.search(rf'data-testid="{testid}"[^>]*>\s*(?:<span class="num">)?([^<]*?)\s*<', html)
    assert m, testid
    return m.group(1).strip()


def page(api: Api, user: str, path: str) -> str:
    api.client.cookies.clear()
    api.client.cookies.set("pingan_token", api.token(user))
    r = api.client.get(path)
    assert r.status_code == 200, r.text[:300]
    return r.text


def wb_count(html: str, queue: str) -> str:
    m = re.search(rf'data-testid="wb-{queue}"[^>]*>[^<]*<span class="count">([^<]*)</span>', html)
    assert m, queue
    return m.group(1)


def test_counts_capped_exact_scoped_and_fresh(api: Api, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "BOARD_COUNT_CAP", 2)
    tag = uuid.uuid4().hex[:6]
    assert tile(page(api, "paiqian", "/"), "queue-received") == "0"
    ids = [_case(api, f"路灯不亮{tag}{i}")["case_id"] for i in range(3)]
    # Written in this process: the memo is dropped, the next page load counts again.
    home = page(api, "paiqian", "/")
    assert tile(home, "queue-received") == "2+"  # 3 cases, cap 2
    listed = page(api, "paiqian", "/cases?queue=received")
    assert "3" in re.sub(r"\s+", " ", listed)  # the list behind the tile has the exact total
    cg = _dep(db, "cg")
    for cid in ids:
        _assign(api, cid, cg)
    home = page(api, "paiqian", "/")
    assert tile(home, "queue-received") == "0" and tile(home, "queue-assigned") == "2+"
    # A department's workbench counts its own cases exactly (one pass over its scope).
    monkeypatch.setattr(data, "BOARD_COUNT_CAP", 9999)
    assert wb_count(page(api, "chengguan", "/workbench"), "assigned") == "3"
    assert wb_count(page(api, "zhujian", "/workbench"), "assigned") == "0"  # another department: its own scope
    # The district center's memo is its own: the city's cases elsewhere are not in its counts.
    data._memo.clear()
    city = tile(page(api, "paiqian", "/"), "queue-assigned")
    district = tile(page(api, "yylq", "/"), "queue-assigned")
    assert city == "3" and district == "0"
