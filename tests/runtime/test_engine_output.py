"""Ground Truth's output layout, the Lambda events, and tools reading the output unchanged.

GIVEN a job run by the engine with the library's own handlers, THEN the files
under ``S3OutputPath/<job>/`` are where and what Ground Truth writes (spec §5).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from gt_constructs.lambda_src.gt_annotation.contract import (
    PostAnnotationSettings,
    PreAnnotationSettings,
)
from gt_constructs.lambda_src.gt_runtime.engine import Engine
from gt_constructs.lambda_src.gt_runtime.invoke import InProcessInvoker, LocalFunction
from gt_constructs.lambda_src.gt_runtime.model import NoTaskAvailable

from .engine_support import (
    POST_ARN,
    PRE_ARN,
    REGION,
    answer,
    make_setup,
    put_inputs,
    request,
    worker,
)

WORKER_ID = re.compile(r"private\.us-east-1\.[0-9a-f]{16}")
MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
STAMP = re.compile(r"\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d\.json")
VOTES = {0: "cat", 1: "dog", 2: "bird", 3: "cat", 4: "dog"}


def _run_job(setup, count=6, answered=5):
    """Objects 0..answered-1 get 3 answers (two agree); the rest end unanswered."""
    put_inputs(setup.blobs, count)
    setup.engine.create_job(
        request(TaskTimeLimitInSeconds=600, TaskAvailabilityLifetimeInSeconds=3600)
    )
    workers = [worker(n) for n in "abc"]
    for w_index, w in enumerate(workers):
        for _ in range(answered):
            task = setup.engine.claim("pets", w)
            seq = int(task.dataset_object_id)
            label = VOTES[seq] if w_index < 2 else "bird"
            setup.clock.advance(7)
            setup.engine.submit(task.task_id, w, answer(label))
        # the unanswered objects are taken and let go
        for _ in range(count - answered):
            task = setup.engine.claim("pets", w)
            setup.engine.decline(task.task_id, w)
    setup.engine.tick()
    setup.clock.advance(3600)
    setup.engine.tick()


@pytest.fixture
def finished(tmp_path):
    setup = make_setup(tmp_path)
    _run_job(setup)
    return setup


def test_the_final_manifest_has_every_input_line_in_order_with_label_and_metadata(finished):
    lines = finished.manifest_lines("pets")
    assert [line["id"] for line in lines] == list(range(6))
    for seq, line in enumerate(lines[:5]):
        assert line["source-ref"] == f"s3://in/images/{seq:05d}.jpg"
        metadata = line["animal-metadata"]
        assert metadata["class-name"] == VOTES[seq]
        assert line["animal"] == ["cat", "dog", "bird"].index(VOTES[seq])
        assert metadata["job-name"] == "labeling-job/pets"
        assert metadata["human-annotated"] == "yes"
        assert metadata["type"] == "groundtruth/image-classification"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", metadata["creation-date"])
    failed = lines[5]
    assert "animal" not in failed
    assert failed["animal-metadata"]["failure-reason"]
    assert finished.engine.describe_job("pets")["LabelCounters"] == {
        "TotalLabeled": 5,
        "HumanLabeled": 5,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 1,
        "Unlabeled": 0,
    }


def test_worker_responses_are_written_per_object_as_ground_truth_writes_them(finished):
    folder = finished.output("pets", "annotations/worker-response/iteration-1")
    assert sorted(p.name for p in folder.iterdir()) == ["0", "1", "2", "3", "4"]
    files = list((folder / "0").iterdir())
    assert len(files) == 1
    assert STAMP.fullmatch(files[0].name)
    document = json.loads(files[0].read_text())
    answers = document["answers"]
    assert len(answers) == 3
    assert len({a["workerId"] for a in answers}) == 3
    for item in answers:
        assert set(item) == {
            "acceptanceTime",
            "submissionTime",
            "timeSpentInSeconds",
            "workerId",
            "workerMetadata",
            "answerContent",
        }
        assert MILLIS.fullmatch(item["acceptanceTime"])
        assert MILLIS.fullmatch(item["submissionTime"])
        assert item["timeSpentInSeconds"] == 7.0
        assert WORKER_ID.fullmatch(item["workerId"])
        identity = item["workerMetadata"]["identityData"]
        assert identity["identityProviderType"] == "Oidc"
        assert identity["issuer"] == "https://local.test"
        assert identity["sub"] in {"a", "b", "c"}
        assert item["workerId"] == worker(identity["sub"]).worker_id(REGION)
    assert sorted(a["answerContent"]["category"]["label"] for a in answers) == [
        "bird",
        "cat",
        "cat",
    ]


def test_consolidation_requests_and_responses_pair_up_by_file_name(finished):
    base = finished.output("pets", "annotations/consolidated-annotation")
    requests = sorted((base / "consolidation-request/iteration-1").iterdir())
    responses = sorted((base / "consolidation-response/iteration-1").iterdir())
    assert [p.name for p in requests] == [p.name for p in responses]
    assert all(STAMP.fullmatch(p.name) for p in requests)
    payload = [entry for path in requests for entry in json.loads(path.read_text())]
    assert [e["datasetObjectId"] for e in payload] == ["0", "1", "2", "3", "4"]
    first = payload[0]
    assert first["dataObject"] == {"s3Uri": "s3://in/images/00000.jpg"}
    assert len(first["annotations"]) == 3
    for annotation in first["annotations"]:
        assert WORKER_ID.fullmatch(annotation["workerId"])
        assert isinstance(annotation["annotationData"]["content"], str)
        assert "category" in json.loads(annotation["annotationData"]["content"])
    response = [entry for path in responses for entry in json.loads(path.read_text())]
    assert [e["datasetObjectId"] for e in response] == ["0", "1", "2", "3", "4"]
    assert "animal" in response[0]["consolidatedAnnotation"]["content"]


def test_the_intermediate_manifest_holds_the_objects_done_so_far(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 3)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    task = setup.engine.claim("pets", a)
    setup.engine.submit(task.task_id, a, answer("dog"))
    setup.engine.tick()
    lines = setup.manifest_lines("pets", final=False)
    assert [line["id"] for line in lines] == [0]
    assert lines[0]["animal-metadata"]["class-name"] == "dog"
    assert setup.engine.output_manifest_uri("pets").endswith(
        "manifests/intermediate/1/output.manifest"
    )


def test_the_post_annotation_event_is_ground_truths(tmp_path):
    setup = make_setup(tmp_path)
    events = []
    original = setup.engine.invoker.post_annotation

    def spy(arn, event):
        events.append((arn, event))
        return original(arn, event)

    setup.engine.invoker.post_annotation = spy  # type: ignore[method-assign]
    put_inputs(setup.blobs, 1)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    setup.engine.submit(setup.engine.claim("pets", a).task_id, a, answer("cat"))
    setup.engine.tick()
    ((arn, event),) = events
    assert arn == POST_ARN
    assert event["version"] == "2018-10-16"
    assert event["labelingJobArn"] == "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets"
    assert event["labelCategories"] == ["cat", "dog", "bird"]
    assert event["labelAttributeName"] == "animal"
    assert event["roleArn"] == "arn:aws:iam::111122223333:role/labeling"
    assert event["payload"]["s3Uri"].startswith(
        "s3://out/jobs/pets/annotations/consolidated-annotation/consolidation-request/iteration-1/"
    )
    assert event["outputConfig"] == "s3://out/jobs/pets/annotations"


def test_the_pre_annotation_lambda_gets_each_manifest_line_as_ground_truth_sends_it(tmp_path):
    setup = make_setup(tmp_path)
    events = []
    original = setup.engine.invoker.pre_annotation

    def spy(arn, event):
        events.append((arn, event))
        return original(arn, event)

    setup.engine.invoker.pre_annotation = spy  # type: ignore[method-assign]
    put_inputs(setup.blobs, 2)
    setup.engine.create_job(request())
    assert [arn for arn, _ in events] == [PRE_ARN, PRE_ARN]
    assert events[1][1] == {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets",
        "dataObject": {"source-ref": "s3://in/images/00001.jpg", "id": 1},
    }


def test_without_a_pre_annotation_lambda_the_manifest_line_is_the_task_input(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 1)
    body = request()
    del body["HumanTaskConfig"]["PreHumanTaskLambdaArn"]
    setup.engine.create_job(body)
    task = setup.engine.claim("pets", worker("a"))
    assert task.task_input == {"source-ref": "s3://in/images/00000.jpg", "id": 0}


def test_without_a_post_annotation_lambda_the_label_refers_to_the_worker_responses(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 2)
    body = request(NumberOfHumanWorkersPerDataObject=1)
    del body["HumanTaskConfig"]["AnnotationConsolidationConfig"]
    setup.engine.create_job(body)
    a = worker("a")
    for _ in range(2):
        setup.engine.submit(setup.engine.claim("pets", a).task_id, a, answer("cat"))
    setup.engine.tick()
    lines = setup.manifest_lines("pets")
    assert [line["animal"] for line in lines] == [{}, {}]
    for seq, line in enumerate(lines):
        ref = line["animal-metadata"]["worker-response-ref"]
        assert ref.startswith(f"s3://out/jobs/pets/annotations/worker-response/iteration-1/{seq}/")
        document = json.loads(setup.blobs.read(ref))
        assert document["answers"][0]["answerContent"] == answer("cat")
        assert line["animal-metadata"]["human-annotated"] == "yes"
    assert not finished_dir(setup, "annotations/consolidated-annotation").exists()


def finished_dir(setup, path: str) -> Path:
    return setup.output("pets", path)


def test_objects_the_pre_annotation_lambda_skips_get_no_tasks_and_keep_their_line(tmp_path):
    setup = make_setup(tmp_path)
    functions = {
        PRE_ARN: LocalFunction.pre(
            PreAnnotationSettings(
                task_type="IMAGE_CLASSIFICATION",
                labels=("cat", "dog", "bird"),
                skip_if_labeled="animal",
            )
        ),
        POST_ARN: setup.engine.invoker.functions[POST_ARN],
    }
    setup.engine.invoker = InProcessInvoker(functions, setup.blobs)
    lines = [
        json.dumps({"source-ref": "s3://in/a.jpg", "animal": 1, "animal-metadata": {"x": 1}}),
        json.dumps({"source-ref": "s3://in/b.jpg"}),
    ]
    put_inputs(setup.blobs, 0, lines=lines)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    task = setup.engine.claim("pets", a)
    assert task.dataset_object_id == "1"
    setup.engine.submit(task.task_id, a, answer("dog"))
    with pytest.raises(NoTaskAvailable):
        setup.engine.claim("pets", worker("b"))
    setup.engine.tick()
    out = setup.manifest_lines("pets")
    assert out[0] == json.loads(lines[0])
    assert out[1]["animal-metadata"]["class-name"] == "dog"
    description = setup.engine.describe_job("pets")
    assert description["LabelingJobStatus"] == "Completed"
    assert description["LabelCounters"]["Unlabeled"] == 1


def test_text_objects_go_to_the_lambda_as_content(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 0, lines=[json.dumps({"source": "a short text"})])
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    setup.engine.submit(setup.engine.claim("pets", a).task_id, a, answer("bird"))
    setup.engine.tick()
    (request_file,) = setup.output(
        "pets", "annotations/consolidated-annotation/consolidation-request/iteration-1"
    ).iterdir()
    assert json.loads(request_file.read_text())[0]["dataObject"] == {"content": "a short text"}


def test_one_message_per_labelled_object_when_the_request_names_an_sns_topic(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 2)
    body = request(NumberOfHumanWorkersPerDataObject=1)
    body["OutputConfig"]["SnsTopicArn"] = "arn:aws:sns:us-east-1:111122223333:labels"
    setup.engine.create_job(body)
    a = worker("a")
    for _ in range(2):
        setup.engine.submit(setup.engine.claim("pets", a).task_id, a, answer("cat"))
    setup.engine.tick()
    messages = [payload for kind, payload in setup.notes if kind == "object"]
    assert [m["TopicArn"] for m in messages] == ["arn:aws:sns:us-east-1:111122223333:labels"] * 2
    assert [json.loads(m["Message"])["id"] for m in messages] == [0, 1]


def test_the_workbench_consolidate_and_its_report_read_the_output_unchanged(finished, tmp_path):
    from gt_constructs.cli import main

    folder = finished.output("pets", "annotations/worker-response")
    manifest = finished.root / "blobs" / "in" / "manifest.jsonl"
    out = tmp_path / "again.manifest"
    report = tmp_path / "report.html"
    code = main(
        [
            "consolidate",
            str(folder),
            "--task-type",
            "IMAGE_CLASSIFICATION",
            "--label-attribute",
            "animal",
            "--labels",
            "cat",
            "dog",
            "bird",
            "--method",
            "majority-vote",
            "--input-manifest",
            str(manifest),
            "--out",
            str(out),
            "--report",
            str(report),
        ]
    )
    assert code == 0
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(again) == 5
    ours = {line["id"]: line for line in finished.manifest_lines("pets") if "animal" in line}
    for line in again:
        assert (
            line["animal-metadata"]["class-name"]
            == ours[line["id"]]["animal-metadata"]["class-name"]
        )
    assert "<svg" in report.read_text()


def test_the_label_category_file_feeds_label_categories_and_bad_ones_are_refused(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 1)
    setup.blobs.write("s3://in/categories.json", b'{"labels": "cat"}')
    problems, _ = setup.engine.validate(request())
    assert any("LabelCategoryConfigS3Uri" in p for p in problems)


def test_the_construct_environment_reaches_the_handlers(tmp_path):
    # GIVEN a post-annotation function configured for dawid-skene with a skill table
    setup = make_setup(tmp_path)
    settings = PostAnnotationSettings(
        task_type="IMAGE_CLASSIFICATION",
        answer_name="category",
        method="dawid-skene",
        skill_table="Skill",
        labels=("cat", "dog", "bird"),
    )
    setup.engine.invoker.functions[POST_ARN] = LocalFunction.post(settings)
    put_inputs(setup.blobs, 1)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    setup.engine.submit(setup.engine.claim("pets", a).task_id, a, answer("cat"))
    setup.engine.tick()
    # THEN the handler ran with that method (its metadata says so) and nothing leaked
    line = setup.manifest_lines("pets")[0]
    assert line["animal-metadata"]["method"] == "dawid-skene"
    import os

    assert "GT_CONSOLIDATION" not in os.environ


def test_engine_accepts_any_invoker_following_the_protocol(tmp_path):
    class Recording:
        def problem(self, arn):
            return None

        def pre_annotation(self, arn, event):
            return {
                "taskInput": {"x": event["dataObject"]["id"]},
                "isHumanAnnotationRequired": True,
            }

        def post_annotation(self, arn, event):
            return []

    setup = make_setup(tmp_path)
    engine = Engine(setup.store, setup.blobs, Recording(), clock=setup.clock, region=REGION)
    put_inputs(setup.blobs, 1)
    engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    task = engine.claim("pets", a)
    assert task.task_input == {"x": 0}
    engine.submit(task.task_id, a, answer("cat"))
    engine.tick()
    item = setup.store.get_object("pets", 0)
    assert item.status == "failed"
    assert "no entry" in item.failure_reason


def test_worker_skill_persists_across_restarts_and_stores_share_connections(tmp_path):
    from gt_constructs.lambda_src.gt_annotation.model import WorkerSkill
    from gt_constructs.lambda_src.gt_runtime.sqlite_store import SqliteSkillStore

    first = SqliteSkillStore(tmp_path / "skill.db", "T")
    first.add("job#x", {"w": WorkerSkill("w", confusion={(0, 1): 2.0}, agreements=1.0, scored=2.0)})
    first.add("job#x", {"w": WorkerSkill("w", agreements=1.0, scored=1.0)})
    again = SqliteSkillStore(tmp_path / "skill.db", "T")
    assert again._connections is first._connections
    first.close()
    reopened = SqliteSkillStore(tmp_path / "skill.db", "T")
    loaded = reopened.load("job#x", ["w", "nobody"])
    assert list(loaded) == ["w"]
    assert (loaded["w"].agreements, loaded["w"].scored) == (2.0, 3.0)
    assert loaded["w"].confusion == {(0, 1): 2.0}
    assert SqliteSkillStore(tmp_path / "skill.db", "other").load("job#x", ["w"]) == {}


def test_a_retried_batch_adds_its_skill_evidence_once(tmp_path):
    """The post-annotation function passes the batch's key (``skill.batch_key``): the
    runtime re-running a batch after a crash counts its evidence once, as DynamoDB does."""
    from gt_constructs.lambda_src.gt_annotation.model import WorkerSkill
    from gt_constructs.lambda_src.gt_runtime.sqlite_store import SqliteSkillStore

    store = SqliteSkillStore(tmp_path / "skill.db", "T")
    evidence = {"w": WorkerSkill("w", agreements=1.0, scored=2.0)}
    assert store.add("job#x", evidence, batch="job-1/batch-1") is True
    assert store.add("job#x", evidence, batch="job-1/batch-1") is False
    assert store.add("job#x", evidence, batch="job-1/batch-2") is True
    assert store.add("job#x", evidence) is True  # no key: always added
    loaded = SqliteSkillStore(tmp_path / "skill.db", "T").load("job#x", ["w"])
    assert (loaded["w"].agreements, loaded["w"].scored) == (3.0, 6.0)


def test_the_functions_output_goes_to_their_log_file_not_the_servers_stdout(tmp_path, capsys):
    """The post-annotation function prints a metric record per batch (CloudWatch Logs in
    Lambda); ``serve`` gives it a log file instead of the terminal it prints links to."""
    setup = make_setup(tmp_path)
    log = tmp_path / "functions.log"
    setup.engine.invoker.log_path = log
    put_inputs(setup.blobs, 2)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    for _ in range(2):
        task = setup.engine.claim("pets", a)
        setup.engine.submit(task.task_id, a, answer("dog"))
    setup.engine.tick()
    assert '"ObjectsConsolidated"' in log.read_text()
    assert "ObjectsConsolidated" not in capsys.readouterr().out
