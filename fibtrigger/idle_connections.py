"""Connections a FibonacciTable keeps checked out between its calls.

SQLAlchemy's pool checkout and check-in are a large share of a ``compute()``
(benchmarks/, row 2). A table that made its own engine keeps
the connections it used on a LIFO stack instead, still checked out of that
engine's pool, so the pool's size limits stay in force. Before reuse, each one
gets the same check the pool would give it (``liveness.checker``, or nothing for
SQLite), and every ``LEASE_SECONDS`` it goes back through the pool, whose
checkout applies ``pool_recycle`` and the checkout events.
"""

import time
import weakref
from collections import deque
from collections.abc import Callable

from sqlalchemy import exc
from sqlalchemy.engine import Engine

from .liveness import IDLE_SINCE

LEASE_SECONDS = 60.0
_LEASED_AT = "fibtrigger_leased_at"


class IdleConnections:
    """``get()`` a pooled connection (a SQLAlchemy ``PoolProxiedConnection``), ``put()`` it back when done."""

    def __init__(self, engine: Engine, check: Callable[[object, dict], None] | None) -> None:
        self._engine = engine
        self._check = check
        self._idle: deque = deque()  # append and pop are atomic: safe across threads
        # A table dropped without close() hands its connections back to the pool.
        self._finalizer = weakref.finalize(self, _release_all, self._idle)

    def get(self):
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                connection = self._engine.raw_connection()
                connection.info[_LEASED_AT] = time.monotonic()
                return connection
            if self._check is not None:
                try:
                    self._check(connection.dbapi_connection, connection.info)
                except exc.DisconnectionError:
                    connection.invalidate()
                    connection.close()
                    continue
            if time.monotonic() - connection.info[_LEASED_AT] > LEASE_SECONDS:
                connection.close()  # back through the pool; the next get() checks one out afresh
                continue
            return connection

    def put(self, connection) -> None:
        """Keep a connection whose last use went well; anything else goes back to the pool."""
        if not connection.is_valid:
            connection.close()
            return
        connection.info[IDLE_SINCE] = time.monotonic()
        self._idle.append(connection)

    def close(self) -> None:
        _release_all(self._idle)


def _release_all(idle: deque) -> None:
    while True:
        try:
            connection = idle.pop()
        except IndexError:
            return
        connection.close()
