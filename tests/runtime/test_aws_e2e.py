"""A whole job on moto, through the runtime's AWS handlers (issue 19's end-to-end test).

GIVEN a classification job's inputs in S3, the runtime's table, its signing secret and
the job's two Lambdas (the library's unchanged handlers), WHEN the state machine's steps
run in its order (initialize, the Distributed Map's chunks, start, ticks) and three
workers label every object through the HTTP API and the task origin (claim, task page,
the Crowd HTML Elements' Mechanical Turk submit), THEN ``output.manifest`` holds every
input line in order with Ground Truth's built-in classification shape, the worker
responses and consolidation files are where Ground Truth writes them, and the job's
state changes went to EventBridge under the runtime's source.
"""

from __future__ import annotations

import json

import boto3
import pytest
from gt_constructs.lambda_src.gt_runtime import aws_contract
from moto import mock_aws

from .aws_support import (
    LABELS,
    api_event,
    aws_runtime,
    claims_of,
    job_request,
)

OBJECTS = 7
WORKERS = ("ana", "ben", "chi")


@pytest.fixture(scope="module")
def finished():
    with mock_aws(), aws_runtime(OBJECTS) as job:
        state = job.run_machine_start(job_request("pets-e2e", 3))
        name = state["job"]["jobName"]
        # an outsider (another team) is refused before anyone labels
        outsider = claims_of("eve", groups=("other-team",))
        me = json.loads(job.api(api_event("GET", "/api/me", outsider))["body"])
        refused = job.api(
            api_event(
                "POST",
                f"/api/jobs/{name}/claim",
                outsider,
                headers={"x-csrf-token": me["csrfToken"]},
            )
        )
        for rounds in range(20):
            worked = False
            for worker in WORKERS:
                while job.label(
                    worker, name, lambda task: LABELS[int(task["dataset_object_id"]) % 3]
                ):
                    worked = True
            state = job.run_tick(state)
            if state["tick"]["done"]:
                break
            assert worked or rounds < 3
        s3 = boto3.client("s3", region_name="us-east-1")
        manifest = s3.get_object(
            Bucket="job-output", Key=f"jobs/{name}/manifests/output/output.manifest"
        )["Body"].read()
        listing = [o["Key"] for o in s3.list_objects_v2(Bucket="job-output")["Contents"]]
        yield {
            "name": name,
            "state": state,
            "manifest": [json.loads(line) for line in manifest.decode().splitlines()],
            "keys": listing,
            "refused": refused,
            "events": job.events,
            "job": job,
        }


def test_the_job_completes_with_one_labelled_line_per_input_line_in_order(finished):
    assert finished["state"]["tick"]["done"] is True
    assert finished["state"]["tick"]["status"] == "Completed"
    lines = finished["manifest"]
    assert [line["id"] for line in lines] == list(range(OBJECTS))
    for line in lines:
        expected = LABELS[line["id"] % 3]
        metadata = line["animal-metadata"]
        assert metadata["class-name"] == expected
        assert line["animal"] == LABELS.index(expected)
        assert metadata["type"] == "groundtruth/image-classification"
        assert metadata["human-annotated"] == "yes"
        assert metadata["job-name"] == f"labeling-job/{finished['name']}"
        assert "creation-date" in metadata


def test_worker_responses_and_consolidation_files_are_in_ground_truths_layout(finished):
    keys = finished["keys"]
    base = f"jobs/{finished['name']}/annotations/"
    responses = [k for k in keys if k.startswith(base + "worker-response/iteration-1/")]
    assert len(responses) == OBJECTS
    assert any(
        k.startswith(base + "consolidated-annotation/consolidation-request/iteration-1/")
        for k in keys
    )
    assert any(
        k.startswith(base + "consolidated-annotation/consolidation-response/iteration-1/")
        for k in keys
    )


def test_a_worker_outside_the_team_is_refused_with_403(finished):
    assert finished["refused"]["statusCode"] == 403
    assert "workteam" in json.loads(finished["refused"]["body"])["message"]


def test_the_jobs_state_changes_went_to_eventbridge_with_ground_truths_shape(finished):
    seen = [e for e in finished["events"] if e["Source"] == aws_contract.EVENT_SOURCE]
    assert len(seen) == len(finished["events"])
    statuses = [json.loads(e["Detail"])["LabelingJobStatus"] for e in seen]
    assert statuses[0] == "Initializing" and statuses[-1] == "Completed"
    assert "InProgress" in statuses
    for event in seen:
        assert event["DetailType"] == "SageMaker Ground Truth Labeling Job State Change"
        assert event["Resources"] == [
            f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{finished['name']}"
        ]


def test_every_object_took_three_answers_and_nothing_more(finished):
    job = finished["job"]
    # 7 objects x 3 workers: 21 answers, each a task page, its data object, a submit
    assert job.lambda_invocations["task-pages"] == 3 * OBJECTS * 3
    assert job.counts["lambda:invoke"] >= OBJECTS  # pre-annotation per line + batches
