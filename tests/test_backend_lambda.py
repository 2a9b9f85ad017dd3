"""End to end, real processes: the trigger calls the local Lambda service through lambda_sync.

The stack is `local_stack.up()`: a private mariadbd with the UDF and the real
`fibtrigger lambda serve`. Its invocation counter proves where values came from.
A hanging function is the one fault the real service cannot play: the test
double in lambda_peer.py takes its port for that test.
"""

import random
import threading
import time

import pymysql
import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine

import fibtrigger.schema.operations  # noqa: F401  (registers op.swap_backend)
from conftest import count_rows
from fibonacci_numbers import fibonacci
from fibtrigger import backend, doctor, migrate
from fibtrigger.backend import BackendState
from fibtrigger.cli import cli
from fibtrigger.errors import FibtriggerError
from fibtrigger.lambda_function.contract import DECIMAL65_MAX_FIB
from fibtrigger.local import servers as local_stack
from fibtrigger.table import FibonacciTable
from lambda_peer import LambdaPeer
from local_stack_fixtures import invocations

pytestmark = pytest.mark.mysql

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
INTERRUPTED = (1317, 1969)  # KILL QUERY / max_statement_time


@pytest.fixture(scope="module")
def url(lambda_stack):
    """The stack's database, migrated, on the lambda backend."""
    migrate.upgrade(lambda_stack.database_url)
    backend.use_lambda(lambda_stack.database_url, ARN)
    return lambda_stack.database_url


@pytest.fixture
def raw(lambda_stack, url):
    """A MySQL client's connection, with an empty table and the lambda backend."""
    connection = local_stack.admin_connection(lambda_stack, "fibtrigger")
    connection.cursor().execute("DELETE FROM fibonacci")
    backend.use_lambda(url, ARN)
    yield connection
    connection.close()


@pytest.fixture
def table(url, raw):
    fibonacci_table = FibonacciTable(url)
    yield fibonacci_table
    fibonacci_table.close()


@pytest.fixture
def service_env(lambda_stack):
    """Restart the Lambda service with an environment; the plain service again afterwards."""

    def restart(env):
        local_stack.stop_lambda_service(lambda_stack)
        local_stack.start_lambda_service(lambda_stack, env=env)

    yield restart
    restart({})


@pytest.fixture
def service_stopped(lambda_stack):
    local_stack.stop_lambda_service(lambda_stack)
    yield
    local_stack.start_lambda_service(lambda_stack)


def rows(connection):
    cursor = connection.cursor()
    cursor.execute("SELECT fib, value FROM fibonacci")
    return [(fib, int(value)) for fib, value in cursor.fetchall()]


def test_compute_and_a_raw_insert_store_what_the_lambda_returned(lambda_stack, table, raw):
    before = invocations(lambda_stack)
    assert table.compute(10) == 55
    raw.cursor().execute("INSERT INTO fibonacci VALUES (20, null)")
    assert rows(raw) == [(10, 55), (20, 6765)]
    assert invocations(lambda_stack) == before + 2


def test_every_argument_in_range_is_correct(lambda_stack, table):
    before = invocations(lambda_stack)
    arguments = list(range(DECIMAL65_MAX_FIB + 1))
    assert table.compute_many(arguments, batch_size=100) == [fibonacci(n) for n in arguments]
    assert invocations(lambda_stack) == before + len(arguments)


@pytest.mark.parametrize("bad", ["-1", "NULL", str(DECIMAL65_MAX_FIB + 1)])
def test_bad_arguments_are_rejected_in_sql_before_any_invocation(lambda_stack, raw, bad):
    before = invocations(lambda_stack)
    with pytest.raises(pymysql.err.OperationalError) as caught:
        raw.cursor().execute(f"INSERT INTO fibonacci VALUES ({bad}, null)")
    assert caught.value.args == (1644, f"fib must be between 0 and {DECIMAL65_MAX_FIB}, got {bad}")
    assert count_rows(raw) == 0
    assert invocations(lambda_stack) == before


def test_service_down_fails_the_insert_and_stores_nothing(table, raw, service_stopped):
    with pytest.raises(FibtriggerError, match=r"lambda_sync\(arn:aws:lambda:.*fibtrigger\).*(connect|Connection)"):
        table.compute(5)
    with pytest.raises(pymysql.err.MySQLError, match="Lambda API returned error"):
        raw.cursor().execute("INSERT INTO fibonacci VALUES (5, null)")
    assert count_rows(raw) == 0


def test_a_function_error_fails_the_insert_and_stores_nothing(lambda_stack, table, raw, service_env):
    service_env({"FIBTRIGGER_LAMBDA_MAX_FIB": "10"})  # a valid SQL argument the function refuses
    with pytest.raises(FibtriggerError, match=r"function error \(Unhandled\).*fib must be between 0 and 10, got 11"):
        table.compute(11)
    assert count_rows(raw) == 0
    assert local_stack.lambda_metrics(lambda_stack)["function_errors"] == 1
    assert table.compute(10) == 55  # the same function still answers what it accepts


def test_a_hanging_function_is_interrupted_and_stores_nothing(lambda_stack, raw, service_stopped):
    peer = LambdaPeer(lambda_stack.lambda_port).start()  # takes the service's port
    peer.respond = peer.hang
    try:
        cursor = raw.cursor()
        cursor.execute("SET SESSION max_statement_time = 0.5")
        started = time.monotonic()
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute("INSERT INTO fibonacci VALUES (7, null)")
        assert caught.value.args[0] in INTERRUPTED and time.monotonic() - started < 2.5
        cursor.execute("SET SESSION max_statement_time = 0")

        outcome = {}
        worker = threading.Thread(target=_insert_catching, args=(raw, 8, outcome))
        worker.start()
        while len(peer.requests) < 2:
            time.sleep(0.02)
        killer = local_stack.admin_connection(lambda_stack)
        killer.cursor().execute(f"KILL QUERY {raw.thread_id()}")
        killer.close()
        worker.join(10)
        assert outcome["error"][0] in INTERRUPTED
        assert count_rows(raw) == 0
    finally:
        peer.stop()


def _insert_catching(connection, n, outcome):
    try:
        connection.cursor().execute(f"INSERT INTO fibonacci VALUES ({n}, null)")
    except pymysql.err.MySQLError as error:
        outcome["error"] = error.args


def test_swapping_back_and_forth_under_concurrent_inserts(lambda_stack, url, table, raw):
    before = invocations(lambda_stack)
    stop = threading.Event()
    stored, failures = [], []

    def insert(seed):
        chooser = random.Random(seed)
        while not stop.is_set():
            n = chooser.randint(0, DECIMAL65_MAX_FIB)
            try:
                stored.append((n, table.compute(n)))
            except FibtriggerError as error:
                failures.append(error)

    workers = [threading.Thread(target=insert, args=(seed,)) for seed in range(4)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(6):
            time.sleep(0.1)
            assert backend.use_sql(url).changed
            time.sleep(0.1)
            assert backend.use_lambda(url, ARN).changed
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert failures == []
    assert all(value == fibonacci(n) for n, value in stored)
    assert sorted(rows(raw)) == sorted(stored)  # no NULL, no wrong value, nothing extra
    lambda_calls = invocations(lambda_stack) - before
    assert 0 < lambda_calls < len(stored)  # both backends computed some rows


def test_open_connections_see_the_swap_without_flush_tables(lambda_stack, url, raw):
    cursor = raw.cursor()
    counts = [invocations(lambda_stack)]
    for swap in (lambda: backend.use_sql(url), lambda: backend.use_lambda(url, ARN)):
        cursor.execute("INSERT INTO fibonacci VALUES (12, null)")  # the table is open in this session
        counts.append(invocations(lambda_stack))
        swap()
    cursor.execute("INSERT INTO fibonacci VALUES (12, null)")
    counts.append(invocations(lambda_stack))
    # lambda: +1, then sql: +0, then lambda again: +1
    assert [b - a for a, b in zip(counts, counts[1:], strict=False)] == [1, 0, 1]
    assert rows(raw) == [(12, 144)] * 3


def test_switching_back_to_sql_works_with_the_service_stopped(url, table, raw, service_stopped):
    with pytest.raises(FibtriggerError, match="Lambda API returned error"):
        table.compute(3)  # still lambda: the insert fails
    assert backend.use_sql(url).after == BackendState("sql")
    assert table.compute(30) == 832040
    assert rows(raw) == [(30, 832040)]


def test_the_backend_commands_are_idempotent(url, raw):
    runner = CliRunner()
    args = ["--database-url", url, "backend"]
    done = runner.invoke(cli, [*args, "lambda", "--function-arn", ARN])
    assert done.exit_code == 0 and f"backend already lambda {ARN}" in done.output
    assert runner.invoke(cli, args).output.strip() == f"lambda {ARN}"
    assert "backend lambda " in runner.invoke(cli, [*args, "sql"]).output
    assert "backend already sql" in runner.invoke(cli, [*args, "sql"]).output
    other = ARN.replace(":fibtrigger", ":fibtrigger:live")
    assert f"-> lambda {other}" in runner.invoke(cli, [*args, "lambda", "--function-arn", other]).output
    assert backend.current_backend(url) == BackendState("lambda", other)


def test_alembic_downgrade_returns_to_sql_and_op_swap_backend_works(lambda_stack, url, raw):
    assert backend.current_backend(url).name == "lambda"
    migrate.downgrade(url, "0001")
    before = invocations(lambda_stack)
    assert FibonacciTable(url).compute(15) == 610
    assert invocations(lambda_stack) == before
    migrate.upgrade(url)
    assert backend.current_backend(url) == BackendState("sql")

    engine = create_engine(url)
    with engine.begin() as connection:
        Operations(MigrationContext.configure(connection)).swap_backend("lambda", function_arn=ARN)
    assert backend.current_backend(url) == BackendState("lambda", ARN)
    with engine.begin() as connection:
        Operations(MigrationContext.configure(connection)).swap_backend("sql")
    engine.dispose()
    assert backend.current_backend(url) == BackendState("sql")


def test_doctor_reports_lambda_sync_and_the_backend(url, raw):
    checks = {check.name: check for check in doctor.diagnose(url)}
    assert checks["lambda_sync"].ok and checks["lambda_sync"].detail == "available (the local UDF)"
    assert checks["backend"].ok and checks["backend"].detail == f"lambda {ARN}"


def test_doctor_makes_a_real_call_through_the_lambda_and_fails_while_it_is_stopped(lambda_stack, url, raw):
    before = invocations(lambda_stack)
    checks = {check.name: check for check in doctor.diagnose(url)}
    assert checks["test call"].ok and invocations(lambda_stack) == before + 1
    local_stack.stop_lambda_service(lambda_stack)
    try:
        checks = {check.name: check for check in doctor.diagnose(url)}
    finally:
        local_stack.start_lambda_service(lambda_stack)
    assert not checks["test call"].ok and "Lambda API returned error" in checks["test call"].detail
    assert "fibtrigger backend sql" in checks["test call"].fix
    assert count_rows(raw) == 0
