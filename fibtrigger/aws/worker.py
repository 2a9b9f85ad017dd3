"""The queue backend's worker: the twin of `fibtrigger worker`.

Loop: claim up to ``batch_size`` due rows (``fibtrigger.queue.claim``), call the function
once with ``{"fibs": [...]}``, check every answer as strictly as fiblambda does, write each
good value back under the claim, and hand the rest back with their error: due again after
an exponential backoff with jitter, or failed once ``max_attempts`` are used up. Any number
of workers may run against one database; a worker that dies leaves its rows to others when
their lease runs out.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.engine import URL
from sqlalchemy.pool import PoolProxiedConnection

from fibtrigger.lambda_function.contract import MAX_BATCH_ITEMS, AnswerError, answer_value

from .. import queue
from ..config import database_url
from ..database import Call, make_engine, translate
from ..errors import ConfigurationError, DatabaseUnreachable, InvalidArgument, StatementAborted
from ..queue_defaults import DEFAULT_POLL_SECONDS
from .batch import DEFAULT_TIMEOUT_SECONDS, BatchFailed, BatchInvoker

logger = logging.getLogger("fibtrigger.worker")

RECONNECT_CAP_SECONDS = 30.0
# Tries to reach the database at start before giving up (a typo in the URL should not hang);
# once it was reached, a worker waits out any outage.
START_ATTEMPTS = 5


@dataclass(frozen=True)
class WorkerSettings:
    batch_size: int = queue.DEFAULT_BATCH_SIZE
    max_attempts: int = queue.DEFAULT_MAX_ATTEMPTS
    lease_seconds: float = queue.DEFAULT_LEASE_SECONDS
    function_arn: str | None = None  # None: the one `backend queue` recorded
    once: bool = False  # drain every row waiting at start, then return
    poll_seconds: float = DEFAULT_POLL_SECONDS  # how often an idle worker looks for due rows
    backoff_seconds: float = queue.DEFAULT_BACKOFF_SECONDS
    backoff_cap_seconds: float = queue.DEFAULT_BACKOFF_CAP_SECONDS
    invoke_timeout_seconds: float | None = None  # None: half the lease, at most 30 s
    claim_ahead: bool = True  # lease the next batch while this one is called

    @property
    def call_timeout(self) -> float:
        if self.invoke_timeout_seconds is not None:
            return self.invoke_timeout_seconds
        return min(DEFAULT_TIMEOUT_SECONDS, self.lease_seconds / 2)

    def check(self) -> "WorkerSettings":
        if not 1 <= self.batch_size <= MAX_BATCH_ITEMS:
            raise InvalidArgument(f"batch size must be between 1 and {MAX_BATCH_ITEMS}, got {self.batch_size}")
        if not 1 <= self.max_attempts <= 1000:
            raise InvalidArgument(f"max attempts must be between 1 and 1000, got {self.max_attempts}")
        # The call must end before the lease does, or another worker could take the rows meanwhile.
        if not self.lease_seconds > self.call_timeout > 0:
            raise InvalidArgument(
                f"the lease ({self.lease_seconds:g} s) must be longer than the call's timeout "
                f"({self.call_timeout:g} s), which must be positive"
            )
        for name in ("poll_seconds", "backoff_seconds", "backoff_cap_seconds"):
            if not getattr(self, name) > 0:
                raise InvalidArgument(f"{name.replace('_', ' ')} must be positive, got {getattr(self, name)}")
        return self


@dataclass
class WorkerReport:
    batches: int = 0
    rows: int = 0  # rows claimed and sent
    written: int = 0  # values stored
    errors: int = 0  # rows handed back with an error (retried later, or failed)
    stale: int = 0  # answers not stored: the row changed or its claim was lost meanwhile


@dataclass(frozen=True)
class BatchOutcome:
    rows: int
    written: int
    errors: int
    stale: int
    seconds: float
    first_error: str | None

    def line(self) -> str:
        text = (
            f"batch: {self.rows} rows, {self.written} written, {self.errors} errors, "
            f"{self.stale} stale, {self.seconds * 1000:.1f} ms"
        )
        return f"{text}; {self.first_error}" if self.first_error else text


class Worker:
    """One worker on the database at ``url``. ``invoker`` (a callable taking a list of fibs and
    returning the answers) replaces the boto3 call to the function."""

    def __init__(
        self,
        url: str | URL | None = None,
        settings: WorkerSettings | None = None,
        *,
        invoker: Callable[[list[int]], list] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.url = database_url(url)
        if self.url.get_backend_name() == "sqlite":
            raise ConfigurationError(queue.sqlite_refusal(self.url))
        self.settings = (settings or WorkerSettings()).check()
        self.name = queue.worker_name()
        self.report = WorkerReport()
        self._invoker = invoker
        self._log = log or logger.info
        self._stop = threading.Event()
        self._engine = make_engine(self.url, pool_size=2)
        # Two connections: batches are claimed on "claim" (ahead, while the loop calls the
        # function) and the previous batch's values are written on "write" (measured: the two
        # 500-row UPDATEs dominate a batch, and the server runs them side by side).
        self._connections: dict[str, PoolProxiedConnection | None] = {"claim": None, "write": None}
        self._writing: threading.Thread | None = None
        self._write_error: BaseException | None = None
        self._reached = False  # an action succeeded once: from then on, outages are waited out

    def stop(self) -> None:
        """Finish the batch in hand, then return from ``run`` (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> WorkerReport:
        """Work until ``stop()``; with ``once``, until every row waiting at start is done or failed."""
        claims = ThreadPoolExecutor(1, thread_name_prefix="fibtrigger-worker-claim")
        ahead: Future | None = None
        try:
            invoker = self._invoker or BatchInvoker(
                self._function_arn(), timeout=self.settings.call_timeout
            )
            horizon = self._database(queue.last_waiting_id) if self.settings.once else None
            if self.settings.once and horizon is None:
                return self.report
            while True:
                held = ahead.result() if ahead is not None else self._claim()
                ahead = None
                if self._stop.is_set():
                    if held.rows:
                        self._database(queue.unclaim, held)  # never sent: no attempt spent
                    break
                if held.rows:
                    if self.settings.claim_ahead:
                        # The next batch is leased while this one is called: the claim is the
                        # server's work, the call the function's, and they overlap.
                        ahead = claims.submit(self._claim)
                    try:
                        self._process(held, invoker)
                    except ConfigurationError:
                        # Refused before it was sent (no credentials, no region): no attempt spent. The
                        # claim ahead shares the connection, so it is handed back first.
                        if ahead is not None:
                            self._unclaim_quietly(ahead)
                            ahead = None
                        self._database(queue.unclaim, held)
                        raise
                    continue
                self._finish_writing()  # its rows are no longer waiting: the idle checks below see that
                if self.settings.once:
                    wait = self._database(queue.seconds_until_due, horizon)
                    if wait is None:
                        break
                    self._stop.wait(min(max(wait, self.settings.poll_seconds), 1.0))
                else:
                    self._stop.wait(self.settings.poll_seconds)
            self._finish_writing()
            return self.report
        finally:
            if ahead is not None:  # leaving on an error: hand back the batch claimed ahead
                self._unclaim_quietly(ahead)
            claims.shutdown()
            if self._writing is not None:  # leaving on an error: the write-back still ends first
                self._writing.join()
            self._close()

    def _claim(self) -> queue.Claim:
        return self._database(queue.claim, self.settings.batch_size, self.settings.lease_seconds, self.name)

    def _unclaim_quietly(self, ahead: Future) -> None:
        try:
            held = ahead.result()
            if held.rows:
                self._database(queue.unclaim, held)
        except Exception:  # noqa: BLE001 - already leaving on an error; the lease frees the rows
            pass

    # -- one batch -----------------------------------------------------------------------

    def _process(self, held: queue.Claim, invoker) -> None:
        started = time.perf_counter()
        fibs = [fib for _, fib in held.rows]
        values: dict[int, int] = {}
        errors: dict[str, list[int]] = {}
        try:
            answers = invoker(fibs)
        except BatchFailed as failure:
            errors[str(failure)] = held.ids
        else:
            for (row_id, fib), answer in zip(held.rows, answers, strict=True):
                try:
                    values[row_id] = answer_value(answer, fib)
                except AnswerError as error:
                    errors.setdefault(str(error), []).append(row_id)
        self._finish_writing()
        self._write_error = None
        self._writing = threading.Thread(
            target=self._write, args=(held, values, errors, started), name="fibtrigger-worker-write", daemon=True
        )
        self._writing.start()

    def _write(self, held: queue.Claim, values: dict[int, int], errors: dict[str, list[int]], started: float) -> None:
        try:
            written = self._database(queue.write_back, held, values, slot="write")
            for message, ids in errors.items():
                self._database(
                    queue.release, held, ids, message, slot="write",
                    max_attempts=self.settings.max_attempts,
                    backoff_seconds=self.settings.backoff_seconds,
                    backoff_cap_seconds=self.settings.backoff_cap_seconds,
                )
        except BaseException as error:  # noqa: BLE001 - raised again in the loop's thread
            self._write_error = error
            return
        failed = sum(len(ids) for ids in errors.values())
        outcome = BatchOutcome(
            rows=len(held.rows),
            written=written,
            errors=failed,
            stale=len(values) - written,
            seconds=time.perf_counter() - started,
            first_error=next(iter(errors), None),
        )
        self.report.batches += 1
        self.report.rows += outcome.rows
        self.report.written += outcome.written
        self.report.errors += outcome.errors
        self.report.stale += outcome.stale
        self._log(outcome.line())

    def _finish_writing(self) -> None:
        """Wait for the previous batch's write-back; its error is the loop's."""
        if self._writing is not None:
            self._writing.join()
            self._writing = None
        if self._write_error is not None:
            error, self._write_error = self._write_error, None
            raise error

    # -- the database connection ---------------------------------------------------------

    def _function_arn(self) -> str:
        arn = self.settings.function_arn or self._database(queue.function_arn)
        if not arn:
            raise ConfigurationError(
                "no function to call: the backend is not queue (`fibtrigger backend queue --function-arn ARN`); "
                "or pass --function-arn"
            )
        return arn

    def _database(self, action, *args, slot: str = "claim", **kwargs):
        """``action(connection, ...)``; while the database is unreachable (or a statement was rolled
        back: a deadlock, a lock wait timeout), wait and try again on a new connection. Each action
        is safe to repeat: claims are transactions, the rest match on the claim token.

        Until the database was reached once, a setup error ends the worker: unreachable after
        START_ATTEMPTS tries (at the first with ``once``), any other error (a refused URL, account
        or database) at once."""
        delay = self.settings.poll_seconds
        failures = 0
        while True:
            connection = self._connections[slot]
            call = Call(connected=connection is not None)
            try:
                if connection is None:
                    connection = self._connections[slot] = self._engine.raw_connection()
                    call.connected = True
                result = action(connection, *args, **kwargs)
                self._reached = True
                return result
            except Exception as error:
                translated = translate(error, self.url, call=call, dialect=self._engine.dialect)
                self._close(slot)
                if not isinstance(translated, (DatabaseUnreachable, StatementAborted)) or self._stop.is_set():
                    raise translated from None
                failures += 1
                if not self._reached:
                    if self.settings.once or failures >= START_ATTEMPTS:
                        raise translated from None
                else:
                    self._log(f"database: retrying in {delay:.2f} s: {translated}")
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_CAP_SECONDS)

    def close(self) -> None:
        self._close()
        self._engine.dispose()

    def _close(self, slot: str | None = None) -> None:
        for name in [slot] if slot else list(self._connections):
            connection = self._connections[name]
            if connection is not None:
                try:
                    connection.invalidate()
                except Exception:  # noqa: BLE001 - already broken
                    pass
                self._connections[name] = None


def run_worker(
    url: str | URL | None = None,
    settings: WorkerSettings | None = None,
    *,
    log: Callable[[str], None] | None = None,
    **options,
) -> WorkerReport:
    """Run a worker in this thread until SIGTERM or SIGINT (or, with ``once=True``, until the
    rows waiting at start are done); the signal lets the batch in hand finish."""
    worker = Worker(url, settings or WorkerSettings(**options), log=log)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: worker.stop())
    try:
        return worker.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        worker.close()
