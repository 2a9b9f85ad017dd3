"""Hostile and bad input at every entry point: Python, the CLI, raw SQL, the Lambda handler, the HTTP API.

Each gets a typed error (or a 4xx) and leaves the table unchanged, counted before and after. Where SQL
itself converts a value before the trigger sees it (10.5 -> 11, TRUE -> 1, '10' -> 10), the stored row
is still consistent, value = F(fib), as the README's Guarantees section says.
"""

import http.client
import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import count_rows
from fibonacci_numbers import fibonacci
from fibtrigger import FibtriggerError, InvalidArgument, ResultOutOfRange, compute, compute_many
from fibtrigger import lambda_function as lambda_handler
from fibtrigger.cli import main
from fibtrigger.database import translate
from fibtrigger.lambda_function.contract import DECIMAL65_MAX_FIB, ArgumentError
from fibtrigger.local.proxy import rest_event
from fibtrigger.local.service import LocalLambdaService
from fibtrigger.table import FibonacciTable

LIMIT = DECIMAL65_MAX_FIB
SQL_INJECTION = "1); DROP TABLE fibonacci; --"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Sneaky(int):
    """An int whose text is SQL: what the facade writes into a statement must be the number."""

    def __str__(self) -> str:
        return SQL_INJECTION

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return SQL_INJECTION


# ---- Python ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(mysql_url):
    """One facade for the module: rejections are counted in rows, not in fresh tables."""
    fibonacci_table = FibonacciTable(mysql_url)
    yield fibonacci_table
    fibonacci_table.close()


class Opaque:
    """An arbitrary object; a stable repr keeps test ids equal across pytest-xdist workers."""

    def __repr__(self) -> str:
        return "Opaque()"


PYTHON_BAD = [
    None, -1, LIMIT + 1, 10**30, -(10**30), 1.0, 10.5, math.nan, math.inf, True, False, "10", " 10",
    SQL_INJECTION, b"10", bytearray(b"1"), Decimal("10"), Fraction(10, 1), complex(1, 0), [1], (1,), {"fib": 1},
    Opaque(),
]


@pytest.mark.parametrize("bad", PYTHON_BAD, ids=repr)
def test_python_compute_rejects_with_a_typed_error(table, mysql_raw, bad):
    before = count_rows(mysql_raw)
    with pytest.raises(InvalidArgument) as caught:
        table.compute(bad)
    assert "fib must be" in str(caught.value)
    with pytest.raises(InvalidArgument):
        compute(bad, engine=table.engine)  # the module-level twin
    with pytest.raises(InvalidArgument):
        table.compute_many([1, 2, bad, 3])  # one bad argument rejects the whole call
    assert count_rows(mysql_raw) == before


@pytest.mark.parametrize(
    "values, batch_size",
    [(None, 1000), (5, 1000), ("123", 1000), (b"12", 1000), (bytearray(b"12"), 1000), (SQL_INJECTION, 1000),
     ([1, 2], 0), ([1, 2], -1), ([1, 2], True), ([1, 2], 2.5), ([1, 2], "2"), ([1, 2], None)],
    ids=repr,
)
def test_python_compute_many_rejects_bad_containers_and_batch_sizes(table, mysql_raw, values, batch_size):
    before = count_rows(mysql_raw)
    with pytest.raises(InvalidArgument):
        table.compute_many(values, batch_size=batch_size)
    with pytest.raises(InvalidArgument):
        compute_many(values, engine=table.engine, batch_size=batch_size)
    assert count_rows(mysql_raw) == before


def test_python_an_iterable_that_fails_midway_stores_nothing(table, mysql_raw):
    def arguments():
        yield 1
        yield 2
        raise RuntimeError("the caller's own iterator failed")

    before = count_rows(mysql_raw)
    with pytest.raises(RuntimeError, match="the caller's own iterator failed"):
        table.compute_many(arguments())
    assert count_rows(mysql_raw) == before


def test_python_an_int_whose_text_is_sql_is_stored_as_its_number(mysql_table, mysql_raw):
    assert mysql_table.compute(Sneaky(10)) == 55
    assert mysql_table.compute_many([Sneaky(11), Sneaky(12)], batch_size=1) == [89, 144]
    assert mysql_table.rows() == [(10, 55), (11, 89), (12, 144)]


# ---- the CLI ----------------------------------------------------------------------------------

CLI_BAD = [
    "-1", str(LIMIT + 1), "10.5", "1e3", "true", "NULL", SQL_INJECTION, "1" + "0" * 30, "", " ", "\u0663",
    "0x10", "1_000", "+-1", "7 8",
]


def run_cli(*args, url):
    env = {key: value for key, value in os.environ.items() if key != "FIBTRIGGER_DATABASE_URL"}
    env["FIBTRIGGER_DATABASE_URL"] = url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-c", "from fibtrigger.cli import run; run()", *args],
        capture_output=True, text=True, env=env, timeout=60,
    )


@pytest.mark.parametrize("bad", [SQL_INJECTION, "1" + "0" * 30], ids=repr)
def test_cli_as_a_process_prints_one_line_and_exits_2(mysql_url, mysql_raw, bad):
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    done = run_cli("compute", "5", bad, url=mysql_url)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "fib must be" in done.stderr
    assert count_rows(mysql_raw) == 0  # not even the good 5: arguments are all checked first


@pytest.mark.parametrize("bad", CLI_BAD, ids=repr)
def test_cli_rejects_every_bad_argument(mysql_url, mysql_raw, capsys, bad):
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    code = main(["--database-url", mysql_url.render_as_string(hide_password=False), "compute", "5", bad])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("fibtrigger: ")
    assert count_rows(mysql_raw) == 0


@pytest.mark.parametrize(
    "args",
    [["grants", "--user", "a'@'%'; DROP USER root; --", "--schema", "app"],
     ["grants", "--user", "app", "--schema", "app`; DROP DATABASE mysql; --"],
     ["grants", "--user", "app", "--host", "%'; --", "--schema", "app"],
     ["--database-url", "not a url", "compute", "5"],
     ["--database-url", "postgresql://u:p@h/db", "compute", "5"],
     ["--database-url", "mysql+nodriver://u:p@127.0.0.1/db", "compute", "5"],
     ["--database-url", "mysql+pymysql://u:p@127.0.0.1/db?connect_timeout=soon", "compute", "5"]],
    ids=lambda args: " ".join(args)[:40],
)
def test_cli_rejects_hostile_names_and_urls(capsys, args):
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


# ---- raw SQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argument, error",
    [(None, InvalidArgument), (-1, InvalidArgument), (LIMIT + 1, ResultOutOfRange), (10**30, ResultOutOfRange),
     (-(10**30), InvalidArgument), (SQL_INJECTION, InvalidArgument), ("abc", InvalidArgument), ("", InvalidArgument)],
    ids=repr,
)
def test_raw_sql_bound_parameters_are_refused_and_typed(mysql_raw, mysql_url, argument, error):
    before = count_rows(mysql_raw)
    with pytest.raises(pymysql.err.MySQLError) as caught:
        mysql_raw.cursor().execute("INSERT INTO fibonacci VALUES (%s, null)", (argument,))
    assert isinstance(translate(caught.value, mysql_url), error)
    assert count_rows(mysql_raw) == before


@pytest.mark.parametrize(
    "literal",
    ["NULL", "-1", str(LIMIT + 1), "1e30", "1" + "0" * 30, "-1e30", f"'{SQL_INJECTION}'", "'abc'", "'0x10'"],
)
def test_raw_sql_literals_are_refused_and_typed(mysql_raw, mysql_url, literal):
    before = count_rows(mysql_raw)
    with pytest.raises(pymysql.err.MySQLError) as caught:
        mysql_raw.cursor().execute(f"INSERT INTO fibonacci VALUES ({literal}, null)")
    assert isinstance(translate(caught.value, mysql_url), InvalidArgument)
    assert count_rows(mysql_raw) == before


def test_raw_sql_cannot_smuggle_a_second_statement(mysql_raw):
    before = count_rows(mysql_raw)
    with pytest.raises(pymysql.err.ProgrammingError):  # the driver does not enable multi-statements
        mysql_raw.cursor().execute("INSERT INTO fibonacci VALUES (1, null); DROP TABLE fibonacci")
    assert count_rows(mysql_raw) == before


@pytest.mark.parametrize(
    "literal, fib", [("10.5", 11), ("10.4", 10), ("TRUE", 1), ("'10'", 10), ("' 10'", 10), ("'1e1'", 10), ("0x0A", 10)]
)
def test_raw_sql_conversions_still_store_consistent_rows(mysql_raw, literal, fib):
    """MySQL converts these for the INT column before the trigger runs: documented, and consistent."""
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    mysql_raw.cursor().execute(f"INSERT INTO fibonacci VALUES ({literal}, null)")
    cursor = mysql_raw.cursor()
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(f, int(v)) for f, v in cursor.fetchall()] == [(fib, fibonacci(fib))]


def test_raw_sql_with_a_non_strict_sql_mode_truncates_text_but_stays_consistent(mysql_raw):
    """A session may turn strict mode off; MySQL then keeps the leading digits, with a warning."""
    cursor = mysql_raw.cursor()
    cursor.execute("DELETE FROM fibonacci")
    cursor.execute("SET SESSION sql_mode = ''")
    try:
        cursor.execute("INSERT INTO fibonacci VALUES (%s, null)", (SQL_INJECTION,))
        assert mysql_raw.show_warnings()[0][1] == 1265  # Data truncated
        with pytest.raises(pymysql.err.OperationalError, match="got 2147483647"):
            cursor.execute("INSERT INTO fibonacci VALUES (1e30, null)")  # clamped, then refused
    finally:
        cursor.execute("SET SESSION sql_mode = DEFAULT")
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(f, int(v)) for f, v in cursor.fetchall()] == [(1, 1)]
    cursor.execute("SHOW TABLES LIKE 'fibonacci'")
    assert cursor.fetchall() == (("fibonacci",),)


def _insert_outcome(connection, argument):
    """Insert one raw argument: (error or None, rows added, the new rows)."""
    before = count_rows(connection)
    cursor = connection.cursor()
    try:
        cursor.execute("INSERT INTO fibonacci VALUES (%s, null)", (argument,))
    except pymysql.err.MySQLError as error:
        return error, count_rows(connection) - before, []
    cursor.execute("SELECT fib, value FROM fibonacci ORDER BY id DESC LIMIT 1")
    return None, count_rows(connection) - before, cursor.fetchall()


@FUZZ
@given(n=st.integers(min_value=-(2**80), max_value=2**80) | st.integers(min_value=-5, max_value=LIMIT + 5))
def test_fuzz_raw_sql_integers(mysql_raw, mysql_url, n):
    error, added, new = _insert_outcome(mysql_raw, n)
    if 0 <= n <= LIMIT:
        assert error is None and added == 1
        assert [(fib, int(value)) for fib, value in new] == [(n, fibonacci(n))]
    else:
        assert error is not None and added == 0
        assert isinstance(translate(error, mysql_url), InvalidArgument)


@FUZZ
@given(
    argument=st.none() | st.booleans() | st.floats(allow_nan=False) | st.decimals(allow_nan=False, places=3)
    | st.text(max_size=12) | st.from_regex(r"\A-?[0-9]{1,4}(\.[0-9])?\Z")
)
def test_fuzz_raw_sql_any_value_is_refused_or_stored_consistently(mysql_raw, mysql_url, argument):
    error, added, new = _insert_outcome(mysql_raw, argument)
    if error is not None:
        assert added == 0
        assert isinstance(translate(error, mysql_url), FibtriggerError)
    else:
        assert added == 1
        (fib, value), = new
        assert 0 <= fib <= LIMIT and int(value) == fibonacci(fib)  # never a wrong or missing value


# ---- the Lambda handler, invoked directly -------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
EVENTS = (
    JSON_VALUES
    | st.fixed_dictionaries({"fib": JSON_VALUES})
    | st.fixed_dictionaries({"fib": st.integers(min_value=-3, max_value=LIMIT + 3)})
    | st.dictionaries(st.sampled_from(["fib", "httpMethod", "version", "requestContext", "body", "rawPath",
                                       "path", "isBase64Encoded", "headers"]), JSON_VALUES, max_size=5)
)


@settings(max_examples=150, deadline=None)
@given(event=EVENTS)
def test_fuzz_the_handler_directly(event):
    """Any JSON event: an exact answer, a typed ArgumentError, or a 4xx response; never a crash."""
    try:
        answer = lambda_handler.handler(event, None)
    except ArgumentError:
        return
    if isinstance(answer, dict) and "statusCode" in answer:
        assert answer["statusCode"] in (200, 400, 404, 405) and isinstance(answer["body"], str)
        body = json.loads(answer["body"])
        if answer["statusCode"] == 200:
            assert int(body["value"]) == fibonacci(body["fib"])
        return
    assert isinstance(event, dict) and answer["value"] == str(fibonacci(event["fib"]))


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=64) | st.text(max_size=40).map(str.encode)
       | JSON_VALUES.map(lambda value: json.dumps({"fib": value}).encode()),
       method=st.sampled_from(["POST", "POST", "GET", "PUT"]))
def test_fuzz_the_handler_with_api_gateway_events(body, method):
    event = rest_event(
        method=method, stage="test", path="/", query="", headers=[("Content-Type", "application/json")],
        body=body, request_id="r", source_ip="127.0.0.1",
    )
    answer = lambda_handler.handler(event, None)
    assert answer["statusCode"] in (200, 400, 405)
    payload = json.loads(answer["body"])
    if answer["statusCode"] == 200:
        assert int(payload["value"]) == fibonacci(payload["fib"])
    else:
        assert payload["message"]


# ---- the HTTP API of the local Lambda service ---------------------------------------------------


@pytest.fixture(scope="module")
def service():
    with LocalLambdaService(port=0) as running:
        yield running


def post(service, path, body, headers):
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=80) | JSON_VALUES.map(lambda value: json.dumps({"fib": value}).encode()),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                  "multipart/form-data; boundary=x", "", "application/json; charset=latin-1"]),
    path=st.sampled_from(["/test/", "/2015-03-31/functions/fibtrigger/invocations"]),
)
def test_fuzz_the_http_api(service, body, content_type, path):
    before = service.metrics()
    status, answer = post(service, path, body, {"Content-Type": content_type} if content_type else {})
    assert status in (200, 400, 415), answer  # never a 5xx for a client's bytes
    if status == 415:
        assert path == "/test/" and content_type.split(";")[0] not in (
            "", "application/json", "application/x-www-form-urlencoded"
        )
    payload = json.loads(answer)
    if status == 200 and "value" in payload:
        assert int(payload["value"]) == fibonacci(payload["fib"])
    assert service.metrics()["server_errors"] == before.get("server_errors", 0)


@pytest.mark.parametrize(
    "body, status",
    [(b"", 400), (b"{", 400), (b"[" * 100_000, 400), (b'{"a":' * 50_000, 400), (b"\xff\xfe\x00", 400),
     (b'{"fib": ' + b"9" * 5000 + b"}", 400), (b'{"fib": 1e400}', 400)],
    ids=["empty", "truncated", "deep-array", "deep-object", "not-utf8", "5000-digits", "float-overflow"],
)
@pytest.mark.parametrize("path", ["/test/", "/2015-03-31/functions/fibtrigger/invocations"])
def test_http_api_malformed_bodies(service, path, body, status):
    got, answer = post(service, path, body, {"Content-Type": "application/json"})
    if path.startswith("/2015") and got == 200:
        # The Invoke API answers like Lambda: a function error, in a 200, for JSON it could parse.
        assert "errorMessage" in json.loads(answer)
    else:
        assert got == status and json.loads(answer)


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x"])
def test_http_api_wrong_content_type_is_415_and_stores_nothing(service, content_type):
    before = service.metrics()["function_errors"]
    status, answer = post(service, "/test/", b'{"fib": 7}', {"Content-Type": content_type})
    assert status == 415
    assert json.loads(answer)["errorType"] == "UnsupportedMediaType"
    assert "application/json" in json.loads(answer)["message"]
    assert service.metrics()["function_errors"] == before


def test_http_api_without_content_type_reads_json(service):
    status, answer = post(service, "/test/", b'{"fib": 7}', {})
    assert status == 200 and json.loads(answer)["value"] == "13"


def test_http_api_oversized_body_is_413_without_reaching_the_handler(service):
    before = service.metrics()["invocations"]
    too_big = b'{"fib": 7, "pad": "' + b"x" * (service.max_request_bytes + 1) + b'"}'
    try:
        status, _ = post(service, "/test/", too_big, {"Content-Type": "application/json"})
        assert status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the service answered 413 and closed before reading all of it
    assert service.metrics()["invocations"] == before
