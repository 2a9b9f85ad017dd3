"""The three event shapes the function accepts, and the responses each one expects.

- direct: the invocation payload itself, ``{"fib": 7}`` (boto3 ``invoke``, Aurora ``lambda_sync``);
- REST API proxy (v1): ``httpMethod``, ``path``, ``body`` (a string, maybe base64);
- HTTP API (v2): ``version: "2.0"``, ``requestContext.http.method``, ``rawPath``.

``json`` and ``binascii`` are imported where they are needed, to keep the cold import small.
"""

from .contract import (
    BATCH_KEY,
    BATCH_MESSAGE,
    MAX_BATCH_ITEMS,
    MISSING_MESSAGE,
    RANGE_MESSAGE,
    TYPE_MESSAGE,
    ArgumentError,
    check_fib,
)

DIRECT = "direct"
BATCH = "batch"
REST_V1 = "apigw-v1"
HTTP_V2 = "apigw-v2"

# The largest integer a JavaScript number (and so a JSON parser built like one) holds exactly.
MAX_SAFE_INTEGER = 2**53 - 1
# Beyond this (over 1000 digits) an argument is out of range whatever the limit, and too long to print.
HUGE_BITS = 4096

JSON_CONTENT = {"Content-Type": "application/json"}


class HttpError(Exception):
    """A client mistake over HTTP: becomes a 4xx response, never a function error."""

    def __init__(self, status: int, message: str, error_type: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.headers = headers or {}


def kind(event: object) -> str:
    """Which of the three shapes ``event`` is."""
    if isinstance(event, dict):
        if "httpMethod" in event:
            return REST_V1
        context = event.get("requestContext")
        if event.get("version") == "2.0" or (isinstance(context, dict) and isinstance(context.get("http"), dict)):
            return HTTP_V2
        if BATCH_KEY in event:
            return BATCH
    return DIRECT


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def fib_argument(payload: object, limit: int) -> int:
    """The checked ``fib`` of a decoded JSON payload, or ArgumentError naming the problem."""
    if not isinstance(payload, dict):
        raise ArgumentError(f'expected a JSON object like {{"fib": 7}}, got a JSON {json_type(payload)}')
    if "fib" not in payload:
        raise ArgumentError(MISSING_MESSAGE.format(limit=limit))
    return fib_value(payload["fib"], limit)


def fib_value(value: object, limit: int) -> int:
    """One checked argument (``fib``, or an item of ``fibs``), or ArgumentError."""
    if isinstance(value, (dict, list)):
        # Named by type: rendering a nested structure could be long, or recurse too deeply.
        raise ArgumentError(TYPE_MESSAGE.format(limit=limit, got=f"a JSON {json_type(value)}"))
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > HUGE_BITS:
        # str() of an int this long raises ValueError (Python's 4300-digit conversion limit).
        got = f"a {'negative ' if value < 0 else ''}number of over 1000 digits"
        raise ArgumentError(RANGE_MESSAGE.format(limit=limit, got=got), out_of_range=value > 0)
    return check_fib(value, limit)


def batch_items(event: dict) -> list:
    """The raw items of a batch event ``{"fibs": [...]}``; each is checked on its own."""
    if "fib" in event:
        raise ArgumentError('send either {"fib": N} or {"fibs": [N, ...]}, not both')
    items = event[BATCH_KEY]
    if not isinstance(items, list) or len(items) > MAX_BATCH_ITEMS:
        got = f"{len(items)} items" if isinstance(items, list) else f"a JSON {json_type(items)}"
        raise ArgumentError(BATCH_MESSAGE.format(most=MAX_BATCH_ITEMS, got=got))
    return items


def item_error(error: Exception) -> dict:
    """A batch item's own failure, in the shape of Lambda's error object."""
    return {"errorType": type(error).__name__, "errorMessage": str(error)}


def http_fib(event: dict, shape: str, limit: int) -> int:
    """The checked ``fib`` of a proxy event, or HttpError (404, 405 or 400)."""
    method, path = _method_and_path(event, shape)
    if path.rstrip("/") != "":
        raise HttpError(404, f'no route for {path[:80]!r}: POST {{"fib": N}} to /', "NotFound")
    if method != "POST":
        raise HttpError(405, f"method {method[:20]!r} is not allowed: use POST", "MethodNotAllowed", {"Allow": "POST"})
    _check_content_type(event)
    payload = _decoded_body(event)
    try:
        return fib_argument(payload, limit)
    except ArgumentError as error:
        raise HttpError(400, str(error), "ArgumentError") from None


def result(n: int, value: int) -> dict:
    """The answer: ``value`` is always the exact decimal digits as a string; ``number`` only when
    a JavaScript client (or a double) can hold it exactly."""
    answer = {"fib": n, "value": str(value)}
    if value <= MAX_SAFE_INTEGER:
        answer["number"] = value
    return answer


def http_response(status: int, body: dict, headers: dict | None = None) -> dict:
    """A proxy-integration response; API Gateway answers 502 to anything else."""
    import json

    return {
        "statusCode": status,
        "headers": {**JSON_CONTENT, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def http_error_response(error: HttpError) -> dict:
    return http_response(error.status, {"message": error.message, "errorType": error.error_type}, error.headers)


def _method_and_path(event: dict, shape: str) -> tuple[str, str]:
    if shape == REST_V1:
        # v1 ``path`` is the resource path, without the stage.
        return _text(event.get("httpMethod")).upper(), _text(event.get("path")) or "/"
    context = event.get("requestContext")
    context = context if isinstance(context, dict) else {}
    http = context.get("http")
    http = http if isinstance(http, dict) else {}
    path = _text(event.get("rawPath")) or _text(http.get("path")) or "/"
    # v2 ``rawPath`` includes a named stage; $default has none.
    stage = _text(context.get("stage"))
    if stage and stage != "$default":
        prefix = "/" + stage
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :] or "/"
    return _text(http.get("method")).upper(), path


FORM_URLENCODED = "application/x-www-form-urlencoded"


def _check_content_type(event: dict) -> None:
    """A declared Content-Type must be JSON; none at all is read as JSON, as API Gateway does."""
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return
    declared = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == "content-type"), None)
    if not isinstance(declared, str) or not declared.strip():
        return
    media_type = declared.split(";", 1)[0].strip().lower()
    # curl -d sends its (JSON) body as form-urlencoded unless told otherwise: read it as JSON too.
    if media_type not in ("application/json", FORM_URLENCODED) and not media_type.endswith("+json"):
        raise HttpError(
            415,
            f"Content-Type {media_type[:60]!r} is not supported: send application/json",
            "UnsupportedMediaType",
        )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _decoded_body(event: dict) -> object:
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise HttpError(400, f"the request body must be a string, got a JSON {json_type(body)}", "BadRequest")
    raw: str | bytes = body
    if event.get("isBase64Encoded"):
        from binascii import Error as Base64Error
        from binascii import a2b_base64

        try:
            raw = a2b_base64(body, strict_mode=True)
        except (Base64Error, ValueError):
            raise HttpError(400, "the request body is marked base64 but is not valid base64", "BadRequest") from None
    if not raw.strip():
        raise HttpError(400, 'the request body is empty: send {"fib": N}', "BadRequest")
    import json

    try:
        return json.loads(raw)
    except RecursionError:
        raise HttpError(400, "the request body is not valid JSON: nested too deeply", "BadRequest") from None
    except ValueError as error:  # JSONDecodeError, bad UTF-8, an integer of more than 4300 digits
        message = " ".join(str(error).split())[:120]
        raise HttpError(400, f"the request body is not valid JSON: {message}", "BadRequest") from None
