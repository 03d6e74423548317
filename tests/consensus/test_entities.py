"""Named-entity consensus: crowd-entity-annotation spans clustered by Jaccard overlap."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from gt_annotation.consensus import get_consolidator
from gt_annotation.consensus.entities import CONSOLIDATOR, Span, mode_or_median
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

LABELS = ["PER", "ORG", "LOC"]
TEXT = "Ada Lovelace worked with Charles Babbage in London."
#        0   4        13   18   23       32      40 43     50


def entity(label: Any, start: Any, end: Any) -> dict[str, Any]:
    return {"endOffset": end, "label": label, "startOffset": start}


def answer(*entities: Any) -> dict[str, Any]:
    """A crowd-entity-annotation element value, as Ground Truth sends it."""
    return {"entities": list(entities)}


def objects_of(*per_object: dict[str, dict[str, Any]]) -> list[ObjectAnswers]:
    return [
        ObjectAnswers(
            str(index),
            {"content": TEXT},
            [
                WorkerAnswer(worker, CONSOLIDATOR.parse_answer(value, LABELS), value)
                for worker, value in answers.items()
            ],
        )
        for index, answers in enumerate(per_object)
    ]


def run(
    *per_object: dict[str, dict[str, Any]],
    skills: dict[str, WorkerSkill] | None = None,
    **options: Any,
) -> Any:
    context = ConsolidationContext(
        task_type="NAMED_ENTITY",
        labels=LABELS,
        label_attribute_name="people",
        options={"method": "named-entity", **options},
        skills=skills or {},
    )
    return CONSOLIDATOR.consolidate(objects_of(*per_object), context)


def spans_of(label: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [
        (e["label"], e["startOffset"], e["endOffset"]) for e in label["annotations"]["entities"]
    ]


# -- parsing ---------------------------------------------------------------------------


def test_parses_the_real_element_output() -> None:
    parsed = CONSOLIDATOR.parse_answer(answer(entity("PER", 0, 12), entity("LOC", 43, 49)), LABELS)
    assert parsed.spans == (Span("PER", 0, 12), Span("LOC", 43, 49))
    assert get_consolidator("named-entity") is CONSOLIDATOR


def test_parses_an_answer_under_its_element_name_and_any_label_without_categories() -> None:
    parsed = CONSOLIDATOR.parse_answer({"crowd-entity-annotation": answer(entity("X", 1, 2))}, [])
    assert parsed.spans == (Span("X", 1, 2),)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("PER", r"named-entity answer is a str, expected an object with 'entities'"),
        ({"entities": None}, r"no 'entities' list \(got null\)"),
        (answer(entity("PER", 5, 5)), r"entity 0 ends at 5, not after its start 5"),
        (answer(entity("PER", -1, 5)), r"entity 0 startOffset is -1, expected 0 or more"),
        (
            answer(entity("PER", 1.5, 5)),
            r"entity 0 startOffset is a float, expected a character offset",
        ),
        (answer(entity("PER", True, 5)), r"entity 0 startOffset is a bool"),
        (
            answer(entity("PER", 0, 3), entity("DATE", 4, 6)),
            r"entity 1 label 'DATE' is not one of: PER, ORG, LOC",
        ),
        (answer({"label": "PER", "startOffset": 0}), r"entity 0 has no 'endOffset'"),
        (answer(["PER", 0, 3]), r"entity 0 is a list, expected an object"),
    ],
)
def test_fails_when_an_answer_is_malformed(value: Any, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        CONSOLIDATOR.parse_answer(value, LABELS)


def test_fails_when_the_jaccard_threshold_option_is_out_of_range() -> None:
    with pytest.raises(
        ValueError, match=r"jaccardThreshold is 1.5; allowed: a number above 0 and at most 1"
    ):
        run({"a": answer()}, jaccardThreshold=1.5)


# -- mode and median --------------------------------------------------------------------


def test_mode_or_median() -> None:
    assert mode_or_median([(3, 1.0), (3, 1.0), (5, 1.0)]) == 3  # the mode
    assert mode_or_median([(3, 1.0), (5, 1.0), (7, 1.0)]) == 5  # no mode: the median
    assert mode_or_median([(3, 1.0), (3, 1.0), (5, 1.0), (5, 1.0), (9, 1.0)]) == 5  # tied modes
    assert mode_or_median([(3, 1.0), (3, 1.0), (5, 2.0), (5, 2.0)]) == 5  # weight breaks the tie
    assert mode_or_median([(3, 0.1), (5, 0.1), (7, 5.0)]) == 7  # weighted median
    assert mode_or_median([(4, 1.0)]) == 4


# -- consensus -------------------------------------------------------------------------


def test_three_annotators_give_mode_boundaries_and_voted_labels_in_the_built_in_format() -> None:
    result = run(
        {
            "w1": answer(entity("PER", 0, 12), entity("PER", 25, 40), entity("LOC", 44, 50)),
            "w2": answer(entity("PER", 0, 12), entity("PER", 33, 40), entity("LOC", 44, 50)),
            "w3": answer(entity("PER", 0, 3), entity("ORG", 25, 40), entity("LOC", 44, 50)),
        }
    )
    label = result.labels["0"]
    assert label["annotations"]["labels"] == [{"label": "PER"}, {"label": "ORG"}, {"label": "LOC"}]
    assert label["workers"] == 3
    # "Ada" (0-3) overlaps "Ada Lovelace" by 3/12 < 0.5: a minority of one, dropped.
    # "Babbage" (33-40) overlaps "Charles Babbage" by 7/15 < 0.5: dropped too; the two
    # workers who marked 25-40 split PER/ORG, and the tie goes to PER, listed first.
    assert spans_of(label) == [("PER", 0, 12), ("PER", 25, 40), ("LOC", 44, 50)]
    london = label["annotations"]["entities"][2]
    assert london["confidence"] == 1.0
    babbage = label["annotations"]["entities"][1]
    assert babbage["confidence"] == pytest.approx(1 / 3, abs=1e-4)  # a third of the weight says PER
    assert 0.0 < label["confidence"] < 1.0
    w3 = result.skill_updates["w3"]
    # 3 spans marked + "Ada Lovelace" missed; only London agreed (ORG lost the vote)
    assert (w3.agreements, w3.scored) == (1, 4)
    w1 = result.skill_updates["w1"]
    assert (w1.agreements, w1.scored) == (3, 3)


def test_no_entities_from_anyone_is_a_confident_empty_label() -> None:
    result = run({"w1": answer(), "w2": answer()})
    label = result.labels["0"]
    assert label["annotations"]["entities"] == []
    assert label["confidence"] == 1.0
    assert all((s.agreements, s.scored) == (1, 1) for s in result.skill_updates.values())


def test_one_annotator_keeps_everything_with_zero_confidence() -> None:
    result = run({"w1": answer(entity("PER", 0, 12), entity("LOC", 44, 50))})
    label = result.labels["0"]
    assert spans_of(label) == [("PER", 0, 12), ("LOC", 44, 50)]
    assert label["confidence"] == 0.0
    assert all(e["confidence"] == 0.0 for e in label["annotations"]["entities"])
    assert result.skill_updates == {}


def test_a_tie_between_two_annotators_keeps_nothing() -> None:
    result = run({"w1": answer(entity("PER", 0, 12)), "w2": answer()})
    assert result.labels["0"]["annotations"]["entities"] == []


def test_no_mode_means_the_median_boundary() -> None:
    result = run(
        {
            "w1": answer(entity("PER", 0, 10)),
            "w2": answer(entity("PER", 0, 12)),
            "w3": answer(entity("PER", 1, 11)),
        }
    )
    assert spans_of(result.labels["0"]) == [("PER", 0, 11)]


def test_a_label_tie_goes_to_the_label_listed_first() -> None:
    result = run({"w1": answer(entity("LOC", 44, 50)), "w2": answer(entity("ORG", 44, 50))})
    assert spans_of(result.labels["0"]) == [("ORG", 44, 50)]


def test_a_spammer_weighted_down_by_stored_skill_changes_the_outcome() -> None:
    scene = {
        "careful": answer(entity("PER", 0, 12)),
        "spam1": answer(entity("ORG", 20, 30)),
        "spam2": answer(entity("LOC", 5, 9)),
    }
    assert run(scene).labels["0"]["annotations"]["entities"] == []
    skills = {
        "careful": WorkerSkill("careful", agreements=95.0, scored=100.0),
        "spam1": WorkerSkill("spam1", agreements=1.0, scored=60.0),
        "spam2": WorkerSkill("spam2", agreements=1.0, scored=60.0),
    }
    assert spans_of(run(scene, skills=skills).labels["0"]) == [("PER", 0, 12)]


def test_a_label_vote_is_weighted_by_skill() -> None:
    scene = {
        "expert": answer(entity("ORG", 25, 40)),
        "novice1": answer(entity("PER", 25, 40)),
        "novice2": answer(entity("PER", 25, 40)),
    }
    assert spans_of(run(scene).labels["0"]) == [("PER", 25, 40)]
    skills = {
        "expert": WorkerSkill("expert", agreements=200.0, scored=200.0),
        "novice1": WorkerSkill("novice1", agreements=10.0, scored=60.0),
        "novice2": WorkerSkill("novice2", agreements=10.0, scored=60.0),
    }
    assert spans_of(run(scene, skills=skills).labels["0"]) == [("ORG", 25, 40)]


def test_the_threshold_option_decides_what_matches() -> None:
    scene = {"w1": answer(entity("PER", 0, 12)), "w2": answer(entity("PER", 4, 12))}  # 8/12
    assert spans_of(run(scene).labels["0"]) == [("PER", 0, 12)]
    assert run(scene, jaccardThreshold=0.9).labels["0"]["annotations"]["entities"] == []


def test_a_real_payload_is_consolidated_end_to_end() -> None:
    def annotation(worker: str, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "workerId": worker,
            "annotationData": {"content": json.dumps({"crowd-entity-annotation": value})},
        }

    payload = [
        {
            "datasetObjectId": "7",
            "dataObject": {"content": TEXT},
            "annotations": [
                annotation("private.us-east-1.a", answer(entity("PER", 0, 12))),
                annotation(
                    "private.us-east-1.b", answer(entity("PER", 0, 12), entity("LOC", 44, 50))
                ),
                annotation(
                    "private.us-east-1.c", answer(entity("PER", 0, 12), entity("LOC", 44, 50))
                ),
            ],
        }
    ]
    response, _, rejections = consolidate_batch(
        payload,
        Settings(
            task_type="NAMED_ENTITY", answer_name="crowd-entity-annotation", method="named-entity"
        ),
        labels=LABELS,
        label_attribute_name="people",
        scope="job#people",
    )
    assert rejections == []
    content = response[0]["consolidatedAnnotation"]["content"]
    assert [
        (e["label"], e["startOffset"], e["endOffset"])
        for e in content["people"]["annotations"]["entities"]
    ] == [("PER", 0, 12), ("LOC", 44, 50)]
    assert content["people-metadata"]["workers"] == 3


# -- properties -------------------------------------------------------------------------


@st.composite
def scenes(draw: st.DrawFn) -> list[dict[str, dict[str, Any]]]:
    workers = draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=5, unique=True))
    per_object = []
    for _ in range(draw(st.integers(1, 3))):
        answers = {}
        for worker in workers:
            spans = []
            for _ in range(draw(st.integers(0, 4))):
                start = draw(st.integers(0, 60))
                spans.append(
                    entity(draw(st.sampled_from(LABELS)), start, start + draw(st.integers(1, 15)))
                )
            answers[f"worker-{worker}"] = answer(*spans)
        per_object.append(answers)
    return per_object


@settings(max_examples=80, deadline=None)
@given(per_object=scenes(), seed=st.integers(0, 1000), threshold=st.floats(0.05, 1.0))
def test_any_valid_answers_give_a_label_per_object_and_are_order_free(
    per_object: list[dict[str, dict[str, Any]]], seed: int, threshold: float
) -> None:
    result = run(*per_object, jaccardThreshold=threshold)
    assert set(result.labels) == {str(i) for i in range(len(per_object))}
    for index, answers in enumerate(per_object):
        label = result.labels[str(index)]
        assert label["workers"] == len(answers)
        assert 0.0 <= label["confidence"] <= 1.0
        for e in label["annotations"]["entities"]:
            assert 0 <= e["startOffset"] < e["endOffset"] <= 75
            assert e["label"] in LABELS
            assert 0.0 <= e["confidence"] <= 1.0
    for skill in result.skill_updates.values():
        assert 0.0 <= skill.agreements <= skill.scored
    rng = random.Random(seed)
    shuffled = []
    for answers in per_object:
        items = list(answers.items())
        rng.shuffle(items)
        shuffled.append(dict(items))
    assert run(*shuffled, jaccardThreshold=threshold).labels == result.labels


@settings(max_examples=150, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["entities", "label", "startOffset", "endOffset"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_arbitrary_json_either_parses_or_is_refused_with_a_reason(value: Any) -> None:
    try:
        parsed = CONSOLIDATOR.parse_answer(value, LABELS)
    except AnswerError as error:
        assert str(error)
    else:
        assert all(s.label in LABELS and 0 <= s.start < s.end for s in parsed.spans)
