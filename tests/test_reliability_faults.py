"""Faults in the middle of a call, on the real server: every one leaves the table consistent and the
caller with a typed error that says whether anything may have been stored.

The calls are made slow with a throwaway database whose trigger computes through ``slow_fibcomp``:
the real argument check and fibcomp, after a SLEEP. ``slow_fibcomp`` also logs each attempt in a
MyISAM table, which no rollback undoes, so a hidden retry would show up there.
"""

import threading
import time

import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import migrate
from fibtrigger.errors import (
    ConnectionLost,
    DatabaseUnreachable,
    OutcomeUnknown,
    StatementAborted,
    StatementTimeout,
)
from fibtrigger.schema import mysql
from fibtrigger.schema.objects import StoredFunction
from fibtrigger.table import FibonacciTable

pytestmark = pytest.mark.mysql

SLOW_FIBCOMP = StoredFunction(
    name="slow_fibcomp",
    parameters="fib INT",
    returns="DECIMAL(65,0)",
    characteristics="NOT DETERMINISTIC MODIFIES SQL DATA",
    body="""\
BEGIN
  DECLARE pause DOUBLE DEFAULT 0;
  INSERT INTO attempts (fib) VALUES (fib);
  SELECT IF(fib >= from_fib, seconds, 0) INTO pause FROM delay;
  DO SLEEP(pause);
  RETURN fibcomp(fib);
END""",
)


class SlowDatabase:
    def __init__(self, url, databases):
        self.url = url
        self.databases = databases
        self.admin = databases.admin(url.database)

    def reset(self, *, seconds: float, from_fib: int = 0) -> None:
        cursor = self.admin.cursor()
        cursor.execute("DELETE FROM fibonacci")
        cursor.execute("DELETE FROM attempts")
        cursor.execute("UPDATE delay SET seconds = %s, from_fib = %s", (seconds, from_fib))

    def scalar(self, sql: str):
        cursor = self.admin.cursor()
        cursor.execute(sql)
        return cursor.fetchone()[0]

    def rows(self) -> int:
        return self.scalar("SELECT COUNT(*) FROM fibonacci")

    def attempts(self) -> int:
        return self.scalar("SELECT COUNT(*) FROM attempts")

    def kill_when_sleeping(self, kind: str) -> threading.Thread:
        """In the background: wait until the trigger sleeps, then KILL CONNECTION/QUERY the inserting session."""

        def kill() -> None:
            # Its own connection: PyMySQL connections are not shared between threads.
            # INFO shows the statement inside slow_fibcomp, so the sleeping state identifies the call.
            connection = self.databases.admin()
            try:
                cursor = connection.cursor()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    cursor.execute(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND STATE = 'User sleep'",
                        (self.url.database,),
                    )
                    found = cursor.fetchall()
                    if found:
                        cursor.execute(f"KILL {kind} {found[0][0]}")
                        return
                    time.sleep(0.02)
            finally:
                connection.close()

        killer = threading.Thread(target=kill)
        killer.start()
        return killer


@pytest.fixture(scope="module")
def slow(mysql_databases):
    url = mysql_databases.create("slow")
    migrate.upgrade(url)
    slow_database = SlowDatabase(url, mysql_databases)
    cursor = slow_database.admin.cursor()
    cursor.execute("CREATE TABLE attempts (fib INT) ENGINE=MyISAM")
    cursor.execute("CREATE TABLE delay (seconds DOUBLE, from_fib INT)")
    cursor.execute("INSERT INTO delay VALUES (0, 0)")
    cursor.execute(SLOW_FIBCOMP.create_sql())
    mysql.before_insert("slow_fibcomp(NEW.fib)").replace(_DriverSql(cursor))
    yield slow_database
    slow_database.admin.close()


class _DriverSql:
    """Lets a schema object's create/replace run on a PyMySQL cursor."""

    def __init__(self, cursor):
        self.cursor = cursor

    def exec_driver_sql(self, sql: str) -> None:
        self.cursor.execute(sql)


@pytest.fixture
def table(slow):
    fibonacci_table = FibonacciTable(slow.url)
    yield fibonacci_table
    fibonacci_table.close()


def test_connection_killed_mid_insert_is_outcome_unknown_and_never_retried(slow, table):
    slow.reset(seconds=0)
    assert table.compute(5) == 5  # the pool holds a live connection
    slow.reset(seconds=5)
    killer = slow.kill_when_sleeping("CONNECTION")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown, match="may or may not have been stored") as caught:
        table.compute(7)
    killer.join()
    assert time.monotonic() - started < 4
    # Not a DatabaseUnreachable: code that retries "unreachable" must not repeat this insert.
    assert not isinstance(caught.value, DatabaseUnreachable)
    time.sleep(0.3)
    assert slow.attempts() == 1  # the facade did not send the INSERT again
    assert slow.rows() == 0  # here the server rolled back: the kill came before the end of the statement
    slow.reset(seconds=0)
    assert table.compute(8) == 21  # the same pool hands out a fresh connection
    assert slow.attempts() == 1


def test_a_read_timeout_is_outcome_unknown_and_the_row_may_indeed_be_stored(slow):
    """The client gives up, the server does not: the "may" in OutcomeUnknown is real."""
    slow.reset(seconds=1.5)
    impatient = FibonacciTable(slow.url.update_query_dict({"read_timeout": "1"}))
    try:
        with pytest.raises(OutcomeUnknown, match="may or may not have been stored"):
            impatient.compute(12)
    finally:
        impatient.close()
    deadline = time.monotonic() + 5
    while slow.rows() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow.scalar("SELECT value FROM fibonacci WHERE fib = 12") == 144  # stored after all
    assert slow.attempts() == 1  # and not sent twice


def test_connection_killed_before_commit_is_connection_lost_and_nothing_stored(slow, table):
    slow.reset(seconds=5, from_fib=30)
    killer = slow.kill_when_sleeping("CONNECTION")
    with pytest.raises(ConnectionLost, match="nothing was stored") as caught:
        table.compute_many([1, 2, 30, 4], batch_size=2)  # a transaction: the second INSERT sleeps
    killer.join()
    assert isinstance(caught.value, DatabaseUnreachable)  # nothing was stored, so retrying is safe
    assert slow.rows() == 0  # the first batch was rolled back with the connection
    assert slow.attempts() == 3
    slow.reset(seconds=0)
    assert table.compute_many([1, 2, 30, 4], batch_size=2) == [1, 1, 832040, 3]


def test_kill_query_is_a_statement_aborted_and_the_connection_stays_usable(slow, table):
    slow.reset(seconds=5)
    killer = slow.kill_when_sleeping("QUERY")
    with pytest.raises(StatementAborted, match="interrupted"):
        table.compute(9)
    killer.join()
    assert slow.rows() == 0
    slow.reset(seconds=0)
    assert table.compute(9) == 34


def _is_mariadb(slow) -> bool:
    return "mariadb" in slow.scalar("SELECT VERSION()").lower()


def test_statement_timeout_interrupts_a_slow_call_cleanly(slow):
    if not _is_mariadb(slow):
        pytest.skip("MySQL's max_execution_time applies to SELECT only; it cannot time out an INSERT")
    slow.reset(seconds=5, from_fib=30)
    limited = FibonacciTable(slow.url.update_query_dict({"init_command": "SET SESSION max_statement_time = 0.3"}))
    try:
        started = time.monotonic()
        with pytest.raises(StatementTimeout, match="max_statement_time"):
            limited.compute(30)
        assert time.monotonic() - started < 3
        # In a transaction, batches that were already inserted are rolled back too.
        with pytest.raises(StatementTimeout):
            limited.compute_many([1, 2, 3, 30], batch_size=1)
        assert slow.rows() == 0 and slow.attempts() == 1 + 4
        assert limited.compute(29) == fibonacci(29)  # fast calls still pass under the limit
    finally:
        limited.close()


def test_lock_wait_timeout_is_a_statement_aborted(slow, mysql_databases):
    slow.reset(seconds=0)
    limited = FibonacciTable(slow.url.update_query_dict({"init_command": "SET SESSION lock_wait_timeout = 1"}))
    locker = mysql_databases.admin(slow.url.database)
    try:
        locker.cursor().execute("LOCK TABLES fibonacci WRITE")  # what the backend swap holds briefly
        with pytest.raises(StatementAborted, match="Lock wait timeout"):
            limited.compute(3)
        locker.cursor().execute("UNLOCK TABLES")
        assert slow.rows() == 0
        assert limited.compute(3) == 2
    finally:
        locker.close()
        limited.close()
