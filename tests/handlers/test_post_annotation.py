"""Post-annotation core: event parsing, per-answer isolation, fallbacks, settings, metrics.

The framework is tested with small fake consolidators injected into
``consolidate_batch``; the classification module stands in for a real one.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from gt_annotation import post_annotation
from gt_annotation.consensus import default_method, get_consolidator
from gt_annotation.events import AnswerParser, EventError, parse_objects, parse_request
from gt_annotation.metrics import emit_consolidation_metrics
from gt_annotation.model import (
    AnswerError,
    BatchResult,
    ConsolidationContext,
    ObjectAnswers,
    WorkerSkill,
)
from gt_annotation.post_annotation import (
    ConfigurationError,
    Settings,
    consolidate_batch,
    log_rejections,
)
from gt_annotation.skill import MemorySkillStore

FIXTURES = Path(__file__).parent / "fixtures"
CATEGORIES = ["Cat", "Dog", "Rabbit"]
W1, W2, W3 = (
    "private.us-east-1.aaaa1111",
    "private.us-east-1.bbbb2222",
    "private.us-east-1.cccc3333",
)
CLASSIFY = Settings(
    task_type="IMAGE_CLASSIFICATION",
    answer_name="category",
    method="dawid-skene",
    options={"method": "dawid-skene"},
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def label_of(entry: dict[str, Any], attribute: str = "pets") -> Any:
    return entry["consolidatedAnnotation"]["content"][attribute]


def meta_of(entry: dict[str, Any], attribute: str = "pets") -> dict[str, Any]:
    metadata: dict[str, Any] = entry["consolidatedAnnotation"]["content"][f"{attribute}-metadata"]
    return metadata


def failure_of(entry: dict[str, Any], attribute: str = "pets") -> tuple[str, int]:
    """(failure-reason, rejected-answers) of a failed entry, which has no label at all."""
    content = entry["consolidatedAnnotation"]["content"]
    assert set(content) == {f"{attribute}-metadata"}  # no made-up label
    metadata = content[f"{attribute}-metadata"]
    assert "human-annotated" not in metadata and "confidence" not in metadata
    return metadata["failure-reason"], metadata["rejected-answers"]


def answer(worker: str, value: Any, name: str = "category") -> dict[str, Any]:
    return {"workerId": worker, "annotationData": {"content": json.dumps({name: value})}}


def entry(object_id: str, *annotations: Any) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": f"s3://in/{object_id}.jpg"},
        "annotations": list(annotations),
    }


class Counting:
    """A fake consolidator: the label is the number of answers and their sum.

    ``parse_answer`` accepts integers only; ``fail_on`` makes ``consolidate``
    raise for batches holding those object ids; ``skill`` emits one scored
    answer per worker and object.
    """

    def __init__(self, fail_on: Sequence[str] = (), result: Any = None) -> None:
        self.fail_on = set(fail_on)
        self.result = result
        self.calls: list[list[str]] = []

    def parse_answer(self, value: Any, labels: Sequence[str]) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AnswerError(f"expected an integer, got a {type(value).__name__}")
        return value

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        ids = [o.dataset_object_id for o in objects]
        self.calls.append(ids)
        if self.fail_on & set(ids):
            raise RuntimeError("this object breaks the algorithm")
        result = BatchResult()
        for item in objects:
            values = [a.value for a in item.answers]
            result.labels[item.dataset_object_id] = (
                self.result
                if self.result is not None
                else {"sum": sum(values), "confidence": 0.5, "workers": len(values)}
            )
            for a in item.answers:
                delta = WorkerSkill(a.worker_id, agreements=1.0, scored=1.0)
                prior = result.skill_updates.get(a.worker_id)
                result.skill_updates[a.worker_id] = prior.add(delta) if prior else delta
        return result


RAW = Settings(task_type="CUSTOM", answer_name="n", method="custom-test", options={})


def run_fake(
    payload: list[Any], consolidator: Any, store: Any = None, settings: Settings = RAW
) -> tuple[list[dict[str, Any]], Any, list[Any]]:
    return consolidate_batch(
        payload,
        settings,
        labels=None,
        label_attribute_name="x",
        scope="job#t",
        skill_store=store,
        consolidator=consolidator,
    )


@pytest.fixture
def post_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Reads the post-annotation logger's JSON lines written so far in the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(post_annotation.LOGGER.handlers[0].formatter)
    post_annotation.LOGGER.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        post_annotation.LOGGER.removeHandler(handler)


# -- the event -------------------------------------------------------------------------------
def test_event_fields_are_parsed_into_a_typed_request() -> None:
    request = parse_request(load("post_annotation_event.json"))
    assert request.version == "2018-10-16"
    assert request.job_name == "pets-1a2b3c"
    assert request.labeling_job_arn.endswith(":labeling-job/pets-1a2b3c")
    assert request.label_categories == CATEGORIES
    assert request.label_attribute_name == "pets"
    assert request.role_arn == "arn:aws:iam::123456789012:role/gt-execution"
    assert request.payload_uri is not None and request.payload_uri.startswith("s3://gt-output")
    assert request.output_config == "s3://gt-output-bucket/jobs/pets-1a2b3c/annotations"


def test_label_categories_may_be_null_and_output_config_absent() -> None:
    request = parse_request(load("post_annotation_event_no_categories.json"))
    assert request.label_categories is None and request.output_config is None
    assert request.job_name == "captions-7"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labelingJobArn": None}, "labelingJobArn must be a labeling job ARN"),
        ({"labelAttributeName": ""}, "labelAttributeName must be a non-empty string"),
        ({"labelCategories": "Cat"}, "labelCategories must be null or a list of strings"),
        ({"payload": {}}, "payload must hold s3Uri"),
        ({"payload": None}, "payload must hold s3Uri"),
    ],
)
def test_fails_when_the_event_is_unusable(change: dict[str, Any], message: str) -> None:
    event = {**load("post_annotation_event.json"), **change}
    with pytest.raises(EventError, match=message):
        parse_request(event)


def test_fails_when_the_event_is_not_an_object() -> None:
    with pytest.raises(EventError, match="the event must be a JSON object, got list"):
        parse_request([])


def test_fails_when_the_payload_is_not_a_list() -> None:
    with pytest.raises(EventError, match="the payload must be a JSON list, got dict"):
        run_fake({"datasetObjectId": "0"}, Counting())  # type: ignore[arg-type]


# -- a real payload through the real classification module -----------------------------------
def test_classification_payload_gets_one_entry_per_object_in_order() -> None:
    # GIVEN the fixture: two clear objects, one with an unknown label, one all broken
    store = MemorySkillStore()
    response, stats, rejections = consolidate_batch(
        load("classification_payload.json"),
        CLASSIFY,
        labels=CATEGORIES,
        label_attribute_name="pets",
        scope="job#pets",
        skill_store=store,
    )
    # THEN every object has exactly one entry, in payload order
    assert [e["datasetObjectId"] for e in response] == ["0", "1", "2", "3"]
    labels = [label_of(e) for e in response[:3]]
    metas = [meta_of(e) for e in response[:3]]
    assert [m["class-name"] for m in metas] == ["Cat", "Dog", "Rabbit"]
    assert [m["workers"] for m in metas] == [3, 3, 2]
    for label, metadata in zip(labels, metas, strict=True):
        assert CATEGORIES[label] == metadata["class-name"]
        assert 0.0 < metadata["confidence"] <= 1.0
    # AND the all-broken object gets no label, and says why and how many answers were left out
    assert failure_of(response[3]) == ("no usable worker answer (2 answers rejected)", 2)
    # AND each left-out answer is named by object, worker and reason (no data)
    reasons = {(r.dataset_object_id, r.worker_id): r.reason for r in rejections}
    assert set(reasons) == {("2", W3), ("3", W1), ("3", W2)}
    assert "'Horse'" in reasons[("2", W3)] and "Rabbit" in reasons[("2", W3)]
    assert reasons[("3", W1)].startswith("answer content is not JSON")
    assert reasons[("3", W2)] == "answer has no 'category' element (keys: crowd-image-classifier)"
    assert (stats.objects, stats.consolidated, stats.errors, stats.rejected) == (4, 3, 1, 3)
    assert stats.mean_confidence == pytest.approx(sum(m["confidence"] for m in metas) / 3)
    # AND the batch's evidence went to the store
    assert set(store.all("job#pets")) == {W1, W2, W3}


# -- isolation of answers --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        ("just a string", "annotation is a JSON string, not an object"),
        ({"annotationData": {"content": "{}"}}, "annotation has no workerId"),
        ({"workerId": 7, "annotationData": {"content": "{}"}}, "annotation has no workerId"),
        ({"workerId": "w", "annotationData": "{}"}, "annotation has no annotationData object"),
        ({"workerId": "w", "annotationData": {}}, "annotationData has neither content nor s3Uri"),
        ({"workerId": "w", "annotationData": {"content": "[1]"}}, "answer content is a JSON array"),
        ({"workerId": "w", "annotationData": {"content": '{"n": NaN}'}}, "holds NaN"),
        ({"workerId": "w", "annotationData": {"content": '{"n": 1e999}'}}, "too large"),
        ({"workerId": "w", "annotationData": {"content": "[" * 100_000}}, "nested too deeply"),
        ({"workerId": "w", "annotationData": {"content": '{"n": "7"}'}}, "expected an integer"),
        ({"workerId": "w", "annotationData": {"s3Uri": 5}}, "s3Uri is not an s3:// URI"),
        ({"workerId": "w", "annotationData": {"s3Uri": "s3://b/k"}}, "cannot be read here"),
    ],
)
def test_an_unusable_answer_is_left_out_with_a_reason(annotation: Any, reason: str) -> None:
    # GIVEN one good answer and one unusable one for the same object
    response, stats, rejections = run_fake(
        [entry("0", answer("good", 2, "n"), annotation)], Counting()
    )
    # THEN the object is consolidated from the good answer alone
    assert label_of(response[0], "x") == {"sum": 2}
    assert meta_of(response[0], "x")["workers"] == 1
    assert len(rejections) == 1 and reason in rejections[0].reason
    assert stats.rejected == 1 and stats.consolidated == 1


def test_a_parser_crash_of_any_type_rejects_only_that_answer() -> None:
    class Crashing(Counting):
        def parse_answer(self, value: Any, labels: Sequence[str]) -> int:
            if value == 13:
                raise OverflowError("unlucky")
            if value == 14:
                raise RecursionError
            return super().parse_answer(value, labels)

    response, _, rejections = run_fake(
        [entry("0", answer("a", 1, "n"), answer("b", 13, "n"), answer("c", 14, "n"))], Crashing()
    )
    assert label_of(response[0], "x")["sum"] == 1
    assert sorted(r.reason for r in rejections) == [
        "unusable answer (OverflowError)",
        "unusable answer (RecursionError)",
    ]
    assert all("unlucky" not in r.reason for r in rejections)  # the message might quote data


def test_answers_are_fetched_from_their_s3_uri_and_fetch_failures_are_isolated() -> None:
    class NoSuchKey(Exception):
        response = {"Error": {"Code": "NoSuchKey"}}  # noqa: RUF012 (botocore's shape)

    stored = {"s3://out/big/a.json": json.dumps({"n": 40})}

    def fetch(uri: str) -> str:
        if uri not in stored:
            raise NoSuchKey
        return stored[uri]

    payload = [
        entry(
            "0",
            {"workerId": "a", "annotationData": {"s3Uri": "s3://out/big/a.json"}},
            {"workerId": "b", "annotationData": {"s3Uri": "s3://out/big/missing.json"}},
            answer("c", 2, "n"),
        )
    ]
    response, _, rejections = consolidate_batch(
        payload,
        RAW,
        labels=None,
        label_attribute_name="x",
        scope="s",
        fetch=fetch,
        consolidator=Counting(),
    )
    assert label_of(response[0], "x")["sum"] == 42
    assert [(r.worker_id, r.reason) for r in rejections] == [
        ("b", "annotationData.s3Uri could not be read (NoSuchKey)")
    ]


def test_content_may_arrive_already_parsed() -> None:
    payload = [entry("0", {"workerId": "a", "annotationData": {"content": {"n": 5}}})]
    response, _, rejections = run_fake(payload, Counting())
    assert label_of(response[0], "x")["sum"] == 5 and not rejections


def test_a_second_answer_of_the_same_worker_is_left_out() -> None:
    response, _, rejections = run_fake(
        [entry("0", answer("a", 1, "n"), answer("a", 5, "n"))], Counting()
    )
    assert label_of(response[0], "x")["sum"] == 1
    assert [r.reason for r in rejections] == ["second answer of the same worker"]


def test_entries_without_an_id_or_with_a_repeated_id_are_reported_not_answered() -> None:
    payload = [
        entry("0", answer("a", 1, "n")),
        {"dataObject": {"s3Uri": "s3://in/x.jpg"}, "annotations": []},
        entry("0", answer("a", 2, "n")),
        "not an entry",
        {"datasetObjectId": 9, "dataObject": {"content": "text"}, "annotations": "none"},
    ]
    response, stats, rejections = run_fake(payload, Counting())
    assert [e["datasetObjectId"] for e in response] == ["0", "9"]
    assert failure_of(response[1], "x") == ("no usable worker answer (1 answer rejected)", 1)
    reasons = [r.reason for r in rejections]
    assert "payload entry 1 has no datasetObjectId" in reasons
    assert "payload entry 3 has no datasetObjectId" in reasons
    assert "duplicate datasetObjectId; first kept" in reasons
    assert "annotations is not a list" in reasons
    assert stats.objects == 2


def test_an_object_nobody_answered_still_gets_an_entry() -> None:
    response, stats, _ = run_fake([entry("0")], Counting())
    assert failure_of(response[0], "x") == ("no worker answered this object", 0)
    assert stats.errors == 1 and stats.mean_confidence is None


# -- isolation of objects --------------------------------------------------------------------
def test_a_failing_batch_is_consolidated_object_by_object(
    post_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    # GIVEN a consolidator that fails whenever object "1" is in its input
    fake = Counting(fail_on=["1"])
    store = MemorySkillStore()
    payload = [
        entry("0", answer("a", 1, "n"), answer("b", 2, "n")),
        entry("1", answer("a", 3, "n"), {"workerId": "c", "annotationData": {}}),
        entry("2", answer("b", 4, "n")),
    ]
    response, stats, _ = run_fake(payload, fake, store)
    # THEN the batch was retried one object at a time
    assert fake.calls == [["0", "1", "2"], ["0"], ["1"], ["2"]]
    assert label_of(response[0], "x")["sum"] == 3 and label_of(response[2], "x")["sum"] == 4
    assert failure_of(response[1], "x") == (
        "consolidation failed (RuntimeError) (1 answer rejected)",
        1,
    )
    assert (stats.consolidated, stats.errors) == (2, 1)
    # AND the skill evidence of the objects that worked is merged per worker
    skills = store.all("job#t")
    assert skills["a"].scored == 1.0 and skills["b"].scored == 2.0
    # AND the failure was logged by object id and exception type only
    failed = [r for r in post_logs() if r["message"] == "object could not be consolidated"]
    assert failed == [
        {**failed[0], "datasetObjectId": "1", "error": "RuntimeError", "level": "ERROR"}
    ]
    assert "this object breaks" not in json.dumps(post_logs())


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (["not", "a", "dict"], "the consolidator returned a list, not a JSON object"),
        ({"confidence": float("nan")}, "the consolidated label is not valid JSON"),
        ({"bytes": b"\x89PNG"}, "the consolidated label is not valid JSON"),
    ],
)
def test_a_label_ground_truth_could_not_store_becomes_an_error_entry(
    result: Any, reason: str
) -> None:
    response, stats, _ = run_fake([entry("0", answer("a", 1, "n"))], Counting(result=result))
    assert failure_of(response[0], "x")[0].startswith(reason) and stats.errors == 1
    json.dumps(response, allow_nan=False)


def test_an_object_the_consolidator_forgot_gets_an_error_entry() -> None:
    class Forgetful(Counting):
        def consolidate(
            self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
        ) -> BatchResult:
            return BatchResult()

    response, _, _ = run_fake([entry("0", answer("a", 1, "n"))], Forgetful())
    assert failure_of(response[0], "x") == ("the consolidator returned no label", 0)


# -- raw answers ------------------------------------------------------------------------------
def test_keep_all_annotations_adds_parsed_answers_beside_the_consensus() -> None:
    keep = Settings(
        task_type="IMAGE_CLASSIFICATION",
        answer_name="category",
        method="majority-vote",
        keep_all_annotations=True,
        options={"method": "majority-vote"},
    )
    response, _, _ = consolidate_batch(
        load("classification_payload.json")[:1],
        keep,
        labels=CATEGORIES,
        label_attribute_name="pets",
        scope="s",
    )
    # THEN the label is the built-in one, and the raw answers are in the metadata only
    assert label_of(response[0]) == 0
    metadata = meta_of(response[0])
    assert metadata["class-name"] == "Cat" and metadata["method"] == "majority-vote"
    assert metadata["annotationsFromAllWorkers"] == [
        {"workerId": W1, "annotationData": {"content": {"category": {"label": "Cat"}}}},
        {"workerId": W2, "annotationData": {"content": {"category": {"label": "Cat"}}}},
        {"workerId": W3, "annotationData": {"content": {"category": {"label": "Dog"}}}},
    ]


def test_all_annotations_outputs_only_the_parsed_raw_answers() -> None:
    # GIVEN a custom task with no answer element name and the default (raw) method
    raw = Settings.from_environment({"GT_TASK_TYPE": "CUSTOM"})
    assert raw.method == "all-annotations" and raw.keep_all_annotations
    payload = [
        entry(
            "0",
            {"workerId": "w1", "annotationData": {"content": '{"free": "text", "n": [1, 2]}'}},
            {"workerId": "w2", "annotationData": {"content": "not json"}},
        ),
        entry("1", {"workerId": "w2", "annotationData": {"content": "{oops"}}),
    ]
    response, stats, _ = consolidate_batch(
        payload, raw, labels=None, label_attribute_name="x", scope="s"
    )
    # THEN the label is {} (what Ground Truth writes for a custom job without consolidation)
    # and the raw answers are in the metadata
    assert label_of(response[0], "x") == {}
    metadata = meta_of(response[0], "x")
    assert metadata["type"] == "groundtruth/custom" and metadata["workers"] == 1
    assert metadata["annotationsFromAllWorkers"] == [
        {"workerId": "w1", "annotationData": {"content": {"free": "text", "n": [1, 2]}}}
    ]
    assert failure_of(response[1], "x") == ("no usable worker answer (1 answer rejected)", 1)
    assert meta_of(response[1], "x")["annotationsFromAllWorkers"] == []
    assert (stats.consolidated, stats.errors, stats.rejected) == (1, 1, 2)


# -- worker skill -----------------------------------------------------------------------------
def test_stored_skill_is_the_prior_and_the_batch_adds_to_it() -> None:
    seen: list[dict[str, WorkerSkill]] = []

    class Recording(Counting):
        def consolidate(
            self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
        ) -> BatchResult:
            seen.append(dict(context.skills))
            return super().consolidate(objects, context)

    store = MemorySkillStore()
    batch = [entry("0", answer("a", 1, "n"), answer("b", 1, "n"))]
    run_fake(batch, Recording(), store)
    run_fake(batch, Recording(), store)
    assert seen[0] == {}
    assert seen[1]["a"].scored == 1.0  # the first batch's evidence, read as the prior
    assert store.all("job#t")["a"].scored == 2.0


def test_without_a_store_skill_is_learned_within_the_batch_only() -> None:
    response, stats, _ = run_fake([entry("0", answer("a", 1, "n"))], Counting(), store=None)
    assert label_of(response[0], "x")["sum"] == 1 and stats.consolidated == 1


def test_a_skill_store_that_fails_does_not_sink_the_batch(
    post_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    class Broken:
        def load(self, scope: str, workers: Any) -> dict[str, WorkerSkill]:
            raise ConnectionError("table unreachable")

        def add(self, scope: str, updates: Any) -> None:
            raise ConnectionError("table unreachable")

    response, stats, _ = run_fake([entry("0", answer("a", 1, "n"))], Counting(), Broken())
    assert label_of(response[0], "x")["sum"] == 1 and stats.consolidated == 1
    messages = {r["message"]: r for r in post_logs()}
    assert (
        messages["worker skill could not be read; consolidating with this batch's evidence only"][
            "error"
        ]
        == "ConnectionError"
    )
    assert messages["worker skill evidence could not be stored"]["level"] == "ERROR"


# -- settings from the construct -------------------------------------------------------------
def test_settings_come_from_the_construct_environment() -> None:
    settings = Settings.from_environment(
        {
            "GT_TASK_TYPE": "BOUNDING_BOX",
            "GT_ANSWER_NAME": "boxes",
            "GT_CONSOLIDATION": '{"method": "bounding-box", "keepAllAnnotations": true, "iouThreshold": 0.6}',
            "GT_PAYLOAD_ACCESS": "DIRECT_READ",
            "GT_SKILL_TABLE": "t",
            "GT_SKILL_SCOPE": "label-set",
            "GT_OUTPUT_URI": "s3://out/prefix",
        }
    )
    assert settings == Settings(
        task_type="BOUNDING_BOX",
        answer_name="boxes",
        method="bounding-box",
        keep_all_annotations=True,
        options={"method": "bounding-box", "iouThreshold": 0.6},
        payload_access="DIRECT_READ",
        skill_table="t",
        skill_scope_mode="label-set",
        output_uri="s3://out/prefix",
    )


@pytest.mark.parametrize("task_type", ["IMAGE_CLASSIFICATION", "NAMED_ENTITY", "CUSTOM"])
def test_the_method_defaults_to_the_task_types(task_type: str) -> None:
    settings = Settings.from_environment({"GT_TASK_TYPE": task_type, "GT_CONSOLIDATION": "{}"})
    assert settings.method == default_method(task_type)
    assert settings.payload_access == "ASSUME_EXECUTION_ROLE" and settings.skill_table is None


def test_fails_when_the_environment_is_wrong_and_lists_every_problem() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment(
            {
                "GT_TASK_TYPE": "VIDEO",
                "GT_CONSOLIDATION": '{"method": "vote", "keepAllAnnotations": "yes"}',
                "GT_PAYLOAD_ACCESS": "READ",
                "GT_SKILL_SCOPE": "account",
                "GT_OUTPUT_URI": "https://bucket/prefix",
            }
        )
    message = str(raised.value)
    for part in (
        "GT_TASK_TYPE 'VIDEO' is unknown; allowed: IMAGE_CLASSIFICATION",
        "consolidation method 'vote' is unknown; allowed: dawid-skene",
        "keepAllAnnotations must be true or false",
        "GT_PAYLOAD_ACCESS 'READ' is unknown; allowed: ASSUME_EXECUTION_ROLE, DIRECT_READ",
        "GT_SKILL_SCOPE 'account' is unknown; allowed: job, label-set",
        "GT_OUTPUT_URI must be s3://bucket[/prefix], got 'https://bucket/prefix'",
    ):
        assert part in message


@pytest.mark.parametrize("value", ["[1]", "{bad", '"dawid-skene"'])
def test_fails_when_gt_consolidation_is_not_a_json_object(value: str) -> None:
    with pytest.raises(ConfigurationError, match="GT_CONSOLIDATION must be a JSON object"):
        Settings.from_environment({"GT_TASK_TYPE": "CUSTOM", "GT_CONSOLIDATION": value})


# -- consolidator registry --------------------------------------------------------------------
def test_the_registry_loads_consolidators_by_method_name() -> None:
    raw = get_consolidator("all-annotations")
    assert raw.parse_answer({"any": ["json"]}, []) == {"any": ["json"]}
    assert get_consolidator("dawid-skene") is get_consolidator("majority-vote")


def test_fails_when_the_method_or_task_type_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"unknown consolidation method 'vote'; allowed: dawid"):
        get_consolidator("vote")
    with pytest.raises(ValueError, match=r"unknown task type 'VIDEO'; allowed: IMAGE_CLASS"):
        default_method("VIDEO")


# -- logs and metrics -------------------------------------------------------------------------
def test_rejections_are_logged_with_ids_and_reason_but_never_the_answer(
    post_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    secret = "Jane Doe, 12 Main Street"
    payload = [
        entry("7", {"workerId": "w9", "annotationData": {"content": json.dumps({"n": secret})}})
    ]
    _, _, rejections = run_fake(payload, Counting())
    log_rejections(rejections)
    logged = post_logs()
    assert logged == [
        {
            "timestamp": logged[0]["timestamp"],
            "level": "WARNING",
            "logger": "gt_annotation.post_annotation",
            "message": "worker answer left out",
            "datasetObjectId": "7",
            "workerId": "w9",
            "reason": "expected an integer, got a str",
        }
    ]
    assert secret not in json.dumps(logged)


def test_a_flood_of_rejections_is_logged_up_to_a_limit(
    post_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    payload = [entry(str(i), {"workerId": "w", "annotationData": {}}) for i in range(5)]
    _, _, rejections = run_fake(payload, Counting())
    log_rejections(rejections, limit=3)
    logged = post_logs()
    assert [r["message"] for r in logged] == ["worker answer left out"] * 3 + [
        "more worker answers left out"
    ]
    assert logged[-1]["notLogged"] == 2


def test_metrics_are_one_embedded_metric_format_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "post-fn")
    namespace = Settings.from_environment({"GT_METRICS_NAMESPACE": "MyLabeling"}).metrics_namespace
    stream = io.StringIO()
    emit_consolidation_metrics(
        job_name="pets-1",
        objects=10,
        rejected=2,
        errors=1,
        skill_store_errors=1,
        mean_confidence=0.81234,
        namespace=namespace,
        stream=stream,
    )
    record = json.loads(stream.getvalue())
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "MyLabeling"
    assert ["Function", "LabelingJob"] in directive["Dimensions"]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "ObjectsConsolidated": "Count",
        "AnswersRejected": "Count",
        "ConsolidationErrors": "Count",
        "SkillStoreErrors": "Count",
        "MeanConfidence": "None",
    }
    assert (record["ObjectsConsolidated"], record["AnswersRejected"]) == (10, 2)
    assert (record["ConsolidationErrors"], record["SkillStoreErrors"]) == (1, 1)
    assert record["MeanConfidence"] == 0.8123
    assert (record["Function"], record["LabelingJob"]) == ("post-fn", "pets-1")
    assert isinstance(record["_aws"]["Timestamp"], int)


def test_mean_confidence_is_left_out_when_no_label_has_one() -> None:
    stream = io.StringIO()
    emit_consolidation_metrics(
        job_name="j", objects=0, rejected=3, mean_confidence=None, stream=stream
    )
    record = json.loads(stream.getvalue())
    assert "MeanConfidence" not in record
    assert [m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "ObjectsConsolidated",
        "AnswersRejected",
        "ConsolidationErrors",
        "SkillStoreErrors",
    ]
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "GroundTruthConstructs"


def test_answer_parser_and_parse_objects_can_be_used_alone() -> None:
    parser = AnswerParser("n", [], Counting().parse_answer)
    objects, orphans = parse_objects([entry("0", answer("a", 3, "n"))], parser)
    assert not orphans and objects[0].answers[0].value == 3
    assert objects[0].answers[0].raw == {"n": 3}
    assert objects[0].data_object == {"s3Uri": "s3://in/0.jpg"}
