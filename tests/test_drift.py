"""Drift: hand edits on the server are found by `alembic check`, `fibtrigger check` and doctor,
`alembic revision --autogenerate` writes the operations that undo them, and equal definitions
that the server or a person spelled differently are not drift."""

import json
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest

from fibtrigger import check, doctor, migrate
from fibtrigger.backend import LAMBDA, BackendState, triggers_for
from fibtrigger.cli import main
from fibtrigger.schema import mysql
from fibtrigger.schema.canonical import canonical_sql, canonical_type
from test_alembic_offline import REPO, alembic, plain

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fibtrigger"


@pytest.fixture
def migrated(mysql_databases):
    url = mysql_databases.create("drift")
    migrate.upgrade(url)
    admin = mysql_databases.admin(url.database)
    yield url, admin.cursor()
    admin.close()


def replace(cursor, obj) -> None:
    cursor.execute(obj.drop_sql())
    cursor.execute(obj.create_sql())


def labels(url) -> list[str]:
    return [f"{drift.label} {drift.change}" for drift in check.drift(url)]


def alembic_project(tmp_path):
    """A copy of the migrations with the repository's alembic.ini: autogenerate writes its revision there."""
    shutil.copytree(REPO / "migrations", tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "alembic.ini", tmp_path / "alembic.ini")
    return str(tmp_path / "alembic.ini")


def autogenerate(ini: str, url, message: str) -> str:
    """`alembic revision --autogenerate` into the copy; the upgrade() of the revision it writes."""
    done = alembic("-c", ini, "-x", f"url={plain(url)}", "revision", "--autogenerate", "-m", message, "--rev-id=0099")
    assert done.returncode == 0, done.stderr
    (written,) = (Path(ini).parent / "migrations" / "versions").glob("0099_*.py")
    return written.read_text().split("def upgrade")[1].split("def downgrade")[0]


def test_canonical_form_ignores_spelling_only():
    spelled = "BEGIN  -- why\n  SET x = a*b; /* note */\nEND;"
    assert canonical_sql(spelled) == canonical_sql("begin set `X` = a * b; end")
    assert canonical_sql("SET x = 'It''s'") != canonical_sql("SET x = 'it''s'")  # literals keep their case
    assert canonical_type("int(11)") == canonical_type("INT") == "int"
    assert canonical_type("DECIMAL(65, 0)") == canonical_type("decimal(65,0)")


@pytest.mark.mysql
def test_in_sync_database_checks_clean_and_autogenerates_an_empty_migration(migrated, tmp_path, capsys):
    url, _ = migrated
    assert check.drift(url) == []
    assert main(["--database-url", plain(url), "check"]) == 0
    assert "in sync" in capsys.readouterr().out
    ini = alembic_project(tmp_path)
    assert alembic("-x", f"url={plain(url)}", "check").returncode == 0
    assert "op." not in autogenerate(ini, url, "nothing")
    assert {c.name: c.ok for c in doctor.diagnose(url)}["drift"] is True


@pytest.mark.mysql
def test_reformatted_definitions_are_not_drift(migrated):
    url, cursor = migrated
    lines = mysql.FIBCOMP.body.splitlines()
    body = "\n".join(f"  {line.strip().lower()}   -- re-indented, lowercased, commented" for line in lines)
    cursor.execute(mysql.FIBCOMP.drop_sql())
    cursor.execute(f"CREATE FUNCTION `fibcomp`(`fib` int(11)) RETURNS decimal(65, 0) NO SQL DETERMINISTIC\n{body}")
    insert = mysql.before_insert()
    cursor.execute(insert.drop_sql())
    cursor.execute(f"create trigger {insert.name} before insert on fibonacci for each row\n/* kept */ {insert.body}")
    assert check.drift(url) == []
    cursor.execute("INSERT INTO fibonacci (fib) VALUES (90)")


@pytest.mark.mysql
def test_triggers_on_the_lambda_backend_are_not_drift_and_are_compared_as_such(migrated):
    url, cursor = migrated
    for trigger in triggers_for(BackendState(LAMBDA, ARN)):
        replace(cursor, trigger)
    assert check.drift(url) == []
    edited = mysql.before_update(mysql.lambda_compute(ARN) + " + 1")
    replace(cursor, edited)
    (drift,) = check.drift(url)
    assert drift.label == "trigger fibonacci_before_update" and drift.change == "differs"
    assert f"-  SET NEW.value = fiblambda('{ARN}', NEW.fib);" in drift.diff()
    assert f"+  SET NEW.value = fiblambda('{ARN}', NEW.fib) + 1;" in drift.diff()


@pytest.mark.mysql
def test_hand_edits_are_drift_and_autogenerate_restores_them(migrated, tmp_path, capsys):
    url, cursor = migrated
    cursor.execute(mysql.FIBCOMP.drop_sql())
    cursor.execute("CREATE FUNCTION fibcomp(fib INT) RETURNS DECIMAL(65,0) DETERMINISTIC NO SQL RETURN 42")
    cursor.execute(mysql.before_update().drop_sql())
    replace(cursor, mysql.before_insert("fibcomp(NEW.fib) + 1"))
    cursor.execute(mysql.FIBLAMBDA.drop_sql())
    cursor.execute("ALTER TABLE fibonacci MODIFY value DECIMAL(30,0) NOT NULL")
    cursor.execute("CREATE TRIGGER fibonacci_audit AFTER INSERT ON fibonacci FOR EACH ROW SET @last = NEW.fib")

    expected = [
        "function fibcomp differs",
        "function fiblambda missing",
        "trigger fibonacci_before_insert differs",
        "trigger fibonacci_before_update missing",
        "trigger fibonacci_audit undeclared",
        "column fibonacci.value differs",
    ]
    assert labels(url) == expected

    assert main(["--database-url", plain(url), "check"]) == 1
    out = capsys.readouterr().out
    assert "drift: function fibcomp differs\n--- declared function fibcomp\n+++ live function fibcomp\n" in out
    assert "+RETURN 42" in out and "-value DECIMAL(65, 0) NULL\n+value DECIMAL(30, 0) NOT NULL" in out
    assert main(["--database-url", plain(url), "check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["in_sync"] is False
    assert [f"{d['kind']} {d['name']} {d['change']}" for d in report["drifts"]] == expected
    failed = {c.name: c for c in doctor.diagnose(url) if not c.ok}
    assert "function fibcomp differs" in failed["drift"].detail

    failed = alembic("-x", f"url={plain(url)}", "check")
    assert failed.returncode != 0 and "('replace_object', 'function fibcomp')" in failed.stderr

    ini = alembic_project(tmp_path)
    upgrade = autogenerate(ini, url, "restore")
    for call in ("op.replace_object(", "op.create_object(", "op.drop_object(", "op.alter_column("):
        assert call in upgrade
    done = alembic("-c", ini, "-x", f"url={plain(url)}", "upgrade", "head")
    assert done.returncode == 0, done.stderr
    assert alembic("-c", ini, "-x", f"url={plain(url)}", "check").returncode == 0
    cursor.execute("INSERT INTO fibonacci (fib) VALUES (312)")


@pytest.mark.mysql
def test_check_is_a_setup_error_before_migrate(empty_mysql_url, capsys):
    assert main(["--database-url", plain(empty_mysql_url), "check"]) == 2
    assert "run `fibtrigger migrate` first" in capsys.readouterr().err
    assert main(["--database-url", "mysql+pymysql://nobody@127.0.0.1:1/x", "check", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["in_sync"] is None


@pytest.mark.mysql
def test_an_account_that_cannot_read_the_bodies_gets_a_setup_error(migrated, mysql_databases, capsys):
    from test_security_privileges import Accounts

    url, _ = migrated
    accounts = Accounts(mysql_databases)
    try:
        migrator = accounts.create("chk")
        accounts.grant_printed("migrator", migrator, url.database, capsys)
        assert main(["--database-url", plain(accounts.url(migrator, url)), "check"]) == 2
        assert "cannot read the definition of function fibcomp" in capsys.readouterr().err
    finally:
        accounts.drop_all()


def test_sqlite_triggers_are_compared_too(sqlite_url):
    migrate.upgrade(sqlite_url)
    assert check.drift(sqlite_url) == []
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TRIGGER fibonacci_check_update")
        connection.execute(
            "CREATE TRIGGER fibonacci_fill_insert2 AFTER INSERT ON fibonacci FOR EACH ROW BEGIN SELECT 1; END"
        )
    assert labels(sqlite_url) == ["trigger fibonacci_check_update missing", "trigger fibonacci_fill_insert2 undeclared"]


def test_rendered_operations_rebuild_the_same_objects():
    """What autogenerate writes into a migration, run as Python, gives back every declared object."""
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops

    import fibtrigger.schema.objects as objects
    from fibtrigger.schema import sqlite
    from fibtrigger.schema.operations import CreateObjectOp

    declared = mysql.HEAD_OBJECTS + triggers_for(BackendState(LAMBDA, ARN)) + sqlite.OBJECTS
    code = render_python_code(ops.UpgradeOps(ops=[CreateObjectOp(item) for item in declared]))
    rebuilt = []

    class Recorder:
        def create_object(self, target):
            rebuilt.append(target)

    # Alembic indents the body for the template's upgrade(); its first line comes unindented.
    exec(textwrap.dedent("    " + code), {**vars(objects), "op": Recorder()})
    assert rebuilt == list(declared)
