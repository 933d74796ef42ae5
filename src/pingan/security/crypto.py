"""Application-level encryption of personal information (个人信息加密存储).

AES-256-GCM with a key kept outside the database, in a key file (PINGAN_KEY_FILE, by default
var/pingan.key, created with mode 0600 on first use and never committed). The key file holds every key by
id and names the active one; each ciphertext carries the id of the key that made it, so old rows stay
readable after a rotation until `pingan privacy rotate-key` has re-encrypted them.

Ciphertext text form: ``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. The column name is the
associated data, so a ciphertext copied into another column does not decrypt.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from pingan.config import REPO_ROOT

PREFIX = "v1:"


class KeyError_(Exception):
    """The key file is missing a key that a ciphertext names, or a ciphertext does not authenticate."""


def key_file_path() -> Path:
    return _key_file_path(os.environ.get("PINGAN_KEY_FILE") or "")


@lru_cache(maxsize=8)
def _key_file_path(env: str) -> Path:
    return Path(env or REPO_ROOT / "var" / "pingan.key")


@dataclass
class Keyring:
    active: str
    keys: dict[str, bytes] = field(default_factory=dict)
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    def cipher(self, kid: str) -> AESGCM:
        """The AES-GCM cipher of key `kid`, made once (a quarter of an encryption's time)."""
        c = self._ciphers.get(kid)
        if c is None:
            c = self._ciphers[kid] = AESGCM(self.keys[kid])
        return c

    def to_json(self) -> str:
        return json.dumps(
            {"active": self.active, "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        raw = json.loads(text)
        keys = {k: base64.b64decode(v) for k, v in raw["keys"].items()}
        if raw["active"] not in keys or any(len(v) != 32 for v in keys.values()):
            raise ValueError("key file: the active key must exist and every key must be 32 bytes")
        return cls(active=raw["active"], keys=keys)


_lock = threading.Lock()
_cache: dict[Path, tuple[float, Keyring]] = {}
# Every encrypted field of every new case reads the keyring: the file is looked at again (a rotation by
# another process) at most this often. Until then new values use the previous active key, which stays readable.
RECHECK_S = 1.0
_checked: dict[Path, float] = {}


def _write(path: Path, ring: Keyring) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ring.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def load_keyring(path: Path | None = None, reload: bool = False) -> Keyring:
    """The key file's keys; creates a file with one fresh key when there is none."""
    path = path or key_file_path()
    now = time.monotonic()
    hit = _cache.get(path)
    if hit and not reload and now - _checked.get(path, -RECHECK_S) < RECHECK_S:
        return hit[1]
    with _lock:
        if not path.exists():
            kid = new_key_id()
            _write(path, Keyring(active=kid, keys={kid: AESGCM.generate_key(256)}))
        mtime = path.stat().st_mtime
        _checked[path] = now
        hit = _cache.get(path)
        if hit and hit[0] == mtime and not reload:
            return hit[1]
        ring = Keyring.from_json(path.read_text())
        _cache[path] = (mtime, ring)
        return ring


def add_key(path: Path | None = None) -> Keyring:
    """Add a fresh key and make it the active one (old keys stay for reading)."""
    path = path or key_file_path()
    ring = load_keyring(path, reload=True)
    kid = new_key_id()
    ring = Keyring(active=kid, keys={**ring.keys, kid: AESGCM.generate_key(256)})
    with _lock:
        _write(path, ring)
        _cache.pop(path, None)
    return ring


def drop_keys_except(keep: set[str], path: Path | None = None) -> Keyring:
    path = path or key_file_path()
    ring = load_keyring(path, reload=True)
    ring = Keyring(active=ring.active, keys={k: v for k, v in ring.keys.items() if k in keep or k == ring.active})
    with _lock:
        _write(path, ring)
        _cache.pop(path, None)
    return ring


def encrypt(plaintext: str, purpose: str, ring: Keyring | None = None) -> str:
    ring = ring or load_keyring()
    nonce = secrets.token_bytes(12)
    ct = ring.cipher(ring.active).encrypt(nonce, plaintext.encode("utf-8"), purpose.encode())
    return f"{PREFIX}{ring.active}:{base64.urlsafe_b64encode(nonce + ct).decode()}"


def key_id_of(value: str) -> str | None:
    if not value.startswith(PREFIX):
        return None
    return value.split(":", 2)[1]


def decrypt(value: str, purpose: str, ring: Keyring | None = None) -> str:
    """Plain text of a ciphertext; a value without the prefix (written before encryption) is returned as is."""
    if not value.startswith(PREFIX):
        return value
    _, kid, body = value.split(":", 2)
    ring = ring or load_keyring()
    if kid not in ring.keys:
        ring = load_keyring(reload=True)  # rotated by another process since we cached it
    if kid not in ring.keys:
        raise KeyError_(f"key {kid} is not in the key file {key_file_path()}")
    raw = base64.urlsafe_b64decode(body)
    try:
        return ring.cipher(kid).decrypt(raw[:12], raw[12:], purpose.encode()).decode("utf-8")
    except InvalidTag as exc:
        raise KeyError_(f"ciphertext for {purpose} does not authenticate") from exc


class EncryptedText(TypeDecorator[str]):
    """A text column encrypted by the application; the database only ever sees ciphertext."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value, self.purpose)
