"""Look-ups and the IAM role step that deploy, the Aurora step and destroy share."""

import json
from functools import partial
from typing import Any

from ..errors import ResourceNotOwned
from . import monitoring, policies
from .arns import Arns
from .clients import (
    API_MISSING,
    CLOUDWATCH_MISSING,
    IAM_MISSING,
    LAMBDA_MISSING,
    LOGS_MISSING,
    RDS_GROUP_MISSING,
    AwsClients,
)
from .report import Recorder
from .stack import TAG_STACK, TAG_STAGE, StackSettings, document, tag_list, tag_map


class Resources:
    """One stack's resources as AWS has them, found by name and checked by tags."""

    def __init__(self, aws: AwsClients, settings: StackSettings):
        self.aws = aws
        self.settings = settings
        self.identity = aws.identity()
        self.arns = Arns.of(self.identity)

    def owns(self, tags: Any) -> bool:
        return self.settings.owns(tags)

    def require_ours(self, kind: str, name: str, tags: Any) -> None:
        """Refuse to adopt a same-named resource that fibtrigger did not create."""
        if not self.owns(tags):
            s = self.settings
            raise ResourceNotOwned(
                f"{kind} {name} exists but is not tagged {TAG_STACK}={s.name}, {TAG_STAGE}={s.stage}: "
                "fibtrigger leaves it alone; choose another --name or --stage"
            )

    # ----- look-ups ---------------------------------------------------------------------------

    def role(self, name: str) -> dict | None:
        answer = self.aws.call("iam", "get_role", RoleName=name, missing=IAM_MISSING)
        return answer["Role"] if answer else None

    def function(self) -> dict | None:
        return self.aws.call("lambda", "get_function", FunctionName=self.settings.function_name, missing=LAMBDA_MISSING)

    def log_group(self, name: str | None = None) -> dict | None:
        name = name or self.settings.log_group_name
        for group in self.aws.pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=name):
            if group["logGroupName"] == name:
                return group
        return None

    def log_group_tags(self, group: dict) -> dict[str, str]:
        arn = group.get("logGroupArn") or self.arns.log_group(group["logGroupName"])
        answer = self.aws.call("logs", "list_tags_for_resource", resourceArn=arn, missing=LOGS_MISSING)
        return (answer or {}).get("tags", {})

    def apis(self) -> list[dict]:
        """This stack's REST APIs (normally one), oldest first; same-named untagged ones are not ours."""
        apis = [
            api for api in self.aws.pages("apigateway", "get_rest_apis", "items")
            if api.get("name") == self.settings.api_name and self.owns(api.get("tags"))
        ]
        return sorted(apis, key=lambda api: (str(api.get("createdDate", "")), api["id"]))

    def api_stage(self, api_id: str) -> dict | None:
        return self.aws.call(
            "apigateway", "get_stage", restApiId=api_id, stageName=self.settings.stage, missing=API_MISSING
        )

    def permission_statement(self) -> dict | None:
        """The function policy's statement that lets API Gateway invoke it, if any."""
        answer = self.aws.call("lambda", "get_policy", FunctionName=self.settings.function_name, missing=LAMBDA_MISSING)
        if answer is None:
            return None
        for statement in json.loads(answer["Policy"]).get("Statement", []):
            if statement.get("Sid") == self.settings.permission_id:
                return statement
        return None

    def dashboard(self) -> dict | None:
        return self.aws.call(
            "cloudwatch", "get_dashboard", DashboardName=self.settings.dashboard_name, missing=CLOUDWATCH_MISSING
        )

    def owns_dashboard(self, dashboard: dict) -> bool:
        """Dashboards carry no tags everywhere (CloudFormation, emulators): the first widget names the stack."""
        try:
            widgets = json.loads(dashboard.get("DashboardBody") or "{}").get("widgets") or []
        except ValueError:
            return False
        first = widgets[0].get("properties", {}).get("markdown") if widgets and isinstance(widgets[0], dict) else None
        return first == monitoring.marker(self.settings.name, self.settings.stage)

    def alarms(self) -> dict[str, dict]:
        """This stack's alarms that exist, by name."""
        names = [alarm.name for alarm in self.watched().alarms()]
        answer = self.aws.call("cloudwatch", "describe_alarms", AlarmNames=names)
        return {alarm["AlarmName"]: alarm for alarm in (answer or {}).get("MetricAlarms", [])}

    def alarm_tags(self, alarm: dict) -> dict[str, str]:
        answer = self.aws.call("cloudwatch", "list_tags_for_resource", ResourceARN=alarm["AlarmArn"])
        return tag_map((answer or {}).get("Tags"))

    def watched(self) -> monitoring.Watched:
        s = self.settings
        return monitoring.Watched(
            prefix=s.prefix, function_name=s.function_name, api_name=s.api_name, stage=s.stage,
            region=self.identity.region, marker=monitoring.marker(s.name, s.stage),
        )

    def group(self) -> dict | None:
        return self.aws.call("iam", "get_group", GroupName=self.settings.users_group, missing=IAM_MISSING)

    def parameter_group(self) -> dict | None:
        answer = self.aws.call(
            "rds", "describe_db_cluster_parameter_groups",
            DBClusterParameterGroupName=self.settings.parameter_group_name, missing=RDS_GROUP_MISSING,
        )
        groups = (answer or {}).get("DBClusterParameterGroups") or []
        return groups[0] if groups else None

    def rds_tags(self, arn: str) -> dict[str, str]:
        answer = self.aws.call("rds", "list_tags_for_resource", ResourceName=arn, missing=RDS_GROUP_MISSING)
        return tag_map((answer or {}).get("TagList"))

    # ----- IAM roles ----------------------------------------------------------------------------

    def ensure_role(self, run: Recorder, name: str, service: str, policy_name: str, policy: dict,
                    extra_tags: dict[str, str] | None = None) -> str:
        """An IAM role that trusts ``service`` and holds exactly the inline ``policy``; returns its ARN."""
        trust = policies.trust(service)
        role = self.role(name)
        current_policy = None
        if role is None:
            run.change(
                "create", "IAM role", name,
                lambda: self.aws.call(
                    "iam", "create_role",
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description=f"fibtrigger stack {self.settings.prefix}",
                    Tags=tag_list({**self.settings.tags, **(extra_tags or {})}),
                ),
                f"trusts {service}",
            )
        else:
            self.require_ours("IAM role", name, role.get("Tags"))
            if document(role["AssumeRolePolicyDocument"]) != trust:
                run.change(
                    "update", "IAM role", name,
                    lambda: self.aws.call(
                        "iam", "update_assume_role_policy", RoleName=name, PolicyDocument=json.dumps(trust)
                    ),
                    f"trusts {service}",
                )
            else:
                run.keep("IAM role", name)
            current_policy = self.aws.call(
                "iam", "get_role_policy", RoleName=name, PolicyName=policy_name, missing=IAM_MISSING
            )
        label = f"{name}/{policy_name}"
        if current_policy is not None and document(current_policy["PolicyDocument"]) == policy:
            run.keep("IAM role policy", label)
        else:
            run.change(
                "create" if current_policy is None else "update", "IAM role policy", label,
                lambda: self.aws.call(
                    "iam", "put_role_policy", RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
                ),
                policies.summary(policy),
            )
        return self.arns.role(name)

    def delete_role(self, run: Recorder, name: str) -> None:
        """Delete a role of this stack with its policies; a missing role is fine, a foreign one is kept."""
        role = self.role(name)
        if role is None:
            return
        if not self.owns(role.get("Tags")):
            run.skip("IAM role", name, "not created by fibtrigger")
            return
        for policy_name in list(self.aws.pages("iam", "list_role_policies", "PolicyNames", RoleName=name)):
            run.change(
                "delete", "IAM role policy", f"{name}/{policy_name}",
                partial(
                    self.aws.call, "iam", "delete_role_policy", RoleName=name, PolicyName=policy_name,
                    missing=IAM_MISSING,
                ),
            )
        for attached in list(self.aws.pages("iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name)):
            run.change(
                "delete", "IAM role policy attachment", f"{name}/{attached['PolicyName']}",
                partial(
                    self.aws.call, "iam", "detach_role_policy", RoleName=name, PolicyArn=attached["PolicyArn"],
                    missing=IAM_MISSING,
                ),
            )
        run.change(
            "delete", "IAM role", name,
            lambda: self.aws.call("iam", "delete_role", RoleName=name, missing=IAM_MISSING),
        )
