"""Every supported MySQL driver, against the real server: the facade, backend, doctor and migrate
work, and each fault becomes the same typed error whatever the driver reports it as.

The drivers come from the `drivers` extra (`make test` installs it); under CI=true a missing
one fails instead of skipping.
"""

import importlib
import os
import socket
import threading
import time

import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import backend, check, doctor, migrate
from fibtrigger.database import translated
from fibtrigger.errors import (
    AccessDenied,
    ConfigurationError,
    DatabaseNotFound,
    DatabaseUnreachable,
    Deadlock,
    InvalidArgument,
    LockWaitTimeout,
    OutcomeUnknown,
    PermissionDenied,
    ResultOutOfRange,
    SchemaNotInstalled,
    StatementTimeout,
)
from fibtrigger.schema import mysql
from fibtrigger.table import FibonacciTable, compute

pytestmark = pytest.mark.mysql

# SQLAlchemy driver name -> the module it imports.
DRIVERS = {
    "mysql+pymysql": "pymysql",
    "mysql+mysqldb": "MySQLdb",
    "mysql+mysqlconnector": "mysql.connector",
    "mariadb+mariadbconnector": "mariadb",
    "mariadb+pymysql": "pymysql",
}
SLOW_FIB = 77  # the slow database's trigger sleeps for this argument only


def require_driver(drivername: str) -> None:
    try:
        importlib.import_module(DRIVERS[drivername])
    except ImportError as error:
        reason = f"{drivername} needs the drivers extra: pip install -e '.[drivers]' ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(params=list(DRIVERS))
def drivername(request) -> str:
    require_driver(request.param)
    return request.param


@pytest.fixture
def driver_url(drivername, mysql_url, mysql_raw):
    """The migrated test database, through ``drivername``; emptied first."""
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    return mysql_url.set(drivername=drivername)


@pytest.fixture(scope="module")
def slow_url(mysql_databases):
    """A migrated database whose trigger sleeps 3 s for SLOW_FIB (through the real check and fibcomp)."""
    url = mysql_databases.create("slow")
    migrate.upgrade(url)
    admin = mysql_databases.admin(url.database)
    expression = f"fibcomp(NEW.fib) + SLEEP(IF(NEW.fib = {SLOW_FIB}, 3, 0))"
    for statement in mysql.before_insert(expression).replace_sql():
        admin.cursor().execute(statement)
    admin.close()
    return url


def test_every_call_works_on_every_driver(drivername, driver_url, mysql_raw):
    table = FibonacciTable(driver_url)
    try:
        assert table.compute(92) == fibonacci(92)
        assert table.compute(312) == fibonacci(312)
        assert table.compute_many([3, 1, 2]) == [2, 1, 1]  # one INSERT
        assert table.compute_many(range(5), batch_size=2) == [fibonacci(n) for n in range(5)]  # a transaction
        table._returning = False  # the read-back MySQL uses (no RETURNING): by id
        assert table.compute_many([10, 11], batch_size=1) == [55, 89]
        assert table.compute_many([12, 13, 14]) == [144, 233, 377]  # a block of ids from one statement
        assert table.compute(20) == 6765
        assert table.rows()[:2] == [(92, fibonacci(92)), (312, fibonacci(312))]
        assert len(table.rows()) == 16
    finally:
        table.close()
    assert compute(30, url=driver_url) == 832040
    assert backend.current_backend(driver_url) == backend.BackendState(backend.SQL)
    assert not backend.use_sql(driver_url).changed
    assert [failed for failed in doctor.diagnose(driver_url) if not failed.ok] == []
    assert check.drift(driver_url) == []
    assert migrate.current(driver_url) == doctor.head_revision()


def test_migrations_run_on_every_driver(drivername, empty_mysql_url):
    url = empty_mysql_url.set(drivername=drivername)
    assert migrate.upgrade(url) == doctor.head_revision()
    assert FibonacciTable(url).compute(7) == 13
    assert migrate.downgrade(url) is None


def test_killed_connections_are_replaced_on_every_driver(driver_url, mysql_raw):
    table = FibonacciTable(driver_url)
    try:
        assert table.compute(10) == 55
        cursor = mysql_raw.cursor()
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
            (driver_url.database,),
        )
        for (thread_id,) in cursor.fetchall():
            cursor.execute(f"KILL CONNECTION {thread_id}")
        assert table.compute(11) == 89  # no error, no retry by the caller
    finally:
        table.close()


def test_bad_arguments_the_trigger_refuses_are_typed(driver_url):
    table = FibonacciTable(driver_url)
    table.limit = 10**6  # let the arguments past the client-side check, to the trigger's SIGNAL (1644)
    try:
        with pytest.raises(ResultOutOfRange, match="got 313"):
            table.compute(313)
        with pytest.raises(ResultOutOfRange):
            table.compute_many([1, 400], batch_size=1)
        assert table.rows() == []
    finally:
        table.close()


def test_setup_errors_are_typed(driver_url, mysql_databases):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with pytest.raises(DatabaseUnreachable):
        compute(1, url=driver_url.set(port=port))
    with pytest.raises(AccessDenied, match="check the user and password"):
        compute(1, url=driver_url.set(username="fibtrigger_nobody", password="wrong"))
    with pytest.raises(DatabaseNotFound):
        compute(1, url=driver_url.set(database="fibtrigger_test_no_such_database"))
    with pytest.raises(SchemaNotInstalled):
        compute(1, url=mysql_databases.create("empty").set(drivername=driver_url.drivername))
    with pytest.raises(ConfigurationError, match="the driver refused the database URL"):
        compute(1, url=driver_url.update_query_dict({"charset": "nope"}))


# SQLSTATE, server error number, the typed error it must become.
SIGNALLED = [
    ("HY000", 1205, LockWaitTimeout),
    ("40001", 1213, Deadlock),
    ("70100", 1969, StatementTimeout),
    ("HY000", 3024, StatementTimeout),
    ("42000", 1142, PermissionDenied),
    ("42S02", 1146, SchemaNotInstalled),
    ("45000", 1644, InvalidArgument),
]


def test_server_error_numbers_are_found_whatever_the_driver(driver_url):
    """Each driver puts the number elsewhere (args[0], errno): the server sends it, SIGNAL sets it."""
    table = FibonacciTable(driver_url)
    connection = table.engine.raw_connection()
    try:
        for sqlstate, number, error in SIGNALLED:
            message = "fib must be between 0 and 312, got -1" if number == 1644 else "raised on purpose"
            with pytest.raises(error), translated(table.url, dialect=table.engine.dialect):
                connection.cursor().execute(
                    f"SIGNAL SQLSTATE '{sqlstate}' SET MYSQL_ERRNO = {number}, MESSAGE_TEXT = '{message}'"
                )
    finally:
        connection.close()
        table.close()


def test_a_lock_wait_is_typed(driver_url, mysql_databases):
    table = FibonacciTable(driver_url.update_query_dict({"init_command": "SET SESSION lock_wait_timeout = 1"}))
    locker = mysql_databases.admin(driver_url.database)
    try:
        assert table.compute(1) == 1
        locker.cursor().execute("LOCK TABLES fibonacci WRITE")
        with pytest.raises(LockWaitTimeout, match="Lock wait timeout"):
            table.compute(3)
        locker.cursor().execute("UNLOCK TABLES")
        assert table.compute(3) == 2
    finally:
        locker.close()
        table.close()


def test_a_statement_timeout_is_typed(drivername, slow_url):
    limited = slow_url.set(drivername=drivername).update_query_dict(
        {"init_command": "SET SESSION max_statement_time = 0.2"}
    )
    table = FibonacciTable(limited)
    try:
        with pytest.raises(StatementTimeout, match="max_statement_time"):
            table.compute(SLOW_FIB)
        assert table.compute(5) == 5  # the same connection carries on
    finally:
        table.close()


def test_a_connection_lost_mid_insert_is_outcome_unknown(drivername, slow_url, mysql_databases):
    table = FibonacciTable(slow_url.set(drivername=drivername))
    admin = mysql_databases.admin(slow_url.database)
    try:
        assert table.compute(4) == 3
        killer = threading.Thread(target=_kill_when_sleeping, args=(admin, slow_url.database))
        killer.start()
        with pytest.raises(OutcomeUnknown, match="may or may not have been stored") as caught:
            table.compute(SLOW_FIB)
        killer.join()
        assert not isinstance(caught.value, DatabaseUnreachable)  # code retrying "unreachable" must not retry it
        assert table.compute(6) == 8  # a fresh connection
    finally:
        admin.close()
        table.close()


def _kill_when_sleeping(admin, database: str) -> None:
    cursor = admin.cursor()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND STATE = 'User sleep'", (database,)
        )
        found = cursor.fetchone()
        if found is not None:
            cursor.execute(f"KILL CONNECTION {found[0]}")
            return
        time.sleep(0.02)
