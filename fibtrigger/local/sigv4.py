"""Verify AWS Signature Version 4 on an incoming request, as API Gateway does under AWS_IAM.

The request is signed again with botocore's SigV4Auth from the key pair and what the client
declared (scope, timestamp, signed headers), and the two signatures are compared in constant
time. This module checks the envelope around that: the scope, the key, the clock, the signed
headers. Only the Authorization-header form is accepted. Messages are API Gateway's own, so
a client sees the same 403 bodies locally as on AWS.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from ..errors import ConfigurationError

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# API Gateway refuses a signature more than 5 minutes from its own clock, either way.
MAX_CLOCK_SKEW = timedelta(minutes=5)

MISSING_TOKEN = "Missing Authentication Token"
BAD_KEY = "The security token included in the request is invalid."
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class SignatureRejected(Exception):
    """The request is not signed, or not signed by the configured key pair: HTTP 403."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True)
class KeyPair:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"KeyPair(access_key={self.access_key!r})"


@dataclass(frozen=True)
class Signer:
    """Who signed a verified request, and for which region."""

    access_key: str
    region: str
    signed_headers: tuple[str, ...]


def key_pair(credentials: object = None) -> KeyPair:
    """A KeyPair from a KeyPair, an (access_key, secret_key[, token]) tuple, a botocore
    Credentials object, or (None) the standard AWS credential chain of this process."""
    if isinstance(credentials, KeyPair):
        return credentials
    if isinstance(credentials, (tuple, list)):
        if len(credentials) not in (2, 3) or not all(isinstance(part, str) for part in credentials):
            raise ConfigurationError("credentials must be (access_key, secret_key[, session_token])")
        return KeyPair(*credentials)
    if credentials is None:
        import botocore.session

        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise ConfigurationError(
                "--require-iam needs a key pair to check signatures against: set AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the service"
            )
    frozen: Any = getattr(credentials, "get_frozen_credentials", lambda: credentials)()
    try:
        return KeyPair(frozen.access_key, frozen.secret_key, getattr(frozen, "token", None))
    except AttributeError:
        raise ConfigurationError("credentials need access_key and secret_key") from None


def verify(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, Sequence[str]],
    body: bytes,
    key: KeyPair,
    service: str = "execute-api",
    now: datetime | None = None,
) -> Signer:
    """Check a request's Authorization header against ``key``; raise SignatureRejected.

    ``path`` and ``query`` are as received (still percent-encoded); ``headers`` maps lower-case
    names to every value received. The region is whatever the client put in its scope.
    """
    authorization = _one(headers, "authorization")
    if not authorization:
        raise SignatureRejected(MISSING_TOKEN, "MissingAuthenticationTokenException")
    credential, signed_headers, signature = _parse_authorization(authorization)

    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != TERMINATOR:
        raise SignatureRejected(
            f"Credential should be scoped to a valid region, and to a service and terminator: '{credential[:120]}'",
            "IncompleteSignatureException",
        )
    access_key, scope_date, region, scope_service, _ = scope
    if scope_service != service:
        raise SignatureRejected(
            f"Credential should be scoped to correct service: '{service}'.", "InvalidSignatureException"
        )
    if not hmac.compare_digest(access_key.encode(), key.access_key.encode()):
        raise SignatureRejected(BAD_KEY, "UnrecognizedClientException")
    if (_one(headers, "x-amz-security-token") or None) != key.token:
        raise SignatureRejected(BAD_KEY, "UnrecognizedClientException")

    amz_date = _one(headers, "x-amz-date")
    if not amz_date:
        raise SignatureRejected(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            "IncompleteSignatureException",
        )
    signed_at = _parse_timestamp(amz_date)
    if scope_date != amz_date[:8]:
        raise SignatureRejected(
            f"Credential should be scoped to a valid date: '{scope_date}' is not the date of '{amz_date}'.",
            "InvalidSignatureException",
        )
    _check_clock(amz_date, signed_at, now or datetime.now(UTC))

    if "host" not in signed_headers:
        raise SignatureRejected("'Host' must be a signed header.", "InvalidSignatureException")
    missing = [name for name in signed_headers if name not in headers]
    if missing:
        raise SignatureRejected(f"Signed header '{missing[0]}' is not in the request.", "InvalidSignatureException")

    body_hash = hashlib.sha256(body).hexdigest()
    declared = _one(headers, "x-amz-content-sha256")
    if declared is not None and declared != body_hash:
        # Otherwise a signed hash header would let anyone swap the body.
        raise SignatureRejected("The x-amz-content-sha256 header does not match the body.", "InvalidSignatureException")

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials(key.access_key, key.secret_key, key.token), service, region)
    # Exactly the headers the client signed, each name's values joined as the specification says.
    signed = {name: _canonical_value(headers[name]) for name in signed_headers}
    host = signed["host"]
    for canonical_query in _canonical_query_forms(query):
        request = AWSRequest(
            method=method.upper(),
            url=f"http://{host}{path}" + (f"?{canonical_query}" if canonical_query else ""),
            headers=signed,
            data=body,
        )
        request.context["timestamp"] = amz_date  # sign as of the client's time, not now
        canonical_request = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical_request), request)
        if hmac.compare_digest(expected, signature):
            return Signer(access_key=access_key, region=region, signed_headers=signed_headers)
    raise SignatureRejected(BAD_SIGNATURE, "InvalidSignatureException")


def _canonical_query_forms(query: str) -> list[str]:
    """The query as the specification encodes it (each name and value URI-encoded), and as sent
    when that differs: botocore signs a URL's query as sent; other SDKs encode it first."""
    pairs = [pair.partition("=") for pair in query.split("&") if pair]
    raw = "&".join(f"{name}={value}" for name, value in sorted((name, value) for name, _, value in pairs))
    encoded = "&".join(
        f"{name}={value}"
        for name, value in sorted(
            (quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")) for name, _, value in pairs
        )
    )
    return [encoded] if raw == encoded else [encoded, raw]


def _parse_authorization(authorization: str) -> tuple[str, tuple[str, ...], str]:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRejected(
            f"Authorization header uses an unsupported algorithm: use {ALGORITHM}", "IncompleteSignatureException"
        )
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    for required in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(required):
            raise SignatureRejected(
                f"Authorization header requires '{required}' parameter.", "IncompleteSignatureException"
            )
    signed_headers = tuple(fields["SignedHeaders"].split(";"))
    return fields["Credential"], signed_headers, fields["Signature"]


def _parse_timestamp(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected(
            f"X-Amz-Date must look like 20240101T000000Z, got '{amz_date[:40]}'", "IncompleteSignatureException"
        ) from None


def _check_clock(amz_date: str, signed_at: datetime, now: datetime) -> None:
    stamp = now.strftime(TIMESTAMP_FORMAT)
    if signed_at < now - MAX_CLOCK_SKEW:
        earliest = (now - MAX_CLOCK_SKEW).strftime(TIMESTAMP_FORMAT)
        raise SignatureRejected(
            f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)",
            "InvalidSignatureException",
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        latest = (now + MAX_CLOCK_SKEW).strftime(TIMESTAMP_FORMAT)
        raise SignatureRejected(
            f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)",
            "InvalidSignatureException",
        )


def _canonical_value(values: Sequence[str]) -> str:
    return ",".join(" ".join(value.split()) for value in values)


def _one(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[-1] if values else None
