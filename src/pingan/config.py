"""Settings from the environment (PINGAN_*), with defaults that run the demo on embedded SQLite."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("PINGAN_DATA_DIR", REPO_ROOT / "data"))


def default_db_url() -> str:
    var = REPO_ROOT / "var"
    return f"sqlite:///{var / 'pingan.db'}"


@dataclass
class Settings:
    db_url: str = field(default_factory=lambda: os.environ.get("PINGAN_DB_URL", default_db_url()))
    policy_dir: Path = field(default_factory=lambda: Path(os.environ.get("PINGAN_POLICY_DIR", DATA_DIR / "policy")))
    upload_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("PINGAN_UPLOAD_DIR", REPO_ROOT / "var" / "uploads"))
    )
    # Background work inside the server: the SLA sweeper and the notification outbox.
    sweeper_interval_s: float = field(default_factory=lambda: float(os.environ.get("PINGAN_SWEEPER_INTERVAL", "30")))
    # Load the routing model, duplicate index and gazetteer when a server process starts, not on its first case.
    warm_up: bool = field(default_factory=lambda: os.environ.get("PINGAN_WARM_UP", "1") not in ("0", "false", "no"))
    run_background: bool = field(
        default_factory=lambda: os.environ.get("PINGAN_BACKGROUND", "1") not in ("0", "false", "no")
    )
    webhook_url: str | None = field(default_factory=lambda: os.environ.get("PINGAN_WEBHOOK_URL") or None)
    session_idle_minutes: int = field(default_factory=lambda: int(os.environ.get("PINGAN_SESSION_IDLE_MINUTES", "30")))
    max_body_bytes: int = 10 * 1024 * 1024
