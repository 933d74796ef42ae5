"""Bad input and abuse: body limits, rate limits, uploads checked by content with EXIF stripped, HTML escaped,
SQL only through bound parameters, CSRF, security headers."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image

from pingan.app import create_app
from pingan.sim.org import DEMO_PASSWORD
from tests.helpers import new_case
from tests.security.routes import STREAMING

SRC = Path(__file__).resolve().parents[2] / "src" / "pingan"


def _jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PinganCam"  # Make
    gps = {1: "N", 2: (29.0, 21.0, 26.0), 3: "E", 4: (113.0, 7.0, 44.0)}
    exif[0x8825] = gps  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), comment=b"taken at home")
    return buf.getvalue()


def _png_with_exif() -> bytes:
    img = Image.new("RGB", (32, 32), (0, 100, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (29.0, 21.0, 26.0), 3: "E", 4: (113.0, 7.0, 44.0)}
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "家庭住址：岳阳楼区某小区 3 栋")
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif.tobytes(), pnginfo=info)
    return buf.getvalue()


def test_body_too_large_is_413(api) -> None:  # type: ignore[no-untyped-def]
    big = b"{" + b" " * (11 * 1024 * 1024) + b"}"
    r = api.client.post("/api/v1/public/reports", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_rate_limits_on_login_and_public_intake(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PINGAN_RATE_LOGIN_PER_MIN", "5")
    monkeypatch.setenv("PINGAN_RATE_PUBLIC_PER_MIN", "3")
    with TestClient(create_app(db.settings(), background=False)) as client:
        codes = [
            client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"}).status_code
            for _ in range(7)
        ]
        assert codes == [401] * 5 + [429] * 2
        r = client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": DEMO_PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        body = {"title": "路灯不亮", "content": "小区路灯坏了一个月", "caller_phone": "13712345678"}
        codes = [
            client.post("/api/v1/public/reports", json={**body, "client_request_id": f"ratelimit-{i}"}).status_code
            for i in range(5)
        ]
        assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429]
        # Staff endpoints are not limited by the public rule.
        assert client.get("/api/v1/health").status_code == 200


def test_jpeg_exif_and_gps_are_stripped(api) -> None:  # type: ignore[no-untyped-def]
    data = _jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the fixture really has GPS
    r = api.client.post("/api/v1/public/attachments", files={"file": ("photo.jpg", data, "image/jpeg")})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["mime"] == "image/jpeg" and "APP1" in out["metadata_removed"]
    # The stored file: still a decodable image of the same size, with no EXIF, no GPS, no comment.
    staff = api.client.post(
        "/api/v1/attachments", headers=api.as_("wangge"), files={"file": ("p.jpg", data, "image/jpeg")}
    ).json()
    got = api.get("wangge", f"/api/v1/attachments/{staff['id']}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(got.content))
    img.load()
    assert (
        img.size == (64, 48)
        and not img.getexif()
        and b"Exif" not in got.content
        and b"taken at home" not in got.content
    )
    # Someone else may not fetch it by id (no IDOR on uploads).
    assert api.get("zuoxi", f"/api/v1/attachments/{staff['id']}").status_code == 404


def test_png_metadata_is_stripped(api) -> None:  # type: ignore[no-untyped-def]
    r = api.client.post(
        "/api/v1/attachments", headers=api.as_("wangge"), files={"file": ("p.png", _png_with_exif(), "image/png")}
    )
    assert r.status_code == 201 and {"eXIf", "iTXt"} <= set(r.json()["metadata_removed"])
    got = api.get("wangge", f"/api/v1/attachments/{r.json()['id']}").content
    assert b"eXIf" not in got and "家庭住址".encode() not in got
    Image.open(io.BytesIO(got)).load()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"<html><script>alert(1)</script></html>"),  # named .jpg, is HTML
        ("photo.png", b"GIF89a" + b"\x00" * 100),  # a GIF
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),  # truncated JPEG
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 17),  # bad CRC
        ("empty.jpg", b""),
    ],
)
def test_uploads_are_checked_by_content(api, name: str, content: bytes) -> None:  # type: ignore[no-untyped-def]
    r = api.client.post("/api/v1/public/attachments", files={"file": (name, content, "image/jpeg")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_image", r.text


def test_uploads_are_size_limited(api) -> None:  # type: ignore[no-untyped-def]
    from pingan.security.uploads import MAX_UPLOAD_BYTES

    data = _jpeg_with_gps()
    big = data[:-2] + b"\x00" * (MAX_UPLOAD_BYTES + 10) + b"\xff\xd9"
    r = api.client.post("/api/v1/public/attachments", files={"file": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413


def test_csrf_cookie_sessions_need_same_origin(db) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(db.settings(), background=False)) as client:
        assert (
            client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": DEMO_PASSWORD}).status_code == 200
        )
        assert "pingan_token" in client.cookies
        evil = client.post("/api/v1/auth/totp/setup", headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403 and evil.json()["error"]["code"] == "csrf"
        assert client.post("/api/v1/auth/totp/setup", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        ok = client.post("/api/v1/auth/totp/setup", headers={"Origin": "http://testserver"})
        assert ok.status_code == 200
        # Reading is not state-changing, and a bearer token is not sent by browsers on their own.
        assert client.get("/api/v1/me", headers={"Origin": "https://evil.example"}).status_code == 200


def test_security_headers(api) -> None:  # type: ignore[no-untyped-def]
    r = api.get("zuoxi", "/api/v1/me")
    h = r.headers
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"] and h["Cache-Control"] == "no-store"
    assert h["Referrer-Policy"] == "same-origin"
    login = api.client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": DEMO_PASSWORD})
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


XSS = '<script>alert("xss")</script>'


def test_html_is_escaped_on_every_page(api, session) -> None:  # type: ignore[no-untyped-def]
    """A case whose title, content, address and caller carry markup; every HTML page that shows cases
    must print it escaped."""
    cid = new_case(
        api, "XSS-1", title=XSS, content=XSS + " 内容", address=XSS, caller_name="<img src=x onerror=alert(1)>"
    )["case_id"]
    client = api.client
    pages = 0
    for user in ("zuoxi", "paiqian", "lingdao"):
        client.cookies.clear()
        assert client.post("/api/v1/auth/login", json={"username": user, "password": DEMO_PASSWORD}).status_code == 200
        for rc in iter_route_contexts(client.app.routes):
            path = getattr(rc, "path", "")
            methods = getattr(rc, "methods", None) or set()
            if "GET" not in methods or path.startswith(("/api/", "/docs", "/redoc", "/openapi")):
                continue
            url = re.sub(r"\{case_id(:int)?\}", str(cid), path)
            if "{" in url or path in STREAMING:
                continue
            r = client.get(url)
            if r.headers.get("content-type", "").startswith("text/html"):
                pages += 1
                assert XSS not in r.text and "<img src=x onerror" not in r.text, url
    client.cookies.clear()
    assert pages >= 0  # no HTML pages yet is not a failure; every page there is was checked


# Statements built by formatting text, allowed because nothing user-supplied reaches them.
SQL_FORMAT_ALLOWED = {
    ("db.py", "_on_begin"): "BEGIN {mode}: mode comes from a fixed execution option (IMMEDIATE/DEFERRED)",
}
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executescript"}


def _is_formatted(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return isinstance(node.left, (ast.Constant, ast.JoinedStr, ast.BinOp))
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def test_sql_only_through_bound_parameters() -> None:
    """No SQL statement in the product is assembled by string formatting (SQL injection)."""
    offenders = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        enclosing: dict[ast.Call, set[str]] = {}
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                enclosing.setdefault(call, set()).add(func.name)
        for call, funcs in enclosing.items():
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            allowed = any((path.name, f) in SQL_FORMAT_ALLOWED for f in funcs)
            if name in SQL_CALLS and call.args and _is_formatted(call.args[0]) and not allowed:
                offenders.add(f"{path.relative_to(SRC)}:{call.lineno}")
    assert not offenders, f"SQL built by formatting: {sorted(offenders)}"
