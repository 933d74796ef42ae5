"""Password hashing (argon2id) and the complexity rule."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pingan.errors import Invalid

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_complexity(password: str) -> None:
    """At least 10 characters with three of: lower case, upper case, digits, symbols (等保 identity rules)."""
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    if len(password) < 10 or classes < 3:
        raise Invalid(
            "weak_password",
            "密码至少 10 位，且包含大写字母、小写字母、数字、符号中的三类",
            "password needs at least 10 characters from three of: lower, upper, digits, symbols",
            field="password",
        )
