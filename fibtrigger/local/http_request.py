"""A strict HTTP/1.0 and HTTP/1.1 request-line and header parser for the local Lambda service.

``http.server`` parses headers through ``email.parser``, a MIME parser: on the service's hot
path (one small POST per database row) that was about 40% of the service's CPU. This parser
reads the same header block with one regular expression per line and refuses what RFC 9112
says a server must or may refuse (obs-fold, whitespace before the colon, control characters),
with the limits ``http.client`` applies: 65,536 bytes per line and 100 header fields, and at most
131,072 bytes of header fields in all. It also reads bodies, Content-Length or chunked, never
past a limit: nothing a client sends is buffered without a bound.
"""

import re
from collections.abc import Iterator

MAX_LINE_BYTES = 65536  # http.client._MAXLINE: a longer header line is a 431
MAX_HEADERS = 100  # the 101st header field is a 431 (http.client counted the blank line: 99)
MAX_HEADER_BYTES = 2 * MAX_LINE_BYTES  # all header fields together (or all trailer fields)
MAX_CHUNK_LINE_BYTES = 4096  # a chunk-size line with its extensions

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# method SP request-target SP HTTP-version, a single digit each side of the dot (RFC 9112 2.3).
REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e\x80-\xff]+) (HTTP/([0-9])\.([0-9]))\r?\n")
TOKEN = re.compile(_TOKEN)
# A field value holds no control character but HTAB (RFC 9110 5.5: CR, LF and NUL are fatal).
VALUE_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
# chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1): hex digits only, no sign, no 0x, no underscore.
CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


class BadRequest(Exception):
    """A request the service answers with ``status`` and then closes the connection on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IncompleteRequest(Exception):
    """The peer closed the connection in the middle of a request head: nobody to answer."""


class RequestLine:
    """The parsed request line; ``version`` is the text sent (``HTTP/1.1``), ``keep_alive`` the
    version's default (1.1 and later keep the connection open, 1.0 closes it)."""

    __slots__ = ("method", "target", "version", "keep_alive")

    def __init__(self, method: str, target: str, version: str, keep_alive: bool) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.keep_alive = keep_alive


def parse_request_line(raw: bytes) -> RequestLine:
    """The request line as read (terminator included); BadRequest (400, 505) if malformed."""
    match = REQUEST_LINE.fullmatch(raw)
    if match is None:
        shown = raw.rstrip(b"\r\n")[:200].decode("latin-1")
        shown_version = shown.rpartition(" ")[2]
        if (
            shown.count(" ") == 2
            and re.fullmatch(r"HTTP/[0-9]+\.[0-9]+", shown_version)
            and not shown_version.startswith("HTTP/1.")
        ):
            raise BadRequest(505, f"Invalid HTTP version ({shown_version})")
        raise BadRequest(400, f"Bad request syntax ({shown!r})")
    method, target, version, major, minor = match.groups()
    if major != b"1":
        raise BadRequest(505, f"Invalid HTTP version ({version.decode('ascii')})")
    return RequestLine(method.decode("ascii"), target.decode("latin-1"), version.decode("ascii"), minor != b"0")


class RequestHeaders:
    """The request's header fields in arrival order, looked up case-insensitively.

    Offers what ``http.server``'s ``email.message.Message`` offered the service: ``get`` (the
    first value), ``get_all``, ``items``, ``keys``, ``values``, ``in``, ``len`` and ``[name]``
    (None when absent, as with Message).
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self._fields: list[tuple[str, str]] = []
        self._index: dict[str, list[str]] = {}
        for name, value in fields or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self._fields.append((name, value))
        self._index.setdefault(name.lower(), []).append(value)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        values = self._index.get(name.lower())
        return list(values) if values else default

    def tokens(self, name: str) -> list[str]:
        """Every comma-separated element of every ``name`` field, lower-cased (e.g. Connection)."""
        return [
            token
            for value in self._index.get(name.lower(), ())
            for token in (part.strip().lower() for part in value.split(","))
            if token
        ]

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def keys(self) -> list[str]:
        return [name for name, _ in self._fields]

    def values(self) -> list[str]:
        return [value for _, value in self._fields]

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"RequestHeaders({self._fields!r})"


def read_headers(rfile) -> RequestHeaders:
    """Header lines from ``rfile`` up to the empty line that ends them.

    BadRequest: 431 for a line over MAX_LINE_BYTES or more than MAX_HEADERS fields, 400 for a
    malformed line (obs-fold, no colon, a bad name, a control character in the value).
    IncompleteRequest: the stream ended first.
    """
    headers = RequestHeaders()
    add = headers.add
    count = total = 0
    while True:
        line = rfile.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise BadRequest(431, "Line too long: header line")
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise BadRequest(431, f"Request header fields too large: more than {MAX_HEADER_BYTES} bytes")
        if line == b"\r\n" or line == b"\n":
            return headers
        if line[-2:] == b"\r\n":
            field = line[:-2]
        elif line[-1:] == b"\n":
            field = line[:-1]
        else:
            raise IncompleteRequest()
        name, colon, value = field.partition(b":")
        if not colon or not TOKEN.fullmatch(name):
            if field[:1] in (b" ", b"\t"):
                raise BadRequest(400, "Bad header: obsolete line folding is not accepted")
            raise BadRequest(400, f"Bad header line ({field[:100].decode('latin-1')!r})")
        value = value.strip(b" \t")
        if VALUE_CONTROL.search(value):
            raise BadRequest(400, f"Bad header value: a control character in {name.decode('ascii')}")
        count += 1
        if count > MAX_HEADERS:
            raise BadRequest(431, f"Too many headers: got more than {MAX_HEADERS} headers")
        add(name.decode("ascii"), value.decode("latin-1"))


def read_body(rfile, headers: RequestHeaders, limit: int) -> bytes:
    """The request body framed by ``headers``, at most ``limit`` bytes under every framing.

    BadRequest: 400 for malformed framing (both Content-Length and Transfer-Encoding, a bad
    length or chunk line), 413 past ``limit`` (raised before the oversize part is read), 501
    for a transfer coding other than chunked. IncompleteRequest: the stream ended first.
    Either way the connection must close: the rest of the body is unread.
    """
    codings = headers.tokens("Transfer-Encoding")
    if codings:
        if "Content-Length" in headers:
            raise BadRequest(400, "Content-Length and Transfer-Encoding together")
        if codings != ["chunked"]:
            raise BadRequest(501, f"Transfer-Encoding {', '.join(codings)[:60]!r} is not implemented: use chunked")
        return _read_chunked(rfile, limit)
    lengths = {value.strip() for value in headers.get_all("Content-Length") or ()}
    if not lengths:
        return b""
    length = lengths.pop()
    if lengths or not CONTENT_LENGTH.fullmatch(length):
        raise BadRequest(400, "invalid Content-Length")
    if int(length) > limit:
        raise _too_large(limit)
    return _read_exactly(rfile, int(length))


def _read_chunked(rfile, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(MAX_CHUNK_LINE_BYTES + 1)
        if not line.endswith(b"\n"):
            if len(line) > MAX_CHUNK_LINE_BYTES:
                raise BadRequest(400, "invalid chunked body: chunk-size line too long")
            raise IncompleteRequest()
        match = CHUNK_LINE.fullmatch(line)
        if match is None:
            raise BadRequest(400, "invalid chunked body: bad chunk-size line")
        size = int(match.group(1), 16)
        if size == 0:
            read_headers(rfile)  # trailer fields, bounded like header fields, then dropped
            return b"".join(chunks)
        total += size
        if total > limit:
            raise _too_large(limit)
        chunks.append(_read_exactly(rfile, size))
        end = rfile.readline(3)
        if end not in (b"\r\n", b"\n"):
            if not end:
                raise IncompleteRequest()
            raise BadRequest(400, "invalid chunked body: chunk data not followed by CRLF")


def _read_exactly(rfile, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) < size:
        raise IncompleteRequest()
    return data


def _too_large(limit: int) -> BadRequest:
    return BadRequest(413, f"Request must be smaller than {limit} bytes")
