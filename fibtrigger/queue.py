"""The queue backend's database side: claims, write-backs, releases, status and retry.

The twin of `fibtrigger queue status|retry`; the worker (`fibtrigger.aws.worker`) drives the
rest. Every function takes a DBAPI connection of an autocommit engine (``make_engine``), or a
URL for the CLI's twins. No Lambda and no boto3 here.

A claim is one short transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` over the index on
``due_at`` (rows other workers hold are skipped, not waited for), then an UPDATE that leases
the rows to a random token until ``due_at``. The function is called outside any transaction.
A value is written only where the row still holds the fib that was sent and the token: a row
whose fib changed, or whose lease ran out and was claimed again, is left alone.
"""

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field

from sqlalchemy.engine import URL

from .config import database_url, masked
from .database import Call, make_engine, translate
from .errors import ConfigurationError
from .queue_defaults import (  # noqa: F401  (fibtrigger.queue.DEFAULT_* as before)
    DEFAULT_BACKOFF_CAP_SECONDS,
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
)
from .schema import mysql

DONE_WINDOW_SECONDS = 3600
LAST_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Claim:
    """Rows leased to one worker until their lease runs out: (id, fib) pairs and the token."""

    token: str
    rows: tuple[tuple[int, int], ...]

    @property
    def ids(self) -> list[int]:
        return [row_id for row_id, _ in self.rows]


def worker_name() -> str:
    """Who holds a claim, for `queue status` and the rows' claimed_by: host:pid."""
    return f"{socket.gethostname()[:200]}:{os.getpid()}"


def claim(connection, batch_size: int, lease_seconds: float, worker: str) -> Claim:
    """Lease up to ``batch_size`` due rows (pending, backed off and due again, or whose lease ran out)."""
    token = secrets.token_hex(16)
    cursor = connection.cursor()
    connection.begin()
    try:
        cursor.execute(mysql.CLAIM_SELECT, (batch_size,))
        rows = tuple((int(row_id), int(fib)) for row_id, fib in cursor.fetchall())
        if rows:
            cursor.execute(
                mysql.CLAIM_UPDATE.format(ids=_id_list(row_id for row_id, _ in rows)),
                (token, worker, round(lease_seconds * 1_000_000)),
            )
        connection.commit()
    except BaseException:
        _rollback_quietly(connection)
        raise
    return Claim(token, rows)


def any_due(connection) -> bool:
    """Whether some row could be claimed now (one index probe, no lock)."""
    cursor = connection.cursor()
    cursor.execute(mysql.SELECT_DUE)
    return cursor.fetchone() is not None


def write_back(connection, held: Claim, values: dict[int, int]) -> int:
    """Store checked values (by row id) under the claim; returns how many rows took one."""
    if not values:
        return 0
    fib_of = dict(held.rows)
    answers = json.dumps([[row_id, fib_of[row_id], str(int(value))] for row_id, value in values.items()])
    cursor = connection.cursor()
    return cursor.execute(mysql.WRITE_BACK, (answers, held.token))


def release(
    connection,
    held: Claim,
    ids: list[int],
    error: str,
    *,
    max_attempts: int,
    backoff_seconds: float,
    backoff_cap_seconds: float,
) -> None:
    """Hand rows back after a failed attempt: pending after a backoff, or failed with ``error``
    once ``max_attempts`` are used up."""
    if not ids:
        return
    cursor = connection.cursor()
    cursor.execute(
        mysql.RELEASE.format(ids=_id_list(ids)),
        {
            "max_attempts": max_attempts,
            "cap": backoff_cap_seconds,
            "base": backoff_seconds,
            "error": error[: mysql.LAST_ERROR_CHARACTERS],
            "token": held.token,
        },
    )


def unclaim(connection, held: Claim) -> None:
    """Hand back rows that were never sent (a stopping worker): due at once, the attempt undone."""
    connection.cursor().execute(mysql.UNCLAIM, (held.token,))


def function_arn(connection) -> str | None:
    """The function ARN that `backend queue` recorded."""
    cursor = connection.cursor()
    cursor.execute(mysql.SELECT_SETTING, (mysql.QUEUE_FUNCTION_SETTING,))
    row = cursor.fetchone()
    return row[0] if row else None


def last_waiting_id(connection) -> int | None:
    """The newest waiting row now: `worker --once` drains up to it."""
    cursor = connection.cursor()
    cursor.execute(mysql.SELECT_MAX_WAITING_ID)
    row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def seconds_until_due(connection, up_to_id: int) -> float | None:
    """How long until the next waiting row with id <= ``up_to_id`` is due (<= 0: now); None: none waits."""
    cursor = connection.cursor()
    cursor.execute(mysql.SELECT_NEXT_DUE_UP_TO, (up_to_id,))
    row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0]) / 1_000_000


# ---- status and retry: the twins of `fibtrigger queue status|retry` ---------------------------


@dataclass(frozen=True)
class RowError:
    id: int
    fib: int
    state: str
    attempts: int
    error: str


@dataclass(frozen=True)
class QueueStatus:
    pending: int  # waiting to be claimed (including backed-off rows and expired leases)
    in_flight: int  # claimed, lease running
    failed: int  # attempts used up; `queue retry --failed` re-drives them
    done_last_hour: int  # computed by a worker in the last hour
    oldest_pending_seconds: float | None  # age of the oldest waiting row
    last_errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def status(url: str | URL | None = None) -> QueueStatus:
    """Counts, the oldest waiting row's age and the latest errors of the queue."""

    def read(connection) -> QueueStatus:
        cursor = connection.cursor()
        cursor.execute(mysql.SELECT_QUEUE_COUNTS)
        pending, in_flight, failed, age = cursor.fetchone()
        cursor.execute(mysql.SELECT_DONE_SINCE, (DONE_WINDOW_SECONDS,))
        (done,) = cursor.fetchone()
        cursor.execute(mysql.SELECT_LAST_ERRORS, (LAST_ERRORS_SHOWN,))
        errors = [RowError(int(i), int(f), s, int(a), e) for i, f, s, a, e in cursor.fetchall()]
        return QueueStatus(
            pending=int(pending or 0),
            in_flight=int(in_flight or 0),
            failed=int(failed or 0),
            done_last_hour=int(done or 0),
            oldest_pending_seconds=None if age is None else round(int(age) / 1_000_000, 3),
            last_errors=errors,
        )

    return _with_connection(url, read)


def retry(url: str | URL | None = None, *, failed: bool = False) -> int:
    """Make every backed-off row due now; with ``failed``, also re-queue failed rows with fresh
    attempts. Returns how many rows changed."""

    def drive(connection) -> int:
        cursor = connection.cursor()
        changed = cursor.execute(mysql.RETRY_WAITING)
        if failed:
            changed += cursor.execute(mysql.RETRY_FAILED)
        return changed

    return _with_connection(url, drive)


def _with_connection(url, action):
    url = database_url(url)
    if url.get_backend_name() == "sqlite":
        raise ConfigurationError(sqlite_refusal(url))
    engine = make_engine(url, pool_size=1)
    call = Call()
    try:
        connection = engine.raw_connection()
        call.connected = True  # before: a driver refusing a URL argument is a ConfigurationError
        try:
            return action(connection)
        finally:
            connection.close()
    except Exception as error:
        raise translate(error, url, call=call, dialect=engine.dialect) from None
    finally:
        engine.dispose()


def sqlite_refusal(url: URL) -> str:
    return f"{masked(url)} is SQLite: the queue backend is for MySQL 8.0 and MariaDB 10.6+; SQLite computes in SQL"


def _id_list(ids) -> str:
    return ",".join(str(int(row_id)) for row_id in ids)


def _rollback_quietly(connection) -> None:
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass
