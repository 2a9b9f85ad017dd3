"""Every SQL text for MySQL, Aurora MySQL v3 and MariaDB, in one file.

Written in the dialect both MySQL 8.0 and MariaDB 10.11 accept. The one
difference the facade cares about (INSERT ... RETURNING, MariaDB only) is
chosen in ``fibtrigger.table`` by ``supports_returning``.
"""

from lambda_handler.contract import DECIMAL65_MAX_FIB, RANGE_MESSAGE

from .objects import StoredFunction, Table, Trigger

MAX_FIB = DECIMAL65_MAX_FIB
TABLE_NAME = "fibonacci"

FIBONACCI = Table(
    TABLE_NAME,
    columns="""\
  fib INT NULL,
  value DECIMAL(65,0) NOT NULL,
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE,
  PRIMARY KEY (id)""",
    options=" ENGINE=InnoDB",
)

# Iterative and exact. It stops at F(fib) so that F(fib + 1), which for
# fib = 312 has 66 digits, is never formed in a DECIMAL(65,0) variable.
FIBCOMP = StoredFunction(
    name="fibcomp",
    parameters="fib INT",
    returns="DECIMAL(65,0)",
    characteristics="DETERMINISTIC NO SQL",
    body="""\
BEGIN
  DECLARE a DECIMAL(65,0) DEFAULT 0;
  DECLARE b DECIMAL(65,0) DEFAULT 1;
  DECLARE t DECIMAL(65,0);
  DECLARE i INT DEFAULT 1;
  IF fib = 0 THEN
    RETURN 0;
  END IF;
  WHILE i < fib DO
    SET t = a + b;
    SET a = b;
    SET b = t;
    SET i = i + 1;
  END WHILE;
  RETURN b;
END""",
)

_prefix, _suffix = RANGE_MESSAGE.split("{got}")
# SIGNAL takes a variable, not an expression, hence msg.
ARGUMENT_CHECK = f"""\
  IF NEW.fib IS NULL OR NEW.fib < 0 OR NEW.fib > {MAX_FIB} THEN
    SET msg = CONCAT('{_prefix.format(limit=MAX_FIB)}', COALESCE(NEW.fib, 'NULL'), '{_suffix}');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
  END IF;"""

SQL_COMPUTE = "fibcomp(NEW.fib)"


def _compute_body(compute_expression: str) -> str:
    return f"""\
BEGIN
  DECLARE msg VARCHAR(255);
{ARGUMENT_CHECK}
  SET NEW.value = {compute_expression};
END"""


def before_insert(compute_expression: str = SQL_COMPUTE) -> Trigger:
    """Whatever value the caller supplied, the stored one is computed."""
    return Trigger("fibonacci_before_insert", TABLE_NAME, "BEFORE INSERT", _compute_body(compute_expression))


def before_update(compute_expression: str = SQL_COMPUTE) -> Trigger:
    """An UPDATE can change fib, never make value disagree with it."""
    return Trigger("fibonacci_before_update", TABLE_NAME, "BEFORE UPDATE", _compute_body(compute_expression))


# Creation order; drop in reverse.
OBJECTS = (FIBONACCI, FIBCOMP, before_insert(), before_update())

# The facade's statements.
INSERT_ROWS = "INSERT INTO fibonacci (fib) VALUES {rows}"
INSERT_ROWS_RETURNING = "INSERT INTO fibonacci (fib) VALUES {rows} RETURNING fib, value"
SELECT_RANGE = "SELECT fib, value FROM fibonacci WHERE id BETWEEN %s AND %s ORDER BY id"
SELECT_LAST_ID = "SELECT LAST_INSERT_ID()"
SELECT_ALL = "SELECT fib, value FROM fibonacci ORDER BY id"
ROW_PLACEHOLDER = "(%s)"
