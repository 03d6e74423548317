"""``DynamoStore`` on moto: the claim race, the items a claim writes, no scans.

GIVEN a job on moto's DynamoDB, WHEN workers claim at the same moment, THEN an
object is never over-assigned and never given to one worker twice; a claim writes
only the object, the task and the worker's own items; nothing ever scans.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from typing import Any

import pytest
from gt_constructs.lambda_src.gt_runtime.dynamo_store import DynamoStore
from gt_constructs.lambda_src.gt_runtime.model import JobRecord, ObjectRecord, ObjectStatus
from moto import mock_aws

from .aws_support import TABLE, CountingClient, dynamo_store

NOW = 1_790_000_000.0


class RacingClient(CountingClient):
    """Every claim reads the open objects, then all wait until each has read (so all
    saw the same free slot) before any writes; writes are serialized as DynamoDB does."""

    def __init__(self, client: Any, counts: Counter[str], racers: int) -> None:
        super().__init__(client, counts)
        self.barrier = threading.Barrier(racers, timeout=10)
        self.lock = threading.Lock()
        self.first_round = True

    def query(self, **kwargs: Any) -> Any:
        result = self._client.query(**kwargs)
        if kwargs.get("IndexName") == "gsi1" and ":k" in kwargs.get(
            "ExpressionAttributeValues", {}
        ):
            key = kwargs["ExpressionAttributeValues"][":k"]["S"]
            if key.endswith("#open") and self.first_round:
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.barrier.wait()
        return result

    def transact_write_items(self, **kwargs: Any) -> Any:
        with self.lock:
            self.first_round = False
            self._counts["dynamodb:transact_write_items"] += 1
            return self._client.transact_write_items(**kwargs)


def _job(store: DynamoStore, objects: int, needed: int) -> None:
    store.put_job(
        JobRecord(
            name="race",
            arn="arn:aws:sagemaker:us-east-1:111122223333:labeling-job/race",
            request={"HumanTaskConfig": {"NumberOfHumanWorkersPerDataObject": needed}},
            status="InProgress",
            created_at=NOW,
            updated_at=NOW,
            team="t",
            object_count=objects,
        )
    )
    store.add_objects(
        "race",
        [
            ObjectRecord(job_name="race", seq=i, data_object={"source": str(i)}, needed=needed)
            for i in range(objects)
        ],
    )
    released = store.release(
        "race", now=NOW, lifetime_seconds=3600, max_open=objects, max_released=objects
    )
    assert released == list(range(objects))


def _claim(store: DynamoStore, worker: str, results: dict[str, Any]) -> None:
    results[worker] = store.claim(
        "race",
        worker_id=worker,
        worker={"sub": worker},
        task_id=f"task-{worker}",
        now=NOW,
        deadline=NOW + 300,
    )


@pytest.fixture
def aws():
    with mock_aws():
        yield


def test_two_workers_racing_for_one_slot_never_both_get_it(aws):
    store = dynamo_store()
    _job(store, objects=1, needed=1)
    counts: Counter[str] = Counter()
    racing = DynamoStore(TABLE, client=RacingClient(store.client, counts, racers=2))
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=_claim, args=(racing, w, results)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [w for w, task in results.items() if task is not None]
    assert len(winners) == 1, results
    item = store.get_object("race", 0)
    assert item is not None and item.active == 1 and item.free == 0
    # both tried: the loser's transaction failed its condition (nothing written for it)
    assert counts["dynamodb:transact_write_items"] >= 2
    assert store.get_task(f"task-{next(w for w in 'ab' if w not in winners)}") is None


def test_many_workers_hammering_claims_never_over_assign_or_repeat_a_worker(aws):
    store = dynamo_store()
    _job(store, objects=4, needed=2)
    counts: Counter[str] = Counter()
    racing = DynamoStore(TABLE, client=RacingClient(store.client, counts, racers=6))
    results: dict[str, Any] = {}
    workers = [f"w{i}" for i in range(6)]
    threads = [threading.Thread(target=_claim, args=(racing, w, results)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[w] is not None for w in workers)  # 8 slots, 6 workers: all served
    per_object = Counter(task.seq for task in results.values())
    assert max(per_object.values()) <= 2
    for seq in range(4):
        item = store.get_object("race", seq)
        assert item is not None and item.active == per_object.get(seq, 0) <= item.needed
    # a second round: nobody gets an object they already hold, nothing over-assigned
    for w in workers:
        task = results[w]
        store.submit(task.task_id, worker_id=w, answer={"x": 1}, now=NOW + 1, team_size=None)
    again: dict[str, Any] = {}
    for w in workers:
        _claim_again = store.claim(
            "race", worker_id=w, worker={}, task_id=f"t2-{w}", now=NOW + 2, deadline=NOW + 300
        )
        again[w] = _claim_again
    for w, task in again.items():
        if task is not None:
            assert task.seq != results[w].seq
    for seq in range(4):
        item = store.get_object("race", seq)
        assert item is not None and item.active + item.submitted <= item.needed


def test_a_claim_writes_only_the_object_the_task_and_the_workers_items(aws):
    counts: Counter[str] = Counter()
    store = dynamo_store()
    _job(store, objects=3, needed=3)
    recorded: list[dict[str, Any]] = []
    client = store.client

    class Recording(CountingClient):
        def transact_write_items(self, **kwargs: Any) -> Any:
            recorded.append(kwargs)
            return client.transact_write_items(**kwargs)

    spy = DynamoStore(TABLE, client=Recording(client, counts))
    task = spy.claim("race", worker_id="w", worker={}, task_id="t", now=NOW, deadline=NOW + 60)
    assert task is not None and task.seq == 0
    keys = []
    for item in recorded[0]["TransactItems"]:
        (operation,) = item.values()
        key = operation.get("Key") or {k: operation["Item"][k] for k in ("pk", "sk")}
        keys.append((key["pk"]["S"], key["sk"]["S"]))
    assert keys == [
        ("J#race", "O#0000000000"),  # the object (its own item)
        ("W#race#w", "O#0000000000"),  # the worker's hold on it
        ("W#race#w", "ACTIVE"),  # the worker's running task
        ("T#t", "T"),  # the task
    ]
    assert not any(k == ("J#race", "JOB") for k in keys)  # nothing job-wide


def test_no_operation_of_a_whole_job_ever_scans(aws):
    counts: Counter[str] = Counter()
    store = dynamo_store(counts)
    _job(store, objects=5, needed=2)
    task = store.claim("race", worker_id="w", worker={}, task_id="t", now=NOW, deadline=NOW + 60)
    assert task is not None
    store.submit("t", worker_id="w", answer={"a": 1}, now=NOW + 1, team_size=None)
    store.expire_leases("race", now=NOW + 1000, limit=100)
    store.end_objects("race", now=NOW + 10_000, limit=100)
    store.count_objects("race")
    store.start_batch("race", now=NOW + 10_001, limit=100)
    assert not any(op.endswith(":scan") for op in counts), counts
    assert store.count_objects("race")[ObjectStatus.BATCHED] == 5
