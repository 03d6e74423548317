"""Ground Truth's task semantics in the engine (issue 18, "What" 2), one rule per test.

GIVEN a job on local blobs with the library's own handlers and a fake clock,
WHEN workers claim, submit, decline or time passes, THEN the rule holds.
"""

from __future__ import annotations

import json

import pytest
from gt_constructs.lambda_src.gt_runtime.model import (
    BadRequest,
    Conflict,
    Forbidden,
    NoTaskAvailable,
    NotFound,
)

from .engine_support import (
    TEAM,
    answer,
    make_setup,
    put_inputs,
    request,
    worker,
)


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


def _start(setup, count, **human):
    put_inputs(setup.blobs, count)
    return setup.engine.create_job(request(**human), team_members=None)


# ------------------------------------------------------------------ distinct workers
def test_each_object_gets_n_distinct_workers_and_a_worker_never_gets_an_object_twice(setup):
    # GIVEN 5 objects needing 3 workers each, and 4 workers
    _start(setup, 5)
    workers = [worker(name) for name in "abcd"]
    seen: dict[str, list[str]] = {}
    # WHEN each worker takes tasks until none is left for them
    for w in workers:
        while True:
            try:
                task = setup.engine.claim("pets", w)
            except NoTaskAvailable:
                break
            seen.setdefault(task.dataset_object_id, []).append(w.sub)
            setup.engine.submit(task.task_id, w, answer("cat"))
    # THEN every object had exactly 3 different workers
    assert sorted(seen) == ["0", "1", "2", "3", "4"]
    for names in seen.values():
        assert len(names) == 3
        assert len(set(names)) == 3


def test_a_worker_holding_a_task_gets_the_same_task_back(setup):
    _start(setup, 3)
    w = worker("a")
    first = setup.engine.claim("pets", w)
    again = setup.engine.claim("pets", w)
    assert again.task_id == first.task_id
    assert again.dataset_object_id == first.dataset_object_id


def test_a_submitted_object_is_not_offered_to_the_same_worker_again(setup):
    _start(setup, 1, NumberOfHumanWorkersPerDataObject=2)
    w = worker("a")
    task = setup.engine.claim("pets", w)
    setup.engine.submit(task.task_id, w, answer("cat"))
    with pytest.raises(NoTaskAvailable):
        setup.engine.claim("pets", w)
    # another worker still gets it (the second slot)
    assert setup.engine.claim("pets", worker("b")).dataset_object_id == "0"


def test_an_object_is_never_handed_out_beyond_its_workers(setup):
    _start(setup, 1, NumberOfHumanWorkersPerDataObject=2)
    setup.engine.claim("pets", worker("a"))
    setup.engine.claim("pets", worker("b"))
    with pytest.raises(NoTaskAvailable):
        setup.engine.claim("pets", worker("c"))


# ------------------------------------------------------------------ leases
def test_a_lease_that_ran_out_returns_the_task_to_the_pool(setup):
    # GIVEN one object needing one worker, claimed by a
    _start(setup, 1, NumberOfHumanWorkersPerDataObject=1, TaskTimeLimitInSeconds=60)
    a, b = worker("a"), worker("b")
    setup.engine.claim("pets", a)
    with pytest.raises(NoTaskAvailable):
        setup.engine.claim("pets", b)
    # WHEN the time limit passes and the engine ticks
    setup.clock.advance(61)
    report = setup.engine.tick()
    # THEN the slot is back: b gets the object
    assert report["pets"]["expired"] == 1
    assert setup.engine.claim("pets", b).dataset_object_id == "0"


def test_a_submit_after_the_lease_ran_out_is_refused_and_never_counted(setup):
    _start(setup, 1, NumberOfHumanWorkersPerDataObject=1, TaskTimeLimitInSeconds=60)
    a = worker("a")
    task = setup.engine.claim("pets", a)
    setup.clock.advance(60)  # exactly the limit: too late
    with pytest.raises(Conflict, match="time limit ran out"):
        setup.engine.submit(task.task_id, a, answer("cat"))
    # also after the tick returned it to the pool
    setup.engine.tick()
    with pytest.raises(Conflict, match="went back to the pool"):
        setup.engine.submit(task.task_id, a, answer("cat"))
    item = setup.store.get_object("pets", 0)
    assert item.submitted == 0
    assert setup.store.submitted_tasks("pets") == {}
    assert setup.engine.describe_job("pets")["RuntimeDetails"]["ObjectsByStatus"] == {"open": 1}


def test_a_submit_within_the_lease_is_counted_once(setup):
    _start(setup, 1, NumberOfHumanWorkersPerDataObject=2, TaskTimeLimitInSeconds=60)
    a = worker("a")
    task = setup.engine.claim("pets", a)
    setup.clock.advance(59)
    setup.engine.submit(task.task_id, a, answer("cat"))
    with pytest.raises(Conflict, match="already submitted"):
        setup.engine.submit(task.task_id, a, answer("dog"))
    assert [t.answer for t in setup.store.submitted_tasks("pets")[0]] == [answer("cat")]


# ------------------------------------------------------------------ decline
def test_a_declined_object_is_not_offered_to_that_worker_again(setup):
    _start(setup, 2, NumberOfHumanWorkersPerDataObject=1)
    a = worker("a")
    first = setup.engine.claim("pets", a)
    setup.engine.decline(first.task_id, a)
    second = setup.engine.claim("pets", a)
    assert second.dataset_object_id != first.dataset_object_id
    setup.engine.submit(second.task_id, a, answer("dog"))
    with pytest.raises(NoTaskAvailable):
        setup.engine.claim("pets", a)
    # another worker gets the declined object
    assert setup.engine.claim("pets", worker("b")).dataset_object_id == first.dataset_object_id


def test_an_object_every_team_member_declined_ends_failed_without_answers(setup):
    put_inputs(setup.blobs, 2)
    members = [worker(n) for n in "ab"]
    setup.engine.create_job(
        request(NumberOfHumanWorkersPerDataObject=2),
        team_members=[setup.engine.worker_id(w) for w in members],
    )
    for w in members:
        task = setup.engine.claim("pets", w)
        assert task.dataset_object_id == "0"
        setup.engine.decline(task.task_id, w)
    assert setup.store.get_object("pets", 0).status == "ready"
    setup.engine.tick()
    item = setup.store.get_object("pets", 0)
    assert item.status == "failed"
    assert "declined" in item.failure_reason
    assert "animal" not in item.content
    assert item.content["animal-metadata"]["failure-reason"] == item.failure_reason


def test_an_object_ends_with_the_answers_it_has_when_the_rest_of_the_team_declined(setup):
    put_inputs(setup.blobs, 1)
    members = [worker(n) for n in "ab"]
    setup.engine.create_job(
        request(NumberOfHumanWorkersPerDataObject=3),
        team_members=[setup.engine.worker_id(w) for w in members],
    )
    a, b = members
    task_a = setup.engine.claim("pets", a)
    setup.engine.submit(task_a.task_id, a, answer("dog"))
    assert setup.store.get_object("pets", 0).status == "open"
    task_b = setup.engine.claim("pets", b)
    setup.engine.decline(task_b.task_id, b)
    setup.engine.tick()
    item = setup.store.get_object("pets", 0)
    assert item.status == "labeled"
    assert item.content["animal-metadata"]["class-name"] == "dog"
    assert item.content["animal-metadata"]["workers"] == 1


def test_without_known_team_members_declines_never_end_an_object(setup):
    _start(setup, 1, NumberOfHumanWorkersPerDataObject=1)
    for name in "abcdef":
        w = worker(name)
        setup.engine.decline(setup.engine.claim("pets", w).task_id, w)
    assert setup.store.get_object("pets", 0).status == "open"


# ------------------------------------------------------------------ availability lifetime
def test_the_availability_lifetime_ends_an_object_with_the_answers_it_has(setup):
    _start(
        setup,
        3,
        NumberOfHumanWorkersPerDataObject=3,
        TaskAvailabilityLifetimeInSeconds=600,
        TaskTimeLimitInSeconds=3600,
        MaxConcurrentTaskCount=2,
    )
    a, b = worker("a"), worker("b")
    task = setup.engine.claim("pets", a)
    assert task.dataset_object_id == "0"
    setup.engine.submit(task.task_id, a, answer("bird"))
    held = setup.engine.claim("pets", b)  # b holds object 0 when the lifetime ends
    setup.clock.advance(599)
    assert setup.engine.tick()["pets"]["ended"] == 0
    setup.clock.advance(1)
    assert setup.engine.tick()["pets"]["ended"] == 2
    labeled, failed = setup.store.get_object("pets", 0), setup.store.get_object("pets", 1)
    assert labeled.status == "labeled"
    assert labeled.content["animal-metadata"]["class-name"] == "bird"
    assert failed.status == "failed"
    assert "animal" not in failed.content
    assert failed.content["animal-metadata"]["failure-reason"]
    # the task out when the object ended is refused, not counted
    with pytest.raises(Conflict, match="the object or the job ended"):
        setup.engine.submit(held.task_id, b, answer("cat"))
    assert labeled.submitted == 1
    counters = setup.engine.describe_job("pets")["LabelCounters"]
    assert counters == {
        "TotalLabeled": 1,
        "HumanLabeled": 1,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 1,
        "Unlabeled": 1,
    }
    # the next object was released in their place, with a lifetime of its own
    assert setup.store.get_object("pets", 2).status == "open"
    setup.clock.advance(600)
    setup.engine.tick()
    assert setup.engine.describe_job("pets")["LabelingJobStatus"] == "Completed"


# ------------------------------------------------------------------ MaxConcurrentTaskCount
def test_at_most_max_concurrent_objects_are_out_and_more_are_released_as_they_finish(setup):
    _start(setup, 5, NumberOfHumanWorkersPerDataObject=1, MaxConcurrentTaskCount=2)
    assert setup.engine.describe_job("pets")["RuntimeDetails"]["ObjectsByStatus"] == {
        "open": 2,
        "pending": 3,
    }
    a, b, c = worker("a"), worker("b"), worker("c")
    ta, tb = setup.engine.claim("pets", a), setup.engine.claim("pets", b)
    assert {ta.dataset_object_id, tb.dataset_object_id} == {"0", "1"}
    with pytest.raises(NoTaskAvailable):
        setup.engine.claim("pets", c)
    setup.engine.submit(ta.task_id, a, answer("cat"))
    setup.engine.tick()
    counts = setup.engine.describe_job("pets")["RuntimeDetails"]["ObjectsByStatus"]
    assert counts["open"] == 2
    assert setup.engine.claim("pets", c).dataset_object_id == "2"


# ------------------------------------------------------------------ stopping conditions
def _label_everything(setup, names="abc"):
    workers = [worker(n) for n in names]
    for _ in range(50):
        progressed = False
        for w in workers:
            try:
                task = setup.engine.claim("pets", w)
            except (NoTaskAvailable, Conflict):
                continue
            setup.engine.submit(task.task_id, w, answer("cat"))
            progressed = True
        setup.engine.tick()
        if not progressed:
            return


def test_max_human_labeled_object_count_stops_the_job_after_that_many_objects(setup):
    put_inputs(setup.blobs, 10)
    body = request(NumberOfHumanWorkersPerDataObject=1, MaxConcurrentTaskCount=2)
    body["StoppingConditions"] = {"MaxHumanLabeledObjectCount": 3}
    setup.engine.create_job(body)
    _label_everything(setup)
    description = setup.engine.describe_job("pets")
    assert description["LabelingJobStatus"] == "Completed"
    assert description["LabelCounters"]["HumanLabeled"] == 3
    assert description["LabelCounters"]["Unlabeled"] == 7
    lines = setup.manifest_lines("pets")
    assert len(lines) == 10
    assert ["animal" in line for line in lines] == [True] * 3 + [False] * 7


def test_max_percentage_of_input_dataset_labeled_stops_the_job(setup):
    put_inputs(setup.blobs, 10)
    body = request(NumberOfHumanWorkersPerDataObject=1)
    body["StoppingConditions"] = {"MaxPercentageOfInputDatasetLabeled": 40}
    setup.engine.create_job(body)
    _label_everything(setup)
    description = setup.engine.describe_job("pets")
    assert description["LabelingJobStatus"] == "Completed"
    assert description["LabelCounters"]["HumanLabeled"] == 4


def test_a_failed_object_does_not_use_up_the_stopping_condition(setup):
    put_inputs(setup.blobs, 4)
    body = request(
        NumberOfHumanWorkersPerDataObject=1,
        MaxConcurrentTaskCount=1,
        TaskAvailabilityLifetimeInSeconds=60,
    )
    body["StoppingConditions"] = {"MaxHumanLabeledObjectCount": 2}
    setup.engine.create_job(body)
    setup.clock.advance(60)  # object 0 ends unanswered
    setup.engine.tick()
    _label_everything(setup)
    counters = setup.engine.describe_job("pets")["LabelCounters"]
    assert counters["FailedNonRetryableError"] == 1
    assert counters["HumanLabeled"] == 2


# ------------------------------------------------------------------ stop
def test_stop_refuses_further_submits_writes_what_is_done_and_ends_stopped(setup):
    _start(setup, 3, NumberOfHumanWorkersPerDataObject=1)
    a, b = worker("a"), worker("b")
    done = setup.engine.claim("pets", a)
    setup.engine.submit(done.task_id, a, answer("dog"))
    out = setup.engine.claim("pets", b)
    setup.engine.stop_job("pets")
    with pytest.raises(Conflict):
        setup.engine.submit(out.task_id, b, answer("cat"))
    with pytest.raises(Conflict, match="Stopped"):
        setup.engine.claim("pets", worker("c"))
    description = setup.engine.describe_job("pets")
    assert description["LabelingJobStatus"] == "Stopped"
    assert description["LabelCounters"]["HumanLabeled"] == 1
    assert description["LabelingJobOutput"]["OutputDatasetS3Uri"].endswith(
        "/pets/manifests/output/output.manifest"
    )
    lines = setup.manifest_lines("pets")
    assert [("animal" in line) for line in lines] == [True, False, False]
    statuses = [p["detail"]["LabelingJobStatus"] for k, p in setup.notes if k == "status"]
    assert statuses == ["Initializing", "InProgress", "Stopping", "Stopped"]
    setup.engine.stop_job("pets")  # again: nothing changes
    assert setup.engine.describe_job("pets")["LabelingJobStatus"] == "Stopped"


# ------------------------------------------------------------------ status and counters
def test_status_and_counters_are_shaped_like_describe_labeling_job(setup):
    description = _start(setup, 4, NumberOfHumanWorkersPerDataObject=1)
    assert description["LabelingJobStatus"] == "InProgress"
    assert description["LabelingJobArn"] == (
        "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets"
    )
    assert description["LabelCounters"] == {
        "TotalLabeled": 0,
        "HumanLabeled": 0,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": 4,
    }
    assert "LabelingJobOutput" not in description
    for key in ("CreationTime", "LastModifiedTime", "HumanTaskConfig", "InputConfig", "RoleArn"):
        assert key in description
    _label_everything(setup)
    description = setup.engine.describe_job("pets")
    assert description["LabelingJobStatus"] == "Completed"
    assert description["LabelCounters"]["TotalLabeled"] == 4
    assert description["LabelCounters"]["Unlabeled"] == 0
    assert [job["LabelingJobName"] for job in setup.engine.list_jobs()] == ["pets"]


# ------------------------------------------------------------------ who may do what
def test_a_worker_outside_the_team_is_forbidden(setup):
    _start(setup, 1)
    with pytest.raises(Forbidden, match=TEAM):
        setup.engine.claim("pets", worker("x", teams=("other",)))
    assert setup.engine.jobs_for(worker("x", teams=("other",))) == []
    assert [j["LabelingJobName"] for j in setup.engine.jobs_for(worker("a"))] == ["pets"]


def test_a_task_of_another_worker_is_not_found(setup):
    _start(setup, 1)
    task = setup.engine.claim("pets", worker("a"))
    with pytest.raises(NotFound):
        setup.engine.get_task(task.task_id, worker("b"))
    with pytest.raises(NotFound):
        setup.engine.submit(task.task_id, worker("b"), answer("cat"))
    with pytest.raises(NotFound):
        setup.engine.decline(task.task_id, worker("b"))
    assert setup.store.get_object("pets", 0).submitted == 0


def test_an_empty_answer_is_a_bad_request_and_changes_nothing(setup):
    _start(setup, 1)
    a = worker("a")
    task = setup.engine.claim("pets", a)
    for empty in ({}, None, [], "x"):
        with pytest.raises(BadRequest, match="empty"):
            setup.engine.submit(task.task_id, a, empty)
    assert setup.engine.get_task(task.task_id, a).status == "active"


def test_task_ids_are_unguessable_and_the_task_carries_the_pre_annotation_input(setup):
    _start(setup, 2)
    a = worker("a")
    task = setup.engine.claim("pets", a)
    assert len(task.task_id) >= 24
    assert task.task_input["taskObject"] == "s3://in/images/00000.jpg"
    assert task.task_input["labels"] == ["cat", "dog", "bird"]
    assert task.deadline - task.accepted_at == 300
    assert setup.engine.task_template("pets").startswith("<script")
    assert json.loads(json.dumps(task.to_dict()))["task_id"] == task.task_id
