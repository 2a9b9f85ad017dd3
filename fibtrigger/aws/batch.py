"""One Lambda call for many rows: the batch event ``{"fibs": [...]}`` through boto3.

Like ``invoke_function``, it honours ``AWS_ENDPOINT_URL_LAMBDA`` (the local service). botocore
retries nothing here: the worker owns retries, with a backoff per row kept in the database.
"""

import json

from fibtrigger.lambda_function.contract import BATCH_KEY, load_answer

from ..errors import BackendError, ConfigurationError
from .invoke import NO_CREDENTIALS, _one_line, _preview, function_region

DEFAULT_TIMEOUT_SECONDS = 30.0


class BatchFailed(BackendError):
    """The whole call failed (unreachable, throttled, timed out, a function error, a malformed
    answer): every row of the batch is retried later."""


class BatchInvoker:
    """Calls ``function_arn`` with ``{"fibs": [...]}``; returns the function's answers in order,
    one per item, unchecked (the worker checks each against its row)."""

    def __init__(self, function_arn: str, session=None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError

        session = session or boto3.Session()
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=min(timeout, 10.0),
            read_timeout=timeout,
        )
        try:
            self._client = session.client("lambda", region_name=function_region(function_arn), config=config)
        except NoRegionError:
            raise ConfigurationError("no AWS region: set AWS_DEFAULT_REGION, or use the function's full ARN") from None
        # Checked before the worker claims a row: a batch it cannot send would wait out its lease.
        if session.get_credentials() is None:
            raise ConfigurationError(NO_CREDENTIALS)
        self.function_arn = function_arn

    def __call__(self, fibs: list[int]) -> list:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            response = self._client.invoke(
                FunctionName=self.function_arn, Payload=json.dumps({BATCH_KEY: fibs}).encode()
            )
            payload = response["Payload"].read()
        except NoCredentialsError:
            raise ConfigurationError(NO_CREDENTIALS) from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "") or code
            raise BatchFailed(f"invoking {self.function_arn} failed ({code}): {_one_line(message)}") from None
        except BotoCoreError as error:  # unreachable, timed out, connection closed
            raise BatchFailed(f"invoking {self.function_arn} failed: {_one_line(error)}") from None
        if response.get("FunctionError"):
            raise BatchFailed(f"function error: {_function_error_text(payload)}")
        try:
            answer = load_answer(payload)
        except ValueError:
            raise BatchFailed(f"the function answered with something other than JSON: {_preview(payload)}") from None
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(fibs):
            raise BatchFailed(
                f"the function's answer has no list of {len(fibs)} results: {_preview(payload)}"
            )
        return results


def _function_error_text(payload: bytes) -> str:
    try:
        error = json.loads(payload)
    except ValueError:
        return _preview(payload)
    if not isinstance(error, dict):
        return _preview(payload)
    return f"{error.get('errorType', 'Error')}: {_one_line(error.get('errorMessage', ''))}"
