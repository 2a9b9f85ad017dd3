"""The schema on a real MySQL-family server, driven the way a MySQL client drives it."""

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import count_rows
from fibonacci_numbers import fibonacci

pytestmark = pytest.mark.mysql


@pytest.fixture
def raw(mysql_raw):
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    return mysql_raw


def test_seed_statements_verbatim(raw):
    cursor = raw.cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (0, null)")
    cursor.execute("INSERT INTO fibonacci VALUES (10, null)")
    cursor.execute("SELECT * FROM fibonacci")
    assert [d[0] for d in cursor.description] == ["fib", "value"]
    assert [(fib, int(value)) for fib, value in cursor.fetchall()] == [(0, 0), (10, 55)]


def test_value_column_is_exact_decimal_65(raw):
    cursor = raw.cursor()
    cursor.execute(
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fibonacci' ORDER BY ORDINAL_POSITION"
    )
    columns = dict(cursor.fetchall())
    assert columns["value"].lower() == "decimal(65,0)"
    cursor.execute("INSERT INTO fibonacci VALUES (312, null)")
    cursor.execute("SELECT value FROM fibonacci")
    value = cursor.fetchone()[0]
    assert int(value) == fibonacci(312) and len(str(value)) == 65


def test_supplied_value_is_overwritten(raw):
    cursor = raw.cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (10, 9999)")
    cursor.execute("INSERT INTO fibonacci (fib, value) VALUES (11, -1)")
    cursor.execute("SELECT fib, value FROM fibonacci ORDER BY fib")
    assert [(f, int(v)) for f, v in cursor.fetchall()] == [(10, 55), (11, 89)]


@pytest.mark.parametrize(
    "statement, message",
    [
        ("INSERT INTO fibonacci VALUES (313, null)", "fib must be between 0 and 312, got 313"),
        ("INSERT INTO fibonacci VALUES (-1, null)", "fib must be between 0 and 312, got -1"),
        ("INSERT INTO fibonacci VALUES (null, null)", "fib must be between 0 and 312, got NULL"),
        ("INSERT INTO fibonacci (value) VALUES (5)", "fib must be between 0 and 312, got NULL"),
        ("INSERT INTO fibonacci VALUES (1, null), (2, null), (313, null)", "got 313"),
        ("INSERT INTO fibonacci VALUES (-5, null), (2, null)", "got -5"),
    ],
)
def test_bad_input_signals_and_stores_nothing(raw, statement, message):
    before = count_rows(raw)
    with pytest.raises(pymysql.err.OperationalError) as caught:
        raw.cursor().execute(statement)
    assert caught.value.args[0] == 1644
    assert message in caught.value.args[1]
    assert count_rows(raw) == before


@pytest.mark.parametrize(
    "statement", ["INSERT INTO fibonacci VALUES (1e30, null)", "INSERT INTO fibonacci VALUES ('abc', null)"]
)
def test_non_integers_are_refused_by_the_column(raw, statement):
    before = count_rows(raw)
    with pytest.raises(pymysql.err.MySQLError):
        raw.cursor().execute(statement)
    assert count_rows(raw) == before


def test_update_keeps_value_consistent(raw):
    cursor = raw.cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (10, null)")
    cursor.execute("UPDATE fibonacci SET value = 1")
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(f, int(v)) for f, v in cursor.fetchall()] == [(10, 55)]
    cursor.execute("UPDATE fibonacci SET fib = 20")
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(f, int(v)) for f, v in cursor.fetchall()] == [(20, 6765)]
    with pytest.raises(pymysql.err.OperationalError, match="got 400"):
        cursor.execute("UPDATE fibonacci SET fib = 400")
    cursor.execute("SELECT fib, value FROM fibonacci")
    assert [(f, int(v)) for f, v in cursor.fetchall()] == [(20, 6765)]


def test_every_argument_in_range_stores_the_fibonacci_number(mysql_table):
    values = mysql_table.compute_many(range(313))
    assert values == [fibonacci(n) for n in range(313)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=0, max_value=312))
def test_property_raw_insert_stores_fibonacci(raw, n):
    cursor = raw.cursor()
    cursor.execute("INSERT INTO fibonacci VALUES (%s, null)", (n,))
    cursor.execute("SELECT value FROM fibonacci WHERE fib = %s ORDER BY value DESC LIMIT 1", (n,))
    assert int(cursor.fetchone()[0]) == fibonacci(n)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.one_of(st.integers(max_value=-1, min_value=-(2**31)), st.integers(min_value=313, max_value=2**31 - 1)))
def test_property_out_of_range_never_stored(raw, n):
    before = count_rows(raw)
    with pytest.raises(pymysql.err.OperationalError, match=f"got {n}"):
        raw.cursor().execute("INSERT INTO fibonacci VALUES (%s, null)", (n,))
    assert count_rows(raw) == before
