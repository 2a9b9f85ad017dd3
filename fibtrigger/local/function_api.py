"""The read side of the Lambda API for the local function: GetFunction, GetFunctionConfiguration,
ListFunctions, with the fields Lambda returns, so that boto3's waiters (``function_active_v2``)
and the AWS CLI accept the local service. The code fields describe the package that
``fibtrigger lambda package`` builds and ``fibtrigger aws deploy`` uploads.
"""

import functools
from datetime import UTC, datetime

from ..aws import package
from ..aws.stack import DEFAULT_MEMORY_MB, DEFAULT_RUNTIME, HANDLER, StackSettings

# The name `fibtrigger aws deploy` gives the function with its defaults (fibtrigger-test).
DEPLOYED_FUNCTION_NAME = StackSettings().function_name
LAMBDA_API_PREFIX = "/2015-03-31/"
SUPPORTED = "Invoke, GetFunction, GetFunctionConfiguration and ListFunctions"


@functools.cache
def _code() -> tuple[int, str]:
    built = package.build()
    return built.size, built.code_sha256


def configuration(*, name: str, arn: str, account: str, timeout_seconds: float, started: datetime) -> dict:
    """GetFunctionConfiguration's answer for a function this service runs."""
    size, sha256 = _code()
    return {
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": DEFAULT_RUNTIME,
        "Role": f"arn:aws:iam::{account}:role/{name}-lambda",
        "Handler": HANDLER,
        "CodeSize": size,
        "CodeSha256": sha256,
        "Description": "fibtrigger: the Fibonacci function, served by the local Lambda service",
        "Timeout": max(1, round(timeout_seconds)),
        "MemorySize": DEFAULT_MEMORY_MB,
        "LastModified": started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }


def function(config: dict) -> dict:
    """GetFunction's answer: the configuration, where the code is, and the tags."""
    return {"Configuration": config, "Code": {"RepositoryType": "S3"}, "Tags": {}}
