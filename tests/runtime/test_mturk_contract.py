"""The Mechanical Turk submit contract (spec §4) and the signed tokens."""

from __future__ import annotations

import json

import pytest
from gt_constructs.lambda_src.gt_runtime.mturk import SubmitError, parse_submit
from gt_constructs.lambda_src.gt_runtime.signing import SignatureError, Signer


def test_task_answers_is_an_array_whose_first_object_is_the_answer() -> None:
    answer = {"crowd-image-classifier": {"label": "Cat"}}
    fields = [("assignmentId", "a1"), ("taskAnswers", json.dumps([answer]))]
    assert parse_submit(fields) == ("a1", answer)


def test_flattened_fields_are_nested_back() -> None:
    fields = [
        ("assignmentId", "a2"),
        ("annotatedResult.boundingBoxes", '[{"label": "Car", "left": 1}]'),
        ("annotatedResult.inputImageProperties.height", "480"),
        ("annotatedResult.inputImageProperties.width", "640"),
        ("comment", "42"),
    ]
    assignment, answer = parse_submit(fields)
    assert assignment == "a2"
    assert answer == {
        "annotatedResult": {
            "boundingBoxes": [{"label": "Car", "left": 1}],
            "inputImageProperties": {"height": 480, "width": 640},
        },
        "comment": "42",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("taskAnswers", "[{}]")], "no assignmentId"),
        ([("assignmentId", "ASSIGNMENT_ID_NOT_AVAILABLE"), ("x", "1")], "preview"),
        ([("assignmentId", "a"), ("taskAnswers", "not json")], "not JSON"),
        ([("assignmentId", "a"), ("taskAnswers", "[]")], "empty array"),
        ([("assignmentId", "a"), ("taskAnswers", "[{}]")], "holds no answer"),
        ([("assignmentId", "a"), ("taskAnswers", '"x"')], "one object"),
        ([("assignmentId", "a")], "holds no answer"),
        ([("assignmentId", "a"), ("x.", "1")], "empty segment"),
    ],
)
def test_a_submit_without_a_usable_answer_is_refused(fields, message) -> None:
    with pytest.raises(SubmitError, match=message):
        parse_submit(fields)


def test_tokens_are_bound_to_purpose_and_expire() -> None:
    signer = Signer(b"k" * 32)
    token = signer.sign("task", {"t": "x"}, expires=100)
    assert signer.verify("task", token, now=99)["t"] == "x"
    with pytest.raises(SignatureError, match="expired"):
        signer.verify("task", token, now=100)
    with pytest.raises(SignatureError, match="signature"):
        signer.verify("data", token, now=1)
    _body, _, mac = token.partition(".")
    forged = signer.sign("task", {"t": "y"}, expires=100).partition(".")[0] + "." + mac
    with pytest.raises(SignatureError):
        signer.verify("task", forged, now=1)
    with pytest.raises(SignatureError):
        Signer(b"z" * 32).verify("task", token, now=1)
