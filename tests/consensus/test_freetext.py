"""Free-text consensus: the weighted medoid of crowd-text-area / crowd-input answers."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from gt_annotation.consensus import get_consolidator
from gt_annotation.consensus.freetext import CONSOLIDATOR, normalise, similarity
from gt_annotation.model import (
    AnswerError,
    ConsolidationContext,
    ObjectAnswers,
    WorkerAnswer,
    WorkerSkill,
)
from gt_annotation.post_annotation import Settings, consolidate_batch
from hypothesis import given, settings
from hypothesis import strategies as st


def objects_of(*per_object: dict[str, Any]) -> list[ObjectAnswers]:
    return [
        ObjectAnswers(
            str(index),
            {"s3Uri": f"s3://bucket/receipts/{index}.png"},
            [
                WorkerAnswer(worker, CONSOLIDATOR.parse_answer(value, []), value)
                for worker, value in answers.items()
            ],
        )
        for index, answers in enumerate(per_object)
    ]


def run(*per_object: dict[str, Any], skills: dict[str, WorkerSkill] | None = None) -> Any:
    context = ConsolidationContext(
        task_type="CUSTOM",
        labels=[],
        label_attribute_name="transcription",
        options={"method": "free-text"},
        skills=skills or {},
    )
    return CONSOLIDATOR.consolidate(objects_of(*per_object), context)


# -- parsing and normalisation ------------------------------------------------------------


def test_parses_a_string_or_an_object_holding_one_string() -> None:
    assert CONSOLIDATOR.parse_answer("The cat.", []).text == "The cat."
    assert CONSOLIDATOR.parse_answer({"transcription": "Total: $12"}, []).normalised == "total 12"
    assert get_consolidator("free-text") is CONSOLIDATOR


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, r"free-text answer is a int, expected a string"),
        (None, r"free-text answer is a null, expected a string"),
        (
            {"a": "x", "b": "y"},
            r"free-text answer is an object with 2 keys \(a, b\); expected a string",
        ),
        ({"a": ["x"]}, r"free-text answer is a list, expected a string"),
        ("x" * 200_001, r"free-text answer has 200001 characters; at most 200000 allowed"),
    ],
)
def test_fails_when_an_answer_is_not_text(value: Any, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        CONSOLIDATOR.parse_answer(value, [])


def test_normalisation_ignores_case_width_punctuation_and_spacing() -> None:
    assert normalise("  The  CAT,\tsat!  ") == "the cat sat"
    assert normalise("ＡＢＣ") == "abc"  # full-width letters
    assert normalise("...") == ""


def test_similarity_is_one_for_equal_texts_and_falls_with_edits() -> None:
    assert similarity("the cat", "the cat") == 1.0
    assert similarity("", "") == 1.0
    assert similarity("", "cat") == 0.0
    assert 0.8 < similarity("the cat sat", "the cat sat down") < 1.0
    assert similarity("the cat sat", "a dog ran") < 0.5
    long_a = " ".join(["word"] * 1500)
    long_b = " ".join(["word"] * 1499 + ["other"])
    assert 0.99 < similarity(long_a, long_b) < 1.0  # word-level for long texts


# -- consensus -------------------------------------------------------------------------


def test_the_answer_closest_to_the_others_wins_as_typed() -> None:
    result = run(
        {
            "w1": "Invoice 2024-117, total 310.00 EUR",
            "w2": "invoice 2024-117 total 310.00 eur",
            "w3": "Invoice 2024-171, total 310.00 EUR",
            "w4": "no idea",
        }
    )
    label = result.labels["0"]
    assert label["text"] in (
        "Invoice 2024-117, total 310.00 EUR",
        "invoice 2024-117 total 310.00 eur",
    )
    assert label["workers"] == 4
    assert 0.5 < label["confidence"] < 1.0
    updates = result.skill_updates
    assert updates["w4"].agreements < 0.5 < updates["w3"].agreements < updates["w2"].agreements
    assert all(s.scored == 1.0 for s in updates.values())


def test_unanimous_answers_have_full_confidence() -> None:
    label = run({"w1": "Stop", "w2": "stop.", "w3": " STOP "}).labels["0"]
    assert label["confidence"] == 1.0
    assert label["text"] in ("Stop", "stop.", " STOP ")


def test_one_worker_gives_their_text_with_zero_confidence_and_no_skill_evidence() -> None:
    result = run({"w1": "hello"})
    assert result.labels["0"] == {"text": "hello", "confidence": 0.0, "workers": 1}
    assert result.skill_updates == {}


def test_a_tie_goes_to_the_more_reliable_worker_then_to_the_text_sorting_first() -> None:
    assert run({"w1": "dog", "w2": "cat"}).labels["0"]["text"] == "cat"
    skills = {"w1": WorkerSkill("w1", agreements=50.0, scored=50.0)}
    assert run({"w1": "dog", "w2": "cat"}, skills=skills).labels["0"]["text"] == "dog"


def test_a_spammer_weighted_down_by_stored_skill_changes_the_outcome() -> None:
    scene = {"careful": "Main Street 12", "spam1": "asdf", "spam2": "asdf"}
    assert run(scene).labels["0"]["text"] == "asdf"
    skills = {
        "careful": WorkerSkill("careful", agreements=95.0, scored=100.0),
        "spam1": WorkerSkill("spam1", agreements=1.0, scored=60.0),
        "spam2": WorkerSkill("spam2", agreements=1.0, scored=60.0),
    }
    assert run(scene, skills=skills).labels["0"]["text"] == "Main Street 12"


def test_corrupt_stored_counts_do_not_break_the_vote() -> None:
    skills = {"w1": WorkerSkill("w1", agreements=-5.0, scored=0.0)}
    label = run({"w1": "abc", "w2": "abd"}, skills=skills).labels["0"]
    assert label["text"] == "abd"
    assert 0.0 <= label["confidence"] <= 1.0


def test_empty_answers_are_answers() -> None:
    label = run({"w1": "", "w2": "", "w3": "something"}).labels["0"]
    assert label["text"] == ""
    assert label["confidence"] == pytest.approx(0.5, abs=1e-4)


def test_a_real_payload_is_consolidated_end_to_end() -> None:
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://bucket/receipts/0.png"},
            "annotations": [
                {"workerId": w, "annotationData": {"content": json.dumps({"total": text})}}
                for w, text in (("a", "12.50"), ("b", "12.50"), ("c", "12,50"))
            ],
        }
    ]
    response, _, rejections = consolidate_batch(
        payload,
        Settings(task_type="CUSTOM", answer_name="total", method="free-text"),
        labels=None,
        label_attribute_name="total",
        scope="job#receipts",
    )
    assert rejections == []
    content = response[0]["consolidatedAnnotation"]["content"]
    assert content["total"] == "12.50"
    assert content["total-metadata"]["workers"] == 3


# -- properties -------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    per_object=st.lists(
        st.dictionaries(st.sampled_from("abcdef"), st.text(max_size=40), min_size=1, max_size=5),
        min_size=1,
        max_size=3,
    ),
    weights=st.dictionaries(
        st.sampled_from("abcdef"), st.tuples(st.floats(0, 50), st.floats(0, 50)), max_size=3
    ),
    seed=st.integers(0, 1000),
)
def test_any_texts_give_one_of_them_per_object_and_are_order_free(
    per_object: list[dict[str, str]], weights: dict[str, tuple[float, float]], seed: int
) -> None:
    skills = {w: WorkerSkill(w, agreements=a, scored=a + b) for w, (a, b) in weights.items()}
    result = run(*per_object, skills=skills)
    for index, answers in enumerate(per_object):
        label = result.labels[str(index)]
        assert label["text"] in answers.values()
        assert label["workers"] == len(answers)
        assert 0.0 <= label["confidence"] <= 1.0
        if len(answers) == 1:
            assert label["confidence"] == 0.0
    for skill in result.skill_updates.values():
        assert 0.0 <= skill.agreements <= skill.scored
    rng = random.Random(seed)
    shuffled = []
    for answers in per_object:
        items = list(answers.items())
        rng.shuffle(items)
        shuffled.append(dict(items))
    assert run(*shuffled, skills=skills).labels == result.labels


@settings(max_examples=100, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_arbitrary_json_either_parses_or_is_refused_with_a_reason(value: Any) -> None:
    try:
        parsed = CONSOLIDATOR.parse_answer(value, [])
    except AnswerError as error:
        assert str(error)
    else:
        assert isinstance(parsed.text, str)
        assert parsed.normalised == normalise(parsed.text)
