"""The local Lambda service's own HTTP/1.x request parser, driven over raw sockets.

Every request here is bytes on a real connection to a running service, so each test checks
what a client sees: the status, the JSON message, whether the connection stays open, and
that a refused request never reaches the function.
"""

import io
import json
import socket

import pytest

from fibonacci_numbers import fibonacci
from fibtrigger.local.http_request import (
    MAX_CHUNK_LINE_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_LINE_BYTES,
    BadRequest,
    IncompleteRequest,
    RequestHeaders,
    parse_request_line,
    read_body,
    read_headers,
)
from fibtrigger.local.service import LocalLambdaService

INVOKE = "/2015-03-31/functions/fibtrigger/invocations"
# What the lambda_sync UDF (libcurl) sends for one row.
UDF_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afibtrigger/invocations"


@pytest.fixture(scope="module")
def service():
    with LocalLambdaService(port=0, idle_timeout=5) as running:
        yield running


class Peer:
    """One raw client connection that reads whole responses (Content-Length framed)."""

    def __init__(self, service) -> None:
        self.sock = socket.create_connection(("127.0.0.1", service.port), timeout=5)
        self.buffer = b""

    def send(self, data: bytes) -> "Peer":
        self.sock.sendall(data)
        return self

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed before a response; got {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            assert self._fill(), "connection closed inside a response body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status), headers, body

    def closed(self) -> bool:
        """True when the server has closed its side (EOF before anything else arrives)."""
        try:
            return self.buffer == b"" and not self._fill()
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer(service):
    opened = Peer(service)
    yield opened
    opened.close()


def post(fib: int, *, version: str = "HTTP/1.1", path: str = UDF_PATH, extra: str = "") -> bytes:
    body = json.dumps({"fib": fib}).encode()
    head = (
        f"POST {path} {version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Amz-Invocation-Type: RequestResponse\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def assert_value(answer, fib: int) -> None:
    status, _, body = answer
    assert status == 200, body
    answer = json.loads(body)
    assert (answer["fib"], answer["value"]) == (fib, str(fibonacci(fib)))


def assert_refused(peer, service, status: int, message_part: str) -> None:
    """Answered with ``status`` and a JSON message, then closed; the function did not run."""
    before = service.metrics()["invocations"]
    got, headers, body = peer.response()
    assert got == status, body
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert message_part in json.loads(body)["message"]
    assert peer.closed()
    assert service.metrics()["invocations"] == before


# ---- what the UDF sends, kept alive --------------------------------------------------


def test_the_udf_request_on_one_kept_alive_connection(service, peer):
    assert_value(peer.send(post(0)).response(), 0)
    connections = service.metrics()["connections"]  # counted by now: it answered
    for fib in (1, 92, 312):
        status, headers, body = peer.send(post(fib)).response()
        assert_value((status, headers, body), fib)
        assert "connection" not in headers
    assert service.metrics()["connections"] == connections


def test_pipelined_requests_are_answered_in_order(peer):
    peer.send(post(10) + post(20) + post(30))
    for fib in (10, 20, 30):
        assert_value(peer.response(), fib)


def test_header_names_are_case_insensitive(service, peer):
    body = b'{"fib": 7}'
    peer.send(
        f"POST {INVOKE} HTTP/1.1\r\nhost: x\r\nx-amz-invocation-type: DryRun\r\n"
        f"CONTENT-LENGTH: {len(body)}\r\n\r\n".encode() + body
    )
    status, _, _ = peer.response()
    assert status == 204  # DryRun was read from the lower-case header
    peer.send(post(11, extra="connection: CLOSE\r\n"))
    assert_value(peer.response(), 11)
    assert peer.closed()


def test_header_values_lose_surrounding_whitespace_only(peer):
    peer.send(post(12, extra="X-Amz-Log-Type: \t Tail \t\r\n"))
    status, headers, _ = peer.response()
    assert status == 200 and "x-amz-log-result" in headers


# ---- connection management -----------------------------------------------------------


def test_http_1_0_without_keep_alive_closes(peer):
    status, headers, body = peer.send(post(5, version="HTTP/1.0")).response()
    assert_value((status, headers, body), 5)
    assert headers["connection"] == "close"
    assert peer.closed()


def test_http_1_0_with_keep_alive_stays_open_and_says_so(peer):
    for fib in (6, 7):
        status, headers, body = peer.send(post(fib, version="HTTP/1.0", extra="Connection: keep-alive\r\n")).response()
        assert_value((status, headers, body), fib)
        assert headers["connection"] == "keep-alive"


@pytest.mark.parametrize("connection", ["close", "Keep-Alive, close", "TE, Close"])
def test_connection_close_in_any_token_closes(peer, connection):
    status, headers, body = peer.send(post(8, extra=f"Connection: {connection}\r\n")).response()
    assert_value((status, headers, body), 8)
    assert headers["connection"] == "close"
    assert peer.closed()


def test_expect_100_continue_is_answered_before_the_body(peer):
    body = b'{"fib": 30}'
    peer.send(
        f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    while b"\r\n\r\n" not in peer.buffer:
        assert peer._fill()
    interim, _, peer.buffer = peer.buffer.partition(b"\r\n\r\n")
    assert interim == b"HTTP/1.1 100 Continue"
    peer.send(body)
    assert_value(peer.response(), 30)
    assert_value(peer.send(post(31)).response(), 31)  # still open


def test_expect_100_continue_is_not_sent_to_an_http_1_0_client(peer):
    peer.send(post(9, version="HTTP/1.0", extra="Expect: 100-continue\r\n"))
    status, _, body = peer.response()
    assert status == 200, body  # no interim "100 Continue" came first


def test_a_peer_hanging_up_mid_headers_gets_no_answer(service, peer):
    before = service.metrics()
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nContent-Le".encode())
    peer.sock.shutdown(socket.SHUT_WR)
    assert peer.closed()
    after = service.metrics()
    assert after["requests"] == before["requests"] and after["invocations"] == before["invocations"]


# ---- refused requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f"POST  {UDF_PATH} HTTP/1.1",  # two spaces
        f"POST {UDF_PATH}  HTTP/1.1",
        f"POST\t{UDF_PATH} HTTP/1.1",
        f"POST {UDF_PATH}",  # no version (HTTP/0.9 style)
        f"POST {UDF_PATH} HTTP/1.1 extra",
        f"POST {UDF_PATH} HTTP/1.x",
        f"POST {UDF_PATH} HTTP/1.10",
        f"POST {UDF_PATH} http/1.1",
        f"PO(ST {UDF_PATH} HTTP/1.1",
        "POST /2015-03-31/functions/fib\x01trigger/invocations HTTP/1.1",
    ],
)
def test_malformed_request_lines_are_400(service, peer, line):
    peer.send(line.encode("latin-1") + b"\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"fib\":92}")
    assert_refused(peer, service, 400, "Bad request syntax")


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"])
def test_other_http_versions_are_505(service, peer, version):
    peer.send(f"POST {UDF_PATH} {version}\r\nHost: x\r\n\r\n".encode())
    assert_refused(peer, service, 505, f"Invalid HTTP version ({version})")


def test_an_oversized_header_line_is_431(service, peer):
    value = "a" * (MAX_LINE_BYTES - len("X-Pad: \r\n") + 1)
    peer.send(post(1, extra=f"X-Pad: {value}\r\n"))
    assert_refused(peer, service, 431, "Line too long")


def test_a_header_line_at_the_limit_is_accepted(peer):
    value = "a" * (MAX_LINE_BYTES - len("X-Pad: \r\n"))
    assert_value(peer.send(post(2, extra=f"X-Pad: {value}\r\n")).response(), 2)


def test_too_many_headers_is_431(service, peer):
    # post() sends 4 fields of its own.
    extra = "".join(f"X-Field-{i}: {i}\r\n" for i in range(MAX_HEADERS - 4 + 1))
    peer.send(post(3, extra=extra))
    assert_refused(peer, service, 431, f"got more than {MAX_HEADERS} headers")


def test_the_most_headers_allowed_is_accepted(peer):
    extra = "".join(f"X-Field-{i}: {i}\r\n" for i in range(MAX_HEADERS - 4))
    assert_value(peer.send(post(4, extra=extra)).response(), 4)


def test_obsolete_line_folding_is_400(service, peer):
    peer.send(post(13, extra="X-Amz-Log-Type: None\r\n Tail\r\n"))
    assert_refused(peer, service, 400, "obsolete line folding")


def test_folding_of_the_first_header_is_400(service, peer):
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\n\tHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    assert_refused(peer, service, 400, "obsolete line folding")


@pytest.mark.parametrize(
    "line",
    [
        "Content-Length : 10",  # whitespace before the colon (RFC 9112 5.1: must be 400)
        "No colon here",
        ": no name",
        "X(bad): 1",
        "X-Amz-Log-Type: Tail\rX-Injected: 1",  # a bare CR inside a line
        "X-Nul: a\x00b",
        "X-Ctl: a\x1bb",
    ],
)
def test_malformed_header_lines_are_400(service, peer, line):
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\n{line}\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
    assert_refused(peer, service, 400, "Bad header")


def test_differing_duplicate_content_lengths_are_400(service, peer):
    body = b'{"fib": 14}'
    peer.send(
        f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        f"Content-Length: {len(body) + 1}\r\n\r\n".encode() + body + b" "
    )
    assert_refused(peer, service, 400, "invalid Content-Length")


@pytest.mark.parametrize("length", ["11, 11", "+11", "-1", "0x0b", "eleven"])
def test_malformed_content_lengths_are_400(service, peer, length):
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode() + b'{"fib": 14}')
    assert_refused(peer, service, 400, "invalid Content-Length")


def test_a_content_length_in_other_digits_is_400(service, peer):
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\u00b2\r\n\r\n".encode("latin-1") + b"{}")
    assert_refused(peer, service, 400, "invalid Content-Length")


def chunked_head(path: str = UDF_PATH, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Transfer-Encoding: chunked\r\n\r\n".encode()


def test_a_chunked_body_with_extensions_and_trailers_is_read(peer):
    body = b'{"fib": 17}'
    peer.send(chunked_head() + b"4;name=value\r\n" + body[:4] + b"\r\n" + b"%x\r\n" % (len(body) - 4)
              + body[4:] + b"\r\n0\r\nX-Trailer: yes\r\n\r\n")
    assert_value(peer.response(), 17)
    assert_value(peer.send(post(18)).response(), 18)  # framing intact: the connection goes on


@pytest.mark.parametrize(
    "chunk_line", [b"-1", b"-0", b"+5", b"0x5", b"5_0", b" 5", b"5 5", b"g", b"", b"1" * 17, b"5;" + b"e" * 5000],
    ids=lambda line: repr(line[:20]),
)
def test_a_chunk_size_that_is_not_plain_hex_is_400(service, peer, chunk_line):
    peer.send(chunked_head() + chunk_line + b"\r\n" + b'{"fib": 1}\r\n0\r\n\r\n')
    assert_refused(peer, service, 400, "invalid chunked body")


def test_chunk_data_not_followed_by_crlf_is_400(service, peer):
    peer.send(chunked_head() + b'2\r\n{}xx\r\n0\r\n\r\n')
    assert_refused(peer, service, 400, "not followed by CRLF")


def test_chunks_over_the_limit_are_413_before_they_are_read(service, peer):
    limit = service.max_request_bytes
    peer.send(chunked_head() + b"%x\r\n" % (limit // 2) + b"x" * (limit // 2) + b"\r\n" + b"%x\r\n" % (limit // 2 + 1))
    assert_refused(peer, service, 413, f"smaller than {limit} bytes")


def test_endless_trailers_are_431(service, peer):
    trailers = b"".join(b"X-T-%d: %s\r\n" % (i, b"t" * 1000) for i in range(MAX_HEADERS + 1))
    peer.send(chunked_head() + b"0\r\n" + trailers)
    assert_refused(peer, service, 431, "Too many headers")


@pytest.mark.parametrize("coding", ["gzip, chunked", "identity", "chunked, chunked", "gzip"])
def test_transfer_codings_other_than_chunked_are_501(service, peer, coding):
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}\r\n\r\n0\r\n\r\n".encode())
    assert_refused(peer, service, 501, "is not implemented: use chunked")


def test_content_length_with_transfer_encoding_is_400(service, peer):
    peer.send(chunked_head(extra="Content-Length: 3\r\n") + b"0\r\n\r\n")
    assert_refused(peer, service, 400, "Content-Length and Transfer-Encoding together")


def test_header_fields_over_the_total_limit_are_431(service, peer):
    field = "X-Pad-{}: " + "a" * (MAX_LINE_BYTES // 2) + "\r\n"
    peer.send(f"POST {UDF_PATH} HTTP/1.1\r\n".encode() + "".join(field.format(i) for i in range(5)).encode())
    assert_refused(peer, service, 431, f"more than {MAX_HEADER_BYTES} bytes")


def test_read_body_stops_at_the_chunk_line_limit():
    """A chunk-size line that never ends: at most MAX_CHUNK_LINE_BYTES + 1 bytes are taken from the stream."""
    stream = io.BufferedReader(io.BytesIO(b"1" * (10 * MAX_CHUNK_LINE_BYTES)))
    with pytest.raises(BadRequest) as refused:
        read_body(stream, RequestHeaders([("Transfer-Encoding", "chunked")]), 1 << 20)
    assert refused.value.status == 400
    assert len(stream.read()) == 10 * MAX_CHUNK_LINE_BYTES - MAX_CHUNK_LINE_BYTES - 1


def test_identical_duplicate_content_lengths_are_one_length(peer):
    body = b'{"fib": 15}'
    peer.send(
        f"POST {UDF_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    assert_value(peer.response(), 15)
    assert_value(peer.send(post(16)).response(), 16)  # framing intact: the connection goes on


def test_an_oversized_request_line_is_414(service, peer):
    peer.send(b"POST /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert_refused(peer, service, 414, "Request-URI Too Long")


def test_an_unknown_method_is_501(service, peer):
    peer.send(f"BREW {UDF_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert_refused(peer, service, 501, "Unsupported method ('BREW')")


def test_refusals_are_counted_as_client_errors(service):
    before = service.metrics()
    peer = Peer(service)
    try:
        peer.send(b"POST / HTTP/1.1\r\n Host: x\r\n\r\n")
        assert peer.response()[0] == 400
    finally:
        peer.close()
    after = service.metrics()
    assert after["client_errors"] == before["client_errors"] + 1
    assert after["requests"] == before["requests"] + 1


# ---- the parser alone --------------------------------------------------------------------


def test_parse_request_line():
    line = parse_request_line(b"POST /a?b=1 HTTP/1.1\r\n")
    assert (line.method, line.target, line.version, line.keep_alive) == ("POST", "/a?b=1", "HTTP/1.1", True)
    line = parse_request_line(b"GET http://h/x HTTP/1.0\n")
    assert (line.method, line.target, line.version, line.keep_alive) == ("GET", "http://h/x", "HTTP/1.0", False)
    assert parse_request_line(b"GET / HTTP/1.2\r\n").keep_alive  # a later 1.x is served as 1.1
    for raw, status in [(b"GET / HTTP/1.1", 400), (b"GET /\r\n", 400), (b"GET / HTTP/2.0\r\n", 505)]:
        with pytest.raises(BadRequest) as refused:
            parse_request_line(raw)
        assert refused.value.status == status


def test_request_headers_behave_like_the_message_they_replace():
    headers = read_headers(io.BytesIO(b"Host: h\r\nX-A: 1\r\nx-a: 2 \r\nEmpty:\r\n\r\nbody"))
    assert headers.items() == [("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("Empty", "")]
    assert headers.get("x-A") == "1" and headers["X-a"] == "1"
    assert headers.get_all("X-A") == ["1", "2"]
    assert headers.get("Missing") is None and headers["Missing"] is None
    assert headers.get("Missing", "d") == "d" and headers.get_all("Missing") is None
    assert headers.get("Empty") == "" and "empty" in headers and "Missing" not in headers
    assert list(headers) == headers.keys() == ["Host", "X-A", "x-a", "Empty"]
    assert headers.values() == ["h", "1", "2", ""] and len(headers) == 4
    headers.items().clear()  # a copy: the headers stay as parsed
    headers.get_all("X-A").clear()
    assert len(headers) == 4 and headers.get_all("x-a") == ["1", "2"]
    assert RequestHeaders([("Connection", "keep-alive, Upgrade"), ("connection", " CLOSE ")]).tokens(
        "CONNECTION"
    ) == ["keep-alive", "upgrade", "close"]


def test_read_headers_accepts_bare_lf_and_stops_at_the_blank_line():
    stream = io.BytesIO(b"A: 1\nB: 2\n\nrest")
    assert read_headers(stream).items() == [("A", "1"), ("B", "2")]
    assert stream.read() == b"rest"


def test_read_headers_without_the_blank_line_is_incomplete():
    for data in (b"A: 1\r\n", b"A: 1", b""):
        with pytest.raises(IncompleteRequest):
            read_headers(io.BytesIO(data))


# ---- the response path's cached parts ------------------------------------------------------


def test_the_date_header_is_the_current_http_date(peer):
    import email.utils
    import time

    _, headers, _ = peer.send(post(17)).response()
    sent = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    assert abs(sent - time.time()) < 5 and headers["date"].endswith(" GMT")


def test_one_log_stream_per_runtime_as_in_one_execution_environment():
    import re

    streams = []

    def record(event, context):
        streams.append(context.log_stream_name)
        return {}

    with LocalLambdaService(handler=record) as running:
        peer = Peer(running)
        try:
            for fib in (1, 2):
                assert peer.send(post(fib, path=INVOKE)).response()[0] == 200
        finally:
            peer.close()
    assert streams[0] == streams[1]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0])
