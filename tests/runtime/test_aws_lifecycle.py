"""The self-hosted job's custom resource (``gt_runtime.aws_lifecycle``) on moto.

GIVEN the runtime's state machine on moto, WHEN CloudFormation creates, updates and
deletes the job's resource, THEN create starts one execution named after the job (a
retried create finds it), an unchanged update does nothing, a changed one starts a new
job, and delete stops the job (``Stopping``; the state machine ends it).
"""

from __future__ import annotations

import json
import os

import boto3
import pytest
from botocore.stub import Stubber
from gt_constructs.lambda_src.gt_runtime import aws_contract, aws_host, aws_lifecycle
from moto import mock_aws

from .aws_support import aws_runtime, job_request

MACHINE_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def _event(kind: str, request: dict, physical: str | None = None, **props: str) -> dict:
    event = {
        "RequestType": kind,
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1",
        "RequestId": "r",
        "LogicalResourceId": "Job",
        "ResponseURL": "https://example.invalid/",
        "ResourceProperties": {
            "Request": json.dumps(request),
            "JobNamePrefix": "pets",
            "StopReplacedJobs": "true",
            "RemovalPolicy": props.get("removal", "destroy"),
        },
    }
    if physical:
        event["PhysicalResourceId"] = physical
    return event


@pytest.fixture
def runtime():
    with mock_aws(), aws_runtime(2) as job:
        states = boto3.client("stepfunctions", region_name="us-east-1")
        arn = states.create_state_machine(
            name="runtime-jobs",
            definition=MACHINE_DEFINITION,
            roleArn="arn:aws:iam::111122223333:role/sfn",
        )["stateMachineArn"]
        os.environ[aws_contract.ENV_STATE_MACHINE] = arn
        try:
            yield job, states, arn
        finally:
            os.environ.pop(aws_contract.ENV_STATE_MACHINE, None)


def _request() -> dict:
    body = job_request("ignored", 2)
    body.pop("LabelingJobName")
    return body


def test_create_starts_one_execution_named_after_the_job(runtime):
    _, states, arn = runtime
    engine = aws_host.engine(account="111122223333")
    name, data = aws_lifecycle.handle(_event("Create", _request()), states, engine)
    assert name.startswith("pets-") and data["LabelingJobName"] == name
    assert data["LabelingJobArn"] == f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{name}"
    assert data["OutputManifestS3Uri"].endswith(f"/{name}/manifests/output/output.manifest")
    executions = states.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == [name]
    started = states.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(started["input"])["request"]["LabelingJobName"] == name


def test_an_unchanged_update_does_nothing_and_a_changed_one_starts_a_new_job(runtime):
    _, states, arn = runtime
    engine = aws_host.engine(account="111122223333")
    first, _ = aws_lifecycle.handle(_event("Create", _request()), states, engine)
    same, _ = aws_lifecycle.handle(_event("Update", _request(), first), states, engine)
    assert same == first
    changed = _request()
    changed["HumanTaskConfig"]["TaskTitle"] = "Another title"
    second, _ = aws_lifecycle.handle(_event("Update", changed, first), states, engine)
    assert second != first
    names = sorted(e["name"] for e in states.list_executions(stateMachineArn=arn)["executions"])
    assert names == sorted([first, second])


STACK = "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1"


@pytest.fixture
def stack(monkeypatch):
    """Why CloudFormation deletes the job's resource: the stack's status and, after an
    update, the resource's current physical id (``delete_reason`` asks both)."""
    client = boto3.client("cloudformation", region_name="us-east-1")
    monkeypatch.setitem(aws_lifecycle.labeling_job._CLIENTS, "cloudformation", client)
    with Stubber(client) as stubber:

        def status(value: str, current: str | None = None) -> None:
            stubber.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "s",
                            "CreationTime": "2026-11-23T00:00:00Z",
                            "StackStatus": value,
                        }
                    ]
                },
                {"StackName": STACK},
            )
            if value.startswith("UPDATE") and "ROLLBACK" not in value and current:
                stubber.add_response(
                    "describe_stack_resource",
                    {
                        "StackResourceDetail": {
                            "LogicalResourceId": "Job",
                            "PhysicalResourceId": current,
                            "ResourceType": "Custom::SelfHostedLabelingJob",
                            "LastUpdatedTimestamp": "2026-11-23T00:00:00Z",
                            "ResourceStatus": "UPDATE_COMPLETE",
                        }
                    },
                    {"StackName": STACK, "LogicalResourceId": "Job"},
                )

        yield status
        stubber.assert_no_pending_responses()


def _running(job, engine, name: str):
    state = job.run_machine_start(job_request(name, 2))
    return state, state["job"]["jobName"]


def test_deleting_the_stack_stops_the_job_unless_retained(runtime, stack):
    job, states, _ = runtime
    engine = aws_host.engine(account="111122223333")
    state, name = _running(job, engine, "pets-delete")
    stack("DELETE_IN_PROGRESS")
    kept, _ = aws_lifecycle.handle(
        _event("Delete", _request(), name, removal="retain"), states, engine
    )
    assert kept == name and engine.describe_job(name)["LabelingJobStatus"] == "InProgress"
    stack("DELETE_IN_PROGRESS")
    aws_lifecycle.handle(_event("Delete", _request(), name), states, engine)
    assert engine.describe_job(name)["LabelingJobStatus"] == "Stopping"
    # the state machine's next tick writes the output and ends it
    state = job.run_tick(state)
    assert state["tick"]["done"] and state["tick"]["status"] == "Stopped"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.head_object(Bucket="job-output", Key=f"jobs/{name}/manifests/output/output.manifest")


def test_a_replaced_job_is_stopped_with_the_default_retain(runtime, stack):
    """RETAIN governs removal, not replacement: the old job of a changed request stops."""
    job, states, _ = runtime
    engine = aws_host.engine(account="111122223333")
    _, name = _running(job, engine, "pets-old")
    stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", current="pets-new")
    aws_lifecycle.handle(_event("Delete", _request(), name, removal="retain"), states, engine)
    assert engine.describe_job(name)["LabelingJobStatus"] == "Stopping"


def test_a_replaced_job_keeps_running_when_stop_replaced_jobs_is_false(runtime, stack):
    job, states, _ = runtime
    engine = aws_host.engine(account="111122223333")
    _, name = _running(job, engine, "pets-old2")
    stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", current="pets-new")
    event = _event("Delete", _request(), name, removal="retain")
    event["ResourceProperties"]["StopReplacedJobs"] = "false"
    aws_lifecycle.handle(event, states, engine)
    assert engine.describe_job(name)["LabelingJobStatus"] == "InProgress"


def test_a_job_made_by_a_rolled_back_deploy_is_stopped(runtime, stack):
    job, states, _ = runtime
    engine = aws_host.engine(account="111122223333")
    _, name = _running(job, engine, "pets-rolled")
    stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    event = _event("Delete", _request(), name, removal="retain")
    event["ResourceProperties"]["StopReplacedJobs"] = "false"
    aws_lifecycle.handle(event, states, engine)
    assert engine.describe_job(name)["LabelingJobStatus"] == "Stopping"


def test_deleting_a_job_that_never_started_succeeds(runtime, stack):
    _, states, _ = runtime
    stack("DELETE_IN_PROGRESS")
    engine = aws_host.engine(account="111122223333")
    name, _ = aws_lifecycle.handle(_event("Delete", _request(), "pets-0123456789"), states, engine)
    assert name == "pets-0123456789"
