"""Structured errors: every refusal carries a stable code and a message in Chinese and English."""

from __future__ import annotations

from typing import Any


class PinganError(Exception):
    status = 400

    def __init__(self, code: str, zh: str, en: str, status: int | None = None, **details: Any) -> None:
        super().__init__(en)
        self.code = code
        self.zh = zh
        self.en = en
        if status is not None:
            self.status = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.zh, "message_en": self.en}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class NotFound(PinganError):
    status = 404


class Conflict(PinganError):
    status = 409


class Forbidden(PinganError):
    status = 403


class Unauthorized(PinganError):
    status = 401


class Invalid(PinganError):
    status = 422
