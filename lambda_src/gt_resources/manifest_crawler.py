"""Custom resource: write an input manifest for the objects under an S3 prefix.

What the console's "Create manifest file" does, at deploy time: list the prefix
(paginated, any number of objects), keep the wanted extensions, write one
``{"source-ref": "s3://..."}`` line per object. An empty result fails the
deploy with a message naming bucket, prefix and extensions. On delete the
manifest is left in place (it documents what a job labelled).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .cfn_response import Outcome, respond

_CLIENTS: dict[str, Any] = {}


def s3_client() -> Any:
    if "s3" not in _CLIENTS:
        import boto3

        _CLIENTS["s3"] = boto3.client("s3")
    return _CLIENTS["s3"]


def matching_keys(s3: Any, bucket: str, prefix: str, extensions: Sequence[str]) -> Iterator[str]:
    wanted = tuple(e.lower() for e in extensions)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if not key.endswith("/") and key.lower().endswith(wanted):
                yield key


def write_manifest(
    s3: Any,
    *,
    bucket: str,
    prefix: str,
    extensions: Sequence[str],
    manifest_bucket: str,
    manifest_key: str,
) -> int:
    lines = [
        json.dumps({"source-ref": f"s3://{bucket}/{key}"})
        for key in matching_keys(s3, bucket, prefix, extensions)
    ]
    if not lines:
        raise ValueError(
            f"no objects with extensions {', '.join(extensions)} under s3://{bucket}/{prefix}: "
            "nothing to label (check the prefix and the extensions)"
        )
    s3.put_object(
        Bucket=manifest_bucket,
        Key=manifest_key,
        Body=("\n".join(lines) + "\n").encode("utf-8"),
        ContentType="application/x-ndjson",
    )
    return len(lines)


def handle(event: Mapping[str, Any], s3: Any | None = None) -> Outcome:
    props = event.get("ResourceProperties") or {}
    uri = f"s3://{props['ManifestBucket']}/{props['ManifestKey']}"
    if event["RequestType"] == "Delete":
        return str(event.get("PhysicalResourceId") or uri), {}
    count = write_manifest(
        s3 or s3_client(),
        bucket=str(props["SourceBucket"]),
        prefix=str(props.get("Prefix", "")),
        extensions=list(props["Extensions"]),
        manifest_bucket=str(props["ManifestBucket"]),
        manifest_key=str(props["ManifestKey"]),
    )
    return uri, {"ManifestS3Uri": uri, "ObjectCount": str(count)}


def handler(event: Mapping[str, Any], context: Any) -> None:
    """Lambda entry point (answers CloudFormation itself)."""
    respond(event, handle)
