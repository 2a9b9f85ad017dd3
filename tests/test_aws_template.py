"""`fibtrigger aws template`: cfn-lint accepts it, and it declares what deploy creates, resource by resource."""

import json
import re
import subprocess

import boto3
import pytest
import yaml

from fibtrigger.aws import template
from fibtrigger.aws.deploy import deploy
from fibtrigger.aws.stack import StackSettings
from fibtrigger.cli import main
from installed_tools import installed_tool
from test_aws_deploy import ACCOUNT, CLUSTER, REGION, aws_env, create_cluster, moto, no_sleep, package  # noqa: F401

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:fibtrigger-ops"
SETTINGS = [
    StackSettings(),
    StackSettings(name="shop", stage="prod", cluster=CLUSTER, alarm_topic=TOPIC, memory=256, timeout=20,
                  users_group="fibCallers", log_retention_days=30),
]


def cfn_lint() -> str:
    found = installed_tool("cfn-lint")
    if found is None:
        pytest.fail("cfn-lint is missing: install the test extra")
    return found


def test_the_templates_pass_cfn_lint(tmp_path):
    paths = []
    for number, settings in enumerate(SETTINGS):
        path = tmp_path / f"template-{number}.yaml"
        path.write_text(template.render(settings))
        paths.append(str(path))
    done = subprocess.run([cfn_lint(), *paths], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_cli_writes_the_template_with_the_options_as_defaults(tmp_path, capsys):
    output = tmp_path / "stack.yaml"
    assert main(["aws", "template", "--name", "shop", "--stage", "prod", "--memory", "256", "-o", str(output)]) == 0
    assert capsys.readouterr().err == f"{output}: 15 resources; deploy it with CodeBucket and CodeKey set\n"
    parsed = yaml.safe_load(output.read_text())
    defaults = {name: p.get("Default") for name, p in parsed["Parameters"].items()}
    assert defaults["Name"] == "shop" and defaults["Stage"] == "prod" and defaults["Memory"] == 256
    assert "Default" not in parsed["Parameters"]["CodeBucket"]
    assert main(["aws", "template", "--memory", "64"]) == 2
    assert main(["aws", "template"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == template.build(StackSettings())


# ----- the template against what deploy made --------------------------------------------------


class Resolver:
    """CloudFormation's intrinsic functions, evaluated with the parameters and what deploy created."""

    def __init__(self, parameters: dict, refs: dict, attributes: dict, conditions: dict):
        self.values = {**parameters, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                       **refs}
        self.attributes = attributes
        self.conditions = conditions

    def __call__(self, value):
        if isinstance(value, list):
            return [item for item in map(self, value) if item is not NotImplemented]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return NotImplemented if value["Ref"] == "AWS::NoValue" else self.values[value["Ref"]]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self.values[m[1]]), value["Fn::Sub"])
        if set(value) == {"Fn::GetAtt"}:
            return self.attributes[tuple(value["Fn::GetAtt"])]
        if set(value) == {"Fn::If"}:
            condition, then, otherwise = value["Fn::If"]
            return self(then if self.conditions[condition] else otherwise)
        resolved = {key: self(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NotImplemented}


def tags(value) -> dict:
    return value if isinstance(value, dict) else {t["Key"]: t["Value"] for t in value or []}


def actual(kind: str, p: dict, api_id: str) -> dict:
    """What AWS (moto) holds for a declared resource, in the declaration's own terms."""
    iam, lam, api, logs, cw, rds = (
        boto3.client(s) for s in ("iam", "lambda", "apigateway", "logs", "cloudwatch", "rds")
    )
    if kind == "AWS::Logs::LogGroup":
        (group,) = logs.describe_log_groups(logGroupNamePrefix=p["LogGroupName"])["logGroups"]
        return {"LogGroupName": group["logGroupName"], "RetentionInDays": group["retentionInDays"],
                "Tags": logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]}
    if kind == "AWS::IAM::Role":
        role = iam.get_role(RoleName=p["RoleName"])["Role"]
        names = iam.list_role_policies(RoleName=p["RoleName"])["PolicyNames"]
        return {"RoleName": role["RoleName"], "Description": role["Description"],
                "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
                "Policies": [{"PolicyName": n, "PolicyDocument": iam.get_role_policy(
                    RoleName=p["RoleName"], PolicyName=n)["PolicyDocument"]} for n in names],
                "Tags": tags(role["Tags"])}
    if kind == "AWS::Lambda::Function":
        f = lam.get_function(FunctionName=p["FunctionName"])
        c = f["Configuration"]
        return {key: c[key] for key in ("FunctionName", "Description", "Runtime", "Handler", "Timeout",
                                        "MemorySize", "Role")} | {"Tags": f["Tags"]}
    if kind == "AWS::ApiGateway::RestApi":
        a = api.get_rest_api(restApiId=api_id)
        return {"Name": a["name"], "Description": a["description"],
                "EndpointConfiguration": {"Types": a["endpointConfiguration"]["types"]}, "Tags": a["tags"]}
    if kind == "AWS::ApiGateway::Method":
        m = api.get_method(restApiId=api_id, resourceId=p["ResourceId"], httpMethod=p["HttpMethod"])
        i = m["methodIntegration"]
        return {"RestApiId": api_id, "ResourceId": p["ResourceId"], "HttpMethod": m["httpMethod"],
                "AuthorizationType": m["authorizationType"], "ApiKeyRequired": m["apiKeyRequired"],
                "Integration": {"Type": i["type"], "IntegrationHttpMethod": i["httpMethod"], "Uri": i["uri"]}}
    if kind == "AWS::ApiGateway::Stage":
        s = api.get_stage(restApiId=api_id, stageName=p["StageName"])
        return {"RestApiId": api_id, "StageName": s["stageName"], "DeploymentId": s["deploymentId"],
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*",
                                    "MetricsEnabled": s["methodSettings"]["*/*"]["metricsEnabled"]}],
                "AccessLogSetting": {"DestinationArn": s["accessLogSettings"]["destinationArn"],
                                     "Format": s["accessLogSettings"]["format"]},
                "Tags": s["tags"]}
    if kind == "AWS::ApiGateway::Deployment":
        (stage,) = api.get_stages(restApiId=api_id)["item"]
        return {"RestApiId": api.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"]) and api_id}
    if kind == "AWS::Lambda::Permission":
        (statement,) = json.loads(lam.get_policy(FunctionName=p["FunctionName"])["Policy"])["Statement"]
        return {"FunctionName": p["FunctionName"], "Action": statement["Action"],
                "Principal": statement["Principal"]["Service"],
                "SourceArn": statement["Condition"]["ArnLike"]["AWS:SourceArn"]}
    if kind == "AWS::IAM::Group":
        g = iam.get_group(GroupName=p["GroupName"])["Group"]
        return {"GroupName": g["GroupName"], "Path": g["Path"]}
    if kind == "AWS::IAM::Policy":
        (group,) = p["Groups"]
        return {"PolicyName": p["PolicyName"], "Groups": [group], "PolicyDocument": iam.get_group_policy(
            GroupName=group, PolicyName=p["PolicyName"])["PolicyDocument"]}
    if kind == "AWS::CloudWatch::Dashboard":
        d = cw.get_dashboard(DashboardName=p["DashboardName"])
        return {"DashboardName": d["DashboardName"], "DashboardBody": d["DashboardBody"]}
    if kind == "AWS::CloudWatch::Alarm":
        (a,) = cw.describe_alarms(AlarmNames=[p["AlarmName"]])["MetricAlarms"]
        return {key: a[key] for key in p if key != "Tags"} | {
            "Tags": tags(cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"])}
    if kind == "AWS::RDS::DBClusterParameterGroup":
        name = p["DBClusterParameterGroupName"].lower()
        (g,) = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name)["DBClusterParameterGroups"]
        values = {x["ParameterName"]: x["ParameterValue"] for x in rds.describe_db_cluster_parameters(
            DBClusterParameterGroupName=name, Source="user")["Parameters"]}
        found = tags(rds.list_tags_for_resource(ResourceName=g["DBClusterParameterGroupArn"])["TagList"])
        # Deploy also notes the group the cluster used before, to restore it; the template attaches nothing.
        found.pop("fibtrigger:previous-parameter-group")
        return {"DBClusterParameterGroupName": p["DBClusterParameterGroupName"], "Family": g["DBParameterGroupFamily"],
                "Description": g["Description"], "Parameters": values, "Tags": found}
    raise AssertionError(f"the template declares {kind}, which this test does not know: compare it here")


@pytest.mark.parametrize("settings", SETTINGS, ids=["defaults", "every-option"])
def test_the_template_declares_what_deploy_creates(moto, package, settings):  # noqa: F811
    boto3.client("apigateway").update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": f"arn:aws:iam::{ACCOUNT}:role/apigw-logs"}])
    if settings.cluster:
        create_cluster()
    report = deploy(settings, sleep=no_sleep, package=package)
    api_id = report.invoke_url.split("//")[1].split(".")[0]
    declared = template.build(settings)
    parameters = {name: p.get("Default") for name, p in declared["Parameters"].items()}
    root = next(r["id"] for r in boto3.client("apigateway").get_resources(restApiId=api_id)["items"])
    stage = boto3.client("apigateway").get_stage(restApiId=api_id, stageName=settings.stage)
    iam = boto3.client("iam")
    resolve = Resolver(
        parameters,
        refs={"Api": api_id, "Function": settings.function_name, "CallersGroup": settings.users_group,
              "Deployment": stage["deploymentId"], "ClusterParameterGroup": settings.parameter_group_name},
        attributes={("Api", "RootResourceId"): root, ("Function", "Arn"): report.function_arn,
                    ("FunctionRole", "Arn"): iam.get_role(RoleName=settings.lambda_role_name)["Role"]["Arn"],
                    **({("AuroraRole", "Arn"): iam.get_role(RoleName=settings.aurora_role_name)["Role"]["Arn"]}
                       if settings.cluster else {})},
        conditions={"HasAlarmTopic": bool(settings.alarm_topic)},
    )
    kinds = set()
    for logical_id, resource in declared["Resources"].items():
        wanted = resolve(resource["Properties"])
        wanted.pop("Code", None)  # deploy uploads the zip; the template names it in S3
        if "Tags" in wanted:
            wanted["Tags"] = tags(wanted["Tags"])
        if resource["Type"] == "AWS::ApiGateway::Deployment":
            del wanted["Description"]  # deploy's fingerprints the API's setup, to redeploy when it changes
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            wanted["DashboardBody"] = json.loads(wanted["DashboardBody"])
            got = actual(resource["Type"], wanted, api_id)
            got["DashboardBody"] = json.loads(got["DashboardBody"])
        else:
            got = actual(resource["Type"], wanted, api_id)
        assert got == wanted, logical_id
        kinds.add(resource["Type"])
    # And the other way round: every kind of thing deploy made is declared (a new kind fails here).
    made = {KIND_TO_TYPE[change.kind] for change in report.changes if change.kind != "API access log"}
    assert made - {None} <= kinds


# deploy's report kinds -> the CloudFormation type that declares them (None: part of another resource,
# or the cluster's own settings, which a template cannot change on a cluster it does not own).
KIND_TO_TYPE = {
    "log group": "AWS::Logs::LogGroup", "IAM role": "AWS::IAM::Role", "IAM role policy": "AWS::IAM::Role",
    "Lambda function": "AWS::Lambda::Function", "Lambda code": "AWS::Lambda::Function",
    "Lambda configuration": "AWS::Lambda::Function", "REST API": "AWS::ApiGateway::RestApi",
    "API method": "AWS::ApiGateway::Method", "API integration": "AWS::ApiGateway::Method",
    "API stage": "AWS::ApiGateway::Stage", "API stage settings": "AWS::ApiGateway::Stage",
    "Lambda permission": "AWS::Lambda::Permission", "IAM group": "AWS::IAM::Group",
    "IAM group policy": "AWS::IAM::Policy", "CloudWatch dashboard": "AWS::CloudWatch::Dashboard",
    "CloudWatch alarm": "AWS::CloudWatch::Alarm", "cluster parameter group": "AWS::RDS::DBClusterParameterGroup",
    "cluster parameter": "AWS::RDS::DBClusterParameterGroup", "cluster role": None, "Aurora cluster": None,
}
