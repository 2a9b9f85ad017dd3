"""What the numbers were measured on: machine, server, SQLite, commit, and the durability settings."""

import os
import platform
import sqlite3
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent

# The settings that decide what one autocommit INSERT costs on disk.
DURABILITY_VARIABLES = (
    "innodb_flush_log_at_trx_commit",
    "innodb_flush_method",
    "innodb_doublewrite",
    "sync_binlog",
    "log_bin",
)


def machine() -> dict:
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def commit() -> str:
    """The checked-out commit, with "+dirty" when tracked files differ from it."""
    try:
        head = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def server(cursor) -> dict:
    """VERSION() and the durability variables of the MySQL-family server."""
    cursor.execute("SELECT VERSION()")
    version = cursor.fetchone()[0]
    cursor.execute(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})".format(", ".join(["%s"] * len(DURABILITY_VARIABLES))),
        DURABILITY_VARIABLES,
    )
    return {"version": version, "variables": {name: value for name, value in cursor.fetchall()}}


# MySQL counts redo-log fsyncs on their own; MariaDB 10.11 has no such counter
# and counts them with the data files' (a commit adds one there).
FSYNC_COUNTERS = ("Innodb_os_log_fsyncs", "Innodb_data_fsyncs")


def fsyncs(cursor) -> tuple[str, int]:
    """The server-wide fsync counter that includes redo-log flushes, and its value (other clients add to it)."""
    cursor.execute(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(", ".join(["%s"] * len(FSYNC_COUNTERS))),
        FSYNC_COUNTERS,
    )
    found = dict(cursor.fetchall())
    for name in FSYNC_COUNTERS:
        if name in found:
            return name, int(found[name])
    return "none", 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=REPOSITORY, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
