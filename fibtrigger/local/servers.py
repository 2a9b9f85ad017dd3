"""The local Lambda path: a private mariadbd with lambda_sync, plus the local Lambda service.

The twin of `fibtrigger local up|down|status`. Everything lives under a state
directory (``$FIBTRIGGER_STATE_DIR``, default ``./.fibtrigger``):

    stack.json            ports and PIDs
    plugin/               the lambda_sync build (mariadbd's --plugin-dir)
    mariadb/data/         the datadir, made by mariadb-install-db
    mariadb/error.log     mariadbd's log
    lambda/service.log    the Lambda service's log

mariadbd runs with ``--no-defaults``, so nothing of a system server's
configuration leaks in, and with ``AWS_ENDPOINT_URL_LAMBDA`` in its
environment: that is where lambda_sync posts.
"""

import getpass
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pymysql

from ..errors import ConfigurationError, LocalStackError
from ..schema import mysql
from . import udf_build

STATE_DIR_ENV = "FIBTRIGGER_STATE_DIR"
DEFAULT_STATE_DIR = ".fibtrigger"
DEFAULT_DB_PORT = 3307
DEFAULT_LAMBDA_PORT = 9001
DATABASE = "fibtrigger"
HOST = "127.0.0.1"
ENDPOINT_ENV = "AWS_ENDPOINT_URL_LAMBDA"
CONNECT_TIMEOUT_ENV = "FIBTRIGGER_LAMBDA_CONNECT_TIMEOUT_MS"
TIMEOUT_ENV = "FIBTRIGGER_LAMBDA_TIMEOUT_MS"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
# sockaddr_un.sun_path holds 108 bytes.
_MAX_SOCKET_PATH = 100


@dataclass
class LocalStack:
    state_dir: str
    db_port: int
    lambda_port: int
    socket: str
    mariadbd_pid: int | None = None
    lambda_pid: int | None = None
    udf_library: str | None = None
    lambda_timeout_ms: int | None = None
    lambda_env: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return f"mysql+pymysql://root@{HOST}:{self.db_port}/{DATABASE}"

    @property
    def lambda_endpoint(self) -> str:
        return f"http://{HOST}:{self.lambda_port}"

    def exports(self) -> str:
        """Shell lines for `eval "$(fibtrigger local up)"`."""
        return (
            f"export FIBTRIGGER_DATABASE_URL='{self.database_url}'\n"
            f"export {ENDPOINT_ENV}='{self.lambda_endpoint}'"
        )


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    endpoint: str
    detail: str


def state_dir(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).resolve()


def _stack_file(directory: Path) -> Path:
    return directory / "stack.json"


def load(path: str | Path | None = None) -> LocalStack | None:
    """The recorded stack, or None when `local up` never ran here."""
    stack_file = _stack_file(state_dir(path))
    if not stack_file.is_file():
        return None
    return LocalStack(**json.loads(stack_file.read_text()))


def _save(stack: LocalStack) -> None:
    stack_file = _stack_file(Path(stack.state_dir))
    partial = stack_file.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(stack), indent=2) + "\n")
    os.replace(partial, stack_file)


# ---- up ----------------------------------------------------------------------


def up(
    path: str | Path | None = None,
    *,
    db_port: int = DEFAULT_DB_PORT,
    lambda_port: int = DEFAULT_LAMBDA_PORT,
    lambda_timeout_ms: int | None = None,
    lambda_env: dict[str, str] | None = None,
    lambda_service: bool = True,
) -> LocalStack:
    """Build lambda_sync if needed, start mariadbd and the Lambda service; idempotent.

    Port 0 picks a free port. ``lambda_timeout_ms`` bounds each lambda_sync
    call (default 60 s); ``lambda_env`` is extra environment for the service.
    ``lambda_service=False`` starts only mariadbd, for a Lambda endpoint that
    something else serves on ``lambda_port``. A stack that is up keeps its ports.
    """
    directory = state_dir(path)
    directory.mkdir(parents=True, exist_ok=True)
    stack = load(directory)
    if stack is None:
        stack = LocalStack(
            state_dir=str(directory),
            db_port=_free_port() if db_port == 0 else db_port,
            lambda_port=_free_port() if lambda_port == 0 else lambda_port,
            socket=str(_socket_path(directory)),
            lambda_timeout_ms=lambda_timeout_ms,
            lambda_env=dict(lambda_env or {}),
        )
    library = udf_build.build(directory / "plugin")
    started = []  # stopped again if a later step fails: no orphans
    try:
        if lambda_service and not _alive(stack.lambda_pid, _service_marker(stack)):
            start_lambda_service(stack)
            started.append((stack.lambda_pid, _service_marker(stack)))
        if not _alive(stack.mariadbd_pid, _mariadbd_marker(stack)):
            _start_mariadbd(stack)
            started.append((stack.mariadbd_pid, _mariadbd_marker(stack)))
        _install(stack, library)
    except BaseException:
        for pid, marker in reversed(started):
            _stop(pid, marker)
        raise
    _save(stack)
    return stack


def _start_mariadbd(stack: LocalStack) -> None:
    directory = Path(stack.state_dir) / "mariadb"
    data = directory / "data"
    # Its own tmpdir: mariadbd (and mariadb-install-db) delete every #sql* file in their tmpdir at
    # startup, which in a shared /tmp are the live temporary tables of any other server there.
    tmpdir = directory / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    _require_free(stack.db_port, "the database", "--db-port")
    user = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root without it
    if not data.is_dir():
        # Into a scratch directory first: a failed install never looks like a datadir.
        partial = directory / "data.partial"
        shutil.rmtree(partial, ignore_errors=True)
        done = subprocess.run(
            [
                _program("mariadb-install-db"), "--no-defaults", f"--datadir={partial}",
                "--auth-root-authentication-method=normal", "--skip-test-db", f"--tmpdir={tmpdir}", *user,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            (directory / "install.log").write_text(done.stdout + done.stderr)
            raise LocalStackError(
                f"mariadb-install-db failed: {_first_error(done.stdout + done.stderr)} "
                f"(full output in {directory / 'install.log'})"
            )
        os.replace(partial, data)
    environment = dict(os.environ, **{ENDPOINT_ENV: stack.lambda_endpoint})
    environment.setdefault(CONNECT_TIMEOUT_ENV, "2000")
    if stack.lambda_timeout_ms:
        environment[TIMEOUT_ENV] = str(stack.lambda_timeout_ms)
    log = directory / "error.log"
    command = [
        _program("mariadbd"), "--no-defaults", *user,
        f"--datadir={data}", f"--tmpdir={tmpdir}", f"--socket={stack.socket}", f"--port={stack.db_port}",
        f"--bind-address={HOST}", f"--plugin-dir={Path(stack.state_dir) / 'plugin'}",
        f"--pid-file={directory / 'mariadbd.pid'}", f"--log-error={log}",
        "--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--max-connections=200",
    ]
    process = subprocess.Popen(
        command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )
    stack.mariadbd_pid = process.pid
    _save(stack)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalStackError(
                f"mariadbd exited with status {process.returncode}: {_first_error(_tail(log, 40))} (see {log})"
            )
        try:
            _admin(stack).close()
            return
        except pymysql.err.MySQLError:
            time.sleep(0.1)
    raise LocalStackError(f"mariadbd did not accept connections within {START_TIMEOUT_SECONDS:.0f} s; see {log}")


def _install(stack: LocalStack, library: Path) -> None:
    connection = _admin(stack)
    try:
        cursor = connection.cursor()
        udf_build.install(cursor, library)
        cursor.execute(mysql.CREATE_DATABASE.format(name=DATABASE))
    finally:
        connection.close()
    stack.udf_library = library.name


def start_lambda_service(stack: LocalStack, env: dict[str, str] | None = None) -> int:
    """Start `fibtrigger lambda serve` on the stack's Lambda port; return its PID.

    ``env`` replaces the stack's extra service environment (for example
    FIBTRIGGER_LAMBDA_MAX_FIB) and is remembered for the next `local up`.
    """
    if env is not None:
        stack.lambda_env = dict(env)
    _require_free(stack.lambda_port, "the Lambda service", "--lambda-port")
    log_dir = Path(stack.state_dir) / "lambda"
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "fibtrigger",
        "lambda", "serve", "--host", HOST, "--port", str(stack.lambda_port),
    ]
    with open(log_dir / "service.log", "ab") as log:
        process = subprocess.Popen(
            command, env=dict(os.environ, **stack.lambda_env), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    stack.lambda_pid = process.pid
    _save(stack)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalStackError(
                f"`fibtrigger lambda serve` exited with status {process.returncode}: "
                f"{_last_line(_tail(log_dir / 'service.log'))}"
            )
        if lambda_metrics(stack) is not None:
            return process.pid
        time.sleep(0.05)
    raise LocalStackError(f"the Lambda service did not answer within {START_TIMEOUT_SECONDS:.0f} s")


def stop_lambda_service(stack: LocalStack) -> bool:
    """Stop the stack's Lambda service; False when it was not running."""
    stopped = _stop(stack.lambda_pid, _service_marker(stack))
    stack.lambda_pid = None
    _save(stack)
    return stopped


# ---- down and status ------------------------------------------------------------


def down(path: str | Path | None = None) -> list[str]:
    """Stop mariadbd and the Lambda service by PID; the datadir stays. Returns what was stopped."""
    stack = load(path)
    if stack is None:
        return []
    stopped = []
    if _stop(stack.lambda_pid, _service_marker(stack)):
        stopped.append(f"Lambda service (pid {stack.lambda_pid})")
    if _stop(stack.mariadbd_pid, _mariadbd_marker(stack)):
        stopped.append(f"mariadbd (pid {stack.mariadbd_pid})")
    stack.lambda_pid = stack.mariadbd_pid = None
    _save(stack)
    return stopped


def status(path: str | Path | None = None) -> list[ComponentStatus]:
    """mariadbd and the Lambda service: PID, running, endpoint and what they answer."""
    stack = load(path)
    if stack is None:
        return []
    return [_database_status(stack), _service_status(stack)]


def _database_status(stack: LocalStack) -> ComponentStatus:
    running = _alive(stack.mariadbd_pid, _mariadbd_marker(stack))
    detail = "stopped"
    if running:
        try:
            connection = _admin(stack)
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT VERSION()")
                version = cursor.fetchone()[0]
                cursor.execute(mysql.SELECT_UDF_LIBRARY)
                row = cursor.fetchone()
            finally:
                connection.close()
            detail = f"MariaDB {version}, lambda_sync {'from ' + row[0] if row else 'NOT installed'}"
        except pymysql.err.MySQLError as error:
            detail = f"running but not answering: {error}"
    return ComponentStatus("mariadbd", stack.mariadbd_pid if running else None, running, stack.database_url, detail)


def _service_status(stack: LocalStack) -> ComponentStatus:
    running = _alive(stack.lambda_pid, _service_marker(stack))
    metrics = lambda_metrics(stack) if running else None
    if metrics is not None:
        detail = f"invocations {metrics.get('invocations')}, errors {metrics.get('errors')}"
    else:
        detail = "running but not answering" if running else "stopped"
    return ComponentStatus("lambda", stack.lambda_pid if running else None, running, stack.lambda_endpoint, detail)


def lambda_metrics(stack: LocalStack) -> dict | None:
    """The service's GET /metrics, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{stack.lambda_endpoint}/metrics", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None


# ---- processes ---------------------------------------------------------------------


def _mariadbd_marker(stack: LocalStack) -> str:
    return f"--socket={stack.socket}"


def _service_marker(stack: LocalStack) -> str:
    return f"--port {stack.lambda_port}"


def _alive(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` is still our process: a recycled PID has another command line."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        _reap(pid)
        return False
    return marker in cmdline


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its parent reaps it


def _stop(pid: int | None, marker: str) -> bool:
    if pid is None or not _alive(pid, marker):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid, marker):
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _admin(stack: LocalStack):
    return pymysql.connect(unix_socket=stack.socket, user="root", autocommit=True, connect_timeout=2)


def _program(name: str) -> str:
    # mariadbd lives in /usr/sbin, which a user's PATH may lack.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ConfigurationError(
            f"{name} is not installed: the local stack needs the MariaDB server (Debian: mariadb-server)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _require_free(port: int, what: str, option: str) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            raise LocalStackError(f"port {port} for {what} is in use: pass {option} N (0 picks a free one)") from None


def _socket_path(directory: Path) -> Path:
    path = directory / "mariadb" / "mariadbd.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"fibtrigger-{getpass.getuser()}-{digest}.sock"


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _first_error(text: str) -> str:
    """The first [ERROR] line of a MariaDB log (its last line is only "Aborting")."""
    for line in text.splitlines():
        if "[ERROR]" in line and "Aborting" not in line:
            return line.split("[ERROR]", 1)[1].strip()
    return _last_line(text)
