"""The Lambda and the database agree: for every n, the handler's value is the value MariaDB stores,
and it survives the JSON path the trigger reads it through."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fibtrigger import lambda_function as lambda_handler
from fibtrigger.lambda_function import logs
from fibtrigger.lambda_function.contract import DECIMAL65_MAX_FIB

pytestmark = pytest.mark.mysql

# What the lambda backend's trigger does with lambda_sync's answer (MySQL 8.0 and MariaDB alike).
EXTRACT_VALUE = "SELECT CAST(JSON_UNQUOTE(JSON_EXTRACT(CONVERT(%s USING utf8mb4), '$.value')) AS DECIMAL(65,0))"


@pytest.fixture(autouse=True)
def quiet_handler(monkeypatch):
    monkeypatch.setattr(logs, "write_stdout", lambda line: None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arguments=st.lists(st.integers(min_value=0, max_value=DECIMAL65_MAX_FIB), min_size=1, max_size=20))
def test_the_handler_value_equals_the_database_value(mysql_table, mysql_raw, arguments):
    stored = mysql_table.compute_many(arguments)
    cursor = mysql_raw.cursor()
    for n, value in zip(arguments, stored, strict=True):
        answer = lambda_handler.handler({"fib": n}, None)
        assert answer["fib"] == n
        assert int(answer["value"]) == value
        # The answer as bytes on the wire, read back the way the trigger reads it.
        cursor.execute(EXTRACT_VALUE, (json.dumps(answer).encode(),))
        assert int(cursor.fetchone()[0]) == value


def test_the_largest_values_survive_mysql_json(mysql_table, mysql_raw):
    cursor = mysql_raw.cursor()
    for n in (78, 79, 92, 93, 311, DECIMAL65_MAX_FIB):
        answer = json.dumps(lambda_handler.handler({"fib": n}, None))
        cursor.execute(EXTRACT_VALUE, (answer.encode(),))
        assert int(cursor.fetchone()[0]) == mysql_table.compute(n)
