"""Engines, and the translation of driver errors into fibtrigger's errors."""

import sqlite3

import pymysql
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, Engine

from fibtrigger.lambda_function.contract import RANGE_MESSAGE

from . import liveness
from .config import database_url, masked
from .errors import (
    BackendError,
    ConfigurationError,
    ConnectionLost,
    DatabaseUnreachable,
    FibtriggerError,
    InvalidArgument,
    OutcomeUnknown,
    PermissionDenied,
    ResultOutOfRange,
    SchemaNotInstalled,
    StatementAborted,
    StatementTimeout,
)

MIGRATE_HINT = "run `fibtrigger migrate` (or `alembic upgrade head`) first"
GRANTS_HINT = "`fibtrigger grants --role caller|migrator|lambda-definer` prints what each account needs"

# Server error codes, grouped by what they mean for the caller.
_STATEMENT_TIMEOUT = (1969, 3024)  # MariaDB max_statement_time, MySQL max_execution_time
_STATEMENT_STOPPED = (1317, 1205, 1213)  # KILL QUERY, lock wait timeout, deadlock
_PRIVILEGE_MISSING = (1044, 1142, 1143, 1227, 1370)  # database, table, column, global, routine
_DEFINER_MISSING = 1449
_LAMBDA_API_ERROR = 1873  # Aurora's lambda_sync (and the local UDF): Lambda down, HTTP error, function error
_CONNECTION_GONE = (1927, 2002, 2003, 2005, 2006, 2013, 4031)  # 1927: MariaDB's "Connection was killed"
_RANGE_PREFIX = RANGE_MESSAGE.split("{limit}")[0]


def make_engine(url: str | URL | None = None, *, pool_size: int = 8) -> Engine:
    """An autocommit engine: one INSERT is one round trip, with no COMMIT after it."""
    url = database_url(url)
    try:
        return _create_engine(url, pool_size)
    except Exception as error:  # noqa: BLE001 - an unknown driver or a bad URL argument, e.g. ?connect_timeout=x
        raise ConfigurationError(f"cannot use the database URL {masked(url)}: {error}") from None


def _create_engine(url: URL, pool_size: int) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    engine = create_engine(
        with_driver(url),
        isolation_level="AUTOCOMMIT",
        # liveness checks the socket instead of a COM_PING round trip per checkout.
        pool_pre_ping=False,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=3600,
        # With autocommit there is nothing to roll back: skip the round trip.
        pool_reset_on_return=None,
        connect_args={"connect_timeout": 10},
    )
    liveness.install(engine)
    return engine


def with_driver(url: URL) -> URL:
    """A bare mysql:// or mariadb:// URL names PyMySQL, the one driver fibtrigger ships with."""
    if url.drivername in ("mysql", "mariadb"):
        return url.set(drivername=f"{url.drivername}+pymysql")
    return url


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the one writer; busy_timeout waits for the lock.
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA busy_timeout=30000")


def endpoint(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 3306}"


def translate(error: BaseException, url: URL) -> FibtriggerError:
    """Map a driver or SQLAlchemy error to the matching FibtriggerError."""
    if isinstance(error, FibtriggerError):
        return error
    original = _original(error)
    if isinstance(original, pymysql.err.MySQLError):
        return _translate_mysql(original, url)
    if isinstance(original, sqlite3.Error):
        return _translate_sqlite(original, url)
    if isinstance(original, (OSError, exc.OperationalError)):
        return _unreachable(url, str(original))
    return FibtriggerError(f"database error: {original}")


def translate_insert(error: BaseException, url: URL, dialect, *, rows: int, may_be_stored: bool) -> FibtriggerError:
    """translate() for an error raised while INSERTing ``rows`` rows.

    A lost connection is the one case translate() cannot judge alone: if the
    INSERT (autocommit) or the COMMIT may have reached the server, the rows may
    be stored, and the caller must hear exactly that instead of "unreachable".
    """
    if not lost_connection(error, dialect):
        return translate(error, url)
    detail = _detail(error)
    where = endpoint(url)
    if may_be_stored:
        return OutcomeUnknown(
            f"the connection to {where} was lost while inserting {rows} row(s) ({detail}): they may or may "
            "not have been stored. fibtrigger does not retry an insert that may have happened; check the "
            "table before inserting again"
        )
    return ConnectionLost(
        f"the connection to {where} was lost before the COMMIT of {rows} row(s) ({detail}): nothing was "
        "stored, and inserting again is safe"
    )


def lost_connection(error: BaseException, dialect) -> bool:
    """Whether ``error`` means the connection died (SQLAlchemy's own list of disconnect errors)."""
    original = _original(error)
    dbapi = getattr(dialect, "loaded_dbapi", None)
    return dbapi is not None and isinstance(original, dbapi.Error) and dialect.is_disconnect(original, None, None)


def _original(error: BaseException) -> BaseException:
    return error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error


def _detail(error: BaseException) -> str:
    original = _original(error)
    args: tuple = getattr(original, "args", ())
    return str(args[1]) if len(args) > 1 else str(original) or type(original).__name__


def _unreachable(url: URL, detail: str) -> DatabaseUnreachable:
    where = endpoint(url)
    return DatabaseUnreachable(
        f"cannot reach the database at {where} ({detail}). Check that the server is running; "
        f"for a cloud database (RDS, Aurora) its security group needs an inbound rule for port "
        f"{url.port or 3306} from this machine's IP"
    )


def _range_error(message: str) -> InvalidArgument:
    got = message.rsplit("got ", 1)[-1]
    if got.lstrip("-").isdigit() and int(got) > 0:
        return ResultOutOfRange(message)
    return InvalidArgument(message)


def _translate_mysql(error: pymysql.err.MySQLError, url: URL) -> FibtriggerError:
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    message = str(error.args[1]) if len(error.args) > 1 else str(error)
    if code == 1644:  # SIGNAL SQLSTATE '45000'
        if message.startswith(_RANGE_PREFIX):
            return _range_error(message)
        return BackendError(message)
    if code in (1146, 1305):
        return SchemaNotInstalled(f"{message}: the fibtrigger schema is not installed; {MIGRATE_HINT}")
    if code in (1264, 1690):
        return ResultOutOfRange(f"result out of range: {message}")
    if code in (1048, 1265, 1292, 1366):  # NULL, truncated or non-numeric text for the INT column fib
        return InvalidArgument(message)
    if code == _LAMBDA_API_ERROR:
        return BackendError(message)
    if code in _STATEMENT_TIMEOUT:
        return StatementTimeout(
            f"the statement ran longer than the server's statement time limit ({message}) and was rolled back"
        )
    if code in _STATEMENT_STOPPED:
        return StatementAborted(f"the server stopped the statement ({message}) and rolled it back")
    if code in _PRIVILEGE_MISSING:
        return PermissionDenied(f"{message}. {GRANTS_HINT}")
    if code == _DEFINER_MISSING:
        return ConfigurationError(
            f"{message}: the account that installed fibonacci's triggers (their definer) no longer exists; "
            "recreate it with the grants of `fibtrigger grants --role migrator`"
        )
    if code == 1045:
        return ConfigurationError(
            f"access denied for user {url.username!r} at {endpoint(url)}: check the user and password "
            "in FIBTRIGGER_DATABASE_URL"
        )
    if code == 1049:
        return ConfigurationError(
            f"database {url.database!r} does not exist at {endpoint(url)}: create it, then {MIGRATE_HINT}"
        )
    if code in _CONNECTION_GONE or isinstance(error, pymysql.err.OperationalError) and code is None:
        return _unreachable(url, message)
    return FibtriggerError(f"database error {code}: {message}")


def _translate_sqlite(error: sqlite3.Error, url: URL) -> FibtriggerError:
    message = str(error)
    if message.startswith(_RANGE_PREFIX):
        return _range_error(message) if "above" not in message else ResultOutOfRange(message)
    if "no such table" in message:
        return SchemaNotInstalled(f"{message}: {MIGRATE_HINT}")
    if "unable to open database file" in message:
        return ConfigurationError(f"cannot open the SQLite file {endpoint(url)!r}: {message}")
    return FibtriggerError(f"database error: {message}")
