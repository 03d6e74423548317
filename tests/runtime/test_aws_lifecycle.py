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
from moto import mock_aws

from gt_constructs.lambda_src.gt_runtime import aws_contract, aws_host, aws_lifecycle

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


def test_delete_stops_a_running_job_and_retain_leaves_it(runtime):
    job, states, _ = runtime
    engine = aws_host.engine(account="111122223333")
    state = job.run_machine_start(job_request("pets-delete", 2))
    name = state["job"]["jobName"]
    kept, _ = aws_lifecycle.handle(
        _event("Delete", _request(), name, removal="retain"), states, engine
    )
    assert kept == name and engine.describe_job(name)["LabelingJobStatus"] == "InProgress"
    aws_lifecycle.handle(_event("Delete", _request(), name), states, engine)
    assert engine.describe_job(name)["LabelingJobStatus"] == "Stopping"
    # the state machine's next tick writes the output and ends it
    state = job.run_tick(state)
    assert state["tick"]["done"] and state["tick"]["status"] == "Stopped"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.head_object(Bucket="job-output", Key=f"jobs/{name}/manifests/output/output.manifest")


def test_deleting_a_job_that_never_started_succeeds(runtime):
    _, states, _ = runtime
    engine = aws_host.engine(account="111122223333")
    name, _ = aws_lifecycle.handle(_event("Delete", _request(), "pets-0123456789"), states, engine)
    assert name == "pets-0123456789"
