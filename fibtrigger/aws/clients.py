"""The one owner of boto3 clients: error translation and retries with an injectable sleep.

In the spirit of aws/chalice's ``TypedAWSClient``: it takes a ``boto3.Session`` and a
``sleep`` function, so tests retry instantly; the deploy code makes every AWS call through it.
Clients are created from the session without ``endpoint_url``, so botocore applies
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` itself (the same command then runs
against a local emulator).
"""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from ..arn import NotAnArn, parse_arn
from ..errors import (
    AwsAccessDenied,
    AwsCredentialsMissing,
    AwsEndpointFault,
    AwsError,
    AwsOperationUnsupported,
    ConfigurationError,
)
from .region import environment_region

Sleep = Callable[[float], None]
RetryIf = Callable[[ClientError], bool]

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException",
    "PriorRequestNotComplete", "SlowDown",
})
ACCESS_DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "UnauthorizedException",
})
BAD_CREDENTIALS_CODES = frozenset({
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
    "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
})
UNSUPPORTED_CODES = frozenset({"NotImplemented", "NotImplementedException", "NotImplementedError"})
# The error codes that mean "not there", per service (call(..., missing=...) returns None).
IAM_MISSING = ("NoSuchEntity",)
LAMBDA_MISSING = ("ResourceNotFoundException",)
API_MISSING = ("NotFoundException",)
LOGS_MISSING = ("ResourceNotFoundException",)
CLOUDWATCH_MISSING = ("ResourceNotFound", "ResourceNotFoundException")
RDS_CLUSTER_MISSING = ("DBClusterNotFoundFault",)
RDS_GROUP_MISSING = ("DBParameterGroupNotFound", "DBParameterGroupNotFoundFault")
RDS_ROLE_MISSING = ("DBClusterRoleNotFound", "DBClusterRoleNotFoundFault")
# botocore's client name -> the IAM action prefix, so "access denied" names the real action.
ACTION_PREFIX = {"apigateway": "apigateway", "logs": "logs"}

NO_REGION_MESSAGE = (
    "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), a region in your profile, or pass --region"
)
NO_CREDENTIALS_MESSAGE = (
    "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "run `aws configure` or `aws sso login`, or use an instance role"
)


@dataclass(frozen=True)
class Backoff:
    """Exponential delays: base, 2*base, 4*base ... capped; ``attempts`` calls in all."""

    base: float = 1.0
    cap: float = 16.0
    attempts: int = 8

    def delay(self, retry: int) -> float:
        return min(self.cap, self.base * 2**retry)


# Seven waits, about a minute in all: new IAM roles usually propagate within ten seconds.
DEFAULT_BACKOFF = Backoff()
# Lambda state changes take seconds; poll often, give up after about five minutes.
FUNCTION_POLL = Backoff(base=1.0, cap=5.0, attempts=64)


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str
    partition: str
    region: str


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def error_message(error: ClientError) -> str:
    return " ".join(str(error.response.get("Error", {}).get("Message", "")).split())


def is_throttling(error: ClientError) -> bool:
    return error_code(error) in THROTTLING_CODES or "Rate exceeded" in error_message(error)


def role_not_ready(error: ClientError) -> bool:
    """A new IAM role that Lambda cannot assume yet (IAM is eventually consistent)."""
    message = error_message(error)
    return error_code(error) == "InvalidParameterValueException" and (
        "cannot be assumed by Lambda" in message or "execution role does not have permissions" in message
    )


def function_busy(error: ClientError) -> bool:
    """Lambda refuses a change while the previous update is still in progress.

    The same code also means "this statement id already exists", which must not be retried."""
    return error_code(error) == "ResourceConflictException" and "in progress" in error_message(error).lower()


def role_not_ready_or_busy(error: ClientError) -> bool:
    return role_not_ready(error) or function_busy(error)


def session_for(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A session from the standard chain. As in the AWS CLI v2, ``--region`` wins, then ``AWS_REGION``,
    then ``AWS_DEFAULT_REGION``, then the profile's region; ``profile`` overrides ``AWS_PROFILE``."""
    try:
        return boto3.Session(profile_name=profile, region_name=region or environment_region())
    except ProfileNotFound as error:
        raise ConfigurationError(f"AWS profile not found: {error.kwargs.get('profile', profile)}") from None


class AwsClients:
    """Owns one client per service; every AWS call goes through :meth:`call`."""

    def __init__(self, session: boto3.Session, sleep: Sleep = time.sleep, *, backoff: Backoff = DEFAULT_BACKOFF):
        self.session = session
        self.sleep = sleep
        self.backoff = backoff
        self._clients: dict[str, Any] = {}
        self._identity: Identity | None = None
        # Our retries use the injected sleep; botocore's own stay on for transient network errors.
        self._config = Config(retries={"mode": "standard", "max_attempts": 3})
        # The HTTP status of the last answer, for answers botocore cannot parse (an HTML error page).
        self._last_status: int | None = None

    @property
    def region(self) -> str:
        if not self.session.region_name:
            raise ConfigurationError(NO_REGION_MESSAGE)
        return self.session.region_name

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                client = self.session.client(service, region_name=self.region, config=self._config)
            except NoRegionError:
                raise ConfigurationError(NO_REGION_MESSAGE) from None
            client.meta.events.register("before-parse", self._remember_status)
            self._clients[service] = client
        return self._clients[service]

    def _remember_status(self, response_dict: dict | None = None, **_: Any) -> None:
        self._last_status = (response_dict or {}).get("status_code")

    def call(
        self,
        service: str,
        operation: str,
        *,
        retry_if: RetryIf | None = None,
        missing: Iterable[str] = (),
        **kwargs: Any,
    ) -> Any:
        """``client.operation(**kwargs)``, retrying throttling (and ``retry_if``) with backoff.

        Returns ``None`` when AWS answers with one of the ``missing`` error codes (not found).
        """
        method = getattr(self.client(service), operation)
        for retry in range(self.backoff.attempts):
            try:
                return method(**kwargs)
            except ClientError as error:
                if error_code(error) in missing:
                    return None
                retryable = is_throttling(error) or (retry_if is not None and retry_if(error))
                if not retryable or retry == self.backoff.attempts - 1:
                    raise self.translate(service, operation, error) from error
            except (BotoCoreError, ResponseParserError, NotImplementedError) as error:
                raise self.translate(service, operation, error) from error
            self.sleep(self.backoff.delay(retry))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
        """Every item under ``key`` across all pages of a paginated operation."""
        paginator = self.client(service).get_paginator(operation)
        try:
            for page in paginator.paginate(**kwargs):
                yield from page.get(key, [])
        except (ClientError, BotoCoreError, ResponseParserError, NotImplementedError) as error:
            raise self.translate(service, operation, error) from error

    def identity(self) -> Identity:
        """Who we are (this also proves the credentials work): account, ARN, partition, region."""
        if self._identity is None:
            answer = self.call("sts", "get_caller_identity")
            region = self.region
            self._identity = Identity(
                account=answer["Account"],
                arn=answer["Arn"],
                partition=_partition(answer["Arn"]) or self.session.get_partition_for_region(region),
                region=region,
            )
        return self._identity

    def wait_for_function(self, name: str) -> dict:
        """Poll until the function is Active (or Inactive) and its last update Successful."""
        waited = 0.0
        state = update = None
        for retry in range(FUNCTION_POLL.attempts):
            config = self.call("lambda", "get_function_configuration", FunctionName=name)
            state, update = config.get("State"), config.get("LastUpdateStatus")
            if state == "Failed" or update == "Failed":
                reason = config.get("LastUpdateStatusReason") or config.get("StateReason") or "no reason given"
                raise AwsError(f"Lambda function {name} failed (State {state}, LastUpdateStatus {update}): {reason}")
            if state in (None, "Active", "Inactive") and update in (None, "Successful"):
                return config
            delay = FUNCTION_POLL.delay(retry)
            self.sleep(delay)
            waited += delay
        raise AwsError(
            f"Lambda function {name} is still State {state}, LastUpdateStatus {update} after {waited:.0f}s"
        )

    def _api_name(self, service: str, operation: str) -> str:
        """The API's own spelling (RemoveRoleFromDBCluster), which IAM actions use."""
        client = self._clients.get(service)
        mapping = client.meta.method_to_api_mapping if client is not None else {}
        return mapping.get(operation) or "".join(part.capitalize() for part in operation.split("_"))

    def translate(self, service: str, operation: str, error: Exception) -> AwsError:
        """One clear line for the CLI; the botocore error stays reachable for callers."""
        action = f"{ACTION_PREFIX.get(service, service)}:{self._api_name(service, operation)}"
        if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
            return AwsCredentialsMissing(NO_CREDENTIALS_MESSAGE)
        if isinstance(error, NotImplementedError):
            return AwsOperationUnsupported(f"{action} is not implemented by this endpoint: {error}")
        if isinstance(error, ResponseParserError):
            status = f"HTTP {self._last_status}" if self._last_status else "an answer"
            return AwsEndpointFault(f"{action}: the endpoint answered {status} that is not an AWS response")
        if isinstance(error, EndpointConnectionError):
            return AwsError(f"{action}: cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}")
        if not isinstance(error, ClientError):
            return AwsError(f"{action} failed: {' '.join(str(error).split())}")
        code, message = error_code(error), error_message(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ACCESS_DENIED_CODES:
            return AwsAccessDenied(f"access denied: {action} ({message})")
        if code in BAD_CREDENTIALS_CODES:
            return AwsCredentialsMissing(f"AWS rejected the credentials for {action}: {code}: {message}")
        if code in UNSUPPORTED_CODES or status == 501:
            return AwsOperationUnsupported(f"{action} is not implemented by this endpoint: {message}")
        if isinstance(status, int) and status >= 500:
            return AwsEndpointFault(f"{action} failed: HTTP {status}: {code}: {message}")
        return AwsError(f"{action} failed: {code}: {message}")


def _partition(arn: str) -> str | None:
    try:
        return parse_arn(arn).partition
    except NotAnArn:
        return None
