"""Worker skill stores: scopes, the in-memory store, DynamoDB reads and atomic ADD writes."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gt_annotation import skill as skill_module
from gt_annotation.model import WorkerSkill
from gt_annotation.skill import (
    DynamoSkillStore,
    MemorySkillStore,
    SkillStoreError,
    batch_key,
    skill_scope,
    update_fields,
)
from moto import mock_aws

TABLE = "worker-skill"


def create_table(client: Any) -> None:
    """The table the construct creates: partition key scope, sort key worker, on demand."""
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "scope", "KeyType": "HASH"},
            {"AttributeName": "worker", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "scope", "AttributeType": "S"},
            {"AttributeName": "worker", "AttributeType": "S"},
        ],
    )


@pytest.fixture
def dynamo() -> Iterator[Any]:
    with mock_aws():
        skill_module.reset_client()
        client = boto3.client("dynamodb")
        create_table(client)
        yield client
        skill_module.reset_client()


# -- scopes ------------------------------------------------------------------------------------
def test_job_scope_is_the_job_name() -> None:
    assert skill_scope("job", "pets-1a2b3c", "IMAGE_CLASSIFICATION", ["Cat"]) == "job#pets-1a2b3c"


def test_label_set_scope_is_shared_by_jobs_with_the_same_task_type_and_labels() -> None:
    a = skill_scope("label-set", "job-a", "IMAGE_CLASSIFICATION", ["Cat", "Dog"])
    b = skill_scope("label-set", "job-b", "IMAGE_CLASSIFICATION", ["Cat", "Dog"])
    expected = hashlib.sha256(b"IMAGE_CLASSIFICATION\nCat\nDog").hexdigest()[:16]
    assert a == b == f"labels#{expected}"
    assert skill_scope("label-set", "j", "IMAGE_CLASSIFICATION", ["Dog", "Cat"]) != a
    assert skill_scope("label-set", "j", "TEXT_CLASSIFICATION", ["Cat", "Dog"]) != a


def test_fails_when_the_scope_mode_is_unknown() -> None:
    with pytest.raises(
        ValueError, match="skill scope 'account' is unknown; allowed: job, label-set"
    ):
        skill_scope("account", "j", "CUSTOM", [])


# -- what a batch adds -------------------------------------------------------------------------
def test_update_fields_are_the_documented_attributes_without_zeros_or_non_finite_values() -> None:
    delta = WorkerSkill(
        "w",
        {(0, 0): 2.5, (1, 0): 0.0, (2, 1): float("nan"), (3, 1): 0.25},
        agreements=1.0,
        scored=float("inf"),
    )
    assert update_fields(delta) == [("c_0_0", 2.5), ("c_3_1", 0.25), ("agree", 1.0)]


# -- in memory ---------------------------------------------------------------------------------
def test_memory_store_adds_evidence_per_scope() -> None:
    store = MemorySkillStore()
    store.add("job#a", {"w1": WorkerSkill("w1", {(0, 0): 1.0}, 1.0, 1.0)})
    store.add("job#a", {"w1": WorkerSkill("w1", {(0, 0): 0.5, (0, 1): 0.5}, 0.5, 1.0)})
    store.add("job#b", {"w1": WorkerSkill("w1", agreements=3.0, scored=3.0)})
    loaded = store.load("job#a", ["w1", "w2"])
    assert set(loaded) == {"w1"}
    assert loaded["w1"].confusion == {(0, 0): 1.5, (0, 1): 0.5}
    assert (loaded["w1"].agreements, loaded["w1"].scored) == (1.5, 2.0)
    assert store.load("job#b", ["w1"])["w1"].scored == 3.0


def test_memory_store_ignores_non_finite_evidence_like_dynamodb() -> None:
    store = MemorySkillStore()
    store.add("s", {"w": WorkerSkill("w", {(0, 0): float("nan")}, 1.0, 2.0)})
    store.add("s", {"v": WorkerSkill("v", {(0, 0): 0.0})})
    assert store.all("s") == {"w": WorkerSkill("w", {}, 1.0, 2.0)}


def test_memory_store_is_safe_under_concurrent_adds() -> None:
    store = MemorySkillStore()
    delta = WorkerSkill("w", {(1, 1): 1.0}, 1.0, 1.0)

    def work() -> None:
        for _ in range(200):
            store.add("s", {"w": delta})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.all("s")["w"].scored == 800.0


# -- DynamoDB (moto) ---------------------------------------------------------------------------
def test_dynamodb_store_writes_the_documented_item_and_reads_it_back(dynamo: Any) -> None:
    store = DynamoSkillStore(TABLE)
    store.add(
        "job#pets",
        {
            "w1": WorkerSkill("w1", {(0, 0): 0.75, (1, 0): 0.25}, agreements=1.0, scored=1.0),
            "w2": WorkerSkill("w2"),  # nothing to add: no item written
        },
    )
    item = dynamo.get_item(TableName=TABLE, Key={"scope": {"S": "job#pets"}, "worker": {"S": "w1"}})
    stored = item["Item"]
    assert (stored.pop("scope"), stored.pop("worker")) == ({"S": "job#pets"}, {"S": "w1"})
    assert {name: float(value["N"]) for name, value in stored.items()} == {
        "c_0_0": 0.75,
        "c_1_0": 0.25,
        "agree": 1.0,
        "scored": 1.0,
    }
    assert dynamo.scan(TableName=TABLE)["Count"] == 1
    loaded = store.load("job#pets", ["w1", "w2"])
    assert loaded == {"w1": WorkerSkill("w1", {(0, 0): 0.75, (1, 0): 0.25}, 1.0, 1.0)}


def test_dynamodb_store_reads_more_than_one_batch_get_of_keys(dynamo: Any) -> None:
    store = DynamoSkillStore(TABLE)
    workers = [f"w{i:03d}" for i in range(150)]  # BatchGetItem takes 100 keys a call
    store.add(
        "s", {w: WorkerSkill(w, agreements=1.0, scored=float(i + 1)) for i, w in enumerate(workers)}
    )
    loaded = store.load("s", workers)
    assert len(loaded) == 150 and loaded["w149"].scored == 150.0


class FlakyBatchGet:
    """A DynamoDB client whose BatchGetItem leaves keys unprocessed ``rounds`` times."""

    def __init__(self, real: Any, rounds: int) -> None:
        self.real, self.rounds, self.calls = real, rounds, 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.rounds:
            return {"Responses": {TABLE: []}, "UnprocessedKeys": RequestItems}
        return self.real.batch_get_item(RequestItems=RequestItems)

    def update_item(self, **kwargs: Any) -> Any:
        return self.real.update_item(**kwargs)


def test_unprocessed_keys_are_retried(dynamo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DynamoSkillStore, "BACKOFF", 0.0)
    DynamoSkillStore(TABLE, dynamo).add("s", {"w": WorkerSkill("w", agreements=2.0, scored=3.0)})
    flaky = FlakyBatchGet(dynamo, rounds=2)
    loaded = DynamoSkillStore(TABLE, flaky).load("s", ["w"])
    assert flaky.calls == 3 and loaded["w"].scored == 3.0


def test_fails_when_keys_stay_unprocessed(dynamo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DynamoSkillStore, "BACKOFF", 0.0)
    flaky = FlakyBatchGet(dynamo, rounds=100)
    with pytest.raises(SkillStoreError, match="2 of 2 workers' skill stayed unprocessed"):
        DynamoSkillStore(TABLE, flaky).load("s", ["a", "b"])
    assert flaky.calls == DynamoSkillStore.READ_ROUNDS


def test_every_worker_is_attempted_and_failures_are_raised_together(dynamo: Any) -> None:
    class OneFails:
        def update_item(self, **kwargs: Any) -> Any:
            if kwargs["Key"]["worker"]["S"] == "bad":
                raise ConnectionError("network")
            return dynamo.update_item(**kwargs)

    store = DynamoSkillStore(TABLE, OneFails())
    evidence = {w: WorkerSkill(w, agreements=1.0, scored=1.0) for w in ("a", "bad", "c")}
    with pytest.raises(
        SkillStoreError, match=r"skill of 1 of 3 workers not added \(ConnectionError\)"
    ):
        store.add("s", evidence)
    assert set(DynamoSkillStore(TABLE, dynamo).load("s", ["a", "bad", "c"])) == {"a", "c"}


class ReadModifyWrite:
    """What the store must not do: read the item, add in Python, put it back."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def load(self, scope: str, workers: Any) -> dict[str, WorkerSkill]:
        return DynamoSkillStore(TABLE, self.client).load(scope, workers)

    def add_from(self, prior: WorkerSkill, scope: str, delta: WorkerSkill) -> None:
        total = prior.add(delta)
        item = {"scope": {"S": scope}, "worker": {"S": total.worker_id}}
        item.update({name: {"N": str(value)} for name, value in update_fields(total)})
        self.client.put_item(TableName=TABLE, Item=item)


def test_interleaved_batches_both_land(dynamo: Any) -> None:
    # GIVEN two batches of the same job that read the same worker's skill before either writes
    store_a, store_b = DynamoSkillStore(TABLE), DynamoSkillStore(TABLE)
    store_a.add("job#j", {"w": WorkerSkill("w", {(0, 0): 1.0}, 1.0, 1.0)})
    prior_a = store_a.load("job#j", ["w"])["w"]
    prior_b = store_b.load("job#j", ["w"])["w"]
    assert prior_a == prior_b
    # WHEN both add their evidence
    store_a.add("job#j", {"w": WorkerSkill("w", {(0, 0): 2.0}, 2.0, 2.0)})
    store_b.add("job#j", {"w": WorkerSkill("w", {(0, 1): 3.0}, 0.0, 3.0)})
    # THEN the stored counts hold both batches' evidence
    stored = store_a.load("job#j", ["w"])["w"]
    assert stored.confusion == {(0, 0): 3.0, (0, 1): 3.0}
    assert (stored.agreements, stored.scored) == (3.0, 6.0)


def test_the_same_interleaving_loses_counts_with_a_read_modify_write(dynamo: Any) -> None:
    # The contrast that makes the test above meaningful.
    naive = ReadModifyWrite(dynamo)
    DynamoSkillStore(TABLE).add("job#j", {"w": WorkerSkill("w", {(0, 0): 1.0}, 1.0, 1.0)})
    prior_a = naive.load("job#j", ["w"])["w"]
    prior_b = naive.load("job#j", ["w"])["w"]
    naive.add_from(prior_a, "job#j", WorkerSkill("w", {(0, 0): 2.0}, 2.0, 2.0))
    naive.add_from(prior_b, "job#j", WorkerSkill("w", {(0, 1): 3.0}, 0.0, 3.0))
    stored = naive.load("job#j", ["w"])["w"]
    assert stored.scored == 4.0  # batch a's evidence is gone


class SerialisedClient:
    """DynamoDB applies each request atomically; moto's in-memory backend does not under
    threads, so this wrapper supplies that (one request at a time), nothing more."""

    def __init__(self, client: Any) -> None:
        self.client, self.lock = client, threading.Lock()
        self.operations: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            with self.lock:
                self.operations.append(name)
                return method(**kwargs)

        return call


def test_concurrent_batches_lose_no_counts(dynamo: Any) -> None:
    # GIVEN two threads, each consolidating ten batches, started together
    client = SerialisedClient(dynamo)
    store = DynamoSkillStore(TABLE, client)
    barrier = threading.Barrier(2)
    delta = WorkerSkill("w", {(1, 0): 0.5}, agreements=1.0, scored=1.5)
    errors: list[BaseException] = []

    def batch_loop() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                store.load("job#x", ["w"])
                time.sleep(0.001)  # let the other thread read before this one writes
                store.add("job#x", {"w": delta})
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=batch_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN all twenty ADDs landed, and only reads and atomic updates were sent
    assert errors == []
    stored = store.load("job#x", ["w"])["w"]
    assert stored.scored == pytest.approx(30.0)
    assert stored.agreements == pytest.approx(20.0)
    assert stored.confusion == {(1, 0): pytest.approx(10.0)}
    assert set(client.operations) == {"batch_get_item", "update_item"}


# -- each batch counts once ------------------------------------------------------------------
def test_batch_key_is_the_job_and_the_payload_content() -> None:
    payload = [{"datasetObjectId": "0", "annotations": [{"workerId": "w", "x": 1}]}]
    same = [{"annotations": [{"x": 1, "workerId": "w"}], "datasetObjectId": "0"}]
    key = batch_key("arn:aws:sagemaker:us-east-1:1:labeling-job/a", payload)
    assert key == batch_key("arn:aws:sagemaker:us-east-1:1:labeling-job/a", same)
    assert key != batch_key("arn:aws:sagemaker:us-east-1:1:labeling-job/b", payload)
    assert key != batch_key(
        "arn:aws:sagemaker:us-east-1:1:labeling-job/a", [dict(payload[0], datasetObjectId="1")]
    )


def test_memory_store_counts_a_batch_once() -> None:
    store = MemorySkillStore()
    delta = {"w": WorkerSkill("w", {(0, 0): 1.0}, 1.0, 1.0)}
    assert store.add("job#a", delta, batch="b1") is True
    assert store.add("job#a", delta, batch="b1") is False  # a retry
    assert store.add("job#a", delta, batch="b2") is True
    assert store.add("job#other", delta, batch="b1") is True  # another scope counts it too
    assert store.all("job#a")["w"].scored == 2.0


def test_dynamodb_store_counts_a_batch_once(dynamo: Any) -> None:
    # GIVEN a batch's evidence stored under its key
    store = DynamoSkillStore(TABLE)
    delta = {"w1": WorkerSkill("w1", {(0, 0): 1.0}, 1.0, 1.0), "w2": WorkerSkill("w2", scored=2.0)}
    assert store.add("job#a", delta, batch="b1") is True
    # WHEN the same batch is stored again (Ground Truth retried the invocation)
    assert store.add("job#a", delta, batch="b1") is False
    # THEN each worker holds it once; another batch still adds
    assert store.load("job#a", ["w1", "w2"]) == {
        "w1": WorkerSkill("w1", {(0, 0): 1.0}, 1.0, 1.0),
        "w2": WorkerSkill("w2", scored=2.0),
    }
    assert store.add("job#a", delta, batch="b2") is True
    assert store.load("job#a", ["w2"])["w2"].scored == 4.0


def test_more_workers_than_one_transaction_holds_count_once(dynamo: Any) -> None:
    store = DynamoSkillStore(TABLE)
    workers = [f"w{i:03d}" for i in range(250)]  # three transactions of at most 99 workers
    delta = {w: WorkerSkill(w, agreements=1.0, scored=1.0) for w in workers}
    assert store.add("s", delta, batch="big") is True
    assert store.add("s", delta, batch="big") is False
    loaded = store.load("s", workers)
    assert len(loaded) == 250 and {s.scored for s in loaded.values()} == {1.0}


class FailingPart:
    """A client whose TransactWriteItems fails for the part holding ``worker``, ``times`` times."""

    def __init__(self, real: Any, worker: str, error: Exception, times: int = 1) -> None:
        self.real, self.worker, self.error, self.times = real, worker, error, times
        self.calls = 0

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> Any:
        self.calls += 1
        workers = {i["Update"]["Key"]["worker"]["S"] for i in TransactItems if "Update" in i}
        if self.worker in workers and self.times > 0:
            self.times -= 1
            raise self.error
        return self.real.transact_write_items(TransactItems=TransactItems)

    def batch_get_item(self, **kwargs: Any) -> Any:
        return self.real.batch_get_item(**kwargs)


def test_a_retry_after_a_partial_failure_adds_only_what_was_missing(dynamo: Any) -> None:
    # GIVEN a batch of two parts whose second part failed to write
    workers = [f"w{i:03d}" for i in range(150)]
    delta = {w: WorkerSkill(w, agreements=1.0, scored=1.0) for w in workers}
    flaky = FailingPart(dynamo, "w149", ConnectionError("network"))
    with pytest.raises(SkillStoreError, match=r"skill of 51 of 150 workers not added"):
        DynamoSkillStore(TABLE, flaky).add("s", delta, batch="b")
    # WHEN the batch is retried
    assert DynamoSkillStore(TABLE).add("s", delta, batch="b") is True
    # THEN every worker holds the batch exactly once
    loaded = DynamoSkillStore(TABLE).load("s", workers)
    assert {w: s.scored for w, s in loaded.items()} == dict.fromkeys(workers, 1.0)


def test_a_transaction_conflict_is_tried_again(
    dynamo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    monkeypatch.setattr(DynamoSkillStore, "BACKOFF", 0.0)
    conflict = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
        },
        "TransactWriteItems",
    )
    flaky = FailingPart(dynamo, "w", conflict, times=2)
    assert DynamoSkillStore(TABLE, flaky).add("s", {"w": WorkerSkill("w", scored=1.0)}, batch="b")
    assert flaky.calls == 3
    assert DynamoSkillStore(TABLE).load("s", ["w"])["w"].scored == 1.0
