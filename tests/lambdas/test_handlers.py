"""Pre- and post-annotation handlers: real event shapes, isolation of bad answers, fuzzing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from gt_annotation import post_annotation, pre_annotation
from gt_annotation.metrics import emit_consolidation_metrics
from gt_annotation.post_annotation import Settings, consolidate_batch
from gt_annotation.pre_annotation import DataObjectError, build_task_input
from gt_annotation.skill import MemorySkillStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ARN = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets-1a2b3c"
CLASSIFY = Settings(
    task_type="IMAGE_CLASSIFICATION",
    answer_name="annotatedResult",
    method="dawid-skene",
    options={"method": "dawid-skene"},
)


def answer(worker: str, label: Any) -> dict[str, Any]:
    return {
        "workerId": worker,
        "annotationData": {"content": json.dumps({"annotatedResult": {"label": label}})},
    }


def payload(*objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"datasetObjectId": str(i), "dataObject": {"s3Uri": f"s3://b/{i}.jpg"}, "annotations": a}
        for i, a in enumerate(objects)
    ]


# -- pre-annotation ----------------------------------------------------------------------------
def test_pre_annotation_passes_every_attribute_and_the_labels() -> None:
    line = {"source-ref": "s3://bucket/a.jpg", "camera": "north", "hint": {"x": 1}}
    response = build_task_input(line, ["Person"])
    assert response == {
        "taskInput": {
            "taskObject": "s3://bucket/a.jpg",
            "camera": "north",
            "hint": {"x": 1},
            "labels": ["Person"],
        },
        "isHumanAnnotationRequired": True,
    }


def test_pre_annotation_text_objects_use_source() -> None:
    assert build_task_input({"source": "great film"})["taskInput"] == {"taskObject": "great film"}


def test_pre_annotation_skips_objects_already_labelled() -> None:
    response = build_task_input({"source-ref": "s3://b/a.jpg", "pets": 1}, None, "pets")
    assert response["isHumanAnnotationRequired"] is False
    assert (
        build_task_input({"source-ref": "s3://b/a.jpg"}, None, "pets")["isHumanAnnotationRequired"]
        is True
    )


@pytest.mark.parametrize(
    ("data_object", "message"),
    [
        ({"image": "s3://b/a.jpg"}, 'neither "source-ref"'),
        ({"source-ref": 7}, '"source-ref" must be an s3:// URI string, got int'),
        ({"source-ref": "https://b/a.jpg"}, "must be an s3:// URI"),
        ({"source": ["a"]}, '"source" must be a string of text, got list'),
        (["source-ref"], "must be a JSON object"),
    ],
)
def test_pre_annotation_names_the_malformed_object(data_object: Any, message: str) -> None:
    with pytest.raises(DataObjectError, match=message):
        build_task_input(data_object)


def test_pre_annotation_handler_reads_labels_and_skip_from_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GT_LABELS", '["Person"]')
    monkeypatch.setenv("GT_SKIP_IF_LABELED", "street-people")
    event = {
        "version": "2018-10-16",
        "labelingJobArn": ARN,
        "dataObject": {"source-ref": "s3://b/SSDB00010.JPG"},
    }
    response = pre_annotation.handler(event, None)
    assert response["taskInput"]["labels"] == ["Person"]
    assert response["isHumanAnnotationRequired"] is True


# -- post-annotation core ----------------------------------------------------------------------
def test_every_object_gets_exactly_one_entry_even_with_broken_answers() -> None:
    # GIVEN three objects: good answers, one broken answer, only broken answers
    broken = {"workerId": "w3", "annotationData": {"content": "{not json"}}
    data = payload(
        [answer("w1", "Cat"), answer("w2", "Cat"), answer("w3", "Dog")],
        [answer("w1", "Dog"), answer("w2", "Dog"), broken],
        [broken, {"workerId": "w4", "annotationData": {"content": '{"other": 1}'}}],
    )
    # WHEN the batch is consolidated
    response, stats, rejections = consolidate_batch(
        data,
        CLASSIFY,
        labels=["Cat", "Dog"],
        label_attribute_name="pets",
        scope="job#t",
        skill_store=MemorySkillStore(),
    )
    # THEN every object has its entry, in order
    assert [e["datasetObjectId"] for e in response] == ["0", "1", "2"]
    labels = [e["consolidatedAnnotation"]["content"]["pets"] for e in response]
    assert labels[0]["class-name"] == "Cat" and labels[0]["workers"] == 3
    assert labels[1]["class-name"] == "Dog" and labels[1]["workers"] == 2
    assert labels[2] == {"consolidation-error": "no usable worker answer", "rejectedAnswers": 2}
    # AND the rejections say who and why, without the data
    reasons = {(r.dataset_object_id, r.worker_id): r.reason for r in rejections}
    assert reasons[("1", "w3")].startswith("answer content is not JSON")
    assert reasons[("2", "w4")] == "answer has no 'annotatedResult' element (keys: other)"
    assert stats.consolidated == 2 and stats.errors == 1 and stats.rejected == 3


def test_unknown_label_is_rejected_with_the_allowed_ones() -> None:
    response, _, rejections = consolidate_batch(
        payload([answer("w1", "Cat"), answer("w2", "Horse")]),
        CLASSIFY,
        labels=["Cat", "Dog"],
        label_attribute_name="pets",
        scope="s",
    )
    reason = rejections[0].reason
    assert "'Horse'" in reason and "Cat" in reason and "Dog" in reason
    label = response[0]["consolidatedAnnotation"]["content"]["pets"]
    assert label["class-name"] == "Cat" and label["confidence"] == 0.0  # one usable answer


def test_a_failing_consolidator_falls_back_to_object_by_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gt_annotation.consensus import classification

    real = classification.CONSOLIDATOR.consolidate

    def flaky(objects: Any, context: Any) -> Any:
        if len(objects) > 1 or objects[0].dataset_object_id == "1":
            raise RuntimeError("boom")
        return real(objects, context)

    monkeypatch.setattr(classification.CONSOLIDATOR, "consolidate", flaky)
    response, stats, _ = consolidate_batch(
        payload([answer("a", "Cat"), answer("b", "Cat")], [answer("a", "Dog"), answer("b", "Dog")]),
        CLASSIFY,
        labels=["Cat", "Dog"],
        label_attribute_name="pets",
        scope="s",
    )
    labels = [e["consolidatedAnnotation"]["content"]["pets"] for e in response]
    assert labels[0]["class-name"] == "Cat"
    assert labels[1] == {
        "consolidation-error": "consolidation failed (RuntimeError)",
        "rejectedAnswers": 0,
    }
    assert stats.errors == 1


def test_keep_all_annotations_adds_parsed_answers_beside_the_consensus() -> None:
    keep = Settings(
        task_type="IMAGE_CLASSIFICATION",
        answer_name="annotatedResult",
        method="majority-vote",
        keep_all_annotations=True,
        options={"method": "majority-vote"},
    )
    response, _, _ = consolidate_batch(
        payload([answer("w1", "Cat"), answer("w2", "Cat")]),
        keep,
        labels=["Cat", "Dog"],
        label_attribute_name="pets",
        scope="s",
    )
    label = response[0]["consolidatedAnnotation"]["content"]["pets"]
    assert label["class-name"] == "Cat" and label["confidence"] == 1.0
    assert label["annotationsFromAllWorkers"] == [
        {"workerId": "w1", "annotationData": {"content": {"annotatedResult": {"label": "Cat"}}}},
        {"workerId": "w2", "annotationData": {"content": {"annotatedResult": {"label": "Cat"}}}},
    ]


def test_all_annotations_method_returns_only_the_raw_answers() -> None:
    raw = Settings.from_environment({"GT_TASK_TYPE": "CUSTOM"})
    assert raw.method == "all-annotations" and raw.keep_all_annotations
    response, _, _ = consolidate_batch(
        payload([{"workerId": "w", "annotationData": {"content": '{"free": "text"}'}}]),
        raw,
        labels=None,
        label_attribute_name="x",
        scope="s",
    )
    assert response[0]["consolidatedAnnotation"]["content"]["x"] == {
        "annotationsFromAllWorkers": [
            {"workerId": "w", "annotationData": {"content": {"free": "text"}}}
        ],
    }


def test_skill_persists_across_batches_in_the_store() -> None:
    store = MemorySkillStore()
    for _ in range(2):
        consolidate_batch(
            payload([answer("w1", "Cat"), answer("w2", "Cat"), answer("w3", "Dog")]),
            CLASSIFY,
            labels=["Cat", "Dog"],
            label_attribute_name="pets",
            scope="job#j",
            skill_store=store,
        )
    skills = store.all("job#j")
    assert skills["w1"].scored == 2.0 and skills["w3"].scored == 2.0
    assert skills["w1"].agreements > skills["w3"].agreements


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
    assert settings.method == "bounding-box" and settings.keep_all_annotations
    assert settings.options == {"method": "bounding-box", "iouThreshold": 0.6}
    assert (settings.answer_name, settings.payload_access, settings.skill_table) == (
        "boxes",
        "DIRECT_READ",
        "t",
    )


def test_metrics_are_one_embedded_metric_format_record() -> None:
    stream = io.StringIO()
    emit_consolidation_metrics(
        job_name="pets-1", objects=10, rejected=2, mean_confidence=0.8, stream=stream
    )
    record = json.loads(stream.getvalue())
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "GroundTruthConstructs"
    assert {m["Name"] for m in directive["Metrics"]} == {
        "ObjectsConsolidated",
        "AnswersRejected",
        "MeanConfidence",
    }
    assert record["ObjectsConsolidated"] == 10 and record["LabelingJob"] == "pets-1"


# -- fuzzing -----------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
contents = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=20),
    st.builds(lambda v: json.dumps({"annotatedResult": v}), json_values),
    st.sampled_from(['{"annotatedResult": {"label": "Cat"}}', '{"annotatedResult": {"label": 1}}']),
)
annotations = st.one_of(
    st.builds(
        lambda w, c: {"workerId": w, "annotationData": {"content": c}},
        st.sampled_from(["w1", "w2", "w3", "w4"]),
        contents,
    ),
    json_values,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(annotations, max_size=5), min_size=1, max_size=6),
    st.sampled_from(
        [
            "dawid-skene",
            "majority-vote",
            "bounding-box",
            "named-entity",
            "free-text",
            "all-annotations",
        ]
    ),
)
def test_fuzzed_payloads_always_get_one_entry_per_object(objects: list[Any], method: str) -> None:
    settings_ = Settings(
        task_type="CUSTOM", answer_name="annotatedResult", method=method, options={"method": method}
    )
    response, _, _ = consolidate_batch(
        payload(*objects),
        settings_,
        labels=["Cat", "Dog"],
        label_attribute_name="x",
        scope="s",
        skill_store=MemorySkillStore(),
    )
    assert [e["datasetObjectId"] for e in response] == [str(i) for i in range(len(objects))]
    for entry in response:
        label = entry["consolidatedAnnotation"]["content"]["x"]
        assert isinstance(label, dict)
        confidence = label.get("confidence", 0.0)
        assert 0.0 <= confidence <= 1.0
        json.dumps(label)  # serialisable for Ground Truth


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_fuzzed_events_fail_with_a_clear_error_or_succeed(event: Any) -> None:
    from gt_annotation.events import EventError, parse_request

    try:
        parse_request(event)
    except EventError as error:
        assert "event" in str(error)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_fuzzed_data_objects_get_a_named_error_never_a_crash(data_object: Any) -> None:
    try:
        response = build_task_input(data_object)
    except DataObjectError as error:
        assert "data object" in str(error)
    else:
        assert isinstance(response["isHumanAnnotationRequired"], bool)


def test_handler_module_exposes_the_lambda_entry_point() -> None:
    assert callable(post_annotation.handler) and callable(pre_annotation.handler)
