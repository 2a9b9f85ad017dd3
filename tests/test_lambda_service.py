"""The local Lambda service on a free port, driven for real: boto3's lambda client and raw HTTP."""

import base64
import http.client
import json
import socket
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fibonacci_numbers import fibonacci
from fibtrigger import lambda_function as lambda_handler
from fibtrigger.errors import ConfigurationError
from fibtrigger.lambda_function.contract import LAMBDA_MAX_FIB_ENV
from fibtrigger.local.service import LocalLambdaService

REQUIRED_COUNTERS = {"invocations", "errors", "function_errors", "duration_ms_total"}


@pytest.fixture
def service():
    with LocalLambdaService(port=0) as running:
        yield running


def lambda_client(endpoint: str):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=10, connect_timeout=5),
    )


@pytest.fixture
def client(service):
    return lambda_client(service.url)


def payload(response) -> dict:
    return json.loads(response["Payload"].read())


def connect(service) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)


def request(service, method, path, body=b"", headers=None):
    connection = connect(service)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# ---- the Invoke API through boto3 -------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "fibtrigger",
        "function",
        "123456789012:function:fibtrigger",
        "arn:aws:lambda:us-east-1:123456789012:function:fibtrigger",
        "arn:aws:lambda:eu-west-3:000000000000:function:fibtrigger",
        "arn:aws:lambda:us-east-1:123456789012:function:fibtrigger:$LATEST",
        "fibtrigger:$LATEST",
    ],
)
def test_boto3_invokes_by_name_partial_arn_and_arn(client, name):
    response = client.invoke(FunctionName=name, Payload=json.dumps({"fib": 312}))
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload(response) == {"fib": 312, "value": str(fibonacci(312))}


def test_request_id_header_matches_the_context(service):
    seen = []

    def recording(event, context):
        seen.append((context.aws_request_id, context.function_name, context.invoked_function_arn,
                     context.get_remaining_time_in_millis(), context.memory_limit_in_mb, context.log_group_name))
        return lambda_handler.handler(event, context)

    with LocalLambdaService(handler=recording) as running:
        response = lambda_client(running.url).invoke(
            FunctionName="arn:aws:lambda:eu-west-1:111122223333:function:function", Payload=b'{"fib": 1}'
        )
    request_id, name, arn, remaining, memory, group = seen[0]
    assert response["ResponseMetadata"]["RequestId"] == request_id
    assert name == "function"
    assert arn == "arn:aws:lambda:eu-west-1:111122223333:function:function"
    assert 0 < remaining <= 3000 and memory == "128" and group == "/aws/lambda/function"


def test_unknown_function_is_resource_not_found(client, service):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.invoke(FunctionName="nope", Payload=b'{"fib": 1}')
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" in str(raised.value)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="fibtrigger", Qualifier="prod", Payload=b'{"fib": 1}')
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:other", Payload=b'{"fib": 1}')
    assert service.metrics()["invocations"] == 0


def test_malformed_function_names_are_validation_errors(client):
    for name in ["bad name", "arn:aws:s3:::bucket", "a:b:c:d:e"]:
        with pytest.raises(ClientError) as raised:
            client.invoke(FunctionName=name, Payload=b'{"fib": 1}')
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_configured_function_names(service):
    with LocalLambdaService(function_names=["fib-prod"]) as running:
        client = lambda_client(running.url)
        assert payload(client.invoke(FunctionName="fib-prod", Payload=b'{"fib": 9}'))["value"] == "34"
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="fibtrigger", Payload=b'{"fib": 9}')


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"fib": 313}', "fib must be between 0 and 312, got 313"),
        (b'{"fib": -1}', "fib must be between 0 and 312, got -1"),
        (b'{"fib": "7"}', "fib must be an integer between 0 and 312, got '7'"),
        (b'{"fib": 1.5}', "fib must be an integer between 0 and 312, got 1.5"),
        (b'{"fib": true}', "fib must be an integer between 0 and 312, got True"),
        (b'{"fib": null}', "fib must be an integer between 0 and 312, got NULL"),
        (b"{}", 'fib is missing: send {"fib": N} with 0 <= N <= 312'),
        (b"", 'fib is missing: send {"fib": N} with 0 <= N <= 312'),
        (b"[1]", 'expected a JSON object like {"fib": 7}, got a JSON array'),
    ],
)
def test_bad_input_is_a_function_error_like_real_lambda(client, service, body, message):
    response = client.invoke(FunctionName="fibtrigger", Payload=body)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = payload(response)
    assert error["errorType"] == "ArgumentError"
    assert error["errorMessage"] == message
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert isinstance(error["stackTrace"], list)
    counters = service.metrics()
    assert counters["invocations"] == 1 and counters["function_errors"] == 1 and counters["errors"] == 1


@pytest.mark.parametrize("body", [b'{"fib": ', b"not json", b"[" * 5000, b'{"fib": 1' + b"0" * 5000 + b"}"])
def test_payloads_that_are_not_json_are_rejected_before_the_handler(client, service, body):
    with pytest.raises(client.exceptions.InvalidRequestContentException) as raised:
        client.invoke(FunctionName="fibtrigger", Payload=body)
    assert "Could not parse request body into json" in str(raised.value)
    assert service.metrics()["invocations"] == 0


def test_event_invocation_is_accepted_and_runs_later(client, service):
    response = client.invoke(FunctionName="fibtrigger", InvocationType="Event", Payload=b'{"fib": 30}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert wait_for(lambda: service.metrics()["invocations"] == 1)
    client.invoke(FunctionName="fibtrigger", InvocationType="Event", Payload=b'{"fib": 999}')
    assert wait_for(lambda: service.metrics()["function_errors"] == 1)


def test_dry_run_does_not_invoke(client, service):
    response = client.invoke(FunctionName="fibtrigger", InvocationType="DryRun", Payload=b'{"fib": 30}')
    assert response["StatusCode"] == 204
    assert service.metrics()["invocations"] == 0
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="fibtrigger", InvocationType="Sometimes", Payload=b'{"fib": 30}')
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_log_type_tail_returns_the_invocation_log(client):
    response = client.invoke(FunctionName="fibtrigger", Payload=b'{"fib": 12}', LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    record = json.loads(lines[1])
    assert record["requestId"] == request_id and record["fib"] == 12 and record["outcome"] == "ok"
    assert lines[2] == f"END RequestId: {request_id}"
    assert lines[3].startswith(f"REPORT RequestId: {request_id}\tDuration: ")


def test_client_context_reaches_the_handler():
    seen = []

    def recording(event, context):
        seen.append(context.client_context.custom)
        return {"ok": True}

    with LocalLambdaService(handler=recording) as running:
        context = base64.b64encode(json.dumps({"custom": {"caller": "test"}}).encode()).decode()
        lambda_client(running.url).invoke(FunctionName="fibtrigger", Payload=b"{}", ClientContext=context)
    assert seen == [{"caller": "test"}]


def test_the_function_environment_is_layered_over_the_process(monkeypatch):
    monkeypatch.setenv(LAMBDA_MAX_FIB_ENV, "20")
    with LocalLambdaService(environment={LAMBDA_MAX_FIB_ENV: "1000"}) as running:
        assert running.max_fib == 1000
        client = lambda_client(running.url)
        answer = payload(client.invoke(FunctionName="fibtrigger", Payload=b'{"fib": 1000}'))
        assert answer["value"] == str(fibonacci(1000))
    with LocalLambdaService() as running:
        response = lambda_client(running.url).invoke(FunctionName="fibtrigger", Payload=b'{"fib": 21}')
        assert payload(response)["errorMessage"] == "fib must be between 0 and 20, got 21"


def test_the_standard_endpoint_variables_point_boto3_at_the_service(service, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.url)
    assert payload(boto3.client("lambda").invoke(FunctionName="fibtrigger", Payload=b'{"fib": 50}'))["value"] == str(
        fibonacci(50)
    )
    monkeypatch.delenv("AWS_ENDPOINT_URL_LAMBDA")
    monkeypatch.setenv("AWS_ENDPOINT_URL", service.url)
    assert payload(boto3.client("lambda").invoke(FunctionName="fibtrigger", Payload=b'{"fib": 51}'))["value"] == str(
        fibonacci(51)
    )


# ---- HTTP behaviour ---------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection_with_nagle_off(service):
    connection = connect(service)
    try:
        for n in range(20):
            connection.request("POST", "/2015-03-31/functions/fibtrigger/invocations", body=json.dumps({"fib": n}))
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["value"] == str(fibonacci(n))
            assert response.getheader("Connection") is None  # stays open
        [handler] = list(service._connections)
        assert handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        connection.close()
    counters = service.metrics()
    assert counters["connections"] == 1 and counters["requests"] == 20 and counters["invocations"] == 20


def test_requests_are_served_concurrently():
    # Four calls that can only finish together: a server that handled one at a time would
    # break the barrier and answer with function errors.
    barrier = threading.Barrier(4, timeout=5)

    def rendezvous(event, context):
        barrier.wait()
        return {"ok": event["fib"]}

    with LocalLambdaService(handler=rendezvous) as running:
        results = []

        def call(n):
            client = lambda_client(running.url)
            response = client.invoke(FunctionName="fibtrigger", Payload=json.dumps({"fib": n}))
            results.append((response.get("FunctionError"), payload(response)))

        threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
    assert sorted(results, key=lambda r: r[1].get("ok", -1)) == [(None, {"ok": n}) for n in range(4)]


def test_many_concurrent_clients_get_exact_answers(service):
    errors = []

    def worker(offset):
        connection = connect(service)
        try:
            for n in range(offset, 313, 16):
                connection.request("POST", "/2015-03-31/functions/fibtrigger/invocations", body=json.dumps({"fib": n}))
                answer = json.loads(connection.getresponse().read())
                if answer["value"] != str(fibonacci(n)):
                    errors.append((n, answer))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert service.metrics()["invocations"] == 313


def test_request_size_is_bounded(service):
    with LocalLambdaService(max_request_bytes=1024) as small:
        client = lambda_client(small.url)
        with pytest.raises(client.exceptions.RequestTooLargeException):
            client.invoke(FunctionName="fibtrigger", Payload=json.dumps({"fib": 1, "pad": "x" * 2000}))
        status, headers, body = request(small, "POST", "/test/", body=b"x" * 5000)
        assert status == 413 and headers["Connection"] == "close"
        assert headers["x-amzn-ErrorType"] == "RequestTooLargeException"
        assert small.metrics()["invocations"] == 0
        # Chunked bodies are bounded too, and decoded when within the limit.
        connection = connect(small)
        connection.request("POST", "/test/", body=iter([b'{"fib":', b" 10}"]), encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["value"] == "55"
        connection.request("POST", "/test/", body=iter([b"x" * 800, b"x" * 800]), encode_chunked=True)
        assert connection.getresponse().status == 413
        connection.close()


def test_metrics_endpoint(service, client):
    client.invoke(FunctionName="fibtrigger", Payload=b'{"fib": 5}')
    client.invoke(FunctionName="fibtrigger", Payload=b'{"fib": 500}')
    status, headers, body = request(service, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"] == "application/json"
    counters = json.loads(body)
    assert REQUIRED_COUNTERS <= set(counters)
    assert counters["invocations"] == 2 and counters["function_errors"] == 1 and counters["errors"] == 1
    assert counters["duration_ms_total"] > 0
    assert service.metrics()["requests"] == counters["requests"] + 1
    assert request(service, "POST", "/metrics")[0] == 405


def test_unknown_routes(service):
    status, _, body = request(service, "POST", "/nothing/here", b"{}")
    assert status == 404 and "POST /test/" in json.loads(body)["message"]
    status, headers, _ = request(service, "GET", "/2015-03-31/functions/fibtrigger/invocations")
    assert status == 405
    assert service.metrics()["invocations"] == 0


def test_stop_closes_kept_alive_connections_and_the_port():
    service = LocalLambdaService().start()
    connection = connect(service)
    connection.request("POST", "/test/", body=b'{"fib": 3}')
    assert connection.getresponse().read()
    port = service.port
    service.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        connection.request("POST", "/test/", body=b'{"fib": 3}')
        connection.getresponse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    service.stop()  # idempotent


# ---- the API-Gateway-style endpoint without IAM -----------------------------------


def test_api_endpoint_answers_like_api_gateway(service):
    for path in ("/test/", "/test"):
        status, headers, body = request(service, "POST", path, b'{"fib": 10}', {"Content-Type": "application/json"})
        assert status == 200, body
        assert json.loads(body) == {"fib": 10, "value": "55", "number": 55}
        assert headers["Content-Type"] == "application/json" and "x-amzn-RequestId" in headers
    assert request(service, "GET", "/test/")[0] == 405
    assert request(service, "POST", "/test/other", b'{"fib": 1}')[0] == 404
    status, _, body = request(service, "POST", "/test/", b'{"fib": 313}')
    assert status == 400 and json.loads(body)["message"] == "fib must be between 0 and 312, got 313"
    assert request(service, "POST", "/test/", b'{"fib": ')[0] == 400
    assert request(service, "POST", "/test/", b"\xff\xfe")[0] == 400  # sent to the handler as base64
    assert request(service, "POST", "/test/", b"")[0] == 400
    counters = service.metrics()
    assert counters["invocations"] == 8 and counters["function_errors"] == 0 and counters["client_errors"] == 6


def test_api_event_is_a_rest_proxy_event():
    events = []

    def recording(event, context):
        events.append(event)
        return lambda_handler.handler(event, context)

    with LocalLambdaService(handler=recording, stage="prod") as running:
        status, _, body = request(
            running,
            "POST",
            "/prod/?debug=1&debug=2",
            b'{"fib": 6}',
            {"Content-Type": "application/json", "X-Trace": "t"},
        )
        assert status == 200 and json.loads(body)["value"] == "8"
        status, _, _ = request(running, "POST", "/prod/", b"\x00\xff")
    event = events[0]
    assert event["httpMethod"] == "POST" and event["path"] == "/" and event["resource"] == "/"
    assert event["body"] == '{"fib": 6}' and event["isBase64Encoded"] is False
    assert event["headers"]["X-Trace"] == "t" and event["multiValueHeaders"]["X-Trace"] == ["t"]
    assert event["queryStringParameters"] == {"debug": "2"}
    assert event["multiValueQueryStringParameters"] == {"debug": ["1", "2"]}
    context = event["requestContext"]
    assert context["stage"] == "prod" and context["path"] == "/prod/" and context["httpMethod"] == "POST"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["accessKey"] is None
    assert events[1]["isBase64Encoded"] is True and base64.b64decode(events[1]["body"]) == b"\x00\xff"


def test_a_handler_crash_or_malformed_answer_is_api_gateways_502():
    def crash(event, context):
        raise RuntimeError("boom")

    with LocalLambdaService(handler=crash) as running:
        status, _, body = request(running, "POST", "/test/", b'{"fib": 1}')
        assert status == 502 and json.loads(body) == {"message": "Internal server error"}
        assert running.metrics()["function_errors"] == 1 and running.metrics()["server_errors"] == 1
        response = lambda_client(running.url).invoke(FunctionName="fibtrigger", Payload=b"{}")
        assert response["FunctionError"] == "Unhandled"
        error = payload(response)
        assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "boom"
        assert 'raise RuntimeError("boom")' in "".join(error["stackTrace"])
    with LocalLambdaService(handler=lambda event, context: "not a proxy response") as running:
        assert request(running, "POST", "/test/", b'{"fib": 1}')[0] == 502
    with LocalLambdaService(handler=lambda event, context: {1, 2}) as running:
        response = lambda_client(running.url).invoke(FunctionName="fibtrigger", Payload=b"{}")
        assert payload(response)["errorType"] == "Runtime.MarshalError"


# ---- configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"environment": {LAMBDA_MAX_FIB_ENV: "abc"}},
        {"environment": {LAMBDA_MAX_FIB_ENV: "10001"}},
        {"stage": "2015-03-31"},
        {"stage": "a/b"},
        {"function_names": ["bad name"]},
        {"function_names": []},
    ],
)
def test_bad_configuration_is_a_clear_error(options):
    with pytest.raises(ConfigurationError):
        LocalLambdaService(**options)


def test_a_busy_port_is_a_clear_error(service):
    with pytest.raises(ConfigurationError, match=f"cannot listen on 127.0.0.1:{service.port}"):
        LocalLambdaService(port=service.port).start()

