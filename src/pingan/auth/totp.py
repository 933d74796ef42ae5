"""RFC 6238 time-based one-time passwords (SHA-1, 6 digits, 30 s), as authenticator apps expect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    return base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))


def code_at(secret: str, step: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def match(secret: str, code: str, now: float | None = None, window: int = 1) -> int | None:
    """The time step the code belongs to (within ±window steps), or None."""
    code = code.strip()
    if not (code.isdigit() and len(code) == DIGITS):
        return None
    step = current_step(now)
    for s in range(step - window, step + window + 1):
        if hmac.compare_digest(code_at(secret, s), code):
            return s
    return None


def uri(secret: str, username: str, issuer: str = "Pingan") -> str:
    return f"otpauth://totp/{quote(issuer)}:{quote(username)}?secret={secret}&issuer={quote(issuer)}&digits={DIGITS}"
