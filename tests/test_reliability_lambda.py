"""The lambda backend under load and faults, on the real local stack (private mariadbd + lambda_sync +
the local Lambda service), and a server restart between calls.

The Lambda service's invocation counter shows where every value came from, and that a call the
database rolled back was still made (the Guarantees section of the README says so).
"""

import tempfile
import threading
import time
import uuid
from pathlib import Path

import pymysql
import pytest

from conftest import count_rows
from fibonacci_numbers import fibonacci
from fibtrigger import backend, migrate
from fibtrigger.errors import BackendError, DatabaseUnreachable, OutcomeUnknown, StatementAborted
from fibtrigger.local import servers as local_stack
from fibtrigger.table import FibonacciTable
from lambda_peer import LambdaPeer
from local_stack_fixtures import invocations
from test_reliability_concurrency import check_table, run_workload

pytestmark = pytest.mark.mysql

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"


@pytest.fixture(scope="module")
def url(lambda_stack):
    migrate.upgrade(lambda_stack.database_url)
    backend.use_lambda(lambda_stack.database_url, ARN)
    return lambda_stack.database_url


def connect(stack):
    return local_stack.admin_connection(stack, local_stack.DATABASE)


@pytest.fixture
def raw(lambda_stack, url):
    connection = connect(lambda_stack)
    connection.cursor().execute("DELETE FROM fibonacci")
    yield connection
    connection.close()


@pytest.fixture
def table(url):
    fibonacci_table = FibonacciTable(url)
    yield fibonacci_table
    fibonacci_table.close()


@pytest.fixture
def hanging_lambda(lambda_stack):
    """A Lambda endpoint that never answers, on the service's port."""
    local_stack.stop_lambda_service(lambda_stack)
    peer = LambdaPeer(lambda_stack.lambda_port).start()
    peer.respond = peer.hang
    yield peer
    peer.stop()
    local_stack.start_lambda_service(lambda_stack)


@pytest.mark.slow
def test_concurrent_calls_through_the_lambda_store_exactly_the_successful_rows(lambda_stack, table, raw):
    before = invocations(lambda_stack)
    workload = run_workload(table, lambda: connect(lambda_stack), max_many=3)
    check_table(workload, raw)
    assert invocations(lambda_stack) - before == count_rows(raw)  # every value came from the Lambda


def test_a_connection_killed_during_the_lambda_call_is_outcome_unknown(lambda_stack, url, raw, hanging_lambda):
    table = FibonacciTable(url)
    outcome = {}

    def call():
        try:
            table.compute(7)
        except Exception as error:  # noqa: BLE001 - inspected below
            outcome["error"] = error

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 10
    while not hanging_lambda.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    killer = connect(lambda_stack)
    cursor = killer.cursor()
    cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO fibonacci%'")
    (connection_id,), = cursor.fetchall()
    cursor.execute(f"KILL CONNECTION {connection_id}")
    killer.close()
    caller.join(10)
    table.close()
    assert isinstance(outcome.get("error"), OutcomeUnknown), outcome
    time.sleep(0.3)
    assert len(hanging_lambda.requests) == 1  # the Lambda was called once and the insert never re-sent
    assert count_rows(raw) == 0


def test_a_statement_timeout_stops_a_hanging_lambda_call(lambda_stack, url, raw, hanging_lambda):
    limited = FibonacciTable(url + "?init_command=SET SESSION max_statement_time = 0.5")
    try:
        started = time.monotonic()
        # lambda_sync reports the interruption itself, so it cannot say which of the two it was.
        with pytest.raises(StatementAborted, match="interrupted by KILL QUERY or max_statement_time"):
            limited.compute(8)
        assert time.monotonic() - started < 3
    finally:
        limited.close()
    assert len(hanging_lambda.requests) == 1 and count_rows(raw) == 0


def test_a_lambda_that_cannot_be_reached_is_a_backend_error(lambda_stack, table, raw):
    local_stack.stop_lambda_service(lambda_stack)
    try:
        with pytest.raises(BackendError, match="lambda_sync"):
            table.compute(9)
        with pytest.raises(BackendError):
            table.compute_many([1, 2, 3], batch_size=2)
        assert count_rows(raw) == 0
    finally:
        local_stack.start_lambda_service(lambda_stack)
    assert table.compute(9) == 34


def test_a_rolled_back_insert_does_not_undo_the_lambda_call(lambda_stack, raw):
    cursor = raw.cursor()
    before = invocations(lambda_stack)
    cursor.execute("BEGIN")
    cursor.execute("INSERT INTO fibonacci VALUES (7, null), (8, null)")
    cursor.execute("ROLLBACK")
    assert count_rows(raw) == 0
    assert invocations(lambda_stack) - before == 2  # the function ran for both rows all the same
    before = invocations(lambda_stack)
    with pytest.raises(pymysql.err.OperationalError, match="got 313"):
        cursor.execute("INSERT INTO fibonacci VALUES (1, null), (2, null), (313, null)")
    assert count_rows(raw) == 0
    assert invocations(lambda_stack) - before == 2  # rows 1 and 2 were computed before 313 was refused


def test_the_pool_recovers_after_a_server_restart_between_calls(lambda_stack, url):
    """Last in the module: it restarts the stack's mariadbd (and its Lambda service)."""
    cleaner = connect(lambda_stack)
    cleaner.cursor().execute("DELETE FROM fibonacci")
    cleaner.close()
    table = FibonacciTable(url)
    try:
        assert table.compute(10) == 55  # the pool now holds a connection to this server process
        local_stack.down(lambda_stack.state_dir)
        # A starting mariadbd deletes every #sql* file in its tmpdir: in the shared one, another
        # server's live temporary tables. The local stack has a tmpdir of its own.
        probe = Path(tempfile.gettempdir()) / f"#sql-fibtrigger-probe-{uuid.uuid4().hex}.MAI"
        probe.touch()
        try:
            local_stack.up(lambda_stack.state_dir)
            assert probe.exists()
        finally:
            probe.unlink(missing_ok=True)
        before = invocations(lambda_stack)
        assert table.compute(20) == fibonacci(20)  # the dead pooled connection is dropped, not used
        assert table.compute_many([21, 22], batch_size=1) == [fibonacci(21), fibonacci(22)]
        assert invocations(lambda_stack) - before == 3
        local_stack.down(lambda_stack.state_dir)
        with pytest.raises(DatabaseUnreachable):
            table.compute(11)  # while it is down: a typed error, not a hang
        local_stack.up(lambda_stack.state_dir)
        assert table.compute(23) == fibonacci(23)
    finally:
        table.close()
    assert table.rows() == [(n, fibonacci(n)) for n in (10, 20, 21, 22, 23)]
