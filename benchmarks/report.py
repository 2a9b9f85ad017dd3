"""latest.json (everything, for tools) and latest.md (the table, for people)."""

import json
from pathlib import Path

from .model import Row

JSON_NAME = "latest.json"
MARKDOWN_NAME = "latest.md"


def write(directory: Path, run: dict, rows: list[Row]) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = directory / JSON_NAME, directory / MARKDOWN_NAME
    document = dict(run, rows=[row.as_dict() for row in rows])
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    markdown_path.write_text(markdown(run, rows))
    return json_path, markdown_path


def markdown(run: dict, rows: list[Row]) -> str:
    machine, server = run["machine"], run["server"]
    lines = [
        "# fibtrigger benchmarks",
        "",
        f"- Command: `{run['command']}` ({run['mode']} run, {run['elapsed_seconds']:.0f} s)",
        f"- Commit: `{run['commit']}`, {run['finished']}",
        f"- Machine: {machine['cpus']} x {machine['cpu']}, {machine['os']}, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}",
        f"- Server: {server['version']} ({_variables(server['variables'])})",
        "- Cases ran interleaved (A B, B A, ...) in one process against one server. Each ratio is the "
        "median, over rounds, of the ratio between the two cases' samples from the same round; IQR is "
        "the interquartile range of those per-round ratios. The machine may be shared (1-minute load "
        f"average {_load(run)}; other work makes fsync and CPU costs swing several-fold within a run): "
        "absolute times are noise, the ratios are what to compare.",
        "",
        "| # | measured | against | result | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if not row.available:
            lines.append(f"| {row.number} | {row.measured} | {row.against} | not available: "
                         f"{row.unavailable_reason} | | |")
            continue
        for figure in row.figures:
            label = f"{figure.label}: " if figure.label else ""
            met = {True: "yes", False: "**no**", None: ""}[figure.met]
            lines.append(
                f"| {row.number} | {row.measured} | {row.against} | {label}{figure.shown()} | "
                f"{figure.target} | {met} |"
            )
    lines += ["", "## What each row includes", ""]
    for row in rows:
        text = row.note if row.available else f"Not available: {row.unavailable_reason}."
        lines.append(f"- **{row.number}.** {text}")
        for name, case in row.cases.items():
            lines.append(
                f"  - `{name}`: median {_duration(case['median_seconds_per_op'])} per operation "
                f"({case['samples']} samples of {case['ops_per_sample']:,})"
            )
    return "\n".join(lines) + "\n"


def _variables(variables: dict) -> str:
    return ", ".join(f"{name}={value}" for name, value in variables.items())


def _duration(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-4:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def _load(run: dict) -> str:
    load = run.get("load")
    return f"{load[0]:g} at the start, {load[1]:g} at the end" if load else "not recorded"
