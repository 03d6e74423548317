"""Helpers of the AWS runtime's tests: moto's DynamoDB and S3, the engine on them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3

from gt_constructs.lambda_src.gt_runtime.dynamo_store import DynamoStore, create_table

TABLE = "gt-runtime"


class CountingClient:
    """A boto3 client that counts the requests made through it, by operation."""

    def __init__(self, client: Any, counts: Counter[str]) -> None:
        self._client = client
        self._counts = counts
        self.meta = client.meta
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith(("get_paginator", "can_paginate")):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._counts[f"{self._client.meta.service_model.service_name}:{name}"] += 1
            return attribute(*args, **kwargs)

        return call


def dynamo_store(counts: Counter[str] | None = None) -> DynamoStore:
    """A fresh table (inside an active moto mock) and the store on it."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    existing = client.list_tables()["TableNames"]
    if TABLE not in existing:
        create_table(client, TABLE)
    if counts is not None:
        client = CountingClient(client, counts)
    return DynamoStore(TABLE, client=client)
