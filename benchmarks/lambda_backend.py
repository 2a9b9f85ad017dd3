"""Row 7: backend `lambda` (the trigger calls the local Lambda service through lambda_sync) against `sql`."""

import tempfile

import pymysql
from sqlalchemy.engine import make_url

from fibtrigger import backend, local_stack, migrate
from fibtrigger.errors import FibtriggerError
from fibtrigger.lambda_proxy import LOCAL_ACCOUNT_ID
from fibtrigger.lambda_service import DEFAULT_FUNCTION_NAMES
from fibtrigger.table import FibonacciTable

from .model import Row, Settings, at_least
from .single_calls import N
from .timing import interleave, ratio

FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT_ID}:function:{DEFAULT_FUNCTION_NAMES[0]}"
MEASURED = f"backend `lambda` through the local `lambda_sync`: `compute({N})`, one call at a time"
AGAINST = "backend `sql` (fibcomp), same inserts, same private server"


def row(settings: Settings) -> Row:
    if not settings.lambda_backend:
        return _unavailable("not run: --quick does not start the private mariadbd")
    with tempfile.TemporaryDirectory(prefix="fibtrigger-bench-stack-") as directory:
        try:
            stack = local_stack.up(directory, db_port=0, lambda_port=0)
        except FibtriggerError as error:
            return _unavailable(f"the local stack did not start: {error}")
        try:
            return _measure(stack, settings)
        finally:
            local_stack.down(directory)


def _measure(stack, settings: Settings) -> Row:
    base = make_url(stack.database_url)
    admin = pymysql.connect(unix_socket=stack.socket, user="root", autocommit=True)
    tables: dict[str, FibonacciTable] = {}
    try:
        cursor = admin.cursor()
        for name in ("sql", "lambda"):
            url = base.set(database=f"fibtrigger_bench_{name}")
            cursor.execute(f"CREATE DATABASE `{url.database}`")
            migrate.upgrade(url)
            if name == "lambda":
                backend.use_lambda(url, FUNCTION_ARN)
            tables[name] = FibonacciTable(url)
        for table in tables.values():
            table.compute(N)
        cursor.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit")
        version, flush = cursor.fetchone()
        before = local_stack.lambda_metrics(stack) or {}

        def calls(table: FibonacciTable):
            def case() -> int:
                for _ in range(settings.calls):
                    table.compute(N)
                return settings.calls

            return case

        cases = interleave({name: calls(table) for name, table in tables.items()}, settings.rounds)
        after = local_stack.lambda_metrics(stack) or {}
    finally:
        for table in tables.values():
            table.close()
        admin.close()
    invoked = after.get("invocations", 0) - before.get("invocations", 0)
    expected = settings.calls * (settings.rounds + 1)  # the warm-up sample too
    return Row(
        "7",
        MEASURED,
        AGAINST,
        [at_least(ratio(cases["sql"], cases["lambda"]), 0.5)],
        note=(
            f"Throughput ratio lambda/sql. Both databases on one private mariadbd {version} started by "
            f"`fibtrigger local up` (innodb_flush_log_at_trx_commit={flush}). Each lambda row is one HTTP "
            "POST from the UDF over its kept-alive connection to `fibtrigger lambda serve` (Python, "
            f"127.0.0.1), which runs lambda_handler; the service counted {invoked:,} invocations for "
            f"{expected:,} rows inserted (warm-up included)."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _unavailable(reason: str) -> Row:
    return Row("7", MEASURED, AGAINST, available=False, unavailable_reason=reason)
