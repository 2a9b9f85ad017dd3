"""AwsClients: retries through the injected sleep, one-line errors, endpoint overrides."""

import http.server
import threading

import boto3
import pytest
from botocore.stub import Stubber

from fibtrigger.aws import clients
from fibtrigger.aws.clients import AwsClients, Backoff, role_not_ready, role_not_ready_or_busy
from fibtrigger.cli import main
from fibtrigger.errors import (
    AwsAccessDenied,
    AwsCredentialsMissing,
    AwsError,
    AwsOperationUnsupported,
    ConfigurationError,
)
from test_aws_deploy import aws_env  # noqa: F401  (fixture)

ROLE_NOT_READY = "The role defined for the function cannot be assumed by Lambda."
CREATE_FUNCTION = {
    "FunctionName": "f", "Runtime": "python3.13", "Handler": "lambda_handler.handler",
    "Role": "arn:aws:iam::123456789012:role/fibtrigger-test-lambda", "Code": {"ZipFile": b"PK"},
}


class Sleeps(list):
    """An injected sleep that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def aws(aws_env, sleeps):  # noqa: F811
    return AwsClients(boto3.Session(), sleeps)


def test_a_role_lambda_cannot_assume_yet_is_retried_with_backoff(aws, sleeps):
    with Stubber(aws.client("lambda")) as stub:
        for _ in range(3):
            stub.add_client_error("create_function", "InvalidParameterValueException", ROLE_NOT_READY, 400)
        stub.add_response("create_function", {"FunctionName": "f"}, CREATE_FUNCTION)
        answer = aws.call("lambda", "create_function", retry_if=role_not_ready, **CREATE_FUNCTION)
        stub.assert_no_pending_responses()
    assert answer["FunctionName"] == "f"
    assert sleeps == [1.0, 2.0, 4.0]


def test_throttling_is_retried_for_any_call(aws, sleeps):
    with Stubber(aws.client("iam")) as stub:
        stub.add_client_error("get_role", "Throttling", "Rate exceeded", 400)
        stub.add_client_error("get_role", "Throttling", "Rate exceeded", 400)
        stub.add_response("get_role", {"Role": {
            "Path": "/", "RoleName": "r", "RoleId": "AROAEXAMPLEEXAMPLE01", "Arn": "arn:aws:iam::123456789012:role/r",
            "CreateDate": "2024-01-01T00:00:00Z",
        }})
        assert aws.call("iam", "get_role", RoleName="r")["Role"]["RoleName"] == "r"
    assert sleeps == [1.0, 2.0]


def test_retries_give_up_with_one_clear_error(aws_env, sleeps):  # noqa: F811
    aws = AwsClients(boto3.Session(), sleeps, backoff=Backoff(base=0.5, cap=1.0, attempts=4))
    with Stubber(aws.client("lambda")) as stub:
        for _ in range(4):
            stub.add_client_error("create_function", "InvalidParameterValueException", ROLE_NOT_READY, 400)
        with pytest.raises(AwsError) as raised:
            aws.call("lambda", "create_function", retry_if=role_not_ready_or_busy, **CREATE_FUNCTION)
    assert sleeps == [0.5, 1.0, 1.0]
    assert str(raised.value) == f"lambda:CreateFunction failed: InvalidParameterValueException: {ROLE_NOT_READY}"


def test_other_errors_are_not_retried(aws, sleeps):
    with Stubber(aws.client("lambda")) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException", "Unzipped size too large", 400)
        with pytest.raises(AwsError, match="Unzipped size too large"):
            aws.call("lambda", "create_function", retry_if=role_not_ready, **CREATE_FUNCTION)
    assert sleeps == []


def test_an_update_in_progress_is_waited_out_but_a_conflict_is_not(aws, sleeps):
    busy = "The operation cannot be performed at this time. An update is in progress for resource: f"
    exists = "The statement id (s) provided already exists."
    permission = {
        "FunctionName": "f", "StatementId": "s", "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
    }
    with Stubber(aws.client("lambda")) as stub:
        stub.add_client_error("add_permission", "ResourceConflictException", busy, 409)
        stub.add_client_error("add_permission", "ResourceConflictException", exists, 409)
        with pytest.raises(AwsError, match="already exists"):
            aws.call("lambda", "add_permission", retry_if=role_not_ready_or_busy, **permission)
    assert sleeps == [1.0]


def test_access_denied_names_the_action(aws):
    message = "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateRole"
    with Stubber(aws.client("iam")) as stub:
        stub.add_client_error("create_role", "AccessDenied", message, 403)
        with pytest.raises(AwsAccessDenied) as raised:
            aws.call("iam", "create_role", RoleName="r", AssumeRolePolicyDocument="{}")
    assert str(raised.value) == f"access denied: iam:CreateRole ({message})"


def test_missing_codes_mean_none(aws):
    with Stubber(aws.client("iam")) as stub:
        stub.add_client_error("get_role", "NoSuchEntity", "The role with name r cannot be found.", 404)
        assert aws.call("iam", "get_role", RoleName="r", missing=("NoSuchEntity",)) is None


def test_an_unimplemented_operation_is_its_own_error(aws):
    with Stubber(aws.client("rds")) as stub:
        stub.add_client_error("remove_role_from_db_cluster", "NotImplemented", "not yet", 501)
        with pytest.raises(AwsOperationUnsupported, match="rds:RemoveRoleFromDBCluster"):
            aws.call("rds", "remove_role_from_db_cluster", DBClusterIdentifier="c", RoleArn="arn:aws:iam::1:role/r")


def test_no_credentials_is_one_line(aws_env, monkeypatch):  # noqa: F811
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsCredentialsMissing, match="^no AWS credentials found"):
        AwsClients(boto3.Session(), Sleeps()).identity()


def test_no_region_is_a_configuration_error(aws_env, monkeypatch):  # noqa: F811
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigurationError, match="no AWS region"):
        AwsClients(boto3.Session(), Sleeps()).client("iam")


def test_wait_for_function_polls_until_active_and_successful(aws, sleeps):
    with Stubber(aws.client("lambda")) as stub:
        for state, update in [("Pending", None), ("Active", "InProgress"), ("Active", "Successful")]:
            answer = {"FunctionName": "f", "State": state}
            if update:
                answer["LastUpdateStatus"] = update
            stub.add_response("get_function_configuration", answer, {"FunctionName": "f"})
        assert aws.wait_for_function("f")["LastUpdateStatus"] == "Successful"
    assert sleeps == [1.0, 2.0]


def test_wait_for_function_reports_a_failed_update(aws):
    with Stubber(aws.client("lambda")) as stub:
        stub.add_response("get_function_configuration", {
            "FunctionName": "f", "State": "Active", "LastUpdateStatus": "Failed",
            "LastUpdateStatusReason": "The role is invalid",
        })
        with pytest.raises(AwsError, match="Lambda function f failed .*The role is invalid"):
            aws.wait_for_function("f")


def test_wait_for_function_gives_up(aws, sleeps, monkeypatch):
    monkeypatch.setattr(clients, "FUNCTION_POLL", Backoff(base=1.0, cap=5.0, attempts=3))
    with Stubber(aws.client("lambda")) as stub:
        for _ in range(3):
            stub.add_response("get_function_configuration", {"FunctionName": "f", "State": "Pending"})
        with pytest.raises(AwsError, match="still State Pending, LastUpdateStatus None after 7s"):
            aws.wait_for_function("f")
    assert sleeps == [1.0, 2.0, 4.0]


# ----- endpoint overrides ----------------------------------------------------------------------

SERVICE_ENDPOINT_VARIABLES = {
    "sts": "AWS_ENDPOINT_URL_STS",
    "iam": "AWS_ENDPOINT_URL_IAM",
    "lambda": "AWS_ENDPOINT_URL_LAMBDA",
    "apigateway": "AWS_ENDPOINT_URL_API_GATEWAY",
    "rds": "AWS_ENDPOINT_URL_RDS",
    "logs": "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
}


def test_aws_endpoint_url_applies_to_every_client(aws_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    aws = AwsClients(boto3.Session(), Sleeps())
    for service in SERVICE_ENDPOINT_VARIABLES:
        assert aws.client(service).meta.endpoint_url == "http://127.0.0.1:4566"


def test_a_per_service_endpoint_wins_over_the_global_one(aws_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    for port, variable in enumerate(SERVICE_ENDPOINT_VARIABLES.values(), start=5001):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{port}")
    aws = AwsClients(boto3.Session(), Sleeps())
    for port, service in enumerate(SERVICE_ENDPOINT_VARIABLES, start=5001):
        assert aws.client(service).meta.endpoint_url == f"http://127.0.0.1:{port}"


STS_ACCESS_DENIED = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code>
<Message>User: arn:aws:iam::123456789012:user/bob is not authorized to perform: sts:GetCallerIdentity</Message>
</Error><RequestId>0</RequestId></ErrorResponse>"""


class _DenyingEndpoint(http.server.BaseHTTPRequestHandler):
    """A local stand-in for an AWS endpoint that refuses everything, recording the requests."""

    requests: list[bytes] = []

    def do_POST(self):  # noqa: N802 - the http.server hook's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).requests.append(body)
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(STS_ACCESS_DENIED)))
        self.end_headers()
        self.wfile.write(STS_ACCESS_DENIED)

    def log_message(self, *args):
        pass


@pytest.fixture
def denying_endpoint():
    _DenyingEndpoint.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DenyingEndpoint)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"])
def test_the_cli_sends_its_calls_to_the_configured_endpoint(aws_env, monkeypatch, capsys, denying_endpoint, variable):  # noqa: F811
    if variable != "AWS_ENDPOINT_URL":
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: must not be used
    monkeypatch.setenv(variable, denying_endpoint)
    assert main(["aws", "plan"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "fibtrigger: access denied: sts:GetCallerIdentity (User: arn:aws:iam::123456789012:user/bob "
        "is not authorized to perform: sts:GetCallerIdentity)\n"
    )
    assert len(_DenyingEndpoint.requests) == 1
    assert b"Action=GetCallerIdentity" in _DenyingEndpoint.requests[0]
