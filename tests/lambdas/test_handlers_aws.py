"""The post-annotation handler end to end against moto: S3, STS, DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gt_annotation import payload as payload_module
from gt_annotation import post_annotation
from gt_annotation.skill import DynamoSkillStore
from moto import mock_aws

JOB = "pets-1a2b3c"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB}"
TABLE = "worker-skill"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mock_aws():
        payload_module.reset_clients()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="out")
        iam = boto3.client("iam")
        role = iam.create_role(
            RoleName="gt-execution",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sagemaker.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]
        dynamo = boto3.client("dynamodb")
        dynamo.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "scope", "KeyType": "HASH"},
                {"AttributeName": "worker", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "scope", "AttributeType": "S"},
                {"AttributeName": "worker", "AttributeType": "S"},
            ],
        )
        for key, value in {
            "GT_TASK_TYPE": "IMAGE_CLASSIFICATION",
            "GT_ANSWER_NAME": "annotatedResult",
            "GT_CONSOLIDATION": '{"method": "dawid-skene", "keepAllAnnotations": false}',
            "GT_SKILL_TABLE": TABLE,
            "GT_SKILL_SCOPE": "job",
            "GT_OUTPUT_URI": "s3://out/jobs",
        }.items():
            monkeypatch.setenv(key, value)
        yield {"s3": s3, "role_arn": role["Arn"], "dynamo": dynamo}
        payload_module.reset_clients()


def _answer(worker: str, label: str) -> dict[str, Any]:
    return {
        "workerId": worker,
        "annotationData": {"content": json.dumps({"annotatedResult": {"label": label}})},
    }


def _event(s3: Any, key: str, objects: list[Any], role_arn: str) -> dict[str, Any]:
    s3.put_object(Bucket="out", Key=key, Body=json.dumps(objects).encode())
    return {
        "version": "2018-10-16",
        "labelingJobArn": ARN,
        "labelCategories": ["Cat", "Dog"],
        "labelAttributeName": "pets",
        "roleArn": role_arn,
        "payload": {"s3Uri": f"s3://out/{key}"},
        "outputConfig": "s3://out/jobs/annotations",
    }


BATCH = [
    {
        "datasetObjectId": "0",
        "dataObject": {"s3Uri": "s3://in/0.jpg"},
        "annotations": [_answer("w1", "Cat"), _answer("w2", "Cat"), _answer("w3", "Dog")],
    },
    {
        "datasetObjectId": "1",
        "dataObject": {"s3Uri": "s3://in/1.jpg"},
        "annotations": [_answer("w1", "Dog"), _answer("w2", "Dog"), _answer("w3", "Dog")],
    },
]


@pytest.mark.parametrize("mode", ["ASSUME_EXECUTION_ROLE", "DIRECT_READ"])
def test_handler_reads_the_s3_payload_in_either_access_mode(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # GIVEN a payload in S3 and the function configured for the mode
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", mode)
    event = _event(aws["s3"], f"{JOB}/request-{mode}.json", BATCH, aws["role_arn"])
    # WHEN Ground Truth calls the handler
    response = post_annotation.handler(event, None)
    # THEN each object is consolidated
    assert [e["consolidatedAnnotation"]["content"]["pets"]["class-name"] for e in response] == [
        "Cat",
        "Dog",
    ]


def test_assume_mode_uses_the_execution_roles_credentials(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", "ASSUME_EXECUTION_ROLE")
    event = _event(aws["s3"], f"{JOB}/req.json", BATCH, aws["role_arn"])
    post_annotation.handler(event, None)
    assert aws["role_arn"] in payload_module._CLIENTS  # the assumed-role client was used


def test_large_answers_are_read_from_their_s3_uri(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", "DIRECT_READ")
    aws["s3"].put_object(
        Bucket="out",
        Key="big/w3.json",
        Body=json.dumps({"annotatedResult": {"label": "Dog"}}).encode(),
    )
    objects = [
        {
            "datasetObjectId": "7",
            "dataObject": {"s3Uri": "s3://in/7.jpg"},
            "annotations": [
                _answer("w1", "Dog"),
                {"workerId": "w3", "annotationData": {"s3Uri": "s3://out/big/w3.json"}},
            ],
        }
    ]
    response = post_annotation.handler(_event(aws["s3"], "r.json", objects, aws["role_arn"]), None)
    label = response[0]["consolidatedAnnotation"]["content"]["pets"]
    assert label["class-name"] == "Dog" and label["workers"] == 2


def test_skill_accumulates_in_dynamodb_across_batches(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", "DIRECT_READ")
    for batch in range(2):
        post_annotation.handler(_event(aws["s3"], f"b{batch}.json", BATCH, aws["role_arn"]), None)
    skills = DynamoSkillStore(TABLE).load(f"job#{JOB}", ["w1", "w2", "w3"])
    assert skills["w1"].scored == 4.0 and skills["w3"].scored == 4.0
    assert skills["w1"].agreements > skills["w3"].agreements
    assert sum(skills["w3"].confusion.values()) == pytest.approx(4.0, abs=1e-3)
    # AND each batch printed an embedded-metric-format record
    records = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert len(records) == 2 and records[0]["ObjectsConsolidated"] == 2


def test_masks_are_written_under_the_jobs_output_prefix(aws: dict[str, Any]) -> None:
    access = payload_module.S3Access("DIRECT_READ", None)
    uri = payload_module.mask_uri("s3://out/jobs", JOB, "obj/7")
    access.write_bytes(uri, b"\x89PNG\r\n\x1a\n", "image/png")
    assert uri == f"s3://out/jobs/{JOB}/consolidated-masks/obj_7.png"
    head = aws["s3"].head_object(Bucket="out", Key=f"jobs/{JOB}/consolidated-masks/obj_7.png")
    assert head["ContentType"] == "image/png"
