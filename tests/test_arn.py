"""fibtrigger.arn: the one ARN parser (the trigger's function ARN, the local service's FunctionName,
invoke --function, the caller's partition)."""

import pytest

from fibtrigger.arn import Arn, FunctionReference, NotAnArn, parse_arn, parse_function, parse_function_arn

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fibtrigger"


def test_names_partial_arns_and_arns():
    assert parse_function("fibtrigger") == FunctionReference("fibtrigger")
    assert parse_function("fibtrigger:7") == FunctionReference("fibtrigger", "7")
    assert parse_function("123456789012:function:f") == FunctionReference("f", account="123456789012")
    assert parse_function("arn:aws-cn:lambda:cn-north-1:123456789012:function:f:live") == FunctionReference(
        "f", "live", "cn-north-1", "123456789012", "aws-cn"
    )
    assert parse_function_arn(ARN + ":$LATEST").qualifier == "$LATEST"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "f" * 65,
        "fib trigger",
        "fibtrigger:",
        "fibtrigger:a:b",
        "12345:function:f",
        "arn:aws:lambda:us-east-1:123456789012:function:f\n",
        "arn:aws:lambda:us-east-1:123456789012:function:fib'); DROP TABLE fibonacci; --",
        "arn:aws:lambda:us-east-1:\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660:function:f",
        "arn:aws:lambda::123456789012:function:f",
        "arn:aws:s3:::bucket",
        "arn:aws:lambda:us-east-1:123456789012:layer:f",
        "arn:other:lambda:us-east-1:123456789012:function:f",
    ],
)
def test_anything_else_is_refused(text):
    with pytest.raises(NotAnArn):
        parse_function(text)


def test_a_function_arn_must_be_whole():
    with pytest.raises(NotAnArn):
        parse_function_arn("fibtrigger")
    with pytest.raises(NotAnArn):
        parse_function_arn("123456789012:function:f")


def test_other_services_arns():
    assert parse_arn("arn:aws:sts::123456789012:assumed-role/deployer/session") == Arn(
        "aws", "sts", "", "123456789012", "assumed-role/deployer/session"
    )
    assert parse_arn("arn:aws:s3:::bucket").resource == "bucket"
    with pytest.raises(NotAnArn):
        parse_arn("arn:aws:iam::123456789012")
