"""Every SQL text for MySQL, Aurora MySQL v3 and MariaDB, in one file.

Written in the dialect both MySQL 8.0 and MariaDB 10.11 accept. The one
difference the facade cares about (INSERT ... RETURNING, MariaDB only) is
chosen in ``fibtrigger.table`` by ``supports_returning``.
"""

from sqlalchemy import Column, Integer, MetaData
from sqlalchemy import Table as MetadataTable
from sqlalchemy.dialects.mysql import BIGINT, DECIMAL

from fibtrigger.lambda_function.contract import DECIMAL65_MAX_FIB, RANGE_MESSAGE

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

# The same table as SQLAlchemy metadata, for Alembic's autogenerate and `alembic check`
# (migrations/env.py). tests/test_drift.py checks that a migrated database compares clean
# against it. SQLAlchemy cannot spell INVISIBLE; its reflection of MariaDB and MySQL
# drops the keyword (and the AUTO_INCREMENT after it), and Alembic compares neither.
METADATA = MetaData()
MetadataTable(
    TABLE_NAME,
    METADATA,
    Column("fib", Integer, nullable=True),
    Column("value", DECIMAL(65, 0), nullable=False),
    Column("id", BIGINT(unsigned=True), primary_key=True, autoincrement=True, info={"invisible": True}),
    mysql_engine="InnoDB",
)

# Iterative and exact (benchmarks/ measures it against the seed's one-addition
# loop, row 5):
# - fib < 8: the answer, before the block that declares any variable (MariaDB
#   sets up a routine's variables on every call, so there are only four).
# - fib >= 8: fast doubling, with a = F(k), b = F(k + 1). k starts as the top
#   three bits of fib DIV 2 (4 to 7, whose F is written out); each lower bit
#   down to bit 1 doubles k (F(2k) = F(k)(2F(k+1) - F(k)), F(2k+1) = F(k)^2 +
#   F(k+1)^2) and adds the bit, so k ends at fib DIV 2 and the last step forms
#   only F(fib). No value formed is larger than F(fib): F(313), 66 digits,
#   never exists in a DECIMAL(65,0); beyond 312 the server raises an error.
# NULL or a negative fib gives NULL (the triggers reject both before calling).
FIBCOMP = StoredFunction(
    name="fibcomp",
    parameters="fib INT",
    returns="DECIMAL(65,0)",
    characteristics="DETERMINISTIC NO SQL",
    body="""\
BEGIN
  IF fib < 4 THEN
    RETURN CASE fib WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 2 END;
  END IF;
  IF fib < 8 THEN
    RETURN CASE fib WHEN 4 THEN 3 WHEN 5 THEN 5 WHEN 6 THEN 8 WHEN 7 THEN 13 END;
  END IF;
  BEGIN
    DECLARE a DECIMAL(65,0) DEFAULT
      CASE fib >> (LENGTH(BIN(fib)) - 3) WHEN 4 THEN 3 WHEN 5 THEN 5 WHEN 6 THEN 8 WHEN 7 THEN 13 END;
    DECLARE b DECIMAL(65,0) DEFAULT
      CASE fib >> (LENGTH(BIN(fib)) - 3) WHEN 4 THEN 5 WHEN 5 THEN 8 WHEN 6 THEN 13 WHEN 7 THEN 21 END;
    DECLARE c DECIMAL(65,0);
    DECLARE mask INT DEFAULT 1 << (LENGTH(BIN(fib)) - 4);
    WHILE mask > 1 DO
      SET c = a * (b + b - a);
      SET b = a * a + b * b;
      IF fib & mask THEN
        SET a = b;
        SET b = b + c;
      ELSE
        SET a = c;
      END IF;
      SET mask = mask >> 1;
    END WHILE;
    IF fib & 1 THEN
      RETURN a * a + b * b;
    END IF;
    RETURN a * (b + b - a);
  END;
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
# MySQL has no RETURNING: rows are read back by id. With auto_increment_increment > 1
# (multi-primary replication) a statement's ids step by it; MOD skips other primaries' rows.
SELECT_ID_STEP = "SELECT @@auto_increment_increment"
SELECT_RANGE = "SELECT fib, value FROM fibonacci WHERE id BETWEEN %s AND %s AND MOD(id - %s, %s) = 0 ORDER BY id"
SELECT_ALL = "SELECT fib, value FROM fibonacci ORDER BY id"
# doctor's test call reads back the row it inserted (and then rolls back).
SELECT_LAST_INSERTED = "SELECT value FROM fibonacci WHERE id = LAST_INSERT_ID()"


# ---- The backend swap (issue 4) --------------------------------------------
# Both triggers compute with one expression: `fibcomp(NEW.fib)` for the sql
# backend, `fiblambda('<function ARN>', NEW.fib)` for the lambda backend. The
# argument check above runs first either way, so a bad argument never reaches
# the Lambda function. The triggers themselves are the record of the current
# backend: there is no second copy that could disagree with them.

LAMBDA_FUNCTION_NAME = "fiblambda"


def lambda_compute(function_arn: str) -> str:
    """The trigger's compute expression for the lambda backend. The ARN is validated by the caller."""
    return f"{LAMBDA_FUNCTION_NAME}('{function_arn}', NEW.fib)"


# Aurora MySQL v3's native lambda_sync returns the raw response payload as a
# BLOB, hence CONVERT before any JSON function. A function error can come back
# as a payload ({"errorMessage", "errorType"}) rather than an SQL error, so it
# is detected here. CAST of text that is not a number yields 0 with a warning,
# so the digits are checked before the CAST: a wrong value is never stored.
# No `->>` and no JSON_VALUE ... RETURNING: MariaDB has neither. `fib + 0`:
# MariaDB's JSON_OBJECT renders an INT routine parameter as a JSON string.
# SIGNAL's MESSAGE_TEXT holds 128 characters in MySQL, hence LEFT(..., 128).
FIBLAMBDA = StoredFunction(
    name=LAMBDA_FUNCTION_NAME,
    parameters="function_arn VARCHAR(256), fib INT",
    returns="DECIMAL(65,0)",
    characteristics="NOT DETERMINISTIC NO SQL",
    body="""\
BEGIN
  DECLARE response LONGTEXT;
  DECLARE digits LONGTEXT;
  DECLARE msg VARCHAR(128);
  SET response = CONVERT(lambda_sync(function_arn, JSON_OBJECT('fib', fib + 0)) USING utf8mb4);
  IF response IS NULL OR JSON_VALID(response) = 0 THEN
    SET msg = LEFT(CONCAT('Lambda function returned no JSON object: ', COALESCE(response, 'NULL')), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
  END IF;
  IF JSON_CONTAINS_PATH(response, 'one', '$.errorMessage', '$.errorType') THEN
    SET msg = LEFT(CONCAT('Lambda function error: ', COALESCE(
      JSON_UNQUOTE(JSON_EXTRACT(response, '$.errorMessage')),
      JSON_UNQUOTE(JSON_EXTRACT(response, '$.errorType')))), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
  END IF;
  SET digits = JSON_UNQUOTE(JSON_EXTRACT(response, '$.value'));
  IF digits IS NULL OR digits NOT REGEXP '^[0-9]{1,65}$' THEN
    SET msg = LEFT(CONCAT('Lambda function returned no decimal value for fib ', fib, ': ', response), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
  END IF;
  IF JSON_EXTRACT(response, '$.fib') <> fib THEN
    SET msg = LEFT(CONCAT('Lambda function answered for another fib than ', fib, ': ', response), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
  END IF;
  RETURN CAST(digits AS DECIMAL(65,0));
END""",
)

# Created by revision 0002; the triggers start on the sql backend.
BACKEND_OBJECTS = (FIBLAMBDA,)

# What revision head declares besides the triggers, whose bodies follow the backend
# (backend.triggers_for): the drift check compares the server against these.
HEAD_OBJECTS = (FIBONACCI, FIBCOMP, FIBLAMBDA)

# DROP and CREATE TRIGGER under LOCK TABLES ... WRITE (both MySQL 8.0 and
# MariaDB allow it on a write-locked table): concurrent inserts wait for the
# lock instead of running between the DROP and the CREATE without a trigger.
LOCK_TABLE_WRITE = "LOCK TABLES {table} WRITE"
LOCK_TABLE = LOCK_TABLE_WRITE.format(table=TABLE_NAME)
UNLOCK_TABLES = "UNLOCK TABLES"
SET_LOCK_WAIT_TIMEOUT = "SET SESSION lock_wait_timeout = {seconds:d}"

# The backend bookkeeping: read straight from the triggers' definitions.
SELECT_TRIGGER_BODIES = (
    "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS "
    "WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'fibonacci'"
)
SELECT_AURORA_VERSION = "SHOW VARIABLES LIKE 'aurora_version'"
# Without network traffic: the local UDF raises its own error for a NULL ARN,
# and a server without lambda_sync raises 1305 (function does not exist).
PROBE_LAMBDA_SYNC = "SELECT lambda_sync(NULL, NULL)"

# The local lambda_sync (udf/lambda_sync.c), installed only into the private
# mariadbd of `fibtrigger local up`. A loadable function's name shadows stored
# functions, which is why fibtrigger never creates a stored `lambda_sync`.
SELECT_UDF_LIBRARY = "SELECT dl FROM mysql.func WHERE name = 'lambda_sync'"
CREATE_UDF = "CREATE FUNCTION lambda_sync RETURNS STRING SONAME '{library}'"
DROP_UDF = "DROP FUNCTION IF EXISTS lambda_sync"
CREATE_DATABASE = "CREATE DATABASE IF NOT EXISTS `{name}`"

# The drift check reads the live definitions (what SHOW CREATE shows, in columns).
SELECT_FUNCTIONS = (
    "SELECT ROUTINE_NAME, DTD_IDENTIFIER, IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE, ROUTINE_COMMENT, "
    "ROUTINE_DEFINITION FROM information_schema.ROUTINES "
    "WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION'"
)
SELECT_FUNCTION_PARAMETERS = (
    "SELECT SPECIFIC_NAME, PARAMETER_NAME, DTD_IDENTIFIER FROM information_schema.PARAMETERS "
    "WHERE SPECIFIC_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION' AND ORDINAL_POSITION > 0 "
    "ORDER BY SPECIFIC_NAME, ORDINAL_POSITION"
)
SELECT_TRIGGERS = (
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT "
    "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME"
)
SELECT_TABLES = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
