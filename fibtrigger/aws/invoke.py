"""The client: call the Fibonacci function through API Gateway or directly, get the exact value.

- ``invoke_url``: POST ``{"fib": N}`` to an API Gateway URL, SigV4-signed (service execute-api)
  with the standard boto3 credential chain, as an AWS_IAM-authorized REST API requires.
- ``invoke_function``: boto3 ``lambda.invoke``; ``AWS_ENDPOINT_URL`` /
  ``AWS_ENDPOINT_URL_LAMBDA`` point it at the local service instead of AWS.

boto3 is imported on first use, so that other CLI commands start fast.
"""

import json
import os
import re

from fibtrigger.lambda_function.contract import (
    LAMBDA_HARD_MAX_FIB,
    RANGE_MESSAGE,
    ArgumentError,
    check_fib,
    parse_fib_text,
)
from fibtrigger.lambda_function.settings import SettingError, max_fib

from ..arn import NotAnArn, parse_function
from ..errors import (
    BackendError,
    ConfigurationError,
    EndpointUnreachable,
    FunctionNotFound,
    InvalidArgument,
    InvocationDenied,
    ResultMismatch,
    argument_error,
    invalid_argument,
)

DEFAULT_FUNCTION = "fibtrigger"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 3
FALLBACK_REGION = "us-east-1"
# https://{api-id}.execute-api.{region}.amazonaws.com/{stage}/
API_GATEWAY_HOST = re.compile(r"[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
DENIED_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
}
_RANGE_PREFIX = RANGE_MESSAGE.split("{", 1)[0]
NO_CREDENTIALS = "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"


def stated_limit() -> int:
    """The limit a refusal names: the function's own with this environment
    (``FIBTRIGGER_LAMBDA_MAX_FIB``, else 312), so that the client and the function say the same."""
    try:
        return max_fib(os.environ)
    except SettingError as error:
        raise ConfigurationError(str(error)) from None


def checked(n: object) -> int:
    """``n`` if it is an integer the function could accept. Below 0, above the hard cap or not an
    integer is refused here, naming :func:`stated_limit`; above that limit but within the hard cap
    goes to the function, whose limit may be higher and whose answer then names it."""
    return _checked(lambda limit: check_fib(n, limit))


def parse_argument(text: str) -> int:
    """A command-line N, with :func:`checked`'s rules and messages."""
    return _checked(lambda limit: parse_fib_text(text, limit))


def _checked(check) -> int:
    limit = stated_limit()
    try:
        return check(limit)
    except ArgumentError as error:
        if error.out_of_range:
            try:
                return check(LAMBDA_HARD_MAX_FIB)
            except ArgumentError:
                pass
        raise argument_error(error) from None


def invoke_url(url: str, n: int, session=None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """POST ``{"fib": n}`` to ``url`` signed with SigV4 (execute-api); return the exact value."""
    n = checked(n)
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed [IPv6 host, a port that is not a number or out of range
        usable = False
    if not usable:
        raise ConfigurationError(
            "--url must be an http(s) URL such as https://abc123.execute-api.us-east-1.amazonaws.com/test/,"
            f" got {url!r}"
        )
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import BotoCoreError
    from botocore.httpsession import URLLib3Session
    from botocore.utils import get_environ_proxies

    session = session or boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigurationError(
            "no AWS credentials to sign the request with:"
            " set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    match = API_GATEWAY_HOST.fullmatch(parts.hostname or "")
    region = match.group(1) if match else (session.region_name or FALLBACK_REGION)
    request = AWSRequest(
        method="POST",
        url=url,
        data=json.dumps({"fib": n}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    http = URLLib3Session(timeout=timeout, proxies=get_environ_proxies(url))
    try:
        response = http.send(request.prepare())
    except BotoCoreError as error:
        raise EndpointUnreachable(f"cannot reach {url}: {error}") from None
    finally:
        http.close()
    return _answer_from_http(url, response.status_code, response.content, n)


def invoke_function(
    name_or_arn: str,
    n: int,
    session=None,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> int:
    """Invoke the function (name, partial ARN or ARN) with ``{"fib": n}``; return the exact value."""
    n = checked(n)
    region = function_region(name_or_arn)
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        ReadTimeoutError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    from .clients import session_for

    session = session or session_for()
    region = region or session.region_name
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=min(timeout, 10.0),
        read_timeout=timeout,
    )
    try:
        client = session.client("lambda", region_name=region, config=config)
        response = client.invoke(FunctionName=name_or_arn, Payload=json.dumps({"fib": n}).encode())
        payload = response["Payload"].read()
    except NoRegionError:
        raise ConfigurationError(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or pass the function's full ARN"
        ) from None
    except NoCredentialsError:
        raise ConfigurationError(NO_CREDENTIALS) from None
    except ParamValidationError as error:
        raise ConfigurationError(f"invalid function name {name_or_arn!r}: {_one_line(error)}") from None
    except (BotoConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
        raise EndpointUnreachable(f"cannot reach the Lambda endpoint: {_one_line(error)}") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or code
        if code == "ResourceNotFoundException":
            raise FunctionNotFound(f"function {name_or_arn} not found: {message}") from None
        if code in DENIED_CODES:
            raise InvocationDenied(f"invoking {name_or_arn} was refused ({code}): {message}") from None
        raise BackendError(f"invoking {name_or_arn} failed ({code}): {message}") from None
    except BotoCoreError as error:
        raise BackendError(f"invoking {name_or_arn} failed: {_one_line(error)}") from None
    if response.get("FunctionError"):
        raise _function_error(name_or_arn, payload)
    return parse_answer(payload, n)


def parse_answer(payload: bytes, n: int) -> int:
    """The exact value from the function's answer ``{"fib": n, "value": "digits"[, "number"]}``."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise BackendError(f"the function answered with something other than JSON: {_preview(payload)}") from None
    value = answer.get("value") if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise BackendError(f'the function\'s answer has no decimal "value": {_preview(payload)}')
    if answer.get("fib") != n:
        raise ResultMismatch(f"asked for fib {n}, the function answered for {answer.get('fib')!r}")
    exact = int(value)
    if "number" in answer and answer["number"] != exact:
        raise ResultMismatch(f"the function's number {answer['number']!r} differs from its value {value}")
    return exact


def _answer_from_http(url: str, status: int, body: bytes, n: int) -> int:
    if status == 200:
        return parse_answer(body, n)
    message = _message(body)
    if status == 400:
        raise invalid_argument(message, out_of_range=message.startswith(_RANGE_PREFIX))
    if status in (401, 403):
        raise InvocationDenied(f"{url} refused the request ({status}): {message}")
    raise BackendError(f"POST {url} answered {status}: {message}")


def _function_error(name: str, payload: bytes):
    try:
        error = json.loads(payload)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        return BackendError(f"function {name} failed: {_preview(payload)}")
    error_type = str(error.get("errorType", "Error"))
    message = _one_line(error.get("errorMessage", ""))
    if error_type == "ArgumentError":
        return invalid_argument(message, out_of_range=message.startswith(_RANGE_PREFIX))
    return BackendError(f"function {name} failed: {error_type}: {message}")


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return _preview(body)
    if isinstance(data, dict):
        for key in ("message", "Message", "errorMessage"):
            if isinstance(data.get(key), str):
                return _one_line(data[key])
    return _preview(body)


def function_region(name_or_arn: str) -> str | None:
    """The region a function ARN names (None for a name or partial ARN); a malformed one is refused
    here, before any network call."""
    try:
        return parse_function(name_or_arn).region
    except NotAnArn:
        raise InvalidArgument(
            f"--function {name_or_arn[:140]!r} is not a function name, partial ARN "
            "(ACCOUNT:function:NAME) or ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
        ) from None


def _preview(data: bytes) -> str:
    return _one_line(data[:200].decode("utf-8", "replace")) or "(empty)"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())
