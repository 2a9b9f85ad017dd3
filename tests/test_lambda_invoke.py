"""The client (`invoke_url`, `invoke_function`) and the CLI (`fibtrigger invoke`, `fibtrigger lambda serve`)."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys

import boto3
import pytest

from fibonacci_numbers import fibonacci
from fibtrigger.aws.invoke import invoke_function, invoke_url
from fibtrigger.cli import main
from fibtrigger.errors import (
    BackendError,
    ConfigurationError,
    EndpointUnreachable,
    FunctionNotFound,
    InvalidArgument,
    InvocationDenied,
    ResultMismatch,
    ResultOutOfRange,
)
from fibtrigger.local.service import LocalLambdaService

ACCESS_KEY = "AKIAINVOKETESTKEY000"
SECRET_KEY = "invoke-test-secret"


@pytest.fixture
def aws_environment(monkeypatch, tmp_path):
    """A private, complete AWS environment: dummy keys, a region, no shared files, no IMDS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def service(aws_environment):
    """The service with IAM on, checking against the same key pair the client's chain finds."""
    with LocalLambdaService(require_iam=True) as running:
        aws_environment.setenv("AWS_ENDPOINT_URL_LAMBDA", running.url)
        yield running


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


# ---- invoke_url: API Gateway, SigV4 -----------------------------------------------


def test_invoke_url_signs_with_the_credential_chain(service):
    assert invoke_url(service.api_url, 10) == 55
    assert invoke_url(service.api_url, 312) == fibonacci(312)
    assert service.metrics()["auth_failures"] == 0 and service.metrics()["invocations"] == 2


def test_invoke_url_with_an_explicit_session(service):
    session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="eu-west-1")
    assert invoke_url(service.api_url, 20, session=session) == 6765
    wrong = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="wrong", region_name="eu-west-1")
    with pytest.raises(InvocationDenied, match=r"refused the request \(403\): The request signature we calculated"):
        invoke_url(service.api_url, 20, session=wrong)
    assert service.metrics()["invocations"] == 1


def test_invoke_url_errors(service):
    with pytest.raises(ResultOutOfRange, match=r"^fib must be between 0 and 312, got 313$"):
        invoke_url(service.api_url, 313)  # the server's limit
    with pytest.raises(BackendError, match="answered 404"):
        invoke_url(service.url + "/test/elsewhere", 1)
    with pytest.raises(EndpointUnreachable, match="cannot reach"):
        invoke_url(f"http://127.0.0.1:{closed_port()}/test/", 1)
    with pytest.raises(ConfigurationError, match="must be an http"):
        invoke_url("ftp://example/test/", 1)


@pytest.mark.parametrize(
    "n, error", [(-1, InvalidArgument), (True, InvalidArgument), (1.0, InvalidArgument), ("7", InvalidArgument),
                 (None, InvalidArgument), (10_001, ResultOutOfRange)],
)
def test_bad_arguments_are_refused_before_any_request(service, n, error):
    with pytest.raises(error):
        invoke_url(service.api_url, n)
    with pytest.raises(error):
        invoke_function("fibtrigger", n)
    assert service.metrics()["requests"] == 0


def test_invoke_url_without_credentials(service, aws_environment):
    aws_environment.delenv("AWS_ACCESS_KEY_ID")
    aws_environment.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        invoke_url(service.api_url, 1)


# ---- invoke_function: the Lambda Invoke API ---------------------------------------


def test_invoke_function_through_the_endpoint_variables(service, aws_environment):
    assert invoke_function("fibtrigger", 7) == 13
    assert invoke_function("arn:aws:lambda:eu-west-1:123456789012:function:fibtrigger", 300) == fibonacci(300)
    aws_environment.delenv("AWS_ENDPOINT_URL_LAMBDA")
    aws_environment.setenv("AWS_ENDPOINT_URL", service.url)
    assert invoke_function("function", 8) == 21
    assert service.metrics()["invocations"] == 3


def test_invoke_function_errors(service, aws_environment):
    with pytest.raises(FunctionNotFound, match="function nope not found: Function not found"):
        invoke_function("nope", 1)
    with pytest.raises(ResultOutOfRange, match=r"^fib must be between 0 and 312, got 313$"):
        invoke_function("fibtrigger", 313)
    aws_environment.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(EndpointUnreachable):
        invoke_function("fibtrigger", 1, max_attempts=1)
    aws_environment.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigurationError, match="no AWS region"):
        invoke_function("fibtrigger", 1)


@pytest.mark.parametrize(
    "answer, error, message",
    [
        (
            RuntimeError("the backend broke"),
            BackendError,
            "function fibtrigger failed: RuntimeError: the backend broke",
        ),
        ({"fib": 8, "value": "21"}, ResultMismatch, "asked for fib 7, the function answered for 8"),
        ({"fib": 7, "value": "13", "number": 14}, ResultMismatch, "differs from its value"),
        ({"fib": 7, "value": 13}, BackendError, 'has no decimal "value"'),
        ({"fib": 7, "value": "1.3e1"}, BackendError, 'has no decimal "value"'),
        ("thirteen", BackendError, 'has no decimal "value"'),
    ],
)
def test_invoke_function_checks_the_answer(aws_environment, answer, error, message):
    def misbehaving(event, context):
        if isinstance(answer, Exception):
            raise answer
        return answer

    with LocalLambdaService(handler=misbehaving) as running:
        aws_environment.setenv("AWS_ENDPOINT_URL_LAMBDA", running.url)
        with pytest.raises(error, match=re.escape(message)):
            invoke_function("fibtrigger", 7)


# ---- the CLI ----------------------------------------------------------------------


def test_cli_invoke_prints_the_value(service, capsys):
    assert main(["invoke", "10", "--url", service.api_url]) == 0
    assert main(["invoke", "312", "--function", "fibtrigger"]) == 0
    assert main(["invoke", "11"]) == 0  # the default function, fibtrigger
    assert capsys.readouterr().out.split() == ["55", str(fibonacci(312)), "89"]


@pytest.mark.parametrize("argument", ["abc", "-1", "1.5", "1e3", "", "10001", "99999999999999999999999999"])
def test_cli_bad_input_is_one_line_exit_2(service, capsys, argument):
    assert main(["invoke", argument, "--url", service.api_url]) == 2
    assert one_line_error(capsys).startswith("fibtrigger: fib must be")
    assert service.metrics()["requests"] == 0


def test_the_client_and_the_function_name_the_same_limit(service, capsys, aws_environment):
    """Refused here (below 0, above the hard cap) or by the function (above its limit): one limit."""
    for argument in ("-1", "313", "10001"):
        assert main(["invoke", argument, "--function", "fibtrigger"]) == 2
        assert one_line_error(capsys) == f"fibtrigger: fib must be between 0 and 312, got {argument}"
    assert service.metrics()["requests"] == 1  # only 313 asked the function
    aws_environment.setenv("FIBTRIGGER_LAMBDA_MAX_FIB", "400")  # the client's environment, the function's limit
    assert main(["invoke", "-1", "--url", service.api_url]) == 2
    assert one_line_error(capsys) == "fibtrigger: fib must be between 0 and 400, got -1"


@pytest.mark.parametrize(
    "function", ["arn:aws:lambda:bad", "arn:aws:s3:::bucket", "fib trigger", "a:b:c:d:e", "x" * 65, ""],
)
def test_a_malformed_function_is_refused_before_any_request(service, capsys, function):
    assert main(["invoke", "1", "--function", function]) == 2
    assert one_line_error(capsys).startswith(f"fibtrigger: --function {function!r} is not a function name")
    with pytest.raises(InvalidArgument):
        invoke_function(function, 1)
    assert service.metrics()["requests"] == 0


def test_the_region_comes_from_aws_region_first(service, aws_environment):
    aws_environment.delenv("AWS_DEFAULT_REGION")
    aws_environment.setenv("AWS_REGION", "eu-west-3")
    assert invoke_function("fibtrigger", 5) == 5
    aws_environment.delenv("AWS_REGION")
    with pytest.raises(ConfigurationError, match="no AWS region: set AWS_REGION"):
        invoke_function("fibtrigger", 1)
    assert invoke_function("arn:aws:lambda:eu-west-3:123456789012:function:fibtrigger", 6) == 8


def test_cli_errors_are_one_line(service, capsys):
    assert main(["invoke", "313", "--function", "fibtrigger"]) == 2
    assert one_line_error(capsys) == "fibtrigger: fib must be between 0 and 312, got 313"
    assert main(["invoke", "1", "--url", service.api_url, "--function", "fibtrigger"]) == 2
    assert "not both" in one_line_error(capsys)
    assert main(["invoke", "1", "--function", "missing"]) == 1
    assert "not found" in one_line_error(capsys)
    assert main(["invoke", "1", "--url", f"http://127.0.0.1:{closed_port()}/test/"]) == 1
    assert "cannot reach" in one_line_error(capsys)


def run_cli(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-c", "from fibtrigger.cli import run; run()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_cli_subprocess_bad_input():
    done = run_cli("invoke", "seven", "--url", "http://127.0.0.1:9/test/")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == "fibtrigger: fib must be an integer between 0 and 312, got 'seven'"


def start_server(*options, env):
    """`fibtrigger lambda serve --port 0 ...` as a process; returns it and its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-c", "from fibtrigger.cli import run; run()", "lambda", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    first = server.stdout.readline()
    match = re.match(r"local Lambda service on (http://127\.0\.0\.1:\d+) \(limit: fib <= 312\)$", first.strip())
    if not match:
        server.kill()
        pytest.fail(f"no banner: {first!r} {server.communicate()[1]!r}")
    banner = [server.stdout.readline().strip() for _ in range(4)]
    assert banner[3] == f"export AWS_ENDPOINT_URL_LAMBDA={match.group(1)}"
    return server, match.group(1), banner


def stop_server(server, signum):
    server.send_signal(signum)
    try:
        out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("stopped; metrics: ")
    return out, json.loads(last.removeprefix("stopped; metrics: "))


def test_cli_serve_and_invoke_as_separate_processes(aws_environment):
    """`fibtrigger lambda serve --require-iam` and `fibtrigger invoke`, all real processes."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server, url, banner = start_server("--require-iam", env=env)
    try:
        assert banner[1] == f"API:        POST {url}/test/ (IAM: required)"
        signed = run_cli("invoke", "90", "--url", f"{url}/test/", env=env)
        assert (signed.returncode, signed.stdout.strip()) == (0, str(fibonacci(90))), signed.stderr
        direct = run_cli("invoke", "91", "--function", "fibtrigger", env=dict(env, AWS_ENDPOINT_URL_LAMBDA=url))
        assert (direct.returncode, direct.stdout.strip()) == (0, str(fibonacci(91))), direct.stderr
        unsigned = run_cli("invoke", "90", "--url", f"{url}/test/", env=dict(env, AWS_SECRET_ACCESS_KEY="wrong"))
        assert unsigned.returncode == 1 and "403" in unsigned.stderr
    finally:
        out, metrics = stop_server(server, signal.SIGTERM)
    log_lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [record["fib"] for record in log_lines] == [90, 91]  # the function's log lines
    assert metrics["invocations"] == 2 and metrics["auth_failures"] == 1


def test_cli_serve_stops_cleanly_on_sigint_with_a_kept_alive_client(aws_environment):
    server, url, _ = start_server("--quiet", "--function-name", "fib", env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/2015-03-31/functions/fib/invocations", body=b'{"fib": 40}')
        assert json.loads(connection.getresponse().read())["value"] == str(fibonacci(40))
    finally:
        out, metrics = stop_server(server, signal.SIGINT)  # while the connection is still open
    connection.close()
    assert not any(line.startswith("{") for line in out.splitlines())  # --quiet
    assert metrics["invocations"] == 1 and metrics["connections"] == 1


def test_cli_serve_refuses_a_busy_port(aws_environment):
    with LocalLambdaService() as running:
        done = run_cli("lambda", "serve", "--port", str(running.port))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"fibtrigger: cannot listen on 127.0.0.1:{running.port}")


def test_cli_serve_refuses_a_bad_limit(aws_environment):
    done = run_cli("lambda", "serve", "--port", "0", env=dict(os.environ, FIBTRIGGER_LAMBDA_MAX_FIB="lots"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "fibtrigger: FIBTRIGGER_LAMBDA_MAX_FIB must be an integer between 0 and 10000, got 'lots'"
    )
