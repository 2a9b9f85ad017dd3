"""The exception tree: drawn in errors.py's docstring, exported, and mapped to exit codes by the CLI."""

import inspect
import re

import pytest

import fibtrigger
from fibtrigger import errors
from fibtrigger.cli import exit_code_of
from fibtrigger.lambda_function.contract import ArgumentError

CLASSES = [
    value
    for value in vars(errors).values()
    if inspect.isclass(value) and issubclass(value, errors.FibtriggerError) and value.__module__ == errors.__name__
]


def test_the_docstring_draws_every_class_under_its_parent():
    drawn, stack = [], []  # stack: (column, name) of the classes above the current line
    for line in errors.__doc__.splitlines():
        found = re.search(r"\b([A-Z][A-Za-z]+)\b", line)
        if not found or found.group(1) not in vars(errors) or line.strip().startswith(("The ", "One ")):
            continue
        column, name = found.start(), found.group(1)
        while stack and stack[-1][0] >= column:
            stack.pop()
        if stack:
            assert getattr(errors, stack[-1][1]) in getattr(errors, name).__bases__, (name, stack[-1][1])
        stack.append((column, name))
        drawn.append(name)
    assert sorted(drawn) == sorted(cls.__name__ for cls in CLASSES)


@pytest.mark.parametrize("name", ["OutcomeUnknown", "ConnectionLost", "StatementTimeout", "PermissionDenied"])
def test_the_retry_relevant_errors_are_exported(name):
    assert getattr(fibtrigger, name) is getattr(errors, name)
    assert name in fibtrigger.__all__


def test_the_library_errors_carry_no_exit_code():
    assert not any("exit_code" in vars(cls) for cls in CLASSES)


BAD_INPUT_OR_SETUP = {
    "InvalidArgument", "ResultOutOfRange", "ConfigurationError", "PermissionDenied", "AwsCredentialsMissing",
    "SchemaNotInstalled", "LambdaSyncUnavailable", "ClusterNotFound", "ResourceNotOwned", "UnsupportedCluster",
}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_exit_code_two_for_bad_input_or_setup_else_one(cls):
    expected = 2 if cls.__name__ in BAD_INPUT_OR_SETUP or issubclass(cls, errors.ConfigurationError) else 1
    assert exit_code_of(cls("x")) == expected


def test_an_argument_error_becomes_invalid_argument_or_out_of_range():
    plain = errors.argument_error(ArgumentError("fib must be an integer"))
    assert type(plain) is errors.InvalidArgument and str(plain) == "fib must be an integer"
    assert type(errors.argument_error(ArgumentError("too big", out_of_range=True))) is errors.ResultOutOfRange
