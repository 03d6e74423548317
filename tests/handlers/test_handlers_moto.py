"""Both handlers end to end against moto: S3 payload, STS assume role, DynamoDB skill, PNG output."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from gt_annotation import payload as payload_module
from gt_annotation import post_annotation, pre_annotation
from gt_annotation import skill as skill_module
from gt_annotation.events import EventError
from gt_annotation.png import decode, encode_indexed, parse_hex_colour
from gt_annotation.skill import skill_scope
from moto import mock_aws

FIXTURES = Path(__file__).parent / "fixtures"
BUCKET = "gt-output-bucket"
TABLE = "worker-skill"
JOB = "pets-1a2b3c"
W1, W2, W3 = (
    "private.us-east-1.aaaa1111",
    "private.us-east-1.bbbb2222",
    "private.us-east-1.cccc3333",
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Output bucket, execution role and skill table in a mocked account; the construct's env."""
    with mock_aws():
        payload_module.reset_clients()
        skill_module.reset_client()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        role = boto3.client("iam").create_role(
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
            "GT_ANSWER_NAME": "category",
            "GT_CONSOLIDATION": '{"method": "dawid-skene", "keepAllAnnotations": false}',
            "GT_PAYLOAD_ACCESS": "ASSUME_EXECUTION_ROLE",
            "GT_SKILL_TABLE": TABLE,
            "GT_SKILL_SCOPE": "job",
            "GT_OUTPUT_URI": f"s3://{BUCKET}/jobs",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("GT_METRICS_NAMESPACE", raising=False)
        yield {"s3": s3, "dynamo": dynamo, "role_arn": role["Arn"]}
        payload_module.reset_clients()
        skill_module.reset_client()


def put_event(aws: dict[str, Any], payload: list[Any], key: str = "request.json") -> dict[str, Any]:
    """The fixture event, with its payload written to S3 where Ground Truth would put it."""
    uri = (
        f"s3://{BUCKET}/jobs/{JOB}/annotations/consolidated-annotation/consolidation-request/{key}"
    )
    aws["s3"].put_object(Bucket=BUCKET, Key=uri[len(f"s3://{BUCKET}/") :], Body=json.dumps(payload))
    event = load("post_annotation_event.json")
    event["roleArn"] = aws["role_arn"]
    event["payload"] = {"s3Uri": uri}
    return event


def stored_item(aws: dict[str, Any], scope: str, worker: str) -> dict[str, float]:
    item = (
        aws["dynamo"]
        .get_item(TableName=TABLE, Key={"scope": {"S": scope}, "worker": {"S": worker}})
        .get("Item", {})
    )
    return {name: float(value["N"]) for name, value in item.items() if "N" in value}


def emf_records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


# -- reading the payload ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["ASSUME_EXECUTION_ROLE", "DIRECT_READ"])
def test_the_s3_payload_is_read_in_either_access_mode(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # GIVEN the fixture payload in S3 and the function configured for the mode
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", mode)
    event = put_event(aws, load("classification_payload.json"))
    # WHEN Ground Truth calls the handler
    response = post_annotation.handler(event, None)
    # THEN every object of the payload has its entry
    contents = [e["consolidatedAnnotation"]["content"] for e in response]
    assert [e["datasetObjectId"] for e in response] == ["0", "1", "2", "3"]
    assert [c.get("pets") for c in contents] == [0, 1, 2, None]
    assert [c["pets-metadata"].get("class-name") for c in contents] == [
        "Cat",
        "Dog",
        "Rabbit",
        None,
    ]
    assert contents[3]["pets-metadata"]["failure-reason"].startswith("no usable worker answer")
    # AND job-name is the ARN's resource part
    assert {c["pets-metadata"]["job-name"] for c in contents} == {f"labeling-job/{JOB}"}
    # AND the credentials were the execution role's (STS) only in the assume mode
    assumed = payload_module._CLIENTS.get(aws["role_arn"])
    if mode == "ASSUME_EXECUTION_ROLE":
        assert assumed is not None and assumed[0] > 0  # cached until the STS expiry
        assert payload_module._DEFAULT_CLIENT is None
    else:
        assert assumed is None and payload_module._DEFAULT_CLIENT is not None


def test_assume_mode_needs_the_role_arn_of_the_event(aws: dict[str, Any]) -> None:
    event = put_event(aws, load("classification_payload.json"))
    del event["roleArn"]
    with pytest.raises(ValueError, match="ASSUME_EXECUTION_ROLE needs roleArn in the event"):
        post_annotation.handler(event, None)


def test_a_payload_that_cannot_be_read_fails_the_invocation(aws: dict[str, Any]) -> None:
    event = put_event(aws, [])
    event["payload"] = {"s3Uri": f"s3://{BUCKET}/jobs/{JOB}/missing.json"}
    with pytest.raises(ClientError, match="NoSuchKey"):
        post_annotation.handler(event, None)


def test_a_payload_that_is_not_json_is_an_event_error(aws: dict[str, Any]) -> None:
    event = put_event(aws, [])
    aws["s3"].put_object(Bucket=BUCKET, Key="jobs/broken.json", Body=b"[{")
    event["payload"] = {"s3Uri": f"s3://{BUCKET}/jobs/broken.json"}
    with pytest.raises(
        EventError, match=r"the payload at s3://gt-output-bucket/jobs/broken.json is not JSON"
    ):
        post_annotation.handler(event, None)


def test_large_answers_are_read_from_annotation_data_s3_uri(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN answers too large for the payload, stored beside it (one of them missing)
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", "DIRECT_READ")
    big = f"jobs/{JOB}/annotations/worker-response/iteration-1/0"
    aws["s3"].put_object(
        Bucket=BUCKET, Key=f"{big}/w2.json", Body=json.dumps({"category": {"label": "Dog"}})
    )
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://gt-input-bucket/pets/img-002.jpg"},
            "annotations": [
                {"workerId": W1, "annotationData": {"content": '{"category": {"label": "Dog"}}'}},
                {"workerId": W2, "annotationData": {"s3Uri": f"s3://{BUCKET}/{big}/w2.json"}},
                {"workerId": W3, "annotationData": {"s3Uri": f"s3://{BUCKET}/{big}/gone.json"}},
            ],
        }
    ]
    # WHEN consolidated
    response = post_annotation.handler(put_event(aws, payload), None)
    # THEN the stored answer counted, the missing one was left out, and the object answered
    metadata = response[0]["consolidatedAnnotation"]["content"]["pets-metadata"]
    assert metadata["class-name"] == "Dog" and metadata["workers"] == 2


# -- worker skill in DynamoDB ----------------------------------------------------------------
def renamed_objects(payload: list[Any], prefix: str) -> list[Any]:
    """The same answers for other data objects: another batch of the same job."""
    return [dict(entry, datasetObjectId=prefix + entry["datasetObjectId"]) for entry in payload]


def test_skill_counts_accumulate_across_batches(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two batches of the same job (the same answers for other objects)
    payload = load("classification_payload.json")
    post_annotation.handler(put_event(aws, payload, "b1.json"), None)
    after_one = {w: stored_item(aws, f"job#{JOB}", w) for w in (W1, W2, W3)}
    post_annotation.handler(put_event(aws, renamed_objects(payload, "b2-"), "b2.json"), None)
    after_two = {w: stored_item(aws, f"job#{JOB}", w) for w in (W1, W2, W3)}
    # THEN each worker's item holds the documented attributes
    for worker in (W1, W2, W3):
        assert {"agree", "scored"} <= set(after_one[worker])
        assert any(name.startswith("c_") for name in after_one[worker])
    # AND the second batch added to the first (as many answers: the scored counts double)
    for worker in (W1, W2, W3):
        assert after_two[worker]["scored"] == pytest.approx(2 * after_one[worker]["scored"])
        confusion = sum(v for k, v in after_two[worker].items() if k.startswith("c_"))
        assert confusion == pytest.approx(after_two[worker]["scored"], abs=1e-3)
    # AND the worker with the wrong answers agreed less often
    assert after_two[W3]["agree"] < after_two[W1]["agree"]
    # AND every batch printed one embedded-metric-format record
    records = emf_records(capsys.readouterr().out)
    assert len(records) == 2
    for record in records:
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "GroundTruthConstructs"
        assert (record["ObjectsConsolidated"], record["AnswersRejected"]) == (3, 3)
        assert record["ConsolidationErrors"] == 1  # the object whose answers were all unusable
        assert record["SkillStoreErrors"] == 0
        assert 0.0 < record["MeanConfidence"] <= 1.0
        assert record["LabelingJob"] == JOB


def test_a_retried_batch_counts_once(aws: dict[str, Any]) -> None:
    # GIVEN a batch consolidated once
    payload = load("classification_payload.json")
    event = put_event(aws, payload, "b1.json")
    post_annotation.handler(event, None)
    after_one = {w: stored_item(aws, f"job#{JOB}", w) for w in (W1, W2, W3)}
    # WHEN Ground Truth retries it (the same event; then the same payload at another key)
    response = post_annotation.handler(event, None)
    post_annotation.handler(put_event(aws, payload, "b1-retry.json"), None)
    # THEN the stored evidence is the first invocation's, not two or three times it
    assert {w: stored_item(aws, f"job#{JOB}", w) for w in (W1, W2, W3)} == after_one
    # AND the retry still answered for every object
    assert [e["datasetObjectId"] for e in response] == ["0", "1", "2", "3"]
    # AND the record of the counted batch expires (the table's TTL deletes it)
    records = [
        item
        for item in aws["dynamo"].scan(TableName=TABLE)["Items"]
        if item["scope"]["S"].startswith("batch#")
    ]
    assert len(records) == 1 and int(records[0]["expires"]["N"]) > 0


def test_a_failing_skill_table_is_counted_in_the_metrics(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a skill table the function cannot use (here: it does not exist)
    monkeypatch.setenv("GT_SKILL_TABLE", "no-such-table")
    # WHEN a batch is consolidated
    response = post_annotation.handler(put_event(aws, load("classification_payload.json")), None)
    # THEN it is still answered, and the failed read and write are one metric each
    assert len(response) == 4
    (record,) = emf_records(capsys.readouterr().out)
    assert record["SkillStoreErrors"] == 2
    names = [m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "SkillStoreErrors" in names


def test_label_set_scope_shares_skill_between_jobs(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_SKILL_SCOPE", "label-set")
    payload = load("classification_payload.json")
    event = put_event(aws, payload)
    post_annotation.handler(event, None)
    other = dict(event, labelingJobArn=event["labelingJobArn"].replace(JOB, "pets-second"))
    post_annotation.handler(other, None)
    scope = skill_scope("label-set", JOB, "IMAGE_CLASSIFICATION", event["labelCategories"])
    assert scope.startswith("labels#")
    assert stored_item(aws, scope, W1)["scored"] == pytest.approx(6.0)  # 3 objects x 2 jobs
    assert stored_item(aws, f"job#{JOB}", W1) == {}


def test_without_a_skill_table_nothing_is_stored(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GT_SKILL_TABLE")
    response = post_annotation.handler(put_event(aws, load("classification_payload.json")), None)
    assert len(response) == 4
    assert aws["dynamo"].scan(TableName=TABLE)["Count"] == 0


# -- PNGs to the job's output prefix ---------------------------------------------------------
def test_the_png_writer_puts_masks_under_the_jobs_output_prefix(aws: dict[str, Any]) -> None:
    access = payload_module.S3Access("DIRECT_READ", None)
    writer = payload_module.S3PngWriter(access, f"s3://{BUCKET}/jobs/", JOB)
    png = encode_indexed(2, 1, bytes([0, 1]), [(0, 0, 0), (44, 160, 44)])
    uri = writer("obj/../7", png)
    assert uri == f"s3://{BUCKET}/jobs/{JOB}/consolidated-masks/obj_.._7.png"
    stored = aws["s3"].get_object(Bucket=BUCKET, Key=uri[len(f"s3://{BUCKET}/") :])
    assert stored["ContentType"] == "image/png" and stored["Body"].read() == png


def test_fails_when_the_output_uri_is_not_s3(aws: dict[str, Any]) -> None:
    access = payload_module.S3Access("DIRECT_READ", None)
    with pytest.raises(ValueError, match="not an s3:// URI"):
        payload_module.S3PngWriter(access, "https://bucket/jobs", JOB)
    with pytest.raises(ValueError, match="payload access 'READ' is unknown"):
        payload_module.S3Access("READ", None)


def _mask_answer(worker: str, rows: list[str]) -> dict[str, Any]:
    """A crowd-semantic-segmentation answer: '#' pixels painted Person, '.' left empty."""
    width, height = len(rows[0]), len(rows)
    indices = bytes(1 if c == "#" else 0 for row in rows for c in row)
    png = encode_indexed(width, height, indices, [(0, 0, 0), parse_hex_colour("#2ca02c")])
    value = {
        "inputImageProperties": {"width": width, "height": height},
        "labelMappings": {"Person": {"color": "#2ca02c"}},
        "labeledImage": {"pngImageData": base64.b64encode(png).decode("ascii")},
    }
    return {"workerId": worker, "annotationData": {"content": json.dumps({"crowd-seg": value})}}


@pytest.mark.parametrize("mode", ["ASSUME_EXECUTION_ROLE", "DIRECT_READ"])
def test_segmentation_masks_are_written_to_s3_and_referenced(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # GIVEN a semantic-segmentation job and three workers' masks
    monkeypatch.setenv("GT_TASK_TYPE", "SEMANTIC_SEGMENTATION")
    monkeypatch.setenv("GT_ANSWER_NAME", "crowd-seg")
    monkeypatch.setenv("GT_CONSOLIDATION", '{"method": "semantic-segmentation"}')
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", mode)
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://gt-input-bucket/street/0.jpg"},
            "annotations": [
                _mask_answer(W1, ["##..", "##.."]),
                _mask_answer(W2, ["##..", "#..."]),
                _mask_answer(W3, ["....", "...."]),
            ],
        }
    ]
    event = put_event(aws, payload)
    event["labelCategories"] = ["Person"]
    event["labelAttributeName"] = "street-mask"  # a custom job may not use -ref
    # WHEN consolidated
    response = post_annotation.handler(event, None)
    # THEN the label is the URI of an indexed PNG under the job's output prefix
    content = response[0]["consolidatedAnnotation"]["content"]
    label, metadata = content["street-mask"], content["street-mask-metadata"]
    assert label == f"s3://{BUCKET}/jobs/{JOB}/consolidated-masks/0.png"
    body = aws["s3"].get_object(Bucket=BUCKET, Key=f"jobs/{JOB}/consolidated-masks/0.png")
    mask = decode(body["Body"].read())
    assert (mask.width, mask.height) == (4, 2) and mask.color_type == 3
    names = {int(k): v["class-name"] for k, v in metadata["internal-color-map"].items()}
    painted = [
        "".join("#" if names[mask.pixel(x, y)[0]] == "Person" else "." for x in range(4))
        for y in range(2)
    ]
    assert painted == ["##..", "#..."]  # a pixel is Person where two of the three workers say so
    assert metadata["workers"] == 3


# -- pre-annotation in the same account ------------------------------------------------------
def test_pre_annotation_needs_no_aws_call(aws: dict[str, Any]) -> None:
    event = load("pre_annotation_image_event.json")
    response = pre_annotation.handler(event, None)
    assert response["taskInput"]["taskObject"] == event["dataObject"]["source-ref"]


# -- labels by reference (the environment holds no labels: Lambda's 4 KB) ---------------------
def test_pre_annotation_reads_the_labels_from_the_label_category_file_once(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 50 labels of 100 characters in the label-category file, only its URI in the env
    labels = [f"{i:02d}" + "x" * 98 for i in range(50)]
    document = {"document-version": "2018-11-28", "labels": [{"label": x} for x in labels]}
    aws["s3"].put_object(Bucket=BUCKET, Key="config/labels.json", Body=json.dumps(document))
    monkeypatch.delenv("GT_LABELS", raising=False)
    monkeypatch.setenv("GT_LABEL_CATEGORIES_URI", f"s3://{BUCKET}/config/labels.json")
    event = load("pre_annotation_image_event.json")
    # WHEN two objects are prepared
    first = pre_annotation.handler(event, None)
    aws["s3"].delete_object(Bucket=BUCKET, Key="config/labels.json")
    second = pre_annotation.handler(event, None)
    # THEN the task input holds the labels in the job's order, read once per container
    assert first["taskInput"]["labels"] == labels == second["taskInput"]["labels"]


def test_post_annotation_reads_the_label_file_only_when_the_event_has_no_categories(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = {"document-version": "2018-11-28", "labels": [{"label": "Cat"}, {"label": "Dog"}]}
    aws["s3"].put_object(Bucket=BUCKET, Key="config/labels.json", Body=json.dumps(document))
    monkeypatch.setenv("GT_LABEL_CATEGORIES_URI", f"s3://{BUCKET}/config/labels.json")
    event = put_event(aws, load("classification_payload.json"))
    event.pop("labelCategories", None)
    response = post_annotation.handler(event, None)
    metadata = response[0]["consolidatedAnnotation"]["content"]["pets-metadata"]
    assert metadata["class-name"] in ("Cat", "Dog")
    assert {f"s3://{BUCKET}/config/labels.json": ("Cat", "Dog")} == payload_module._LABELS


# -- Lambda's 6 MB response limit --------------------------------------------------------------
@pytest.mark.parametrize("mode", ["ASSUME_EXECUTION_ROLE", "DIRECT_READ"])
def test_answers_that_would_pass_6_mb_inline_are_kept_by_reference_in_s3(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from gt_annotation.output import ALL_ANNOTATIONS_KEY, ALL_ANNOTATIONS_REF_KEY

    # GIVEN a CUSTOM job (every answer kept) whose 40 objects carry 3 masks of 60 KB each:
    # about 7 MB of answers inline
    monkeypatch.setenv("GT_TASK_TYPE", "CUSTOM")
    monkeypatch.setenv("GT_ANSWER_NAME", "crowd-seg")
    monkeypatch.setenv("GT_CONSOLIDATION", '{"method": "all-annotations"}')
    monkeypatch.setenv("GT_PAYLOAD_ACCESS", mode)
    mask = base64.b64encode(bytes(range(256)) * 176).decode("ascii")  # 60 KB of base64
    payload = [
        {
            "datasetObjectId": str(i),
            "dataObject": {"s3Uri": f"s3://gt-input-bucket/street/{i}.jpg"},
            "annotations": [
                {
                    "workerId": worker,
                    "annotationData": {
                        "content": json.dumps({"crowd-seg": {"pngImageData": mask, "n": i}})
                    },
                }
                # one small object: its answers stay inline
                for worker in ((W1,) if i == 39 else (W1, W2, W3))
            ],
        }
        for i in range(40)
    ]
    payload[39]["annotations"][0]["annotationData"]["content"] = '{"crowd-seg": {"n": 39}}'
    inline = len(json.dumps(payload))
    assert inline > 6 * 1024 * 1024
    # WHEN consolidated
    response = post_annotation.handler(put_event(aws, payload), None)
    # THEN the response is within Lambda's limit
    assert len(json.dumps(response).encode()) <= 6 * 1024 * 1024 - 256 * 1024
    metadata = [e["consolidatedAnnotation"]["content"]["pets-metadata"] for e in response]
    moved = [m for m in metadata if ALL_ANNOTATIONS_REF_KEY in m]
    assert moved and metadata[39][ALL_ANNOTATIONS_KEY][0]["workerId"] == W1
    # AND each moved object's answers are in S3 under the job's output prefix, whole
    first = moved[0][ALL_ANNOTATIONS_REF_KEY]
    assert first.startswith(f"s3://{BUCKET}/jobs/{JOB}/annotations-from-all-workers/")
    assert ALL_ANNOTATIONS_KEY not in moved[0]
    key = first[len(f"s3://{BUCKET}/") :]
    stored = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert [a["workerId"] for a in stored] == [W1, W2, W3]
    assert stored[0]["annotationData"]["content"]["crowd-seg"]["pngImageData"] == mask
