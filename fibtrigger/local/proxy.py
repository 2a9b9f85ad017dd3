"""API Gateway's Lambda proxy integration (REST API, payload format 1.0), both directions:
an HTTP request becomes the event API Gateway would send, and the function's answer becomes
the HTTP response API Gateway would return (or its 502 when the answer is malformed)."""

import base64
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from .sigv4 import Signer

LOCAL_ACCOUNT_ID = "000000000000"
LOCAL_API_ID = "local"

BAD_GATEWAY = (502, [("Content-Type", "application/json")], b'{"message":"Internal server error"}')


def rest_event(
    *,
    method: str,
    stage: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    request_id: str,
    source_ip: str,
    signer: Signer | None = None,
    account_id: str = LOCAL_ACCOUNT_ID,
    protocol: str = "HTTP/1.1",
) -> dict:
    """The v1 proxy event for a request under ``/{stage}``; ``path`` is the part after the stage."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    text, is_base64 = _body_text(body)
    now = datetime.now(UTC)
    lower = {name.lower(): value for name, value in single.items()}
    resource = "/" if path == "/" else "/{proxy+}"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": None if path == "/" else {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "root" if path == "/" else "proxy",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(time.time() * 1000),
            "path": f"/{stage}{path}",
            "accountId": account_id,
            "protocol": protocol,
            "stage": stage,
            "domainPrefix": lower.get("host", "localhost").split(":")[0].split(".")[0],
            "domainName": lower.get("host", "localhost").split(":")[0],
            "requestId": request_id,
            "apiId": LOCAL_API_ID,
            "identity": _identity(signer, source_ip, lower.get("user-agent"), account_id),
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def http_response(result: object) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) for a proxy-integration answer; API Gateway's 502 if malformed."""
    if not isinstance(result, dict):
        return BAD_GATEWAY
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return BAD_GATEWAY
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        return BAD_GATEWAY
    for name, value in single.items():
        if name not in multi:
            headers.append((str(name), str(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            return BAD_GATEWAY
        headers.extend((str(name), str(value)) for value in values)
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        return BAD_GATEWAY
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return BAD_GATEWAY
    else:
        data = body.encode("utf-8")
    return status, headers, data


def _body_text(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _identity(signer: Signer | None, source_ip: str, user_agent: str | None, account_id: str) -> dict:
    identity = {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": user_agent,
        "user": None,
    }
    if signer is not None:
        # Locally the key pair has no IAM user behind it; name a stand-in in the local account.
        identity.update(
            accountId=account_id,
            caller=signer.access_key,
            accessKey=signer.access_key,
            userArn=f"arn:aws:iam::{account_id}:user/fibtrigger-local",
            user=signer.access_key,
        )
    return identity
