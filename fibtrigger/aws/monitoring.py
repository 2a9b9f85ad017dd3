"""What the stack is watched by, as data: the dashboard, the alarms, the stage's access log and metrics.

Deploy sends these to the APIs; the CloudFormation template declares the same data, with
``${...}`` placeholders where deploy has concrete names (one description, two consumers).
Metric names: namespace AWS/Lambda (dimension FunctionName) and AWS/ApiGateway (ApiName, Stage).
"""

import json
from dataclasses import dataclass

# One JSON object per request; $context variables of a REST API's access log.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "sourceIp": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "userArn": "$context.identity.userArn",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "errorMessage": "$context.error.message",
    },
    separators=(",", ":"),
)
# Detailed (per-method) CloudWatch metrics for every method of the stage.
METHOD_SETTINGS_PATH = "*/*"
PERIOD_SECONDS = 60
CLOUDWATCH_ROLE_ADVICE = (
    "API Gateway writes access logs only once the account names a CloudWatch role, once per region: "
    "create a role that trusts apigateway.amazonaws.com with the managed policy "
    "AmazonAPIGatewayPushToCloudWatchLogs, run `aws apigateway update-account --patch-operations "
    "op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN`, then deploy again."
)


@dataclass(frozen=True)
class Alarm:
    """One alarm: fires when the metric's sum over a minute reaches the threshold."""

    name: str
    description: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    threshold: float = 1.0

    def properties(self, topic: str | None) -> dict:
        """put_metric_alarm's parameters, which are also AWS::CloudWatch::Alarm's properties."""
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Statistic": "Sum",
            "Period": PERIOD_SECONDS,
            "EvaluationPeriods": 1,
            "Threshold": self.threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic] if topic else [],
        }


@dataclass(frozen=True)
class Watched:
    """The names the dashboard and alarms refer to (concrete, or template placeholders)."""

    prefix: str
    function_name: str
    api_name: str
    stage: str
    region: str
    marker: str  # the dashboard's first line: whose dashboard it is (destroy checks it)

    @property
    def lambda_dimensions(self) -> tuple[tuple[str, str], ...]:
        return (("FunctionName", self.function_name),)

    @property
    def api_dimensions(self) -> tuple[tuple[str, str], ...]:
        return (("ApiName", self.api_name), ("Stage", self.stage))

    def alarms(self) -> list[Alarm]:
        return [
            Alarm(f"{self.prefix}-lambda-errors", f"{self.function_name}: the function raised",
                  "AWS/Lambda", "Errors", self.lambda_dimensions),
            Alarm(f"{self.prefix}-lambda-throttles", f"{self.function_name}: invocations were throttled",
                  "AWS/Lambda", "Throttles", self.lambda_dimensions),
            Alarm(f"{self.prefix}-api-5xx", f"{self.api_name} stage {self.stage}: server errors (5XX)",
                  "AWS/ApiGateway", "5XXError", self.api_dimensions),
        ]

    def dashboard(self) -> dict:
        """The dashboard body: two columns of time series, one row per concern."""
        fn = ["FunctionName", self.function_name]
        api = ["ApiName", self.api_name, "Stage", self.stage]
        widgets = [
            ("Lambda invocations and errors", [
                ["AWS/Lambda", "Invocations", *fn, {"stat": "Sum"}],
                ["AWS/Lambda", "Errors", *fn, {"stat": "Sum"}],
            ]),
            ("Lambda duration (ms)", [
                ["AWS/Lambda", "Duration", *fn, {"stat": "p50", "label": "p50"}],
                ["AWS/Lambda", "Duration", *fn, {"stat": "p99", "label": "p99"}],
            ]),
            ("Lambda throttles and concurrent executions", [
                ["AWS/Lambda", "Throttles", *fn, {"stat": "Sum"}],
                ["AWS/Lambda", "ConcurrentExecutions", *fn, {"stat": "Maximum"}],
            ]),
            ("API requests, 4XX and 5XX", [
                ["AWS/ApiGateway", "Count", *api, {"stat": "Sum"}],
                ["AWS/ApiGateway", "4XXError", *api, {"stat": "Sum"}],
                ["AWS/ApiGateway", "5XXError", *api, {"stat": "Sum"}],
            ]),
            ("API latency (ms)", [
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p50", "label": "p50"}],
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p99", "label": "p99"}],
            ]),
        ]
        body = [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": self.marker}}]
        for index, (title, metrics) in enumerate(widgets):
            body.append({
                "type": "metric", "x": 12 * (index % 2), "y": 1 + 6 * (index // 2), "width": 12, "height": 6,
                "properties": {
                    "title": title, "region": self.region, "view": "timeSeries", "period": PERIOD_SECONDS,
                    "metrics": metrics,
                },
            })
        return {"widgets": body}


def marker(name: str, stage: str) -> str:
    return f"fibtrigger stack **{name}**, stage **{stage}**"


def console_url(partition: str, region: str, dashboard: str) -> str:
    """The dashboard in the CloudWatch console."""
    host = {
        "aws-cn": f"{region}.console.amazonaws.cn",
        "aws-us-gov": "console.amazonaws-us-gov.com",
    }.get(partition, f"{region}.console.aws.amazon.com")
    return f"https://{host}/cloudwatch/home?region={region}#dashboards/dashboard/{dashboard}"
