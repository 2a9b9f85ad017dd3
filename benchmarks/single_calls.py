"""Row 1: one compute() at a time, against a bare INSERT (row 2, against each raw driver: drivers.py)."""

import sqlite3
import tempfile
from pathlib import Path

from fibtrigger.schema import sqlite as sqlite_schema
from fibtrigger.schema.objects import Table
from fibtrigger.table import FibonacciTable

from . import environment
from .model import Figure, Row, Settings, at_most
from .throwaway_database import PLAIN_TABLE, ThrowawayDatabase
from .timing import compared, interleave

# The largest argument SQLite takes too, so both row 1s compute the same F(n).
N = 92


def mysql_rows(db: ThrowawayDatabase, settings: Settings, durability: dict) -> list[Row]:
    table = FibonacciTable(db.url)
    value = table.compute(N)
    bare, raw, admin = db.connect(), db.connect(), db.connect()
    try:
        bare_cursor, raw_cursor = bare.cursor(), raw.cursor()
        plain_insert = f"INSERT INTO {PLAIN_TABLE.name} (fib, value) VALUES ({N}, {value})"
        send_statements = facade_statements(table)

        def compute() -> int:
            for _ in range(settings.calls):
                table.compute(N)
            return settings.calls

        def bare_insert() -> int:
            for _ in range(settings.calls):
                bare_cursor.execute(plain_insert)
            return settings.calls

        def raw_pymysql() -> int:
            for _ in range(settings.calls):
                send_statements(raw_cursor)
            return settings.calls

        # Two more steps between the bare INSERT and compute(), to see what each adds.
        triggered_insert = table.sql.INSERT_ROWS.format(rows=f"({N})")

        def trigger_only() -> int:
            for _ in range(settings.calls):
                raw_cursor.execute(triggered_insert)
            return settings.calls

        steps = {
            "compute": compute, "bare_insert": bare_insert, "raw_pymysql": raw_pymysql, "trigger_only": trigger_only
        }
        if table._returning:
            plain_returning = f"{plain_insert} RETURNING fib, value"

            def bare_returning() -> int:
                for _ in range(settings.calls):
                    bare_cursor.execute(plain_returning)
                    bare_cursor.fetchall()
                return settings.calls

            steps["bare_returning"] = bare_returning
        cases = interleave(steps, settings.rounds)
        fsyncs = {
            name: _fsyncs_per_call(admin.cursor(), work, settings.calls)
            for name, work in (("bare_insert", bare_insert), ("compute", compute))
        }
    finally:
        for connection in (bare, raw, admin):
            connection.close()
        table.close()
    flush = durability["variables"].get("innodb_flush_log_at_trx_commit")
    statements = "INSERT ... RETURNING fib, value" if table._returning else "INSERT, then SELECT by id"
    row1 = Row(
        "1",
        f"`compute({N})`, one call at a time (MariaDB)",
        "bare autocommit `INSERT` of one row into an identical table without triggers, PyMySQL",
        [
            at_most(compared(cases["compute"], cases["bare_insert"]), 1.3),
            _breakdown(
                "step: the trigger and fibcomp (INSERT into fibonacci, nothing read back)",
                cases["trigger_only"], cases["bare_insert"],
            ),
            *(
                [_breakdown(
                    "step: reading the row back (bare INSERT ... RETURNING)",
                    cases["bare_returning"], cases["bare_insert"],
                )]
                if "bare_returning" in cases
                else []
            ),
            _breakdown(f"step: both ({statements}, raw PyMySQL)", cases["raw_pymysql"], cases["bare_insert"]),
        ],
        note=(
            f"Both autocommit, one COMMIT per row; innodb_flush_log_at_trx_commit={flush}, and the "
            f"server-wide {fsyncs['bare_insert'][0]} counter rose by {fsyncs['bare_insert'][1]:.2f} per bare "
            f"INSERT and {fsyncs['compute'][1]:.2f} per compute() (other clients of the shared server add to "
            "it): each commit fsyncs the redo log. compute() also runs the trigger and fibcomp(92) and "
            f"reads the stored row back ({statements}); the bare INSERT carries the value in its text. "
            "So the ratio is (bare INSERT + trigger and fibcomp + reading back + facade) / (bare INSERT, "
            "mostly its commit): near 1 when the fsync is slow (a busy disk), about 2 when it is fast."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )
    return [row1]


def sqlite_row(settings: Settings) -> Row:
    with tempfile.TemporaryDirectory(prefix="fibtrigger-bench-") as directory:
        path = Path(directory) / "bench.db"
        table = FibonacciTable(f"sqlite:///{path}")
        value = table.compute(N)  # installs the schema
        bare = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            bare.execute("PRAGMA busy_timeout=30000")
            plain = Table(PLAIN_TABLE.name, columns=sqlite_schema.FIBONACCI.columns)
            bare.execute(plain.create_sql())
            plain_insert = f"INSERT INTO {plain.name} (fib, value) VALUES (?, ?)"
            journal = bare.execute("PRAGMA journal_mode").fetchone()[0]
            synchronous = bare.execute("PRAGMA synchronous").fetchone()[0]

            def compute() -> int:
                for _ in range(settings.calls):
                    table.compute(N)
                return settings.calls

            def bare_insert() -> int:
                for _ in range(settings.calls):
                    bare.execute(plain_insert, (N, value))
                return settings.calls

            def raw_statements() -> int:
                for _ in range(settings.calls):
                    rowid = bare.execute(triggered_insert, (N,)).lastrowid
                    bare.execute(sqlite_schema.SELECT_RANGE, (rowid, rowid)).fetchall()
                return settings.calls

            triggered_insert = sqlite_schema.INSERT_ROWS.format(rows=sqlite_schema.ROW_PLACEHOLDER)
            cases = interleave(
                {"compute": compute, "bare_insert": bare_insert, "raw_sqlite3": raw_statements}, settings.rounds
            )
        finally:
            bare.close()
            table.close()
    return Row(
        "1s",
        f"`compute({N})`, one call at a time (SQLite file)",
        "bare autocommit `INSERT` of one row into an identical table without triggers, sqlite3",
        [
            at_most(compared(cases["compute"], cases["bare_insert"]), 1.3),
            _breakdown(
                "step: the triggers (INSERT + SELECT, raw sqlite3)", cases["raw_sqlite3"], cases["bare_insert"]
            ),
        ],
        note=(
            f"Same file, journal_mode={journal}, synchronous={synchronous} ({_SYNCHRONOUS.get(synchronous, '?')}). "
            "compute() runs the BEFORE trigger's four checks and the AFTER INSERT trigger's UPDATE (a "
            "recursive CTE, evaluated once: the AFTER UPDATE trigger's WHEN skips that fill), then a "
            "SELECT of the new row; raw_sqlite3 sends those same two "
            "statements on a kept sqlite3 connection, without the facade."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


_SYNCHRONOUS = {
    0: "OFF: no fsync", 1: "NORMAL: WAL fsynced at checkpoints", 2: "FULL: WAL fsynced per commit", 3: "EXTRA"
}


def facade_statements(table: FibonacciTable):
    """What the facade sends for one argument, as a function of a raw cursor."""
    sql = table.sql
    if table._returning:
        statement = sql.INSERT_ROWS_RETURNING.format(rows=f"({N})")

        def returning(cursor) -> None:
            cursor.execute(statement)
            cursor.fetchall()

        return returning
    statement = sql.INSERT_ROWS.format(rows=f"({N})")

    def insert_then_select(cursor) -> None:
        cursor.execute(statement)
        cursor.execute(sql.SELECT_RANGE, (cursor.lastrowid, cursor.lastrowid, cursor.lastrowid, 1))
        cursor.fetchall()

    return insert_then_select


def _breakdown(label: str, numerator, denominator) -> Figure:
    value, spread = compared(numerator, denominator)
    return Figure(label, value, "x", spread=spread)


def _fsyncs_per_call(cursor, work, calls: int) -> tuple[str, float]:
    counter, before = environment.fsyncs(cursor)
    work()
    return counter, (environment.fsyncs(cursor)[1] - before) / calls
