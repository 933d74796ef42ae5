"""Identity (身份鉴别): argon2 passwords, complexity, lockout, idle timeout, forced change, TOTP, revocation,
channel API tokens — each through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from pingan.auth import totp
from pingan.orgs.models import AuthToken, User
from pingan.orgs.passwords import check_complexity
from pingan.security.models import SecurityEvent
from pingan.sim.org import DEMO_PASSWORD
from pingan.timeutil import utcnow
from tests.helpers import hotline_body

LOGIN = "/api/v1/auth/login"


def _kinds(session, since_seq: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return [
        e.kind
        for e in session.scalars(select(SecurityEvent).where(SecurityEvent.seq > since_seq).order_by(SecurityEvent.seq))
    ]


def _last_seq(session) -> int:  # type: ignore[no-untyped-def]
    return max([0, *session.scalars(select(SecurityEvent.seq))])


def _new_user(api, role: str = "operator", **kw) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    name = "u" + uuid.uuid4().hex[:10]
    password = "Init!" + uuid.uuid4().hex[:10]
    body = {"username": name, "password": password, "role": role, **kw}
    r = api.post("admin", "/api/v1/admin/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], name, password


def test_passwords_are_argon2_and_complex(session) -> None:  # type: ignore[no-untyped-def]
    user = session.scalars(select(User).where(User.username == "zuoxi")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert DEMO_PASSWORD not in user.password_hash
    for weak in ["short1!", "alllowercaseletters", "NoDigitsOrSymbols", "1234567890123"]:
        with pytest.raises(Exception, match="password"):
            check_complexity(weak)
    check_complexity("Good-Password-2026")


def test_lockout_after_five_failures_for_ten_minutes(api, session) -> None:  # type: ignore[no-untyped-def]
    uid, name, password = _new_user(api)
    seq = _last_seq(session)
    for _ in range(5):
        r = api.client.post(LOGIN, json={"username": name, "password": "Wrong-Password-1"})
        assert r.status_code == 401
    # Locked: even the right password is refused now …
    r = api.client.post(LOGIN, json={"username": name, "password": password})
    assert r.status_code == 423 and r.json()["error"]["code"] == "locked"
    kinds = _kinds(session, seq)
    assert kinds.count("login_failed") == 6 and kinds.count("lockout") == 1
    # … for ten minutes: move the lock 10 minutes into the past and it opens.
    session.execute(update(User).where(User.id == uid).values(locked_until=utcnow() - timedelta(seconds=1)))
    session.commit()
    r = api.client.post(LOGIN, json={"username": name, "password": password})
    assert r.status_code == 200
    u = session.get(User, uid)
    session.refresh(u)
    assert u.locked_until is None and u.failed_logins == 0


def test_lock_lasts_ten_minutes(api, session) -> None:  # type: ignore[no-untyped-def]
    uid, name, _ = _new_user(api)
    for _ in range(5):
        api.client.post(LOGIN, json={"username": name, "password": "Wrong-Password-1"})
    u = session.get(User, uid)
    session.refresh(u)
    assert u.locked_until is not None
    assert timedelta(minutes=9, seconds=50) < u.locked_until - utcnow() <= timedelta(minutes=10)


def test_forced_password_change_on_first_login(api) -> None:  # type: ignore[no-untyped-def]
    _, name, password = _new_user(api)
    r = api.client.post(LOGIN, json={"username": name, "password": password})
    assert r.status_code == 200 and r.json()["user"]["must_change_password"] is True
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.client.get("/api/v1/cases", headers=h).json()["error"]["code"] == "password_change_required"
    bad = api.client.post("/api/v1/auth/password", headers=h, json={"old_password": password, "new_password": "weak"})
    assert bad.status_code == 422
    ok = api.client.post(
        "/api/v1/auth/password", headers=h, json={"old_password": password, "new_password": "New-Secret-2026"}
    )
    assert ok.status_code == 204
    assert api.client.get("/api/v1/cases", headers=h).status_code == 200


def test_idle_session_times_out(api, session, db) -> None:  # type: ignore[no-untyped-def]
    h = api.as_("zuoxi")
    assert api.client.get("/api/v1/me", headers=h).status_code == 200
    minutes = db.settings().session_idle_minutes
    assert minutes == 30
    session.execute(
        update(AuthToken)
        .where(AuthToken.kind == "session")
        .values(last_seen_at=utcnow() - timedelta(minutes=minutes, seconds=5))
    )
    session.commit()
    r = api.client.get("/api/v1/me", headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"


def test_idle_timeout_is_configurable(db) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from pingan.app import create_app

    with TestClient(create_app(db.settings(session_idle_minutes=5), background=False)) as client:
        token = client.post(LOGIN, json={"username": "zuoxi", "password": DEMO_PASSWORD}).json()["token"]
        with db.session() as s:
            s.execute(update(AuthToken).values(last_seen_at=utcnow() - timedelta(minutes=6)))
            s.commit()
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_totp_second_factor(api, session) -> None:  # type: ignore[no-untyped-def]
    uid, name, password = _new_user(api)
    token = api.client.post(LOGIN, json={"username": name, "password": password}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    secret = api.client.post("/api/v1/auth/totp/setup", headers=h).json()["secret"]
    wrong = str((int(totp.code_at(secret, totp.current_step())) + 1) % 1_000_000).zfill(6)
    assert api.client.post("/api/v1/auth/totp/enable", headers=h, json={"code": wrong}).status_code == 422
    code = totp.code_at(secret, totp.current_step())
    assert api.client.post("/api/v1/auth/totp/enable", headers=h, json={"code": code}).status_code == 204
    # Password alone is no longer enough; a wrong code counts as a failure; a replayed code is refused.
    r = api.client.post(LOGIN, json={"username": name, "password": password})
    assert r.status_code == 401 and r.json()["error"]["code"] == "otp_required"
    r = api.client.post(LOGIN, json={"username": name, "password": password, "otp": wrong})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    r = api.client.post(LOGIN, json={"username": name, "password": password, "otp": code})
    assert r.status_code == 401  # the code was used to enable: single use
    nxt = totp.code_at(secret, totp.current_step() + 1)
    assert api.client.post(LOGIN, json={"username": name, "password": password, "otp": nxt}).status_code == 200
    # The secret is stored encrypted.
    from sqlalchemy import text

    raw = session.execute(text("SELECT secret FROM user_totp WHERE user_id = :u"), {"u": uid}).scalar_one()
    assert raw.startswith("v1:") and secret not in raw


def test_admin_revokes_sessions(api, session) -> None:  # type: ignore[no-untyped-def]
    h = api.as_("duban")
    assert api.client.get("/api/v1/me", headers=h).status_code == 200
    uid = session.scalars(select(User.id).where(User.username == "duban")).one()
    sessions = api.get("admin", f"/api/v1/admin/users/{uid}/sessions").json()
    assert any(t["kind"] == "session" and t["revoked_at"] is None for t in sessions)
    seq = _last_seq(session)
    assert api.post("admin", f"/api/v1/admin/users/{uid}/sessions/revoke").json()["revoked"] >= 1
    assert api.client.get("/api/v1/me", headers=h).status_code == 401
    assert "session_revoked" in _kinds(session, seq)
    # Only an administrator may do it.
    assert api.post("paiqian", f"/api/v1/admin/users/{uid}/sessions/revoke").status_code == 403


def test_permission_change_is_logged_and_ends_sessions(api, session) -> None:  # type: ignore[no-untyped-def]
    uid, name, password = _new_user(api, role="dispatcher", region_code="430602")
    token = api.client.post(LOGIN, json={"username": name, "password": password}).json()["token"]
    seq = _last_seq(session)
    r = api.client.patch(f"/api/v1/admin/users/{uid}", headers=api.as_("admin"), json={"role": "leader"})
    assert r.status_code == 200 and r.json()["role"] == "leader"
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    session.expire_all()
    ev = session.scalars(
        select(SecurityEvent).where(SecurityEvent.seq > seq, SecurityEvent.kind == "permission_change")
    ).one()
    assert ev.data["changes"]["role"] == {"from": "dispatcher", "to": "leader"} and ev.target == f"user:{uid}"


def test_channel_api_token_is_scoped_to_its_channel(api, session) -> None:  # type: ignore[no-untyped-def]
    uid = session.scalars(select(User.id).where(User.username == "api12345")).one()
    r = api.post("admin", f"/api/v1/admin/users/{uid}/api-tokens")
    assert r.status_code == 201 and r.json()["channel"] == "hotline_12345"
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    ok = api.client.post("/api/v1/intake/hotline_12345", headers=h, json=hotline_body("TOK-1"))
    assert ok.status_code == 201
    police = {
        "incident_no": "TOK-2",
        "transfer_time": "2026-11-02T10:00:00+08:00",
        "title": "楼上漏水",
        "content": "楼上住户漏水，协商无果",
    }
    assert api.client.post("/api/v1/intake/police_110", headers=h, json=police).status_code == 403
    # API tokens are not subject to the idle timeout of interactive sessions …
    session.execute(update(AuthToken).where(AuthToken.kind == "api").values(last_seen_at=utcnow() - timedelta(days=3)))
    session.commit()
    assert api.client.post("/api/v1/intake/hotline_12345", headers=h, json=hotline_body("TOK-3")).status_code == 201
    # … and only channel accounts get them.
    zuoxi = session.scalars(select(User.id).where(User.username == "zuoxi")).one()
    assert api.post("admin", f"/api/v1/admin/users/{zuoxi}/api-tokens").status_code == 422
    # Revoking it ends it.
    tid = max(t["id"] for t in api.get("admin", f"/api/v1/admin/users/{uid}/sessions").json() if t["kind"] == "api")
    assert api.post("admin", f"/api/v1/admin/tokens/{tid}/revoke").json()["revoked_at"]
    assert api.client.post("/api/v1/intake/hotline_12345", headers=h, json=hotline_body("TOK-4")).status_code == 401
