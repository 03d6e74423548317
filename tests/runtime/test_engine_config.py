"""What the runtime refuses: one ``JobConfigError`` listing every problem, nothing stored."""

from __future__ import annotations

import json

import pytest
from gt_constructs.lambda_src.gt_runtime.model import Conflict, JobConfigError, NotFound

from .engine_support import make_setup, put_inputs, request


@pytest.fixture
def setup(tmp_path):
    s = make_setup(tmp_path)
    put_inputs(s.blobs, 3)
    return s


def _refused(setup, body) -> JobConfigError:
    with pytest.raises(JobConfigError) as caught:
        setup.engine.create_job(body)
    assert setup.store.list_jobs() == []  # nothing was stored
    return caught.value


def test_everything_the_runtime_cannot_do_is_listed_in_one_error(setup):
    body = request()
    human = body["HumanTaskConfig"]
    human["WorkteamArn"] = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    human["UiConfig"] = {"HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:1:human-task-ui/Box"}
    human["PreHumanTaskLambdaArn"] = "arn:aws:lambda:us-east-1:1:function:my-node-function"
    human["AnnotationConsolidationConfig"] = {
        "AnnotationConsolidationLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:ACS-BoundingBox"
    }
    body["LabelingJobAlgorithmsConfig"] = {"LabelingJobAlgorithmSpecificationArn": "arn:x"}
    error = _refused(setup, body)
    text = str(error)
    assert len(error.problems) == 5
    assert "public workforce" in text
    assert "HumanTaskUiArn" in text
    assert "automated data labeling" in text
    assert text.count("only the AWS runtime runs it") == 2
    assert error.status == 400
    assert error.to_dict()["problems"] == error.problems


def test_a_vendor_workforce_is_refused(setup):
    body = request(WorkteamArn="arn:aws:sagemaker:us-east-1:1:workteam/vendor-crowd/acme")
    assert "vendor" in str(_refused(setup, body))


def test_a_streaming_job_is_refused(setup):
    body = request()
    body["InputConfig"] = {"DataSource": {"SnsDataSource": {"SnsTopicArn": "arn:aws:sns:x"}}}
    assert "streaming" in str(_refused(setup, body))


def test_bounds_of_the_human_task_are_those_of_create_labeling_job(setup):
    body = request(
        NumberOfHumanWorkersPerDataObject=10,
        TaskTimeLimitInSeconds=29,
        TaskAvailabilityLifetimeInSeconds=2_592_001,
        MaxConcurrentTaskCount=5001,
    )
    body["StoppingConditions"] = {"MaxPercentageOfInputDatasetLabeled": 0}
    error = _refused(setup, body)
    for key in (
        "NumberOfHumanWorkersPerDataObject",
        "TaskTimeLimitInSeconds",
        "TaskAvailabilityLifetimeInSeconds",
        "MaxConcurrentTaskCount",
        "MaxPercentageOfInputDatasetLabeled",
    ):
        assert key in str(error)


def test_an_unparsable_manifest_line_is_named_and_nothing_is_stored(setup):
    lines = [json.dumps({"source-ref": "s3://in/a.jpg"}), "{not json", "[1, 2]"]
    put_inputs(setup.blobs, 0, lines=lines)
    text = str(_refused(setup, request()))
    assert "line 2 is not JSON" in text
    assert "line 3 is a JSON list" in text


def test_a_line_the_pre_annotation_lambda_refuses_is_named_and_nothing_is_stored(setup):
    put_inputs(setup.blobs, 0, lines=[json.dumps({"source-ref": "s3://in/a.jpg"}), "{}"])
    text = str(_refused(setup, request()))
    assert "object 1" in text
    assert "source-ref" in text


def test_a_missing_template_manifest_or_name_is_named(setup):
    body = request()
    body["LabelingJobName"] = "bad name!"
    body["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"] = "s3://in/nothing.html"
    body["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = "s3://in/none.jsonl"
    text = str(_refused(setup, body))
    assert "LabelingJobName" in text
    assert "worker template cannot be read" in text
    assert "input manifest cannot be read" in text


def test_creating_a_job_again_is_idempotent_and_another_request_under_its_name_conflicts(setup):
    first = setup.engine.create_job(request())
    again = setup.engine.create_job(request())
    assert again["LabelingJobArn"] == first["LabelingJobArn"]
    assert len(setup.store.list_jobs()) == 1
    with pytest.raises(Conflict, match="already exists"):
        setup.engine.create_job(request(TaskTitle="Another title"))


def test_an_unknown_job_is_not_found(setup):
    with pytest.raises(NotFound):
        setup.engine.describe_job("nope")
    with pytest.raises(NotFound):
        setup.engine.claim("nope", None)  # type: ignore[arg-type]


def test_a_start_interrupted_after_the_job_was_stored_is_finished_by_tick(setup):
    # GIVEN a job stored as Initializing with part of its objects (a crash mid-start)
    setup.engine.create_job(request(name="whole"))
    job = setup.store.get_job("whole")
    job.name, job.status = "half", "Initializing"
    job.request = {**job.request, "LabelingJobName": "half"}
    job.arn = job.arn.replace("whole", "half")
    setup.store.put_job(job)
    setup.store.add_objects("half", setup.store.objects("whole", limit=1))
    # WHEN the engine ticks
    setup.engine.tick()
    # THEN the job has every object and runs
    description = setup.engine.describe_job("half")
    assert description["LabelingJobStatus"] == "InProgress"
    assert setup.store.count_objects("half").total == 3
