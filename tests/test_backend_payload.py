"""fiblambda, the lambda backend's SQL, against payloads that Aurora's lambda_sync may hand back.

Aurora returns a function error as a 200 payload with errorMessage/errorType
(no SQL error), so the peer here answers 200 without X-Amz-Function-Error and
the SQL alone must refuse to store anything that is not the right value.
"""

import pymysql
import pytest

from conftest import count_rows
from fibtrigger import backend, migrate
from fibtrigger.errors import BackendError
from fibtrigger.local import servers as local_stack
from fibtrigger.schema import mysql
from fibtrigger.table import FibonacciTable
from lambda_peer import answer

pytestmark = pytest.mark.mysql

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:fibtrigger:prod"


@pytest.fixture(scope="module")
def url(private_server):
    url = private_server.database_url
    migrate.upgrade(url)
    backend.use_lambda(url, ARN)
    return url


@pytest.fixture
def raw(private_server, url, peer):
    peer.reset()
    connection = local_stack.admin_connection(private_server, "fibtrigger")
    connection.cursor().execute("DELETE FROM fibonacci")
    yield connection
    connection.close()


def insert_fails(connection, n=10):
    with pytest.raises(pymysql.err.OperationalError) as caught:
        connection.cursor().execute(f"INSERT INTO fibonacci VALUES ({n}, null)")
    assert count_rows(connection) == 0
    code, message = caught.value.args
    assert code == 1644  # SIGNAL SQLSTATE '45000'
    return message


def test_the_trigger_sends_the_argument_as_a_json_integer_to_the_arn(raw, peer):
    raw.cursor().execute("INSERT INTO fibonacci VALUES (10, null)")
    (request,) = peer.requests
    assert request["body"] == b'{"fib": 10}'
    assert request["path"] == f"/2015-03-31/functions/{ARN}/invocations"


def test_an_error_payload_is_signalled_with_the_functions_message(raw, peer):
    peer.respond = answer(200, {"errorMessage": "fib must be between 0 and 5, got 10", "errorType": "ValueError"})
    assert insert_fails(raw) == "Lambda function error: fib must be between 0 and 5, got 10"
    peer.respond = answer(200, {"errorType": "Runtime.ExitError"})
    assert insert_fails(raw) == "Lambda function error: Runtime.ExitError"


def test_a_long_error_message_is_cut_to_what_signal_accepts(raw, peer):
    peer.respond = answer(200, {"errorMessage": "x" * 500, "errorType": "E"})
    message = insert_fails(raw)
    assert message.startswith("Lambda function error: xxx") and len(message) == 128


@pytest.mark.parametrize(
    "payload",
    [
        {"fib": 10},  # no value
        {"fib": 10, "value": None},
        {"fib": 10, "value": "55abc"},  # CAST would store 55 with a mere warning
        {"fib": 10, "value": "-55"},
        {"fib": 10, "value": ""},
        {"fib": 10, "value": 5.5e1},
        {"fib": 10, "value": "1" * 66},  # more digits than DECIMAL(65,0)
        {"fib": 10, "value": ["55"]},
        {"fib": 10, "value": 55},  # a JSON number: only a string of digits is exact
    ],
)
def test_a_payload_without_a_decimal_value_stores_nothing(raw, peer, payload):
    peer.respond = answer(200, payload)
    assert insert_fails(raw).startswith("Lambda function returned no decimal value for fib 10")


@pytest.mark.parametrize("body", ["not json", "", "[1, 2]", "null"])
def test_a_payload_that_is_not_a_json_object_stores_nothing(raw, peer, body):
    peer.respond = answer(200, body)
    message = insert_fails(raw)
    assert message.startswith(("Lambda function returned no JSON object", "Lambda function returned no decimal value"))


def test_an_answer_for_another_argument_stores_nothing(raw, peer):
    peer.respond = answer(200, {"fib": 11, "value": "89"})
    assert insert_fails(raw).startswith("Lambda function answered for another fib than 10")


KEYS = "answer has keys other than fib, value, number, or one twice, for fib 10"
# Each of these was stored as 999 (or 0) before fiblambda checked the whole answer.
MALFORMED = [
    (10, b'{"value": "999"}', "answered for another fib than 10"),  # no fib
    (10, b'{"fib": "10", "value": "999"}', "answered for another fib than 10"),  # fib a string
    (10, b'{"fib": 10, "value": 999}', "returned no decimal value for fib 10"),  # value a number
    (10, b'{"fib": 10, "value": "55", "value": "999"}', KEYS),
    (10, b'{"fib": 10, "value": "999", "value": "55"}', KEYS),
    (10, b'{"fib": 10, "fib": 11, "value": "55"}', KEYS),
    (10, b'{"fib": 11, "fib": 10, "value": "55"}', "Lambda function answer"),  # MariaDB reads the first fib
    (10, b'{"fib": 10, "value": "55", "number": 55, "number": 55}', KEYS),
    (10, b'{"fib": 10, "value": "55", "note": "x"}', KEYS),
    (10, b'{"fib": 10, "value": "55", "f\\"b": 1}', KEYS),
    (10, b'{"fib": 10, "value": "999", "number": 55}', "number other than its value for fib 10"),
    (10, b'{"fib": 10, "value": "55", "number": "55"}', "number other than its value for fib 10"),
    (10, b'{"fib": true, "value": "55"}', "answered for another fib than 10"),
    (0, b'{"fib": null, "value": "999"}', "answered for another fib than 0"),
    (0, b'{"fib": "abc", "value": "999"}', "answered for another fib than 0"),
]


@pytest.mark.parametrize(("fib", "body", "message"), MALFORMED)
def test_a_malformed_answer_stores_nothing(raw, peer, fib, body, message):
    peer.respond = answer(200, body)
    assert message in insert_fails(raw, fib)


@pytest.mark.parametrize(
    "body",
    [
        b'{"value": "55", "fib": 10}',
        b' {\n "fib" : 10 ,\t"value":"55" } ',
        b'{"fib":10,"value":"55","number":55}',
        b'{"number": 55, "fib": 1e1, "value": "55"}',
    ],
)
def test_an_exact_answer_is_stored_in_any_key_order_and_spacing(raw, peer, body):
    peer.respond = answer(200, body)
    raw.cursor().execute("INSERT INTO fibonacci VALUES (10, null)")
    cursor = raw.cursor()
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert cursor.fetchall() == ((10, 55),)


@pytest.fixture(scope="module")
def answer_rule(mysql_databases):
    """The answer rule's SQL text in a routine of its own on the shared server: crafted answers, no HTTP."""
    url = mysql_databases.create("answer")
    connection = mysql_databases.admin(url.database)
    connection.cursor().execute(
        f"""CREATE FUNCTION answer_for(fib INT, response LONGTEXT) RETURNS DECIMAL(65,0) NO SQL
BEGIN
  DECLARE answered DECIMAL(65,0);
  DECLARE msg VARCHAR(128);
{mysql.answer_check("fib", "response", "answered")}
  RETURN answered;
END"""
    )
    yield connection.cursor()
    connection.close()


@pytest.mark.parametrize(("fib", "body", "message"), MALFORMED)
def test_the_answer_rule_refuses_crafted_answers_in_sql(answer_rule, fib, body, message):
    with pytest.raises(pymysql.err.OperationalError) as caught:
        answer_rule.execute("SELECT answer_for(%s, %s)", (fib, body.decode()))
    assert caught.value.args[0] == 1644 and message in caught.value.args[1]


def test_the_answer_rule_takes_65_digits_and_no_more(answer_rule):
    answer_rule.execute("SELECT answer_for(10, %s)", (f'{{"fib": 10, "value": "{"9" * 65}"}}',))
    assert answer_rule.fetchone()[0] == 10**65 - 1
    with pytest.raises(pymysql.err.OperationalError, match="no decimal value"):
        answer_rule.execute("SELECT answer_for(10, %s)", (f'{{"fib": 10, "value": "{"1" * 66}"}}',))


def test_the_facade_raises_a_typed_backend_error(url, raw, peer):
    peer.respond = answer(200, {"errorMessage": "boom", "errorType": "RuntimeError"})
    table = FibonacciTable(url)
    try:
        with pytest.raises(BackendError, match="Lambda function error: boom"):
            table.compute(4)
    finally:
        table.close()
    assert count_rows(raw) == 0


def test_an_update_goes_through_the_lambda_too(raw, peer):
    raw.cursor().execute("INSERT INTO fibonacci VALUES (3, null)")
    raw.cursor().execute("UPDATE fibonacci SET fib = 12")
    cursor = raw.cursor()
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert cursor.fetchall() == ((12, 144),)
    assert len(peer.requests) == 2
