"""One JSON line per invocation on stdout, which Lambda sends to CloudWatch Logs."""

import sys
from collections.abc import Callable

#: Where log lines go: a callable taking one line, or None to drop them.
Sink = Callable[[str], None] | None


def write_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write: lines from concurrent threads stay whole


def emit(record: dict, sink: Sink) -> None:
    if sink is None:
        return
    import json  # already loaded by the Lambda runtime; kept off the cold import elsewhere

    sink(json.dumps(record, separators=(",", ":"), default=str))
