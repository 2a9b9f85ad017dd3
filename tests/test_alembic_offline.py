"""Offline migrations and `alembic -x url=`, driven from outside: the alembic CLI, the mariadb client.

A DBA runs `alembic upgrade head --sql > upgrade.sql`, reviews it, and applies
it with `mariadb DBNAME < upgrade.sql`; that must leave a database fibtrigger
calls healthy. The downgrade script must remove every object again.
"""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

import fibtrigger.schema.operations  # noqa: F401  (registers op.swap_backend)
from fibtrigger import backend, doctor, migrate
from fibtrigger.backend import BackendState
from fibtrigger.cli import main

REPO = Path(__file__).resolve().parent.parent
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fibtrigger"

pytestmark = pytest.mark.mysql


def alembic(*args: str, env_url: str | None = None) -> subprocess.CompletedProcess:
    """The real alembic CLI from the repository root, where alembic.ini is."""
    env = {key: value for key, value in os.environ.items() if key != "FIBTRIGGER_DATABASE_URL"}
    if env_url is not None:
        env["FIBTRIGGER_DATABASE_URL"] = env_url
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def mariadb_client(url, script: str) -> subprocess.CompletedProcess:
    """`mariadb DBNAME < script.sql` with the stock client (the password, if any, through MYSQL_PWD)."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.skip("no mariadb/mysql client installed")
    env = dict(os.environ, MYSQL_PWD=url.password or "")
    command = [client, "-h", url.host or "127.0.0.1", "-P", str(url.port or 3306), "-u", url.username or "root"]
    return subprocess.run(
        [*command, url.database], input=script, env=env, capture_output=True, text=True, timeout=120
    )


def plain(url) -> str:
    return url.render_as_string(hide_password=False)


def schema_contents(admin) -> tuple[list, int]:
    cursor = admin.cursor()
    cursor.execute(
        "SELECT 'table', TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "UNION ALL SELECT 'routine', ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() "
        "UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
    )
    objects = sorted(cursor.fetchall())
    cursor.execute("SELECT COUNT(*) FROM alembic_version")
    return objects, cursor.fetchone()[0]


def test_upgrade_script_applies_with_the_mariadb_client_and_downgrade_script_removes_everything(
    empty_mysql_url, mysql_databases
):
    upgrade = alembic("-x", f"url={plain(empty_mysql_url)}", "upgrade", "head", "--sql")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "DELIMITER ;;" in upgrade.stdout and "INFO" not in upgrade.stdout
    assert migrate.current(empty_mysql_url) is None  # --sql never touched the database

    applied = mariadb_client(empty_mysql_url, upgrade.stdout)
    assert applied.returncode == 0, applied.stderr
    admin = mysql_databases.admin(empty_mysql_url.database)
    cursor = admin.cursor()
    cursor.execute("INSERT INTO fibonacci (fib) VALUES (0), (10), (92), (312)")
    cursor.execute("SELECT fib, value FROM fibonacci ORDER BY fib")
    assert [(fib, int(value)) for fib, value in cursor.fetchall()] == [
        (0, 0),
        (10, 55),
        (92, 7540113804746346429),
        (312, 71558092601766452430641106302905217344934236440122960529002115744),
    ]
    checks = doctor.diagnose(empty_mysql_url)
    assert all(check.ok for check in checks), [check for check in checks if not check.ok]

    downgrade = alembic("-x", f"url={plain(empty_mysql_url)}", "downgrade", "head:base", "--sql")
    assert downgrade.returncode == 0, downgrade.stderr
    applied = mariadb_client(empty_mysql_url, downgrade.stdout)
    assert applied.returncode == 0, applied.stderr
    # Like an online `alembic downgrade base`, only Alembic's own, now empty, version table stays.
    assert schema_contents(admin) == ([("table", "alembic_version")], 0)
    admin.close()


def test_offline_swap_backend_writes_the_target_triggers(mysql_databases):
    url = mysql_databases.create("offswap")
    migrate.upgrade(url)
    script = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="mariadb", opts={"as_sql": True, "output_buffer": script, "literal_binds": True}
    )
    Operations(context).swap_backend("lambda", function_arn=ARN)
    assert script.getvalue().startswith(
        "SET SESSION lock_wait_timeout = 60;\n\nLOCK TABLES fibonacci WRITE, fibtrigger_settings WRITE;"
    )
    applied = mariadb_client(url, script.getvalue())
    assert applied.returncode == 0, applied.stderr
    assert backend.current_backend(url) == BackendState("lambda", ARN)


def test_x_url_overrides_the_environment_for_every_command(empty_mysql_url, tmp_path):
    decoy = tmp_path / "decoy.db"
    decoy_url = f"sqlite:///{decoy}"
    for args in (["upgrade", "head"], ["check"], ["current"]):
        done = alembic("-x", f"url={plain(empty_mysql_url)}", *args, env_url=decoy_url)
        assert done.returncode == 0, (args, done.stderr)
    assert f"{doctor.head_revision()} (head)" in done.stdout
    assert not decoy.exists()
    missing = empty_mysql_url.set(database=f"{empty_mysql_url.database}_missing")
    unknown = alembic("-x", f"url={plain(missing)}", "current")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr, unknown.stderr
    assert f"database '{missing.database}' does not exist" in unknown.stderr
    assert migrate.current(empty_mysql_url) == doctor.head_revision()
    bad = alembic("-x", "url=not-a-url", "current")
    assert bad.returncode != 0 and "-x url is not a database URL" in bad.stderr and "Traceback" not in bad.stderr
    typo = alembic("-x", f"uri={plain(empty_mysql_url)}", "upgrade", "head", env_url=decoy_url)
    assert typo.returncode != 0 and "unknown -x uri" in typo.stderr and "Traceback" not in typo.stderr
    assert not decoy.exists()


def test_migrate_sql_is_the_python_twin(empty_mysql_url, capsys):
    script = migrate.upgrade_sql(empty_mysql_url)
    assert script == alembic("-x", f"url={plain(empty_mysql_url)}", "upgrade", "head", "--sql").stdout
    assert main(["--database-url", plain(empty_mysql_url), "migrate", "--sql"]) == 0
    assert capsys.readouterr().out == script
    assert migrate.current(empty_mysql_url) is None
    assert "DROP FUNCTION IF EXISTS fibcomp;" in migrate.downgrade_sql(empty_mysql_url)
