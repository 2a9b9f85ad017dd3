"""Alembic owns the schema: upgrade, downgrade and upgrade again, from Python and from `alembic`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fibtrigger import FibonacciTable, SchemaNotInstalled, migrate

REPO = Path(__file__).resolve().parent.parent


def schema_objects(admin, database):
    cursor = admin.cursor()
    cursor.execute(
        "SELECT 'table', TABLE_NAME FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'fibonacci' "
        "UNION ALL SELECT 'function', ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s "
        "UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
        (database, database, database),
    )
    return sorted(cursor.fetchall())


@pytest.mark.mysql
def test_upgrade_downgrade_upgrade(empty_mysql_url, mysql_databases):
    admin = mysql_databases.admin()
    database = empty_mysql_url.database
    assert migrate.current(empty_mysql_url) is None
    with pytest.raises(SchemaNotInstalled, match="fibtrigger migrate"):
        FibonacciTable(empty_mysql_url).compute(1)

    assert migrate.upgrade(empty_mysql_url) == "0001" or migrate.current(empty_mysql_url) is not None
    installed = schema_objects(admin, database)
    assert ("table", "fibonacci") in installed and ("function", "fibcomp") in installed
    assert ("trigger", "fibonacci_before_insert") in installed
    assert FibonacciTable(empty_mysql_url).compute(10) == 55

    assert migrate.downgrade(empty_mysql_url) is None
    assert schema_objects(admin, database) == []

    migrate.upgrade(empty_mysql_url)
    assert schema_objects(admin, database) == installed
    assert FibonacciTable(empty_mysql_url).compute(20) == 6765
    admin.close()


@pytest.mark.mysql
def test_alembic_command_line_from_repo_root(empty_mysql_url):
    env = dict(os.environ, FIBTRIGGER_DATABASE_URL=empty_mysql_url.render_as_string(hide_password=False))
    alembic = [sys.executable, "-m", "alembic"]
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        done = subprocess.run(alembic + args, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert FibonacciTable(empty_mysql_url).compute(7) == 13


def test_sqlite_upgrade_downgrade_upgrade(sqlite_url):
    migrate.upgrade(sqlite_url)
    assert FibonacciTable(sqlite_url).compute(10) == 55
    assert migrate.downgrade(sqlite_url) is None
    import sqlite3

    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        names = connection.execute("SELECT name FROM sqlite_master WHERE name LIKE 'fibonacci%'").fetchall()
    assert names == []
    migrate.upgrade(sqlite_url)
    assert FibonacciTable(sqlite_url).compute(92) == 7540113804746346429
