"""Policy as data: YAML files (kind: …) validated by a pydantic model per kind.

Domain packages register their kinds with `register`; `load` reads the effective file from the policy
directory; `check_file` validates any file and returns readable errors.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pingan.config import DATA_DIR, Settings
from pingan.errors import Invalid

M = TypeVar("M", bound=BaseModel)

_KINDS: dict[str, type[BaseModel]] = {}
_FILES: dict[str, str] = {}


def register(kind: str, filename: str) -> Callable[[type[M]], type[M]]:
    def deco(model: type[M]) -> type[M]:
        _KINDS[kind] = model
        _FILES[kind] = filename
        return model

    return deco


def kinds() -> dict[str, type[BaseModel]]:
    _import_all()
    return dict(_KINDS)


# Modules that register policy kinds; a domain package with policy adds its module here.
POLICY_MODULES = [
    "pingan.cases.policies",
    "pingan.orgs.policies",
    "pingan.dispatch.dup_policies",
    "pingan.metrics.policies",
    "pingan.mediation.policies",
    "pingan.dispatch.policies",
]


def _import_all() -> None:
    # Importing the modules runs their @register decorators.
    for name in POLICY_MODULES:
        importlib.import_module(name)


def parse(text: str, source: str = "<text>") -> BaseModel:
    _import_all()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(
            "policy_yaml", f"策略文件不是合法的 YAML：{exc}", f"policy file is not valid YAML: {exc}", source=source
        ) from exc
    if not isinstance(raw, dict) or "kind" not in raw:
        raise Invalid("policy_kind", "策略文件缺少 kind 字段", "policy file has no 'kind' field", source=source)
    kind = raw.pop("kind")
    model = _KINDS.get(kind)
    if model is None:
        raise Invalid(
            "policy_kind",
            f"未知的策略类型：{kind}",
            f"unknown policy kind: {kind}",
            source=source,
            known=sorted(_KINDS),
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [{"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise Invalid(
            "policy_invalid",
            f"策略文件 {source} 校验失败",
            f"policy file {source} is invalid",
            kind=kind,
            errors=errors,
        ) from exc


def check_file(path: Path) -> BaseModel:
    return parse(path.read_text(encoding="utf-8"), source=str(path))


_DEFAULT_DIR = str(DATA_DIR / "policy")


def load(kind: str, model: type[M], settings: Settings | None = None) -> M:
    # Read on every routing decision: the directory comes from the environment, not a whole Settings().
    policy_dir = settings.policy_dir if settings else os.environ.get("PINGAN_POLICY_DIR", _DEFAULT_DIR)
    return _load_cached(kind, str(policy_dir), model)


@lru_cache(maxsize=64)
def _load_cached(kind: str, policy_dir: str, model: type[Any]) -> Any:
    _import_all()
    path = Path(policy_dir) / _FILES[kind]
    parsed = check_file(path)
    if not isinstance(parsed, model):
        raise Invalid("policy_kind", f"{path} 不是 {kind} 策略", f"{path} is not a {kind} policy")
    return parsed


def reload() -> None:
    _load_cached.cache_clear()
