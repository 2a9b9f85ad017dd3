"""The queue backend end to end: the shared MariaDB (no lambda_sync), the real local Lambda service
(the real handler behind HTTP), workers in this process and as `fibtrigger worker` processes, the
mariadb client and `fibtrigger` as a user runs them."""

import os
import signal
import subprocess
import sys
import threading
import time

import pymysql
import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import backend, compute, compute_many, migrate, queue
from fibtrigger.aws.invoke import NO_CREDENTIALS
from fibtrigger.aws.worker import Worker, WorkerSettings
from fibtrigger.cli import main
from fibtrigger.errors import BackendError, ConfigurationError, InvalidArgument, ResultPending
from fibtrigger.lambda_function import function as lambda_function
from fibtrigger.lambda_function.contract import load_answer
from fibtrigger.local.service import LocalLambdaService

pytestmark = pytest.mark.mysql

LIMITED = {"FIBTRIGGER_LAMBDA_MAX_FIB": "100"}  # the function refuses fib > 100; the table takes up to 312


@pytest.fixture(scope="module")
def aws_env():
    """Dummy keys and a region for boto3 (the local service checks no signature)."""
    return {
        "AWS_ACCESS_KEY_ID": "AKIAQUEUETESTKEY0000",
        "AWS_SECRET_ACCESS_KEY": "queue-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def service(aws_env, monkeypatch):
    """The local Lambda service on a free port; AWS_ENDPOINT_URL_LAMBDA points boto3 at it."""
    with LocalLambdaService() as running:
        for name, value in {**aws_env, "AWS_ENDPOINT_URL_LAMBDA": running.url}.items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture(scope="module")
def database(mysql_databases):
    url = mysql_databases.create("queue")
    migrate.upgrade(url)
    return url


@pytest.fixture
def url(database, mysql_databases, service):
    """The module's database on the queue backend, emptied, its function the local service's."""
    backend.use_sql(database)
    admin = mysql_databases.admin(database.database)
    admin.cursor().execute("DELETE FROM fibonacci")
    admin.close()
    backend.use_queue(database, service.function_arn())
    yield database
    backend.use_sql(database)


@pytest.fixture
def raw(url, mysql_databases):
    connection = mysql_databases.admin(url.database)
    yield connection
    connection.close()


def plain(url) -> str:
    return url.render_as_string(hide_password=False)


def rows(connection, columns="fib, value, queue_state, attempts"):
    cursor = connection.cursor()
    cursor.execute(f"SELECT {columns} FROM fibonacci ORDER BY id")
    return cursor.fetchall()


def running_worker(url, **settings):
    """A worker in a thread of this process; returns (worker, thread, log lines)."""
    lines: list[str] = []
    worker = Worker(url, WorkerSettings(**settings), log=lines.append)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread, lines


def stop(worker, thread):
    worker.stop()
    thread.join(30)
    worker.close()
    assert not thread.is_alive()


def worker_process(url, service, aws_env, *args):
    env = {**os.environ, **aws_env, "AWS_ENDPOINT_URL_LAMBDA": service.url}
    return subprocess.Popen(
        [sys.executable, "-m", "fibtrigger", "worker", "--database-url", plain(url), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ---- rows on the queue backend ---------------------------------------------------------


def test_rows_wait_visibly_and_bad_input_is_refused_at_once(url, raw, service):
    assert str(backend.current_backend(url)) == f"queue {service.function_arn()}"
    cursor = raw.cursor()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        cursor.execute("INSERT INTO fibonacci VALUES (-1, NULL)")
    assert refused.value.args[0] == 1644 and "between 0 and 312" in refused.value.args[1]
    with pytest.raises(InvalidArgument):
        compute(313, url=url, timeout=1)
    cursor.execute("INSERT INTO fibonacci VALUES (10, 999)")  # the caller's value is never stored
    cursor.execute("SELECT * FROM fibonacci")
    assert cursor.fetchall() == ((10, None),) and [d[0] for d in cursor.description] == ["fib", "value"]
    assert rows(raw) == ((10, None, "pending", 0),)
    cursor.execute("UPDATE fibonacci SET value = 42")  # only a worker's claimed write-back sets a value
    with pytest.raises(pymysql.err.OperationalError):  # the CHECK: a done row has a value
        cursor.execute("UPDATE fibonacci SET queue_state = 'done'")
    assert rows(raw) == ((10, None, "pending", 0),)
    assert queue.status(url).pending == 1


def test_an_update_of_fib_makes_a_done_row_wait_again(url, raw, service):
    worker, thread, _ = running_worker(url)
    try:
        assert compute(10, url=url) == 55
        raw.cursor().execute("UPDATE fibonacci SET fib = 20")
        assert rows(raw)[0][:3] in ((20, None, "pending"), (20, None, "claimed"), (20, 6765, "done"))
        wait_for(lambda: rows(raw)[0][1] is not None)
        assert rows(raw) == ((20, 6765, "done", 1),)
    finally:
        stop(worker, thread)


def test_every_value_0_to_312_through_the_queue(url, service):
    worker, thread, lines = running_worker(url)
    try:
        assert compute_many(range(313), url=url) == [fibonacci(n) for n in range(313)]
        assert compute(312, url=url) == fibonacci(312)
    finally:
        stop(worker, thread)
    assert all("0 errors" in line for line in lines)
    assert service.metrics()["batch_items"] == 314


def test_the_mariadb_client_seed_and_worker_once(url, raw, service, aws_env):
    client = ["mariadb", "-uroot", "-h127.0.0.1", f"-P{url.port or 3306}", url.database]
    seed = "INSERT INTO fibonacci VALUES (10, null); SELECT * FROM fibonacci;"
    done = subprocess.run([*client, "-e", seed], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "fib\tvalue\n10\tNULL\n"
    worker = worker_process(url, service, aws_env, "--once")
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert "batch: 1 rows, 1 written, 0 errors" in err and "stopped: 1 batches" in err
    done = subprocess.run([*client, "-e", "SELECT * FROM fibonacci"], capture_output=True, text=True, timeout=60)
    assert done.stdout == "fib\tvalue\n10\t55\n"


# ---- many workers, dead workers, a dead service -----------------------------------------


def test_sigterm_stops_a_worker_cleanly(url, raw, service, aws_env):
    worker = worker_process(url, service, aws_env)
    raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (12)")
    wait_for(lambda: rows(raw)[0][1] is not None)  # it is up, and idle again
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0 and "Traceback" not in err, err
    assert err.splitlines()[-1].endswith("stopped: 1 batches, 1 rows, 1 written, 0 errors, 0 stale")


@pytest.mark.slow  # about 15 s here: 20,000 rows, three worker processes
def test_three_workers_share_20000_rows(url, raw, service, aws_env):
    count = 20_000
    cursor = raw.cursor()
    for start in range(0, count, 5000):
        values = ",".join(f"({n % 313})" for n in range(start, start + 5000))
        cursor.execute(f"INSERT INTO fibonacci (fib) VALUES {values}")
    workers = [worker_process(url, service, aws_env, "--once") for _ in range(3)]
    written = 0
    for worker in workers:
        _, err = worker.communicate(timeout=200)
        assert worker.returncode == 0, err
        written += int(err.rsplit("stopped: ", 1)[1].split(" written")[0].rsplit(", ", 1)[1])
    found = rows(raw)
    assert len(found) == count
    assert all(value == fibonacci(fib) and state == "done" for fib, value, state, _ in found)
    assert max(attempts for *_, attempts in found) <= 2  # each row claimed, and so sent, at most twice
    assert count <= service.metrics()["batch_items"] <= 2 * count
    assert written == count  # no row written twice


def test_a_worker_killed_mid_batch_loses_nothing(url, raw, aws_env):
    def slow(event, context):
        time.sleep(1.0)
        return lambda_function.handler(event, context)

    with LocalLambdaService(handler=slow, function_names=("fibtrigger",)) as slow_service:
        raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES " + ",".join(f"({n})" for n in range(50)))
        victim = worker_process(url, slow_service, aws_env, "--lease-seconds", "2", "--batch-size", "50")
        wait_for(lambda: {state for _, _, state, _ in rows(raw)} == {"claimed"})
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        assert {state for _, _, state, _ in rows(raw)} == {"claimed"}
        rescuer = worker_process(url, slow_service, aws_env, "--once", "--lease-seconds", "4")
        _, err = rescuer.communicate(timeout=120)
        assert rescuer.returncode == 0, err
    assert rows(raw) == tuple((n, fibonacci(n), "done", 2) for n in range(50))


def test_the_next_batch_is_leased_during_a_call_and_handed_back_on_stop(url, raw, aws_env, monkeypatch):
    """While a batch is being called, the worker has already claimed the next one; stopped then, it
    finishes the batch in hand and hands the other back unsent, its attempt undone."""
    called, go_on = threading.Event(), threading.Event()

    def gated(event, context):
        called.set()
        go_on.wait(30)
        return lambda_function.handler(event, context)

    with LocalLambdaService(handler=gated, function_names=("fibtrigger",)) as gated_service:
        for name, value in {**aws_env, "AWS_ENDPOINT_URL_LAMBDA": gated_service.url}.items():
            monkeypatch.setenv(name, value)
        raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES " + ",".join(f"({n})" for n in range(20)))
        worker, thread, _ = running_worker(url, function_arn=gated_service.function_arn(), batch_size=10)
        try:
            assert called.wait(30)
            wait_for(lambda: [state for _, _, state, _ in rows(raw)] == ["claimed"] * 20)
            worker.stop()
        finally:
            go_on.set()
            stop(worker, thread)
        assert gated_service.metrics()["batch_items"] == 10
    found = rows(raw)
    assert found[:10] == tuple((n, fibonacci(n), "done", 1) for n in range(10))
    assert found[10:] == tuple((n, None, "pending", 0) for n in range(10, 20))


def test_rows_wait_while_the_service_is_down_with_a_growing_backoff(url, raw, service, monkeypatch):
    arn = service.function_arn()
    service.stop()
    raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (30)")
    worker, thread, lines = running_worker(url, function_arn=arn, backoff_seconds=0.3, max_attempts=50)
    try:
        claims = []  # when attempts went up: the gaps hold the backoff
        last = 0
        while len(claims) < 4:
            (_, value, state, attempts), = rows(raw)
            assert value is None
            if attempts != last:
                claims.append(time.monotonic())
                last = attempts
            time.sleep(0.005)
        gaps = [b - a for a, b in zip(claims, claims[1:], strict=False)]
        # Attempt k waits 0.3 * 2^(k-1) s, times 0.5-1.0, so the first gap is at least 0.15 s and the
        # third at least 0.6 s: more than the first wait can ever be (0.3 s). Lower bounds only: load
        # can stretch a gap, never shorten it.
        assert gaps[0] >= 0.15 and gaps[2] >= 0.6
        assert any("invoking" in line and "failed" in line for line in lines)
        # The 4th attempt was seen at its claim; its release (pending again, backed off for at
        # least 1.2 s) follows the failed call.
        wait_for(lambda: queue.status(url).in_flight == 0)
        status = queue.status(url)
        assert status.pending == 1 and status.last_errors and "failed" in status.last_errors[0].error
        monkeypatch.setattr(service, "requested_port", service.port)
        service.start()  # back on the same port
        main(["queue", "retry", "--database-url", plain(url)])  # skip the rest of the backoff
        wait_for(lambda: rows(raw)[0][1] is not None)
    finally:
        stop(worker, thread)
    assert rows(raw)[0][:3] == (30, fibonacci(30), "done")


# ---- failures -----------------------------------------------------------------------------


def test_one_bad_item_fails_alone_and_retry_redrives_it(url, raw, aws_env, monkeypatch, capsys):
    with LocalLambdaService(environment=LIMITED) as limited:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", limited.url)
        raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (5), (200), (7)")
        worker = Worker(url, WorkerSettings(once=True, max_attempts=3, backoff_seconds=0.01), log=lambda _: None)
        report = worker.run()
        worker.close()
        assert (report.written, report.errors) == (2, 3)
        assert rows(raw) == ((5, 5, "done", 1), (200, None, "failed", 3), (7, 13, "done", 1))
        assert main(["queue", "status", "--json", "--database-url", plain(url)]) == 0
        status = capsys.readouterr().out
        assert '"failed":1' in status and "fib must be between 0 and 100, got 200" in status
    with LocalLambdaService() as whole:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", whole.url)
        assert main(["queue", "retry", "--failed", "--database-url", plain(url)]) == 0
        assert "rows due now" in capsys.readouterr().out
        worker = Worker(url, WorkerSettings(once=True, function_arn=whole.function_arn()), log=lambda _: None)
        worker.run()
        worker.close()
    assert [row[:3] for row in rows(raw)][1] == (200, fibonacci(200), "done")


@pytest.fixture
def failing_compute(url, raw, aws_env, monkeypatch):
    """compute(200) racing a worker whose function refuses 200, one attempt only."""
    with LocalLambdaService(environment=LIMITED) as limited:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", limited.url)
        worker, thread, _ = running_worker(url, max_attempts=1, function_arn=limited.function_arn())
        yield
        stop(worker, thread)


def test_compute_raises_backend_error_for_a_failed_row(url, failing_compute):
    with pytest.raises(BackendError, match="failed on the queue backend: .*between 0 and 100, got 200"):
        compute(200, url=url, timeout=20)
    assert compute(100, url=url, timeout=20) == fibonacci(100)


def test_compute_timeout_names_the_stored_rows(url, raw):
    with pytest.raises(ResultPending) as pending:
        compute_many([3, 4], url=url, timeout=0.3)
    ids = pending.value.row_ids
    assert len(ids) == 2 and "stored but still pending after 0.3 s" in str(pending.value)
    assert "invisible id (SELECT id, fib, value FROM fibonacci WHERE id" in str(pending.value)
    cursor = raw.cursor()
    cursor.execute(f"SELECT fib, value FROM fibonacci WHERE id IN ({ids[0]}, {ids[1]}) ORDER BY id")
    assert cursor.fetchall() == ((3, None), (4, None))
    with pytest.raises(InvalidArgument):
        compute(3, url=url, timeout=0)


# ---- swaps --------------------------------------------------------------------------------


class Inserting:
    """Three threads calling compute() until the block ends; every failure is kept."""

    def __init__(self, url) -> None:
        self.url = url
        self.failures: list[Exception] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._insert, args=(offset,)) for offset in range(3)]

    def _insert(self, n: int) -> None:
        while not self._stop.is_set():
            try:
                assert compute(n % 313, url=self.url, timeout=30) == fibonacci(n % 313)
            except Exception as error:  # noqa: BLE001 - collected for the test's assertion
                self.failures.append(error)
            n += 7

    def __enter__(self) -> "Inserting":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def test_swaps_under_load_leave_no_wrong_and_no_null_row(url, raw, service):
    worker, thread, _ = running_worker(url)
    try:
        with Inserting(url) as inserting:
            for _ in range(3):
                time.sleep(0.2)
                assert backend.use_sql(url).changed
                time.sleep(0.2)
                assert backend.use_queue(url, service.function_arn()).changed
            backend.use_sql(url)
            cursor = raw.cursor()
            cursor.execute("SELECT COUNT(*) FROM fibonacci WHERE value IS NULL")
            assert cursor.fetchone() == (0,)  # none left NULL by the swap to sql, with inserts running
    finally:
        stop(worker, thread)
    assert not inserting.failures, inserting.failures[:3]
    found = rows(raw)
    assert len(found) > 50
    assert all(value == fibonacci(fib) and state == "done" for fib, value, state, _ in found)


def test_swaps_between_sql_lambda_and_queue_under_load(lambda_stack, aws_env, monkeypatch):
    """On `fibtrigger local up` (lambda_sync to the local service): every backend in turn while
    three threads insert and a worker runs; leaving the queue for lambda computes the waiting rows
    through lambda_sync."""
    for name, value in {**aws_env, "AWS_ENDPOINT_URL_LAMBDA": lambda_stack.lambda_endpoint}.items():
        monkeypatch.setenv(name, value)
    url = lambda_stack.database_url
    migrate.upgrade(url)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
    backend.use_queue(url, arn)
    worker, thread, _ = running_worker(url)
    try:
        with Inserting(url) as inserting:
            for use in (backend.use_sql, backend.use_lambda, backend.use_queue, backend.use_lambda, backend.use_queue):
                time.sleep(0.3)
                assert (use(url) if use is backend.use_sql else use(url, arn)).changed
            time.sleep(0.3)
            backend.use_sql(url)
    finally:
        stop(worker, thread)
    assert not inserting.failures, inserting.failures[:3]
    admin = lambda_stack_admin(lambda_stack)
    found = rows(admin)
    admin.close()
    assert len(found) > 30 and all(value == fibonacci(fib) and state == "done" for fib, value, state, _ in found)


def lambda_stack_admin(stack):
    from fibtrigger.local import servers

    return servers.admin_connection(stack, "fibtrigger")


# ---- answers checked as strictly as fiblambda, and setup errors --------------------------


def test_a_malformed_answer_item_is_that_rows_error_never_a_value(url, raw):
    raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (3), (4), (5), (6), (7), (8)")
    answers = (
        '{"results": [{"fib": 3, "value": "2"}, {"fib": 4, "value": "3", "extra": 1},'
        ' {"fib": true, "value": "5"}, {"fib": 6, "value": "8", "value": "9"},'
        ' {"fib": 7, "value": "13", "number": "13"}, {"fib": 8.0, "value": "21", "number": 21}]}'
    )
    settings = WorkerSettings(once=True, max_attempts=1, function_arn="arn:aws:lambda:us-east-1:0:function:x")
    worker = Worker(url, settings, invoker=lambda _fibs: load_answer(answers)["results"], log=lambda _: None)
    report = worker.run()
    worker.close()
    assert (report.written, report.errors) == (2, 4)
    assert rows(raw) == ((3, 2, "done", 1), (4, None, "failed", 1), (5, None, "failed", 1),
                         (6, None, "failed", 1), (7, None, "failed", 1), (8, 21, "done", 1))


def test_worker_setup_errors_end_it_at_once(url, capsys):
    for broken, code, message in [
        (url.set(username="no_such_queuefix_user", password="x"), 2, "denied"),
        (url.set(database="no_such_queuefix_db"), 2, "no_such_queuefix_db"),
        (url.set(query={"charset": "nope"}), 2, "charset"),
        (url.set(host="127.0.0.1", port=1), 1, "127.0.0.1:1"),
    ]:
        for once in (["--once"], []):
            assert main(["worker", *once, "--database-url", plain(broken)]) == code
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("fibtrigger: ") and message in lines[0], lines


def test_a_worker_without_aws_credentials_claims_nothing(url, raw, service, tmp_path):
    raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (12)")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    nowhere = str(tmp_path / "none")
    env.update(
        AWS_ENDPOINT_URL_LAMBDA=service.url, AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=nowhere, AWS_CONFIG_FILE=nowhere,
    )
    done = subprocess.run(
        [sys.executable, "-m", "fibtrigger", "worker", "--once", "--database-url", plain(url)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"fibtrigger: {NO_CREDENTIALS}"]
    assert rows(raw) == ((12, None, "pending", 0),)  # not claimed: no lease to wait out, no attempt spent


def test_a_call_refused_before_it_is_sent_hands_the_batch_back(url, raw):
    raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (12), (13)")

    def refused(_fibs):
        raise ConfigurationError("no AWS region")

    worker = Worker(url, WorkerSettings(), invoker=refused, log=lambda _: None)
    with pytest.raises(ConfigurationError):
        worker.run()
    worker.close()
    assert rows(raw) == ((12, None, "pending", 0), (13, None, "pending", 0))


def test_a_check_constraint_violation_is_a_typed_error(url, raw):
    from sqlalchemy import text

    from fibtrigger.database import make_engine, translated
    from fibtrigger.errors import ConstraintViolated

    raw.cursor().execute("INSERT INTO fibonacci (fib) VALUES (9)")
    engine = make_engine(url, pool_size=1)
    try:
        with pytest.raises(ConstraintViolated, match="CHECK constraint; nothing was stored"):
            with translated(url), engine.connect() as connection:
                connection.execute(text("UPDATE fibonacci SET queue_state = 'done'"))
    finally:
        engine.dispose()
    assert rows(raw) == ((9, None, "pending", 0),)
