"""The dashboard, the alarms and the stage's metrics and access log that deploy adds (moto)."""

import json

import boto3
import pytest

from fibtrigger.aws import monitoring
from fibtrigger.aws.deploy import deploy, destroy, plan
from fibtrigger.aws.stack import TAG_STACK, TAG_STAGE, StackSettings
from fibtrigger.errors import InvalidArgument, ResourceNotOwned
from test_aws_deploy import ACCOUNT, REGION, aws_env, moto, no_sleep, package, the_api  # noqa: F401

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:fibtrigger-ops"
TAGS = {TAG_STACK: "fibtrigger", TAG_STAGE: "test"}


def cloudwatch_role() -> str:
    """What an operator does once per account and region so that API Gateway may write access logs."""
    arn = f"arn:aws:iam::{ACCOUNT}:role/apigateway-cloudwatch"
    boto3.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    )
    return arn


def metrics_of(body: dict) -> set[tuple[str, str, str]]:
    return {
        (metric[0], metric[1], metric[-1]["stat"])
        for widget in body["widgets"] if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    }


def test_the_dashboard_shows_the_function_and_the_api_stage(moto, package):  # noqa: F811
    report = deploy(StackSettings(), sleep=no_sleep, package=package)
    cloudwatch = boto3.client("cloudwatch")
    body = json.loads(cloudwatch.get_dashboard(DashboardName="fibtrigger-test")["DashboardBody"])
    assert metrics_of(body) == {
        ("AWS/Lambda", "Invocations", "Sum"), ("AWS/Lambda", "Errors", "Sum"),
        ("AWS/Lambda", "Duration", "p50"), ("AWS/Lambda", "Duration", "p99"),
        ("AWS/Lambda", "Throttles", "Sum"), ("AWS/Lambda", "ConcurrentExecutions", "Maximum"),
        ("AWS/ApiGateway", "Count", "Sum"), ("AWS/ApiGateway", "4XXError", "Sum"),
        ("AWS/ApiGateway", "5XXError", "Sum"), ("AWS/ApiGateway", "Latency", "p50"),
        ("AWS/ApiGateway", "Latency", "p99"),
    }
    for widget in body["widgets"][1:]:
        assert widget["properties"]["region"] == REGION
        for metric in widget["properties"]["metrics"]:
            dimensions = dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True))
            assert dimensions in ({"FunctionName": "fibtrigger-test"}, {"ApiName": "fibtrigger-test", "Stage": "test"})
    assert report.dashboard_url == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards/dashboard/fibtrigger-test"
    )


def test_alarms_are_named_after_the_stack_tagged_and_notify_the_topic(moto, package):  # noqa: F811
    deploy(StackSettings(alarm_topic=TOPIC), sleep=no_sleep, package=package)
    cloudwatch = boto3.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert sorted(alarms) == [
        "fibtrigger-test-api-5xx", "fibtrigger-test-lambda-errors", "fibtrigger-test-lambda-throttles",
    ]
    assert {(a["Namespace"], a["MetricName"]) for a in alarms.values()} == {
        ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/ApiGateway", "5XXError"),
    }
    api_alarm = alarms["fibtrigger-test-api-5xx"]
    assert api_alarm["Dimensions"] == [
        {"Name": "ApiName", "Value": "fibtrigger-test"}, {"Name": "Stage", "Value": "test"},
    ]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [TOPIC]
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Sum", 1.0, "GreaterThanOrEqualToThreshold"
        )
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        assert {t["Key"]: t["Value"] for t in tags} == TAGS

    # Without the topic the alarms stay, without actions: an update, not a new alarm.
    report = deploy(StackSettings(), sleep=no_sleep, package=package)
    assert [(c.action, c.name) for c in report.changes if c.kind == "CloudWatch alarm"] == [
        ("update", name) for name in
        ("fibtrigger-test-lambda-errors", "fibtrigger-test-lambda-throttles", "fibtrigger-test-api-5xx")
    ]
    assert all(a["AlarmActions"] == [] for a in cloudwatch.describe_alarms()["MetricAlarms"])


def test_the_stage_gets_detailed_metrics_and_a_json_access_log_with_retention(moto, package):  # noqa: F811
    cloudwatch_role()
    report = deploy(StackSettings(log_retention_days=30), sleep=no_sleep, package=package)
    api = boto3.client("apigateway")
    stage = api.get_stage(restApiId=the_api()["id"], stageName="test")
    assert stage["methodSettings"]["*/*"]["metricsEnabled"] is True
    destination = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/fibtrigger-test/access"
    assert stage["accessLogSettings"]["destinationArn"] == destination
    fields = json.loads(stage["accessLogSettings"]["format"])
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"
    assert stage["tags"] == TAGS
    logs = boto3.client("logs")
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/apigateway/fibtrigger-test/access")["logGroups"]
    assert group["retentionInDays"] == 30
    assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"] == TAGS
    assert report.advice == []
    again = plan(StackSettings(log_retention_days=30), sleep=no_sleep, package=package)
    assert {c.action for c in again.changes} == {"keep"}


def test_without_the_account_cloudwatch_role_the_access_log_is_skipped_and_explained(moto, package):  # noqa: F811
    report = deploy(StackSettings(), sleep=no_sleep, package=package)
    assert ("skip", "API access log") in [(c.action, c.kind) for c in report.changes]
    assert report.advice == [monitoring.CLOUDWATCH_ROLE_ADVICE]
    stage = boto3.client("apigateway").get_stage(restApiId=the_api()["id"], stageName="test")
    assert stage["methodSettings"]["*/*"]["metricsEnabled"] is True
    assert "accessLogSettings" not in stage or not stage["accessLogSettings"].get("destinationArn")
    cloudwatch_role()  # the operator follows the advice; the next deploy adds the log
    again = deploy(StackSettings(), sleep=no_sleep, package=package)
    changed = [(c.action, c.kind) for c in again.changes if c.action not in ("keep", "skip")]
    assert changed == [("update", "API stage settings")]


def test_a_dashboard_of_someone_else_is_refused_and_left_alone(moto, package):  # noqa: F811
    cloudwatch = boto3.client("cloudwatch")
    theirs = json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 1,
                                      "properties": {"markdown": "ops"}}]})
    cloudwatch.put_dashboard(DashboardName="fibtrigger-test", DashboardBody=theirs)
    with pytest.raises(ResourceNotOwned, match="CloudWatch dashboard fibtrigger-test"):
        deploy(StackSettings(), sleep=no_sleep, package=package)
    report = destroy(StackSettings(), sleep=no_sleep)
    assert [(c.action, c.kind) for c in report.changes] == [("skip", "CloudWatch dashboard")]
    assert cloudwatch.get_dashboard(DashboardName="fibtrigger-test")["DashboardBody"] == theirs


def test_destroy_removes_the_dashboard_alarms_and_access_log_group(moto, package):  # noqa: F811
    cloudwatch_role()
    deploy(StackSettings(alarm_topic=TOPIC), sleep=no_sleep, package=package)
    destroy(StackSettings(), sleep=no_sleep)
    cloudwatch = boto3.client("cloudwatch")
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []


@pytest.mark.parametrize("topic", ["arn:aws:sns:eu-west-1:123:short", "arn:aws:sqs:eu-west-1:123456789012:q", "ops"])
def test_a_bad_alarm_topic_is_refused(topic):
    with pytest.raises(InvalidArgument, match="--alarm-topic"):
        StackSettings(alarm_topic=topic)
