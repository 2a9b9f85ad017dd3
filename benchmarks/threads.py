"""Row 6: compute() throughput with 1, 2, 4 and 8 threads sharing one FibonacciTable."""

import threading

from fibtrigger.table import FibonacciTable

from .model import Figure, Row, Settings, at_least, labelled
from .single_calls import N
from .throwaway_database import ThrowawayDatabase
from .timing import compared, interleave

THREAD_COUNTS = (1, 2, 4, 8)


def row(db: ThrowawayDatabase, settings: Settings) -> Row:
    table = FibonacciTable(db.url)
    table.compute(N)
    try:
        cases = interleave(
            {f"{count}_threads": _case(table, count, settings.thread_calls) for count in THREAD_COUNTS},
            settings.thread_rounds,
        )
    finally:
        table.close()
    one = cases["1_threads"]
    figures: list[Figure] = []
    for count in THREAD_COUNTS[1:]:
        speedup = compared(one, cases[f"{count}_threads"])
        if count == 8:
            figures.append(labelled("8 threads vs 1", at_least(speedup, 1.5)))
        else:
            figures.append(Figure(f"{count} threads vs 1", speedup[0], "x", spread=speedup[1]))
    figures.append(Figure("1 thread", 1 / one.median, "calls/s"))
    return Row(
        "6",
        f"`compute({N})` throughput with 1, 2, 4, 8 threads",
        "1 thread",
        figures,
        note=(
            f"{settings.thread_calls:,} calls per sample, split evenly between the threads, one shared "
            "FibonacciTable (pool of 8). Threads are started inside the timed sample. PyMySQL is pure "
            "Python, so the client side holds the GIL except while waiting on the socket; on 2 cores the "
            "server, the client and other work share the CPUs. Concurrent commits can share one "
            "redo-log fsync (group commit)."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _case(table: FibonacciTable, count: int, calls: int):
    per_thread = calls // count

    def case() -> int:
        failures: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(per_thread):
                    table.compute(N)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the timing thread
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        return per_thread * count

    return case
