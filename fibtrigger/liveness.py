"""Checking a pooled MySQL connection at checkout without a round trip, on every supported driver.

SQLAlchemy's ``pool_pre_ping`` sends COM_PING on every checkout: one extra
round trip per ``compute()`` (benchmarks/ measures it beside this check). Instead,
like go-sql-driver/mysql's connection check, poll the idle socket: in the
request/response protocol an idle connection has nothing to read, so anything
readable (EOF after KILL, wait_timeout, a restart or failover; an error packet)
means the server has dropped it. A connection idle for longer than
``IDLE_PING_SECONDS`` is still pinged, for middleboxes that drop a connection
without telling either end.

Each driver shows its socket differently, through public interfaces only:
mysqlclient has ``fileno()``, MariaDB Connector/Python a ``socket`` property.
PyMySQL has none, so fibtrigger opens the socket itself and hands it to PyMySQL's
``connect(sock)`` (with ``defer_connect``), keeping it in the pool record's info.
mysql-connector-python shows none at all: its connections are pinged at every
checkout, as ``pool_pre_ping`` would (its own ``cursor()`` pings too, which the
facade avoids by keeping one cursor per connection).

A dropped connection raises ``DisconnectionError``, on which the pool discards
it and checks out (or opens) another one, as pre-ping would.
"""

import select
import socket
import time
from collections.abc import Callable

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_PING_SECONDS = 30.0
IDLE_SINCE = "fibtrigger_idle_since"  # key in a connection record's info: when it went idle
SOCKET = "fibtrigger_socket"  # key in a PyMySQL connection record's info: the socket fibtrigger opened

Check = Callable[[object, dict], None]


def install(engine: Engine) -> None:
    """Check every connection ``engine``'s pool hands out."""
    if engine.dialect.driver == "pymysql":
        event.listen(engine, "do_connect", _connect_pymysql)
    check = checker(engine)
    event.listen(engine, "checkout", lambda dbapi_connection, record, _proxy: check(dbapi_connection, record.info))
    event.listen(engine, "checkin", _on_checkin)


def checker(engine: Engine) -> Check:
    """The check for ``engine``'s driver: raises DisconnectionError for a dead connection."""
    dialect = engine.dialect
    descriptor = _DESCRIPTORS.get(dialect.driver)

    def check(dbapi_connection, info: dict) -> None:
        if descriptor is not None:
            try:
                fd = descriptor(dbapi_connection, info)
            except Exception as error:  # noqa: BLE001 - the driver says the connection is closed
                raise exc.DisconnectionError(f"the connection is closed: {error}") from error
            if fd < 0 or _readable(fd):
                raise exc.DisconnectionError("the server closed this pooled connection")
        idle_since = info.get(IDLE_SINCE)
        if descriptor is None or (idle_since is not None and time.monotonic() - idle_since > IDLE_PING_SECONDS):
            try:
                alive = dialect.do_ping(dbapi_connection)
            except Exception as error:  # noqa: BLE001 - any failure means a dead connection
                raise exc.DisconnectionError(f"ping failed: {error}") from error
            if not alive:
                raise exc.DisconnectionError("ping failed")

    return check


def socket_descriptor(engine: Engine, dbapi_connection, info: dict) -> int | None:
    """The connection's socket descriptor, where the driver shows it (None for mysql-connector-python)."""
    descriptor = _DESCRIPTORS.get(engine.dialect.driver)
    return descriptor(dbapi_connection, info) if descriptor is not None else None


def _pymysql_descriptor(_dbapi_connection, info: dict) -> int:
    sock = info.get(SOCKET)
    return -1 if sock is None else sock.fileno()  # -1 once PyMySQL closed it after an error


def _mysqldb_descriptor(dbapi_connection, _info: dict) -> int:
    return dbapi_connection.fileno()  # raises once the connection is closed


def _mariadb_descriptor(dbapi_connection, _info: dict) -> int:
    # The property wraps the descriptor in a new socket object that would close it when collected,
    # possibly after the driver has closed it and the number was reused: detach it at once.
    return dbapi_connection.socket.detach()


_DESCRIPTORS: dict[str, Callable[[object, dict], int]] = {
    "pymysql": _pymysql_descriptor,
    "mysqldb": _mysqldb_descriptor,
    "mariadbconnector": _mariadb_descriptor,
}


def _connect_pymysql(dialect, record, cargs, cparams):
    """Open the socket for PyMySQL, so that the check above can poll it: PyMySQL does not show its own."""
    connection = dialect.loaded_dbapi.connect(*cargs, **cparams, defer_connect=True)
    if connection.unix_socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(connection.connect_timeout)
        try:
            sock.connect(connection.unix_socket)
        except OSError:
            sock.close()
            raise
    else:
        source = (connection.bind_address, 0) if connection.bind_address else None
        sock = socket.create_connection((connection.host, connection.port), connection.connect_timeout, source)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # PyMySQL would wait for the server's greeting up to read_timeout; the other drivers wait up
    # to connect_timeout, and so does fibtrigger: a port whose server never speaks fails fast.
    if not _readable_within(sock.fileno(), connection.connect_timeout):
        sock.close()
        raise dialect.loaded_dbapi.OperationalError(
            2013, "Lost connection to server at 'handshake: reading initial communication packet' (timed out)"
        )
    connection.connect(sock)  # closes sock if the handshake fails
    record.info[SOCKET] = sock
    return connection


def _on_checkin(_dbapi_connection, record) -> None:
    if record is not None:
        record.info[IDLE_SINCE] = time.monotonic()


def _readable(fd: int) -> bool:
    return _readable_within(fd, 0)


def _readable_within(fd: int, seconds: float | None) -> bool:
    """Whether ``fd`` has something to read within ``seconds`` (None: wait as long as it takes)."""
    # poll has no FD_SETSIZE limit; select is the fallback where there is no poll (Windows).
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(None if seconds is None else seconds * 1000))
    readable, _, _ = select.select([fd], [], [], seconds)
    return bool(readable)
