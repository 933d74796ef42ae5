"""The list of optional routers: each domain package that serves HTTP adds its module here."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# Modules with a module-level `router`; added by the packages that own them.
ROUTER_MODULES: list[str] = []


def routers() -> list[APIRouter]:
    return [importlib.import_module(name).router for name in ROUTER_MODULES]
