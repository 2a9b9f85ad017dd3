"""fibcomp on its own, called from SQL: exact for 0..312, NULL for no answer, an error past 312."""

import pymysql
import pytest

from fibonacci_numbers import fibonacci
from fibtrigger.lambda_function.contract import DECIMAL65_MAX_FIB

pytestmark = pytest.mark.mysql


@pytest.fixture
def cursor(mysql_raw):
    return mysql_raw.cursor()


def test_every_argument_in_range_is_exact(cursor):
    arguments = ", ".join(f"fibcomp({n})" for n in range(DECIMAL65_MAX_FIB + 1))
    cursor.execute(f"SELECT {arguments}")
    assert [int(value) for value in cursor.fetchone()] == [fibonacci(n) for n in range(DECIMAL65_MAX_FIB + 1)]


def test_no_argument_or_a_negative_one_gives_null(cursor):
    cursor.execute("SELECT fibcomp(NULL), fibcomp(-1), fibcomp(-8), fibcomp(-2147483648)")
    assert cursor.fetchone() == (None, None, None, None)


@pytest.mark.parametrize("n", [DECIMAL65_MAX_FIB + 1, DECIMAL65_MAX_FIB + 2, 400, 2**31 - 1])
def test_past_the_limit_the_server_refuses_rather_than_round(cursor, n):
    with pytest.raises(pymysql.err.MySQLError) as caught:
        cursor.execute("SELECT fibcomp(%s)", (n,))
        cursor.fetchall()
    assert caught.value.args[0] in (1264, 1690)  # out of range: the value, or an intermediate


def test_declared_deterministic_and_no_sql(cursor):
    cursor.execute(
        "SELECT IS_DETERMINISTIC, SQL_DATA_ACCESS, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE "
        "FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'fibcomp'"
    )
    assert cursor.fetchone() == ("YES", "NO SQL", "decimal", 65, 0)
