"""Plan and deploy the stack, and the Python twins of ``fibtrigger aws plan | deploy | destroy``.

Deploy creates or updates, in order: the function's log group and execution role, the
function, the REST API (POST / with AWS_IAM, an AWS_PROXY integration, a deployment to the
stage), API Gateway's permission to invoke the function, the callers' IAM group and its
policy and, with ``--cluster``, the cluster's access (see ``aurora``). Plan runs the same
steps with a :class:`Recorder` that does not apply them.
"""

import hashlib
import json
import time
from functools import partial
from typing import Any

import boto3

from ..errors import ResourceNotOwned
from . import aurora, monitoring, policies
from . import package as lambda_package
from .clients import API_MISSING, IAM_MISSING, AwsClients, Sleep, role_not_ready_or_busy, session_for
from .destroy import destroy_stack
from .package import Package
from .report import Recorder, Report
from .resources import Resources
from .stack import API_PATH, HANDLER, HTTP_METHOD, StackSettings, document, tag_list

NEW_API_ID = "<new-api-id>"


def code_sha256(package: Package) -> str:
    return package.code_sha256


class Stack:
    """One stack (``StackSettings``) in one account and region, driven through :class:`AwsClients`."""

    def __init__(self, aws: AwsClients, settings: StackSettings, package: Package | None = None):
        self.aws = aws
        self.settings = settings
        self._package = package

    @property
    def package(self) -> Package:
        if self._package is None:
            self._package = lambda_package.build()
        return self._package

    def plan(self) -> Report:
        """What deploy would create or change. Only reads: it touches nothing."""
        return _Deployment(Resources(self.aws, self.settings), self.package).run(Recorder(apply=False))

    def deploy(self) -> Report:
        """Create or update everything, in order; running it again changes nothing.

        A read-only pass runs first, so a conflict (a same-named resource that fibtrigger did
        not create, a missing cluster) stops deploy before it changes anything."""
        deployment = _Deployment(Resources(self.aws, self.settings), self.package)
        deployment.run(Recorder(apply=False))
        return deployment.run(Recorder(apply=True))

    def destroy(self) -> Report:
        """Delete what deploy created, in reverse order; gone is fine, untagged is left alone."""
        return destroy_stack(Resources(self.aws, self.settings))


class _Deployment:
    def __init__(self, res: Resources, package: Package):
        self.res = res
        self.aws = res.aws
        self.settings = res.settings
        self.arns = res.arns
        self.package = package

    def run(self, run: Recorder) -> Report:
        s = self.settings
        cluster = aurora.describe_cluster(self.aws, s.cluster) if s.cluster else None
        self._log_group(run, s.log_group_name)
        self._log_group(run, s.access_log_group_name)
        role_arn = self.res.ensure_role(
            run, s.lambda_role_name, policies.LAMBDA_SERVICE, s.logs_policy_name,
            policies.function_logs(self.arns.log_group(s.log_group_name)),
        )
        function_arn = self._function(run, role_arn)
        api_id = self._api(run, function_arn)
        advice = self._stage_settings(run, api_id)
        self._permission(run, api_id)
        self._users_group(run, api_id)
        self._dashboard(run)
        self._alarms(run)
        report = Report(self.res.identity.region, self.res.identity.account, run.changes, function_arn=function_arn)
        report.advice.extend(advice)
        report.dashboard_url = monitoring.console_url(self.arns.partition, self.arns.region, s.dashboard_name)
        if api_id:
            report.invoke_url = self.arns.invoke_url(api_id, s.stage)
        if cluster is not None:
            aurora.ensure_access(self.res, run, cluster, function_arn)
            report.notes.extend(aurora.notes(self.res.identity.region, cluster))
        return report

    def _log_group(self, run: Recorder, name: str) -> None:
        """Deploy creates the log groups (Lambda would otherwise), so they are tagged and expire."""
        s = self.settings

        def set_retention() -> None:
            self.aws.call("logs", "put_retention_policy", logGroupName=name, retentionInDays=s.log_retention_days)

        def create() -> None:
            self.aws.call("logs", "create_log_group", logGroupName=name, tags=s.tags)
            set_retention()

        group = self.res.log_group(name)
        retention = f"{s.log_retention_days} days retention"
        if group is None:
            run.change("create", "log group", name, create, retention)
        elif not self.res.owns(self.res.log_group_tags(group)):
            run.skip("log group", name, "exists, not created by fibtrigger: left alone")
        elif group.get("retentionInDays") != s.log_retention_days:
            run.change("update", "log group", name, set_retention, retention)
        else:
            run.keep("log group", name)

    def _stage_settings(self, run: Recorder, api_id: str | None) -> list[str]:
        """Detailed metrics and a JSON access log on the stage, and its tags; returns advice for the user."""
        s = self.settings
        stage = (self.res.api_stage(api_id) if api_id else None) or {}
        operations, details, advice = [], [], []
        metrics = (stage.get("methodSettings") or {}).get(monitoring.METHOD_SETTINGS_PATH) or {}
        if not metrics.get("metricsEnabled"):
            operations.append({"op": "replace", "path": f"/{monitoring.METHOD_SETTINGS_PATH}/metrics/enabled",
                               "value": "true"})
            details.append("detailed metrics")
        account = self.aws.call("apigateway", "get_account") or {}
        wanted_log = {
            "destinationArn": self.arns.log_group(s.access_log_group_name), "format": monitoring.ACCESS_LOG_FORMAT,
        }
        if not account.get("cloudwatchRoleArn"):
            # API Gateway refuses an access log until the account (per region) names a CloudWatch role.
            run.skip("API access log", s.stage, "this account and region have no API Gateway CloudWatch role")
            advice.append(monitoring.CLOUDWATCH_ROLE_ADVICE)
        elif (stage.get("accessLogSettings") or {}) != wanted_log:
            operations += [
                {"op": "replace", "path": f"/accessLogSettings/{key}", "value": value}
                for key, value in wanted_log.items()
            ]
            details.append(f"JSON access log to {s.access_log_group_name}")
        label = f"{s.stage} ({s.api_name})"
        tagged = self.res.owns(stage.get("tags"))
        if not tagged:
            details.append("tags")

        def apply() -> None:
            assert api_id is not None  # the API exists by the time changes apply
            if operations:
                self.aws.call(
                    "apigateway", "update_stage", restApiId=api_id, stageName=s.stage, patchOperations=operations
                )
            if not tagged:
                self.aws.call(
                    "apigateway", "tag_resource", resourceArn=self.arns.api_stage(api_id, s.stage), tags=s.tags
                )

        if details:
            action = "create" if not stage.get("methodSettings") else "update"
            run.change(action, "API stage settings", label, apply, ", ".join(details))
        else:
            run.keep("API stage settings", label)
        return advice

    def _dashboard(self, run: Recorder) -> None:
        s = self.settings
        body = self.res.watched().dashboard()
        current = self.res.dashboard()

        def put() -> None:
            self.aws.call(
                "cloudwatch", "put_dashboard", DashboardName=s.dashboard_name,
                DashboardBody=json.dumps(body, separators=(",", ":")),
            )

        detail = f"{len(body['widgets']) - 1} graphs"
        if current is None:
            run.change("create", "CloudWatch dashboard", s.dashboard_name, put, detail)
        elif not self.res.owns_dashboard(current):
            raise ResourceNotOwned(
                f"CloudWatch dashboard {s.dashboard_name} exists but was not created by fibtrigger for this stack: "
                "fibtrigger leaves it alone; choose another --name or --stage"
            )
        elif json.loads(current["DashboardBody"]) != body:
            run.change("update", "CloudWatch dashboard", s.dashboard_name, put, detail)
        else:
            run.keep("CloudWatch dashboard", s.dashboard_name)

    def _alarms(self, run: Recorder) -> None:
        s = self.settings
        existing = self.res.alarms()
        for alarm in self.res.watched().alarms():
            wanted = alarm.properties(s.alarm_topic)
            current = existing.get(alarm.name)
            detail = f"{alarm.namespace} {alarm.metric} >= {alarm.threshold:g} in {monitoring.PERIOD_SECONDS} s" + (
                f", notifies {s.alarm_topic}" if s.alarm_topic else ""
            )
            if current is None:
                run.change(
                    "create", "CloudWatch alarm", alarm.name,
                    partial(self.aws.call, "cloudwatch", "put_metric_alarm", Tags=tag_list(s.tags), **wanted),
                    detail,
                )
                continue
            self.res.require_ours("CloudWatch alarm", alarm.name, self.res.alarm_tags(current))
            if any(current.get(key) != value for key, value in wanted.items()):
                run.change(
                    "update", "CloudWatch alarm", alarm.name,
                    partial(self.aws.call, "cloudwatch", "put_metric_alarm", **wanted),
                    detail,
                )
            else:
                run.keep("CloudWatch alarm", alarm.name)

    def _function(self, run: Recorder, role_arn: str) -> str:
        s = self.settings
        name = s.function_name
        wanted: dict[str, Any] = {
            "Runtime": s.runtime, "Handler": HANDLER, "Timeout": s.timeout, "MemorySize": s.memory, "Role": role_arn,
        }
        function = self.res.function()
        if function is None:
            def create() -> None:
                self.aws.call(
                    "lambda", "create_function", retry_if=role_not_ready_or_busy,
                    FunctionName=name, Code={"ZipFile": self.package.data},
                    Description=f"fibtrigger: Fibonacci behind the fibonacci table's trigger ({s.prefix})",
                    Tags=s.tags, **wanted,
                )
                self.aws.wait_for_function(name)
            run.change(
                "create", "Lambda function", name, create,
                f"{s.runtime}, {s.memory} MB, {s.timeout} s, package {self.package.size} bytes",
            )
            return self.arns.function(name)
        self.res.require_ours("Lambda function", name, function.get("Tags"))
        config = function["Configuration"]
        if run.apply:  # a previous update may still run; Lambda refuses changes until it ends
            config = self.aws.wait_for_function(name)
        if config.get("CodeSha256") != code_sha256(self.package):
            def update_code() -> None:
                self.aws.call(
                    "lambda", "update_function_code", retry_if=role_not_ready_or_busy,
                    FunctionName=name, ZipFile=self.package.data,
                )
                self.aws.wait_for_function(name)
            run.change("update", "Lambda code", name, update_code, f"package sha256 {self.package.sha256[:12]}")
        else:
            run.keep("Lambda code", name, "package unchanged")
        differences = {key: value for key, value in wanted.items() if config.get(key) != value}
        if differences:
            def update_configuration() -> None:
                self.aws.call(
                    "lambda", "update_function_configuration", retry_if=role_not_ready_or_busy,
                    FunctionName=name, **differences,
                )
                self.aws.wait_for_function(name)
            run.change(
                "update", "Lambda configuration", name, update_configuration,
                ", ".join(f"{key} {value}" for key, value in differences.items()),
            )
        else:
            run.keep("Lambda configuration", name)
        return config.get("FunctionArn") or self.arns.function(name)

    def _api(self, run: Recorder, function_arn: str) -> str | None:
        """The REST API: POST / with AWS_IAM, an AWS_PROXY integration, a deployment to the stage."""
        s = self.settings
        apis = self.res.apis()
        if apis:
            api_id: str | None = apis[0]["id"]
            run.keep("REST API", f"{s.api_name} ({api_id})")
        else:
            created = run.change(
                "create", "REST API", s.api_name,
                lambda: self.aws.call(
                    "apigateway", "create_rest_api", name=s.api_name,
                    description=f"fibtrigger stack {s.prefix}: POST / computes Fibonacci (IAM auth)",
                    endpointConfiguration={"types": ["REGIONAL"]}, tags=s.tags,
                ),
                "regional",
            )
            api_id = created["id"] if created else None
        changes_before = run.count_changes()
        resource_id = self._root_resource(api_id) if api_id else None
        method = None
        if resource_id:
            method = self.aws.call(
                "apigateway", "get_method", restApiId=api_id, resourceId=resource_id, httpMethod=HTTP_METHOD,
                missing=API_MISSING,
            )
        label = f"{HTTP_METHOD} {API_PATH}"
        target: dict[str, Any] = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": HTTP_METHOD}

        def put_method() -> None:
            self.aws.call("apigateway", "put_method", authorizationType="AWS_IAM", apiKeyRequired=False, **target)

        def replace_method() -> None:
            # Delete and put rather than update_method, which emulators (moto) lack; the
            # integration goes with the method and is put again below.
            self.aws.call("apigateway", "delete_method", missing=API_MISSING, **target)
            put_method()

        integration = (method or {}).get("methodIntegration")
        if method is None:
            run.change("create", "API method", label, put_method, "authorization AWS_IAM")
        elif method.get("authorizationType") != "AWS_IAM":
            run.change(
                "update", "API method", label, replace_method,
                f"authorization {method.get('authorizationType')} -> AWS_IAM",
            )
            integration = None
        else:
            run.keep("API method", label, "authorization AWS_IAM")
        uri = self.arns.lambda_integration_uri(function_arn)
        wanted = {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri}
        if integration and all(integration.get(key) == value for key, value in wanted.items()):
            run.keep("API integration", label, "AWS_PROXY")
        else:
            run.change(
                "create" if integration is None else "update", "API integration", label,
                lambda: self.aws.call(
                    "apigateway", "put_integration", type="AWS_PROXY", integrationHttpMethod="POST", uri=uri, **target
                ),
                f"AWS_PROXY to {s.function_name}",
            )
        self._stage(run, api_id, uri, api_changed=run.count_changes() > changes_before)
        return api_id

    def _root_resource(self, api_id: str) -> str:
        for resource in self.aws.pages("apigateway", "get_resources", "items", restApiId=api_id):
            if resource.get("path") == API_PATH:
                return resource["id"]
        raise AssertionError(f"REST API {api_id} has no root resource")  # API Gateway always creates it

    def _stage(self, run: Recorder, api_id: str | None, uri: str, api_changed: bool) -> None:
        """Deploy to the stage when it is missing or the API changed. The deployment's description
        fingerprints the setup, so a run that stopped between the two is caught up next time."""
        s = self.settings
        fingerprint = "fibtrigger " + hashlib.sha256(
            json.dumps({"auth": "AWS_IAM", "type": "AWS_PROXY", "uri": uri}, sort_keys=True).encode()
        ).hexdigest()[:16]
        stage = self.res.api_stage(api_id) if api_id else None
        deployed = None
        if stage and stage.get("deploymentId"):
            deployment = self.aws.call(
                "apigateway", "get_deployment", restApiId=api_id, deploymentId=stage["deploymentId"],
                missing=API_MISSING,
            )
            deployed = (deployment or {}).get("description")

        def deploy() -> None:
            self.aws.call(
                "apigateway", "create_deployment", restApiId=api_id, stageName=s.stage, description=fingerprint
            )

        if stage is None:
            run.change("create", "API stage", s.stage, deploy, "first deployment")
        elif api_changed or deployed != fingerprint:
            run.change("update", "API stage", s.stage, deploy, "new deployment")
        else:
            run.keep("API stage", s.stage)

    def _permission(self, run: Recorder, api_id: str | None) -> None:
        """Let API Gateway invoke the function, only from this API's stage and method."""
        s = self.settings
        source_arn = self.arns.execute_api(api_id or NEW_API_ID, s.stage, HTTP_METHOD, API_PATH)

        def add() -> None:
            self.aws.call(
                "lambda", "add_permission", retry_if=role_not_ready_or_busy,
                FunctionName=s.function_name, StatementId=s.permission_id, Action="lambda:InvokeFunction",
                Principal=policies.API_GATEWAY_SERVICE, SourceArn=source_arn,
            )

        def replace() -> None:
            self.aws.call("lambda", "remove_permission", FunctionName=s.function_name, StatementId=s.permission_id)
            add()

        statement = self.res.permission_statement()
        if statement is None:
            run.change("create", "Lambda permission", s.permission_id, add, f"source {source_arn}")
            return
        current_source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        principal = statement.get("Principal", {})
        principal = principal.get("Service") if isinstance(principal, dict) else principal
        if current_source == source_arn and principal == policies.API_GATEWAY_SERVICE:
            run.keep("Lambda permission", s.permission_id, f"source {source_arn}")
        else:
            run.change("update", "Lambda permission", s.permission_id, replace, f"source {source_arn}")

    def _users_group(self, run: Recorder, api_id: str | None) -> None:
        s = self.settings
        group = self.res.group()
        current = None
        if group is None:
            run.change(
                "create", "IAM group", s.users_group,
                lambda: self.aws.call("iam", "create_group", GroupName=s.users_group, Path=s.group_path),
                f"path {s.group_path}",
            )
        else:
            ours = group["Group"].get("Path") == s.group_path
            foreign = "not created by fibtrigger: only its policy is managed"
            run.keep("IAM group", s.users_group, "" if ours else foreign)
            current = self.aws.call(
                "iam", "get_group_policy", GroupName=s.users_group, PolicyName=s.invoke_api_policy_name,
                missing=IAM_MISSING,
            )
        policy = policies.invoke_api(self.arns.execute_api(api_id or NEW_API_ID, s.stage, HTTP_METHOD, API_PATH))
        label = f"{s.users_group}/{s.invoke_api_policy_name}"
        if current is not None and document(current["PolicyDocument"]) == policy:
            run.keep("IAM group policy", label)
            return
        run.change(
            "create" if current is None else "update", "IAM group policy", label,
            lambda: self.aws.call(
                "iam", "put_group_policy", GroupName=s.users_group, PolicyName=s.invoke_api_policy_name,
                PolicyDocument=json.dumps(policy),
            ),
            policies.summary(policy),
        )


def _stack(settings: StackSettings | None, session: boto3.Session | None, sleep: Sleep,
           package: Package | None = None) -> Stack:
    return Stack(AwsClients(session or session_for(), sleep), settings or StackSettings(), package)


def plan(settings: StackSettings | None = None, *, session: boto3.Session | None = None,
         sleep: Sleep = time.sleep, package: Package | None = None) -> Report:
    """What ``deploy`` would create or change; reads only. The twin of ``fibtrigger aws plan``."""
    return _stack(settings, session, sleep, package).plan()


def deploy(settings: StackSettings | None = None, *, session: boto3.Session | None = None,
           sleep: Sleep = time.sleep, package: Package | None = None) -> Report:
    """Create or update the stack; idempotent. The twin of ``fibtrigger aws deploy``."""
    return _stack(settings, session, sleep, package).deploy()


def destroy(settings: StackSettings | None = None, *, session: boto3.Session | None = None,
            sleep: Sleep = time.sleep) -> Report:
    """Remove what deploy created, in reverse order. The twin of ``fibtrigger aws destroy``."""
    return _stack(settings, session, sleep).destroy()
