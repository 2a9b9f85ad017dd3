"""Destroy: what deploy created, in reverse order. Already gone is fine; untagged is left alone."""

from functools import partial

from . import aurora
from .clients import API_MISSING, CLOUDWATCH_MISSING, IAM_MISSING, LAMBDA_MISSING, LOGS_MISSING, role_not_ready_or_busy
from .report import Recorder, Report
from .resources import Resources


def destroy_stack(res: Resources) -> Report:
    run = Recorder(apply=True)
    aurora.remove_access(res, run)
    _alarms(res, run)
    _dashboard(res, run)
    _users_group(res, run)
    _api(res, run)
    _function(res, run)
    res.delete_role(run, res.settings.lambda_role_name)
    _log_group(res, run, res.settings.access_log_group_name)
    _log_group(res, run, res.settings.log_group_name)
    return Report(res.identity.region, res.identity.account, run.changes)


def _users_group(res: Resources, run: Recorder) -> None:
    """Our policy always goes; the group only if deploy created it and nothing else uses it."""
    s = res.settings
    group = res.group()
    if group is None:
        return
    policy_names = list(res.aws.pages("iam", "list_group_policies", "PolicyNames", GroupName=s.users_group))
    if s.invoke_api_policy_name in policy_names:
        run.change(
            "delete", "IAM group policy", f"{s.users_group}/{s.invoke_api_policy_name}",
            lambda: res.aws.call(
                "iam", "delete_group_policy", GroupName=s.users_group, PolicyName=s.invoke_api_policy_name,
                missing=IAM_MISSING,
            ),
        )
        policy_names.remove(s.invoke_api_policy_name)
    if group["Group"].get("Path") != s.group_path:
        return  # a group fibtrigger did not create: only our policy was ours
    attached = list(res.aws.pages("iam", "list_attached_group_policies", "AttachedPolicies", GroupName=s.users_group))
    if policy_names or attached:
        run.skip("IAM group", s.users_group, "still holds other policies, e.g. another stage's")
        return
    # Deploy created the group, so its memberships go with it; the users themselves stay.
    for user in group.get("Users", []):
        run.change(
            "delete", "IAM group member", f"{s.users_group}/{user['UserName']}",
            partial(
                res.aws.call, "iam", "remove_user_from_group", GroupName=s.users_group, UserName=user["UserName"],
                missing=IAM_MISSING,
            ),
        )
    run.change(
        "delete", "IAM group", s.users_group,
        lambda: res.aws.call("iam", "delete_group", GroupName=s.users_group, missing=IAM_MISSING),
    )


def _api(res: Resources, run: Recorder) -> None:
    """API Gateway's permission on the function, then the API(s)."""
    s = res.settings
    function = res.function()
    if function is not None and res.owns(function.get("Tags")) and res.permission_statement() is not None:
        run.change(
            "delete", "Lambda permission", s.permission_id,
            lambda: res.aws.call(
                "lambda", "remove_permission", FunctionName=s.function_name, StatementId=s.permission_id,
                missing=LAMBDA_MISSING,
            ),
        )
    for api in res.apis():
        run.change(
            "delete", "REST API", f"{s.api_name} ({api['id']})",
            partial(res.aws.call, "apigateway", "delete_rest_api", restApiId=api["id"], missing=API_MISSING),
        )


def _function(res: Resources, run: Recorder) -> None:
    s = res.settings
    function = res.function()
    if function is None:
        return
    if not res.owns(function.get("Tags")):
        run.skip("Lambda function", s.function_name, "not created by fibtrigger")
        return
    run.change(
        "delete", "Lambda function", s.function_name,
        lambda: res.aws.call(
            "lambda", "delete_function", FunctionName=s.function_name, missing=LAMBDA_MISSING,
            retry_if=role_not_ready_or_busy,
        ),
    )


def _log_group(res: Resources, run: Recorder, name: str) -> None:
    group = res.log_group(name)
    if group is None:
        return
    if not res.owns(res.log_group_tags(group)):
        run.skip("log group", name, "not created by fibtrigger")
        return
    run.change(
        "delete", "log group", name,
        lambda: res.aws.call("logs", "delete_log_group", logGroupName=name, missing=LOGS_MISSING),
    )


def _alarms(res: Resources, run: Recorder) -> None:
    for name, alarm in res.alarms().items():
        if not res.owns(res.alarm_tags(alarm)):
            run.skip("CloudWatch alarm", name, "not created by fibtrigger")
            continue
        run.change(
            "delete", "CloudWatch alarm", name,
            partial(res.aws.call, "cloudwatch", "delete_alarms", AlarmNames=[name]),
        )


def _dashboard(res: Resources, run: Recorder) -> None:
    name = res.settings.dashboard_name
    dashboard = res.dashboard()
    if dashboard is None:
        return
    if not res.owns_dashboard(dashboard):
        run.skip("CloudWatch dashboard", name, "not created by fibtrigger for this stack")
        return
    run.change(
        "delete", "CloudWatch dashboard", name,
        lambda: res.aws.call("cloudwatch", "delete_dashboards", DashboardNames=[name], missing=CLOUDWATCH_MISSING),
    )
