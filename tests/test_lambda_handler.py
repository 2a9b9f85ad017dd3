"""The Lambda handler, in-process: direct, REST API (v1) and HTTP API (v2) events, every bad input."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import lambda_function as lambda_handler
from fibtrigger.lambda_function import logs
from fibtrigger.lambda_function.contract import (
    DECIMAL65_MAX_FIB,
    LAMBDA_HARD_MAX_FIB,
    LAMBDA_MAX_FIB_ENV,
    MISSING_MESSAGE,
    RANGE_MESSAGE,
    TYPE_MESSAGE,
    ArgumentError,
)
from fibtrigger.lambda_function.fibonacci import fibonacci as fast_fibonacci
from fibtrigger.lambda_function.function import run
from fibtrigger.lambda_function.settings import SettingError

REPO = Path(__file__).resolve().parents[1]


class Context:
    aws_request_id = "0f9d8a7e-1111-2222-3333-444455556666"
    function_name = "fibtrigger"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@pytest.fixture(autouse=True)
def log_lines(monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(logs, "write_stdout", lines.append)  # what the handler writes to stdout
    monkeypatch.delenv(LAMBDA_MAX_FIB_ENV, raising=False)
    return lines


def rest_event(body, *, method="POST", path="/", is_base64=False):
    return {
        "resource": "/",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"stage": "test", "path": f"/test{path}", "httpMethod": method, "identity": {}},
        "body": body,
        "isBase64Encoded": is_base64,
    }


def http_api_event(body, *, method="POST", raw_path="/test/", stage="test", is_base64=False):
    return {
        "version": "2.0",
        "routeKey": f"{method} /",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1"}, "stage": stage},
        "body": body,
        "isBase64Encoded": is_base64,
    }


EVENT_BUILDERS = {"v1": rest_event, "v2": http_api_event}


def call(event, context=None):
    return lambda_handler.handler(event, context or Context())


def http_body(response) -> dict:
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "application/json"
    return json.loads(response["body"])


# ---- the computation --------------------------------------------------------------


def test_fast_doubling_matches_the_reference():
    for n in [*range(0, 400), 1000, 4321, LAMBDA_HARD_MAX_FIB]:
        assert fast_fibonacci(n) == fibonacci(n)
    with pytest.raises(ValueError):
        fast_fibonacci(-1)


# ---- direct invocations -----------------------------------------------------------


def test_direct_every_value_up_to_the_limit_is_exact():
    for n in range(DECIMAL65_MAX_FIB + 1):
        answer = call({"fib": n})
        assert answer["fib"] == n
        assert answer["value"] == str(fibonacci(n))


def test_number_is_present_only_while_a_double_holds_it_exactly():
    # F(78) = 8944394323791464 < 2**53 - 1 < F(79)
    assert call({"fib": 78}) == {"fib": 78, "value": "8944394323791464", "number": 8944394323791464}
    assert call({"fib": 79}) == {"fib": 79, "value": "14472334024676221"}
    assert call({"fib": 7}) == {"fib": 7, "value": "13", "number": 13}
    assert call({"fib": 0}) == {"fib": 0, "value": "0", "number": 0}
    big = call({"fib": 312})
    assert big == {"fib": 312, "value": str(fibonacci(312))} and len(big["value"]) == 65


def test_the_answer_round_trips_through_json():
    answer = json.loads(json.dumps(call({"fib": 300})))
    assert int(answer["value"]) == fibonacci(300)


@pytest.mark.parametrize(
    "event, message",
    [
        ({"fib": 313}, "fib must be between 0 and 312, got 313"),
        ({"fib": -1}, "fib must be between 0 and 312, got -1"),
        ({"fib": 10**5000}, "fib must be between 0 and 312, got a number of over 1000 digits"),
        ({"fib": True}, TYPE_MESSAGE.format(limit=312, got="True")),
        ({"fib": 7.0}, TYPE_MESSAGE.format(limit=312, got="7.0")),
        ({"fib": float("nan")}, TYPE_MESSAGE.format(limit=312, got="nan")),
        ({"fib": "7"}, TYPE_MESSAGE.format(limit=312, got="'7'")),
        ({"fib": None}, TYPE_MESSAGE.format(limit=312, got="NULL")),
        ({"fib": [7]}, TYPE_MESSAGE.format(limit=312, got="a JSON array")),
        ({"fib": {"n": 7}}, TYPE_MESSAGE.format(limit=312, got="a JSON object")),
        ({}, MISSING_MESSAGE.format(limit=312)),
        ({"n": 7}, MISSING_MESSAGE.format(limit=312)),
        ([7], 'expected a JSON object like {"fib": 7}, got a JSON array'),
        (7, 'expected a JSON object like {"fib": 7}, got a JSON number'),
        ("7", 'expected a JSON object like {"fib": 7}, got a JSON string'),
        (None, 'expected a JSON object like {"fib": 7}, got a JSON null'),
    ],
)
def test_direct_bad_input_is_a_function_error(event, message, log_lines):
    with pytest.raises(ArgumentError) as raised:
        call(event)
    # The runtime reports errorType = the class name and errorMessage = str(error).
    assert type(raised.value).__name__ == "ArgumentError"
    assert str(raised.value) == message
    record = json.loads(log_lines[-1])
    assert record["level"] == "ERROR" and record["outcome"] == "error" and record["message"] == message


def test_range_messages_come_from_the_contract():
    with pytest.raises(ArgumentError) as raised:
        call({"fib": 313})
    assert str(raised.value) == RANGE_MESSAGE.format(limit=DECIMAL65_MAX_FIB, got=313)
    assert raised.value.out_of_range


def test_one_json_log_line_per_invocation(log_lines):
    call({"fib": 10})
    call(rest_event('{"fib": 11, "password": "hunter2"}'))
    assert len(log_lines) == 2
    direct, http = (json.loads(line) for line in log_lines)
    assert direct["requestId"] == Context.aws_request_id
    assert direct["fib"] == 10 and direct["outcome"] == "ok" and direct["event"] == "direct"
    assert isinstance(direct["durationMs"], float)
    assert http["fib"] == 11 and http["status"] == 200 and http["event"] == "apigw-v1"
    assert "hunter2" not in log_lines[1]  # the payload is never logged


def test_no_context_is_fine(log_lines):
    assert lambda_handler.handler({"fib": 3}, None)["value"] == "2"
    assert json.loads(log_lines[-1])["requestId"] is None


# ---- API Gateway events -----------------------------------------------------------


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_http_event_answers_200_with_the_exact_value(shape):
    response = call(EVENT_BUILDERS[shape]('{"fib": 312}'))
    assert response["statusCode"] == 200
    assert http_body(response) == {"fib": 312, "value": str(fibonacci(312))}


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_http_event_with_a_base64_body(shape):
    body = base64.b64encode(b'{"fib": 20}').decode()
    response = call(EVENT_BUILDERS[shape](body, is_base64=True))
    assert response["statusCode"] == 200
    assert http_body(response) == {"fib": 20, "value": "6765", "number": 6765}


def test_http_api_default_stage_and_stage_without_slash():
    assert call(http_api_event('{"fib": 5}', raw_path="/", stage="$default"))["statusCode"] == 200
    assert call(http_api_event('{"fib": 5}', raw_path="/test", stage="test"))["statusCode"] == 200


HTTP_BAD_BODIES = [
    ('{"fib": 313}', "fib must be between 0 and 312, got 313"),
    ('{"fib": -1}', "fib must be between 0 and 312, got -1"),
    ('{"fib": true}', TYPE_MESSAGE.format(limit=312, got="True")),
    ('{"fib": 1.5}', TYPE_MESSAGE.format(limit=312, got="1.5")),
    ('{"fib": 7.0}', TYPE_MESSAGE.format(limit=312, got="7.0")),
    ('{"fib": "7"}', TYPE_MESSAGE.format(limit=312, got="'7'")),
    ('{"fib": null}', TYPE_MESSAGE.format(limit=312, got="NULL")),
    ('{"fib": [1]}', TYPE_MESSAGE.format(limit=312, got="a JSON array")),
    ("{}", MISSING_MESSAGE.format(limit=312)),
    ("[7]", 'expected a JSON object like {"fib": 7}, got a JSON array'),
    ("7", 'expected a JSON object like {"fib": 7}, got a JSON number'),
    ('{"fib": ', "the request body is not valid JSON: Expecting value"),
    ("fib=7", "the request body is not valid JSON"),
    ('{"fib": 7', "the request body is not valid JSON"),
    ('{"fib": 1' + "0" * 5000 + "}", "the request body is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "the request body is not valid JSON: nested too deeply"),
    ('{"a":' * 50_000 + "1" + "}" * 50_000, "the request body is not valid JSON: nested too deeply"),
    ("", 'the request body is empty: send {"fib": N}'),
    ("   \n", 'the request body is empty: send {"fib": N}'),
    (None, 'the request body is empty: send {"fib": N}'),
]


@pytest.mark.parametrize("shape", ["v1", "v2"])
@pytest.mark.parametrize("body, message", HTTP_BAD_BODIES, ids=[str(i) for i in range(len(HTTP_BAD_BODIES))])
def test_http_bad_input_is_400_naming_the_problem(shape, body, message, log_lines):
    response = call(EVENT_BUILDERS[shape](body))
    assert response["statusCode"] == 400
    error = http_body(response)
    assert error["message"].startswith(message)
    assert error["errorType"] in ("ArgumentError", "BadRequest")
    assert json.loads(log_lines[-1])["outcome"] == "rejected"


@pytest.mark.parametrize("shape", ["v1", "v2"])
@pytest.mark.parametrize(
    "body, message",
    [
        ("!!not base64!!", "the request body is marked base64 but is not valid base64"),
        (base64.b64encode(b"\xff\xfe{").decode(), "the request body is not valid JSON"),
        (base64.b64encode(b"").decode(), "the request body is empty"),
        (base64.b64encode(b'{"fib": 400}').decode(), "fib must be between 0 and 312, got 400"),
    ],
)
def test_http_bad_base64_bodies(shape, body, message):
    response = call(EVENT_BUILDERS[shape](body, is_base64=True))
    assert response["statusCode"] == 400
    assert http_body(response)["message"].startswith(message)


@pytest.mark.parametrize("shape", ["v1", "v2"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
def test_wrong_method_is_405(shape, method):
    response = call(EVENT_BUILDERS[shape]('{"fib": 1}', method=method))
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"
    assert "use POST" in http_body(response)["message"]


def test_wrong_path_is_404():
    response = call(rest_event('{"fib": 1}', path="/fibonacci"))
    assert response["statusCode"] == 404
    assert "no route for '/fibonacci'" in http_body(response)["message"]
    response = call(http_api_event('{"fib": 1}', raw_path="/test/other"))
    assert response["statusCode"] == 404
    response = call(http_api_event('{"fib": 1}', raw_path="/prod/", stage="test"))
    assert response["statusCode"] == 404


# ---- the limit setting ------------------------------------------------------------


def test_the_limit_is_configurable_up_to_the_hard_cap(monkeypatch):
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, "1000")
    assert call({"fib": 1000})["value"] == str(fibonacci(1000))
    with pytest.raises(ArgumentError, match=r"^fib must be between 0 and 1000, got 1001$"):
        call({"fib": 1001})
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, str(LAMBDA_HARD_MAX_FIB))
    answer = call(rest_event(json.dumps({"fib": LAMBDA_HARD_MAX_FIB})))
    assert int(http_body(answer)["value"]) == fibonacci(LAMBDA_HARD_MAX_FIB)
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, "10")
    assert http_body(call(rest_event('{"fib": 11}')))["message"] == "fib must be between 0 and 10, got 11"
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, "")
    with pytest.raises(ArgumentError, match="between 0 and 312"):
        call({"fib": 313})


@pytest.mark.parametrize(
    "setting", [str(LAMBDA_HARD_MAX_FIB + 1), "abc", "-1", "1e3", "12.0", "99999999999999999999999"]
)
def test_an_invalid_limit_setting_is_a_clear_error(monkeypatch, setting):
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, setting)
    with pytest.raises(SettingError) as raised:
        call({"fib": 1})
    assert str(raised.value).startswith(
        f"{LAMBDA_MAX_FIB_ENV} must be an integer between 0 and {LAMBDA_HARD_MAX_FIB}, got "
    )
    response = call(rest_event('{"fib": 1}'))
    assert response["statusCode"] == 500  # the operator's mistake, not the caller's
    assert http_body(response)["errorType"] == "SettingError"


def test_run_takes_an_explicit_environment(monkeypatch):
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, "5")
    assert run({"fib": 300}, None, {LAMBDA_MAX_FIB_ENV: "300"}, None)["value"] == str(fibonacci(300))
    assert run({"fib": 300}, None, {}, None)["fib"] == 300  # the default, 312


# ---- what the package imports -----------------------------------------------------


def test_cold_import_loads_only_what_it_needs():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import lambda_handler; "
        "print(sorted(m for m in ('json', 'base64', 'binascii', 'logging', 'fibtrigger') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(REPO)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---- the batch event (the queue backend's workers) ------------------------------------


def test_batch_event_answers_each_item_in_order_with_its_own_error(log_lines):
    answer = run({"fibs": [3, 10, 312, -1, "7", True]}, Context(), {}, log_lines.append)
    results = answer["results"]
    assert results[:3] == [events_result(3), events_result(10), events_result(312)]
    assert [item["errorType"] for item in results[3:]] == ["ArgumentError"] * 3
    assert results[3]["errorMessage"] == RANGE_MESSAGE.format(limit=DECIMAL65_MAX_FIB, got=-1)
    record = json.loads(log_lines[-1])
    assert record["event"] == "batch" and record["items"] == 6 and record["itemErrors"] == 3


@pytest.mark.parametrize(
    "event, message",
    [
        ({"fibs": 5}, "fibs must be a JSON array of at most 1000 integers, got a JSON number"),
        ({"fibs": list(range(1001))}, "got 1001 items"),
        ({"fibs": [1], "fib": 2}, "not both"),
    ],
)
def test_a_malformed_batch_is_a_function_error(event, message):
    with pytest.raises(ArgumentError, match=message):
        run(event, Context(), {}, None)


def events_result(n):
    from fibtrigger.lambda_function.events import result

    return result(n, fibonacci(n))
