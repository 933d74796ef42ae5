"""`pingan backup FILE` / `pingan restore FILE`: consistent copies while the server runs.

SQLite: the online backup API copies the database page by page under one read snapshot, so writers
carry on and the copy is a consistent database file. Restoring copies it back the same way, under the
write lock, so the server's connections see either the old or the restored database.

PostgreSQL: `pg_dump -Fc` (one REPEATABLE READ snapshot while the server runs) and
`pg_restore --clean --single-transaction` (all or nothing).

The encryption key file is not part of the database and so not of the backup: keep it separately
(without it the encrypted personal data in a backup cannot be read — which is the point).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from pingan.db import normalise_url
from pingan.errors import Invalid

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


@dataclass
class Result:
    kind: str
    file: Path
    bytes: int


def _sqlite_path(url: str) -> str:
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        raise Invalid("backup_memory", "内存数据库无法备份", "an in-memory database cannot be backed up")
    return path


def _pg_env(url: str) -> tuple[list[str], dict[str, str]]:
    u = make_url(normalise_url(url))
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    return [*args, "-d", u.database or "postgres"], env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Invalid(
            "tool_missing",
            f"未找到 {name}，请安装 PostgreSQL 客户端",
            f"{name} not found; install the PostgreSQL client",
        )
    return path


def backup(url: str, file: Path) -> Result:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".part")
    if url.startswith("sqlite"):
        src = sqlite3.connect(_sqlite_path(url), timeout=60)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
        finally:
            dst.close()
            src.close()
        kind = "sqlite"
    else:
        args, env = _pg_env(url)
        subprocess.run(
            [_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(tmp), *args], env=env, check=True, capture_output=True
        )
        kind = "postgresql"
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, file)
    return Result(kind, file, file.stat().st_size)


def restore(url: str, file: Path) -> Result:
    if not file.exists():
        raise Invalid("backup_missing", f"备份文件不存在：{file}", f"no such backup file: {file}")
    with open(file, "rb") as fh:
        head = fh.read(16)
    if url.startswith("sqlite"):
        if head != SQLITE_MAGIC:
            raise Invalid("backup_format", "不是 SQLite 备份文件", "not a SQLite backup file")
        src = sqlite3.connect(file)
        dst = sqlite3.connect(_sqlite_path(url), timeout=60)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        kind = "sqlite"
    else:
        if not head.startswith(PGDUMP_MAGIC):
            raise Invalid(
                "backup_format", "不是 PostgreSQL 备份文件（pg_dump -Fc）", "not a pg_dump custom-format file"
            )
        args, env = _pg_env(url)
        subprocess.run(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, str(file)],
            env=env,
            check=True,
            capture_output=True,
        )
        kind = "postgresql"
    return Result(kind, file, file.stat().st_size)
