"""``S3Blobs``: the ``Blobs`` protocol on Amazon S3 (the self-hosted runtime).

Reads, writes and lists by ``s3://`` URI with one boto3 client. A ``PutObject`` is
atomic in S3 (a reader sees the old object or the new one, never half), as the
protocol asks. ``kms_key_id`` (the job's ``OutputConfig.KmsKeyId``) encrypts what is
written with the job's key, as Ground Truth does; ``presign`` gives the task page's
short-lived data URLs.
"""

from __future__ import annotations

from typing import Any

from .blobs import BlobNotFound, split_uri


class S3Blobs:
    """Bytes by ``s3://`` URI in S3."""

    def __init__(self, client: Any = None, *, kms_key_id: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client
        self.kms_key_id = kms_key_id

    def read(self, uri: str) -> bytes:
        bucket, key = split_uri(uri)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except Exception as error:
            if _missing(error):
                raise BlobNotFound(f"no object at {uri}") from None
            raise
        return bytes(response["Body"].read())

    def write(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        bucket, key = split_uri(uri)
        extra: dict[str, Any] = {}
        if content_type:
            extra["ContentType"] = content_type
        if self.kms_key_id:
            extra["ServerSideEncryption"] = "aws:kms"
            extra["SSEKMSKeyId"] = self.kms_key_id
        self.client.put_object(Bucket=bucket, Key=key, Body=data, **extra)

    def exists(self, uri: str) -> bool:
        bucket, key = split_uri(uri)
        try:
            self.client.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            if _missing(error):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        bucket, key = split_uri(prefix)
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key
        ):
            found.extend(f"s3://{bucket}/{item['Key']}" for item in page.get("Contents", []))
        return sorted(found)

    def presign(self, uri: str, expires_in: int) -> str:
        """A GET URL for ``uri`` valid ``expires_in`` seconds (signed with this client's
        credentials: it can reach only what they can read)."""
        bucket, key = split_uri(uri)
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires_in)
            )
        )


def _missing(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket")


__all__ = ["S3Blobs"]
