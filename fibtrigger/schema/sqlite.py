"""Every SQL text for the embedded SQLite default, in one file.

SQLite has no stored functions and a trigger cannot assign NEW, so a BEFORE
trigger rejects bad input and an AFTER trigger fills in the value with a
recursive CTE. RAISE takes only a literal message, so there is one per case.
"""

from sqlalchemy import Column, Integer, MetaData
from sqlalchemy import Table as MetadataTable

from fibtrigger.lambda_function.contract import INT64_MAX_FIB, RANGE_MESSAGE

from .objects import Table, Trigger

MAX_FIB = INT64_MAX_FIB
TABLE_NAME = "fibonacci"

# The implicit rowid is the facade's key: it never shows in SELECT *.
FIBONACCI = Table(TABLE_NAME, columns="  fib INTEGER,\n  value INTEGER")

# The same table as SQLAlchemy metadata, for Alembic's autogenerate (migrations/env.py).
METADATA = MetaData()
MetadataTable(TABLE_NAME, METADATA, Column("fib", Integer), Column("value", Integer))

_FIB_OF_NEW = """(
    WITH RECURSIVE f(i, a, b) AS (
      SELECT 0, 0, 1
      UNION ALL
      SELECT i + 1, b, a + b FROM f WHERE i < NEW.fib
    )
    SELECT a FROM f WHERE i = NEW.fib
  )"""

_REJECTIONS = (
    ("NEW.fib IS NULL", "NULL"),
    ("typeof(NEW.fib) <> 'integer'", "a value that is not an integer"),
    ("NEW.fib < 0", "a negative number"),
    (f"NEW.fib > {MAX_FIB}", f"a number above {MAX_FIB}"),
)


def _checks() -> str:
    return "\n".join(
        f"  SELECT RAISE(ABORT, '{RANGE_MESSAGE.format(limit=MAX_FIB, got=got)}') WHERE {condition};"
        for condition, got in _REJECTIONS
    )


def _check_trigger(name: str, timing: str) -> Trigger:
    return Trigger(name, TABLE_NAME, timing, f"BEGIN\n{_checks()}\nEND")


def _fill_trigger(name: str, timing: str, when: str = "") -> Trigger:
    return Trigger(
        name,
        TABLE_NAME,
        timing,
        f"BEGIN\n  UPDATE fibonacci SET value = {_FIB_OF_NEW} WHERE rowid = NEW.rowid;\nEND",
        for_each_row=f"FOR EACH ROW{when}",
    )


# The insert trigger's own UPDATE (value NULL -> F(fib)) fires the update trigger too; the WHEN
# clause skips it, so an INSERT computes once. recursive_triggers is off, so the update
# trigger's UPDATE does not fire itself again.
_UPDATE_NEEDS_FILL = "\n  WHEN NEW.fib IS NOT OLD.fib OR (NEW.value IS NOT OLD.value AND OLD.value IS NOT NULL)"

OBJECTS = (
    FIBONACCI,
    _check_trigger("fibonacci_check_insert", "BEFORE INSERT"),
    _fill_trigger("fibonacci_fill_insert", "AFTER INSERT"),
    _check_trigger("fibonacci_check_update", "BEFORE UPDATE"),
    _fill_trigger("fibonacci_fill_update", "AFTER UPDATE", _UPDATE_NEEDS_FILL),
)

INSERT_ROWS = "INSERT INTO fibonacci (fib) VALUES {rows}"
SELECT_RANGE = "SELECT fib, value FROM fibonacci WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
SELECT_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fibonacci'"
# A TEMP table named fibonacci would be found before the real one.
SELECT_TEMP_TABLE = "SELECT 1 FROM temp.sqlite_master WHERE name = 'fibonacci'"
SELECT_ALL = "SELECT fib, value FROM fibonacci ORDER BY rowid"
SELECT_LAST_INSERTED = "SELECT value FROM fibonacci WHERE rowid = last_insert_rowid()"
ROW_PLACEHOLDER = "(?)"

# The drift check reads the live definitions.
SELECT_OBJECTS = (
    "SELECT type, name, tbl_name, sql FROM sqlite_master "
    "WHERE type IN ('table', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
)
