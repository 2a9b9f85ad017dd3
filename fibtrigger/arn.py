"""Amazon Resource Names: the one parser for every ARN fibtrigger reads.

A Lambda function is named as AWS's Invoke API takes it: ``NAME[:QUALIFIER]``, a partial ARN
``ACCOUNT:function:NAME[:QUALIFIER]``, or ``arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``.
The trigger's SQL embeds a function ARN, so nothing outside these patterns gets through.
"""

import re
from typing import NamedTuple

PARTITION = r"aws[a-z-]{0,20}"
REGION = r"[a-z]{2}(?:-[a-z]+)+-[0-9]"
ACCOUNT = r"[0-9]{12}"
FUNCTION_NAME = r"[A-Za-z0-9_-]{1,64}"
QUALIFIER = r"\$LATEST|[A-Za-z0-9_-]{1,128}"

_ARN = re.compile(
    rf"arn:(?P<partition>{PARTITION}):(?P<service>[a-z0-9-]{{1,64}}):(?P<region>(?:{REGION})?)"
    rf":(?P<account>(?:{ACCOUNT})?):(?P<resource>[^\s]{{1,1024}})"
)
_FUNCTION = re.compile(rf"(?P<name>{FUNCTION_NAME})(?::(?P<qualifier>{QUALIFIER}))?")
_PARTIAL = re.compile(rf"(?P<account>{ACCOUNT}):function:{_FUNCTION.pattern}")


class NotAnArn(ValueError):
    """The text is not an ARN (or not a Lambda function's name, partial ARN or ARN)."""


class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str


class FunctionReference(NamedTuple):
    """A Lambda function as named: region, account and partition are None unless given."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None
    partition: str | None = None


def is_function_name(text: str) -> bool:
    """A bare function name (no qualifier, no ARN)."""
    found = _FUNCTION.fullmatch(text) if isinstance(text, str) else None
    return found is not None and found["qualifier"] is None


def parse_arn(text: str) -> Arn:
    found = _ARN.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise NotAnArn(text)
    return Arn(*found.group("partition", "service", "region", "account", "resource"))


def parse_function(text: str) -> FunctionReference:
    """A function name, partial ARN or function ARN; NotAnArn for anything else."""
    if not isinstance(text, str):
        raise NotAnArn(text)
    if text.startswith("arn:"):
        return parse_function_arn(text)
    found = _PARTIAL.fullmatch(text) or _FUNCTION.fullmatch(text)
    if found is None:
        raise NotAnArn(text)
    groups = found.groupdict()
    return FunctionReference(groups["name"], groups["qualifier"], account=groups.get("account"))


def parse_function_arn(text: str) -> FunctionReference:
    """A full function ARN (partition, region and account given); NotAnArn for anything else."""
    arn = parse_arn(text)
    kind, _, rest = arn.resource.partition(":")
    found = _FUNCTION.fullmatch(rest) if arn.service == "lambda" and kind == "function" else None
    if found is None or not arn.region or not arn.account:
        raise NotAnArn(text)
    return FunctionReference(found["name"], found["qualifier"], arn.region, arn.account, arn.partition)
