"""Row 5: fibcomp in SQL against the seed's one-addition loop, installed as fibcomp_seed_loop."""

from fibtrigger.schema import mysql

from .model import Figure, Row, Settings, at_least, labelled
from .throwaway_database import SEED_FIBCOMP, SEQUENCE_TABLE, ThrowawayDatabase
from .timing import compared, interleave

# The 20, 92 and 312, and small arguments where a smarter method could lose.
ARGUMENTS = (0, 1, 2, 5, 10, 20, 92, 312)


def row(db: ThrowawayDatabase, settings: Settings) -> Row:
    connection = db.connect()
    try:
        cursor = connection.cursor()
        _check_same_values(cursor)
        figures: list[Figure] = []
        cases: dict[str, dict] = {}
        for n in ARGUMENTS:
            queries = {
                name: f"SELECT MAX({function}({n})) FROM {SEQUENCE_TABLE.name} WHERE i <= {settings.sql_rows}"
                for name, function in (("fibcomp", mysql.FIBCOMP.name), ("seed_loop", SEED_FIBCOMP.name))
            }

            def run(query: str):
                def case() -> int:
                    cursor.execute(query)
                    cursor.fetchall()
                    return settings.sql_rows

                return case

            samples = interleave({name: run(query) for name, query in queries.items()}, settings.sql_rounds)
            speedup = compared(samples["seed_loop"], samples["fibcomp"])
            figures.append(labelled(f"n = {n}: speed-up", at_least(speedup, 3 if n == 312 else 1)))
            for name, sample in samples.items():
                cases[f"{name}({n})"] = sample.as_dict()
    finally:
        connection.close()
    return Row(
        "5",
        "`fibcomp(n)` in SQL: `SELECT MAX(fibcomp(n))` over the helper sequence",
        f"the seed's loop, installed as `{SEED_FIBCOMP.name}` (same query)",
        figures,
        note=(
            f"{settings.sql_rows:,} rows per query, time per call including the query's own small share. "
            "fibcomp: F(0..7) answered directly, fast doubling from n = 8 (log2(n) - 3 passes of "
            "DECIMAL(65,0) multiplications); the seed: n - 1 passes of one addition. Before timing, "
            "both functions are checked to agree for every n in 0..312. Target: >= 3x at n = 312, "
            ">= 1x (never slower) elsewhere."
        ),
        cases=cases,
    )


def _check_same_values(cursor) -> None:
    # The sequence starts at 1, so i - 1 runs over 0..312.
    cursor.execute(
        f"SELECT COUNT(*) FROM {SEQUENCE_TABLE.name} WHERE i <= {mysql.MAX_FIB + 1} "
        f"AND NOT ({mysql.FIBCOMP.name}(i - 1) <=> {SEED_FIBCOMP.name}(i - 1))"
    )
    differing = cursor.fetchone()[0]
    if differing:
        raise RuntimeError(f"fibcomp and the seed's loop disagree for {differing} argument(s) in 0..312")
