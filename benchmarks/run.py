"""`python -m benchmarks [--quick] [--out DIR] [--rows 1,5]`: run the rows, write the results."""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fibtrigger.config import masked

from . import (
    batches,
    drivers,
    environment,
    lambda_backend,
    package_and_import,
    queue_backend,
    report,
    single_calls,
    stored_function,
    threads,
)
from .model import FULL, QUICK, Row
from .throwaway_database import ThrowawayDatabase, connect, server_url

# The committed results: refreshed only on purpose, with `--out benchmarks/results`.
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Where an ad-hoc full run writes (ignored by git), so `make bench` leaves tracked files alone.
RUNS_DIR = Path(__file__).resolve().parent / "runs"
ROW_NUMBERS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few iterations only: proves the harness runs")
    parser.add_argument("--out", type=Path, help=f"where latest.json/.md go (default {RUNS_DIR}, ignored by git; "
                        f"with --quick, a new temporary directory; {RESULTS_DIR} for the committed results)")
    parser.add_argument("--rows", default=",".join(ROW_NUMBERS), help="comma-separated row numbers to run")
    arguments = parser.parse_args(argv)
    wanted = set(arguments.rows.split(","))
    unknown = wanted - set(ROW_NUMBERS)
    if unknown:
        parser.error(f"unknown row(s) {sorted(unknown)}; rows are {', '.join(ROW_NUMBERS)}")
    settings = QUICK if arguments.quick else FULL
    out = arguments.out or (Path(tempfile.mkdtemp(prefix="fibtrigger-bench-")) if arguments.quick else RUNS_DIR)

    server = server_url()
    admin = connect(server)
    try:
        durability = environment.server(admin.cursor())
    finally:
        admin.close()
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    mode = "quick" if arguments.quick else "full"
    print(f"benchmarks: server {masked(server)} ({durability['version']}), {mode} run", file=sys.stderr)
    rows: list[Row] = []

    def step(numbers: str, action) -> None:
        if wanted & set(numbers.split(",")):
            print(f"benchmarks: row {numbers} ...", file=sys.stderr, flush=True)
            produced = action()
            rows.extend(row for row in produced if row.number.rstrip("s") in wanted)

    with ThrowawayDatabase(server, sequence_rows=max(settings.sql_rows, 313)) as db:
        step("1", lambda: [*single_calls.mysql_rows(db, settings, durability), single_calls.sqlite_row(settings)])
        step("2", lambda: drivers.driver_rows(db, settings))
        step("3,4", lambda: batches.rows(db, settings))
        step("5", lambda: [stored_function.row(db, settings)])
        step("6", lambda: [threads.row(db, settings)])
        step("9", lambda: [drivers.floor_row(db, settings)])
        database = db.name
    step("7", lambda: [lambda_backend.row(settings)])
    step("8", lambda: [package_and_import.row(settings)])
    step("10", lambda: [package_and_import.fibtrigger_import_row(settings)])
    step("11", lambda: [queue_backend.row(settings)])
    step("12", lambda: [package_and_import.cli_start_row(settings)])

    rows.sort(key=lambda row: (int(row.number.rstrip("s")), row.number))
    run = {
        "command": "python -m benchmarks" + (" --quick" if arguments.quick else ""),
        "mode": mode,
        "commit": environment.commit(),
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_seconds": time.monotonic() - started,
        "machine": environment.machine(),
        # The 1-minute load average when the run began and ended: other work on the machine.
        "load": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        "server": durability,
        "server_url": masked(server),
        "scratch_database": database,
        "settings": settings.__dict__,
    }
    json_path, markdown_path = report.write(out, run, rows)
    print(report.markdown(run, rows))
    print(f"benchmarks: wrote {json_path} and {markdown_path}", file=sys.stderr)
    return 0
