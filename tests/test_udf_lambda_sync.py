"""The local lambda_sync UDF (udf/lambda_sync.c) in a private mariadbd, against a misbehaving peer.

The UDF is never installed into the shared test server: each module starts
its own mariadbd with `local_stack.up(lambda_service=False)`, whose endpoint
is the test double in lambda_peer.py.
"""

import json
import threading
import time

import pymysql
import pytest

from fibonacci_numbers import fibonacci
from fibtrigger.local import servers as local_stack
from fibtrigger.local import udf_build as lambda_sync_udf
from lambda_peer import answer

pytestmark = pytest.mark.mysql

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
LAMBDA_API_ERROR = 1873
INTERRUPTED = (1317, 1969)  # KILL QUERY / max_statement_time


@pytest.fixture
def sql(private_server, peer):
    peer.reset()
    connection = local_stack.admin_connection(private_server, "fibtrigger")
    yield connection
    connection.close()


def call(connection, arn, payload):
    cursor = connection.cursor()
    cursor.execute("SELECT lambda_sync(%s, %s)", (arn, payload))
    return cursor.fetchone()[0]


def sql_error(connection, arn=ARN, payload='{"fib": 1}'):
    with pytest.raises(pymysql.err.MySQLError) as caught:
        call(connection, arn, payload)
    return caught.value.args[0], caught.value.args[1]


def test_posts_the_payload_to_the_invoke_api_and_returns_the_body(sql, peer):
    result = call(sql, ARN, '{"fib": 10}')
    assert json.loads(result) == {"fib": 10, "value": "55"}
    (request,) = peer.requests
    assert request["path"] == f"/2015-03-31/functions/{ARN}/invocations"
    assert request["body"] == b'{"fib": 10}'
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Amz-Invocation-Type"] == "RequestResponse"


def test_the_function_name_is_escaped_in_the_path(sql, peer):
    call(sql, "my function/x", '{"fib": 1}')
    assert peer.requests[0]["path"] == "/2015-03-31/functions/my%20function%2Fx/invocations"


def test_a_large_body_comes_back_whole(sql, peer):
    body = json.dumps({"fib": 1, "value": "1", "padding": "x" * 300_000}).encode()
    peer.respond = answer(200, body)
    assert call(sql, ARN, '{"fib": 1}') == body


def test_rows_reuse_one_connection(sql, peer):
    for n in range(25):
        assert json.loads(call(sql, ARN, json.dumps({"fib": n})))["value"] == str(fibonacci(n))
    assert len(peer.requests) == 25
    assert len(peer.connections) == 1


def test_a_function_error_header_is_an_sql_error(sql, peer):
    peer.respond = answer(
        200, {"errorMessage": "fib must be between 0 and 10, got 20", "errorType": "ValueError"},
        {"X-Amz-Function-Error": "Unhandled"},
    )
    code, message = sql_error(sql)
    assert code == LAMBDA_API_ERROR
    assert ARN in message and "function error (Unhandled)" in message and "HTTP 200" in message
    assert "fib must be between 0 and 10, got 20" in message


def test_a_non_200_status_names_the_status_and_the_start_of_the_body(sql, peer):
    peer.respond = answer(500, "internal failure " + "z" * 1000)
    code, message = sql_error(sql)
    assert code == LAMBDA_API_ERROR
    assert "HTTP 500" in message and "internal failure zzz" in message and message.endswith("...")
    assert len(message) < 400


def test_a_dropped_connection_is_a_transport_error(sql, peer):
    def drop(request):
        raise ConnectionResetError  # the handler dies: the peer closes without an answer

    peer.respond = drop
    code, message = sql_error(sql)
    assert code == LAMBDA_API_ERROR
    assert "Lambda API returned error" in message and "AWS_ENDPOINT_URL_LAMBDA" in message


def test_max_statement_time_interrupts_a_hanging_call(sql, peer):
    peer.respond = peer.hang
    sql.cursor().execute("SET SESSION max_statement_time = 0.5")
    started = time.monotonic()
    code, message = sql_error(sql)
    assert code in INTERRUPTED, message
    assert time.monotonic() - started < 2.5  # well before the UDF's own 3 s timeout
    assert len(peer.requests) == 1


def test_kill_query_interrupts_a_hanging_call(sql, peer, private_server):
    peer.respond = peer.hang
    thread_id = sql.thread_id()
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            call(sql, ARN, '{"fib": 1}')
        except pymysql.err.MySQLError as error:
            outcome["error"] = error.args
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run)
    worker.start()
    while not peer.requests:
        time.sleep(0.02)
    killer = local_stack.admin_connection(private_server)
    killer.cursor().execute(f"KILL QUERY {thread_id}")
    killer.close()
    worker.join(10)
    assert outcome["error"][0] in INTERRUPTED
    assert outcome["seconds"] < 2.5


def test_a_hanging_call_times_out_on_its_own(sql, peer):
    peer.respond = peer.hang
    started = time.monotonic()
    code, message = sql_error(sql)
    elapsed = time.monotonic() - started
    assert code == LAMBDA_API_ERROR and "Timeout" in message
    assert 2.5 < elapsed < 6  # FIBTRIGGER_LAMBDA_TIMEOUT_MS=3000 in mariadbd's environment


def test_null_arguments_and_wrong_arity_are_errors(sql, peer):
    code, message = sql_error(sql, arn=None)
    assert code == LAMBDA_API_ERROR and "function ARN is NULL" in message
    code, message = sql_error(sql, payload=None)
    assert code == LAMBDA_API_ERROR and "payload is NULL" in message
    with pytest.raises(pymysql.err.MySQLError, match="takes exactly two arguments"):
        sql.cursor().execute("SELECT lambda_sync('a')")
    assert peer.requests == []


def test_a_stored_function_cannot_take_the_name(sql):
    with pytest.raises(pymysql.err.MySQLError) as caught:
        sql.cursor().execute("CREATE FUNCTION lambda_sync(a TEXT, b TEXT) RETURNS TEXT RETURN 'x'")
    assert caught.value.args[0] == 1125  # Function 'lambda_sync' already exists


def test_the_build_is_named_by_its_content_and_reused(private_server, sql):
    plugin_dir = f"{private_server.state_dir}/plugin"
    first = lambda_sync_udf.build(plugin_dir)
    mtime = first.stat().st_mtime_ns
    assert lambda_sync_udf.build(plugin_dir) == first and first.stat().st_mtime_ns == mtime
    assert first.name == private_server.udf_library
    assert lambda_sync_udf.install(sql.cursor(), first) is False  # already installed: untouched


def test_drop_and_recreate_while_server_threads_hold_handles(private_server, sql, peer):
    """Unloading the library cleans up every thread's handle; threads that outlive it do not crash."""
    others = [
        local_stack.admin_connection(private_server, "fibtrigger")
        for _ in range(3)
    ]
    for connection in others:
        call(connection, ARN, '{"fib": 2}')  # each server thread now holds a curl handle
    cursor = sql.cursor()
    cursor.execute("DROP FUNCTION lambda_sync")
    others[0].close()  # its server thread exits (or is cached) after the library is gone
    cursor.execute(f"CREATE FUNCTION lambda_sync RETURNS STRING SONAME '{private_server.udf_library}'")
    for connection in others[1:]:
        assert json.loads(call(connection, ARN, '{"fib": 3}'))["value"] == "2"
        connection.close()
    assert json.loads(call(sql, ARN, '{"fib": 4}'))["value"] == "3"
    cursor.execute("SELECT 1")
    assert cursor.fetchone() == (1,)
