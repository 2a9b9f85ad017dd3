"""``fibtrigger aws template``: the stack as a CloudFormation template, for pipelines that deploy it themselves.

The template is built from what deploy uses: the names in :class:`StackSettings`, the policy
documents in ``policies``, the ARNs in :class:`Arns` and the dashboard and alarms in
``monitoring``. Where deploy has concrete values the template has ``${Name}``, ``${Stage}``,
``${AWS::Region}`` ... and each string holding one becomes an ``Fn::Sub``. Deploy's options are
the template's parameters (their defaults: the options given); the code comes from S3
(``CodeBucket``/``CodeKey``), uploaded from ``fibtrigger lambda package``.
"""

import json
from dataclasses import dataclass
from typing import Any

import yaml

from . import aurora, monitoring, policies
from .arns import Arns
from .stack import API_PATH, HANDLER, HTTP_METHOD, MAX_NAME, MAX_STAGE, TAG_CLUSTER, StackSettings, tag_list

PARTITION, REGION, ACCOUNT = "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}"
API_ID = "${Api}"  # Fn::Sub resolves a logical id to its Ref: the REST API's id
# The values CloudWatch Logs accepts for RetentionInDays.
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653]


@dataclass(frozen=True)
class _Placeholders(StackSettings):
    """StackSettings whose names are template parameters: every derived name keeps ``${Name}-${Stage}``."""

    def validate(self) -> None:  # the parameters' AllowedPattern checks the real values
        pass

    @property
    def parameter_group_name(self) -> str:
        return f"{self.prefix}-aurora-mysql80"  # RDS lower-cases it when it stores it


def _sub(value: Any) -> Any:
    """Every string holding a ``${...}`` placeholder becomes an Fn::Sub, everywhere in the tree."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if "${" in value else value
    if isinstance(value, list):
        return [_sub(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            return value  # already an intrinsic function
        return {key: _sub(item) for key, item in value.items()}
    return value


def _parameters(settings: StackSettings) -> dict:
    name_pattern = "[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*"
    return {
        "Name": {"Type": "String", "Default": settings.name, "AllowedPattern": name_pattern, "MaxLength": MAX_NAME,
                 "Description": "Prefix of every resource's name; also the fibtrigger:stack tag (--name)."},
        "Stage": {"Type": "String", "Default": settings.stage, "AllowedPattern": name_pattern, "MaxLength": MAX_STAGE,
                  "Description": "API Gateway stage; also part of every resource's name (--stage)."},
        "UsersGroup": {"Type": "String", "Default": settings.users_group, "AllowedPattern": r"[\w+=,.@-]{1,128}",
                       "Description": "IAM group of the API's callers, created by the stack (--users-group)."},
        "Memory": {"Type": "Number", "Default": settings.memory, "MinValue": 128, "MaxValue": 10240,
                   "Description": "Lambda memory in MB (--memory)."},
        "Timeout": {"Type": "Number", "Default": settings.timeout, "MinValue": 1, "MaxValue": 900,
                    "Description": "Lambda timeout in seconds (--timeout)."},
        "Runtime": {"Type": "String", "Default": settings.runtime, "AllowedPattern": r"python3\.[0-9]+",
                    "Description": "Lambda Python runtime (--runtime)."},
        "LogRetentionDays": {"Type": "Number", "Default": settings.log_retention_days,
                             "AllowedValues": RETENTION_DAYS,
                             "Description": "Days the function's and the API's logs are kept."},
        "AlarmTopic": {"Type": "String", "Default": settings.alarm_topic or "",
                       "Description": "SNS topic ARN the alarms notify; empty: no actions (--alarm-topic)."},
        "CodeBucket": {"Type": "String", "MinLength": 3,
                       "Description": "S3 bucket holding the zip that `fibtrigger lambda package` builds."},
        "CodeKey": {"Type": "String", "MinLength": 1, "Default": "fibtrigger/function.zip",
                    "Description": "S3 key of that zip."},
    }


def build(settings: StackSettings) -> dict:
    """The template as data."""
    s = _Placeholders(name="${Name}", stage="${Stage}", users_group="${UsersGroup}",
                      log_retention_days=0, cluster=settings.cluster)
    arns = Arns(PARTITION, REGION, ACCOUNT)
    function_arn = arns.function(s.function_name)
    execute_api = arns.execute_api(API_ID, s.stage, HTTP_METHOD, API_PATH)
    tags = tag_list(s.tags)
    retention = {"Ref": "LogRetentionDays"}
    watched = monitoring.Watched(prefix=s.prefix, function_name=s.function_name, api_name=s.api_name,
                                 stage=s.stage, region=REGION, marker=monitoring.marker(s.name, s.stage))
    resources: dict[str, dict] = {
        "FunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": s.log_group_name, "RetentionInDays": retention, "Tags": tags}},
        "AccessLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": s.access_log_group_name, "RetentionInDays": retention, "Tags": tags}},
        "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": s.lambda_role_name, "Description": f"fibtrigger stack {s.prefix}",
            "AssumeRolePolicyDocument": policies.trust(policies.LAMBDA_SERVICE),
            "Policies": [{"PolicyName": s.logs_policy_name,
                          "PolicyDocument": policies.function_logs(arns.log_group(s.log_group_name))}],
            "Tags": tags}},
        "Function": {"Type": "AWS::Lambda::Function", "DependsOn": "FunctionLogGroup", "Properties": {
            "FunctionName": s.function_name,
            "Description": f"fibtrigger: Fibonacci behind the fibonacci table's trigger ({s.prefix})",
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
            "Runtime": {"Ref": "Runtime"}, "Handler": HANDLER, "Timeout": {"Ref": "Timeout"},
            "MemorySize": {"Ref": "Memory"}, "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Tags": tags}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": s.api_name,
            "Description": f"fibtrigger stack {s.prefix}: POST / computes Fibonacci (IAM auth)",
            "EndpointConfiguration": {"Types": ["REGIONAL"]}, "Tags": tags}},
        "Method": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": HTTP_METHOD, "AuthorizationType": "AWS_IAM", "ApiKeyRequired": False,
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST",
                            "Uri": arns.lambda_integration_uri(function_arn)}}},
        "Deployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": "Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Description": f"fibtrigger stack {s.prefix}"}},
        "ApiStage": {"Type": "AWS::ApiGateway::Stage", "Properties": {
            "RestApiId": {"Ref": "Api"}, "StageName": {"Ref": "Stage"}, "DeploymentId": {"Ref": "Deployment"},
            "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True}],
            "AccessLogSetting": {"DestinationArn": arns.log_group(s.access_log_group_name),
                                 "Format": monitoring.ACCESS_LOG_FORMAT},
            "Tags": tags}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "Function"}, "Action": "lambda:InvokeFunction",
            "Principal": policies.API_GATEWAY_SERVICE, "SourceArn": execute_api}},
        "CallersGroup": {"Type": "AWS::IAM::Group", "Properties": {
            "GroupName": {"Ref": "UsersGroup"}, "Path": s.group_path}},
        "UsersPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": s.invoke_api_policy_name, "Groups": [{"Ref": "CallersGroup"}],
            "PolicyDocument": policies.invoke_api(execute_api)}},
        "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
            "DashboardName": s.dashboard_name,
            "DashboardBody": json.dumps(watched.dashboard(), separators=(",", ":"))}},
    }
    for alarm, logical_id in zip(watched.alarms(), ("ErrorsAlarm", "ThrottlesAlarm", "Api5xxAlarm"), strict=True):
        properties = alarm.properties(None)
        properties["AlarmActions"] = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}
        resources[logical_id] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {**properties, "Tags": tags}}
    outputs = {
        "InvokeUrl": {"Description": "POST {\"fib\": N}, SigV4-signed (execute-api)",
                      "Value": f"https://{API_ID}.execute-api.{REGION}.amazonaws.com/{s.stage}/"},
        "FunctionArn": {"Description": "fibtrigger backend lambda --function-arn ...",
                        "Value": {"Fn::GetAtt": ["Function", "Arn"]}},
        "DashboardUrl": {"Value": monitoring.console_url("aws", REGION, s.dashboard_name)},
    }
    if settings.cluster:
        cluster_tags = tag_list({**s.tags, TAG_CLUSTER: settings.cluster})
        resources["AuroraRole"] = {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": s.aurora_role_name, "Description": f"fibtrigger stack {s.prefix}",
            "AssumeRolePolicyDocument": policies.trust(policies.RDS_SERVICE),
            "Policies": [{"PolicyName": s.aurora_policy_name,
                          "PolicyDocument": policies.invoke_function(function_arn)}],
            "Tags": cluster_tags}}
        resources["ClusterParameterGroup"] = {"Type": "AWS::RDS::DBClusterParameterGroup", "Properties": {
            "DBClusterParameterGroupName": s.parameter_group_name, "Family": aurora.AURORA_FAMILY,
            "Description": f"fibtrigger stack {s.prefix}: {aurora.LAMBDA_ROLE_PARAMETER} for {settings.cluster}",
            "Parameters": {aurora.LAMBDA_ROLE_PARAMETER: {"Fn::GetAtt": ["AuroraRole", "Arn"]}},
            "Tags": cluster_tags}}
        outputs["AuroraRoleArn"] = {
            "Description": f"Associate it: aws rds add-role-to-db-cluster --db-cluster-identifier {settings.cluster} "
                           "--role-arn THIS",
            "Value": {"Fn::GetAtt": ["AuroraRole", "Arn"]}}
        outputs["ClusterParameterGroup"] = {
            "Description": f"Attach it: aws rds modify-db-cluster --db-cluster-identifier {settings.cluster} "
                           "--db-cluster-parameter-group-name THIS --apply-immediately, then reboot the writer",
            "Value": {"Ref": "ClusterParameterGroup"}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "fibtrigger: the Fibonacci Lambda behind an IAM-authorized REST API, its callers' group, "
            "dashboard and alarms (generated by `fibtrigger aws template`). The stage's access log needs "
            "the account's API Gateway CloudWatch role (AWS::ApiGateway::Account) in this region."
        ),
        "Parameters": _parameters(settings),
        "Conditions": {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopic"}, ""]}]}},
        "Resources": _sub(resources),
        "Outputs": _sub(outputs),
    }


class _Dumper(yaml.SafeDumper):
    """No anchors and aliases (&id001 / *id001) for shared values: CloudFormation rejects them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(settings: StackSettings) -> str:
    """The template as YAML (long-form intrinsic functions, which every YAML tool reads)."""
    return yaml.dump(build(settings), Dumper=_Dumper, sort_keys=False, width=120)
