"""`fibtrigger local up|status|down` as a new user runs them from the README, as real processes."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from fibtrigger.local import servers as local_stack
from local_stack_fixtures import require_local_tools, stack_base

pytestmark = pytest.mark.mysql

EXPORT = re.compile(r"^export (\w+)='([^']*)'$")


def fibtrigger(*args, env):
    return subprocess.run(
        [sys.executable, "-c", "from fibtrigger.cli import run; run()", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def shell_env():
    require_local_tools()
    base = stack_base("shell")
    env = dict(os.environ, FIBTRIGGER_STATE_DIR=str(base / "state"))
    env.pop("FIBTRIGGER_DATABASE_URL", None)
    yield env
    local_stack.down(env["FIBTRIGGER_STATE_DIR"])
    shutil.rmtree(base, ignore_errors=True)


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_the_readme_flow(shell_env):
    up = fibtrigger("local", "up", "--db-port", "0", "--lambda-port", "0", env=shell_env)
    assert up.returncode == 0, up.stderr
    *export_lines, comment = up.stdout.splitlines()
    exports = dict(EXPORT.match(line).groups() for line in export_lines)
    assert set(exports) == {"FIBTRIGGER_DATABASE_URL", "AWS_ENDPOINT_URL_LAMBDA"}
    env = dict(shell_env, **exports)
    # The last line, a comment for the shell, names the function as deploy would (fibtrigger-test).
    arn = re.fullmatch(r"# the function, for the trigger: fibtrigger backend lambda --function-arn (\S+)", comment)[1]
    assert arn.endswith(":000000000000:function:fibtrigger-test")

    assert fibtrigger("migrate", env=env).returncode == 0
    swapped = fibtrigger("backend", "lambda", "--function-arn", arn, env=env)
    assert swapped.returncode == 0 and f"-> lambda {arn}" in swapped.stdout

    port = re.search(r":(\d+)/", exports["FIBTRIGGER_DATABASE_URL"]).group(1)
    client_config = Path(shell_env["FIBTRIGGER_STATE_DIR"]) / "client.cnf"
    client = subprocess.run(
        [shutil.which("mariadb"), f"--defaults-extra-file={client_config}", "-h", "127.0.0.1", "-P", port, "fibtrigger",
         "-e", "INSERT INTO fibonacci VALUES (10, null); SELECT * FROM fibonacci"],
        capture_output=True, text=True, timeout=30,
    )
    assert client.returncode == 0, client.stderr
    assert client.stdout.split() == ["fib", "value", "10", "55"]
    with urllib.request.urlopen(exports["AWS_ENDPOINT_URL_LAMBDA"] + "/metrics", timeout=5) as response:
        assert json.loads(response.read())["invocations"] == 1

    status = fibtrigger("local", "status", env=env)
    assert status.returncode == 0
    assert "lambda_sync from lambda_sync-" in status.stdout and "invocations 1" in status.stdout

    again = fibtrigger("local", "up", env=env)  # idempotent: same processes, same ports
    assert again.returncode == 0 and again.stdout == up.stdout

    stack = local_stack.load(shell_env["FIBTRIGGER_STATE_DIR"])
    down = fibtrigger("local", "down", env=env)
    assert down.returncode == 0
    assert f"mariadbd (pid {stack.mariadbd_pid})" in down.stdout
    assert f"Lambda service (pid {stack.lambda_pid})" in down.stdout
    assert not running(stack.mariadbd_pid) and not running(stack.lambda_pid)
    stopped = fibtrigger("local", "status", env=env)
    assert stopped.returncode == 1 and stopped.stdout.count("stopped") == 2
    assert fibtrigger("local", "down", env=env).stdout.strip() == "nothing was running"

    # The data survives down/up.
    assert fibtrigger("local", "up", env=env).returncode == 0
    assert fibtrigger("table", env=env).stdout.splitlines()[-2] == "|  10 |    55 |"  # above the closing rule


def test_status_without_a_stack(shell_env):
    done = fibtrigger("local", "status", env=shell_env)
    assert done.returncode == 1 and "fibtrigger local up" in done.stdout


def test_a_busy_port_is_one_clear_line(shell_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = fibtrigger("local", "up", "--db-port", str(port), "--lambda-port", "0", env=shell_env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [f"fibtrigger: port {port} for the database is in use: pass --db-port N (0 picks a free one)"]


def test_down_never_kills_a_process_that_is_not_ours(tmp_path):
    """A PID in stack.json that now belongs to another program is left alone."""
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        directory = tmp_path / "state"
        directory.mkdir()
        (directory / "stack.json").write_text(json.dumps({
            "state_dir": str(directory), "db_port": 1, "lambda_port": 2, "socket": str(directory / "s.sock"),
            "mariadbd_pid": stranger.pid, "lambda_pid": stranger.pid,
        }))
        assert local_stack.down(directory) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
