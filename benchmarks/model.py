"""What a run measures (Settings) and what it reports (Row, Figure)."""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Settings:
    rounds: int  # interleaved samples per case, single-call rows (1, 2, 7)
    calls: int  # compute() calls per sample in those rows
    many_values: int  # values per compute_many (rows 3, 4): 10,000 in a full run
    single_calls: int  # compute() calls timed per sample in row 3, scaled up to many_values
    batch_rounds: int  # samples per case, rows 3 and 4
    sql_rows: int  # helper-sequence rows per SELECT in row 5
    sql_rounds: int
    thread_calls: int  # compute() calls per sample in row 6, shared by the threads
    thread_rounds: int
    import_rounds: int  # interpreter starts per case, row 8
    lambda_backend: bool  # row 7 starts a private mariadbd: skipped in --quick


FULL = Settings(
    rounds=60, calls=20, many_values=10_000, single_calls=200, batch_rounds=9,
    sql_rows=3_000, sql_rounds=9, thread_calls=1_200, thread_rounds=7, import_rounds=31,
    lambda_backend=True,
)
QUICK = Settings(
    rounds=2, calls=3, many_values=200, single_calls=20, batch_rounds=2,
    sql_rows=50, sql_rounds=2, thread_calls=16, thread_rounds=2, import_rounds=2,
    lambda_backend=False,
)


@dataclass
class Figure:
    """One reported number and its target."""

    label: str
    value: float | None
    unit: str  # "x" for a ratio, "bytes", "ops/s"
    target: str = ""  # e.g. "<= 1.3x"; empty when the issue sets none
    met: bool | None = None  # None: no target, or not measured
    spread: tuple[float, float] | None = None  # quartiles of the same-round ratios

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "x":
            text = f"{self.value:.2f}x"
            if self.spread is not None:
                text += f" (IQR {self.spread[0]:.2f}-{self.spread[1]:.2f})"
            return text
        if self.unit == "bytes":
            return f"{self.value:,.0f} bytes"
        if self.unit == "us":
            return f"{self.value:,.0f} us"
        return f"{self.value:,.0f} {self.unit}"


@dataclass
class Row:
    number: str
    measured: str
    against: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""
    cases: dict[str, dict] = field(default_factory=dict)  # Samples.as_dict() per case
    available: bool = True
    unavailable_reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


Measured = tuple[float, tuple[float, float]]  # timing.compared(): median same-round ratio, quartiles


def at_most(measured: Measured, limit: float) -> Figure:
    value, spread = measured
    return Figure("", value, "x", f"<= {limit:g}x", value <= limit, spread)


def at_least(measured: Measured, limit: float) -> Figure:
    value, spread = measured
    return Figure("", value, "x", f">= {limit:g}x", value >= limit, spread)


def labelled(label: str, figure: Figure) -> Figure:
    figure.label = label
    return figure
