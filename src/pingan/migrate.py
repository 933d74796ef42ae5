"""Running the Alembic migrations from code (pingan db upgrade, tests, demo)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from pingan.config import REPO_ROOT
from pingan.db import make_engine, normalise_url


def alembic_config(url: str) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    engine = make_engine(url)
    # SQLite: migrations run outside the BEGIN IMMEDIATE hook's transaction handling, on one connection.
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()
