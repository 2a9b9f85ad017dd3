"""Least privilege on the real server: accounts with exactly the printed grants, and nothing more.

Every account is created with a unique name and dropped at the end of the test.
"""

import uuid

import pymysql
import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import grants, migrate
from fibtrigger.backend import use_sql
from fibtrigger.cli import exit_code_of, main
from fibtrigger.doctor import head_revision
from fibtrigger.errors import FibtriggerError, PermissionDenied, SchemaNotInstalled
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
        with pytest.raises(PermissionDenied, match="fibtrigger grants --role caller") as caught:
            table.compute(5)
    finally:
        table.close()
    assert exit_code_of(caught.value) == 2 and PASSWORD not in str(caught.value)


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
