"""What a stack is: its settings, the names of its resources and the tags that mark them.

A stack is a ``--name`` and a ``--stage``. Every resource is named ``{name}-{stage}...`` and
tagged ``fibtrigger:stack={name}`` and ``fibtrigger:stage={stage}``; destroy removes only
what carries both the name and the tags. IAM groups take no tags, so a callers' group that
deploy creates gets the path ``/{name}/`` instead.
"""

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..errors import InvalidArgument

TAG_STACK = "fibtrigger:stack"
TAG_STAGE = "fibtrigger:stage"
TAG_CLUSTER = "fibtrigger:cluster"
TAG_PREVIOUS_PARAMETER_GROUP = "fibtrigger:previous-parameter-group"

HANDLER = "lambda_handler.handler"
DEFAULT_RUNTIME = "python3.13"
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_LOG_RETENTION_DAYS = 14
HTTP_METHOD = "POST"
API_PATH = "/"

# Letters, digits and single hyphens: legal in every resource name, including RDS parameter groups.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_IAM_GROUP = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
_RUNTIME = re.compile(r"python3\.[0-9]+")
_CLUSTER_ID = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_SNS_TOPIC_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}", re.ASCII)
# So that the longest derived name, "{name}-{stage}-invoke-lambda", fits IAM's 64 characters.
MAX_NAME = 32
MAX_STAGE = 16


@dataclass(frozen=True)
class StackSettings:
    """What the ``fibtrigger aws`` options describe; every resource's name derives from it."""

    name: str = "fibtrigger"
    stage: str = "test"
    cluster: str | None = None
    users_group: str = "apiUsers"
    memory: int = DEFAULT_MEMORY_MB
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    runtime: str = DEFAULT_RUNTIME
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    alarm_topic: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for label, value, longest in (("name", self.name, MAX_NAME), ("stage", self.stage, MAX_STAGE)):
            if not _NAME.fullmatch(value or "") or len(value) > longest:
                raise InvalidArgument(
                    f"--{label} {value!r} must be letters and digits joined by single hyphens, "
                    f"start with a letter, at most {longest} characters"
                )
        if not _IAM_GROUP.fullmatch(self.users_group or ""):
            raise InvalidArgument(f"--users-group {self.users_group!r} is not a valid IAM group name")
        if self.cluster is not None and not _CLUSTER_ID.fullmatch(self.cluster):
            raise InvalidArgument(f"--cluster {self.cluster!r} is not a valid Aurora cluster identifier")
        if not _RUNTIME.fullmatch(self.runtime or ""):
            raise InvalidArgument(f"--runtime {self.runtime!r} must be a Python runtime such as {DEFAULT_RUNTIME}")
        if not 128 <= self.memory <= 10240:
            raise InvalidArgument(f"--memory must be between 128 and 10240 MB, got {self.memory}")
        if not 1 <= self.timeout <= 900:
            raise InvalidArgument(f"--timeout must be between 1 and 900 seconds, got {self.timeout}")
        if self.alarm_topic is not None and not _SNS_TOPIC_ARN.fullmatch(self.alarm_topic):
            raise InvalidArgument(
                f"--alarm-topic {self.alarm_topic[:140]!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
            )

    @property
    def prefix(self) -> str:
        return f"{self.name}-{self.stage}"

    @property
    def function_name(self) -> str:
        return self.prefix

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def access_log_group_name(self) -> str:
        return f"/aws/apigateway/{self.prefix}/access"

    @property
    def dashboard_name(self) -> str:
        return self.prefix

    @property
    def lambda_role_name(self) -> str:
        return f"{self.prefix}-lambda"

    @property
    def logs_policy_name(self) -> str:
        return f"{self.prefix}-logs"

    @property
    def api_name(self) -> str:
        return self.prefix

    @property
    def permission_id(self) -> str:
        return f"{self.prefix}-apigateway-invoke"

    @property
    def group_path(self) -> str:
        return f"/{self.name}/"

    @property
    def invoke_api_policy_name(self) -> str:
        return f"{self.prefix}-invoke-api"

    @property
    def aurora_role_name(self) -> str:
        return f"{self.prefix}-aurora"

    @property
    def aurora_policy_name(self) -> str:
        return f"{self.prefix}-invoke-lambda"

    @property
    def parameter_group_name(self) -> str:
        # RDS stores parameter group names in lower case.
        return f"{self.prefix}-aurora-mysql80".lower()

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_STACK: self.name, TAG_STAGE: self.stage}

    def owns(self, tags: Any) -> bool:
        """Whether a resource's tags mark it as this stack's."""
        found = tag_map(tags)
        return all(found.get(key) == value for key, value in self.tags.items())


def tag_map(tags: Any) -> dict[str, str]:
    """Tags as a dict, whichever shape a service returns (a dict, or a list of Key/Value)."""
    if isinstance(tags, dict):
        return dict(tags)
    return {item["Key"]: item["Value"] for item in tags or []}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def document(value: Any) -> Any:
    """A policy document as data: boto3 decodes IAM's URL-encoded JSON, some emulators do not."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value
