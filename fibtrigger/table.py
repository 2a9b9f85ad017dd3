"""The facade: insert arguments into ``fibonacci`` and return what the database computed."""

import os
import threading
import time
import weakref
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import URL, Engine

from fibtrigger.lambda_function.contract import ArgumentError, check_fib, describe

from . import liveness
from .config import DEFAULT_LOCK_WAIT_SECONDS, LOCK_WAIT_ENV, database_url, masked, raw_url
from .database import Call, make_engine, translated
from .errors import (
    BackendError,
    ConfigurationError,
    DatabaseUnreachable,
    FibtriggerError,
    InvalidArgument,
    OutcomeUnknown,
    ResultMismatch,
    ResultPending,
    TableShadowed,
    argument_error,
)
from .idle_connections import IdleConnections
from .schema import dialect_module

DEFAULT_BATCH_SIZE = 1000
# The queue backend: how long compute() waits for a worker, and how often it looks.
DEFAULT_TIMEOUT_SECONDS = 30.0
FIRST_POLL_SECONDS = 0.001
POLL_GROWTH = 1.3
LONGEST_POLL_SECONDS = 0.05
_CURSOR = "fibtrigger_cursor"  # key in a connection record's info: the cursor the facade reuses
_LONGEST_LOCK_WAIT = 3600
# Key in a connection record's info: the lock wait set on that session, once it was also checked
# for a TEMPORARY TABLE fibonacci (from an init_command, say) hiding the real, triggered table.
_SESSION = "fibtrigger_session_lock_wait"


class FibonacciTable:
    """One database's ``fibonacci`` table. Thread-safe: each call takes a pooled connection."""

    def __init__(
        self, url: str | URL | None = None, *, engine: Engine | None = None, lock_wait_timeout: int | None = None
    ) -> None:
        """``lock_wait_timeout``: seconds an insert waits for another session's lock (default
        FIBTRIGGER_LOCK_WAIT_TIMEOUT, else 5); then it raises LockWaitTimeout and stores nothing."""
        self.lock_wait_timeout = _lock_wait_seconds(lock_wait_timeout)
        self.engine = engine if engine is not None else make_engine(url)
        self.url = self.engine.url
        self.sql = dialect_module(self.engine.dialect.name)
        self.limit = self.sql.MAX_FIB
        self._is_sqlite = self.engine.dialect.name == "sqlite"
        self._returning: bool | None = None  # known after the first connection
        self._id_step: int | None = None  # auto_increment_increment, read when first needed
        self._ready_lock = threading.Lock()
        self._sqlite_statements: dict[int, str] = {}  # INSERT text per batch length
        # A table's own engine: keep connections between calls. An engine passed in stays the
        # caller's: every call checks out from its pool and returns, holding nothing.
        self._idle = (
            IdleConnections(self.engine, None if self._is_sqlite else liveness.checker(self.engine))
            if engine is None
            else None
        )

    def __repr__(self) -> str:
        return f"FibonacciTable({masked(self.url)!r})"

    def check(self, value: object) -> int:
        """Validate one argument without a round trip."""
        try:
            return check_fib(value, self.limit)
        except ArgumentError as error:
            raise argument_error(error) from None

    def compute(self, n: int, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> int:
        """Insert ``n`` and return the value the trigger stored. On the queue backend the row is
        stored at once and a worker computes it: this waits up to ``timeout`` seconds for it."""
        return self._insert([self.check(n)], timeout=timeout)[0]

    def compute_many(
        self, values: Iterable[int], *, batch_size: int = DEFAULT_BATCH_SIZE, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> list[int]:
        """Insert every argument in multi-row INSERTs, atomically; values come back in input order.
        On the queue backend, waits up to ``timeout`` seconds for the workers to compute them."""
        _check_batch_size(batch_size)
        arguments = [self.check(value) for value in _iterable(values)]
        if not arguments:
            return []
        return self._insert(arguments, batch_size=batch_size, timeout=timeout)

    def rows(self) -> list[tuple[int, int | None]]:
        """Every stored (fib, value) pair, oldest first; value is None while the queue backend has it waiting."""
        connection = self._connect()
        reusable = False
        try:
            with translated(self.url, dialect=self.engine.dialect, call=Call(connected=True)):
                cursor = _cursor(connection)
                cursor.execute(self.sql.SELECT_ALL)
                stored = [(int(fib), None if value is None else int(value)) for fib, value in cursor.fetchall()]
            reusable = True
            return stored
        finally:
            self._release(connection, reusable=reusable)

    def close(self) -> None:
        if self._idle is not None:
            self._idle.close()
        self.engine.dispose()

    def _connect(self):
        with translated(self.url, dialect=self.engine.dialect):
            connection = self._idle.get() if self._idle is not None else self.engine.raw_connection()
        try:
            if self._returning is None:
                self._prepare(connection)
            if connection.info.get(_SESSION) != self.lock_wait_timeout:
                self._prepare_session(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _prepare_session(self, connection) -> None:
        """Once per connection: bound lock waits, and make sure `fibonacci` is the triggered table."""
        with translated(self.url, dialect=self.engine.dialect, call=Call(connected=True)):
            cursor = _cursor(connection)
            if self._is_sqlite:
                cursor.execute(self.sql.SELECT_TEMP_TABLE)
                shadowed = cursor.fetchone() is not None
            else:
                cursor.execute(self.sql.SET_LOCK_WAITS.format(seconds=self.lock_wait_timeout))
                cursor.execute(self.sql.SHOW_CREATE_TABLE)
                shadowed = self.sql.TEMPORARY_TABLE_MARK in str(cursor.fetchone()[1]).upper()
        if shadowed:
            raise TableShadowed(
                "this session has a TEMPORARY TABLE fibonacci (created by an init_command in the URL, or by "
                "other code on the same connection), which hides the real table and its triggers: its values "
                "would not be computed. Drop it, or remove what creates it"
            )
        connection.info[_SESSION] = self.lock_wait_timeout

    def _release(self, connection, *, reusable: bool = True) -> None:
        if self._idle is not None and reusable:
            self._idle.put(connection)
        else:
            connection.close()

    def _prepare(self, connection) -> None:
        with self._ready_lock:
            if self._returning is not None:
                return
            if self._is_sqlite:
                # The embedded default installs itself; MySQL migrations stay explicit.
                cursor = connection.cursor()
                cursor.execute(self.sql.SELECT_TABLE)
                if cursor.fetchone() is None:
                    from . import migrate  # Alembic loads only when a database needs installing

                    migrate.install_once(self.url)
                self._returning = False
            else:
                dialect = self.engine.dialect
                version = dialect.server_version_info or ()
                self._returning = bool(getattr(dialect, "is_mariadb", False)) and version >= (10, 5)

    def _insert(
        self, arguments: list[int], *, batch_size: int = DEFAULT_BATCH_SIZE, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> list[int]:
        _check_timeout(timeout)
        waiting: dict[int, int] = {}  # queue backend: row id -> index of its argument
        results = self._insert_rows(arguments, batch_size, waiting)
        if waiting:
            self._wait(arguments, results, waiting, timeout)
        return results

    def _insert_rows(self, arguments: list[int], batch_size: int, waiting: dict[int, int]) -> list[int]:
        connection = self._connect()
        batches = [arguments[i : i + batch_size] for i in range(0, len(arguments), batch_size)]
        # SQLite: always, so that a row whose value came back NULL (its fill trigger dropped by
        # hand) is rolled back with the error instead of staying behind.
        in_transaction = len(batches) > 1 or self._is_sqlite
        call = Call.inserting(len(arguments), in_transaction=in_transaction)
        # After a failed transaction the connection goes back to the pool, not to the idle stack.
        reusable = not in_transaction
        try:
            with translated(self.url, dialect=self.engine.dialect, call=call):
                cursor = _cursor(connection)
                if in_transaction:
                    cursor.execute("BEGIN IMMEDIATE" if self._is_sqlite else "BEGIN")
                results: list[int] = []
                for batch in batches:
                    results.extend(self._insert_batch(cursor, batch, waiting, len(results)))
                if in_transaction:
                    call.may_have_run = True
                    connection.commit()
                    reusable = True
            return results
        except (DatabaseUnreachable, OutcomeUnknown):
            # The connection is gone: never back into the pool; the next checkout opens a fresh one.
            # Never retried here: a lost connection may hide a stored row (OutcomeUnknown).
            connection.invalidate()
            raise
        except FibtriggerError:
            if in_transaction:
                _rollback_quietly(connection)
            raise
        finally:
            self._release(connection, reusable=reusable)

    def _read_id_step(self, cursor) -> int:
        cursor.execute(self.sql.SELECT_ID_STEP)
        self._id_step = int(cursor.fetchone()[0])
        return self._id_step

    def _insert_batch(self, cursor, batch: list[int], waiting: dict[int, int], offset: int) -> list[int]:
        if self._is_sqlite:
            # The same text for the same length lets sqlite3 reuse its compiled statement.
            statement = self._sqlite_statements.get(len(batch))
            if statement is None:
                rows = ",".join([self.sql.ROW_PLACEHOLDER] * len(batch))
                statement = self._sqlite_statements[len(batch)] = self.sql.INSERT_ROWS.format(rows=rows)
            cursor.execute(statement, batch)
        else:
            # PyMySQL has no prepared statements: it would quote every argument
            # into the text anyway. check() made each one a plain int, so its
            # decimal digits are the literal, and writing them here is faster.
            rows = "(" + "),(".join(map(str, batch)) + ")"
            template = self.sql.INSERT_ROWS_RETURNING if self._returning else self.sql.INSERT_ROWS
            cursor.execute(template.format(rows=rows))
        if self._returning:
            stored = cursor.fetchall()
        else:
            # MySQL reports the first id of a multi-row INSERT, SQLite the last.
            last = cursor.lastrowid
            if self._is_sqlite:
                cursor.execute(self.sql.SELECT_RANGE, (last - len(batch) + 1, last))
            else:
                # One statement's ids are first, first + step, ...: a block reserved at once.
                step = self._id_step or self._read_id_step(cursor)
                cursor.execute(self.sql.SELECT_RANGE, (last, last + (len(batch) - 1) * step, last, step))
            stored = cursor.fetchall()
        if [int(row[0]) for row in stored] != batch:
            raise ResultMismatch("the rows read back do not match the arguments inserted")
        values = []
        for index, row in enumerate(stored):
            if row[1] is None and not self._is_sqlite:
                waiting[int(row[2])] = offset + index  # the queue backend: stored, not yet computed
                values.append(-1)
            else:
                values.append(_as_int(row[1]))
        return values

    def _wait(self, arguments: list[int], results: list[int], waiting: dict[int, int], timeout: float) -> None:
        """Poll the queue backend's rows, with a growing pause, until each has a value (or failed)."""
        deadline = time.monotonic() + timeout
        pause = FIRST_POLL_SECONDS
        connection = self._connect()
        reusable = False
        try:
            with translated(self.url, dialect=self.engine.dialect, call=Call(connected=True)):
                cursor = _cursor(connection)
                while True:
                    cursor.execute(self.sql.SELECT_FINISHED_IN_RANGE, (min(waiting), max(waiting)))
                    for row_id, fib, value, error in cursor.fetchall():
                        index = waiting.pop(int(row_id), None)
                        if index is None:
                            continue
                        if int(fib) != arguments[index]:
                            raise ResultMismatch(
                                f"row {row_id} now holds fib {fib}, not {arguments[index]}: it was updated meanwhile"
                            )
                        if value is None:
                            raise BackendError(f"row {row_id} (fib {fib}) failed on the queue backend: {error}")
                        results[index] = int(value)
                    if not waiting:
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._pending(cursor, sorted(waiting), timeout)
                    time.sleep(min(pause, left))
                    pause = min(pause * POLL_GROWTH, LONGEST_POLL_SECONDS)
            reusable = True
        finally:
            self._release(connection, reusable=reusable)

    def _pending(self, cursor, ids: list[int], timeout: float) -> FibtriggerError:
        cursor.execute(self.sql.SELECT_IDS_IN.format(ids=",".join(map(str, ids))))
        gone = sorted(set(ids) - {int(row_id) for (row_id,) in cursor.fetchall()})
        if gone:
            return ResultMismatch(f"rows {_id_text(gone)} were deleted before a worker computed them")
        return ResultPending(
            f"{'row' if len(ids) == 1 else 'rows'} {_id_text(ids)} stored but still pending after {timeout:g} s on "
            "the queue backend: a worker (`fibtrigger worker`) will compute them; read them later by their "
            "invisible id (SELECT id, fib, value FROM fibonacci WHERE id = ...), or see `fibtrigger queue status`",
            row_ids=ids,
        )


def _id_text(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20])) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")


def _check_timeout(timeout: object) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidArgument(f"timeout must be a positive number of seconds, got {describe(timeout)}")


def _cursor(connection):
    # One cursor per connection: mysql-connector-python pings the server in every cursor().
    cursor = connection.info.get(_CURSOR)
    if cursor is None:
        cursor = connection.info[_CURSOR] = connection.cursor()
    return cursor


def _iterable(values: Any) -> Iterable:
    # str and bytes iterate as characters and small ints: b"12" would store F(49) and F(50).
    if not isinstance(values, (str, bytes, bytearray, memoryview)):
        try:
            iter(values)
            return values
        except TypeError:
            pass
    raise InvalidArgument(f"compute_many takes an iterable of integers (a list, say), got {describe(values)}")


def _lock_wait_seconds(seconds: int | None) -> int:
    if seconds is None:
        text = os.environ.get(LOCK_WAIT_ENV, "").strip()
        if not text:
            return DEFAULT_LOCK_WAIT_SECONDS
        if not text.isascii() or not text.isdigit():
            raise ConfigurationError(f"{LOCK_WAIT_ENV} must be whole seconds, got {describe(text)}")
        seconds = int(text)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= _LONGEST_LOCK_WAIT:
        raise ConfigurationError(
            f"lock_wait_timeout must be whole seconds from 1 to {_LONGEST_LOCK_WAIT}, got {describe(seconds)}"
        )
    return seconds


def _check_batch_size(batch_size: object) -> None:
    # A negative size would make no batches at all, and silently return [].
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be a positive integer, got {describe(batch_size)}")


def _as_int(value: int | Decimal) -> int:
    if value is None:
        raise ResultMismatch("the database stored no value")
    return int(value)


def _rollback_quietly(connection) -> None:
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


_tables: dict[str, FibonacciTable] = {}
# The same tables by the URL text as given and the working directory (a relative SQLite path
# depends on it): found without parsing the URL, which would cost every compute() call.
_tables_by_text: dict[tuple[str, str], FibonacciTable] = {}
_tables_by_engine: "weakref.WeakKeyDictionary[Engine, FibonacciTable]" = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


def default_table(url: str | URL | None = None, *, engine: Engine | None = None) -> FibonacciTable:
    """The shared FibonacciTable for a URL or engine, created once per process."""
    if engine is not None:
        with _tables_lock:
            table = _tables_by_engine.get(engine)
            if table is None:
                table = _tables_by_engine[engine] = FibonacciTable(engine=engine)
            return table
    raw = raw_url(url)
    text_key = (raw if isinstance(raw, str) else raw.render_as_string(hide_password=False), os.getcwd())
    table = _tables_by_text.get(text_key)
    if table is not None:
        return table
    with _tables_lock:
        key = database_url(raw).render_as_string(hide_password=False)
        table = _tables.get(key)
        if table is None:
            table = _tables[key] = FibonacciTable(key)
        _tables_by_text[text_key] = table
        return table


def compute(
    n: int, *, url: str | URL | None = None, engine: Engine | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> int:
    """F(n), computed by the database's trigger. Uses FIBTRIGGER_DATABASE_URL or ./fibtrigger.db.
    On the queue backend, waits up to ``timeout`` seconds for a worker (else ResultPending)."""
    return default_table(url, engine=engine).compute(n, timeout=timeout)


def compute_many(
    values: Iterable[int],
    *,
    url: str | URL | None = None,
    engine: Engine | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[int]:
    """F(n) for every n, in input order, inserted in multi-row statements."""
    return default_table(url, engine=engine).compute_many(values, batch_size=batch_size, timeout=timeout)
