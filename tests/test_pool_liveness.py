"""Connections are checked before reuse without a round trip, dead ones are replaced, and a table's
own connections are kept between calls (an engine passed in is left as it was found)."""

import os
import socket

import pytest
from sqlalchemy import event

from conftest import count_rows
from fibtrigger import idle_connections, liveness
from fibtrigger.database import make_engine
from fibtrigger.errors import ResultOutOfRange
from fibtrigger.table import FibonacciTable

pytestmark = pytest.mark.mysql


@pytest.fixture(params=["own engine", "engine passed in"])
def table(request, mysql_url, mysql_raw):
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    engine = make_engine(mysql_url) if request.param == "engine passed in" else None
    fibonacci_table = FibonacciTable(mysql_url, engine=engine) if engine else FibonacciTable(mysql_url)
    yield fibonacci_table
    fibonacci_table.close()


@pytest.fixture
def passed_engine_table(mysql_url, mysql_raw):
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    fibonacci_table = FibonacciTable(engine=make_engine(mysql_url))
    yield fibonacci_table
    fibonacci_table.close()


def server_connections(admin, database: str) -> list[int]:
    """The server's ids of every connection to ``database`` other than ``admin``'s own."""
    cursor = admin.cursor()
    cursor.execute(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()", (database,)
    )
    return sorted(row[0] for row in cursor.fetchall())


def test_killed_connections_are_replaced(table, mysql_raw, mysql_url):
    assert table.compute(10) == 55
    killed = server_connections(mysql_raw, mysql_url.database)
    assert killed
    for thread_id in killed:
        mysql_raw.cursor().execute(f"KILL CONNECTION {thread_id}")
    # No sleep and no retry in the caller: the next calls just work.
    assert table.compute(11) == 89
    assert table.compute_many([1, 2, 3], batch_size=2) == [1, 1, 2]
    assert set(server_connections(mysql_raw, mysql_url.database)).isdisjoint(killed)
    assert count_rows(mysql_raw) == 5


def test_a_table_reuses_one_connection_for_sequential_calls(mysql_table, mysql_raw, mysql_url):
    others = set(server_connections(mysql_raw, mysql_url.database))  # the fixtures' own
    for n in range(20):
        mysql_table.compute(n)
    mysql_table.compute_many(range(30), batch_size=7)
    assert len(set(server_connections(mysql_raw, mysql_url.database)) - others) == 1
    assert mysql_table.engine.pool.checkedout() == 1  # kept checked out between calls
    mysql_table.close()
    assert mysql_table.engine.pool.checkedout() == 0


def test_an_engine_passed_in_has_nothing_checked_out_between_calls(passed_engine_table):
    passed_engine_table.compute(5)
    passed_engine_table.compute_many([1, 2, 3], batch_size=2)
    assert passed_engine_table.rows() == [(5, 5), (1, 1), (2, 1), (3, 2)]
    assert passed_engine_table.engine.pool.checkedout() == 0


def test_kept_connections_go_back_through_the_pool_after_their_lease(mysql_table, monkeypatch):
    mysql_table.compute(1)
    returned = []
    monkeypatch.setattr(idle_connections, "LEASE_SECONDS", -1.0)  # every lease has expired
    event.listen(mysql_table.engine, "checkin", lambda *_: returned.append(1))
    assert mysql_table.compute(12) == 144
    assert returned  # the expired one went back to the pool before a fresh checkout


def test_a_failed_transaction_does_not_keep_its_connection(mysql_table, mysql_raw, mysql_url):
    # With the client-side limit raised, 313 reaches the trigger, which refuses it mid-transaction.
    mysql_table.limit = 313
    with pytest.raises(ResultOutOfRange, match="got 313"):
        mysql_table.compute_many([1, 2, 313], batch_size=1)
    mysql_table.limit = 312
    assert mysql_table.engine.pool.checkedout() == 0
    assert count_rows(mysql_raw) == 0


def test_a_connection_the_driver_closed_is_replaced(passed_engine_table):
    passed_engine_table.compute(1)
    connection = passed_engine_table.engine.raw_connection()
    closed_id = connection.dbapi_connection.thread_id()
    connection.dbapi_connection.close()  # what PyMySQL does to its socket after a network error
    connection.close()  # back into the pool, closed
    assert passed_engine_table.compute(12) == 144
    connection = passed_engine_table.engine.raw_connection()
    assert connection.dbapi_connection.thread_id() != closed_id
    connection.close()


def test_long_idle_connections_are_pinged(table, monkeypatch, mysql_raw, mysql_url):
    table.compute(1)
    before = server_connections(mysql_raw, mysql_url.database)
    monkeypatch.setattr(liveness, "IDLE_PING_SECONDS", -1.0)
    assert table.compute(13) == 233
    # The ping found the connection alive, so it was kept.
    assert server_connections(mysql_raw, mysql_url.database) == before


def test_a_ping_that_fails_replaces_the_connection(passed_engine_table, monkeypatch):
    passed_engine_table.compute(1)
    connection = passed_engine_table.engine.raw_connection()
    before = connection.dbapi_connection.thread_id()
    monkeypatch.setattr(liveness, "IDLE_PING_SECONDS", -1.0)
    # A socket that looks idle but whose ping fails: a connection a middlebox dropped silently.
    monkeypatch.setattr(liveness, "_readable", lambda fd: False)
    fd = liveness.socket_descriptor(passed_engine_table.engine, connection.dbapi_connection, connection.info)
    with socket.socket(fileno=os.dup(fd)) as same_socket:
        same_socket.shutdown(socket.SHUT_RDWR)  # the ping's write now fails
    connection.close()
    assert passed_engine_table.compute(14) == 377
    connection = passed_engine_table.engine.raw_connection()
    assert connection.dbapi_connection.thread_id() != before
    connection.close()
