"""Every SQL text for MySQL, Aurora MySQL v3 and MariaDB, in one file.

Written in the dialect both MySQL 8.0 and MariaDB 10.11 accept. The one
difference the facade cares about (INSERT ... RETURNING, MariaDB only) is
chosen in ``fibtrigger.table`` by ``supports_returning``.
"""

from sqlalchemy import CHAR, CheckConstraint, Column, Enum, Index, Integer, MetaData, String
from sqlalchemy import Table as MetadataTable
from sqlalchemy.dialects.mysql import BIGINT, DATETIME, DECIMAL, SMALLINT

from fibtrigger.lambda_function.contract import DECIMAL65_DIGITS, DECIMAL65_MAX_FIB, RANGE_MESSAGE

from .objects import StoredFunction, Table, Trigger

MAX_FIB = DECIMAL65_MAX_FIB
TABLE_NAME = "fibonacci"

ID_COLUMN = "id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE"
ID_MAX = 2**64 - 1  # BIGINT UNSIGNED
# Ids past this are "nearly exhausted" (doctor) and refused (the triggers): no honest workload
# gets near 2^63 inserts.
ID_ALARM = ID_MAX // 2

FIBONACCI = Table(
    TABLE_NAME,
    columns=f"""\
  fib INT NULL,
  value DECIMAL(65,0) NOT NULL,
  {ID_COLUMN},
  PRIMARY KEY (id)""",
    options=" ENGINE=InnoDB",
)

# The same table as SQLAlchemy metadata, for Alembic's autogenerate and `alembic check`
# (migrations/env.py). tests/test_drift.py checks that a migrated database compares clean
# against it. SQLAlchemy cannot spell INVISIBLE; its reflection of MariaDB and MySQL
# drops the keyword (and the AUTO_INCREMENT after it), and Alembic compares neither.
QUEUE_STATES = ("done", "pending", "claimed", "failed")
LAST_ERROR_CHARACTERS = 512
METADATA = MetaData()
MetadataTable(
    TABLE_NAME,
    METADATA,
    Column("fib", Integer, nullable=True),
    Column("value", DECIMAL(65, 0), nullable=True),  # NULL while a row waits on the queue backend
    Column("id", BIGINT(unsigned=True), primary_key=True, autoincrement=True, info={"invisible": True}),
    # Revision 0003: the queue backend's bookkeeping (ADD_QUEUE_COLUMNS below).
    Column("queue_state", Enum(*QUEUE_STATES), nullable=False, server_default="done",
           info={"invisible": True}),
    Column("attempts", SMALLINT(unsigned=True), nullable=False, server_default="0", info={"invisible": True}),
    Column("due_at", DATETIME(fsp=6), nullable=True, info={"invisible": True}),
    Column("claim_token", CHAR(32), nullable=True, info={"invisible": True}),
    Column("claimed_by", String(255), nullable=True, info={"invisible": True}),
    Column("last_error", String(LAST_ERROR_CHARACTERS), nullable=True, info={"invisible": True}),
    Column("queued_at", DATETIME(fsp=6), nullable=True, info={"invisible": True}),
    Column("done_at", DATETIME(fsp=6), nullable=True, info={"invisible": True}),
    Index("fibonacci_due", "due_at"),
    Index("fibonacci_queue_state", "queue_state", "done_at"),
    CheckConstraint("(value IS NOT NULL) = (queue_state = 'done')", name="fibonacci_value_while_done"),
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
INSERT_TRIGGER = "fibonacci_before_insert"
UPDATE_TRIGGER = "fibonacci_before_update"


# The hidden id is the table's to assign: an explicit id far ahead of the counter would
# exhaust AUTO_INCREMENT (error 1467 for every later insert, and InnoDB's counter never moves
# back). Column privileges cannot keep it out: MariaDB then refuses the caller's
# `INSERT INTO fibonacci VALUES (10, null)`, whose implicit column list includes the invisible
# id, and no privilege covers `SET insert_id = N`, which picks the next id without naming the
# column. In a BEFORE INSERT trigger an id still to be assigned reads as 0, so an explicit one
# is refused outright; @@insert_id only past ID_ALARM, since a statement-based replica applies
# the source's ids through it (and an AFTER trigger is too late: the counter has moved).
# Revision 0004 added the guard: ``id_guard=False`` gives the triggers of earlier revisions.
ID_MESSAGE = "fibonacci.id is assigned by the table: insert fib only"
_ID_GUARDS = {"BEFORE INSERT": f"NEW.id <> 0 OR @@insert_id > {ID_ALARM}", "BEFORE UPDATE": "NEW.id <> OLD.id"}


def _id_guard(timing: str, id_guard: bool) -> str:
    if not id_guard:
        return ""
    return f"""\
  IF {_ID_GUARDS[timing]} THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{ID_MESSAGE}';
  END IF;
"""


def _compute_body(timing: str, compute_expression: str, bookkeeping: str, id_guard: bool) -> str:
    return f"""\
BEGIN
  DECLARE msg VARCHAR(255);
{_id_guard(timing, id_guard)}{ARGUMENT_CHECK}
  SET NEW.value = {compute_expression};
{bookkeeping}END"""


def before_insert(
    compute_expression: str = SQL_COMPUTE, *, queue_columns: bool = True, id_guard: bool = True
) -> Trigger:
    """Whatever value the caller supplied, the stored one is computed.

    ``queue_columns``: the table has revision 0003's bookkeeping columns, which the trigger
    resets (a computed row is done); False gives revision 0001's trigger."""
    body = _compute_body("BEFORE INSERT", compute_expression, _done(queue_columns), id_guard)
    return Trigger(INSERT_TRIGGER, TABLE_NAME, "BEFORE INSERT", body)


def before_update(
    compute_expression: str = SQL_COMPUTE, *, queue_columns: bool = True, id_guard: bool = True
) -> Trigger:
    """An UPDATE can change fib, never make value disagree with it."""
    body = _compute_body("BEFORE UPDATE", compute_expression, _done(queue_columns), id_guard)
    return Trigger(UPDATE_TRIGGER, TABLE_NAME, "BEFORE UPDATE", body)


def _done(queue_columns: bool) -> str:
    return f"  {QUEUE_DONE};\n" if queue_columns else ""


# Creation order; drop in reverse.
OBJECTS = (FIBONACCI, FIBCOMP, before_insert(queue_columns=False), before_update(queue_columns=False))

# The facade's statements.
INSERT_ROWS = "INSERT INTO fibonacci (fib) VALUES {rows}"
# id last: the queue backend waits for the rows by id.
INSERT_ROWS_RETURNING = "INSERT INTO fibonacci (fib) VALUES {rows} RETURNING fib, value, id"
# MySQL has no RETURNING: rows are read back by id. With auto_increment_increment > 1
# (multi-primary replication) a statement's ids step by it; MOD skips other primaries' rows.
SELECT_ID_STEP = "SELECT @@auto_increment_increment"
SELECT_RANGE = "SELECT fib, value, id FROM fibonacci WHERE id BETWEEN %s AND %s AND MOD(id - %s, %s) = 0 ORDER BY id"
# Once per facade connection: bound lock waits (InnoDB row locks, and metadata locks such as
# the swap's LOCK TABLES), and see that `fibonacci` is not a TEMPORARY TABLE hiding the real
# one (a temporary table can have no triggers). SHOW CREATE TABLE says which in both servers.
SET_LOCK_WAITS = "SET SESSION innodb_lock_wait_timeout = {seconds:d}, lock_wait_timeout = {seconds:d}"
SHOW_CREATE_TABLE = "SHOW CREATE TABLE fibonacci"
TEMPORARY_TABLE_MARK = "CREATE TEMPORARY TABLE"
SELECT_ALL = "SELECT fib, value FROM fibonacci ORDER BY id"
# doctor's test call reads back the row it inserted (and then rolls back).
SELECT_LAST_INSERTED = "SELECT value FROM fibonacci WHERE id = LAST_INSERT_ID()"


# ---- The backend swap -------------------------------------------------------
# Both triggers compute with one expression: `fibcomp(NEW.fib)` for the sql
# backend, `fiblambda('<function ARN>', NEW.fib)` for the lambda backend. The
# argument check above runs first either way, so a bad argument never reaches
# the Lambda function. The triggers themselves are the record of the current
# backend: there is no second copy that could disagree with them.

LAMBDA_FUNCTION_NAME = "fiblambda"


def lambda_compute(function_arn: str) -> str:
    """The trigger's compute expression for the lambda backend. The ARN is validated by the caller."""
    return f"{LAMBDA_FUNCTION_NAME}('{function_arn}', NEW.fib)"


# The rule for a Lambda answer, for fiblambda and for any batch path that stores answers: the
# answer must be exactly the function's {"fib": N, "value": "DIGITS"[, "number": M]}: an
# object; `fib` a JSON number equal to the argument; `value` a JSON string of 1 to 65 digits
# (DECIMAL(65,0)); `number`, which the function adds when a double holds the value exactly, a
# JSON number equal to it; no other key, and no key twice. Anything else is refused with SIGNAL,
# so a wrong value is never stored. Duplicated keys are not visible through JSON_EXTRACT (MySQL
# keeps the last, MariaDB the first, and only MariaDB's JSON_LENGTH counts them), so the text's
# double quotes are counted: once the types are checked, `value` is the one string, so the text
# holds exactly 2 per key and 2 for the value (an escaped quote in a key adds one: refused too).
# The Python twin, for answers a worker parses, is contract.answer_value. Aurora returns a function error as a payload
# ({"errorMessage", "errorType"}) rather than an SQL error, so it is recognised first.
# No `->>` and no JSON_VALUE ... RETURNING: MariaDB has neither. MySQL's MESSAGE_TEXT holds 128
# characters, hence LEFT(..., 128).
VALUE_DIGITS = DECIMAL65_DIGITS
ANSWER_MESSAGES = {
    "not_json": "Lambda function returned no JSON object: ",
    "error": "Lambda function error: ",
    "no_value": "Lambda function returned no decimal value for fib ",
    "other_fib": "Lambda function answered for another fib than ",
    "number": "Lambda function answer has a number other than its value for fib ",
    "keys": "Lambda function answer has keys other than fib, value, number, or one twice, for fib ",
}
_JSON_NUMBER_TYPES = "'INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL'"


def answer_check(fib: str, answer: str, value: str, msg: str = "msg") -> str:
    """SQL statements that SET ``value`` from the answer text ``answer`` for argument ``fib``, or SIGNAL.

    The names are variables of the routine it goes into; ``msg`` a VARCHAR(128) one.
    Nested IFs: MySQL does not promise to short-circuit OR, and JSON_TYPE of invalid text fails.
    """
    m = ANSWER_MESSAGES

    def refuse(message: str, *parts: str) -> str:
        return (
            f"SET {msg} = LEFT(CONCAT('{message}', {', '.join(parts)}), 128);\n"
            f"    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {msg};"
        )

    return f"""\
  IF {answer} IS NULL OR JSON_VALID({answer}) = 0 THEN
    {refuse(m['not_json'], f"COALESCE({answer}, 'NULL')")}
  END IF;
  IF JSON_TYPE({answer}) <> 'OBJECT' THEN
    {refuse(m['not_json'], answer)}
  END IF;
  IF JSON_CONTAINS_PATH({answer}, 'one', '$.errorMessage', '$.errorType') THEN
    {refuse(m['error'], f"COALESCE(JSON_UNQUOTE(JSON_EXTRACT({answer}, '$.errorMessage')), "
                         f"JSON_UNQUOTE(JSON_EXTRACT({answer}, '$.errorType')))")}
  END IF;
  IF COALESCE(JSON_TYPE(JSON_EXTRACT({answer}, '$.value')), '') <> 'STRING' THEN
    {refuse(m['no_value'], fib, "': '", answer)}
  END IF;
  IF JSON_UNQUOTE(JSON_EXTRACT({answer}, '$.value')) NOT REGEXP '^[0-9]{{1,{VALUE_DIGITS}}}$' THEN
    {refuse(m['no_value'], fib, "': '", answer)}
  END IF;
  IF COALESCE(JSON_TYPE(JSON_EXTRACT({answer}, '$.fib')), '') NOT IN ({_JSON_NUMBER_TYPES}) THEN
    {refuse(m['other_fib'], fib, "': '", answer)}
  END IF;
  IF JSON_EXTRACT({answer}, '$.fib') <> {fib} THEN
    {refuse(m['other_fib'], fib, "': '", answer)}
  END IF;
  IF JSON_CONTAINS_PATH({answer}, 'one', '$.number') THEN
    IF COALESCE(JSON_TYPE(JSON_EXTRACT({answer}, '$.number')), '') NOT IN ({_JSON_NUMBER_TYPES}) THEN
      {refuse(m['number'], fib, "': '", answer)}
    END IF;
    IF JSON_EXTRACT({answer}, '$.number') <> CAST(JSON_UNQUOTE(JSON_EXTRACT({answer}, '$.value')) AS DECIMAL(65,0)) THEN
      {refuse(m['number'], fib, "': '", answer)}
    END IF;
  END IF;
  IF JSON_LENGTH({answer}) <> 2 + JSON_CONTAINS_PATH({answer}, 'one', '$.number')
      OR CHAR_LENGTH({answer}) - CHAR_LENGTH(REPLACE({answer}, '"', '')) <> 2 * JSON_LENGTH({answer}) + 2 THEN
    {refuse(m['keys'], fib, "': '", answer)}
  END IF;
  SET {value} = CAST(JSON_UNQUOTE(JSON_EXTRACT({answer}, '$.value')) AS DECIMAL(65,0));"""


# Aurora MySQL v3's native lambda_sync returns the raw response payload as a BLOB, hence
# CONVERT before any JSON function. `fib + 0`: MariaDB's JSON_OBJECT renders an INT routine
# parameter as a JSON string.
FIBLAMBDA = StoredFunction(
    name=LAMBDA_FUNCTION_NAME,
    parameters="function_arn VARCHAR(256), fib INT",
    returns="DECIMAL(65,0)",
    characteristics="NOT DETERMINISTIC NO SQL",
    body=f"""\
BEGIN
  DECLARE response LONGTEXT;
  DECLARE answered DECIMAL(65,0);
  DECLARE msg VARCHAR(128);
  SET response = CONVERT(lambda_sync(function_arn, JSON_OBJECT('fib', fib + 0)) USING utf8mb4);
{answer_check("fib", "response", "answered")}
  RETURN answered;
END""",
)

# Created by revision 0002; the triggers start on the sql backend.
BACKEND_OBJECTS = (FIBLAMBDA,)


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
SHOW_TABLE = "SHOW TABLES LIKE 'fibonacci'"

# The hidden id's headroom. MySQL 8 caches information_schema.TABLES.AUTO_INCREMENT
# (information_schema_stats_expiry, a day by default; MariaDB has no such cache), so MAX(id)
# is read too. Renumbering rebuilds the column: ALGORITHM=COPY copies the rows in primary-key
# order, so the new ids keep the old order, and the counter restarts after the last row.
SELECT_NEXT_ID = (
    "SELECT GREATEST(COALESCE((SELECT AUTO_INCREMENT FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fibonacci'), 1), "
    "COALESCE((SELECT MAX(id) FROM fibonacci), 0) + 1)"
)
FRESH_STATISTICS = "SET SESSION information_schema_stats_expiry = 0"  # MySQL 8 only
RENUMBER_IDS = (
    f"ALTER TABLE fibonacci DROP PRIMARY KEY, DROP COLUMN id, ADD COLUMN {ID_COLUMN}, "
    "ADD PRIMARY KEY (id), ALGORITHM=COPY"
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

# ---- The queue backend (revision 0003) --------------------------------------
# The triggers store a good row at once with value NULL and state 'pending';
# workers (fibtrigger.worker) claim waiting rows in batches, call the function
# once per batch and write each value back under their claim. The bookkeeping
# columns are INVISIBLE, so `SELECT *` still shows exactly fib, value.
#
# - queue_state: done (value stored), pending, claimed (a worker holds it until
#   due_at), failed (attempts used up; last_error says why). A CHECK ties it to
#   value: NULL exactly while the row is not done. On the sql and lambda
#   backends every trigger computes the value and makes the row done, so NULL
#   exists only on the queue backend.
# - due_at: when a waiting row may next be claimed (now, after a backoff, or
#   when a claim's lease runs out); NULL for done and failed rows, so the claim
#   index (due_at) holds only the queue itself.
# - claim_token: the current claim, a random 128-bit hex string; a value is
#   accepted only together with the row's current token.
# All times are UTC_TIMESTAMP(6): sessions may differ in time_zone.

QUEUE_COLUMN_NAMES = (
    "queue_state", "attempts", "due_at", "claim_token", "claimed_by", "last_error", "queued_at", "done_at"
)
ADD_QUEUE_COLUMNS = f"""\
ALTER TABLE fibonacci
  MODIFY value DECIMAL(65,0) NULL,
  ADD COLUMN queue_state ENUM({", ".join(f"'{state}'" for state in QUEUE_STATES)}) NOT NULL DEFAULT 'done' INVISIBLE,
  ADD COLUMN attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0 INVISIBLE,
  ADD COLUMN due_at DATETIME(6) NULL DEFAULT NULL INVISIBLE,
  ADD COLUMN claim_token CHAR(32) NULL DEFAULT NULL INVISIBLE,
  ADD COLUMN claimed_by VARCHAR(255) NULL DEFAULT NULL INVISIBLE,
  ADD COLUMN last_error VARCHAR({LAST_ERROR_CHARACTERS}) NULL DEFAULT NULL INVISIBLE,
  ADD COLUMN queued_at DATETIME(6) NULL DEFAULT NULL INVISIBLE,
  ADD COLUMN done_at DATETIME(6) NULL DEFAULT NULL INVISIBLE,
  ADD INDEX fibonacci_due (due_at),
  ADD INDEX fibonacci_queue_state (queue_state, done_at),
  ADD CONSTRAINT fibonacci_value_while_done CHECK ((value IS NOT NULL) = (queue_state = 'done'))"""
# Downgrade: only once no row waits (the queue backend is swapped to sql first).
DROP_QUEUE_COLUMNS = f"""\
ALTER TABLE fibonacci
  DROP CONSTRAINT fibonacci_value_while_done,
  DROP INDEX fibonacci_queue_state,
  DROP INDEX fibonacci_due,
  {", ".join(f"DROP COLUMN {name}" for name in reversed(QUEUE_COLUMN_NAMES))},
  MODIFY value DECIMAL(65,0) NOT NULL"""
SELECT_QUEUE_COLUMN = (
    "SELECT COUNT(*) FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'fibonacci' AND COLUMN_NAME = 'queue_state'"
)

QUEUE_DONE = (
    "SET NEW.queue_state = 'done', NEW.attempts = 0, NEW.due_at = NULL, NEW.claim_token = NULL, "
    "NEW.claimed_by = NULL, NEW.last_error = NULL, NEW.queued_at = NULL, NEW.done_at = NULL"
)
_QUEUE_PENDING = (
    "SET NEW.queue_state = 'pending', NEW.attempts = 0, NEW.due_at = UTC_TIMESTAMP(6), NEW.claim_token = NULL, "
    "NEW.claimed_by = NULL, NEW.last_error = NULL, NEW.queued_at = UTC_TIMESTAMP(6), NEW.done_at = NULL"
)
QUEUE_COMPUTE = "NULL"

# Settings the worker reads with SELECT alone: the function the queue backend calls.
SETTINGS = Table(
    "fibtrigger_settings",
    columns="""\
  name VARCHAR(64) NOT NULL,
  value VARCHAR(1024) NOT NULL,
  PRIMARY KEY (name)""",
    options=" ENGINE=InnoDB",
)
QUEUE_FUNCTION_SETTING = "queue_function_arn"
SELECT_SETTING = "SELECT value FROM fibtrigger_settings WHERE name = %s"
# Literals, not parameters: the swap's statements also go into offline scripts. Callers pass
# checked values only (a setting name, a validated function ARN).
UPSERT_SETTING_LITERAL = "REPLACE INTO fibtrigger_settings (name, value) VALUES ('{name}', '{value}')"
DELETE_SETTING_LITERAL = "DELETE FROM fibtrigger_settings WHERE name = '{name}'"


def queue_before_insert(*, id_guard: bool = True) -> Trigger:
    """A good argument is stored at once, waiting: value NULL, state pending."""
    return Trigger(INSERT_TRIGGER, TABLE_NAME, "BEFORE INSERT", f"""\
BEGIN
  DECLARE msg VARCHAR(255);
{_id_guard("BEFORE INSERT", id_guard)}{ARGUMENT_CHECK}
  SET NEW.value = {QUEUE_COMPUTE};
  {_QUEUE_PENDING};
END""")


def queue_before_update(*, id_guard: bool = True) -> Trigger:
    """A new fib waits again. A value is accepted only as a worker's write-back: the row
    claimed, the same fib, and the claim token unchanged; any other UPDATE keeps the value."""
    return Trigger(UPDATE_TRIGGER, TABLE_NAME, "BEFORE UPDATE", f"""\
BEGIN
  DECLARE msg VARCHAR(255);
{_id_guard("BEFORE UPDATE", id_guard)}{ARGUMENT_CHECK}
  IF NOT (NEW.fib <=> OLD.fib) THEN
    SET NEW.value = {QUEUE_COMPUTE};
    {_QUEUE_PENDING};
  ELSEIF OLD.queue_state = 'claimed' AND NEW.queue_state = 'done' AND NEW.value IS NOT NULL
      AND NEW.claim_token IS NOT NULL AND NEW.claim_token = OLD.claim_token THEN
    SET NEW.due_at = NULL, NEW.claim_token = NULL, NEW.last_error = NULL, NEW.done_at = UTC_TIMESTAMP(6);
  ELSE
    SET NEW.value = OLD.value;
  END IF;
END""")


# The swap to sql or lambda computes every waiting row with the new trigger, under the lock.
COMPUTE_WAITING = "UPDATE fibonacci SET fib = fib WHERE queue_state IN ('pending', 'claimed', 'failed')"
LOCK_TABLES_WITH_SETTINGS = "LOCK TABLES fibonacci WRITE, fibtrigger_settings WRITE"

# The worker's statements. Claim: in one transaction, lock up to n due rows in
# due_at order, skipping rows other workers hold, and lease them. The index on
# due_at makes the scan stop after n rows, so only those are locked.
SELECT_DUE = "SELECT id FROM fibonacci WHERE due_at <= UTC_TIMESTAMP(6) LIMIT 1"
CLAIM_SELECT = (
    "SELECT id, fib FROM fibonacci WHERE due_at <= UTC_TIMESTAMP(6) "
    "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED"
)
CLAIM_UPDATE = (
    "UPDATE fibonacci SET queue_state = 'claimed', claim_token = %s, claimed_by = %s, attempts = attempts + 1, "
    "due_at = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND WHERE id IN ({ids})"
)
# Write-back: one statement per batch. The row must still hold the fib that was
# sent and the batch's claim; the trigger checks the claim again. The answers arrive as one
# JSON parameter, [[id, fib, "value"], ...], read by JSON_TABLE (MySQL 8.0, MariaDB 10.6+): a
# 500-row UNION ALL of literal SELECTs cost the server more to parse and plan than to write.
# The value travels as a string of digits, so DECIMAL(65,0) receives it exactly.
WRITE_BACK = (
    "UPDATE fibonacci JOIN JSON_TABLE(%s, '$[*]' COLUMNS (id BIGINT PATH '$[0]', fib INT PATH '$[1]', "
    "value DECIMAL(65,0) PATH '$[2]')) AS answer ON fibonacci.id = answer.id AND fibonacci.fib = answer.fib "
    "SET fibonacci.value = answer.value, fibonacci.queue_state = 'done' "
    "WHERE fibonacci.claim_token = %s AND fibonacci.queue_state = 'claimed'"
)
# Release after a failure: pending again after an exponential backoff with jitter
# (base * 2^(attempts-1), capped, times 0.5-1.0), or failed once attempts are used up.
RELEASE = (
    "UPDATE fibonacci SET "
    "queue_state = IF(attempts >= %(max_attempts)s, 'failed', 'pending'), "
    "due_at = IF(attempts >= %(max_attempts)s, NULL, UTC_TIMESTAMP(6) + INTERVAL "
    "ROUND(LEAST(%(cap)s, %(base)s * POW(2, LEAST(attempts, 30) - 1)) * (0.5 + RAND() / 2) * 1000000) MICROSECOND), "
    "claim_token = NULL, last_error = %(error)s "
    "WHERE claim_token = %(token)s AND queue_state = 'claimed' AND id IN ({ids})"
)
# A stopping worker hands back rows it never sent: the attempt did not happen.
UNCLAIM = (
    "UPDATE fibonacci SET queue_state = 'pending', due_at = UTC_TIMESTAMP(6), claim_token = NULL, "
    "attempts = GREATEST(attempts, 1) - 1 WHERE claim_token = %s AND queue_state = 'claimed'"
)
SELECT_MAX_WAITING_ID = "SELECT MAX(id) FROM fibonacci WHERE due_at IS NOT NULL"
SELECT_NEXT_DUE_UP_TO = (
    "SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), MIN(due_at)) FROM fibonacci "
    "WHERE due_at IS NOT NULL AND id <= %s"
)

# Status and retry.
SELECT_QUEUE_COUNTS = (
    "SELECT "
    "SUM(queue_state = 'pending' OR (queue_state = 'claimed' AND due_at <= UTC_TIMESTAMP(6))), "
    "SUM(queue_state = 'claimed' AND due_at > UTC_TIMESTAMP(6)), "
    "SUM(queue_state = 'failed'), "
    "TIMESTAMPDIFF(MICROSECOND, MIN(queued_at), UTC_TIMESTAMP(6)) "
    "FROM fibonacci WHERE queue_state IN ('pending', 'claimed', 'failed')"
)
SELECT_DONE_SINCE = (
    "SELECT COUNT(*) FROM fibonacci WHERE queue_state = 'done' AND done_at >= UTC_TIMESTAMP(6) - INTERVAL %s SECOND"
)
SELECT_LAST_ERRORS = (
    "SELECT id, fib, queue_state, attempts, last_error FROM fibonacci "
    "WHERE queue_state IN ('pending', 'claimed', 'failed') AND last_error IS NOT NULL ORDER BY id DESC LIMIT %s"
)
RETRY_WAITING = (
    "UPDATE fibonacci SET due_at = UTC_TIMESTAMP(6) WHERE queue_state = 'pending' AND due_at > UTC_TIMESTAMP(6)"
)
RETRY_FAILED = (
    "UPDATE fibonacci SET queue_state = 'pending', attempts = 0, due_at = UTC_TIMESTAMP(6), last_error = NULL "
    "WHERE queue_state = 'failed'"
)
# compute() on the queue backend: those of its rows that have a value or failed.
SELECT_FINISHED_IN_RANGE = (
    "SELECT id, fib, value, last_error FROM fibonacci "
    "WHERE id BETWEEN %s AND %s AND queue_state IN ('done', 'failed')"
)
SELECT_IDS_IN = "SELECT id FROM fibonacci WHERE id IN ({ids})"

# What revision head declares besides the triggers, whose bodies follow the backend
# (backend.triggers_for): the drift check compares the server against these.
HEAD_OBJECTS = (FIBONACCI, FIBCOMP, FIBLAMBDA, SETTINGS)
