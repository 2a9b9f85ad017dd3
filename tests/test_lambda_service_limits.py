"""The local Lambda service stays bounded against unsigned, hostile clients: memory, threads, time.

The memory test runs `fibtrigger lambda serve --require-iam` as its own process and reads its
peak resident size (VmHWM) from /proc before and after the attack.
"""

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fibtrigger.local.service import LocalLambdaService

INVOKE = "/2015-03-31/functions/fibtrigger/invocations"
ATTACK_BYTES = 48 * 1024 * 1024
# What the service may grow by while a client pushes ATTACK_BYTES at it (the body limit is 1 MiB).
ALLOWED_GROWTH_KIB = 16 * 1024


def peak_kib(pid: int) -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


@pytest.fixture(scope="module")
def iam_service():
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDLIMITS", AWS_SECRET_ACCESS_KEY="limits-secret",
               AWS_DEFAULT_REGION="us-east-1")
    process = subprocess.Popen(
        [sys.executable, "-m", "fibtrigger", "lambda", "serve", "--require-iam", "--port", "0", "--quiet"],
        env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        first = process.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", first).group(1))
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=30)


def push(port: int, head: bytes, filler: bytes) -> bytes:
    """Send ``head``, then ``filler`` up to ATTACK_BYTES until the service hangs up; what it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        piece = filler * (1024 * 1024 // len(filler))
        try:
            for _ in range(ATTACK_BYTES // len(piece)):
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(sock)


@pytest.mark.parametrize(
    "body_start, filler",
    [(b"-1\r\n", b"x"),  # a negative chunk size
     (b"1", b"1"),  # a chunk-size line that never ends
     (b"1\r\nx", b"y"),  # chunk data whose CRLF never comes
     (b"0\r\nX-Trailer: ", b"t")],  # a trailer line that never ends
    ids=["negative size", "endless size line", "endless chunk end", "endless trailer"],
)
def test_an_unsigned_chunked_body_cannot_grow_the_service(iam_service, body_start, filler):
    pid, port = iam_service
    head = b"POST /test/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body_start
    push(port, b"POST /test/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", b" ")  # warm: one whole 403
    before = peak_kib(pid)
    answer = push(port, head, filler)
    grown = peak_kib(pid) - before
    assert grown < ALLOWED_GROWTH_KIB, f"the service grew by {grown} KiB"
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), answer[:200]


def test_connections_over_the_cap_get_503_and_threads_stay_bounded():
    with LocalLambdaService(port=0, max_connections=4, idle_timeout=30) as service:
        threads_before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", service.port), timeout=10) for _ in range(4)]
        wait_for(lambda: service.metrics()["connections"] == 4)
        refused = []
        for _ in range(200):
            extra = socket.create_connection(("127.0.0.1", service.port), timeout=10)
            refused.append(extra)
        answers = [read_all(sock) for sock in refused]
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers), {a[:40] for a in answers}
        assert service.metrics()["connections_refused"] == 200
        assert threading.active_count() <= threads_before + 4
        for sock in refused:
            sock.close()
        # A slot freed by a client that leaves serves the next one.
        idle.pop().close()
        wait_for(lambda: answer_of(service).startswith(b"HTTP/1.1 200 "))
        for sock in idle:
            sock.close()


@pytest.mark.parametrize(
    "head",
    [b"POST /test/ HTTP/1.1\r\nHost: x\r\n",  # headers that trickle in
     b"POST /test/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"],  # a body that trickles in
    ids=["head", "body"],
)
def test_a_request_that_trickles_in_is_cut_off(head):
    with LocalLambdaService(port=0, idle_timeout=60, request_timeout=0.5) as service:
        with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
            sock.sendall(head)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # one byte every 50 ms keeps any per-read timeout from firing
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable:
                    break
                sock.sendall(b"X" if head.endswith(b"\r\n\r\n") else b"X-Slow: 1\r\n"[:1])
            assert read_all(sock) == b""
        assert service.metrics()["requests_timed_out"] == 1


def read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def answer_of(service) -> bytes:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n".encode()
                     + b'{"fib": 7}')
        return read_all(sock)


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)
