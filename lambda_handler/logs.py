"""One JSON line per invocation on stdout, which Lambda sends to CloudWatch Logs."""

import sys


def write_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write: lines from concurrent threads stay whole


#: Where log lines go: a callable taking one line, or None to drop them. A host that runs the
#: handler in-process (fibtrigger's local Lambda service) replaces it.
sink = write_stdout


def emit(record: dict) -> None:
    target = sink
    if target is None:
        return
    import json  # already loaded by the Lambda runtime; kept off the cold import elsewhere

    target(json.dumps(record, separators=(",", ":"), default=str))
