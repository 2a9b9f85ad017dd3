"""Every SQL text for the embedded SQLite default, in one file.

SQLite has no stored functions and a trigger cannot assign NEW, so a BEFORE
trigger rejects bad input and an AFTER trigger fills in the value with a
recursive CTE. RAISE takes only a literal message, so there is one per case.
"""

from lambda_handler.contract import INT64_MAX_FIB, RANGE_MESSAGE

from .objects import Table, Trigger

MAX_FIB = INT64_MAX_FIB
TABLE_NAME = "fibonacci"

# The implicit rowid is the facade's key: it never shows in SELECT *.
FIBONACCI = Table(TABLE_NAME, columns="  fib INTEGER,\n  value INTEGER")

_FIB_OF_NEW = f"""(
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


def _fill_trigger(name: str, timing: str) -> Trigger:
    # The WHERE clause stops the UPDATE from re-firing the AFTER UPDATE trigger.
    return Trigger(
        name,
        TABLE_NAME,
        timing,
        f"BEGIN\n  UPDATE fibonacci SET value = {_FIB_OF_NEW}\n"
        f"  WHERE rowid = NEW.rowid AND value IS NOT {_FIB_OF_NEW};\nEND",
    )


OBJECTS = (
    FIBONACCI,
    _check_trigger("fibonacci_check_insert", "BEFORE INSERT"),
    _fill_trigger("fibonacci_fill_insert", "AFTER INSERT"),
    _check_trigger("fibonacci_check_update", "BEFORE UPDATE"),
    _fill_trigger("fibonacci_fill_update", "AFTER UPDATE"),
)

INSERT_ROWS = "INSERT INTO fibonacci (fib) VALUES {rows}"
SELECT_RANGE = "SELECT fib, value FROM fibonacci WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
SELECT_ALL = "SELECT fib, value FROM fibonacci ORDER BY rowid"
ROW_PLACEHOLDER = "(?)"
