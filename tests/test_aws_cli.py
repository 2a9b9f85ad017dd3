"""`fibtrigger aws plan | deploy | destroy` through fibtrigger.cli.main, against moto."""

import re

import boto3
import pytest
from moto import mock_aws

from fibtrigger.cli import aws_commands, main
from test_aws_deploy import ACCOUNT, CLUSTER, REGION, aws_env, create_cluster, inventory, moto  # noqa: F401

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fibtrigger-test"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(aws_commands, "SLEEP", lambda seconds: None)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["aws", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_deploy_prints_the_invoke_url_the_arn_and_the_next_command(moto, capsys):  # noqa: F811
    code, out, err = run(capsys, "deploy")
    assert (code, err) == (0, "")
    api_id = boto3.client("apigateway").get_rest_apis()["items"][0]["id"]
    assert f"Invoke URL:   https://{api_id}.execute-api.{REGION}.amazonaws.com/test/\n" in out
    assert f"Function ARN: {FUNCTION_ARN}\n" in out
    assert out.endswith(
        f"Next, point the trigger at the function:\n  fibtrigger backend lambda --function-arn {FUNCTION_ARN}\n\n"
        f"Dashboard: https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        "#dashboards/dashboard/fibtrigger-test\n"
    )
    assert "  create Lambda function fibtrigger-test (python3.13, 128 MB, 10 s, package " in out
    assert "Aurora cluster" not in out

    code, out, err = run(capsys, "deploy")
    assert code == 0
    assert re.search(r"^Deploy: 0 created, 0 updated, \d+ unchanged\.$", out, re.MULTILINE)


def test_deploy_with_a_cluster_prints_the_three_remaining_steps(moto, capsys):  # noqa: F811
    create_cluster()
    code, out, err = run(capsys, "deploy", "--cluster", CLUSTER, "--memory", "256", "--timeout", "5")
    assert (code, err) == (0, "")
    assert f"Aurora cluster {CLUSTER}: three steps remain\n" in out
    assert "  1. Reboot the writer of fib-aurora so that aws_default_lambda_role takes effect" in out
    assert "NAT gateway or a Lambda interface VPC endpoint (com.amazonaws.eu-west-1.lambda)" in out
    assert "`fibtrigger grants --role lambda-definer --user DEFINER`" in out
    assert (
        "update Aurora cluster fib-aurora (parameter group default.aurora8.0 -> fibtrigger-test-aurora-mysql80)" in out
    )
    config = boto3.client("lambda").get_function_configuration(FunctionName="fibtrigger-test")
    assert (config["MemorySize"], config["Timeout"]) == (256, 5)


def test_plan_prints_the_changes_and_creates_nothing(moto, capsys):  # noqa: F811
    before = inventory()
    code, out, err = run(capsys, "plan", "--name", "demo", "--stage", "prod", "--users-group", "callers")
    assert (code, err) == (0, "")
    assert out.startswith(f"Plan for demo-prod in {REGION} (account {ACCOUNT}):\n")
    assert "  create REST API demo-prod (regional)\n" in out
    assert "  create IAM group callers (path /demo/)\n" in out
    assert out.endswith("Plan: 17 to create, 0 to update, 0 unchanged.\n")
    assert inventory() == before


def test_destroy_prints_what_it_deleted_then_nothing(moto, capsys):  # noqa: F811
    run(capsys, "deploy")
    code, out, err = run(capsys, "destroy")
    assert (code, err) == (0, "")
    assert "  delete Lambda function fibtrigger-test\n" in out
    assert re.search(r"^Destroy: \d+ deleted, 0 updated, 0 left alone\.$", out, re.MULTILINE)
    assert run(capsys, "destroy") == (0, f"Nothing to destroy for fibtrigger-test in {REGION}.\n", "")


def test_a_missing_cluster_is_one_line(moto, capsys):  # noqa: F811
    assert run(capsys, "deploy", "--cluster", "nope") == (
        2,
        "",
        f"fibtrigger: Aurora cluster 'nope' not found in {REGION}\n",
    )
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_missing_credentials_are_one_line(aws_env, monkeypatch, capsys):  # noqa: F811
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, err = run(capsys, "plan")
    assert (code, out) == (2, "")
    assert err.startswith("fibtrigger: no AWS credentials found: ") and err.count("\n") == 1


def test_a_missing_region_is_one_line(aws_env, monkeypatch, capsys):  # noqa: F811
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, out, err = run(capsys, "deploy")
    assert (code, out) == (2, "")
    assert err.startswith("fibtrigger: no AWS region: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    "variables, argv, region",
    [
        ({"AWS_REGION": "eu-central-1"}, [], "eu-central-1"),
        ({"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-2"}, [], "eu-central-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-2"}, [], "eu-west-2"),
        ({"AWS_REGION": "eu-central-1"}, ["--region", "ap-south-1"], "ap-south-1"),
    ],
)
def test_the_region_is_found_as_the_aws_cli_v2_finds_it(aws_env, monkeypatch, capsys, variables, argv, region):  # noqa: F811
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        code, out, err = run(capsys, "plan", *argv)
    assert (code, err) == (0, "")
    assert out.startswith(f"Plan for fibtrigger-test in {region} (account {ACCOUNT}):\n")


def test_an_unknown_profile_is_one_line(aws_env, capsys):  # noqa: F811
    assert run(capsys, "plan", "--profile", "nobody") == (2, "", "fibtrigger: AWS profile not found: nobody\n")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--name", "my_stack"], "--name 'my_stack' must be letters and digits"),
        (["--stage", "-x"], "--stage '-x' must be letters and digits"),
        (["--memory", "100"], "--memory must be between 128 and 10240 MB, got 100"),
        (["--timeout", "0"], "--timeout must be between 1 and 900 seconds, got 0"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(aws_env, capsys, argv, message):  # noqa: F811
    code, out, err = run(capsys, "deploy", *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"fibtrigger: {message}") and err.count("\n") == 1
