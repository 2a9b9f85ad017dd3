"""Which region, from the environment, as the AWS CLI v2 finds it (no boto3 import: the local service uses it)."""

import os

# Where a local emulator says it is when nothing names a region (as moto and the AWS CLI's examples).
DEFAULT_REGION = "us-east-1"


def environment_region() -> str | None:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``: the AWS CLI v2's order (botocore reads only the second)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
