"""A test double of a Lambda Invoke endpoint, for fault injection: 500s, function errors, hangs, odd payloads.

The real local Lambda service (`fibtrigger lambda serve`) serves the happy
path in the end-to-end tests; this peer misbehaves on purpose. It answers
F(n) for {"fib": n} unless told otherwise, and records every request and the
TCP connections it saw.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fibonacci_numbers import fibonacci


class LambdaPeer:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.connections: set[tuple[str, int]] = set()
        self.respond = self.compute  # replaced by tests: (request) -> (status, headers, body bytes)
        self._release = threading.Event()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's endpoint does

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = {"path": self.path, "headers": dict(self.headers), "body": body}
                peer.requests.append(request)
                peer.connections.add(self.client_address)
                status, headers, payload = peer.respond(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "LambdaPeer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.requests.clear()
        self.connections.clear()
        self.respond = self.compute
        self._release.clear()

    @staticmethod
    def compute(request) -> tuple[int, dict, bytes]:
        n = json.loads(request["body"])["fib"]
        return 200, {"Content-Type": "application/json"}, json.dumps({"fib": n, "value": str(fibonacci(n))}).encode()

    def hang(self, request) -> tuple[int, dict, bytes]:
        """Never answer until the test ends (or reset)."""
        self._release.wait(60)
        return 504, {}, b""


def answer(status: int, body: bytes | str | dict, headers: dict | None = None):
    """A ``respond`` that always gives this status, body and headers."""
    payload = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    return lambda request: (status, dict(headers or {}), payload)
