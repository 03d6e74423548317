"""A process that runs a job until it completes, for the SIGKILL test.

``python -m tests.runtime.crash_driver DIR``: opens (or creates) the job in
DIR, then five workers claim and submit in turns, ticking as it goes; after a
submit returns, its task id is appended to DIR/submitted.log (flushed and
synced), so the log lists exactly the answers the runtime acknowledged. A
claim that returns a task accepted before this process started is logged to
DIR/resumed.log. Prints "ready" once the job exists, "done" when it completed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import tests.runtime.conftest  # noqa: F401  (this checkout's lambda_src, first)

# isort: split
from gt_constructs.lambda_src.gt_runtime.model import Conflict, NoTaskAvailable

from .engine_support import FakeClock, answer, make_setup, put_inputs, request, worker

OBJECTS = 300


class WallClock(FakeClock):
    """Real time, so leases survive restarts as they would."""

    def __call__(self) -> float:
        return time.time()


def main(folder: str) -> int:
    root = Path(folder)
    started = time.time()
    setup = make_setup(root, clock=WallClock(), batch_size=7, intermediate_every_seconds=0)
    consolidate = setup.engine.invoker.post_annotation

    def slow_post_annotation(arn, event):  # a slower Lambda: kills land inside batches too
        time.sleep(0.04)
        return consolidate(arn, event)

    setup.engine.invoker.post_annotation = slow_post_annotation
    if setup.store.get_job("pets") is None:
        put_inputs(setup.blobs, OBJECTS)
        setup.engine.create_job(request(TaskTimeLimitInSeconds=600))
    print("ready", flush=True)
    workers = [worker(name) for name in "abcde"]
    log = open(root / "submitted.log", "a", encoding="utf-8")  # noqa: SIM115
    resumed = open(root / "resumed.log", "a", encoding="utf-8")  # noqa: SIM115
    turn = 0
    while setup.engine.describe_job("pets")["LabelingJobStatus"] != "Completed":
        held = []
        for w in workers:  # everyone takes a task first: leases are out when a kill comes
            try:
                task = setup.engine.claim("pets", w)
            except (NoTaskAvailable, Conflict):
                continue
            if task.accepted_at < started:
                resumed.write(task.task_id + "\n")
                resumed.flush()
            held.append((w, task))
        for w, task in held:
            setup.engine.submit(task.task_id, w, answer("cat" if turn % 3 else "dog"))
            log.write(task.task_id + "\n")
            log.flush()
            os.fsync(log.fileno())
        turn += 1
        time.sleep(0.002)  # a steadier pace, so kills land at every stage
        if turn % 3 == 0 or not held:
            setup.engine.tick()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
