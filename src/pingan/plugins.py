"""Registries of optional parts: routers and CLI sub-apps that domain packages add."""

from __future__ import annotations

import importlib

import typer
from fastapi import APIRouter

# Modules with a module-level `router`; each package that serves HTTP appends its module.
ROUTER_MODULES: list[str] = [
    "pingan.auth.views",
    "pingan.security.views",
    "pingan.web.export",
    "pingan.web.live",
    "pingan.web.pages",
    "pingan.dispatch.dup_views",
    "pingan.geo.views",
    "pingan.mediation.views",
    "pingan.mediation.pages",
    "pingan.metrics.views",
    "pingan.dispatch.views",
    "pingan.cases.rating",
    "pingan.web.dispatch_queue",
]  # noqa: E501

# (command name, module with a typer `app`); mounted as `pingan NAME`.
CLI_MODULES: list[tuple[str, str]] = [
    ("hot", "pingan.dispatch.hot_cli"),
    ("geo", "pingan.geo.cli"),
    ("mediation", "pingan.mediation.cli"),
    ("privacy", "pingan.security.cli"),
    ("routing", "pingan.dispatch.cli"),
    ("metrics", "pingan.metrics.cli"),
]  # noqa: E501


def routers() -> list[APIRouter]:
    return [importlib.import_module(name).router for name in ROUTER_MODULES]


def cli_apps() -> list[tuple[str, typer.Typer]]:
    return [(name, importlib.import_module(mod).app) for name, mod in CLI_MODULES]
