"""The local Lambda service as AWS tools see it: boto3 (waiters included), the AWS CLI, curl, Prometheus."""

import base64
import json
import os
import shlex
import shutil
import subprocess
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from fibtrigger.aws.package import build
from fibtrigger.aws.stack import DEFAULT_RUNTIME, HANDLER, StackSettings
from fibtrigger.local.service import LocalLambdaService
from installed_tools import installed_tool

DEPLOYED = StackSettings().function_name  # fibtrigger-test


@pytest.fixture
def aws_cli_env(monkeypatch, tmp_path):
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    values = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-creds"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture
def service(aws_cli_env):
    with LocalLambdaService() as running:
        yield running


def lambda_client(service):
    return boto3.client("lambda", endpoint_url=service.url)


def aws_cli_path() -> str:
    """The AWS CLI is not a dependency of fibtrigger: skip without one."""
    command = installed_tool("aws")
    if command is None:
        pytest.skip("no AWS CLI")
    return command


def test_the_function_active_waiter_and_get_function_agree_with_the_package(service):
    client = lambda_client(service)
    client.get_waiter("function_active_v2").wait(FunctionName=DEPLOYED, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    client.get_waiter("function_updated_v2").wait(
        FunctionName="fibtrigger", WaiterConfig={"Delay": 1, "MaxAttempts": 1}
    )
    package = build()
    config = client.get_function_configuration(FunctionName=DEPLOYED)
    config.pop("ResponseMetadata")
    assert (config["CodeSize"], config["CodeSha256"]) == (package.size, package.code_sha256)
    assert (config["Runtime"], config["Handler"], config["State"], config["LastUpdateStatus"]) == (
        DEFAULT_RUNTIME, HANDLER, "Active", "Successful"
    )
    assert config["FunctionArn"] == f"arn:aws:lambda:eu-west-1:000000000000:function:{DEPLOYED}"
    by_arn = client.get_function(FunctionName=config["FunctionArn"])
    assert by_arn["Configuration"] == config
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert names == ["fibtrigger", DEPLOYED, "function"]


def test_unknown_functions_and_operations_are_aws_style_errors(service):
    client = lambda_client(service)
    with pytest.raises(ClientError) as missing:
        client.get_function(FunctionName="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as unknown:
        client.delete_function(FunctionName="fibtrigger")
    assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "GetFunctionConfiguration" in unknown.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as elsewhere:
        boto3.client("lambda", endpoint_url=service.url + "/elsewhere").list_functions()
    assert elsewhere.value.response["Error"]["Code"] == "UnknownOperationException"


def test_the_deployed_name_invokes_and_its_log_tail_reports_memory(service):
    answer = lambda_client(service).invoke(FunctionName=DEPLOYED, Payload=b'{"fib": 20}', LogType="Tail")
    assert json.loads(answer["Payload"].read()) == {"fib": 20, "value": "6765", "number": 6765}
    report = base64.b64decode(answer["LogResult"]).decode().splitlines()[-1]
    fields = dict(field.split(": ", 1) for field in report.removeprefix("REPORT ").split("\t"))
    assert fields["Memory Size"] == "128 MB"
    assert fields["Max Memory Used"].endswith(" MB") and int(fields["Max Memory Used"].split()[0]) > 0


DOCS = Path(__file__).resolve().parent.parent / "docs" / "aws.md"


def documented_aws_commands() -> list[str]:
    """The `$ aws lambda ...` lines of docs/aws.md's local-service section."""
    section = DOCS.read_text().split("## The local Lambda service, as AWS tools see it", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in section.splitlines() if line.startswith("$ aws lambda ")]


def test_the_aws_cli_commands_of_the_docs_work(service, aws_cli_env, tmp_path):
    commands = documented_aws_commands()
    assert len(commands) == 4
    env = dict(aws_cli_env, AWS_ENDPOINT_URL_LAMBDA=service.url)
    (tmp_path / "payload.json").write_text('{"fib": 30}')
    results = []
    for command in commands:
        shell = command.replace("aws ", f"{shlex.quote(aws_cli_path())} ", 1)
        results.append(subprocess.run(shell, shell=True, capture_output=True, text=True, env=env, cwd=tmp_path,
                                      timeout=60))
    configuration, listing, invoked, refused = results
    assert configuration.stdout.split() == ["Active", "Successful", DEFAULT_RUNTIME, str(build().size)]
    assert listing.stdout.split() == [service.function_arn(name) for name in ("fibtrigger", DEPLOYED, "function")]
    assert invoked.returncode == 0 and "\tMax Memory Used: " in invoked.stdout
    assert json.loads((tmp_path / "out.json").read_text())["value"] == "832040"
    assert refused.returncode != 0 and "(UnknownOperationException)" in refused.stderr


def test_curl_posts_json_with_its_default_content_type(service):
    if shutil.which("curl") is None:
        pytest.skip("no curl")
    done = subprocess.run(["curl", "-s", "-d", '{"fib": 7}', service.api_url], capture_output=True, timeout=30)
    assert json.loads(done.stdout) == {"fib": 7, "value": "13", "number": 13}
    form = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-d", "fib=7", service.api_url],
                          capture_output=True, text=True, timeout=30)
    assert form.stdout.splitlines()[-1] == "400"  # a form body is not JSON: refused, not guessed


@pytest.mark.parametrize(
    "accept, query", [("text/plain;version=0.0.4", ""), ("application/openmetrics-text;version=1.0.0", ""),
                      ("*/*", "?format=prometheus")],
)
def test_metrics_speak_prometheus(service, accept, query):
    from prometheus_client.parser import text_string_to_metric_families

    client = lambda_client(service)
    for n in (1, 2, 3):
        client.invoke(FunctionName="fibtrigger", Payload=json.dumps({"fib": n}).encode())
    client.invoke(FunctionName="fibtrigger", Payload=b'{"fib": -1}')  # a function error
    request = urllib.request.Request(service.url + "/metrics" + query, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    samples = {(s.name, s.labels.get("le")): s.value for f in families.values() for s in f.samples}
    assert samples[("fibtrigger_lambda_invocations_total", None)] == 4
    assert samples[("fibtrigger_lambda_function_errors_total", None)] == 1
    assert families["fibtrigger_lambda_duration_seconds"].type == "histogram"
    assert samples[("fibtrigger_lambda_duration_seconds_count", None)] == 4
    assert samples[("fibtrigger_lambda_duration_seconds_bucket", "+Inf")] == 4
    with urllib.request.urlopen(service.url + "/metrics", timeout=10) as response:  # JSON stays the default
        assert json.loads(response.read())["invocations"] == 4
