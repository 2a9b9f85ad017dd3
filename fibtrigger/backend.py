"""The computation behind the trigger, `sql` (fibcomp) or `lambda` (lambda_sync): the twin of `fibtrigger backend`.

The swap replaces both triggers under ``LOCK TABLES fibonacci WRITE``: MySQL 8.0
has no CREATE OR REPLACE TRIGGER, and the lock makes concurrent inserts wait
instead of running in the gap between DROP and CREATE with no trigger at all.
DROP TRIGGER invalidates the table's cached definition, so connections that
already had the table open use the new triggers from their next statement; no
FLUSH TABLES is needed (tests/test_backend_lambda.py checks this).

It is also an Alembic operation (fibtrigger.schema.operations): revision 0002
installs ``fiblambda`` and its downgrade returns to `sql`; a project that wants
its backend in its migration history writes
``op.swap_backend("lambda", function_arn=...)`` in a revision.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import exc
from sqlalchemy.engine import URL, Connection

from .arn import NotAnArn, parse_function_arn
from .config import database_url, masked
from .database import make_engine, server_error_number, translated
from .errors import ConfigurationError, LambdaSyncUnavailable, SchemaNotInstalled
from .schema import mysql

SQL = "sql"
LAMBDA = "lambda"
BACKENDS = (SQL, LAMBDA)
DEFAULT_LOCK_WAIT_SECONDS = 60

_LAMBDA_EXPRESSION = re.compile(rf"{mysql.LAMBDA_FUNCTION_NAME}\('([^']*)', NEW\.fib\)")
_COMPUTE_LINE = re.compile(r"^\s*SET NEW\.value = (.+);\s*$", re.MULTILINE)
# FUNCTION ... does not exist / check 'Function Name Parsing' / EXECUTE denied: MariaDB checks a
# stored function's privilege before its existence, and a UDF or Aurora's built-in needs no EXECUTE.
_FUNCTION_MISSING = (1305, 1630, 1370)


@dataclass(frozen=True)
class BackendState:
    """``name`` is sql or lambda; ``function_arn`` is set for lambda only."""

    name: str
    function_arn: str | None = None

    def __str__(self) -> str:
        return self.name if self.function_arn is None else f"{self.name} {self.function_arn}"


@dataclass(frozen=True)
class SwapResult:
    before: BackendState
    after: BackendState

    @property
    def changed(self) -> bool:
        return self.before != self.after


def check_function_arn(function_arn: object) -> str:
    """The ARN, checked whole: the trigger's SQL text embeds it."""
    if isinstance(function_arn, str):
        try:
            parse_function_arn(function_arn)
            return function_arn
        except NotAnArn:
            pass
    raise ConfigurationError(
        f"{function_arn!r} is not a Lambda function ARN; expected "
        "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION_OR_ALIAS]"
    )


# ---- reading the state ------------------------------------------------------


def backend_of(connection: Connection) -> BackendState:
    """The backend the triggers of the connection's database use, read from their definitions."""
    _require_mysql(connection)
    bodies: dict[str, str] = dict(connection.exec_driver_sql(mysql.SELECT_TRIGGER_BODIES).all())
    insert = bodies.get(mysql.before_insert().name)
    update = bodies.get(mysql.before_update().name)
    if insert is None or update is None:
        # information_schema hides triggers from an account without the TRIGGER privilege.
        raise SchemaNotInstalled(
            "the fibonacci triggers are missing, or this account cannot see them (it needs the TRIGGER "
            "privilege: `fibtrigger grants --role migrator`): run `fibtrigger migrate` first"
        )
    state = _state_of(insert)
    if state is None or _state_of(update) != state:
        raise ConfigurationError(
            "the fibonacci triggers were changed outside fibtrigger; run `fibtrigger backend sql` to reinstall them"
        )
    return state


def backend_in(bodies: Mapping[str, str]) -> BackendState:
    """The backend the trigger bodies (name -> body) point at, even when one of them was edited
    by hand: the first one fibtrigger recognises, else sql (the backend revision 0001 installs).
    The drift check compares the live triggers against this backend's declared ones."""
    for trigger in triggers_for(BackendState(SQL)):
        state = _state_of(bodies.get(trigger.name, ""))
        if state is not None:
            return state
    return BackendState(SQL)


def _state_of(body: str) -> BackendState | None:
    """The backend of one trigger body: its single `SET NEW.value = ...` after the argument check."""
    if mysql.ARGUMENT_CHECK not in body:
        return None
    expressions = _COMPUTE_LINE.findall(body)
    if len(expressions) != 1:
        return None
    if expressions[0] == mysql.SQL_COMPUTE:
        return BackendState(SQL)
    found = _LAMBDA_EXPRESSION.fullmatch(expressions[0])
    if found:
        try:
            return BackendState(LAMBDA, check_function_arn(found.group(1)))
        except ConfigurationError:
            return None
    return None


def triggers_for(state: BackendState) -> tuple:
    """The BEFORE INSERT and BEFORE UPDATE triggers of a backend: for a later revision that
    recreates the triggers and must keep the backend (``triggers_for(backend_of(bind))``)."""
    if state.name == LAMBDA:
        expression = mysql.lambda_compute(check_function_arn(state.function_arn))
    else:
        expression = mysql.SQL_COMPUTE
    return mysql.before_insert(expression), mysql.before_update(expression)


def lambda_sync_available(connection: Connection) -> bool:
    """Whether the server has lambda_sync: Aurora MySQL natively, or the local UDF."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return False
    if connection.exec_driver_sql(mysql.SELECT_AURORA_VERSION).first() is not None:
        return True
    try:
        connection.exec_driver_sql(mysql.PROBE_LAMBDA_SYNC).all()
    except exc.DBAPIError as error:
        if error.orig is not None and server_error_number(error.orig) in _FUNCTION_MISSING:
            return False
    return True


# ---- swapping ---------------------------------------------------------------


def check_target(target: BackendState) -> BackendState:
    if target.name == LAMBDA:
        check_function_arn(target.function_arn)
    elif target != BackendState(SQL):
        raise ConfigurationError(f"unknown backend {target.name!r}; choose one of: {', '.join(BACKENDS)}")
    return target


def swap_statements(
    target: BackendState, lock_wait_seconds: int = DEFAULT_LOCK_WAIT_SECONDS
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(lock, replace both triggers, unlock): the statements of a swap to ``target``.
    The unlock runs even when a replacement fails."""
    lock = (mysql.SET_LOCK_WAIT_TIMEOUT.format(seconds=lock_wait_seconds), mysql.LOCK_TABLE)
    replace = tuple(statement for trigger in triggers_for(target) for statement in trigger.replace_sql())
    return lock, replace, mysql.UNLOCK_TABLES


def swap(
    connection: Connection,
    target: BackendState,
    *,
    lock_wait_seconds: int = DEFAULT_LOCK_WAIT_SECONDS,
    execute: Callable[[str], object] | None = None,
) -> SwapResult:
    """Make the triggers use ``target``; a no-op when they already do. ``execute`` runs each
    statement of the swap (default: on ``connection``; the Alembic operation passes its own)."""
    _require_mysql(connection)
    check_target(target)
    run = execute or connection.exec_driver_sql
    try:
        before = backend_of(connection)
    except ConfigurationError:
        before = None  # hand-edited triggers: reinstalling ours is the fix
    if before == target:
        return SwapResult(before, target)
    if target.name == LAMBDA and not lambda_sync_available(connection):
        raise LambdaSyncUnavailable(
            "this server has no lambda_sync function: the lambda backend needs Aurora MySQL "
            "(which has it built in) or the local lambda_sync (`fibtrigger local up`); the backend stays sql"
        )
    lock, replace, unlock = swap_statements(target, lock_wait_seconds)
    for statement in lock:
        run(statement)
    try:
        for statement in replace:
            run(statement)
    finally:
        run(unlock)
    return SwapResult(before or BackendState("unknown"), target)


def _require_mysql(connection: Connection) -> None:
    if connection.dialect.name not in ("mysql", "mariadb"):
        raise ConfigurationError(
            f"the backend swap is for MySQL (Aurora MySQL, or MariaDB with `fibtrigger local up`), "
            f"not {connection.dialect.name}: the embedded SQLite default always computes in SQL"
        )


# ---- the Python twin of `fibtrigger backend` ----------------------------------


def current_backend(url: str | URL | None = None) -> BackendState:
    """The backend of the database at ``url`` (default: FIBTRIGGER_DATABASE_URL)."""
    return _with_connection(url, backend_of, changes="")


def use_lambda(url: str | URL | None, function_arn: str) -> SwapResult:
    """Make the trigger call the Lambda function through lambda_sync. Idempotent."""
    target = BackendState(LAMBDA, check_function_arn(function_arn))
    return _with_connection(url, lambda connection: swap(connection, target), changes="replacing the triggers")


def use_sql(url: str | URL | None = None) -> SwapResult:
    """Make the trigger compute with fibcomp again. Idempotent; needs no Lambda."""
    return _with_connection(
        url, lambda connection: swap(connection, BackendState(SQL)), changes="replacing the triggers"
    )


def _with_connection(url, action, *, changes: str):
    url = database_url(url)
    if url.get_backend_name() == "sqlite":
        raise ConfigurationError(
            f"{masked(url)} is SQLite: the backend swap is for MySQL (Aurora MySQL, or MariaDB with "
            "`fibtrigger local up`); SQLite always computes in SQL"
        )
    engine = make_engine(url, pool_size=1)
    try:
        with translated(url, dialect=engine.dialect) as call, engine.connect() as connection:
            call.connected, call.action = True, changes
            return action(connection)
    finally:
        engine.dispose()
