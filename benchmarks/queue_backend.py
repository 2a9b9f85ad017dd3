"""Row 11: backend `queue` (a worker calls the local Lambda service once per batch) against `lambda` and `sql`."""

import json
import os
import statistics
import threading
import time

from sqlalchemy.engine import make_url

from fibtrigger import backend, migrate
from fibtrigger.aws.batch import BatchInvoker
from fibtrigger.aws.worker import Worker, WorkerSettings
from fibtrigger.lambda_function.contract import answer_value
from fibtrigger.local import servers as local_stack
from fibtrigger.table import FibonacciTable

from .lambda_backend import FUNCTION_ARN, on_local_stack
from .model import Figure, Row, Settings, at_least
from .timing import compared, interleave

ROWS = 10_000
BATCH = 500
ROUNDS = 5  # the lambda case takes seconds per sample
LATENCY_CALLS = 60
MEASURED = f"backend `queue`: `compute_many` of {ROWS:,} values, completed by one worker (batch {BATCH})"
AGAINST = "`compute_many` of the same values on backend `lambda` (one lambda_sync call per row) and `sql`"
# The floor: what any design that writes each value back into its row costs here. The rows are
# held by the claiming transaction's locks (no claim UPDATE), the write-back runs through no
# trigger and updates one index (the status index is dropped), and one loop drains the rows
# right after the INSERT (no polling). It keeps none of the queue's guarantees: a measure only.
FLOOR_CLAIM = (
    "SELECT id, fib FROM fibonacci WHERE due_at <= UTC_TIMESTAMP(6) ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED"
)
FLOOR_WRITE_BACK = (
    "UPDATE fibonacci JOIN JSON_TABLE(%s, '$[*]' COLUMNS (id BIGINT PATH '$[0]', "
    "value DECIMAL(65,0) PATH '$[1]')) AS answer ON fibonacci.id = answer.id "
    "SET fibonacci.value = answer.value, fibonacci.queue_state = 'done', fibonacci.due_at = NULL"
)
FLOOR_STRIP = ("DROP TRIGGER fibonacci_before_update", "ALTER TABLE fibonacci DROP INDEX fibonacci_queue_state")
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
        for name in ("sql", "lambda", "queue", "floor"):
            url = base.set(database=f"fibtrigger_bench_{name}")
            cursor.execute(f"CREATE DATABASE `{url.database}`")
            migrate.upgrade(url)
            if name == "lambda":
                backend.use_lambda(url, FUNCTION_ARN)
            if name in ("queue", "floor"):
                backend.use_queue(url, FUNCTION_ARN)
            tables[name] = FibonacciTable(url)
        cursor.execute("USE fibtrigger_bench_floor")
        for statement in FLOOR_STRIP:
            cursor.execute(statement)
        floor, floor_connection = _floor_case(tables["floor"].url, values)
        worker = Worker(tables["queue"].url, WorkerSettings(batch_size=BATCH), log=lambda line: None)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:

            def many(name):
                def case() -> int:
                    tables[name].compute_many(values, timeout=300)
                    return ROWS

                return case

            cases = interleave({**{name: many(name) for name in ("sql", "lambda", "queue")}, "floor": floor}, ROUNDS)
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
            floor_connection.close()
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
    floor_figures = []
    for other in ("lambda", "sql"):
        floor_ratio, floor_spread = compared(cases[other], cases["floor"])
        floor_figures.append(Figure(
            "floor of a per-row write-back (rows locked for the batch, no claim UPDATE, no trigger, one index), "
            f"throughput vs backend {other}", floor_ratio, "x", spread=floor_spread,
        ))
    return Row(
        "11",
        MEASURED,
        AGAINST,
        [
            versus_lambda,
            versus_sql,
            Figure("queue, rows per second", 1 / cases["queue"].median, "rows/s"),
            *floor_figures,
            Figure("single `compute()` with an idle worker, p50", p50, "ms", "< 50 ms", p50 < 50),
            Figure("single `compute()` with an idle worker, p95", p95, "ms"),
        ],
        note=(
            f"Throughput ratios: time of {ROWS:,} rows on the other backend over time on the queue, paired by "
            f"round ({ROUNDS} rounds, interleaved). One private mariadbd {version} from `fibtrigger local up`, "
            "a database per case. The queue case is `compute_many` returning only when every value is stored: its "
            f"multi-row INSERTs, then one in-process worker (`fibtrigger.aws.worker`, batch {BATCH}, polling every "
            "20 ms when idle) claiming with SKIP LOCKED, one boto3 invoke per batch to `fibtrigger lambda serve`, "
            "one write-back UPDATE per batch, while compute_many polls its rows. The floor case (a measure, "
            "not a design: it keeps none of the queue's guarantees) inserts the same rows, then one loop "
            "locks a batch with SELECT ... FOR UPDATE SKIP LOCKED, calls the same service, and writes the values "
            "back in the same transaction through no trigger and without the status index: what writing each "
            "value back into its row costs here at the least. Latency: "
            f"{LATENCY_CALLS} single `compute()` calls 50 ms apart, insert to value."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _floor_case(url, values: list[int]):
    """The same rows inserted in one statement, then drained by one loop as FLOOR_* describes."""
    import pymysql

    connection = pymysql.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    cursor = connection.cursor()
    cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")  # no gap locks
    invoker = BatchInvoker(FUNCTION_ARN)
    rows_text = "(" + "),(".join(map(str, values)) + ")"

    def case() -> int:
        cursor.execute(f"INSERT INTO fibonacci (fib) VALUES {rows_text}")
        connection.commit()
        while True:
            cursor.execute(FLOOR_CLAIM, (BATCH,))
            held = cursor.fetchall()
            if not held:
                connection.commit()
                return len(values)
            answers = invoker([fib for _, fib in held])
            checked = [
                [row_id, str(answer_value(answer, fib))] for (row_id, fib), answer in zip(held, answers, strict=True)
            ]
            cursor.execute(FLOOR_WRITE_BACK, (json.dumps(checked),))
            connection.commit()

    return case, connection


def _unavailable(reason: str) -> Row:
    return Row("11", MEASURED, AGAINST, available=False, unavailable_reason=reason)
