"""schemathesis over /openapi.json: generated requests for every operation, as a role that may use it —
zero 5xx. Bounded (PINGAN_FUZZ_EXAMPLES per operation, default 5) to keep the suite short."""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from pingan.app import create_app
from tests.conftest import Api

EXAMPLES = int(os.environ.get("PINGAN_FUZZ_EXAMPLES", "5"))


def _user_for(path: str) -> str:
    if path.startswith("/api/v1/admin") or "/policy/" in path:
        return "admin"
    if path.startswith("/api/v1/intake/grid"):
        return "wangge"
    if path.startswith("/api/v1/intake/"):
        return "zuoxi"
    return "paiqian"


def _runner(op, user: str, api: Api, failures: list[str]):  # type: ignore[no-untyped-def]
    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
    )
    @given(case=op.as_strategy())
    def run(case) -> None:  # type: ignore[no-untyped-def]
        headers = dict(case.headers or {})
        headers.setdefault("Authorization", api.as_(user)["Authorization"])
        api.client.cookies.clear()
        try:
            r = case.call(headers=headers, timeout=120)
        except Exception as exc:  # an unhandled exception is what a 500 is
            failures.append(f"{case.method} {case.formatted_path} raised {exc!r}"[:400])
            return
        if r.status_code == 401:
            api.tokens.pop(user, None)  # a fuzzed logout or revocation: log in again next time
        if r.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} → {r.status_code}: {r.text[:200]}"
                f" (query={case.query}, body={str(case.body)[:200]})"
            )

    return run


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_no_server_errors(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PINGAN_RATE_LOGIN_PER_MIN", "100000")
    monkeypatch.setenv("PINGAN_RATE_PUBLIC_PER_MIN", "100000")
    app = create_app(db.settings(), background=False)
    schema = schemathesis.openapi.from_dict(app.openapi())  # the document /openapi.json serves
    schema.app = app  # requests go to the application in-process (ASGI)
    failures: list[str] = []
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) > 30
    with TestClient(app) as client:
        api = Api(client)
        # A few real cases, so that small ids hit something.
        from tests.helpers import hotline_body

        for i in range(3):
            api.post("zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body(f"FUZZ-{i}"))
        for op in ops:
            _runner(op, _user_for(op.path), api, failures)()
    assert not failures, "\n".join(sorted(set(failures))[:40])


@pytest.fixture(autouse=True)
def _restore_demo_departments(db):  # type: ignore[no-untyped-def]
    """The fuzzer may re-department a demo account through PATCH /admin/users/{id}: put it back."""
    yield
    from sqlalchemy import select

    from pingan.orgs.models import Department, User
    from pingan.sim.org import DEMO_USERS

    with db.session() as s:
        deps = {d.code: d.id for d in s.scalars(select(Department))}
        for du in DEMO_USERS:
            u = s.scalars(select(User).where(User.username == du.username)).one()
            u.department_id = deps.get(du.department_code) if du.department_code else None
            u.must_change_password = False
        s.commit()
