"""ARNs and URLs of the stack's resources, built from account, region and partition."""

from dataclasses import dataclass

from .clients import Identity


@dataclass(frozen=True)
class Arns:
    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, identity: Identity) -> "Arns":
        return cls(identity.partition, identity.region, identity.account)

    def role(self, name: str, path: str = "/") -> str:
        return f"arn:{self.partition}:iam::{self.account}:role{path}{name}"

    def function(self, name: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name}"

    def log_group(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{name}"

    def execute_api(self, api_id: str, stage: str, method: str = "POST", path: str = "/") -> str:
        """What IAM callers invoke: ``arn:...:execute-api:{region}:{account}:{api_id}/{stage}/POST/``."""
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{api_id}/{stage}/{method}{path}"

    def lambda_integration_uri(self, function_arn: str) -> str:
        """The AWS_PROXY integration target: API Gateway's path to Lambda's Invoke API."""
        return (
            f"arn:{self.partition}:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations"
        )

    def api_stage(self, api_id: str, stage: str) -> str:
        """A REST API stage, as API Gateway's TagResource names it."""
        return f"arn:{self.partition}:apigateway:{self.region}::/restapis/{api_id}/stages/{stage}"

    def invoke_url(self, api_id: str, stage: str) -> str:
        return f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}/"
