"""The local Lambda path: a private mariadbd with lambda_sync, plus the local Lambda service.

The twin of `fibtrigger local up|down|status`. Everything lives under a state
directory (``$FIBTRIGGER_STATE_DIR``, default ``./.fibtrigger``):

    stack.json            ports and PIDs (no secret)
    password              MariaDB root's generated password (mode 0600)
    client.cnf            the same for the mariadb client's --defaults-extra-file (mode 0600)
    plugin/               the lambda_sync build (mariadbd's --plugin-dir)
    mariadb/              mode 0700, owned by the account mariadbd runs as:
      data/               the datadir, made by mariadb-install-db
      files/              the only directory LOAD DATA / SELECT ... INTO may use (secure_file_priv)
      mariadbd.sock, error.log
    lambda/service.log    the Lambda service's log

The stack is private to the user who started it: MariaDB's root has a generated
password, mariadbd listens on 127.0.0.1 only, and its socket sits in a directory
nobody else can enter. Started by root, mariadbd runs as the unprivileged system
account SERVICE_ACCOUNT (the one the MariaDB server package made to run mariadbd).
mariadbd runs with ``--no-defaults``, so nothing of a system server's
configuration leaks in, and with ``AWS_ENDPOINT_URL_LAMBDA`` in its
environment: that is where lambda_sync posts.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..aws.region import DEFAULT_REGION, environment_region
from ..config import masked
from ..errors import ConfigurationError, LocalStackError

if TYPE_CHECKING:
    import pymysql
from . import udf_build

STATE_DIR_ENV = "FIBTRIGGER_STATE_DIR"
DEFAULT_STATE_DIR = ".fibtrigger"
DEFAULT_DB_PORT = 3307
DEFAULT_LAMBDA_PORT = 9001
DATABASE = "fibtrigger"
HOST = "127.0.0.1"
ADMIN_USER = "root"
# Who runs mariadbd when root starts the stack: Debian's and Red Hat's MariaDB packages make it.
SERVICE_ACCOUNT = "mysql"
PASSWORD_FILE = "password"
CLIENT_CONFIG_FILE = "client.cnf"
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
    # Kept in its own 0600 file, never in stack.json.
    password: str = field(default="", repr=False, compare=False)

    @property
    def database_url(self) -> str:
        """The URL with the password: for `eval "$(fibtrigger local up)"`; show masked_url instead."""
        return f"mysql+pymysql://{ADMIN_USER}:{self.password}@{HOST}:{self.db_port}/{DATABASE}"

    @property
    def masked_url(self) -> str:
        return masked(self.database_url)

    @property
    def lambda_endpoint(self) -> str:
        return f"http://{HOST}:{self.lambda_port}"

    def exports(self) -> str:
        """Shell lines for `eval "$(fibtrigger local up)"`."""
        return (
            f"export FIBTRIGGER_DATABASE_URL='{self.database_url}'\n"
            f"export {ENDPOINT_ENV}='{self.lambda_endpoint}'\n"
            f"# the function, for the trigger: fibtrigger backend lambda --function-arn {self.function_arn}"
        )

    @property
    def function_arn(self) -> str:
        """The ARN the local service answers to under the name `fibtrigger aws deploy` would give it."""
        # The service's modules (http.server and more) load here, not with `fibtrigger local --help`.
        from .function_api import DEPLOYED_FUNCTION_NAME
        from .proxy import LOCAL_ACCOUNT_ID

        region = environment_region() or DEFAULT_REGION
        return f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{DEPLOYED_FUNCTION_NAME}"


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
    directory = state_dir(path)
    stack_file = _stack_file(directory)
    if not stack_file.is_file():
        return None
    try:
        stack = LocalStack(**json.loads(stack_file.read_text()))
        if not isinstance(stack.db_port, int) or not isinstance(stack.lambda_port, int):
            raise TypeError("ports are not numbers")
    except (ValueError, TypeError) as error:  # not JSON, or not the fields `local up` writes
        reason = "not JSON" if isinstance(error, ValueError) else "not the fields `local up` writes"
        raise ConfigurationError(
            f"{stack_file} is not a state file fibtrigger wrote ({reason}): "
            "stop what it started by hand, then remove it"
        ) from None
    except OSError as error:
        raise ConfigurationError(f"cannot read {stack_file}: {error.strerror or error}") from None
    password_file = directory / PASSWORD_FILE
    if password_file.is_file():
        stack.password = password_file.read_text().strip()
    return stack


def _save(stack: LocalStack) -> None:
    stack_file = _stack_file(Path(stack.state_dir))
    partial = stack_file.with_suffix(".partial")
    recorded = asdict(stack)
    del recorded["password"]
    partial.write_text(json.dumps(recorded, indent=2) + "\n")
    os.replace(partial, stack_file)


def _password(directory: Path) -> str:
    """The stack's MariaDB root password: generated once, kept in a 0600 file only its owner reads."""
    path = directory / PASSWORD_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600, follow_symlinks=False)
        password = path.read_text().strip()
        if password:
            return password
        path.unlink()
        return _password(directory)
    password = secrets.token_urlsafe(24)  # URL-safe: it goes into the printed URL as it is
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    return password


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w") as file:
        file.write(text)
    os.replace(partial, path)


def _native_password_hash(password: str) -> str:
    """mysql_native_password's stored form, so that no file mariadbd reads holds the password itself."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def _service_account() -> pwd.struct_passwd | None:
    """The account mariadbd runs as when root starts the stack; None: the caller's own."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        raise LocalStackError(
            f"started by root, the local stack runs mariadbd as the system account {SERVICE_ACCOUNT!r}, "
            "which does not exist: install the MariaDB server package, or run `fibtrigger local up` as a normal user"
        ) from None


def _private_dir(path: Path, account: pwd.struct_passwd | None, mode: int = 0o700) -> None:
    """``path`` as a directory owned by ``account`` (None: this user) that only it may enter."""
    path.mkdir(parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise LocalStackError(f"{path} is not a directory")
    owner = account.pw_uid if account else os.geteuid()
    if info.st_uid != owner:
        if not (account and info.st_uid == os.geteuid()):
            raise LocalStackError(
                f"{path} belongs to uid {info.st_uid}, not to you: remove it or pass another --state-dir"
            )
        # Made by root (now, or by a version that ran mariadbd as root): hand it to mariadbd's account.
        for parent, _, names in os.walk(path):
            for name in (parent, *(os.path.join(parent, name) for name in names)):
                os.chown(name, account.pw_uid, account.pw_gid, follow_symlinks=False)
    os.chmod(path, mode)


def _require_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """Every directory above ``path`` must let ``account`` pass, or mariadbd cannot reach its datadir."""
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    for parent in path.parents:
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise LocalStackError(
                f"mariadbd runs as {account.pw_name!r} (not root), which cannot enter {parent} "
                f"(mode {stat.S_IMODE(info.st_mode):04o}): pass --state-dir in a directory others may traverse"
            )


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
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"the state directory {directory} is not a directory: pass --state-dir DIR")
    account = _service_account()
    if directory.is_dir():
        # A directory the user chose keeps its mode, but mariadbd's account must pass through it.
        _private_dir(directory, None, stat.S_IMODE(directory.stat().st_mode) | (stat.S_IXOTH if account else 0))
    else:
        # Made here: only its owner lists it; mariadbd's account may pass through it.
        _private_dir(directory, None, 0o711 if account else 0o700)
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
    stack.password = _password(directory)
    _write_private(
        directory / CLIENT_CONFIG_FILE,
        f"[client]\nuser={ADMIN_USER}\npassword={stack.password}\nhost={HOST}\nport={stack.db_port}\n"
        f"database={DATABASE}\n",
    )
    library = udf_build.build(directory / "plugin")
    if account:  # mariadbd reads the plugin as its own account
        os.chmod(library.parent, 0o755)
        os.chmod(library, 0o644)
    started = []  # stopped again if a later step fails: no orphans
    try:
        if lambda_service and not _alive(stack.lambda_pid, _service_marker(stack)):
            start_lambda_service(stack)
            started.append((stack.lambda_pid, _service_marker(stack)))
        if not _alive(stack.mariadbd_pid, _mariadbd_marker(stack)):
            stack.socket = str(_socket_path(directory))
            _start_mariadbd(stack, account)
            started.append((stack.mariadbd_pid, _mariadbd_marker(stack)))
        _install(stack, library)
    except BaseException:
        for pid, marker in reversed(started):
            _stop(pid, marker)
        raise
    _save(stack)
    return stack


def _start_mariadbd(stack: LocalStack, account: pwd.struct_passwd | None) -> None:
    directory = Path(stack.state_dir) / "mariadb"
    if account:
        _require_reachable(directory, account)
    _private_dir(directory, account)
    data = directory / "data"
    # Its own tmpdir: mariadbd (and mariadb-install-db) delete every #sql* file in their tmpdir at
    # startup, which in a shared /tmp are the live temporary tables of any other server there.
    tmpdir = directory / "tmp"
    files = directory / "files"
    for private in (tmpdir, files, Path(stack.socket).parent):
        _private_dir(private, account)
    _require_free(stack.db_port, "the database", "--db-port")
    user = [f"--user={account.pw_name}"] if account else []
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
    # Run before the server accepts connections, on every start: root gets the stack's password
    # (also in a datadir made before there was one) and exists only on the socket and 127.0.0.1.
    init_file = directory / "init.sql"
    _write_private(init_file, _init_sql(stack.password))
    if account:
        os.chown(init_file, account.pw_uid, account.pw_gid)
    command = [
        _program("mariadbd"), "--no-defaults", *user,
        f"--datadir={data}", f"--tmpdir={tmpdir}", f"--socket={stack.socket}", f"--port={stack.db_port}",
        f"--bind-address={HOST}", f"--plugin-dir={Path(stack.state_dir) / 'plugin'}",
        f"--pid-file={directory / 'mariadbd.pid'}", f"--log-error={log}", f"--secure-file-priv={files}",
        f"--init-file={init_file}",
        "--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--max-connections=200",
    ]
    process = subprocess.Popen(
        command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )
    stack.mariadbd_pid = process.pid
    _save(stack)
    import pymysql  # loaded by the commands that connect, not by `import fibtrigger.local.servers`

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
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
    finally:
        init_file.unlink(missing_ok=True)
    raise LocalStackError(f"mariadbd did not accept connections within {START_TIMEOUT_SECONDS:.0f} s; see {log}")


def _init_sql(password: str) -> str:
    """SQL for --init-file: the root accounts a fresh datadir has, passworded; the others gone."""
    return (
        "DELETE FROM mysql.global_priv WHERE User = '' OR "
        f"(User = '{ADMIN_USER}' AND Host NOT IN ('localhost', '{HOST}'));\n"
        "UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.plugin', 'mysql_native_password', "
        f"'$.authentication_string', '{_native_password_hash(password)}') WHERE User = '{ADMIN_USER}';\n"
        "FLUSH PRIVILEGES;\n"
    )


def _install(stack: LocalStack, library: Path) -> None:
    from ..schema import mysql  # SQLAlchemy loads with the commands that need the SQL

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
    _private_dir(log_dir, None)
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
    import pymysql

    from ..schema import mysql

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
    return ComponentStatus("mariadbd", stack.mariadbd_pid if running else None, running, stack.masked_url, detail)


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
    import urllib.error  # with http.client and ssl: loaded here, not by `fibtrigger --help`
    import urllib.request

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
    return admin_connection(stack)


def admin_connection(stack: LocalStack, database: str | None = None, **options) -> pymysql.connections.Connection:
    import pymysql

    """A PyMySQL connection as the stack's MariaDB root, over its private socket."""
    options.setdefault("connect_timeout", 2)
    return pymysql.connect(
        unix_socket=stack.socket, user=ADMIN_USER, password=stack.password, database=database, autocommit=True,
        **options,
    )


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
    # Too long for sun_path: a private directory of its own in the temporary directory.
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"fibtrigger-{getpass.getuser()}-{digest}" / "mariadbd.sock"


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
