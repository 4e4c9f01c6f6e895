"""Backups of the one SQLite file: made online, checked, pruned, and restored.

SQLite's online backup API copies a consistent snapshot while the service keeps writing (WAL),
so a backup needs no downtime. Every backup is checked with `PRAGMA integrity_check` before it
gets its final name; a half-written one never looks like a backup. Restoring goes through the
same API into the live path, which rewrites the database and its WAL together: copying a file
over a WAL database would pair the old WAL with the new file.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.store.migrations import MIGRATIONS

NAME = re.compile(r"^qingfeng-(\d{8}-\d{6})\.db$")
COUNTED = ("members", "checkins", "readings", "schedules", "deliveries")


class BackupError(RuntimeError):
    """A backup could not be made, checked or restored; the message says why, in Chinese."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    bytes: int
    schema_version: int
    counts: dict[str, int]


def create(store_path: str | Path, directory: str | Path, now: datetime, keep: int) -> BackupInfo:
    """Copy the live database to `directory`/qingfeng-<time>.db, check it, prune old ones."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"无法创建备份目录 {directory}：{exc.strerror}") from exc
    final = directory / f"qingfeng-{now:%Y%m%d-%H%M%S}.db"
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _copy(Path(store_path), partial)
        info = verify(partial)
    except (sqlite3.Error, OSError, BackupError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"备份失败：{exc}") from exc
    partial.replace(final)
    prune(directory, keep)
    return BackupInfo(final, info.bytes, info.schema_version, info.counts)


def verify(path: str | Path) -> BackupInfo:
    """Open a backup read-only and check it; BackupError if it is damaged or not ours."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}")
    try:
        with closing(_open_read_only(path)) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise BackupError(f"备份文件 {path} 已损坏：{result}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            if "members" not in tables:
                raise BackupError(f"{path} 不是清风的数据库")
            counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608  (names from COUNTED)
                      for table in COUNTED if table in tables}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} 不是可用的 SQLite 数据库：{exc}") from exc
    return BackupInfo(path, path.stat().st_size, version, counts)


def restore(backup: str | Path, store_path: str | Path, now: datetime) -> Path:
    """Put a checked backup in place of the live database; returns the safety copy of what was
    there. The service must be stopped (the caller checks the scheduler lease)."""
    info = verify(backup)
    if info.schema_version > len(MIGRATIONS):
        raise BackupError(f"备份来自更新的版本（结构版本 {info.schema_version}，本程序只认识到 "
                          f"{len(MIGRATIONS)}）：请先升级程序再恢复")
    store_path = Path(store_path)
    safety = store_path.with_name(f"{store_path.name}.before-restore-{now:%Y%m%d-%H%M%S}")
    if store_path.exists():
        _copy(store_path, safety)
    _copy(Path(backup), store_path)
    return safety


def listing(directory: str | Path) -> list[Path]:
    """This directory's backups, oldest first (their names sort by time)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if NAME.match(p.name))


def prune(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; never anything not named like one."""
    removed = listing(directory)[:-keep] if keep > 0 else []
    for path in removed:
        path.unlink()
    return removed


def _copy(source: Path, target: Path) -> None:
    with closing(_open_read_only(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
