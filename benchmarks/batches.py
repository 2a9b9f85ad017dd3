"""Rows 3 and 4: compute_many of 10,000 values, against single calls and against one raw multi-row INSERT."""

from fibtrigger.table import DEFAULT_BATCH_SIZE, FibonacciTable

from .model import Row, Settings, at_least, at_most
from .throwaway_database import ThrowawayDatabase
from .timing import compared, interleave


def rows(db: ThrowawayDatabase, settings: Settings) -> list[Row]:
    # Every argument 0..312 in turn: fibcomp's cost depends on n.
    values = [i % 313 for i in range(settings.many_values)]
    singles = values[: settings.single_calls]
    table = FibonacciTable(db.url)
    raw = db.connect()
    try:
        cursor = raw.cursor()
        multi_row_insert = table.sql.INSERT_ROWS.format(rows="(" + "),(".join(map(str, values)) + ")")

        def compute_many() -> int:
            table.compute_many(values)
            return len(values)

        def compute_calls() -> int:
            for n in singles:
                table.compute(n)
            return len(singles)

        def raw_multi_row_insert() -> int:
            cursor.execute(multi_row_insert)
            return len(values)

        cases = interleave(
            {
                "compute_many": compute_many,
                "compute_calls": compute_calls,
                "raw_multi_row_insert": raw_multi_row_insert,
            },
            settings.batch_rounds,
            between=lambda: db.truncate("fibonacci"),
        )
    finally:
        raw.close()
        table.close()
    many = f"{settings.many_values:,}"
    row3 = Row(
        "3",
        f"`compute_many` of {many} values (0..312 cycled)",
        f"{many} `compute()` calls",
        [at_least(compared(cases["compute_calls"], cases["compute_many"]), 20)],
        note=(
            f"compute_many: multi-row INSERT ... RETURNING in batches of {DEFAULT_BATCH_SIZE:,}, one "
            f"transaction, one COMMIT. The single calls were timed on the first {len(singles):,} values and "
            f"scaled to {many} (time per value): each is its own autocommit INSERT with its own COMMIT. "
            "compute_many's time per value is the server's trigger work for that row, so the ratio is "
            "(round trip + commit + facade + row work) / (row work): it reaches 20x only where one "
            "commit costs about 20 times fibcomp's work for one row."
        ),
        cases={name: cases[name].as_dict() for name in ("compute_many", "compute_calls")},
    )
    row4 = Row(
        "4",
        f"`compute_many` of {many} values",
        f"one raw multi-row `INSERT` of the same {many} rows into the triggered table, PyMySQL",
        [at_most(compared(cases["compute_many"], cases["raw_multi_row_insert"]), 1.2)],
        note=(
            "The trigger and fibcomp run once per row on both sides, and dominate. compute_many also "
            "checks every argument, sends BEGIN/COMMIT, and reads every stored row back and converts it "
            "to int; the raw INSERT reads nothing back. The table is emptied between samples."
        ),
        cases={name: cases[name].as_dict() for name in ("compute_many", "raw_multi_row_insert")},
    )
    return [row3, row4]
