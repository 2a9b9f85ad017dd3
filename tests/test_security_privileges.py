"""Least privilege on the real server: accounts with exactly the printed grants, and nothing more.

Every account is created with a unique name and dropped at the end of the test.
"""

import uuid

import pymysql
import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import grants, migrate, repair
from fibtrigger.backend import use_sql
from fibtrigger.cli import exit_code_of, main
from fibtrigger.database import make_engine
from fibtrigger.doctor import head_revision
from fibtrigger.errors import DuplicateKey, FibtriggerError, KeyExhausted, PermissionDenied, SchemaNotInstalled
from fibtrigger.schema import mysql
from fibtrigger.table import FibonacciTable

pytestmark = pytest.mark.mysql

PASSWORD = "Least-Priv1lege-Pa55"


class Accounts:
    """Creates uniquely named accounts on the test server; drops every one of them afterwards."""

    def __init__(self, databases):
        self.databases = databases
        self.admin = databases.admin()
        self.names: list[str] = []

    def create(self, label: str) -> str:
        name = f"ft7_{label}_{uuid.uuid4().hex[:8]}"
        self.admin.cursor().execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{PASSWORD}'")
        self.names.append(name)
        return name

    def grant_printed(self, role: str, user: str, schema: str, capsys) -> list[str]:
        """Run exactly what `fibtrigger grants` prints for the role."""
        capsys.readouterr()
        assert main(["grants", "--role", role, "--user", user, "--schema", schema]) == 0
        printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
        for statement in printed:
            if not statement.startswith("--"):
                self.admin.cursor().execute(statement)
        return printed

    def grant(self, privileges, user: str, schema: str) -> None:
        self.admin.cursor().execute(f"GRANT {', '.join(privileges)} ON `{schema}`.* TO '{user}'@'%'")

    def url(self, user: str, database_url):
        return database_url.set(username=user, password=PASSWORD)

    def connect(self, user: str, database: str):
        server = self.databases.server_url
        return pymysql.connect(
            host=server.host or "127.0.0.1", port=server.port or 3306, user=user, password=PASSWORD,
            database=database, autocommit=True,
        )

    def drop_all(self) -> None:
        for name in self.names:
            self.admin.cursor().execute(f"DROP USER IF EXISTS '{name}'@'%'")
        self.admin.close()


@pytest.fixture
def accounts(mysql_databases):
    made = Accounts(mysql_databases)
    yield made
    made.drop_all()


def denied(cursor, statement: str) -> int:
    """The error code the server answers ``statement`` with; fails if it is allowed."""
    with pytest.raises(pymysql.err.MySQLError) as caught:
        cursor.execute(statement)
    return caught.value.args[0]


def test_migrator_with_the_printed_grants_upgrades_and_downgrades(accounts, mysql_databases, capsys):
    url = mysql_databases.create("mig")
    migrator = accounts.create("mig")
    printed = accounts.grant_printed("migrator", migrator, url.database, capsys)
    assert printed == [
        f"GRANT {', '.join(grants.MIGRATOR_PRIVILEGES)} ON `{url.database}`.* TO '{migrator}'@'%';"
    ]
    as_migrator = accounts.url(migrator, url)
    assert migrate.upgrade(as_migrator) == head_revision()
    admin = mysql_databases.admin(url.database).cursor()
    admin.execute("SELECT DISTINCT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
    assert admin.fetchall() == ((f"{migrator}@%",),)  # so the triggers run with the migrator's rights
    assert migrate.downgrade(as_migrator) is None
    admin.execute("SHOW TABLES")
    assert [name for (name,) in admin.fetchall()] == ["alembic_version"]
    admin.execute("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()")
    assert admin.fetchone()[0] == 0
    assert migrate.upgrade(as_migrator) == head_revision()


@pytest.fixture
def caller_setup(accounts, mysql_databases, capsys):
    """A schema installed by a migrator account, and a caller with only the printed caller grants."""
    url = mysql_databases.create("caller")
    other = mysql_databases.create("other")
    mysql_databases.admin(other.database).cursor().execute("CREATE TABLE secrets (s TEXT)")
    migrator = accounts.create("mig")
    accounts.grant_printed("migrator", migrator, url.database, capsys)
    migrate.upgrade(accounts.url(migrator, url))
    caller = accounts.create("call")
    printed = accounts.grant_printed("caller", caller, url.database, capsys)
    assert printed == [f"GRANT INSERT, SELECT ON `{url.database}`.`fibonacci` TO '{caller}'@'%';"]
    return url, other, migrator, caller


def test_caller_computes_and_inserts_without_execute_on_fibcomp(accounts, caller_setup):
    url, _, _, caller = caller_setup
    cursor = accounts.connect(caller, url.database).cursor()
    # The caller really lacks EXECUTE: calling fibcomp itself is refused ...
    assert denied(cursor, "SELECT fibcomp(10)") == 1370
    # ... yet the trigger computes, because it and fibcomp run as their definer.
    table = FibonacciTable(accounts.url(caller, url))
    try:
        assert table.compute(10) == 55
        assert table.compute(312) == fibonacci(312)
        assert table.compute_many(range(40), batch_size=16) == [fibonacci(n) for n in range(40)]
    finally:
        table.close()
    cursor.execute("INSERT INTO fibonacci VALUES (50, null)")
    cursor.execute("SELECT fib, value FROM fibonacci")
    rows = [(fib, int(value)) for fib, value in cursor.fetchall()]
    assert rows == [(n, fibonacci(n)) for n in [10, 312, *range(40), 50]]


def test_caller_cannot_change_the_schema_or_read_elsewhere(accounts, caller_setup):
    url, other, _, caller = caller_setup
    cursor = accounts.connect(caller, url.database).cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (10, null)")
    refused = {
        "UPDATE fibonacci SET value = 1": 1142,
        "UPDATE fibonacci SET fib = 11": 1142,
        "DELETE FROM fibonacci": 1142,
        "TRUNCATE TABLE fibonacci": 1142,
        "DROP TABLE fibonacci": 1142,
        "ALTER TABLE fibonacci ADD COLUMN x INT": 1142,
        "DROP TRIGGER fibonacci_before_insert": 1142,
        "CREATE TRIGGER t BEFORE INSERT ON fibonacci FOR EACH ROW SET NEW.value = 1": 1142,
        "DROP FUNCTION fibcomp": 1370,
        "ALTER FUNCTION fibcomp COMMENT 'x'": 1370,
        "CREATE FUNCTION f() RETURNS INT RETURN 1": 1044,
        "CREATE PROCEDURE p() SELECT 1": 1044,
        "CREATE TABLE t (a INT)": 1142,
        "CREATE TEMPORARY TABLE t (a INT)": 1044,
        "LOCK TABLES fibonacci WRITE": 1044,
        "SELECT * FROM alembic_version": 1142,
        f"SELECT * FROM `{other.database}`.secrets": 1142,
        "SELECT * FROM mysql.user": 1142,
        # The caller cannot point the Lambda backend's function at an ARN of its choosing.
        f"SELECT {mysql.LAMBDA_FUNCTION_NAME}('arn:aws:lambda:us-east-1:123456789012:function:x', 1)": 1370,
    }
    answers = {statement: denied(cursor, statement) for statement in refused}
    assert answers == refused
    cursor.execute("SHOW DATABASES")
    assert sorted(name for (name,) in cursor.fetchall()) == sorted(["information_schema", url.database])
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(fib, int(value)) for fib, value in cursor.fetchall()] == [(10, 55)]


def test_even_an_account_allowed_to_update_cannot_store_a_wrong_value(accounts, caller_setup):
    url, _, migrator, _ = caller_setup
    cursor = accounts.connect(migrator, url.database).cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (10, null)")
    cursor.execute("UPDATE fibonacci SET value = 42")
    cursor.execute("UPDATE fibonacci SET value = NULL")
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(fib, int(value)) for fib, value in cursor.fetchall()] == [(10, 55)]


def test_a_missing_grant_is_a_typed_error_naming_the_fix(accounts, caller_setup):
    url, _, _, _ = caller_setup
    insert_only = accounts.create("ins")
    accounts.admin.cursor().execute(f"GRANT INSERT ON `{url.database}`.`fibonacci` TO '{insert_only}'@'%'")
    table = FibonacciTable(accounts.url(insert_only, url))
    try:
        with pytest.raises(PermissionDenied, match="fibtrigger grants --role ") as caught:
            table.compute(5)
    finally:
        table.close()
    assert exit_code_of(caught.value) == 2 and PASSWORD not in str(caught.value)
    assert all(role in str(caught.value) for role in grants.ROLES)  # the worker's account finds its own


# --- every printed migrator privilege is needed ------------------------------------------


def _take_over(as_migrator, as_caller, admin) -> None:
    """What a migrator does to a schema an administrator installed: every printed privilege is used.

    The administrator (root) created fibcomp, so the automatic per-routine grants a creator gets
    do not hide a missing ALTER ROUTINE or EXECUTE here.
    """
    edited = mysql.before_insert(f"{mysql.SQL_COMPUTE} + 0")  # a hand-edited trigger
    admin.execute(edited.drop_sql())
    admin.execute(edited.create_sql())
    use_sql(as_migrator)  # reinstalls the triggers under LOCK TABLES; the migrator becomes their definer
    table = FibonacciTable(as_caller)
    try:
        assert table.compute(30) == fibonacci(30)  # the trigger runs fibcomp as the migrator
    finally:
        table.close()
    admin.execute(f"ALTER TABLE fibonacci AUTO_INCREMENT = {mysql.ID_MAX}")
    repair.repair(as_migrator)  # renumbers the hidden ids: ALTER
    assert migrate.downgrade(as_migrator) is None
    assert migrate.upgrade(as_migrator) == head_revision()


@pytest.mark.parametrize("missing", [None, *grants.MIGRATOR_PRIVILEGES])
def test_every_migrator_privilege_is_needed(accounts, mysql_databases, capsys, missing):
    url = mysql_databases.create("min")
    admin = mysql_databases.admin(url.database).cursor()
    migrate.upgrade(url)
    caller = accounts.create("call")
    accounts.grant_printed("caller", caller, url.database, capsys)
    migrator = accounts.create("mig")
    accounts.grant([p for p in grants.MIGRATOR_PRIVILEGES if p != missing], migrator, url.database)
    if missing is None:
        _take_over(accounts.url(migrator, url), accounts.url(caller, url), admin)
    else:
        with pytest.raises(FibtriggerError) as caught:
            _take_over(accounts.url(migrator, url), accounts.url(caller, url), admin)
        # Without TRIGGER the account cannot even see the triggers (information_schema hides them).
        expected = (PermissionDenied, SchemaNotInstalled) if missing == "TRIGGER" else PermissionDenied
        assert isinstance(caught.value, expected), caught.value


# --- the hidden id: no caller can write it, and a damaged counter is typed, diagnosed and repaired ---


def test_no_account_can_write_the_hidden_id(accounts, caller_setup):
    url, _, migrator, caller = caller_setup
    cursor = accounts.connect(caller, url.database).cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (10, null)")  # the seed's form keeps working
    cursor.execute("SELECT LAST_INSERT_ID()")
    next_id = cursor.fetchone()[0] + 1
    for statement in (
        f"INSERT INTO fibonacci (id, fib) VALUES ({mysql.ID_MAX}, 1)",
        f"INSERT INTO fibonacci (id, fib) VALUES ({next_id}, 1)",
        f"INSERT INTO fibonacci (fib, id) VALUES (1, {next_id + 1}), (2, NULL)",
        f"SET insert_id = {mysql.ID_MAX - 1}; INSERT INTO fibonacci VALUES (1, null)",
        f"SET insert_id = {mysql.ID_ALARM + 1}; INSERT INTO fibonacci (fib) VALUES (1), (2)",
    ):
        with pytest.raises(pymysql.err.OperationalError) as caught:
            for part in statement.split("; "):
                cursor.execute(part)
        assert caught.value.args == (1644, mysql.ID_MESSAGE), statement
    cursor.execute("SET insert_id = 0")
    assert denied(cursor, f"REPLACE INTO fibonacci (id, fib) VALUES ({next_id}, 1)") == 1142  # needs DELETE
    migrator_cursor = accounts.connect(migrator, url.database).cursor()
    for statement in (
        f"REPLACE INTO fibonacci (id, fib) VALUES ({mysql.ID_MAX}, 1)",
        f"UPDATE fibonacci SET id = {mysql.ID_MAX}",
    ):
        with pytest.raises(pymysql.err.OperationalError, match=mysql.ID_MESSAGE):
            migrator_cursor.execute(statement)
    table = FibonacciTable(accounts.url(caller, url))
    try:
        assert table.compute_many([5, 6]) == [5, 8]
    finally:
        table.close()
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(fib, int(value)) for fib, value in cursor.fetchall()] == [(10, 55), (5, 5), (6, 8)]


def _doctor_line(capsys, url, name: str) -> str:
    capsys.readouterr()
    main(["--database-url", url.render_as_string(hide_password=False), "doctor"])
    return next(line for line in capsys.readouterr().out.splitlines() if f" {name}:" in line)


def test_an_exhausted_id_is_typed_diagnosed_and_repaired(accounts, caller_setup, mysql_databases, capsys):
    url, _, migrator, caller = caller_setup
    as_caller, as_migrator = accounts.url(caller, url), accounts.url(migrator, url)
    table = FibonacciTable(as_caller)
    try:
        assert table.compute_many([1, 2, 3]) == [1, 1, 2]
        assert _doctor_line(capsys, as_migrator, "hidden id").startswith("ok   hidden id: next id ")
        # The state an explicit id of 2^64 - 2 left behind before the triggers refused it.
        mysql_databases.admin(url.database).cursor().execute(f"ALTER TABLE fibonacci AUTO_INCREMENT = {mysql.ID_MAX}")
        with pytest.raises(KeyExhausted, match="fibtrigger migrate --repair") as caught:
            table.compute(4)
        assert exit_code_of(caught.value) == 1
        line = _doctor_line(capsys, as_migrator, "hidden id")
        assert line.startswith("FAIL hidden id:") and "exhausted" in line
        assert line.endswith("-> run `fibtrigger migrate --repair` (on MySQL, as the migrator)")
        assert main(["--database-url", as_migrator.render_as_string(hide_password=False), "migrate", "--repair"]) == 0
        assert "hidden ids renumbered" in capsys.readouterr().out
        assert _doctor_line(capsys, as_migrator, "hidden id").startswith("ok   hidden id: next id ")
        assert table.compute(5) == 5
        assert table.rows() == [(1, 1), (2, 1), (3, 2), (5, 5)]  # every row, in order
    finally:
        table.close()


def test_a_taken_id_is_a_typed_error(caller_setup, accounts):
    url, _, _, caller = caller_setup
    engine = make_engine(accounts.url(caller, url), pool_size=1)
    table = FibonacciTable(engine=engine)
    try:
        table.compute(1)
        # Other code on the same engine left `insert_id` pointing at a taken id.
        with engine.connect() as connection:
            connection.exec_driver_sql("SET insert_id = LAST_INSERT_ID()")
        with pytest.raises(DuplicateKey, match="nothing was stored"):
            table.compute(2)
        assert table.rows() == [(1, 1)]
    finally:
        engine.dispose()
