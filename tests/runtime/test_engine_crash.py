"""Killed mid-job and restarted: nothing lost, nothing counted twice, leases resume,
no consolidation batch repeated or skipped (issue 18, "Security and reliability")."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from gt_constructs.lambda_src.gt_runtime.engine import Engine
from gt_constructs.lambda_src.gt_runtime.sqlite_store import SqliteStore

from .crash_driver import OBJECTS
from .engine_support import answer, make_setup, put_inputs, request, worker

REPO = Path(__file__).resolve().parents[2]


def _driver(folder: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "lambda_src"), str(REPO)])}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.crash_driver", str(folder)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_mid_job_loses_nothing_counts_nothing_twice_and_skips_no_batch(tmp_path):
    rng = random.Random(18)
    kills = 0
    for _ in range(5):
        process = _driver(tmp_path)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.2, 0.9))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    finisher = _driver(tmp_path)
    out, _ = finisher.communicate(timeout=120)
    assert finisher.returncode == 0
    assert out.splitlines()[0] == "ready"
    assert out.splitlines()[-1] == "done"
    assert kills >= 3

    store = SqliteStore(tmp_path / "state.db")
    acknowledged = (tmp_path / "submitted.log").read_text().split()
    answers = store.submitted_tasks("pets")
    submitted = {task.task_id: task for tasks in answers.values() for task in tasks}
    # no acknowledged answer lost
    assert set(acknowledged) <= set(submitted)
    # none counted twice: 3 distinct workers per object, counters agree with the answers
    assert sorted(answers) == list(range(OBJECTS))
    for seq, tasks in answers.items():
        assert len(tasks) == 3
        assert len({t.worker_id for t in tasks}) == 3
        item = store.get_object("pets", seq)
        assert (item.submitted, item.active, item.status) == (3, 0, "labeled")
    # batches: numbered without gaps, each done once, each object in exactly one
    db = store.db
    numbers = [
        n for (n,) in db.execute("SELECT number FROM batches WHERE job='pets' ORDER BY number")
    ]
    assert numbers == list(range(len(numbers)))
    assert {s for (s,) in db.execute("SELECT status FROM batches")} == {"done"}
    in_batches = Counter(
        seq for (seqs,) in db.execute("SELECT seqs FROM batches") for seq in json.loads(seqs)
    )
    assert sorted(in_batches) == list(range(OBJECTS))
    assert set(in_batches.values()) == {1}
    # one request and one response file per batch, and every object in exactly one request
    base = tmp_path / "blobs/out/jobs/pets/annotations/consolidated-annotation"
    requests = sorted((base / "consolidation-request/iteration-1").iterdir())
    responses = sorted((base / "consolidation-response/iteration-1").iterdir())
    assert len(requests) == len(numbers) == len(responses)
    assert [p.name for p in requests] == [p.name for p in responses]
    requested = Counter(
        entry["datasetObjectId"] for path in requests for entry in json.loads(path.read_text())
    )
    assert requested == Counter(str(seq) for seq in range(OBJECTS))
    # one worker-response file per object
    responses_dir = tmp_path / "blobs/out/jobs/pets/annotations/worker-response/iteration-1"
    assert sorted(int(p.name) for p in responses_dir.iterdir()) == list(range(OBJECTS))
    assert all(len(list(p.iterdir())) == 1 for p in responses_dir.iterdir())
    lines = (tmp_path / "blobs/out/jobs/pets/manifests/output/output.manifest").read_text()
    assert [json.loads(line)["id"] for line in lines.splitlines()] == list(range(OBJECTS))


def test_leases_resume_after_a_restart(tmp_path):
    # GIVEN a worker holding a task when the process goes away
    first = make_setup(tmp_path)
    put_inputs(first.blobs, 2)
    first.engine.create_job(request(TaskTimeLimitInSeconds=100))
    a = worker("a")
    held = first.engine.claim("pets", a)
    first.store.close()
    # WHEN a new process opens the same state
    first.clock.advance(50)
    second = make_setup(tmp_path, clock=first.clock)
    # THEN the worker gets the same task back, with the same deadline, and can submit it
    again = second.engine.claim("pets", a)
    assert (again.task_id, again.deadline) == (held.task_id, held.deadline)
    second.engine.submit(again.task_id, a, answer("cat"))
    # and a lease that ran out while nobody was running is returned by the next tick
    b = worker("b")
    lapsing = second.engine.claim("pets", b)
    second.clock.advance(101)
    third = make_setup(tmp_path, clock=second.clock)
    assert third.engine.tick()["pets"]["expired"] == 1
    assert third.store.get_task(lapsing.task_id).status == "expired"


class Death(BaseException):
    """The process dies here (not an error a tick could catch)."""


def _ready_job(tmp_path):
    setup = make_setup(tmp_path)
    put_inputs(setup.blobs, 3)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=1))
    a = worker("a")
    for _ in range(3):
        setup.engine.submit(setup.engine.claim("pets", a).task_id, a, answer("dog"))
    return setup


def _files(setup, kind):
    folder = setup.output(
        "pets", f"annotations/consolidated-annotation/consolidation-{kind}/iteration-1"
    )
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_batch_cut_short_before_the_lambda_answered_is_redone_with_the_same_objects(tmp_path):
    setup = _ready_job(tmp_path)
    real = setup.engine.invoker.post_annotation

    def dies(arn, event):
        raise Death()

    setup.engine.invoker.post_annotation = dies  # type: ignore[method-assign]
    with pytest.raises(Death):
        setup.engine.tick()
    batch = setup.store.open_batch("pets")
    assert batch is not None and batch.seqs == [0, 1, 2]
    # WHEN a new engine ticks (restart), with the Lambda working
    setup.clock.advance(5)
    engine = Engine(
        setup.store, setup.blobs, setup.engine.invoker, clock=setup.clock, batch_wait_seconds=0
    )
    engine.invoker.post_annotation = real  # type: ignore[method-assign]
    engine.tick()
    # THEN the same batch (number, file name) was finished; no other batch exists
    assert setup.store.open_batch("pets") is None
    assert setup.store.get_job("pets").batches == 1
    assert _files(setup, "request") == _files(setup, "response")
    assert len(_files(setup, "request")) == 1
    assert engine.describe_job("pets")["LabelCounters"]["HumanLabeled"] == 3


def test_a_batch_cut_short_after_the_lambda_answered_is_not_sent_to_the_lambda_again(tmp_path):
    setup = _ready_job(tmp_path)
    calls = []
    real = setup.engine.invoker.post_annotation

    def counting(arn, event):
        calls.append(event["payload"]["s3Uri"])
        return real(arn, event)

    setup.engine.invoker.post_annotation = counting  # type: ignore[method-assign]
    finish = setup.store.finish_batch

    def dies(*args, **kwargs):
        raise Death()

    setup.store.finish_batch = dies  # type: ignore[method-assign]
    with pytest.raises(Death):
        setup.engine.tick()
    setup.store.finish_batch = finish  # type: ignore[method-assign]
    setup.engine.tick()
    assert len(calls) == 1
    assert setup.engine.describe_job("pets")["LabelCounters"]["HumanLabeled"] == 3
    assert len(_files(setup, "response")) == 1


def test_a_finished_batch_is_never_finished_twice(tmp_path):
    setup = _ready_job(tmp_path)
    setup.engine.tick()
    assert setup.store.finish_batch("pets", 0, []) is False
    assert setup.store.start_batch("pets", now=setup.clock(), limit=10) is None


def test_a_write_cut_short_leaves_nothing_in_the_output_folders(tmp_path, monkeypatch):
    """A kill between writing and renaming left ``.tmp-*`` files beside the output (a
    tool listing ``consolidation-response/`` saw one file too many). Partial writes live
    in ``root/.partial`` and a stale one is removed when the folder is opened again."""
    from gt_constructs.lambda_src.gt_runtime import blobs as module

    blobs = module.LocalBlobs(tmp_path)

    def killed(source, target):  # the process dies between the write and the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(module.os, "replace", killed)
    monkeypatch.setattr(module.os, "unlink", lambda path: None)  # no cleanup after a kill
    with pytest.raises(KeyboardInterrupt):
        blobs.write("s3://out/jobs/pets/response.json", b"{}")
    monkeypatch.undo()
    folder = tmp_path / "out" / "jobs" / "pets"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert blobs.list("s3://out/") == []
    (leftover,) = list((tmp_path / ".partial").iterdir())
    old = time.time() - module.LocalBlobs.STALE_PARTIAL_SECONDS - 1
    os.utime(leftover, (old, old))
    module.LocalBlobs(tmp_path)  # reopened after the crash
    assert list((tmp_path / ".partial").iterdir()) == []
