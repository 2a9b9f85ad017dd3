"""Pooled connections are checked at checkout without a round trip, and dead ones are replaced."""

import socket

import pytest

from conftest import count_rows
from fibtrigger import liveness
from fibtrigger.table import FibonacciTable

pytestmark = pytest.mark.mysql


def pooled_thread_ids(table: FibonacciTable, count: int) -> list[int]:
    """Check out ``count`` connections at once (so they are distinct), return their server ids."""
    connections = [table.engine.raw_connection() for _ in range(count)]
    try:
        return [connection.dbapi_connection.thread_id() for connection in connections]
    finally:
        for connection in connections:
            connection.close()


def test_killed_connections_are_replaced_at_checkout(mysql_table, mysql_raw):
    assert mysql_table.compute(10) == 55
    killed = pooled_thread_ids(mysql_table, 3)
    for thread_id in killed:
        mysql_raw.cursor().execute(f"KILL CONNECTION {thread_id}")
    # No sleep and no retry in the caller: the next calls just work.
    assert mysql_table.compute(11) == 89
    assert mysql_table.compute_many([1, 2, 3], batch_size=2) == [1, 1, 2]
    assert set(pooled_thread_ids(mysql_table, 3)).isdisjoint(killed)
    assert count_rows(mysql_raw) == 5


def test_a_connection_the_driver_closed_is_replaced(mysql_table):
    mysql_table.compute(1)
    connection = mysql_table.engine.raw_connection()
    closed_id = connection.dbapi_connection.thread_id()
    connection.dbapi_connection.close()  # what PyMySQL does to its socket after a network error
    connection.close()  # back into the pool, closed
    assert mysql_table.compute(12) == 144
    assert closed_id not in pooled_thread_ids(mysql_table, 1)


def test_long_idle_connections_are_pinged(mysql_table, monkeypatch):
    mysql_table.compute(1)
    before = pooled_thread_ids(mysql_table, 1)
    monkeypatch.setattr(liveness, "IDLE_PING_SECONDS", 0.0)
    assert mysql_table.compute(13) == 233
    # The ping found the connection alive, so the pool kept it.
    assert pooled_thread_ids(mysql_table, 1) == before


def test_a_ping_that_fails_replaces_the_connection(mysql_table, monkeypatch):
    mysql_table.compute(1)
    [before] = pooled_thread_ids(mysql_table, 1)
    monkeypatch.setattr(liveness, "IDLE_PING_SECONDS", 0.0)
    # A socket that looks idle but whose ping fails: a connection a middlebox dropped silently.
    monkeypatch.setattr(liveness, "_readable", lambda sock: False)
    connection = mysql_table.engine.raw_connection()
    connection.dbapi_connection._sock.shutdown(socket.SHUT_RDWR)  # the ping's write now fails
    connection.close()
    assert mysql_table.compute(14) == 377
    assert pooled_thread_ids(mysql_table, 1) != [before]
