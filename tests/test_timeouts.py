"""No call hangs forever: a server that accepts TCP but never speaks MySQL, and a stopped (SIGSTOP)
mariadbd, each fail within the URL's connect/read timeouts, with a typed error, on every driver."""

import os
import shutil
import signal
import socket
import threading
import time

import pytest

from fibtrigger import migrate
from fibtrigger.database import TIMEOUTS, make_engine
from fibtrigger.errors import ConfigurationError, DatabaseUnreachable, OutcomeUnknown
from fibtrigger.local import servers as local_stack
from fibtrigger.table import FibonacciTable
from local_stack_fixtures import require_local_tools, stack_base
from test_drivers import DRIVERS, require_driver

pytestmark = pytest.mark.mysql

# mariadb+pymysql is PyMySQL again: the four distinct client implementations.
CLIENTS = [name for name in DRIVERS if name != "mariadb+pymysql"]
SHORT = {"connect_timeout": "1", "read_timeout": "1", "write_timeout": "1"}
GIVE_UP_SECONDS = 30  # far above the 1 s timeouts: reached only if the call hangs


@pytest.fixture(params=CLIENTS)
def drivername(request) -> str:
    require_driver(request.param)
    return request.param


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 whose server accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
    server.close()
    thread.join()
    for connection in accepted:
        connection.close()


def outcome_of(call) -> BaseException | None:
    """Run ``call`` in a thread; fail the test if it has not returned after GIVE_UP_SECONDS."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GIVE_UP_SECONDS)
    assert outcome, f"the call was still waiting after {GIVE_UP_SECONDS} s"
    return outcome[0]


def test_a_server_that_never_speaks_mysql_is_unreachable(drivername, silent_port, monkeypatch):
    # The defaults apply to a URL that sets no timeout; made short here to keep the test fast.
    for name in TIMEOUTS:
        monkeypatch.setitem(TIMEOUTS, name, 1)
    table = FibonacciTable(f"{drivername}://root@127.0.0.1:{silent_port}/fibtrigger")
    try:
        error = outcome_of(lambda: table.compute(5))
    finally:
        table.close()
    assert isinstance(error, DatabaseUnreachable), repr(error)


def test_the_defaults_bound_every_wait():
    assert set(TIMEOUTS) == {"connect_timeout", "read_timeout", "write_timeout"}
    assert all(0 < seconds <= 120 for seconds in TIMEOUTS.values())
    engine = make_engine("mysql+pymysql://root@127.0.0.1/x?read_timeout=7")
    try:
        assert "read_timeout" not in engine.url.query  # passed to the driver, as a number
    finally:
        engine.dispose()


@pytest.mark.parametrize("query", ["read_timeout=-1", "connect_timeout=0", "write_timeout=1.5", "read_timeout=x"])
def test_a_bad_timeout_in_the_url_is_a_configuration_error(query):
    with pytest.raises(ConfigurationError, match="whole number of seconds"):
        FibonacciTable(f"mysql+pymysql://root:secret@127.0.0.1/x?{query}")


@pytest.fixture(scope="module")
def stoppable_server():
    """A private mariadbd that the tests may SIGSTOP, with the fibtrigger schema installed."""
    require_local_tools()
    base = stack_base("stoppable-mariadbd")
    directory = base / "state"
    stack = local_stack.up(directory, db_port=0, lambda_port=0, lambda_service=False)
    try:
        migrate.upgrade(stack.database_url)
        yield stack
    finally:
        os.kill(stack.mariadbd_pid, signal.SIGCONT)
        local_stack.down(directory)
        shutil.rmtree(base, ignore_errors=True)


def test_a_stopped_server_is_a_typed_error_within_the_timeouts(drivername, stoppable_server):
    url = stoppable_server.database_url.replace("mysql+pymysql", drivername, 1)
    url += ("&" if "?" in url else "?") + "&".join(f"{name}={value}" for name, value in SHORT.items())
    kept = FibonacciTable(url)  # has a connection open when the server stops
    fresh = FibonacciTable(url)
    try:
        assert kept.compute(6) == 8
        os.kill(stoppable_server.mariadbd_pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            on_kept = outcome_of(lambda: kept.compute(7))
            on_fresh = outcome_of(lambda: fresh.compute(7))
            waited = time.monotonic() - started
        finally:
            os.kill(stoppable_server.mariadbd_pid, signal.SIGCONT)
        assert isinstance(on_fresh, DatabaseUnreachable), repr(on_fresh)
        if drivername == "mysql+mysqlconnector":
            # No socket to poll: the checkout's ping times out before the INSERT is sent.
            assert isinstance(on_kept, DatabaseUnreachable) and not isinstance(on_kept, OutcomeUnknown), repr(on_kept)
        else:
            # The INSERT was sent: the server may run it once it continues.
            assert isinstance(on_kept, OutcomeUnknown), repr(on_kept)
        assert waited < GIVE_UP_SECONDS
        assert fresh.compute(8) == 21  # the server carries on after SIGCONT
    finally:
        kept.close()
        fresh.close()
