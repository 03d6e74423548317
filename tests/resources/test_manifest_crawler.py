"""The S3-prefix manifest crawler against moto S3: pagination and mixed extensions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gt_resources.manifest_crawler import handle
from moto import mock_aws


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="photos")
        client.create_bucket(Bucket="out")
        yield client


def crawl_event(kind: str = "Create", prefix: str = "street/") -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResourceProperties": {
            "SourceBucket": "photos",
            "Prefix": prefix,
            "Extensions": [".jpg", ".png"],
            "ManifestBucket": "out",
            "ManifestKey": "jobs/manifests/input/dataset.manifest",
        },
    }


def test_crawls_more_than_a_page_and_keeps_only_the_extensions(s3: Any) -> None:
    # GIVEN 1,250 images (more than one 1,000-key page) among other files
    for i in range(1250):
        s3.put_object(Bucket="photos", Key=f"street/{i:05d}.{'JPG' if i % 2 else 'png'}", Body=b"x")
    for key in ("street/notes.txt", "street/sub/", "street/raw.tiff", "elsewhere/a.jpg"):
        s3.put_object(Bucket="photos", Key=key, Body=b"x")
    # WHEN the crawler runs
    physical_id, data = handle(crawl_event(), s3)
    # THEN the manifest lists every image under the prefix, one JSON line each
    body = s3.get_object(Bucket="out", Key="jobs/manifests/input/dataset.manifest")["Body"].read()
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == 1250 and data["ObjectCount"] == "1250"
    assert lines[0] == {"source-ref": "s3://photos/street/00000.png"}
    assert {"source-ref": "s3://photos/street/00001.JPG"} in lines
    assert physical_id == data["ManifestS3Uri"] == "s3://out/jobs/manifests/input/dataset.manifest"


def test_an_empty_prefix_fails_naming_bucket_prefix_and_extensions(s3: Any) -> None:
    s3.put_object(Bucket="photos", Key="street/readme.txt", Body=b"x")
    with pytest.raises(
        ValueError, match=r"no objects with extensions \.jpg, \.png under s3://photos/street/"
    ):
        handle(crawl_event(), s3)


def test_delete_leaves_the_manifest(s3: Any) -> None:
    event = dict(crawl_event("Delete"), PhysicalResourceId="s3://out/m")
    assert handle(event, s3) == ("s3://out/m", {})
