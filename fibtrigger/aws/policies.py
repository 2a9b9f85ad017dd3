"""IAM policy documents, built as data (dicts), each granting exactly one thing."""

VERSION = "2012-10-17"

LAMBDA_SERVICE = "lambda.amazonaws.com"
RDS_SERVICE = "rds.amazonaws.com"
API_GATEWAY_SERVICE = "apigateway.amazonaws.com"


def trust(service: str) -> dict:
    """A role trust policy: only ``service`` may assume the role."""
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def function_logs(log_group_arn: str) -> dict:
    """Basic execution: write to the function's own log group, which deploy creates."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            }
        ],
    }


def invoke_function(function_arn: str) -> dict:
    """Aurora's role: invoke exactly this function."""
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}],
    }


def invoke_api(execute_api_arn: str) -> dict:
    """The callers' group: invoke exactly this API, stage and method."""
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": execute_api_arn}],
    }


def summary(policy: dict) -> str:
    """One line for plan output: "lambda:InvokeFunction on arn:..."."""
    parts = []
    for statement in policy.get("Statement", []):
        actions = statement.get("Action")
        actions = ", ".join(actions) if isinstance(actions, list) else actions
        parts.append(f"{actions} on {statement.get('Resource')}")
    return "; ".join(parts)
