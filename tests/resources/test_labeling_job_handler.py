"""The labeling-job custom resource against a stubbed SageMaker (moto has no labeling jobs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from gt_resources import cfn_response, labeling_job
from gt_resources.labeling_job import HASH_TAG, JobNameTaken, handle, job_name, request_hash

REQUEST: dict[str, Any] = {
    "LabelAttributeName": "street-people",
    "InputConfig": {
        "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://in/d/dataset.manifest"}}
    },
    "OutputConfig": {"S3OutputPath": "s3://out/labeling-jobs/street-people/output/"},
    "RoleArn": "arn:aws:iam::111122223333:role/exec",
    "HumanTaskConfig": {
        "WorkteamArn": "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t",
        "UiConfig": {"UiTemplateS3Uri": "s3://in/c/t.html"},
        "TaskTitle": "Outline people",
        "TaskDescription": "One instance per person",
        "TaskKeywords": ["people"],
        "NumberOfHumanWorkersPerDataObject": 3,
        "TaskTimeLimitInSeconds": 600,
        "TaskAvailabilityLifetimeInSeconds": 864000,
        "MaxConcurrentTaskCount": 100,
    },
    "Tags": [{"Key": "gt-constructs:construct", "Value": "Stack/Job"}],
}
PREFIX = "street-people"
NAME = job_name(PREFIX, REQUEST)
ARN = f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{NAME}"
STACK = "arn:aws:cloudformation:us-east-1:111122223333:stack/S/1"


def event(kind: str, request: dict[str, Any] = REQUEST, **extra: Any) -> dict[str, Any]:
    props = {
        "Request": json.dumps(request),
        "JobNamePrefix": PREFIX,
        "StopReplacedJobs": extra.pop("stop_replaced", "true"),
        "RemovalPolicy": extra.pop("removal", "destroy"),
    }
    return {
        "RequestType": kind,
        "ResourceProperties": props,
        "StackId": STACK,
        "RequestId": "r",
        "LogicalResourceId": "Job",
        "ResponseURL": "https://cfn.invalid/x",
        **extra,
    }


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def not_found(stubber: Stubber, name: str = NAME) -> None:
    stubber.add_client_error(
        "describe_labeling_job",
        "ResourceNotFound",
        f"Requested resource not found: {name}",
        expected_params={"LabelingJobName": name},
    )


def described(stubber: Stubber, status: str, name: str = NAME) -> None:
    stubber.add_response(
        "describe_labeling_job", _description(status, name), {"LabelingJobName": name}
    )


def _description(status: str, name: str) -> dict[str, Any]:
    return {
        "LabelingJobStatus": status,
        "LabelCounters": {},
        "CreationTime": "2026-11-23T00:00:00Z",
        "LastModifiedTime": "2026-11-23T00:00:00Z",
        "JobReferenceCode": "x",
        "LabelingJobName": name,
        "LabelingJobArn": f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{name}",
        "LabelAttributeName": "street-people",
        "InputConfig": REQUEST["InputConfig"],
        "OutputConfig": REQUEST["OutputConfig"],
        "RoleArn": REQUEST["RoleArn"],
        "HumanTaskConfig": {
            **REQUEST["HumanTaskConfig"],
            "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:111122223333:function:pre",
        },
    }


def tagged(stubber: Stubber, digest: str, name: str = NAME) -> None:
    arn = f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{name}"
    stubber.add_response(
        "list_tags", {"Tags": [{"Key": HASH_TAG, "Value": digest}]}, {"ResourceArn": arn}
    )


def test_job_name_is_prefix_and_request_hash_and_valid() -> None:
    import re

    assert f"{PREFIX}-{request_hash(REQUEST)}" == NAME
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", NAME)
    changed = json.loads(json.dumps(REQUEST))
    changed["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] = 5
    assert job_name(PREFIX, changed) != NAME


def test_create_starts_the_job_with_its_name_and_hash_tag(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    not_found(stubber)
    expected = dict(
        REQUEST,
        LabelingJobName=NAME,
        Tags=[*REQUEST["Tags"], {"Key": HASH_TAG, "Value": request_hash(REQUEST)}],
    )
    stubber.add_response("create_labeling_job", {"LabelingJobArn": ARN}, expected)
    physical_id, data = handle(event("Create"), client)
    assert physical_id == NAME
    assert data == {
        "LabelingJobName": NAME,
        "LabelingJobArn": ARN,
        "OutputManifestS3Uri": f"s3://out/labeling-jobs/street-people/output/{NAME}/manifests/output/output.manifest",
    }


def test_retried_create_finds_its_own_job(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    described(stubber, "InProgress")
    tagged(stubber, request_hash(REQUEST))
    physical_id, data = handle(event("Create"), client)  # no create_labeling_job call
    assert physical_id == NAME and data["LabelingJobArn"] == ARN


def test_create_fails_when_the_name_belongs_to_another_job(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    described(stubber, "Completed")
    tagged(stubber, "0123456789")
    with pytest.raises(JobNameTaken, match=f"{NAME} is taken by a different job"):
        handle(event("Create"), client)


def test_unchanged_update_does_nothing(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    described(stubber, "InProgress")
    physical_id, _ = handle(event("Update", PhysicalResourceId=NAME), client)
    assert physical_id == NAME


def test_changed_update_creates_a_new_job_with_a_new_physical_id(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    changed = json.loads(json.dumps(REQUEST))
    changed["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] = 5
    new_name = job_name(PREFIX, changed)
    not_found(stubber, new_name)
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": ARN.replace(NAME, new_name)},
        {**changed, "LabelingJobName": new_name, "Tags": ANY},
    )
    physical_id, _ = handle(event("Update", changed, PhysicalResourceId=NAME), client)
    assert physical_id == new_name != NAME


@pytest.mark.parametrize("status", ["Initializing", "InProgress"])
def test_delete_stops_a_running_job(sagemaker: tuple[Any, Stubber], status: str) -> None:
    client, stubber = sagemaker
    described(stubber, status)
    stubber.add_response("stop_labeling_job", {}, {"LabelingJobName": NAME})
    assert handle(event("Delete", PhysicalResourceId=NAME), client) == (NAME, {})


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopping", "Stopped"])
def test_delete_of_a_finished_job_is_a_success(sagemaker: tuple[Any, Stubber], status: str) -> None:
    client, stubber = sagemaker
    described(stubber, status)
    assert handle(event("Delete", PhysicalResourceId=NAME), client) == (NAME, {})


def test_delete_of_a_missing_job_is_a_success(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    not_found(stubber)
    assert handle(event("Delete", PhysicalResourceId=NAME), client) == (NAME, {})


def test_retained_delete_leaves_the_job_running(sagemaker: tuple[Any, Stubber]) -> None:
    client, _ = sagemaker  # no SageMaker call at all
    assert handle(event("Delete", removal="retain", PhysicalResourceId=NAME), client) == (NAME, {})


def test_replaced_job_keeps_running_when_stop_replaced_jobs_is_off(
    sagemaker: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = sagemaker
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cloudformation) as cfn:
        cfn.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "S",
                        "CreationTime": "2026-11-23T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                    }
                ]
            },
            {"StackName": STACK},
        )
        monkeypatch.setitem(labeling_job._CLIENTS, "cloudformation", cloudformation)
        result = handle(event("Delete", stop_replaced="false", PhysicalResourceId=NAME), client)
    assert result == (NAME, {})


def test_sagemaker_validation_errors_reach_cloudformation_in_full(
    sagemaker: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SageMaker refuses the request with a long validation message
    client, stubber = sagemaker
    message = (
        "1 validation error detected: Value 'x' at 'humanTaskConfig.taskKeywords' failed "
        "to satisfy constraint: " + "Member must satisfy regular expression pattern. " * 20
    )
    not_found(stubber)
    stubber.add_client_error("create_labeling_job", "ValidationException", message)
    monkeypatch.setitem(labeling_job._CLIENTS, "sagemaker", client)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(cfn_response, "send_response", lambda url, body: sent.append(body))
    # WHEN CloudFormation calls the handler
    labeling_job.handler(event("Create"), None)
    # THEN the stack event carries SageMaker's message unchanged
    assert sent[0]["Status"] == "FAILED"
    assert message in sent[0]["Reason"]
    assert "ValidationException" in sent[0]["Reason"]


def test_success_is_reported_with_the_job_attributes(
    sagemaker: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = sagemaker
    described(stubber, "InProgress")
    tagged(stubber, request_hash(REQUEST))
    monkeypatch.setitem(labeling_job._CLIENTS, "sagemaker", client)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(cfn_response, "send_response", lambda url, body: sent.append(body))
    labeling_job.handler(event("Create"), None)
    assert sent[0]["Status"] == "SUCCESS" and sent[0]["PhysicalResourceId"] == NAME
    assert sent[0]["Data"]["LabelingJobArn"] == ARN


def test_a_too_long_reason_is_cut_to_fit_cloudformations_limit() -> None:
    body = cfn_response.response_body(event("Create"), "FAILED", "", "x" * 10_000, {})
    assert len(json.dumps(body)) < 4096
