"""fibtrigger aws plan / deploy / destroy against moto's AWS control plane (no Docker, no AWS)."""

import base64
import hashlib
import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from fibtrigger.aws.aurora import LAMBDA_ROLE_PARAMETER
from fibtrigger.aws.clients import AwsClients
from fibtrigger.aws.deploy import Stack, code_sha256, deploy, destroy, plan
from fibtrigger.aws.package import Package, build
from fibtrigger.aws.stack import TAG_STACK, TAG_STAGE, StackSettings
from fibtrigger.errors import ClusterNotFound, InvalidArgument, ResourceNotOwned, UnsupportedCluster

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
CLUSTER = "fib-aurora"
AURORA_VERSION = "8.0.mysql_aurora.3.05.2"
READ_ONLY_PREFIXES = ("Get", "List", "Describe")


def no_sleep(seconds: float) -> None:
    """Injected instead of time.sleep: moto answers at once, so retries must not wait."""


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials and a region; no profile, config file, endpoint override or IMDS from the host."""
    import os

    for variable in list(os.environ):
        if variable.startswith("AWS_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto(aws_env):
    with mock_aws():
        yield


@pytest.fixture(scope="module")
def package() -> Package:
    return build()


def create_cluster(cluster_id: str = CLUSTER, **extra) -> dict:
    return boto3.client("rds").create_db_cluster(
        DBClusterIdentifier=cluster_id, Engine="aurora-mysql", EngineVersion=AURORA_VERSION,
        MasterUsername="admin", MasterUserPassword="not-a-secret-1", **extra,
    )["DBCluster"]


def cluster(cluster_id: str = CLUSTER) -> dict:
    return boto3.client("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]


def inventory() -> dict:
    """Everything in the (moto) account that deploy could create, as comparable data."""
    iam, lam, api, rds, logs, cloudwatch = (
        boto3.client(s) for s in ("iam", "lambda", "apigateway", "rds", "logs", "cloudwatch")
    )
    roles = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    apis = api.get_rest_apis()["items"]
    functions = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
    return {
        "roles": roles,
        "role_policies": {r: sorted(iam.list_role_policies(RoleName=r)["PolicyNames"]) for r in roles},
        "functions": functions,
        "permissions": {f: _statements(lam, f) for f in functions},
        "apis": sorted((a["name"], a["id"]) for a in apis),
        "resources": {a["id"]: sorted(r["path"] for r in api.get_resources(restApiId=a["id"])["items"]) for a in apis},
        "methods": {
            a["id"]: sorted(
                (r["path"], m)
                for r in api.get_resources(restApiId=a["id"])["items"]
                for m in r.get("resourceMethods", {})
            )
            for a in apis
        },
        "stages": {
            a["id"]: sorted(
                (s["stageName"], json.dumps([s.get("methodSettings"), s.get("accessLogSettings"), s.get("tags")]))
                for s in api.get_stages(restApiId=a["id"])["item"]
            )
            for a in apis
        },
        "dashboards": {
            d["DashboardName"]: cloudwatch.get_dashboard(DashboardName=d["DashboardName"])["DashboardBody"]
            for d in cloudwatch.list_dashboards()["DashboardEntries"]
        },
        "alarms": sorted(
            json.dumps({k: v for k, v in a.items() if not k.endswith("Timestamp") and not k.startswith("State")},
                       sort_keys=True)
            for a in cloudwatch.describe_alarms()["MetricAlarms"]
        ),
        "groups": sorted(g["GroupName"] for g in iam.list_groups()["Groups"]),
        "group_policies": {
            g["GroupName"]: sorted(iam.list_group_policies(GroupName=g["GroupName"])["PolicyNames"])
            for g in iam.list_groups()["Groups"]
        },
        "managed_policies": sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]),
        "parameter_groups": sorted(
            g["DBClusterParameterGroupName"]
            for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
            if not g["DBClusterParameterGroupName"].startswith("default.")
        ),
        "log_groups": sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]),
        "clusters": {
            c["DBClusterIdentifier"]: (
                c.get("DBClusterParameterGroup"),
                sorted(r["RoleArn"] for r in c.get("AssociatedRoles", [])),
            )
            for c in rds.describe_db_clusters()["DBClusters"]
        },
    }


def _statements(lam, function_name: str) -> list[str]:
    try:
        policy = json.loads(lam.get_policy(FunctionName=function_name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return sorted(statement["Sid"] for statement in policy["Statement"])


def the_api() -> dict:
    apis = [a for a in boto3.client("apigateway").get_rest_apis()["items"] if a["name"] == "fibtrigger-test"]
    assert len(apis) == 1
    return apis[0]


def root_post_method(api_id: str) -> dict:
    client = boto3.client("apigateway")
    root = next(r for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    return client.get_method(restApiId=api_id, resourceId=root["id"], httpMethod="POST")


def operations_during(action):
    """Run ``action(session)`` and return every AWS operation it called, by name."""
    session = boto3.Session()
    called: list[str] = []
    session.events.register("before-call", lambda model, **_: called.append(model.name))
    action(session)
    return called


# ----- deploy ---------------------------------------------------------------------------------


def test_deploy_creates_the_stack_and_reports_where_it_is(moto, package):
    report = deploy(StackSettings(), sleep=no_sleep, package=package)

    api = the_api()
    assert report.invoke_url == f"https://{api['id']}.execute-api.{REGION}.amazonaws.com/test/"
    assert report.function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fibtrigger-test"
    assert report.next_command == f"fibtrigger backend lambda --function-arn {report.function_arn}"
    assert report.count("create") > 0 and report.count("update") == 0
    function = boto3.client("lambda").get_function(FunctionName="fibtrigger-test")
    config = function["Configuration"]
    assert config["Handler"] == "lambda_handler.handler"
    assert config["Runtime"].startswith("python3.")
    assert (config["MemorySize"], config["Timeout"]) == (128, 10)
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(package.data).digest()).decode()
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/fibtrigger-test-lambda"
    assert function["Tags"] == {TAG_STACK: "fibtrigger", TAG_STAGE: "test"}
    assert api["tags"][TAG_STACK] == "fibtrigger"


def test_the_execution_role_trusts_lambda_and_only_writes_its_own_logs(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    iam = boto3.client("iam")
    role = iam.get_role(RoleName="fibtrigger-test-lambda")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert iam.list_attached_role_policies(RoleName="fibtrigger-test-lambda")["AttachedPolicies"] == []
    (name,) = iam.list_role_policies(RoleName="fibtrigger-test-lambda")["PolicyNames"]
    statement = iam.get_role_policy(RoleName="fibtrigger-test-lambda", PolicyName=name)["PolicyDocument"]["Statement"]
    assert statement == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fibtrigger-test:*",
        }
    ]
    (log_group,) = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/fibtrigger-test")[
        "logGroups"
    ]
    assert log_group["retentionInDays"] == 14


def test_the_api_method_uses_iam_auth_and_a_lambda_proxy_integration(moto, package):
    report = deploy(StackSettings(), sleep=no_sleep, package=package)
    api_id = the_api()["id"]
    method = root_post_method(api_id)
    assert method["authorizationType"] == "AWS_IAM"
    integration = method["methodIntegration"]
    assert integration["type"] == "AWS_PROXY"
    assert integration["httpMethod"] == "POST"
    assert integration["uri"] == (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{report.function_arn}/invocations"
    )
    stage = boto3.client("apigateway").get_stage(restApiId=api_id, stageName="test")
    assert stage["deploymentId"]


def test_the_lambda_permission_is_scoped_to_the_api(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    api_id = the_api()["id"]
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName="fibtrigger-test")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/test/POST/"
    )


def test_the_callers_group_may_invoke_exactly_the_api_stage_and_method(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    api_id = the_api()["id"]
    iam = boto3.client("iam")
    assert iam.get_group(GroupName="apiUsers")["Group"]["Path"] == "/fibtrigger/"
    (name,) = iam.list_group_policies(GroupName="apiUsers")["PolicyNames"]
    document = iam.get_group_policy(GroupName="apiUsers", PolicyName=name)["PolicyDocument"]
    assert document["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/test/POST/",
        }
    ]


def test_deploy_twice_creates_no_duplicates_and_changes_nothing(moto, package):
    create_cluster()
    settings = StackSettings(cluster=CLUSTER)
    first = deploy(settings, sleep=no_sleep, package=package)
    after_first = inventory()

    called = operations_during(lambda session: deploy(settings, session=session, sleep=no_sleep, package=package))
    second = Stack(AwsClients(boto3.Session(), no_sleep), settings, package).plan()

    assert inventory() == after_first
    assert not second.changed
    # Only keeps, and the access log that moto's account (no CloudWatch role) cannot have.
    assert {c.action for c in second.changes if c.kind != "API access log"} == {"keep"}
    assert second.invoke_url == first.invoke_url and second.function_arn == first.function_arn
    assert [op for op in called if not op.startswith(READ_ONLY_PREFIXES)] == []
    # One of each: API, POST method on /, stage, permission statement, group policy, roles, parameter group.
    api_id = the_api()["id"]
    assert after_first["methods"][api_id] == [("/", "POST")]
    assert after_first["resources"][api_id] == ["/"]
    assert [stage for stage, _ in after_first["stages"][api_id]] == ["test"]
    assert after_first["permissions"] == {"fibtrigger-test": ["fibtrigger-test-apigateway-invoke"]}
    assert after_first["group_policies"] == {"apiUsers": ["fibtrigger-test-invoke-api"]}
    assert after_first["roles"] == ["fibtrigger-test-aurora", "fibtrigger-test-lambda"]
    assert after_first["parameter_groups"] == ["fibtrigger-test-aurora-mysql80"]


def test_code_is_updated_only_when_the_package_sha256_differs(moto, package):
    settings = StackSettings()
    deploy(settings, sleep=no_sleep, package=package)
    changed = Package(_rezip(package.data, extra=b"# a new line\n"))

    def deploy_changed(session):
        report = deploy(settings, session=session, sleep=no_sleep, package=changed)
        assert [c.kind for c in report.changes if c.action == "update"] == ["Lambda code"]

    assert "UpdateFunctionCode" in operations_during(deploy_changed)
    config = boto3.client("lambda").get_function_configuration(FunctionName="fibtrigger-test")
    assert config["CodeSha256"] == code_sha256(changed) != code_sha256(package)
    again = operations_during(lambda session: deploy(settings, session=session, sleep=no_sleep, package=changed))
    assert "UpdateFunctionCode" not in again


def test_changed_settings_update_the_function_configuration_in_place(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    report = deploy(StackSettings(memory=256, timeout=30), sleep=no_sleep, package=package)
    changed = [(c.action, c.kind) for c in report.changes if c.action not in ("keep", "skip")]
    assert changed == [("update", "Lambda configuration")]
    config = boto3.client("lambda").get_function_configuration(FunctionName="fibtrigger-test")
    assert (config["MemorySize"], config["Timeout"]) == (256, 30)


def test_a_method_changed_by_hand_is_put_back_and_redeployed(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    api_id = the_api()["id"]
    client = boto3.client("apigateway")
    root = next(r for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    client.delete_method(restApiId=api_id, resourceId=root["id"], httpMethod="POST")
    client.put_method(restApiId=api_id, resourceId=root["id"], httpMethod="POST", authorizationType="NONE")
    report = deploy(StackSettings(), sleep=no_sleep, package=package)
    assert [(c.action, c.kind) for c in report.changes if c.action not in ("keep", "skip")] == [
        ("update", "API method"),
        ("create", "API integration"),
        ("update", "API stage"),
        # moto's CreateDeployment makes the stage anew, without its settings; deploy puts them back.
        ("create", "API stage settings"),
    ]
    method = root_post_method(api_id)
    assert method["authorizationType"] == "AWS_IAM"
    assert method["methodIntegration"]["type"] == "AWS_PROXY"
    assert not deploy(StackSettings(), sleep=no_sleep, package=package).changed


def test_a_second_stage_is_a_second_stack_sharing_the_callers_group(moto, package):
    deploy(StackSettings(stage="test"), sleep=no_sleep, package=package)
    deploy(StackSettings(stage="prod"), sleep=no_sleep, package=package)
    iam = boto3.client("iam")
    assert sorted(iam.list_group_policies(GroupName="apiUsers")["PolicyNames"]) == [
        "fibtrigger-prod-invoke-api",
        "fibtrigger-test-invoke-api",
    ]
    destroy(StackSettings(stage="test"), sleep=no_sleep)
    assert iam.list_group_policies(GroupName="apiUsers")["PolicyNames"] == ["fibtrigger-prod-invoke-api"]
    assert [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]] == ["fibtrigger-prod"]
    destroy(StackSettings(stage="prod"), sleep=no_sleep)
    assert iam.list_groups()["Groups"] == []


# ----- plan -----------------------------------------------------------------------------------


def test_plan_touches_nothing_and_lists_every_step(moto, package):
    create_cluster()
    before = inventory()
    settings = StackSettings(cluster=CLUSTER)
    reports = []
    called = operations_during(
        lambda session: reports.append(plan(settings, session=session, sleep=no_sleep, package=package))
    )
    (report,) = reports

    assert inventory() == before
    assert [op for op in called if not op.startswith(READ_ONLY_PREFIXES)] == []
    kinds = [(c.action, c.kind) for c in report.changes]
    assert kinds == [
        ("create", "log group"),
        ("create", "log group"),
        ("create", "IAM role"),
        ("create", "IAM role policy"),
        ("create", "Lambda function"),
        ("create", "REST API"),
        ("create", "API method"),
        ("create", "API integration"),
        ("create", "API stage"),
        ("skip", "API access log"),
        ("create", "API stage settings"),
        ("create", "Lambda permission"),
        ("create", "IAM group"),
        ("create", "IAM group policy"),
        ("create", "CloudWatch dashboard"),
        ("create", "CloudWatch alarm"),
        ("create", "CloudWatch alarm"),
        ("create", "CloudWatch alarm"),
        ("create", "IAM role"),
        ("create", "IAM role policy"),
        ("create", "cluster role"),
        ("create", "cluster parameter group"),
        ("create", "cluster parameter"),
        ("update", "Aurora cluster"),
    ]
    assert report.invoke_url is None  # the API does not exist yet


def test_plan_after_deploy_shows_only_what_changed(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    report = plan(StackSettings(timeout=20), sleep=no_sleep, package=package)
    assert [(c.action, c.kind, c.detail) for c in report.changes if c.action not in ("keep", "skip")] == [
        ("update", "Lambda configuration", "Timeout 20")
    ]
    config = boto3.client("lambda").get_function_configuration(FunctionName="fibtrigger-test")
    assert config["Timeout"] == 10


# ----- --cluster ------------------------------------------------------------------------------


def test_cluster_gets_the_role_and_the_parameter(moto, package):
    create_cluster()
    report = deploy(StackSettings(cluster=CLUSTER), sleep=no_sleep, package=package)

    iam = boto3.client("iam")
    role = iam.get_role(RoleName="fibtrigger-test-aurora")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "rds.amazonaws.com"}
    (name,) = iam.list_role_policies(RoleName="fibtrigger-test-aurora")["PolicyNames"]
    statement = iam.get_role_policy(RoleName="fibtrigger-test-aurora", PolicyName=name)["PolicyDocument"]["Statement"]
    assert statement == [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": report.function_arn}]

    described = cluster()
    assert [r["RoleArn"] for r in described["AssociatedRoles"]] == [role["Arn"]]
    assert described["DBClusterParameterGroup"] == "fibtrigger-test-aurora-mysql80"
    rds = boto3.client("rds")
    (group,) = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName="fibtrigger-test-aurora-mysql80")[
        "DBClusterParameterGroups"
    ]
    assert group["DBParameterGroupFamily"] == "aurora-mysql8.0"
    parameters = rds.describe_db_cluster_parameters(DBClusterParameterGroupName="fibtrigger-test-aurora-mysql80")
    values = {p["ParameterName"]: p["ParameterValue"] for p in parameters["Parameters"]}
    assert values[LAMBDA_ROLE_PARAMETER] == role["Arn"]

    notes = " ".join(report.notes)
    assert "reboot" in notes.lower() and "NAT gateway" in notes and "VPC endpoint" in notes
    assert "fibtrigger grants --role lambda-definer" in notes


def test_a_custom_parameter_group_is_copied_and_restored_on_destroy(moto, package):
    rds = boto3.client("rds")
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="team-settings", DBParameterGroupFamily="aurora-mysql8.0", Description="ours"
    )
    create_cluster(DBClusterParameterGroupName="team-settings")
    report = deploy(StackSettings(cluster=CLUSTER), sleep=no_sleep, package=package)
    assert ("create", "cluster parameter group", "copy of team-settings") in [
        (c.action, c.kind, c.detail) for c in report.changes
    ]
    assert cluster()["DBClusterParameterGroup"] == "fibtrigger-test-aurora-mysql80"

    destroy(StackSettings(cluster=CLUSTER), sleep=no_sleep)
    assert cluster()["DBClusterParameterGroup"] == "team-settings"
    names = [
        g["DBClusterParameterGroupName"] for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    ]
    assert "team-settings" in names and "fibtrigger-test-aurora-mysql80" not in names


def test_a_missing_cluster_stops_deploy_before_any_change(moto, package):
    before = inventory()
    with pytest.raises(ClusterNotFound, match="'nope' not found in eu-west-1"):
        deploy(StackSettings(cluster="nope"), sleep=no_sleep, package=package)
    assert inventory() == before


def test_a_cluster_that_is_not_aurora_mysql_3_is_refused(moto, package):
    boto3.client("rds").create_db_cluster(
        DBClusterIdentifier="pg",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )
    with pytest.raises(UnsupportedCluster, match="aurora-postgresql"):
        plan(StackSettings(cluster="pg"), sleep=no_sleep, package=package)


# ----- ownership ------------------------------------------------------------------------------


def test_a_same_named_untagged_role_is_refused_before_any_change(moto, package):
    iam = boto3.client("iam")
    iam.create_role(RoleName="fibtrigger-test-lambda", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    before = inventory()
    with pytest.raises(ResourceNotOwned, match="IAM role fibtrigger-test-lambda exists but is not tagged"):
        deploy(StackSettings(), sleep=no_sleep, package=package)
    assert inventory() == before


@pytest.mark.parametrize(
    "settings",
    [
        {"name": "bad_name"},
        {"name": "9lives"},
        {"name": "a--b"},
        {"name": "x" * 33},
        {"stage": "prod-"},
        {"users_group": "no spaces"},
        {"memory": 64},
        {"timeout": 901},
        {"runtime": "nodejs20.x"},
        {"cluster": "-bad"},
    ],
)
def test_bad_settings_are_refused(settings):
    with pytest.raises(InvalidArgument):
        StackSettings(**settings)


# ----- destroy --------------------------------------------------------------------------------


def test_destroy_leaves_nothing_behind_and_leaves_other_resources_alone(moto, package):
    iam, api, lam = boto3.client("iam"), boto3.client("apigateway"), boto3.client("lambda")
    # Unrelated things, some with fibtrigger's names or prefix but without its tags.
    iam.create_role(RoleName="fibtrigger-test-legacy", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    lookalike = api.create_rest_api(name="fibtrigger-test")["id"]
    other_role = iam.create_role(RoleName="someone-else", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    lam.create_function(
        FunctionName="fibtrigger-other",
        Runtime="python3.12",
        Role=other_role["Role"]["Arn"],
        Handler="x.handler",
        Code={"ZipFile": package.data},
    )
    create_cluster()
    before = inventory()

    deploy(StackSettings(cluster=CLUSTER), sleep=no_sleep, package=package)
    report = destroy(StackSettings(), sleep=no_sleep)  # no --cluster: destroy finds it from the tags

    after = inventory()
    # moto does not implement RemoveRoleFromDBCluster, so the (deleted) role's association stays there.
    assert ("skip", "cluster role") in [(c.action, c.kind) for c in report.changes]
    (cluster_group, associated) = after["clusters"].pop(CLUSTER)
    assert associated == [f"arn:aws:iam::{ACCOUNT}:role/fibtrigger-test-aurora"]
    assert cluster_group == before["clusters"].pop(CLUSTER)[0]
    assert after == before
    assert lookalike in [a["id"] for a in api.get_rest_apis()["items"]]
    assert report.count("delete") > 10


def test_destroy_runs_in_reverse_order(moto, package):
    create_cluster()
    deployed = deploy(StackSettings(cluster=CLUSTER), sleep=no_sleep, package=package)
    destroyed = destroy(StackSettings(cluster=CLUSTER), sleep=no_sleep)
    created_order = _first_positions([c.kind for c in deployed.changes if c.action != "keep"])
    deleted_order = _first_positions([c.kind for c in destroyed.changes])
    for earlier, later in [
        ("log group", "Lambda function"),
        ("Lambda function", "REST API"),
        ("REST API", "Lambda permission"),
        ("Lambda permission", "IAM group"),
        ("IAM group", "cluster parameter group"),
    ]:
        assert created_order[earlier] < created_order[later]
        assert deleted_order[earlier] > deleted_order[later]


def test_destroy_tolerates_resources_already_gone(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    boto3.client("lambda").delete_function(FunctionName="fibtrigger-test")
    boto3.client("apigateway").delete_rest_api(restApiId=the_api()["id"])
    destroy(StackSettings(), sleep=no_sleep)
    assert destroy(StackSettings(), sleep=no_sleep).changes == []
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_destroy_keeps_a_callers_group_it_did_not_create(moto, package):
    iam = boto3.client("iam")
    iam.create_group(GroupName="apiUsers")
    iam.put_group_policy(
        GroupName="apiUsers",
        PolicyName="theirs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
            }
        ),
    )
    report = deploy(StackSettings(), sleep=no_sleep, package=package)
    assert ("keep", "IAM group") in [(c.action, c.kind) for c in report.changes]
    destroy(StackSettings(), sleep=no_sleep)
    assert iam.list_group_policies(GroupName="apiUsers")["PolicyNames"] == ["theirs"]


def test_destroy_removes_members_of_the_group_it_created_but_not_the_users(moto, package):
    deploy(StackSettings(), sleep=no_sleep, package=package)
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    iam.add_user_to_group(GroupName="apiUsers", UserName="alice")
    destroy(StackSettings(), sleep=no_sleep)
    assert iam.list_groups()["Groups"] == []
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice"]


def _first_positions(kinds: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, kind in enumerate(kinds):
        positions.setdefault(kind, index)
    return positions


def _rezip(data: bytes, extra: bytes) -> bytes:
    """The same package with one more line in its first file: a different SHA-256."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, info in enumerate(source.infolist()):
            content = source.read(info)
            archive.writestr(info, content + extra if index == 0 else content)
    return target.getvalue()
