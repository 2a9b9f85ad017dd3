"""Interleaved timing: the compared cases take turns, so a shared machine's drift hits all of them.

Each case is a callable that does some work and returns how many operations
it did. Round r runs every case once, in forward order on even rounds and
reversed on odd ones (A B, B A, A B, ...), so neither case always runs first.
A sample is seconds per operation. Two cases are compared round by round
(``compared``); a case alone is summarised by its median.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Case = Callable[[], int]


@dataclass
class Samples:
    name: str
    seconds_per_op: list[float] = field(default_factory=list)
    ops_per_sample: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds_per_op)

    def as_dict(self) -> dict:
        return {
            "median_seconds_per_op": self.median,
            "min_seconds_per_op": min(self.seconds_per_op),
            "max_seconds_per_op": max(self.seconds_per_op),
            "samples": len(self.seconds_per_op),
            "ops_per_sample": self.ops_per_sample,
        }


def interleave(
    cases: dict[str, Case],
    rounds: int,
    *,
    between: Callable[[], None] | None = None,
    warmup: bool = True,
) -> dict[str, Samples]:
    """Run ``cases`` ``rounds`` times, alternating their order; ``between`` runs untimed after each sample."""
    results = {name: Samples(name) for name in cases}
    order = list(cases)
    if warmup:
        for name in order:
            cases[name]()
            if between is not None:
                between()
    for round_number in range(rounds):
        for name in order if round_number % 2 == 0 else reversed(order):
            start = time.perf_counter()
            operations = cases[name]()
            elapsed = time.perf_counter() - start
            results[name].seconds_per_op.append(elapsed / operations)
            results[name].ops_per_sample = operations
            if between is not None:
                between()
    return results


def ratio(numerator: Samples, denominator: Samples) -> float:
    """Ratio of medians."""
    return numerator.median / denominator.median


def compared(numerator: Samples, denominator: Samples) -> tuple[float, tuple[float, float]]:
    """The median over rounds of numerator/denominator, each pair taken in the same round, and its quartiles.

    Pairing by round is what makes interleaving pay: a slow minute slows both
    samples of its round, and their ratio stays put.
    """
    pairs = [a / b for a, b in zip(numerator.seconds_per_op, denominator.seconds_per_op, strict=True)]
    if len(pairs) < 2:
        return pairs[0], (pairs[0], pairs[0])
    low, _, high = statistics.quantiles(pairs, n=4)
    return statistics.median(pairs), (low, high)
