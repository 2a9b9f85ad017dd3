"""Run the handler in-process the way the Lambda Python runtime does.

A real-looking context object, the runtime's error object for an exception, JSON marshalling
of the result, and the invocation's log lines (for ``X-Amz-Log-Result``).
"""

import json
import math
import os
import resource
import sys
import time
import traceback
import uuid
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fibtrigger.lambda_function.function import run as run_handler

DEFAULT_TIMEOUT_SECONDS = 3  # Lambda's default function timeout
DEFAULT_MEMORY_MB = 128
LOG_TAIL_BYTES = 4096  # Lambda returns the last 4 KB of the log


class LambdaContext:
    """The ``context`` argument, with the attributes and method the Python runtime provides."""

    def __init__(
        self,
        *,
        function_name: str,
        invoked_function_arn: str,
        aws_request_id: str,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        memory_limit_in_mb: int = DEFAULT_MEMORY_MB,
        client_context: object = None,
        log_stream_name: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = str(memory_limit_in_mb)  # a string in the real runtime too
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name or new_log_stream_name()
        self.identity = None
        self.client_context = client_context
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request {self.aws_request_id})"


def new_log_stream_name() -> str:
    """A log stream name as Lambda forms it: the date, the version and a random id."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


_compact_json = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per call


@dataclass
class Invocation:
    """What one call of the handler produced."""

    request_id: str
    result: object = None
    error: dict | None = None  # the runtime's error object when the handler raised
    duration_ms: float = 0.0
    log_lines: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def payload(self) -> tuple[bytes, dict | None]:
        """The response body as the Invoke API returns it, and the error object if any
        (a result that is not JSON is a Runtime.MarshalError, as on Lambda)."""
        if self.error is not None:
            return json.dumps(self.error).encode(), self.error
        try:
            return _compact_json(self.result).encode(), None
        except (TypeError, ValueError) as problem:
            error = {
                "errorMessage": f"Unable to marshal response: {problem}",
                "errorType": "Runtime.MarshalError",
                "requestId": self.request_id,
                "stackTrace": [],
            }
            return json.dumps(error).encode(), error

    def log_tail(self) -> str:
        """START / the function's lines / END / REPORT, the last 4 KB, as ``--log-type Tail`` shows."""
        lines = [f"START RequestId: {self.request_id} Version: $LATEST", *self.log_lines]
        lines.append(f"END RequestId: {self.request_id}")
        lines.append(
            f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(self.duration_ms))} ms\tMemory Size: {DEFAULT_MEMORY_MB} MB\t"
            f"Max Memory Used: {max_memory_used_mb()} MB"
        )
        text = "\n".join(lines) + "\n"
        return text.encode()[-LOG_TAIL_BYTES:].decode("utf-8", "ignore")


def max_memory_used_mb() -> int:
    """The process's peak resident memory, as Lambda reports its sandbox's (ru_maxrss: KiB, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(1, round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024)))


class FunctionRuntime:
    """Calls one handler with a context, an environment and captured logs.

    ``handler`` defaults to the Fibonacci function run with ``environment`` layered over this
    process's environment (the way a function's configuration adds variables). ``log`` receives
    every log line (or nothing, when None).
    """

    def __init__(
        self,
        *,
        handler: Callable | None = None,
        environment: Mapping[str, str] | None = None,
        log: Callable[[str], None] | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.environ = ChainMap(dict(environment or {}), os.environ)
        self._handler = handler
        self._log = log
        self.timeout_seconds = timeout_seconds
        # One stream per runtime, as Lambda keeps one per execution environment.
        self.log_stream_name = new_log_stream_name()

    def invoke(
        self,
        event: object,
        *,
        function_name: str,
        invoked_function_arn: str,
        request_id: str | None = None,
        client_context: object = None,
    ) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        context = LambdaContext(
            function_name=function_name,
            invoked_function_arn=invoked_function_arn,
            aws_request_id=request_id,
            timeout_seconds=self.timeout_seconds,
            client_context=client_context,
            log_stream_name=self.log_stream_name,
        )
        invocation = Invocation(request_id=request_id)
        started = time.perf_counter()
        try:
            if self._handler is None:
                invocation.result = run_handler(event, context, self.environ, self._collector(invocation.log_lines))
            else:
                invocation.result = self._handler(event, context)
        except Exception as error:  # noqa: BLE001 - any exception is a function error, as on Lambda
            invocation.error = error_object(error, request_id)
        finally:
            invocation.duration_ms = (time.perf_counter() - started) * 1000
        return invocation

    def _collector(self, lines: list[str]) -> Callable[[str], None]:
        log = self._log

        def collect(line: str) -> None:
            lines.append(line)
            if log is not None:
                log(line)

        return collect


def error_object(error: BaseException, request_id: str) -> dict:
    """The body the Python runtime returns for an exception the handler raised."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # drop the runtime's own frame
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }
