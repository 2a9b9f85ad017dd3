"""Every error is one line on stderr, never a traceback, with the documented exit code.

The walk runs every command of the click tree (found by introspection, so a new command is
covered the day it is added) in a row of broken environments; the battery after it pins
the exact message kind and exit code of each case once seen as a traceback or a wrong code.
Exit codes: 2 for bad input or setup (ConfigurationError, InvalidArgument), 1 otherwise,
130 for Ctrl-C.
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fibtrigger.cli import cli, main
from fibtrigger.errors import InvalidArgument, ResultOutOfRange

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
HUGE = "9" * 5000
REPO = Path(__file__).resolve().parents[1]


def leaves(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaves(command, (*path, name))
        else:
            yield (*path, name), command


LEAVES = dict(leaves(cli))
# The least each command needs to get past click's own parsing; everything else is its default.
REQUIRED = {"numbers": ["10"], "n": ["10"], "function_arn": ["--function-arn", ARN], "user": ["--user", "app"]}


def arguments_for(path: tuple[str, ...], busy_port: int) -> list[str]:
    args = list(path)
    for param in LEAVES[path].params:
        if param.required or isinstance(param, click.Argument):
            args += REQUIRED[param.name]
    if path == ("lambda", "serve"):
        args += ["--port", str(busy_port)]  # refused at once instead of serving forever
    return args


@pytest.fixture
def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def busy_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def base_env(monkeypatch, tmp_path, closed_port):
    """No real AWS, no real state: every endpoint is a closed local port, the state dir a file."""
    monkeypatch.chdir(tmp_path)
    state_file = tmp_path / "state-is-a-file"
    state_file.write_text("")
    for name in list(os.environ):
        if name.startswith(("AWS_", "FIBTRIGGER_")):
            monkeypatch.delenv(name)
    settings = {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}",
        "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{closed_port}",
        "FIBTRIGGER_DATABASE_URL": f"sqlite:///{tmp_path / 'walk.db'}",
        "FIBTRIGGER_STATE_DIR": str(state_file),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def run(capsys, args) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, args, out: str = "") -> None:
    assert "Traceback" not in err + out, err + out
    lines = err.strip().splitlines()
    if code == 0:
        assert len(lines) <= 1, (args, err)
    elif not lines and out.strip():
        pass  # a report on stdout whose exit code says something is down (status, doctor)
    else:
        assert len(lines) == 1 and lines[0].startswith("fibtrigger: "), (args, code, err)
        assert not lines[0].startswith("fibtrigger: unexpected "), (args, err)  # typed, not the last resort


BROKEN = {
    # name: (environment changes, the exit code a command that meets the fault gives). Faults
    # with the same code share a run: each run walks the whole tree.
    "bad URL, corrupt state file, no AWS credentials": (
        {"FIBTRIGGER_DATABASE_URL": "not a url", "FIBTRIGGER_STATE_DIR": "{corrupt}",
         "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, 2),
    "URL with charset=nope": ({"FIBTRIGGER_DATABASE_URL": "mysql+pymysql://u@127.0.0.1:{closed}/db?charset=nope"}, 2),
    "unreachable database and AWS": ({"FIBTRIGGER_DATABASE_URL": "mysql+pymysql://u:secret@127.0.0.1:{closed}/db"}, 1),
}


_BASELINE: dict[tuple[str, ...], int] = {}


def _baseline(capsys, busy_port) -> dict[tuple[str, ...], int]:
    """Each command's exit code in the base environment (computed once), itself one line at most."""
    if not _BASELINE:
        for path in LEAVES:
            args = arguments_for(path, busy_port)
            code, out, err = run(capsys, args)
            assert_one_line(code, err, args, out)
            _BASELINE[path] = code
    return _BASELINE


@pytest.mark.parametrize("broken", list(BROKEN))
def test_every_command_in_a_broken_environment_is_one_line(base_env, capsys, monkeypatch, closed_port, busy_port,
                                                          broken):
    corrupt = base_env / "corrupt"
    corrupt.mkdir()
    (corrupt / "stack.json").write_text("{not json")
    baseline = _baseline(capsys, busy_port)
    changes, expected = BROKEN[broken]
    for name, value in changes.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value.format(closed=closed_port, corrupt=corrupt))
    for path in LEAVES:
        args = arguments_for(path, busy_port)
        code, out, err = run(capsys, args)
        assert_one_line(code, err, args, out)
        assert "secret" not in err + out
        # The fault's code, or what the command gives anyway: not every command meets every fault.
        assert code in (0, expected, baseline[path]) or (code == 1 and not err), (args, code, err)


def test_a_bare_group_prints_its_usage_without_the_error_prefix(capsys):
    for args, usage in (([], "Usage: fibtrigger [OPTIONS] COMMAND"), (["queue"], "Usage: fibtrigger queue")):
        code, out, err = run(capsys, args)
        assert code == 2 and out == "" and err.startswith(usage), err


def test_a_bad_url_error_names_where_the_url_came_from(base_env, capsys, monkeypatch):
    monkeypatch.setenv("FIBTRIGGER_DATABASE_URL", "not a url")
    code, _, err = run(capsys, ["compute", "5"])
    assert code == 2 and err.startswith("fibtrigger: FIBTRIGGER_DATABASE_URL is not a database URL"), err
    for args in (["compute", "5", "--database-url", "garbage"], ["--database-url", "garbage", "compute", "5"]):
        code, _, err = run(capsys, args)
        assert code == 2 and err.startswith("fibtrigger: the URL given is not a database URL"), err


@pytest.mark.parametrize(
    "args, code, message",
    [(["lambda", "package", "-o", "missing/dir/function.zip"], 2, "cannot write the package to missing/dir"),
     (["compute", HUGE], 2, "fib must be between 0 and"),
     (["compute", "-" + HUGE], 2, "fib must be between 0 and"),
     (["invoke", HUGE], 2, "fib must be between 0 and"),
     (["invoke", "--url", "http://[bad/test/", "5"], 2, "--url must be an http(s) URL"),
     (["invoke", "--url", "http://host:99999/test/", "5"], 2, "--url must be an http(s) URL"),
     (["local", "up", "--state-dir", "state-is-a-file"], 2, "is not a directory"),
     (["local", "status", "--state-dir", "corrupt"], 2, "is not a state file fibtrigger wrote"),
     (["local", "down", "--state-dir", "corrupt"], 2, "is not a state file fibtrigger wrote"),
     (["local", "status", "--state-dir", "foreign"], 2, "is not a state file fibtrigger wrote"),
     (["--database-url", "mysql+pymysql://u@127.0.0.1:1/db?charset=nope", "compute", "5"], 2, "charset"),
     (["--database-url", "mysql+pymysql://u@127.0.0.1:1/db?read_timeout=-1", "compute", "5"], 2, "read_timeout"),
     (["backend", "lambda", "--function-arn", ARN + "\n"], 2, "is not a Lambda function ARN")],
    ids=lambda value: " ".join(value)[:50] if isinstance(value, list) else None,
)
def test_each_case_once_seen_as_a_traceback(base_env, capsys, args, code, message):
    (base_env / "corrupt").mkdir()
    (base_env / "corrupt" / "stack.json").write_text("{not json")
    (base_env / "foreign").mkdir()
    (base_env / "foreign" / "stack.json").write_text('{"state_dir": 1, "surprise": true}')
    got, out, err = run(capsys, args)
    assert_one_line(got, err, args)
    assert got == code and message in err, err


def test_compute_with_a_huge_int_is_a_typed_error(tmp_path):
    from fibtrigger.table import FibonacciTable

    table = FibonacciTable(f"sqlite:///{tmp_path / 'huge.db'}")
    with pytest.raises(ResultOutOfRange, match="an integer of 16610 bits"):
        table.compute(10**5000)
    with pytest.raises(InvalidArgument, match="got -an integer of"):
        table.compute(-(10**5000))


def test_an_unforeseen_error_is_one_line_naming_its_type(capsys, monkeypatch):
    from fibtrigger import table

    def broken(*_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute 'secret-detail'")

    monkeypatch.setattr(table, "default_table", broken)
    code, _, err = run(capsys, ["compute", "5"])
    assert code == 1 and "Traceback" not in err and "secret-detail" not in err
    assert err.strip().splitlines() == [
        "fibtrigger: unexpected AttributeError: a fibtrigger bug; please report it with the command that caused it"
    ]


def interrupt_while_connecting(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Start ``command`` against a server that accepts TCP but never speaks; Ctrl-C it once it is waiting."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(60)
        url = f"mysql+pymysql://root@127.0.0.1:{silent.getsockname()[1]}/"
        env = dict(os.environ, **env, FIBTRIGGER_DATABASE_URL=url + "db", FIBTRIGGER_BENCH_DATABASE_URL=url)
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            connection, _ = silent.accept()  # the command is now waiting for the server's greeting
            with connection:
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=60)
        finally:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.mark.parametrize(
    "command, line",
    [([sys.executable, "-m", "fibtrigger", "compute", "5"], "fibtrigger: interrupted"),
     ([sys.executable, "-m", "benchmarks", "--quick"], "benchmarks: interrupted")],
    ids=["fibtrigger compute", "python -m benchmarks (make bench)"],
)
def test_ctrl_c_is_exit_130_and_one_line(command, line):
    done = interrupt_while_connecting(command, {})
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == line and "Traceback" not in done.stderr, done.stderr
    if command[2] == "fibtrigger":
        assert done.stderr.strip().splitlines() == [line]
