"""Names, ARNs and identifiers are checked as a whole: a trailing newline or a non-ASCII digit is refused.

A pattern anchored with ``$`` also matches before a final newline, and ``\\d`` or ``\\w`` match
digits and letters of every script; each value below slipped through such a check.
"""

import pytest

from fibtrigger import backend, grants
from fibtrigger.aws.stack import StackSettings
from fibtrigger.cli import main
from fibtrigger.errors import ConfigurationError, InvalidArgument
from fibtrigger.local import udf_build

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
ARABIC_ACCOUNT = "\u0660" * 12  # twelve ARABIC-INDIC DIGIT ZERO


@pytest.mark.parametrize(
    "arn", [ARN + "\n", ARN + ":live\n", ARN.replace("000000000000", ARABIC_ACCOUNT), ARN.replace("-1:", "-\u0661:")]
)
def test_a_function_arn_is_matched_whole(arn):
    assert backend.check_function_arn(ARN) == ARN
    with pytest.raises(ConfigurationError):
        backend.check_function_arn(arn)


@pytest.mark.parametrize("user, host, schema", [("app\n", "%", "app"), ("app", "%\n", "app"), ("app", "%", "app\n")])
def test_grant_names_are_matched_whole(user, host, schema):
    with pytest.raises(ConfigurationError):
        grants.grant_statements("caller", user, host, schema)


@pytest.mark.parametrize(
    "settings",
    [{"name": "fibtrigger\n"}, {"stage": "test\n"}, {"cluster": "db\n"}, {"users_group": "apiUsers\n"},
     {"users_group": "api\u00e9"}, {"runtime": "python3.12\n"}, {"runtime": "python3.\u0661\u0662"}],
    ids=repr,
)
def test_stack_settings_are_matched_whole(settings):
    with pytest.raises(InvalidArgument):
        StackSettings(**settings)


def test_a_udf_library_name_is_matched_whole(tmp_path):
    library = tmp_path / "lambda_sync-0123456789abcdef.so\n"
    with pytest.raises(ConfigurationError):
        udf_build.install(None, library)


@pytest.mark.parametrize(
    "args",
    [["backend", "lambda", "--function-arn", ARN + "\n"],
     ["grants", "--user", "app\n", "--schema", "app"],
     ["grants", "--user", "app", "--schema", "app\n"]],
    ids=repr,
)
def test_the_cli_refuses_a_trailing_newline_in_one_line(capsys, tmp_path, args):
    code = main(["--database-url", f"sqlite:///{tmp_path / 'never.db'}", *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "never.db").exists()  # refused before anything connected
