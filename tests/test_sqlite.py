"""The embedded SQLite default: same table, same semantics, limit 92."""

import sqlite3
import subprocess
import sys

import pytest

from fibonacci_numbers import fibonacci
from fibtrigger import FibonacciTable, InvalidArgument, ResultMismatch, ResultOutOfRange, compute, doctor, migrate
from fibtrigger.cli import main


def connect(table: FibonacciTable) -> sqlite3.Connection:
    table.rows()  # installs the schema on first use
    return sqlite3.connect(table.url.database)


def test_seed_statements_verbatim(sqlite_table):
    with connect(sqlite_table) as connection:
        connection.execute("INSERT INTO fibonacci VALUES (0, null)")
        connection.execute("INSERT INTO fibonacci VALUES (10, null)")
        cursor = connection.execute("SELECT * FROM fibonacci")
        assert [d[0] for d in cursor.description] == ["fib", "value"]
        assert cursor.fetchall() == [(0, 0), (10, 55)]


@pytest.mark.parametrize(
    "statement, message",
    [
        ("INSERT INTO fibonacci VALUES (93, null)", "fib must be between 0 and 92, got a number above 92"),
        ("INSERT INTO fibonacci VALUES (-1, null)", "fib must be between 0 and 92, got a negative number"),
        ("INSERT INTO fibonacci VALUES (null, null)", "fib must be between 0 and 92, got NULL"),
        ("INSERT INTO fibonacci VALUES (1.5, null)", "got a value that is not an integer"),
        ("INSERT INTO fibonacci VALUES ('abc', null)", "got a value that is not an integer"),
        ("INSERT INTO fibonacci VALUES (1, null), (2, null), (93, null)", "above 92"),
    ],
)
def test_bad_input_aborts_and_stores_nothing(sqlite_table, statement, message):
    with connect(sqlite_table) as connection:
        with pytest.raises(sqlite3.IntegrityError, match=message):
            connection.execute(statement)
        assert connection.execute("SELECT COUNT(*) FROM fibonacci").fetchone() == (0,)


def test_update_keeps_value_consistent(sqlite_table):
    with connect(sqlite_table) as connection:
        connection.execute("INSERT INTO fibonacci VALUES (10, 1)")
        connection.execute("UPDATE fibonacci SET value = 1")
        assert connection.execute("SELECT * FROM fibonacci").fetchall() == [(10, 55)]
        connection.execute("UPDATE fibonacci SET fib = 20")
        assert connection.execute("SELECT * FROM fibonacci").fetchall() == [(20, 6765)]
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute("UPDATE fibonacci SET fib = 93")
        assert connection.execute("SELECT * FROM fibonacci").fetchall() == [(20, 6765)]


def test_every_argument_up_to_92(sqlite_table):
    assert sqlite_table.compute_many(range(93)) == [fibonacci(n) for n in range(93)]
    with pytest.raises(ResultOutOfRange, match="fib must be between 0 and 92, got 93"):
        sqlite_table.compute(93)


def test_default_is_fibtrigger_db_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FIBTRIGGER_DATABASE_URL", raising=False)
    assert compute(10) == 55
    assert (tmp_path / "fibtrigger.db").exists()
    with pytest.raises(InvalidArgument):
        compute(-1)


# ---- first use from several processes, and the repair doctor advises ---------------------------

PROCESSES = 6


def test_first_use_is_safe_from_several_processes_at_once(tmp_path):
    """Each process finds no table and installs it: one does, under SQLite's write lock; the rest wait."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = "import sys; from fibtrigger import compute; print(compute(int(sys.argv[1]), url=sys.argv[2]))"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(n), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for n in range(PROCESSES)
    ]
    answers = [process.communicate(timeout=120) for process in processes]
    assert [(process.returncode, out.strip()) for process, (out, _) in zip(processes, answers, strict=True)] == [
        (0, str(fibonacci(n))) for n in range(PROCESSES)
    ], [err[-300:] for _, err in answers]
    assert sorted(FibonacciTable(url).rows()) == [(n, fibonacci(n)) for n in range(PROCESSES)]
    assert migrate.current(url) == doctor.head_revision()


def _doctor(url: str, capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["doctor", "--database-url", url])
    return code, capsys.readouterr().out.splitlines()


def test_a_trigger_dropped_by_hand_fails_loudly_and_the_advised_repair_works(sqlite_url, capsys):
    table = FibonacciTable(sqlite_url)
    assert table.compute(5) == 5
    with sqlite3.connect(table.url.database) as connection:
        connection.execute("DROP TRIGGER fibonacci_fill_insert")
    with pytest.raises(ResultMismatch, match="stored no value"):
        table.compute(10)
    assert table.rows() == [(5, 5)]  # the row with no value was rolled back with the error
    code, lines = _doctor(sqlite_url, capsys)
    failed = [line for line in lines if line.startswith("FAIL")]
    assert code == 1 and failed and all("-> run `fibtrigger migrate --repair`" in line for line in failed), lines
    assert main(["migrate", "--repair", "--database-url", sqlite_url]) == 0
    assert _doctor(sqlite_url, capsys)[0] == 0
    assert table.compute(10) == 55
    assert table.rows() == [(5, 5), (10, 55)]
