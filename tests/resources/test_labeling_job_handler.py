"""The labeling-job custom resource against a stubbed SageMaker (moto has no labeling jobs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from gt_resources import cfn_response, labeling_job
from gt_resources.job_contract import HASH_TAG, job_name, request_hash
from gt_resources.labeling_job import JobNameTaken, handle

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
        # The construct's defaults: stop replaced jobs, retain on delete.
        "RemovalPolicy": extra.pop("removal", "retain"),
    }
    if "start" in extra:
        props["Start"] = extra.pop("start")
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


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The stack the handler asks why it is deleted (``delete_reason``)."""
    client = boto3.client("cloudformation", region_name="us-east-1")
    monkeypatch.setitem(labeling_job._CLIENTS, "cloudformation", client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def stack_is(stubber: Stubber, status: str, resource: str | None = None) -> None:
    """The stack's status; after an update, the resource's current physical id (``None``:
    the logical resource is no longer in the stack)."""
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {"StackName": "S", "CreationTime": "2026-11-23T00:00:00Z", "StackStatus": status}
            ]
        },
        {"StackName": STACK},
    )
    if not status.startswith("UPDATE") or "ROLLBACK" in status:
        return
    params = {"StackName": STACK, "LogicalResourceId": "Job"}
    if resource is None:
        stubber.add_client_error(
            "describe_stack_resource",
            "ValidationError",
            "Resource Job does not exist for stack S",
            expected_params=params,
        )
        return
    detail = {
        "LogicalResourceId": "Job",
        "PhysicalResourceId": resource,
        "ResourceType": "Custom::GroundTruthLabelingJob",
        "LastUpdatedTimestamp": "2026-11-23T00:00:00Z",
        "ResourceStatus": "UPDATE_COMPLETE",
    }
    stubber.add_response("describe_stack_resource", {"StackResourceDetail": detail}, params)


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
        "RequestHash": request_hash(REQUEST),
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


def _with_tags(request: dict[str, Any], **tags: str) -> dict[str, Any]:
    own = [t for t in request["Tags"] if t["Key"].startswith("gt-constructs:")]
    return dict(request, Tags=[*own, *({"Key": k, "Value": v} for k, v in tags.items())])


def test_user_tags_do_not_change_the_job_name() -> None:
    tagged_request = _with_tags(REQUEST, team="vision", costcentre="42")
    assert job_name(PREFIX, tagged_request) == NAME
    # the library's own tags (construct, template fingerprint) do define the job
    own = dict(REQUEST, Tags=[{"Key": "gt-constructs:template-and-labels", "Value": "ab"}])
    assert job_name(PREFIX, own) != NAME


def test_update_that_only_changes_user_tags_retags_the_running_job(
    sagemaker: tuple[Any, Stubber],
) -> None:
    # GIVEN a running job tagged team=vision, costcentre=41
    client, stubber = sagemaker
    old = _with_tags(REQUEST, team="vision", costcentre="41")
    new = _with_tags(REQUEST, costcentre="42", project="streets")
    described(stubber, "InProgress")
    # THEN changed and new tags are added, removed ones deleted: no new job
    stubber.add_response(
        "add_tags",
        {},
        {
            "ResourceArn": ARN,
            "Tags": [{"Key": "costcentre", "Value": "42"}, {"Key": "project", "Value": "streets"}],
        },
    )
    stubber.add_response("delete_tags", {}, {"ResourceArn": ARN, "TagKeys": ["team"]})
    update = event(
        "Update",
        new,
        PhysicalResourceId=NAME,
        OldResourceProperties={"Request": json.dumps(old), "JobNamePrefix": PREFIX},
    )
    assert handle(update, client)[0] == NAME


def test_planning_names_the_job_without_creating_it(sagemaker: tuple[Any, Stubber]) -> None:
    client, _ = sagemaker  # no SageMaker call at all
    name, data = handle(event("Create", start="false"), client)
    assert name == NAME
    assert data["LabelingJobArn"] == ARN.replace(NAME, NAME.lower())
    assert data["RequestHash"] == request_hash(REQUEST)
    assert handle(event("Delete", start="false", PhysicalResourceId=NAME), client) == (NAME, {})


NEW_NAME = f"{PREFIX}-0123456789"
CLEANUP = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"


def stopped(stubber: Stubber, status: str = "InProgress") -> None:
    described(stubber, status)
    stubber.add_response("stop_labeling_job", {}, {"LabelingJobName": NAME})


# -- delete: replaced by an update ---------------------------------------------------------
def test_replaced_job_is_stopped_with_the_default_retain_policy(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber
) -> None:
    # GIVEN the defaults (retain on delete, stop replaced jobs) and an update that replaced
    # the job: the logical resource now holds the new job
    client, stubber = sagemaker
    stack_is(cloudformation, CLEANUP, resource=NEW_NAME)
    # THEN the old job is stopped: RETAIN governs deletion, not replacement
    stopped(stubber)
    assert handle(event("Delete", PhysicalResourceId=NAME), client) == (NAME, {})


@pytest.mark.parametrize("removal", ["retain", "destroy"])
def test_replaced_job_keeps_running_when_stop_replaced_jobs_is_off(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber, removal: str
) -> None:
    client, _ = sagemaker  # no SageMaker call at all
    stack_is(cloudformation, CLEANUP, resource=NEW_NAME)
    result = handle(
        event("Delete", stop_replaced="false", removal=removal, PhysicalResourceId=NAME), client
    )
    assert result == (NAME, {})


# -- delete: stack deleted or resource removed -----------------------------------------------
@pytest.mark.parametrize("status", ["Initializing", "InProgress"])
def test_destroyed_stack_stops_a_running_job(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber, status: str
) -> None:
    client, stubber = sagemaker
    stack_is(cloudformation, "DELETE_IN_PROGRESS")
    stopped(stubber, status)
    assert handle(event("Delete", removal="destroy", PhysicalResourceId=NAME), client) == (NAME, {})


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopping", "Stopped"])
def test_delete_of_a_finished_job_is_a_success(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber, status: str
) -> None:
    client, stubber = sagemaker
    stack_is(cloudformation, "DELETE_IN_PROGRESS")
    described(stubber, status)
    assert handle(event("Delete", removal="destroy", PhysicalResourceId=NAME), client) == (NAME, {})


def test_delete_of_a_missing_job_is_a_success(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber
) -> None:
    client, stubber = sagemaker
    stack_is(cloudformation, "DELETE_IN_PROGRESS")
    not_found(stubber)
    assert handle(event("Delete", removal="destroy", PhysicalResourceId=NAME), client) == (NAME, {})


def test_retained_stack_delete_leaves_the_job_running(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber
) -> None:
    client, _ = sagemaker  # no SageMaker call at all: the default policy
    stack_is(cloudformation, "DELETE_IN_PROGRESS")
    assert handle(event("Delete", PhysicalResourceId=NAME), client) == (NAME, {})


@pytest.mark.parametrize("removal", ["retain", "destroy"])
def test_job_removed_from_the_template_follows_the_removal_policy(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber, removal: str
) -> None:
    # GIVEN an update that removed the construct: the logical resource is gone
    client, stubber = sagemaker
    stack_is(cloudformation, CLEANUP, resource=None)
    if removal == "destroy":
        stopped(stubber)
    assert handle(event("Delete", removal=removal, PhysicalResourceId=NAME), client) == (NAME, {})


def test_job_still_in_the_stack_under_its_own_id_is_removed_not_replaced(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber
) -> None:
    client, _ = sagemaker
    stack_is(cloudformation, CLEANUP, resource=NAME)  # being deleted, not replaced
    result = handle(event("Delete", stop_replaced="true", PhysicalResourceId=NAME), client)
    assert result == (NAME, {})  # retained: no SageMaker call


# -- delete: a deploy that rolled back -------------------------------------------------------
@pytest.mark.parametrize(
    "status", ["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"]
)
def test_job_made_by_an_update_that_rolled_back_is_stopped_even_when_kept_otherwise(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber, status: str
) -> None:
    # GIVEN stop_replaced_jobs=False and the default retain: the job of the failed update
    # would otherwise run on unmanaged beside the one the stack returns to
    client, stubber = sagemaker
    stack_is(cloudformation, status)
    stopped(stubber)
    result = handle(event("Delete", stop_replaced="false", PhysicalResourceId=NAME), client)
    assert result == (NAME, {})


def test_job_made_by_a_create_that_rolled_back_is_stopped_with_the_default_retain(
    sagemaker: tuple[Any, Stubber], cloudformation: Stubber
) -> None:
    client, stubber = sagemaker
    stack_is(cloudformation, "ROLLBACK_IN_PROGRESS")
    stopped(stubber, "Initializing")
    assert handle(event("Delete", PhysicalResourceId=NAME), client) == (NAME, {})


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
