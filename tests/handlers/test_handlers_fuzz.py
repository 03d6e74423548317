"""Property-based fuzzing of both handlers: arbitrary JSON, missing keys, wrong types.

Post-annotation: whatever the workers' answers hold, no exception escapes and
every identifiable dataset object gets exactly one entry, in order, that
Ground Truth can store (strict JSON). Only an event without a usable payload
may raise, and then only ``EventError`` with a message. Pre-annotation: a
response with a boolean, or ``DataObjectError`` naming the object.

S3 is replaced by an in-memory reader here (moto per example would be slow);
``test_handlers_moto.py`` covers the real calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from gt_annotation import payload as payload_module
from gt_annotation import post_annotation, pre_annotation
from gt_annotation.events import EventError
from gt_annotation.model import AnswerError, BatchResult, ConsolidationContext, ObjectAnswers
from gt_annotation.post_annotation import Settings, consolidate_batch
from gt_annotation.pre_annotation import DataObjectError
from gt_annotation.skill import MemorySkillStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/fuzz-job"
PAYLOAD_URI = "s3://fuzz/payload.json"
ANSWER_URI = "s3://fuzz/answer.json"
METHODS = [
    "dawid-skene",
    "majority-vote",
    "multi-label",
    "bounding-box",
    "semantic-segmentation",
    "instance-segmentation",
    "named-entity",
    "free-text",
    "all-annotations",
]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Plausible element values, so that some answers get past the parsers.
element_values = st.one_of(
    json_values,
    st.builds(
        lambda label: {"label": label}, st.sampled_from(["Cat", "Dog", "Horse", ""]) | json_values
    ),
    st.builds(
        lambda labels: {"labels": labels},
        st.lists(st.sampled_from(["Cat", "Dog"]) | json_values, max_size=3),
    ),
    st.builds(
        lambda boxes: {"boundingBoxes": boxes, "inputImageProperties": {"width": 64, "height": 48}},
        st.lists(
            st.fixed_dictionaries(
                {
                    "label": st.sampled_from(["Cat", "Dog"]) | json_values,
                    "left": st.integers(-5, 70) | json_values,
                    "top": st.integers(-5, 50),
                    "width": st.integers(-1, 70),
                    "height": st.integers(-1, 50) | json_values,
                }
            ),
            max_size=3,
        ),
    ),
    st.builds(
        lambda entities: {"entities": entities},
        st.lists(
            st.fixed_dictionaries(
                {
                    "label": st.sampled_from(["Cat", "Dog"]) | json_values,
                    "startOffset": st.integers(-2, 30) | json_values,
                    "endOffset": st.integers(-2, 30),
                }
            ),
            max_size=3,
        ),
    ),
    st.builds(
        lambda data, mappings: {
            "labeledImage": {"pngImageData": data},
            "labelMappings": mappings,
            "instances": [{"color": "#2ca02c", "label": "Cat"}],
        },
        st.text(max_size=12) | st.just("iVBORw0KGgo="),
        st.just({"Cat": {"color": "#2ca02c"}}) | json_values,
    ),
)
contents = st.one_of(
    st.builds(lambda value: json.dumps({"answer": value}), element_values),
    json_values.map(json.dumps),
    st.text(max_size=30),
    st.sampled_from(
        ['{"answer": NaN}', '{"answer": 1e999}', "[" * 3000, '{"answer": {"label": "Cat"}}']
    ),
    json_values,  # already-parsed content, or a wrong type
)
annotation_data = st.one_of(
    st.builds(lambda c: {"content": c}, contents),
    st.builds(
        lambda uri: {"s3Uri": uri},
        st.sampled_from([ANSWER_URI, "s3://fuzz/missing.json", "http://x"]) | json_values,
    ),
    st.just({}),
    json_values,
)
worker_annotations = st.one_of(
    st.fixed_dictionaries(
        {"workerId": st.sampled_from(["w1", "w2", "w3", "w4"]), "annotationData": annotation_data}
    ),
    st.fixed_dictionaries({"workerId": json_values, "annotationData": annotation_data}),
    st.fixed_dictionaries(
        {}, optional={"workerId": st.text(max_size=3), "annotationData": annotation_data}
    ),
    json_values,
)
data_objects = st.one_of(
    st.builds(lambda i: {"s3Uri": f"s3://in/{i}.jpg"}, st.integers(0, 9)),
    st.builds(lambda t: {"content": t}, st.text(max_size=20)),
    json_values,
)


@st.composite
def payloads(draw: st.DrawFn) -> list[Any]:
    """Entries with an id (some repeated, some ints), entries without one, and junk."""
    entries: list[Any] = []
    for position in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["good", "good", "good", "int-id", "repeat", "no-id", "junk"]))
        if kind == "junk":
            entries.append(draw(json_values))
            continue
        entry: dict[str, Any] = {}
        if kind == "int-id":
            entry["datasetObjectId"] = position
        elif kind == "repeat":
            entry["datasetObjectId"] = "0"
        elif kind == "good":
            entry["datasetObjectId"] = f"obj-{position}"
        if draw(st.booleans()) or kind == "good":
            entry["dataObject"] = draw(data_objects)
        entry["annotations"] = draw(st.lists(worker_annotations, max_size=4) | json_values)
        entries.append(entry)
    return entries


def expected_ids(payload: Any) -> list[str]:
    """The objects Ground Truth must get an entry for: each identifiable id, once, in order."""
    ids: list[str] = []
    for entry in payload:
        raw = entry.get("datasetObjectId") if isinstance(entry, dict) else None
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw) not in ids:
            ids.append(str(raw))
    return ids


def check_response(response: Any, payload: Any, attribute: str) -> None:
    assert isinstance(response, list)
    assert [e["datasetObjectId"] for e in response] == expected_ids(payload)
    json.dumps(response, allow_nan=False)  # what Ground Truth gets is strict JSON
    for entry in response:
        assert set(entry) == {"datasetObjectId", "consolidatedAnnotation"}
        content = entry["consolidatedAnnotation"]["content"]
        # The built-in layout: the label (absent for a failure) and its metadata, nothing else.
        assert set(content) in ({attribute, f"{attribute}-metadata"}, {f"{attribute}-metadata"})
        metadata = content[f"{attribute}-metadata"]
        assert isinstance(metadata["job-name"], str) and metadata["job-name"].startswith(
            "labeling-job/"
        )
        if attribute not in content:
            reason = metadata["failure-reason"]
            assert isinstance(reason, str) and reason
            assert isinstance(metadata["rejected-answers"], int)
        else:
            assert "failure-reason" not in metadata and metadata["human-annotated"] == "yes"
        confidence = metadata.get("confidence")
        if confidence is not None:
            assert 0.0 <= confidence <= 1.0


@contextmanager
def fake_s3(objects: dict[str, str]) -> Iterator[None]:
    """``S3Access.read_text`` served from memory; unknown keys fail like S3's NoSuchKey."""

    class NoSuchKey(Exception):
        response = {"Error": {"Code": "NoSuchKey"}}  # noqa: RUF012 (botocore's shape)

    def read_text(self: Any, uri: str) -> str:
        payload_module.split_s3_uri(uri)
        if uri not in objects:
            raise NoSuchKey(uri)
        return objects[uri]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(payload_module.S3Access, "read_text", read_text)
        yield


@contextmanager
def environment(**values: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("GT_SKILL_TABLE", "GT_OUTPUT_URI", "GT_LABELS", "GT_SKIP_IF_LABELED"):
            patch.delenv(name, raising=False)
        for name, value in values.items():
            patch.setenv(name, value)
        yield


def event_for(labels: list[str] | None) -> dict[str, Any]:
    return {
        "version": "2018-10-16",
        "labelingJobArn": ARN,
        "labelCategories": labels,
        "labelAttributeName": "fuzz",
        "roleArn": "arn:aws:iam::123456789012:role/gt-execution",
        "payload": {"s3Uri": PAYLOAD_URI},
        "outputConfig": "s3://fuzz/out",
    }


# -- post-annotation handler -----------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
@FUZZ
@given(
    payload=payloads(),
    labels=st.sampled_from([["Cat", "Dog"], None, []]),
    stored_answer=contents,
)
def test_post_annotation_answers_every_object_whatever_the_workers_sent(
    method: str, payload: list[Any], labels: list[str] | None, stored_answer: Any
) -> None:
    stored = stored_answer if isinstance(stored_answer, str) else json.dumps(stored_answer)
    with (
        environment(
            GT_TASK_TYPE="CUSTOM",
            GT_ANSWER_NAME="answer",
            GT_CONSOLIDATION=json.dumps({"method": method}),
            GT_PAYLOAD_ACCESS="DIRECT_READ",
        ),
        fake_s3({PAYLOAD_URI: json.dumps(payload), ANSWER_URI: stored}),
    ):
        response = post_annotation.handler(event_for(labels), None)
    check_response(response, payload, "fuzz")


@FUZZ
@given(
    event=st.one_of(
        json_values,
        st.builds(
            lambda base, drop, junk: {
                **{k: v for k, v in base.items() if k not in drop},
                **junk,
            },
            st.just(event_for(["Cat", "Dog"])),
            st.sets(st.sampled_from(list(event_for(None)))),
            st.dictionaries(st.sampled_from(list(event_for(None))), json_values, max_size=3),
        ),
    ),
    payload=st.one_of(payloads(), json_values),
)
def test_a_broken_event_raises_only_a_clear_event_error(event: Any, payload: Any) -> None:
    with (
        environment(
            GT_TASK_TYPE="IMAGE_CLASSIFICATION",
            GT_ANSWER_NAME="answer",
            GT_PAYLOAD_ACCESS="DIRECT_READ",
        ),
        fake_s3({PAYLOAD_URI: json.dumps(payload)}),
    ):
        try:
            response = post_annotation.handler(event, None)
        except EventError as error:
            assert str(error)
            return
        except Exception as error:  # the S3 read of a payload URI that is not there
            assert getattr(error, "response", {}).get("Error", {}).get("Code") == "NoSuchKey"
            return
    inline = (
        event.get("payload", {}).get("content") if isinstance(event.get("payload"), dict) else None
    )
    check_response(response, inline if inline is not None else payload, event["labelAttributeName"])


# -- the core with a consolidator that misbehaves --------------------------------------------
class Erratic:
    """Accepts integer answers; raises for some objects, returns junk labels for others."""

    def __init__(self, failing: set[str], junk: dict[str, Any]) -> None:
        self.failing, self.junk = failing, junk

    def parse_answer(self, value: Any, labels: Sequence[str]) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AnswerError("not an integer")
        return value

    def consolidate(
        self, objects: Sequence[ObjectAnswers], context: ConsolidationContext
    ) -> BatchResult:
        if any(o.dataset_object_id in self.failing for o in objects):
            raise ZeroDivisionError
        result = BatchResult()
        for item in objects:
            result.labels[item.dataset_object_id] = self.junk.get(
                item.dataset_object_id, {"n": len(item.answers), "confidence": 1.0}
            )
        return result


@FUZZ
@given(
    payload=payloads(),
    failing=st.sets(st.sampled_from(["0", "obj-0", "obj-1", "obj-2", "3"])),
    junk=st.dictionaries(
        st.sampled_from(["obj-0", "obj-1", "obj-3", "2"]),
        json_values | st.just({"confidence": float("nan")}) | st.just({"x": b"bytes"}),
        max_size=2,
    ),
    keep=st.booleans(),
)
def test_a_misbehaving_consolidator_cannot_sink_the_batch(
    payload: list[Any], failing: set[str], junk: dict[str, Any], keep: bool
) -> None:
    settings_ = Settings(
        task_type="CUSTOM", answer_name="answer", method="erratic", keep_all_annotations=keep
    )
    response, stats, _ = consolidate_batch(
        payload,
        settings_,
        labels=None,
        label_attribute_name="x",
        scope="s",
        skill_store=MemorySkillStore(),
        consolidator=Erratic(failing, junk),
    )
    check_response(response, payload, "x")
    assert stats.consolidated + stats.errors == stats.objects == len(response)
    for entry in response:
        content = entry["consolidatedAnnotation"]["content"]
        if entry["datasetObjectId"] in failing and "n" not in content.get("x", {}):
            assert "x" not in content and "failure-reason" in content["x-metadata"]
        if keep:
            assert isinstance(content["x-metadata"]["annotationsFromAllWorkers"], list)


# -- pre-annotation handler ------------------------------------------------------------------
@FUZZ
@given(
    event=st.one_of(
        json_values,
        st.builds(
            lambda d: {"version": "2018-10-16", "labelingJobArn": ARN, "dataObject": d}, json_values
        ),
        st.builds(
            lambda ref, extra: {"dataObject": {"source-ref": ref, **extra}},
            st.text(max_size=12)
            | st.builds(lambda k: f"s3://b/{k}", st.text(max_size=8))
            | json_values,
            st.dictionaries(st.text(max_size=6), json_values, max_size=3),
        ),
        st.builds(lambda src: {"dataObject": {"source": src}}, json_values),
    ),
    skip=st.sampled_from(["", "source", "done"]),
)
def test_pre_annotation_answers_or_names_the_malformed_object(event: Any, skip: str) -> None:
    with environment(GT_LABELS='["Cat", "Dog"]', GT_SKIP_IF_LABELED=skip):
        try:
            response = pre_annotation.handler(event, None)
        except DataObjectError as error:
            assert "data object" in str(error) or "dataObject" in str(error)
            return
    data_object = event["dataObject"]
    assert isinstance(response["isHumanAnnotationRequired"], bool)
    assert response["isHumanAnnotationRequired"] is not (bool(skip) and skip in data_object)
    task_input = response["taskInput"]
    assert isinstance(task_input["taskObject"], str) and task_input["labels"] == ["Cat", "Dog"]
    assert task_input["taskObject"] in (data_object.get("source-ref"), data_object.get("source"))
    # Every attribute of the line stays (source-ref / source included) and the whole line too.
    assert task_input["manifestLine"] == data_object
    for key, value in data_object.items():
        if key not in ("taskObject", "labels", "manifestLine"):
            assert task_input[key] == value
    json.dumps(response, allow_nan=False)
