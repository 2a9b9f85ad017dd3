"""The computation behind the trigger: the twin of `fibtrigger backend`.

- `sql`: fibcomp in the database;
- `lambda`: lambda_sync to a function ARN, one call per row (Aurora MySQL, or the local UDF);
- `queue`: the row is stored at once with value NULL and computed later by workers
  (`fibtrigger worker`), one call per batch, on any MySQL 8.0 or MariaDB 10.6+ server.

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
from .errors import ConfigurationError, LambdaSyncUnavailable, PermissionDenied, SchemaNotInstalled
from .schema import mysql

SQL = "sql"
LAMBDA = "lambda"
QUEUE = "queue"
BACKENDS = (SQL, LAMBDA, QUEUE)
DEFAULT_LOCK_WAIT_SECONDS = 60

_LAMBDA_EXPRESSION = re.compile(rf"{mysql.LAMBDA_FUNCTION_NAME}\('([^']*)', NEW\.fib\)")
_COMPUTE_LINE = re.compile(r"^\s*SET NEW\.value = (.+);\s*$", re.MULTILINE)
# FUNCTION ... does not exist / check 'Function Name Parsing' / EXECUTE denied: MariaDB checks a
# stored function's privilege before its existence, and a UDF or Aurora's built-in needs no EXECUTE.
_FUNCTION_MISSING = (1305, 1630, 1370)


@dataclass(frozen=True)
class BackendState:
    """``name`` is sql, lambda or queue; ``function_arn`` is set for lambda and queue."""

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
    """The backend the triggers of the connection's database use, read from their definitions
    (and, for the queue backend, its function from fibtrigger_settings)."""
    _require_mysql(connection)
    bodies: dict[str, str] = dict(connection.exec_driver_sql(mysql.SELECT_TRIGGER_BODIES).all())
    insert = bodies.get(mysql.INSERT_TRIGGER)
    update = bodies.get(mysql.UPDATE_TRIGGER)
    if (insert is None or update is None) and {mysql.INSERT_TRIGGER, mysql.UPDATE_TRIGGER} <= bodies.keys():
        # MariaDB lists the triggers with a NULL body to an account without the TRIGGER privilege.
        raise PermissionDenied(
            "this account may not read the fibonacci triggers' text (it needs the TRIGGER privilege): "
            "run this as the migrator (`fibtrigger grants --role migrator`)"
        )
    if insert is None or update is None:
        # information_schema hides triggers from an account without the TRIGGER privilege.
        raise SchemaNotInstalled(
            "the fibonacci triggers are missing, or this account cannot see them (it needs the TRIGGER "
            "privilege: `fibtrigger grants --role migrator`): run `fibtrigger migrate` first"
        )
    state = _state_of(insert)
    if state is None or not _is_exactly(state, insert, update):
        raise ConfigurationError(
            "the fibonacci triggers were changed outside fibtrigger; run `fibtrigger backend sql` to reinstall them"
        )
    if state.name == QUEUE:
        return BackendState(QUEUE, queue_function(connection))
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
    """The backend a trigger body points at: its first `SET NEW.value = ...` after the argument
    check (the queue's function is not in the trigger: backend_of reads it from the settings)."""
    if mysql.ARGUMENT_CHECK not in body:
        return None
    found = _COMPUTE_LINE.search(body)
    if found is None:
        return None
    expression = found.group(1)
    if expression == mysql.QUEUE_COMPUTE:
        return BackendState(QUEUE)
    if expression == mysql.SQL_COMPUTE:
        return BackendState(SQL)
    arn = _LAMBDA_EXPRESSION.fullmatch(expression)
    if arn:
        try:
            return BackendState(LAMBDA, check_function_arn(arn.group(1)))
        except ConfigurationError:
            return None
    return None


def _is_exactly(state: BackendState, insert: str, update: str) -> bool:
    """Whether both bodies are exactly ``state``'s triggers, of this revision or an earlier one
    (without revision 0003's bookkeeping, or without revision 0004's id guard)."""
    for queue_columns in (True, False) if state.name != QUEUE else (True,):
        for id_guard in (True, False):
            expected = triggers_for(state, queue_columns=queue_columns, id_guard=id_guard)
            if (insert.strip(), update.strip()) == tuple(trigger.body.strip() for trigger in expected):
                return True
    return False


def triggers_for(state: BackendState, *, queue_columns: bool = True, id_guard: bool = True) -> tuple:
    """The BEFORE INSERT and BEFORE UPDATE triggers of a backend: for a later revision that
    recreates the triggers and must keep the backend (``triggers_for(backend_of(bind))``).
    ``queue_columns=False``: their shape before revision 0003 (no queue bookkeeping)."""
    if state.name == QUEUE:
        return mysql.queue_before_insert(id_guard=id_guard), mysql.queue_before_update(id_guard=id_guard)
    if state.name == LAMBDA:
        expression = mysql.lambda_compute(check_function_arn(state.function_arn))
    else:
        expression = mysql.SQL_COMPUTE
    return (
        mysql.before_insert(expression, queue_columns=queue_columns, id_guard=id_guard),
        mysql.before_update(expression, queue_columns=queue_columns, id_guard=id_guard),
    )


def has_queue_columns(connection: Connection) -> bool:
    """Whether the table has revision 0003's bookkeeping columns."""
    return bool(connection.exec_driver_sql(mysql.SELECT_QUEUE_COLUMN).scalar())


def queue_function(connection: Connection) -> str | None:
    """The function ARN `backend queue` recorded for the workers."""
    return connection.exec_driver_sql(mysql.SELECT_SETTING, (mysql.QUEUE_FUNCTION_SETTING,)).scalar()


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
    if target.name in (LAMBDA, QUEUE):
        check_function_arn(target.function_arn)
    elif target != BackendState(SQL):
        raise ConfigurationError(f"unknown backend {target.name!r}; choose one of: {', '.join(BACKENDS)}")
    return target


def swap_statements(
    target: BackendState, lock_wait_seconds: int = DEFAULT_LOCK_WAIT_SECONDS, *, queue_columns: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(lock, replace both triggers and record the queue's function, unlock): the statements of
    a swap to ``target``. The unlock runs even when a replacement fails. With the queue's
    columns, leaving the queue then needs ``mysql.COMPUTE_WAITING`` under the same lock."""
    table_lock = mysql.LOCK_TABLES_WITH_SETTINGS if queue_columns else mysql.LOCK_TABLE
    lock = (mysql.SET_LOCK_WAIT_TIMEOUT.format(seconds=lock_wait_seconds), table_lock)
    return lock, _install_statements(target, queue_columns), mysql.UNLOCK_TABLES


def _install_statements(state: BackendState, queue_columns: bool) -> tuple[str, ...]:
    triggers = triggers_for(state, queue_columns=queue_columns)
    statements = tuple(statement for trigger in triggers for statement in trigger.replace_sql())
    if not queue_columns:
        return statements
    if state.name == QUEUE:
        setting = mysql.UPSERT_SETTING_LITERAL.format(
            name=mysql.QUEUE_FUNCTION_SETTING, value=check_function_arn(state.function_arn)
        )
    else:
        setting = mysql.DELETE_SETTING_LITERAL.format(name=mysql.QUEUE_FUNCTION_SETTING)
    return (*statements, setting)


def swap(
    connection: Connection,
    target: BackendState,
    *,
    lock_wait_seconds: int = DEFAULT_LOCK_WAIT_SECONDS,
    execute: Callable[[str], object] | None = None,
) -> SwapResult:
    """Make the triggers use ``target``; a no-op when they already do. ``execute`` runs each
    statement of the swap (default: on ``connection``; the Alembic operation passes its own).

    Leaving the queue backend computes every waiting row (pending, claimed or failed) with the
    new trigger inside the same lock, so no NULL is left behind; if that fails (the Lambda
    function is down, say), the queue triggers are put back and the error raised."""
    _require_mysql(connection)
    check_target(target)
    run = execute or connection.exec_driver_sql
    queue_columns = has_queue_columns(connection)
    if target.name == QUEUE and not queue_columns:
        raise SchemaNotInstalled(
            "the queue backend needs schema revision 0003 (its bookkeeping columns): run `fibtrigger migrate` first"
        )
    try:
        before = backend_of(connection)
    except ConfigurationError:
        before = None  # hand-edited triggers: reinstalling ours is the fix
    except SchemaNotInstalled:
        if not table_exists(connection):
            raise
        before = None  # a trigger dropped by hand: reinstalling both is the fix
    if before == target:
        return SwapResult(before, target)
    if target.name == LAMBDA and not lambda_sync_available(connection):
        raise LambdaSyncUnavailable(
            "this server has no lambda_sync function: the lambda backend needs Aurora MySQL "
            "(which has it built in) or the local lambda_sync (`fibtrigger local up`); the backend stays "
            f"{before or 'as it is'}. The queue backend (`fibtrigger backend queue`) works on any MySQL 8.0 "
            "or MariaDB 10.6+"
        )
    lock, replace, unlock = swap_statements(target, lock_wait_seconds, queue_columns=queue_columns)
    for statement in lock:
        run(statement)
    try:
        for statement in replace:
            run(statement)
        if queue_columns and target.name != QUEUE:
            try:
                run(mysql.COMPUTE_WAITING)
            except Exception:
                if before is not None and before.name == QUEUE:
                    for statement in _install_statements(before, queue_columns):
                        run(statement)
                raise
    finally:
        run(unlock)
    return SwapResult(before or BackendState("unknown"), target)


def reinstall_triggers(connection: Connection, *, lock_wait_seconds: int = DEFAULT_LOCK_WAIT_SECONDS) -> BackendState:
    """Recreate both triggers, under the swap's lock, for the backend the surviving trigger names
    (``backend_in``: sql when neither is recognisable); for a trigger dropped or edited by hand."""
    bodies: dict[str, str] = dict(connection.exec_driver_sql(mysql.SELECT_TRIGGER_BODIES).all())
    state = backend_in(bodies)
    if state.name == QUEUE:
        state = BackendState(QUEUE, queue_function(connection))
    lock, replace, unlock = swap_statements(state, lock_wait_seconds, queue_columns=has_queue_columns(connection))
    for statement in lock:
        connection.exec_driver_sql(statement)
    try:
        for statement in replace:
            connection.exec_driver_sql(statement)
    finally:
        connection.exec_driver_sql(unlock)
    return state


def table_exists(connection: Connection) -> bool:
    return connection.exec_driver_sql(mysql.SHOW_TABLE).first() is not None


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


def use_queue(url: str | URL | None, function_arn: str) -> SwapResult:
    """Store rows at once with value NULL, for workers (`fibtrigger worker`) to compute in
    batches through the Lambda function. Idempotent; records another function if it differs."""
    target = BackendState(QUEUE, check_function_arn(function_arn))
    return _with_connection(url, lambda connection: swap(connection, target), changes="replacing the triggers")


def use_sql(url: str | URL | None = None) -> SwapResult:
    """Make the trigger compute with fibcomp again, computing every row the queue left waiting.
    Idempotent; needs no Lambda."""
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
