"""Pre-annotation: the manifest line becomes the worker task's input (real Ground Truth shapes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from gt_annotation import pre_annotation
from gt_annotation.pre_annotation import ConfigurationError, DataObjectError, build_task_input

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GT_LABELS", raising=False)
    monkeypatch.delenv("GT_SKIP_IF_LABELED", raising=False)


def test_image_line_keeps_every_attribute_and_adds_task_object_labels_and_manifest_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the image event Ground Truth sends and the construct's label list
    event = load("pre_annotation_image_event.json")
    monkeypatch.setenv("GT_LABELS", json.dumps(["Person", "Bicycle"]))
    # WHEN the handler runs
    response = pre_annotation.handler(event, None)
    # THEN taskInput keeps every attribute of the line (source-ref too) and adds the
    # object, the labels and the whole line
    line = event["dataObject"]
    assert response == {
        "taskInput": {
            "source-ref": line["source-ref"],
            "camera": line["camera"],
            "captured": line["captured"],
            "hints": line["hints"],
            "taskObject": line["source-ref"],
            "labels": ["Person", "Bicycle"],
            "manifestLine": line,
        },
        "isHumanAnnotationRequired": True,
    }
    # AND the documented key holds a real boolean (the recipe's "humanAnnotationRequired": "true" bug)
    assert response["isHumanAnnotationRequired"] is True
    assert "humanAnnotationRequired" not in response


def test_text_line_uses_source_and_keeps_earlier_labels_for_templates() -> None:
    event = load("pre_annotation_text_event.json")
    response = pre_annotation.handler(event, None)
    task_input = response["taskInput"]
    assert task_input["taskObject"] == event["dataObject"]["source"]
    assert task_input["review-id"] == 4711
    assert task_input["sentiment"] == {"class-name": "Positive", "confidence": 0.71}
    assert "labels" not in task_input  # GT_LABELS unset
    # AWS's task-UI samples read task.input.source: it stays
    assert task_input["source"] == event["dataObject"]["source"]
    assert task_input["manifestLine"] == event["dataObject"]


def test_source_ref_wins_over_source_and_source_stays_an_attribute() -> None:
    response = build_task_input({"source-ref": "s3://b/a.jpg", "source": "caption"})
    line = {"source-ref": "s3://b/a.jpg", "source": "caption"}
    assert response["taskInput"] == {**line, "taskObject": "s3://b/a.jpg", "manifestLine": line}


def test_added_keys_win_over_attributes_of_the_same_name_which_stay_in_manifest_line() -> None:
    line = {"source": "x", "labels": "old", "taskObject": 1, "manifestLine": "m"}
    task_input = build_task_input(line, ["Cat"])["taskInput"]
    assert (task_input["taskObject"], task_input["labels"]) == ("x", ["Cat"])
    assert task_input["manifestLine"] == line


def test_manifest_line_is_a_copy() -> None:
    line = {"source": "x", "earlier": {"a": 1}}
    task_input = build_task_input(line)["taskInput"]
    task_input["manifestLine"]["source"] = "changed"
    assert line["source"] == "x"


def test_labels_are_copied_not_shared() -> None:
    labels = ["Cat"]
    response = build_task_input({"source": "x"}, labels)
    response["taskInput"]["labels"].append("Dog")
    assert labels == ["Cat"]


def test_objects_carrying_the_skip_attribute_are_not_sent_to_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a job that skips lines already labelled under "sentiment"
    monkeypatch.setenv("GT_SKIP_IF_LABELED", "sentiment")
    labelled = load("pre_annotation_text_event.json")
    unlabelled = load("pre_annotation_image_event.json")
    # THEN the labelled line is not sent, the other one is
    assert pre_annotation.handler(labelled, None)["isHumanAnnotationRequired"] is False
    assert pre_annotation.handler(unlabelled, None)["isHumanAnnotationRequired"] is True


def test_skip_attribute_counts_even_when_its_value_is_null() -> None:
    response = build_task_input({"source": "x", "done": None}, None, "done")
    assert response["isHumanAnnotationRequired"] is False


@pytest.mark.parametrize(
    ("data_object", "message"),
    [
        ({"image": "s3://b/a.jpg"}, r'data object with image: neither "source-ref".* nor "source"'),
        ({}, r"data object with no keys: neither"),
        ({"source-ref": 7}, r'"source-ref" must be an s3:// URI string, got int 7'),
        (
            {"source-ref": "https://b/a.jpg"},
            r"must be an s3:// URI string, got str 'https://b/a.jpg'",
        ),
        ({"source-ref": "s3://"}, r"must be an s3:// URI string"),
        ({"source-ref": ["s3://b/a.jpg"]}, r"got list"),
        ({"source": ["a"]}, r'"source" must be a string of text, got list'),
        ({"source": {"text": "a"}}, r"got dict"),
        (["source-ref"], r"data object of type list: a data object must be a JSON object"),
        ("s3://b/a.jpg", r"data object of type str"),
    ],
)
def test_fails_when_the_data_object_is_malformed(data_object: Any, message: str) -> None:
    with pytest.raises(DataObjectError, match=message) as raised:
        build_task_input(data_object)
    assert isinstance(raised.value, ValueError)  # callers may catch ValueError


def test_fails_when_the_handler_gets_an_event_without_a_data_object() -> None:
    with pytest.raises(DataObjectError, match=r'the pre-annotation event has no "dataObject"'):
        pre_annotation.handler({"version": "2018-10-16", "labelingJobArn": "arn:x"}, None)


def test_fails_when_the_handler_gets_a_malformed_line_and_names_it() -> None:
    event = {"version": "2018-10-16", "dataObject": {"source-ref": "file:///tmp/a.jpg"}}
    with pytest.raises(DataObjectError, match=re.escape("file:///tmp/a.jpg")):
        pre_annotation.handler(event, None)


@pytest.mark.parametrize("value", ["Person", '{"labels": ["a"]}', "[1, 2]", "[Person"])
def test_fails_when_gt_labels_is_not_a_json_list_of_strings(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GT_LABELS", value)
    with pytest.raises(ConfigurationError, match=r"GT_LABELS must be a JSON list of strings"):
        pre_annotation.handler(load("pre_annotation_image_event.json"), None)


def test_labels_from_environment_reads_a_given_mapping() -> None:
    assert pre_annotation.labels_from_environment({"GT_LABELS": '["a", "b"]'}) == ["a", "b"]
    assert pre_annotation.labels_from_environment({}) is None
    assert pre_annotation.labels_from_environment({"GT_LABELS": "[]"}) == []
