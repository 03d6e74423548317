"""What the runtime's Lambda handlers share on AWS: the engine on DynamoDB, S3 and Lambda.

``engine()`` builds an ``AwsEngine`` per invocation (its caches never outlive the
request, so no handler sees a stale job); the AWS clients are made once per container.
Status events go to EventBridge (the default bus) with Ground Truth's detail-type and
detail under the runtime's own source; a job whose request names
``OutputConfig.SnsTopicArn`` gets one SNS message per labelled object.

``AwsEngine.stop_job`` only marks the job ``Stopping`` and cancels the tasks out; the
job's state machine (its next tick) consolidates what is ready, writes the output
manifest and ends the job ``Stopped``, so the API and the lifecycle functions never run
the job's Lambdas or write its output themselves.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from . import aws_contract as contract
from .aws_invoke import LambdaInvoker
from .dynamo_store import DynamoStore
from .engine import Engine
from .s3_blobs import S3Blobs

LOGGER = logging.getLogger("gt_runtime.aws")
_CLIENTS: dict[str, Any] = {}
_SECRET: dict[str, bytes] = {}


def client(service: str) -> Any:
    """One boto3 client per service and container."""
    if service not in _CLIENTS:
        import boto3

        _CLIENTS[service] = boto3.client(service)  # type: ignore[call-overload]
    return _CLIENTS[service]


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def account_of(arn: str | None) -> str:
    """The account of a Lambda context's ARN (``arn:aws:lambda:<region>:<account>:...``)."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4] else "000000000000"


class AwsEngine(Engine):
    """The engine as the AWS host runs it (see the module docstring on ``stop_job``)."""

    def stop_job(self, job_name: str) -> None:
        self.begin_stop(job_name)  # the state machine's next tick finishes the job


def publish(kind: str, payload: dict[str, Any]) -> None:
    """The engine's ``notify``: status events to EventBridge, object messages to SNS."""
    if kind == "status":
        response = client("events").put_events(
            Entries=[
                {
                    "Source": payload["source"],
                    "DetailType": payload["detail-type"],
                    "Detail": json.dumps(payload["detail"]),
                    "Resources": payload["resources"],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            LOGGER.error("status event not delivered: %s", response.get("Entries"))
    elif kind == "object":
        client("sns").publish(TopicArn=payload["TopicArn"], Message=payload["Message"])


def engine(
    *,
    account: str,
    store: Any = None,
    blobs: Any = None,
    invoker: Any = None,
    notify: Any = publish,
) -> AwsEngine:
    """The engine over the runtime's table, S3 and Lambda (each replaceable in tests)."""
    return AwsEngine(
        store if store is not None else DynamoStore(client=client("dynamodb")),
        blobs if blobs is not None else S3Blobs(client("s3")),
        invoker if invoker is not None else LambdaInvoker(client("lambda")),
        region=region(),
        account=account,
        notify=notify,
        event_source=os.environ.get(contract.ENV_EVENT_SOURCE, contract.EVENT_SOURCE),
        # Each tick consolidates whatever is ready: ticks are the state machine's rhythm.
        batch_wait_seconds=0.0,
        intermediate_every_seconds=0.0,
    )


def signing_key() -> bytes:
    """The token-signing key (the Secrets Manager secret's value), read once per container."""
    name = os.environ.get(contract.ENV_SIGNING_SECRET, "")
    if name not in _SECRET:
        value = client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        _SECRET[name] = str(value).encode("utf-8")
    return _SECRET[name]


__all__ = ["AwsEngine", "account_of", "client", "engine", "publish", "region", "signing_key"]
