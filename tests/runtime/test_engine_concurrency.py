"""Many workers claiming at once, in threads and in processes on one SQLite file, never
over-assign an object nor give a worker the same object twice (issue 18)."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from gt_constructs.lambda_src.gt_runtime.model import Conflict, NoTaskAvailable

from .engine_support import answer, make_setup, put_inputs, request, worker

OBJECTS = 150
PER_OBJECT = 3


def _hammer(folder: Path, names: list[str], seed: int, barrier=None) -> int:
    """Workers ``names`` (one thread each) claim and submit, sometimes decline or walk
    away, until nothing is left for them. Returns how many answers went in."""
    setup = make_setup(folder)
    done = [0]
    lock = threading.Lock()

    def run(name: str, rng: random.Random) -> None:
        w = worker(name)
        if barrier is not None:
            barrier.wait()
        while True:
            try:
                task = setup.engine.claim("pets", w)
            except NoTaskAvailable:
                # Stop only when nothing is in flight: a task another worker holds may
                # still be declined and come back (stopping sooner made the count flaky).
                if not _in_flight(folder):
                    return
                time.sleep(0.01)
                continue
            try:
                if rng.random() < 0.08:
                    setup.engine.decline(task.task_id, w)
                    continue
                setup.engine.submit(task.task_id, w, answer("cat"))
            except Conflict:  # the same worker in another thread got (and used) this task
                continue
            with lock:
                done[0] += 1

    threads = [
        threading.Thread(target=run, args=(name, random.Random(seed * 1000 + i)))
        for i, name in enumerate(names)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    setup.store.close()
    return done[0]


def _in_flight(folder: Path) -> int:
    with sqlite3.connect(folder / "state.db", timeout=30) as db:
        (active,) = db.execute("SELECT coalesce(sum(active), 0) FROM objects").fetchone()
    return int(active)


def _check(folder: Path) -> None:
    db = sqlite3.connect(folder / "state.db")
    # never more active + submitted tasks than an object needs, and counters agree with tasks
    rows = db.execute(
        "SELECT o.seq, o.needed, o.active, o.submitted, o.free, "
        "(SELECT count(*) FROM tasks t WHERE t.job = o.job AND t.seq = o.seq "
        " AND t.status = 'active'), "
        "(SELECT count(*) FROM tasks t WHERE t.job = o.job AND t.seq = o.seq "
        " AND t.status = 'submitted') FROM objects o"
    ).fetchall()
    assert len(rows) == OBJECTS
    for seq, needed, active, submitted, free, active_tasks, submitted_tasks in rows:
        assert active + submitted <= needed, seq
        assert (active, submitted) == (active_tasks, submitted_tasks), seq
        assert free == needed - active - submitted, seq
    # never the same object twice for one worker (any task that counts or blocks)
    duplicates = db.execute(
        "SELECT job, seq, worker_id, count(*) FROM tasks "
        "WHERE status IN ('active', 'submitted', 'declined') "
        "GROUP BY job, seq, worker_id HAVING count(*) > 1"
    ).fetchall()
    assert duplicates == []
    # and, with enough workers, every object got all its answers
    (full,) = db.execute("SELECT count(*) FROM objects WHERE submitted = needed").fetchone()
    assert full == OBJECTS


def _job(folder: Path) -> None:
    setup = make_setup(folder)
    put_inputs(setup.blobs, OBJECTS)
    setup.engine.create_job(request(NumberOfHumanWorkersPerDataObject=PER_OBJECT))
    setup.store.close()


def test_threads_hammering_claim_never_over_assign_nor_repeat(tmp_path):
    _job(tmp_path)
    # 24 threads; worker "w0" appears three times (one worker racing against itself)
    names = [f"w{i}" for i in range(21)] + ["w0", "w0", "w1"]
    barrier = threading.Barrier(len(names))
    answered = _hammer(tmp_path, names, seed=1, barrier=barrier)
    assert answered == OBJECTS * PER_OBJECT
    _check(tmp_path)


def _process(folder: str, names: list[str], seed: int, queue) -> None:  # pragma: no cover
    queue.put(_hammer(Path(folder), names, seed))


@pytest.mark.slow
def test_processes_hammering_claim_on_one_file_never_over_assign_nor_repeat(tmp_path):
    _job(tmp_path)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    # 4 processes x 6 threads; workers w0 and w1 work in every process at once
    groups = [["w0", "w1", *[f"p{p}-{i}" for i in range(4)]] for p in range(4)]
    processes = [
        context.Process(target=_process, args=(str(tmp_path), names, seed, queue))
        for seed, names in enumerate(groups)
    ]
    for process in processes:
        process.start()
    answered = sum(queue.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert answered == OBJECTS * PER_OBJECT
    _check(tmp_path)
