"""The local Lambda service: the handler behind a real HTTP/1.1 server, speaking two protocols.

- The Lambda Invoke API, ``POST /2015-03-31/functions/{name}/invocations``: boto3's ``lambda``
  client (``endpoint_url``, ``AWS_ENDPOINT_URL_LAMBDA``) and the local ``lambda_sync`` UDF
  work against it unchanged, function errors and all.
- An API-Gateway-style endpoint, ``POST /{stage}/``: the request becomes a REST proxy (v1)
  event; with ``require_iam`` it must carry a valid SigV4 signature (service execute-api).

``GET /metrics`` returns the counters. Threaded, keep-alive, Nagle off. Bounded before any
authentication: each request's head and body (every transfer encoding), the time a request may
take to arrive once it began, and the number of connections (a thread each) served at once.
"""

import bisect
import email.utils
import io
import itertools
import json
import logging
import re
import signal
import socket
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import parse_qs, unquote

from fibtrigger.lambda_function.contract import BATCH_KEY
from fibtrigger.lambda_function.settings import SettingError, max_fib

from ..arn import FunctionReference, NotAnArn, is_function_name, parse_function
from ..aws.region import DEFAULT_REGION, environment_region
from ..errors import ConfigurationError
from . import function_api, http_request, prometheus, proxy, sigv4
from .runtime import DEFAULT_TIMEOUT_SECONDS, FunctionRuntime, Invocation

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9001
DEFAULT_STAGE = "test"
# "function" is the name the Lambda Runtime Interface Emulator answers to; the second is the name
# `fibtrigger aws deploy` gives the function, so that one ARN works here and, deployed, on AWS.
DEFAULT_FUNCTION_NAMES = ("fibtrigger", function_api.DEPLOYED_FUNCTION_NAME, "function")
# Lambda takes up to 6 MB synchronously and 1 MB asynchronously; {"fib": N} needs a few bytes.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
# A kept-alive connection (the lambda_sync UDF keeps one per server thread) may idle this long.
DEFAULT_IDLE_TIMEOUT = 60.0
# Once a request's first byte arrived, its head and body must all arrive within this (slowloris).
DEFAULT_REQUEST_TIMEOUT = 30.0
# Connections served at once, a thread each; more are answered 503 and closed. The local stack's
# mariadbd (--max-connections=200) keeps at most one per server thread.
DEFAULT_MAX_CONNECTIONS = 256
# How often a request that is too slow to arrive is looked for.
_REAPER_INTERVAL = 0.25
STOP_GRACE_SECONDS = 5.0

INVOKE_PATH_TEMPLATE = "/2015-03-31/functions/{name}/invocations"
INVOKE_PATH = re.compile(INVOKE_PATH_TEMPLATE.format(name="([^/]+)") + "/?")
# ListFunctions (no name), GetFunction, GetFunctionConfiguration (/configuration).
FUNCTION_READ_PATH = re.compile(r"/2015-03-31/functions/?(?:([^/]+)(/configuration)?/?)?")
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
RESERVED_STAGES = {"2015-03-31", "metrics"}
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
METRICS_PATH = "/metrics"

COUNTERS = (
    "requests",  # HTTP requests answered, every route
    "connections",  # TCP connections accepted (few, when clients keep them alive)
    "invocations",  # handler calls
    "batch_items",  # arguments sent in batch events {"fibs": [...]} (the queue backend's workers)
    "errors",  # requests answered with an error: 4xx, 5xx, or a function error
    "function_errors",  # handler calls that raised (X-Amz-Function-Error, or API Gateway's 502)
    "client_errors",  # 4xx answers
    "server_errors",  # 5xx answers
    "auth_failures",  # 403s from the SigV4 check; the handler never ran
    "connections_refused",  # connections over max_connections, answered 503 and closed
    "requests_timed_out",  # requests whose head and body did not arrive within request_timeout
)


class Metrics:
    """Thread-safe counters: the local twin of the Lambda and API Gateway dashboards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._duration_total = 0.0
        self._duration_max = 0.0
        # Per bucket of prometheus.DURATION_BUCKETS, and one more for longer calls.
        self._duration_buckets = [0] * (len(prometheus.DURATION_BUCKETS) + 1)

    def count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                self._counts[name] += delta

    def invoked(self, invocation: Invocation, *, asynchronous: bool = False, items: int = 0) -> None:
        with self._lock:
            self._counts["invocations"] += 1
            self._counts["batch_items"] += items
            self._duration_total += invocation.duration_ms
            self._duration_max = max(self._duration_max, invocation.duration_ms)
            self._duration_buckets[bisect.bisect_left(prometheus.DURATION_BUCKETS, invocation.duration_ms / 1000)] += 1
            if invocation.failed:
                self._counts["function_errors"] += 1
                if asynchronous:  # no response carries it, so count the error here
                    self._counts["errors"] += 1

    def prometheus_text(self) -> str:
        with self._lock:
            counts = dict(self._counts)
            cumulative = list(itertools.accumulate(self._duration_buckets))
            total_seconds = self._duration_total / 1000
        return prometheus.render(counts, cumulative, total_seconds)

    def snapshot(self) -> dict:
        with self._lock:
            return {
                **self._counts,
                "duration_ms_total": round(self._duration_total, 3),
                "duration_ms_max": round(self._duration_max, 3),
            }


def _function_in_path(raw_name: str) -> FunctionReference:
    """The function a percent-encoded path segment names."""
    return parse_function(unquote(raw_name))


class LocalLambdaService:
    """The Fibonacci function behind an HTTP server on ``host:port`` (0: a free port).

    ``start()`` serves in a background thread, ``stop()`` closes every connection,
    ``serve_forever()`` blocks until SIGINT or SIGTERM. ``environment`` is layered over this
    process's environment for the function (e.g. ``FIBTRIGGER_LAMBDA_MAX_FIB``). ``credentials``
    (a ``(access_key, secret_key)`` pair, a botocore Credentials, or None for this process's
    standard AWS credential chain) is the key pair ``require_iam`` checks signatures against.
    ``handler`` replaces the Fibonacci function with another ``handler(event, context)``.
    ``log_stream`` receives the function's log lines (None: dropped). ``max_request_bytes``
    bounds each body, ``request_timeout`` the time from a request's first byte to its last,
    ``max_connections`` the connections served at once.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        require_iam: bool = False,
        credentials: object = None,
        stage: str = DEFAULT_STAGE,
        environment: Mapping[str, str] | None = None,
        function_names: Sequence[str] = DEFAULT_FUNCTION_NAMES,
        handler: Callable | None = None,
        log_stream: TextIO | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        region: str | None = None,
        account_id: str = proxy.LOCAL_ACCOUNT_ID,
    ) -> None:
        if not STAGE_NAME.fullmatch(stage) or stage in RESERVED_STAGES:
            raise ConfigurationError(
                f"stage must be letters, digits, '-' or '_' (not {sorted(RESERVED_STAGES)}), got {stage!r}"
            )
        names = tuple(function_names)
        bad = [name for name in names if not is_function_name(name)]
        if not names or bad:
            raise ConfigurationError(f"function names must be 1-64 letters, digits, '-' or '_', got {bad or names!r}")
        self.host = host
        self.requested_port = port
        self._port = port  # the bound port once started (and after stopping)
        self.require_iam = require_iam
        self.stage = stage
        self.function_names = names
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, got {max_connections}")
        self.max_request_bytes = max_request_bytes
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.account_id = account_id
        self.region = region or environment_region() or DEFAULT_REGION
        self._log_stream = log_stream
        self._log_lock = threading.Lock()
        self._runtime = FunctionRuntime(
            handler=handler,
            environment=environment,
            log=self._write_log if log_stream is not None else None,
            timeout_seconds=timeout_seconds,
        )
        self.max_fib: int | None = None  # the Fibonacci function's limit (None for another handler)
        if handler is None:
            try:
                self.max_fib = max_fib(self._runtime.environ)
            except SettingError as error:
                raise ConfigurationError(str(error)) from None
        self._key = sigv4.key_pair(credentials) if require_iam else None
        self._metrics = Metrics()
        self._created = datetime.now(UTC)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connections: set[_RequestHandler] = set()
        self._connections_changed = threading.Condition()
        self._stopping = False
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "LocalLambdaService":
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        handler_class = type("RequestHandler", (_RequestHandler,), {"timeout": self.idle_timeout})
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self.requested_port), handler_class)
        except OSError as error:
            raise ConfigurationError(
                f"cannot listen on {self.host}:{self.requested_port}: {error.strerror or error}"
            ) from None
        server.service = self
        server.slots = threading.BoundedSemaphore(self.max_connections)
        self._port = server.server_address[1]
        self._stopping = False
        self._server = server
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-event")
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-service", daemon=True
        )
        self._thread.start()
        self._reaper_stop.clear()
        self._reaper = threading.Thread(target=self._reap_slow_requests, name="lambda-service-reaper", daemon=True)
        self._reaper.start()
        return self

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, close idle kept-alive connections."""
        server = self._server
        if server is None:
            return
        self._stopping = True
        server.shutdown()
        server.server_close()
        with self._connections_changed:
            for connection in list(self._connections):
                if not connection.busy:
                    connection.hang_up()
            self._connections_changed.wait_for(lambda: not self._connections, timeout=STOP_GRACE_SECONDS)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._thread is not None:
            self._thread.join()
        self._reaper_stop.set()
        if self._reaper is not None:
            self._reaper.join()
        self._server = self._thread = self._executor = self._reaper = None

    def serve_forever(self, on_ready: Callable[["LocalLambdaService"], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM (or KeyboardInterrupt), then stop cleanly."""
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        try:
            self.start()
            if on_ready is not None:
                on_ready(self)
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def __enter__(self) -> "LocalLambdaService":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- facts -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:9001 (use it as a boto3 ``endpoint_url``)."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The API-Gateway-style invoke URL, e.g. http://127.0.0.1:9001/test/."""
        return f"{self.url}/{self.stage}/"

    def function_arn(self, name: str | None = None) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name or self.function_names[0]}"

    def metrics(self) -> dict:
        return self._metrics.snapshot()

    # -- requests ----------------------------------------------------------------------

    def _route(self, request: "_RequestHandler") -> None:
        target = request.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        method = request.command
        body = request.read_body(self.max_request_bytes)
        if body is None:
            return
        request.arrived()
        invoke = INVOKE_PATH.fullmatch(path)
        if invoke:
            if method != "POST":
                return self._aws_error(request, 405, "MethodNotAllowedException", "use POST to invoke a function")
            return self._invoke(request, invoke.group(1), query, body)
        prefix = f"/{self.stage}"
        if path == prefix or path.startswith(prefix + "/"):
            return self._api(request, method, path, unquote(path[len(prefix) :]) or "/", query, body)
        if path == METRICS_PATH:
            if method not in ("GET", "HEAD"):
                return self._json(request, 405, {"message": "use GET /metrics"}, [("Allow", "GET")])
            if prometheus.wanted(request.headers.get("Accept"), parse_qs(query)):
                text = self._metrics.prometheus_text().encode()
                return self._send(request, 200, [("Content-Type", prometheus.CONTENT_TYPE)], text)
            return self._json(request, 200, self.metrics())
        read = FUNCTION_READ_PATH.fullmatch(path)
        if read and method in ("GET", "HEAD"):
            return self._read_function(request, read.group(1), bool(read.group(2)))
        if path.startswith(function_api.LAMBDA_API_PREFIX):
            return self._aws_error(
                request, 404, "UnknownOperationException",
                f"{method} {path[:100]} is not an operation of the local Lambda service: "
                f"it answers {function_api.SUPPORTED}",
            )
        message = (
            f"Not Found: use POST {INVOKE_PATH_TEMPLATE.format(name='{' + ','.join(self.function_names) + '}')}, "
            f"POST /{self.stage}/ or GET {METRICS_PATH}"
        )
        return self._aws_error(request, 404, "UnknownOperationException", message)

    def _read_function(self, request: "_RequestHandler", raw_name: str | None, configuration_only: bool) -> None:
        """ListFunctions (no name), GetFunction, GetFunctionConfiguration."""
        if raw_name is None:
            functions = [self._configuration(name) for name in self.function_names]
            return self._json(request, 200, {"Functions": functions})
        try:
            name, qualifier, region, account, _ = _function_in_path(raw_name)
        except NotAnArn:
            return self._aws_error(
                request, 400, "ValidationException",
                f"1 validation error detected: Value '{unquote(raw_name)[:140]}' at 'functionName' failed to "
                "satisfy constraint: it must be a function name, a partial ARN or a function ARN",
            )
        if name not in self.function_names or qualifier not in (None, "$LATEST"):
            arn = f"arn:aws:lambda:{region or self.region}:{account or self.account_id}:function:{name}"
            return self._aws_error(request, 404, "ResourceNotFoundException", f"Function not found: {arn}")
        config = self._configuration(name)
        return self._json(request, 200, config if configuration_only else function_api.function(config))

    def _configuration(self, name: str) -> dict:
        return function_api.configuration(
            name=name, arn=self.function_arn(name), account=self.account_id,
            timeout_seconds=self._runtime.timeout_seconds, started=self._created,
        )

    def _invoke(self, request: "_RequestHandler", raw_name: str, query: str, body: bytes) -> None:
        """The Lambda Invoke API, with Lambda's status codes, headers and error shapes."""
        try:
            name, qualifier, region, account, _ = _function_in_path(raw_name)
        except NotAnArn:
            text = unquote(raw_name)
            return self._aws_error(
                request,
                400,
                "ValidationException",
                f"1 validation error detected: Value '{text[:140]}' at 'functionName' failed to satisfy "
                "constraint: it must be a function name, a partial ARN or a function ARN",
            )
        requested = parse_qs(query).get("Qualifier", [None])[-1] if query else None
        if requested is not None and qualifier is not None and requested != qualifier:
            return self._aws_error(
                request,
                400,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified qualifier.",
            )
        qualifier = qualifier or requested
        arn = f"arn:aws:lambda:{region or self.region}:{account or self.account_id}:function:{name}"
        if name not in self.function_names or qualifier not in (None, "$LATEST"):
            shown = f"{arn}:{qualifier}" if qualifier else arn
            return self._aws_error(request, 404, "ResourceNotFoundException", f"Function not found: {shown}")
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            return self._aws_error(
                request,
                400,
                "InvalidParameterValueException",
                f"Invalid X-Amz-Invocation-Type {invocation_type[:40]!r}: use one of {', '.join(INVOCATION_TYPES)}",
            )
        try:
            event = json.loads(body) if body.strip() else {}
        except RecursionError:
            return self._aws_error(
                request,
                400,
                "InvalidRequestContentException",
                "Could not parse request body into json: nested too deeply",
            )
        except ValueError as error:
            return self._aws_error(
                request,
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {' '.join(str(error).split())[:160]}",
            )
        try:
            client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
        except ValueError:
            return self._aws_error(
                request,
                400,
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
            )
        request_id = str(uuid.uuid4())
        invoked_arn = f"{arn}:{qualifier}" if qualifier else arn
        common = [("x-amzn-RequestId", request_id)]
        if invocation_type == "DryRun":
            return self._send(request, 204, common, b"")
        if invocation_type == "Event":
            assert self._executor is not None  # set while the service runs
            self._executor.submit(self._invoke_async, event, name, invoked_arn, request_id)
            return self._send(request, 202, common, b"")
        invocation = self._runtime.invoke(
            event,
            function_name=name,
            invoked_function_arn=invoked_arn,
            request_id=request_id,
            client_context=client_context,
        )
        self._metrics.invoked(invocation, items=_batch_items(event))
        payload, function_error = invocation.payload()
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST"), *common]
        if function_error is not None:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        if (request.headers.get("X-Amz-Log-Type") or "").lower() == "tail":
            import base64

            headers.append(("X-Amz-Log-Result", base64.b64encode(invocation.log_tail().encode()).decode("ascii")))
        self._send(request, 200, headers, payload, function_error=function_error is not None)

    def _invoke_async(self, event: object, name: str, arn: str, request_id: str) -> None:
        invocation = self._runtime.invoke(event, function_name=name, invoked_function_arn=arn, request_id=request_id)
        self._metrics.invoked(invocation, asynchronous=True)

    def _api(self, request: "_RequestHandler", method: str, raw_path: str, path: str, query: str, body: bytes) -> None:
        """API Gateway, REST API, Lambda proxy integration, optionally AWS_IAM authorization."""
        signer = None
        if self._key is not None:
            try:
                signer = sigv4.verify(
                    method=method,
                    path=raw_path,
                    query=query,
                    headers=request.header_lists(),
                    body=body,
                    key=self._key,
                )
            except sigv4.SignatureRejected as rejected:
                self._metrics.count(auth_failures=1)
                return self._json(
                    request, 403, {"message": rejected.message}, [("x-amzn-ErrorType", rejected.error_type)]
                )
        request_id = str(uuid.uuid4())
        event = proxy.rest_event(
            method=method,
            stage=self.stage,
            path=path,
            query=query,
            headers=request.headers.items(),
            body=body,
            request_id=request_id,
            source_ip=request.client_address[0],
            signer=signer,
            account_id=self.account_id,
            protocol=request.request_version,
        )
        name = self.function_names[0]
        invocation = self._runtime.invoke(
            event, function_name=name, invoked_function_arn=self.function_arn(name), request_id=request_id
        )
        self._metrics.invoked(invocation)
        if invocation.failed:
            status, headers, data = proxy.BAD_GATEWAY
        else:
            status, headers, data = proxy.http_response(invocation.result)
        self._send(
            request, status, [*headers, ("x-amzn-RequestId", request_id)], data, function_error=invocation.failed
        )

    # -- responses ---------------------------------------------------------------------

    def _aws_error(self, request: "_RequestHandler", status: int, error_type: str, message: str) -> None:
        """An error in the shape botocore's rest-json parser reads (code from x-amzn-ErrorType)."""
        key = "Message" if error_type == "ResourceNotFoundException" else "message"
        self._json(request, status, {"Type": "User", key: message}, [("x-amzn-ErrorType", error_type)])

    def _json(self, request, status: int, body: dict, headers: list | None = None) -> None:
        data = _compact_json(body).encode()
        self._send(request, status, [("Content-Type", "application/json"), *(headers or [])], data)

    def _send(self, request, status: int, headers: list, body: bytes, *, function_error: bool = False) -> None:
        if self._stopping:
            request.close_connection = True
        # Counted before the answer leaves, so a client that reads /metrics next sees it.
        self._metrics.count(
            requests=1,
            errors=int(status >= 400 or function_error),
            client_errors=int(400 <= status < 500),
            server_errors=int(status >= 500),
        )
        request.send_whole(status, headers, body)

    def _write_log(self, line: str) -> None:
        assert self._log_stream is not None  # only handed to the runtime with a stream
        with self._log_lock:
            self._log_stream.write(line + "\n")
            self._log_stream.flush()

    # -- connections -------------------------------------------------------------------

    def _opened(self, connection: "_RequestHandler") -> None:
        with self._connections_changed:
            self._connections.add(connection)

    def _closed(self, connection: "_RequestHandler") -> None:
        with self._connections_changed:
            self._connections.discard(connection)
            self._connections_changed.notify_all()

    def _turn_away(self, connection: socket.socket) -> None:
        """A connection over max_connections: a 503 if the socket takes it at once, then closed."""
        self._metrics.count(connections_refused=1)
        try:
            connection.setblocking(False)
            connection.send(_BUSY)
        except OSError:
            pass

    def _reap_slow_requests(self) -> None:
        """Hang up on requests that began but did not fully arrive within request_timeout."""
        while not self._reaper_stop.wait(_REAPER_INTERVAL):
            now = time.monotonic()
            with self._connections_changed:
                late = [c for c in self._connections if c.deadline is not None and c.deadline < now]
            for connection in late:
                connection.deadline = None
                self._metrics.count(requests_timed_out=1)
                connection.hang_up()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    service: LocalLambdaService
    slots: threading.BoundedSemaphore

    def process_request(self, request, client_address) -> None:
        """A thread for the connection while one of max_connections is free; else 503 and close."""
        if not self.slots.acquire(blocking=False):
            self.service._turn_away(request)
            self.shutdown_request(request)
            return
        # Counted here, in accept order on the serving thread: counted in the connection's own
        # thread, an earlier connection could be counted after a later one was answered.
        self.service._metrics.count(connections=1)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Server6(_Server):
    address_family = socket.AF_INET6


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "fibtrigger-lambda"
    sys_version = ""
    server: _Server
    raw_requestline: bytes
    rfile: io.BufferedReader  # StreamRequestHandler's buffered socket file (peek)
    # http_request.RequestHeaders answers the email.message.Message methods http.server calls.
    headers: http_request.RequestHeaders  # type: ignore[assignment]
    # Nagle plus the client's delayed ACK would hold back every response on a kept-alive
    # connection by about 40 ms; StreamRequestHandler sets TCP_NODELAY on accept.
    disable_nagle_algorithm = True
    busy = False
    keep_alive_requested = False  # HTTP/1.0 with Connection: keep-alive
    deadline: float | None = None  # when the request being read must have arrived (monotonic)

    def setup(self) -> None:
        super().setup()
        self.server.service._opened(self)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.service._closed(self)

    def handle_one_request(self) -> None:
        """Wait (up to idle_timeout) for a request's first byte, then give it request_timeout."""
        try:
            if not self.rfile.peek(1):
                self.close_connection = True
                return
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        self.deadline = time.monotonic() + self.server.service.request_timeout
        try:
            super().handle_one_request()
        finally:
            self.deadline = None

    def arrived(self) -> None:
        """The request's head and body are in: the handler's own time is not the client's."""
        self.deadline = None

    def hang_up(self) -> None:
        """Wake a thread waiting for the next request on this connection, so it exits."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_request(self) -> None:
        self.busy = True
        try:
            self.server.service._route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - a bug here must not kill the connection thread silently
            logger.exception("local Lambda service: unexpected error on %s %s", self.command, self.path)
            self.close_connection = True
            try:
                self.send_whole(
                    500, [("Content-Type", "application/json")], b'{"message":"local Lambda service error"}'
                )
            except OSError:
                pass
        finally:
            self.busy = False

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_request

    def parse_request(self) -> bool:
        """The request line and headers (http_request's strict parser, not email.parser):
        False after answering a malformed request, or when the peer hung up mid-request."""
        self.command = ""
        self.request_version = ""
        self.close_connection = True
        self.keep_alive_requested = False
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        if not self.requestline.strip():
            return False  # a blank line: closed without an answer, as http.server does
        try:
            line = http_request.parse_request_line(self.raw_requestline)
            self.command, self.path, self.request_version = line.method, line.target, line.version
            if self.path.startswith("//"):  # as http.server does: never a scheme-relative URL
                self.path = "/" + self.path.lstrip("/")
            self.headers = headers = http_request.read_headers(self.rfile)
        except http_request.BadRequest as bad:
            self.send_error(bad.status, bad.message)
            return False
        except http_request.IncompleteRequest:
            return False
        # HTTP/1.1 stays open unless told to close; HTTP/1.0 closes unless asked to keep alive.
        connection = headers.tokens("Connection") if "Connection" in headers else ()
        self.close_connection = "close" in connection or not (line.keep_alive or "keep-alive" in connection)
        self.keep_alive_requested = not (line.keep_alive or self.close_connection)
        if line.keep_alive and "100-continue" in headers.tokens("Expect"):
            return self.handle_expect_100()
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors before routing (malformed request, 414, 501) as the service's JSON answers."""
        self.close_connection = True
        if message is None:
            message = self.responses.get(code, ("",))[0]
        self.log_error("code %d, message %s", code, message)
        self.server.service._json(self, code, {"message": message})

    def read_body(self, limit: int) -> bytes | None:
        """The request body, or None after answering 400/413/431/501 or losing the peer (then it closes)."""
        try:
            return http_request.read_body(self.rfile, self.headers, limit)
        except http_request.BadRequest as bad:
            self.close_connection = True  # the unread body would be taken for the next request
            error_type = _BODY_ERROR_TYPES.get(bad.status, "BadRequest")
            self.server.service._aws_error(self, bad.status, error_type, bad.message)
        except (http_request.IncompleteRequest, TimeoutError):
            self.close_connection = True
        return None

    def header_lists(self) -> dict[str, list[str]]:
        lists: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            lists.setdefault(name.lower(), []).append(value)
        return lists

    def send_whole(self, status: int, headers: list, body: bytes) -> None:
        """Status line, headers and body in one write: one segment for small answers."""
        reason = _REASONS.get(status, "")
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {self.server_version}", f"Date: {_http_date()}"]
        for name, value in headers:
            lines.append(f"{_header_text(name)}: {_header_text(value)}")
        if status >= 200 and status not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        else:
            body = b""
        if self.close_connection:
            lines.append("Connection: close")
        elif self.keep_alive_requested:
            lines.append("Connection: keep-alive")  # an HTTP/1.0 client asked for it
        if self.command == "HEAD":
            body = b""
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(head + body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)


def _header_text(value: object) -> str:
    # No CR or LF from a handler's header may split the response. Every character
    # str.splitlines splits at is unprintable, so a printable str is already safe.
    if type(value) is str and value.isprintable():
        return value
    return " ".join(str(value).splitlines())


_REASONS = {status.value: status.phrase for status in HTTPStatus}
_BODY_ERROR_TYPES = {413: "RequestTooLargeException", 501: "NotImplemented"}
_BUSY_BODY = b'{"message":"the local Lambda service is serving its maximum of connections"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header's value, formatted once per second rather than once per response."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def _batch_items(event: object) -> int:
    """How many arguments a batch event carries (0 for any other event)."""
    items = event.get(BATCH_KEY) if isinstance(event, dict) else None
    return len(items) if isinstance(items, list) else 0


def _client_context(header: str | None) -> object:
    """X-Amz-Client-Context (base64 JSON) as the runtime's context.client_context."""
    if not header:
        return None
    import base64

    try:
        data = json.loads(base64.b64decode(header, validate=True))
    except (ValueError, RecursionError):
        raise ValueError("client context") from None
    if not isinstance(data, dict):
        raise ValueError("client context")
    return types.SimpleNamespace(client=data.get("client"), custom=data.get("custom"), env=data.get("env"))

