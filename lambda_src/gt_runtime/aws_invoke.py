"""``LambdaInvoker``: the engine calls a job's pre- and post-annotation Lambdas on AWS.

The same ``Invoker`` protocol as ``InProcessInvoker``, through Lambda's ``Invoke``
(request-response): any function the job names runs, whatever its language, with
Ground Truth's exact events. A function error (``FunctionError``) becomes one
exception naming the function and its message; the engine records it (a refused
object at initialization, a failed step of the state machine otherwise).
"""

from __future__ import annotations

import json
import re
from typing import Any

_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:\S+)?")


class LambdaFunctionError(RuntimeError):
    """The function ran and failed (or answered with something that is not JSON)."""


class LambdaInvoker:
    """Invokes Lambda functions by ARN with boto3 (counts calls in ``calls``)."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("lambda")
        self.client = client
        self.calls = 0

    def problem(self, arn: str) -> str | None:
        if isinstance(arn, str) and _LAMBDA_ARN.fullmatch(arn):
            return None
        return f"{str(arn)[:200]!r} is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)"

    def pre_annotation(self, arn: str, event: dict[str, Any]) -> Any:
        return self._invoke(arn, event)

    def post_annotation(self, arn: str, event: dict[str, Any]) -> Any:
        return self._invoke(arn, event)

    def _invoke(self, arn: str, event: dict[str, Any]) -> Any:
        self.calls += 1
        response = self.client.invoke(
            FunctionName=arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise LambdaFunctionError(
                f"the Lambda function {arn} failed: {body.decode('utf-8', 'replace')[:500]}"
            )
        try:
            return json.loads(body or b"null")
        except ValueError:
            raise LambdaFunctionError(
                f"the Lambda function {arn} answered with something that is not JSON"
            ) from None


__all__ = ["LambdaFunctionError", "LambdaInvoker"]
