"""Row 11: backend `queue` (a worker calls the local Lambda service once per batch) against `lambda` and `sql`."""

import os
import statistics
import threading
import time

from sqlalchemy.engine import make_url

from fibtrigger import backend, migrate
from fibtrigger.aws.worker import Worker, WorkerSettings
from fibtrigger.local import servers as local_stack
from fibtrigger.table import FibonacciTable

from .lambda_backend import FUNCTION_ARN, on_local_stack
from .model import Figure, Row, Settings, at_least
from .timing import compared, interleave

ROWS = 10_000
BATCH = 500
ROUNDS = 3  # the lambda case takes seconds per sample
LATENCY_CALLS = 60
MEASURED = f"backend `queue`: `compute_many` of {ROWS:,} values, completed by one worker (batch {BATCH})"
AGAINST = "`compute_many` of the same values on backend `lambda` (one lambda_sync call per row) and `sql`"
# boto3 signs even for the local service; these keys are not secret and reach nothing else.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def row(settings: Settings) -> Row:
    return on_local_stack(settings, _measure_with_credentials, _unavailable)


def _measure_with_credentials(stack) -> Row:
    saved = {name: os.environ.get(name) for name in (*LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL_LAMBDA")}
    os.environ.update(LOCAL_CREDENTIALS, AWS_ENDPOINT_URL_LAMBDA=stack.lambda_endpoint)
    try:
        return _measure(stack)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _measure(stack) -> Row:
    base = make_url(stack.database_url)
    admin = local_stack.admin_connection(stack)
    tables: dict[str, FibonacciTable] = {}
    values = [n % 313 for n in range(ROWS)]
    try:
        cursor = admin.cursor()
        for name in ("sql", "lambda", "queue"):
            url = base.set(database=f"fibtrigger_bench_{name}")
            cursor.execute(f"CREATE DATABASE `{url.database}`")
            migrate.upgrade(url)
            if name == "lambda":
                backend.use_lambda(url, FUNCTION_ARN)
            if name == "queue":
                backend.use_queue(url, FUNCTION_ARN)
            tables[name] = FibonacciTable(url)
        worker = Worker(tables["queue"].url, WorkerSettings(batch_size=BATCH), log=lambda line: None)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:

            def many(name):
                def case() -> int:
                    tables[name].compute_many(values, timeout=300)
                    return ROWS

                return case

            cases = interleave({name: many(name) for name in ("sql", "lambda", "queue")}, ROUNDS)
            latencies = []
            for n in range(LATENCY_CALLS):
                time.sleep(0.05)  # the worker idles between calls, as a single caller's would
                started = time.perf_counter()
                tables["queue"].compute(n % 313)
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            worker.stop()
            thread.join(60)
            worker.close()
        cursor.execute("SELECT VERSION()")
        (version,) = cursor.fetchone()
    finally:
        for table in tables.values():
            table.close()
        admin.close()
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18]
    versus_lambda = at_least(compared(cases["lambda"], cases["queue"]), 5)
    versus_lambda.label = "throughput vs backend lambda"
    versus_sql = at_least(compared(cases["sql"], cases["queue"]), 0.8)
    versus_sql.label = "throughput vs backend sql"
    return Row(
        "11",
        MEASURED,
        AGAINST,
        [
            versus_lambda,
            versus_sql,
            Figure("queue, rows per second", 1 / cases["queue"].median, "rows/s"),
            Figure("single `compute()` with an idle worker, p50", p50, "ms", "< 50 ms", p50 < 50),
            Figure("single `compute()` with an idle worker, p95", p95, "ms"),
        ],
        note=(
            f"Throughput ratios: time of {ROWS:,} rows on the other backend over time on the queue, paired by "
            f"round ({ROUNDS} rounds, interleaved). One private mariadbd {version} from `fibtrigger local up`, "
            "three databases. The queue case is `compute_many` returning only when every value is stored: its "
            f"multi-row INSERTs, then one in-process worker (`fibtrigger.aws.worker`, batch {BATCH}, polling every "
            "20 ms when idle) claiming with SKIP LOCKED, one boto3 invoke per batch to `fibtrigger lambda serve`, "
            "one write-back UPDATE per batch, while compute_many polls its rows. Latency: "
            f"{LATENCY_CALLS} single `compute()` calls 50 ms apart, insert to value."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _unavailable(reason: str) -> Row:
    return Row("11", MEASURED, AGAINST, available=False, unavailable_reason=reason)
