"""Engines, their timeouts, and the one place where driver errors become fibtrigger's errors.

Every call site wraps its database work in ``translated(...)``. Errors are mapped by the
server's error number (``SERVER_ERRORS``), whatever the driver: PyMySQL and mysqlclient
put it in ``args[0]``, mysql-connector-python and MariaDB Connector/Python in ``errno``.
"""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, Engine

from fibtrigger.lambda_function.contract import RANGE_MESSAGE

from . import liveness
from .config import DEFAULT_LOCK_WAIT_SECONDS, LOCK_WAIT_ENV, database_url, masked
from .errors import (
    AccessDenied,
    BackendError,
    ConfigurationError,
    ConnectionLost,
    ConstraintViolated,
    DatabaseNotFound,
    DatabaseUnreachable,
    Deadlock,
    DuplicateKey,
    FibtriggerError,
    InvalidArgument,
    KeyExhausted,
    LockWaitTimeout,
    OutcomeUnknown,
    PermissionDenied,
    ResultOutOfRange,
    SchemaNotInstalled,
    StatementAborted,
    StatementTimeout,
)
from .grants import ROLES

MIGRATE_HINT = "run `fibtrigger migrate` (or `alembic upgrade head`) first"
REPAIR_HINT = "`fibtrigger doctor` checks it, and `fibtrigger migrate --repair` (as the migrator) renumbers the ids"
GRANTS_HINT = f"`fibtrigger grants --role {'|'.join(ROLES)}` prints what each account needs"

# Seconds. Every supported driver takes these three names; a URL query (?read_timeout=5) overrides each.
# connect_timeout bounds the TCP connect and, except on PyMySQL (where read_timeout does), the server's
# greeting; read_timeout bounds every wait for the server's answer, so also the longest statement.
TIMEOUTS = {"connect_timeout": 10, "read_timeout": 60, "write_timeout": 60}
_MAX_TIMEOUT = 31_536_000  # a year: PyMySQL's upper limit

_RANGE_PREFIX = RANGE_MESSAGE.split("{limit}")[0]


def make_engine(url: str | URL | None = None, *, pool_size: int = 8) -> Engine:
    """An autocommit engine: one INSERT is one round trip, with no COMMIT after it."""
    url = database_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    driver_url, connect_args = driver_arguments(url)
    with configuring(url):
        engine = create_engine(
            driver_url,
            isolation_level="AUTOCOMMIT",
            # liveness checks the socket instead of a COM_PING round trip per checkout.
            pool_pre_ping=False,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=3600,
            # With autocommit there is nothing to roll back: skip the round trip.
            pool_reset_on_return=None,
            connect_args=connect_args,
        )
    liveness.install(engine)
    return engine


def driver_arguments(url: URL) -> tuple[URL, dict]:
    """The URL with its driver named and without fibtrigger's timeouts, and the driver's connect arguments.

    The timeouts are read here rather than left to each SQLAlchemy dialect, which
    passes some of them on as text (mysql-connector-python then refuses them).
    """
    url = with_driver(url)
    if url.get_backend_name() == "sqlite":
        return url, {}
    timeouts = dict(TIMEOUTS)
    for name in TIMEOUTS:
        if name in url.query:
            timeouts[name] = _timeout(name, url.query[name], url)
    return url.difference_update_query(TIMEOUTS), timeouts


def _timeout(name: str, given: str | tuple[str, ...], url: URL) -> int:
    text = given[-1] if isinstance(given, tuple) else given
    if text.isdigit() and 0 < int(text) <= _MAX_TIMEOUT:  # isdigit: no sign, no space, no fraction
        return int(text)
    raise ConfigurationError(
        f"{name}={text!r} in the database URL {masked(url)} is not a whole number of seconds "
        f"from 1 to {_MAX_TIMEOUT}"
    )


def with_driver(url: URL) -> URL:
    """A bare mysql:// or mariadb:// URL names PyMySQL, the one driver fibtrigger ships with."""
    if url.drivername in ("mysql", "mariadb"):
        return url.set(drivername=f"{url.drivername}+pymysql")
    return url


@contextmanager
def configuring(url: URL) -> Iterator[None]:
    try:
        yield
    except Exception as error:  # noqa: BLE001 - an unknown or missing driver, a bad URL argument
        raise ConfigurationError(f"cannot use the database URL {masked(url)}: {error}") from None


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the one writer; busy_timeout waits for the lock.
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA busy_timeout=30000")


def endpoint(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 3306}"


# ---- what a call had done when it failed -------------------------------------


@dataclass
class Call:
    """What a call site has done so far. A lost connection means different things before and after."""

    connected: bool = False  # a connection was checked out or opened
    action: str = ""  # what the statements change, e.g. "inserting 3 row(s)"; empty for reads
    may_have_run: bool = True  # the change may have reached the server (autocommit, or COMMIT sent)
    rows: int = 0  # rows being inserted: only for the messages

    @classmethod
    def inserting(cls, rows: int, *, in_transaction: bool) -> "Call":
        # In a transaction nothing is stored before the COMMIT is sent.
        return cls(connected=True, action=f"inserting {rows} row(s)", may_have_run=not in_transaction, rows=rows)


@contextmanager
def translated(url: URL, *, dialect=None, call: Call | None = None) -> Iterator[Call]:
    """Run database work; any driver or SQLAlchemy error leaves as the matching FibtriggerError."""
    call = call if call is not None else Call()
    try:
        yield call
    except FibtriggerError:
        raise
    except Exception as error:  # noqa: BLE001 - translate() decides what each one means
        raise translate(error, url, call=call, dialect=dialect) from None


def translate(error: BaseException, url: URL, *, call: Call | None = None, dialect=None) -> FibtriggerError:
    """Map a driver or SQLAlchemy error to the matching FibtriggerError."""
    if isinstance(error, FibtriggerError):
        return error
    call = call if call is not None else Call(connected=True)
    original = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    if isinstance(original, sqlite3.Error):
        return _translate_sqlite(original, url)
    if not call.connected and _refused_argument(original, dialect):
        return ConfigurationError(f"the driver refused the database URL {masked(url)}: {original}")
    number = server_error_number(original)
    message = _message(original)
    if _is_lost_connection(original, number, dialect):
        return _lost(url, call, message)
    if number == DATABASE_REFUSED and not call.connected:
        return _database_refused(url)
    rule = SERVER_ERRORS.get(number) if number is not None else None
    if rule is not None:
        return rule(message, url)
    if not call.connected and number is None and _is_driver_error(original, dialect):
        # A client-side refusal before any server answered, e.g. mysql-connector's unknown charset.
        return ConfigurationError(f"the driver refused the database URL {masked(url)}: {message}")
    if isinstance(original, OSError) or (not call.connected and isinstance(error, exc.DBAPIError)):
        return _unreachable(url, message)
    return FibtriggerError(f"database error {number}: {message}" if number else f"database error: {message}")


def _refused_argument(original: BaseException, dialect) -> bool:
    """A plain Python error from a driver's connect(): an argument it refuses, e.g. ?charset=nope."""
    if isinstance(original, (OSError, exc.SQLAlchemyError)) or _is_driver_error(original, dialect):
        return False
    return isinstance(original, (ValueError, TypeError, AttributeError, LookupError))


def _is_driver_error(original: BaseException, dialect) -> bool:
    dbapi = getattr(dialect, "loaded_dbapi", None)
    return dbapi is not None and isinstance(original, dbapi.Error)


def server_error_number(error: BaseException) -> int | None:
    """The MySQL/MariaDB error number a driver error carries (a server's, or a client library's 2xxx)."""
    if isinstance(error, OSError):
        return None
    number = getattr(error, "errno", None)  # mysql-connector-python, MariaDB Connector/Python
    if not isinstance(number, int) or number <= 0:
        args = getattr(error, "args", ())
        number = args[0] if args and isinstance(args[0], int) else None  # PyMySQL, mysqlclient
    if number is not None and number <= 0:
        return None
    if number == 3024 and _is_client_timeout(error):
        return None
    return number


def _is_client_timeout(error: BaseException) -> bool:
    # mysql-connector-python reports its own socket timeouts as 3024, the server's
    # max_execution_time number; a server error carries a SQLSTATE, a client timeout none.
    return getattr(error, "sqlstate", "") is None and "timed out" in str(error)


def _message(error: BaseException) -> str:
    args: tuple = error.args
    text = str(error)
    if len(args) > 1 and isinstance(args[0], int):  # (number, message), or mysql-connector's (number, text, state)
        text = str(args[1])
        if text.startswith(f"{args[0]}") and ": " in text:
            text = text.split(": ", 1)[1]
    text = " ".join(text.split())
    if _is_client_timeout(error):
        text = text.split(". ", 1)[0]  # mysql-connector-python goes on to advise reconnect()
    return text or type(error).__name__


# ---- lost connections -------------------------------------------------------------

# 2006 gone away, 2013 lost during query, 2014 out of sync, 2045/2048/2055 connector/client losses,
# 1927 MariaDB's "Connection was killed", 4031 MySQL's inactivity disconnect.
LOST_CONNECTION = frozenset({1927, 2006, 2013, 2014, 2045, 2048, 2055, 4031})


def _is_lost_connection(original: BaseException, number: int | None, dialect) -> bool:
    if number in LOST_CONNECTION:
        return True
    if isinstance(original, (TimeoutError, ConnectionError)):
        return True
    if number is None and _is_client_timeout(original):
        return True
    if _is_driver_error(original, dialect):
        # SQLAlchemy's own per-driver list: e.g. PyMySQL's InterfaceError(0, '') on a closed connection.
        return bool(dialect.is_disconnect(original, None, None))
    return False


def lost_connection(error: BaseException, dialect) -> bool:
    """Whether ``error`` means the connection died."""
    original = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    return _is_lost_connection(original, server_error_number(original), dialect)


def _lost(url: URL, call: Call, detail: str) -> FibtriggerError:
    where = endpoint(url)
    if not call.connected:
        return _unreachable(url, detail)
    if not call.action:
        return DatabaseUnreachable(f"the connection to {where} was lost ({detail}); nothing was changed")
    if call.may_have_run and call.rows:
        return OutcomeUnknown(
            f"the connection to {where} was lost while {call.action} ({detail}): they may or may not "
            "have been stored. fibtrigger does not retry an insert that may have happened; check the "
            "table before inserting again"
        )
    if call.may_have_run:
        return OutcomeUnknown(
            f"the connection to {where} was lost while {call.action} ({detail}): it may or may not have "
            "taken effect. fibtrigger does not retry it; run `fibtrigger doctor` before trying again"
        )
    return ConnectionLost(
        f"the connection to {where} was lost before the COMMIT of {call.rows} row(s) ({detail}): nothing "
        "was stored, and inserting again is safe"
    )


def _unreachable(url: URL, detail: str) -> DatabaseUnreachable:
    where = endpoint(url)
    return DatabaseUnreachable(
        f"cannot reach the database at {where} ({detail}). Check that the server is running; "
        f"for a cloud database (RDS, Aurora) its security group needs an inbound rule for port "
        f"{url.port or 3306} from this machine's IP"
    )


# ---- the table: server error number -> typed error ---------------------------------


def _signalled(message: str, _url: URL) -> FibtriggerError:
    """SIGNAL SQLSTATE '45000' (1644) from the trigger: the contract's message says which kind."""
    if not message.startswith(_RANGE_PREFIX):
        return BackendError(message)
    got = message.rsplit("got ", 1)[-1]
    if got.lstrip("-").isdigit() and int(got) > 0:
        return ResultOutOfRange(message)
    return InvalidArgument(message)


def _schema_missing(message: str, _url: URL) -> FibtriggerError:
    return SchemaNotInstalled(f"{message}: the fibtrigger schema is not installed; {MIGRATE_HINT}")


def _out_of_range(message: str, _url: URL) -> FibtriggerError:
    return ResultOutOfRange(f"result out of range: {message}")


def _bad_argument(message: str, _url: URL) -> FibtriggerError:
    return InvalidArgument(message)


def _backend_failed(message: str, _url: URL) -> FibtriggerError:
    return BackendError(message)


def _statement_timeout(message: str, _url: URL) -> FibtriggerError:
    return StatementTimeout(
        f"the statement ran longer than the server's statement time limit ({message}) and was rolled back"
    )


def _interrupted(message: str, _url: URL) -> FibtriggerError:
    return StatementAborted(f"the server stopped the statement ({message}) and rolled it back")


def _lock_wait(message: str, _url: URL) -> FibtriggerError:
    return LockWaitTimeout(
        f"the statement waited too long for a lock another session holds ({message}) and was rolled back; "
        f"the facade waits FibonacciTable(lock_wait_timeout=...) or {LOCK_WAIT_ENV} seconds "
        f"({DEFAULT_LOCK_WAIT_SECONDS} by default)"
    )


def _deadlock(message: str, _url: URL) -> FibtriggerError:
    return Deadlock(f"the server stopped the statement to break a deadlock ({message}) and rolled it back")


def _key_exhausted(message: str, _url: URL) -> FibtriggerError:
    return KeyExhausted(
        f"{message}: fibonacci's hidden id has no values left, so every insert fails and nothing was "
        f"stored; {REPAIR_HINT}"
    )


def _duplicate_key(message: str, _url: URL) -> FibtriggerError:
    return DuplicateKey(
        f"{message}: an id was written into fibonacci by hand ahead of the counter; nothing was stored. "
        f"{REPAIR_HINT}"
    )


def _constraint_violated(message: str, _url: URL) -> FibtriggerError:
    return ConstraintViolated(f"{message}: the row breaks the table's CHECK constraint; nothing was stored")


def _privilege_missing(message: str, _url: URL) -> FibtriggerError:
    return PermissionDenied(f"{message}. {GRANTS_HINT}")


def _definer_missing(message: str, _url: URL) -> FibtriggerError:
    return ConfigurationError(
        f"{message}: the account that installed fibonacci's triggers (their definer) no longer exists; "
        "recreate it with the grants of `fibtrigger grants --role migrator`"
    )


def _access_denied(_message: str, url: URL) -> FibtriggerError:
    # The server's message is not repeated: it is the same for a wrong password and an unknown user.
    return AccessDenied(
        f"access denied for user {url.username!r} at {endpoint(url)}: check the user and password "
        "in the database URL"
    )


# At connect, the server answers an account without access to the URL's database, and a database
# that does not exist, alike (1044), unless the account may see every database (then 1049).
DATABASE_REFUSED = 1044


def _database_refused(url: URL) -> FibtriggerError:
    return PermissionDenied(
        f"user {url.username!r} may not use database {url.database!r} at {endpoint(url)}, or it does not exist "
        f"(the server does not say which): check the database name in the URL; {GRANTS_HINT}"
    )


def _unknown_database(_message: str, url: URL) -> FibtriggerError:
    return DatabaseNotFound(
        f"database {url.database!r} does not exist at {endpoint(url)}: create it, then {MIGRATE_HINT}"
    )


def _refused_charset(message: str, url: URL) -> FibtriggerError:
    return ConfigurationError(f"the driver refused the database URL {masked(url)}: {message}")


def _cannot_connect(message: str, url: URL) -> FibtriggerError:
    return _unreachable(url, message)


ServerErrorRule = Callable[[str, URL], FibtriggerError]

#: Server (and client-library) error number -> the typed error it becomes. Lost connections
#: (LOST_CONNECTION) are decided apart, because what they mean depends on the Call.
SERVER_ERRORS: dict[int, ServerErrorRule] = {
    1644: _signalled,  # SIGNAL SQLSTATE '45000' in the trigger
    1146: _schema_missing,  # no such table
    1305: _schema_missing,  # no such function
    1264: _out_of_range,
    1690: _out_of_range,
    1048: _bad_argument,  # NULL fib
    1265: _bad_argument,  # truncated
    1292: _bad_argument,  # non-numeric text for the INT column
    1366: _bad_argument,
    1873: _backend_failed,  # Aurora's lambda_sync (and the local UDF): Lambda down, HTTP or function error
    1969: _statement_timeout,  # MariaDB max_statement_time
    3024: _statement_timeout,  # MySQL max_execution_time
    1317: _interrupted,  # KILL QUERY
    1205: _lock_wait,
    1213: _deadlock,
    1467: _key_exhausted,  # "Failed to read auto-increment value from storage engine"
    1062: _duplicate_key,
    4025: _constraint_violated,  # MariaDB: CONSTRAINT ... failed
    3819: _constraint_violated,  # MySQL 8.0: Check constraint ... is violated
    1044: _privilege_missing,  # database
    1142: _privilege_missing,  # table
    1143: _privilege_missing,  # column
    1227: _privilege_missing,  # global
    1370: _privilege_missing,  # routine
    1449: _definer_missing,
    1045: _access_denied,
    1698: _access_denied,  # MariaDB: no password login for this user (unix_socket or another plugin)
    1049: _unknown_database,
    2002: _cannot_connect,  # no server on the socket or port (libmariadb's TCP refusal too)
    2003: _cannot_connect,
    2005: _cannot_connect,  # unknown host
    2019: _refused_charset,  # the client library has no such character set (?charset=...)
}


def _translate_sqlite(error: sqlite3.Error, url: URL) -> FibtriggerError:
    message = str(error)
    if message.startswith(_RANGE_PREFIX):
        return _signalled(message, url) if "above" not in message else ResultOutOfRange(message)
    if "no such table" in message:
        return SchemaNotInstalled(f"{message}: {MIGRATE_HINT}")
    if "unable to open database file" in message:
        return ConfigurationError(f"cannot open the SQLite file {endpoint(url)!r}: {message}")
    return FibtriggerError(f"database error: {message}")
