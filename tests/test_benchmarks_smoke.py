"""`python -m benchmarks --quick` runs end to end and writes its two files. Timings are never asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from benchmarks.throwaway_database import BENCH_URL_ENV

pytestmark = pytest.mark.mysql

REPOSITORY = Path(__file__).resolve().parent.parent


def test_quick_run_writes_every_row_and_drops_its_database(mysql_server_url, tmp_path):
    url = mysql_server_url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=REPOSITORY,
        env={**_environment(), BENCH_URL_ENV: url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    assert result["mode"] == "quick" and result["server"]["version"]
    assert "innodb_flush_log_at_trx_commit" in result["server"]["variables"]
    numbers = [row["number"] for row in result["rows"]]
    assert numbers == ["1", "1s", *["2"] * 5, "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
    for row in result["rows"]:
        if row["number"] in ("7", "11"):  # each starts a private mariadbd
            assert not row["available"] and "--quick" in row["unavailable_reason"]
            continue
        assert row["available"] and row["note"] and row["figures"], row["number"]
        for figure in row["figures"]:
            assert figure["value"] is not None and figure["value"] > 0, (row["number"], figure)
    markdown = (tmp_path / "latest.md").read_text()
    assert result["commit"] in markdown and result["server"]["version"] in markdown
    assert "| 8 |" in markdown and "not available" in markdown
    # The throwaway database is gone.
    admin = pymysql.connect(
        host=mysql_server_url.host, port=mysql_server_url.port or 3306,
        user=mysql_server_url.username, password=mysql_server_url.password or "",
    )
    try:
        cursor = admin.cursor()
        cursor.execute("SHOW DATABASES LIKE %s", (result["scratch_database"],))
        assert cursor.fetchall() == ()
    finally:
        admin.close()


def test_unknown_rows_are_a_usage_error():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--rows", "1,99"],
        cwd=REPOSITORY, env=_environment(), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "unknown row(s) ['99']" in done.stderr


def _environment() -> dict:
    return {name: value for name, value in os.environ.items() if not name.startswith("FIBTRIGGER_")}
