"""Masking personal information for display (个人信息保护): 138****1234, 张*, ID first 6 + last 4."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_id_number(id_no: str | None) -> str | None:
    if not id_no:
        return id_no
    return id_no[:6] + "*" * max(len(id_no) - 10, 0) + id_no[-4:]
