"""Row 7: backend `lambda` (the trigger calls the local Lambda service through lambda_sync) against `sql`."""

import http.client
import json
import tempfile
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from fibtrigger import backend, migrate
from fibtrigger.errors import FibtriggerError
from fibtrigger.local import servers as local_stack
from fibtrigger.local.proxy import LOCAL_ACCOUNT_ID
from fibtrigger.local.servers import HOST
from fibtrigger.local.service import DEFAULT_FUNCTION_NAMES
from fibtrigger.schema import mysql
from fibtrigger.table import FibonacciTable

from .model import Figure, Row, Settings, at_least
from .single_calls import N
from .timing import compared, interleave

FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT_ID}:function:{DEFAULT_FUNCTION_NAMES[0]}"
MEASURED = f"backend `lambda` through the local `lambda_sync`: `compute({N})`, one call at a time"
AGAINST = "backend `sql` (fibcomp), same inserts, same private server"


def row(settings: Settings) -> Row:
    return on_local_stack(settings, lambda stack: _measure(stack, settings), _unavailable)


def on_local_stack(settings: Settings, measure: Callable[[Any], Row], unavailable: Callable[[str], Row]) -> Row:
    """``measure(stack)`` on a private `fibtrigger local up` stack, stopped afterwards; in --quick,
    or when the stack does not start, ``unavailable(reason)``."""
    if not settings.lambda_backend:
        return unavailable("not run: --quick does not start the private mariadbd")
    with tempfile.TemporaryDirectory(prefix="fibtrigger-bench-stack-") as directory:
        try:
            stack = local_stack.up(directory, db_port=0, lambda_port=0)
        except FibtriggerError as error:
            return unavailable(f"the local stack did not start: {error}")
        try:
            return measure(stack)
        finally:
            local_stack.down(directory)


def _measure(stack, settings: Settings) -> Row:
    base = make_url(stack.database_url)
    admin = local_stack.admin_connection(stack)
    service = http.client.HTTPConnection(HOST, stack.lambda_port, timeout=30)
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
        cursor.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit")
        version, flush = cursor.fetchone()
        # One call through the UDF and the service, without the INSERT around it.
        call_udf = f"SELECT {mysql.LAMBDA_FUNCTION_NAME}('{FUNCTION_ARN}', {N})"
        invoke_path = f"/2015-03-31/functions/{DEFAULT_FUNCTION_NAMES[0]}/invocations"
        invoke_body = json.dumps({"fib": N})

        def repeat(action):
            def case() -> int:
                for _ in range(settings.calls):
                    action()
                return settings.calls

            return case

        def udf_call() -> None:
            cursor.execute(call_udf)
            cursor.fetchall()

        def http_invoke() -> None:
            service.request("POST", invoke_path, invoke_body, {"Content-Type": "application/json"})
            service.getresponse().read()

        cursor.execute(f"USE `{base.set(database='fibtrigger_bench_lambda').database}`")
        before = local_stack.lambda_metrics(stack) or {}
        cases = interleave(
            {
                "sql": repeat(lambda: tables["sql"].compute(N)),
                "lambda": repeat(lambda: tables["lambda"].compute(N)),
                "fiblambda_select": repeat(udf_call),
                "service_http_invoke": repeat(http_invoke),
            },
            settings.rounds,
        )
        after = local_stack.lambda_metrics(stack) or {}
    finally:
        for table in tables.values():
            table.close()
        service.close()
        admin.close()
    invoked = after.get("invocations", 0) - before.get("invocations", 0)
    expected = 3 * settings.calls * (settings.rounds + 1)  # three cases invoke; warm-up included
    us = {name: samples.median * 1e6 for name, samples in cases.items()}
    return Row(
        "7",
        MEASURED,
        AGAINST,
        [
            at_least(compared(cases["sql"], cases["lambda"]), 0.5),
            Figure("lambda minus sql, per row", us["lambda"] - us["sql"], "us"),
            Figure("`SELECT fiblambda(arn, 92)` alone, per call", us["fiblambda_select"], "us"),
            Figure("the service alone, per POST (Python client)", us["service_http_invoke"], "us"),
        ],
        note=(
            f"Throughput ratio lambda/sql. Both databases on one private mariadbd {version} started by "
            f"`fibtrigger local up` (innodb_flush_log_at_trx_commit={flush}). Each lambda row is one HTTP "
            "POST from the UDF over its kept-alive connection to `fibtrigger lambda serve` (Python "
            "http.server with the service's own request parser, fibtrigger.local.http_request; 127.0.0.1), "
            "which runs lambda_handler. To locate the cost, two more cases ran "
            "interleaved with these: `SELECT fiblambda(arn, 92)` (one UDF call, no INSERT) and a POST "
            f"to the service from Python over a kept-alive connection. The service counted {invoked:,} "
            f"invocations for {expected:,} expected."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _unavailable(reason: str) -> Row:
    return Row("7", MEASURED, AGAINST, available=False, unavailable_reason=reason)
