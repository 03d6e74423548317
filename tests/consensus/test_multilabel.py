"""Multi-label consensus: parsing, per-label binary EM with sensitivity/specificity, skill."""

from __future__ import annotations

import random

import pytest
from gt_annotation.consensus import get_consolidator
from gt_annotation.consensus.multilabel import CONSOLIDATOR
from gt_annotation.model import (
    AnswerError,
    ConsolidationContext,
    ObjectAnswers,
    WorkerAnswer,
    WorkerSkill,
)
from hypothesis import given, settings
from hypothesis import strategies as st

LABELS = ["person", "car", "tree", "sky"]


def context(**kwargs: object) -> ConsolidationContext:
    return ConsolidationContext(
        "IMAGE_MULTI_LABEL",
        LABELS,
        "tags",
        {"method": "multi-label"},
        **kwargs,  # type: ignore[arg-type]
    )


def obj(object_id: str, *answers: tuple[str, tuple[int, ...]]) -> ObjectAnswers:
    return ObjectAnswers(
        object_id,
        {"s3Uri": f"s3://b/{object_id}.jpg"},
        [WorkerAnswer(w, chosen) for w, chosen in answers],
    )


def test_parses_the_multi_select_output() -> None:
    assert CONSOLIDATOR.parse_answer({"labels": ["sky", "person", "sky"]}, LABELS) == (0, 3)
    assert CONSOLIDATOR.parse_answer({"labels": []}, LABELS) == ()
    assert CONSOLIDATOR.parse_answer(["car", 2], LABELS) == (1, 2)
    assert CONSOLIDATOR.parse_answer({"labels": ["x"]}, []) == ("x",)
    assert get_consolidator("multi-label") is CONSOLIDATOR


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"labels": ["boat"]}, "'boat' is not one of: 'person', 'car', 'tree', 'sky'"),
        ({"label": "car"}, "no 'labels'"),
        ("car", "str"),
        ({"labels": [None]}, "NoneType"),
        ({"labels": [7]}, "outside 0–3"),
        ({"labels": [True]}, "bool"),
    ],
)
def test_fails_when_the_answer_is_not_a_list_of_known_labels(value: object, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        CONSOLIDATOR.parse_answer(value, LABELS)


def test_output_has_the_documented_shape() -> None:
    objects = [obj("0", ("a", (0, 2)), ("b", (0,)), ("c", (0, 2)))]
    label = CONSOLIDATOR.consolidate(objects, context()).labels["0"]
    assert set(label) == {"class-ids", "class-map", "confidence-map", "confidence", "workers"}
    assert label["class-ids"] == [0, 2]
    assert label["class-map"] == {"0": "person", "2": "tree"}
    assert set(label["confidence-map"]) == {"0", "2"}
    assert label["confidence-map"]["0"] > label["confidence-map"]["2"] > 0.5
    assert label["confidence"] == pytest.approx(sum(label["confidence-map"].values()) / 2, abs=1e-3)
    assert label["workers"] == 3


def test_single_worker_gives_confidence_zero() -> None:
    label = CONSOLIDATOR.consolidate([obj("0", ("a", (1,)))], context()).labels["0"]
    assert label["class-ids"] == [1]
    assert label["confidence"] == 0.0
    assert label["confidence-map"] == {"1": 0.0}


def simulated(seed: int, n: int = 200) -> tuple[list[ObjectAnswers], list[set[int]]]:
    """Three careful workers, two who tick every box half the time."""
    rng = random.Random(seed)
    objects, truth = [], []
    for i in range(n):
        true = {j for j in range(4) if rng.random() < 0.3}
        answers = []
        for w in ("careful1", "careful2", "careful3"):
            answers.append((w, tuple(j for j in range(4) if (j in true) == (rng.random() < 0.9))))
        for w in ("clicker1", "clicker2"):
            answers.append((w, (0, 1, 2, 3) if rng.random() < 0.5 else tuple(sorted(true))))
        objects.append(obj(str(i), *answers))
        truth.append(true)
    return objects, truth


def test_learns_sensitivity_and_specificity() -> None:
    objects, truth = simulated(4)
    result = CONSOLIDATOR.consolidate(objects, context())
    exact = sum(set(result.labels[str(i)]["class-ids"]) == t for i, t in enumerate(truth)) / len(
        truth
    )
    assert exact > 0.85
    careful = result.skill_updates["careful1"]
    clicker = result.skill_updates["clicker1"]
    assert careful.agreements / careful.scored > clicker.agreements / clicker.scored
    # confusion keys are (2 * label + truth, given): every decision counted once
    assert sum(careful.confusion.values()) == pytest.approx(200 * 4, abs=0.1)
    assert all(0 <= row < 8 and given in (0, 1) for row, given in careful.confusion)


def test_stored_skill_is_the_prior() -> None:
    # GIVEN one object where a stored careful worker disagrees with two stored clickers
    objects = [obj("0", ("careful", (1,)), ("x", (0, 1, 2, 3)), ("y", (0, 1, 2, 3)))]
    careful = {(2 * j + t, t): 200.0 for j in range(4) for t in (0, 1)}
    clicker = {(2 * j + t, 1): 200.0 for j in range(4) for t in (0, 1)}
    skills = {
        "careful": WorkerSkill("careful", careful),
        "x": WorkerSkill("x", clicker),
        "y": WorkerSkill("y", clicker),
    }
    # WHEN consolidated with and without the stored skill
    plain = CONSOLIDATOR.consolidate(objects, context()).labels["0"]
    informed = CONSOLIDATOR.consolidate(objects, context(skills=skills)).labels["0"]
    # THEN the majority wins without history, the careful worker with it
    assert plain["class-ids"] == [0, 1, 2, 3]
    assert informed["class-ids"] == [1]


answer_sets = st.lists(
    st.lists(
        st.tuples(st.integers(0, 6), st.lists(st.integers(0, 3), max_size=4, unique=True)),
        min_size=1,
        max_size=5,
        unique_by=lambda pair: pair[0],
    ),
    min_size=1,
    max_size=15,
)


def build(batch: list[list[tuple[int, list[int]]]]) -> list[ObjectAnswers]:
    return [
        obj(str(i), *((f"w{w}", tuple(sorted(chosen))) for w, chosen in answers))
        for i, answers in enumerate(batch)
    ]


@settings(max_examples=50, deadline=None)
@given(batch=answer_sets)
def test_every_object_gets_a_label_with_confidences_in_range(
    batch: list[list[tuple[int, list[int]]]],
) -> None:
    objects = build(batch)
    result = CONSOLIDATOR.consolidate(objects, context())
    assert set(result.labels) == {o.dataset_object_id for o in objects}
    for item in objects:
        label = result.labels[item.dataset_object_id]
        assert 0.0 <= label["confidence"] <= 1.0
        assert all(0.0 <= c <= 1.0 for c in label["confidence-map"].values())
        assert label["class-map"] == {str(j): LABELS[j] for j in label["class-ids"]}
        assert label["workers"] == len(item.answers)


@settings(max_examples=30, deadline=None)
@given(batch=answer_sets, seed=st.randoms(use_true_random=False))
def test_the_order_of_objects_does_not_matter(
    batch: list[list[tuple[int, list[int]]]], seed: random.Random
) -> None:
    objects = build(batch)
    shuffled = objects[:]
    seed.shuffle(shuffled)
    first = CONSOLIDATOR.consolidate(objects, context()).labels
    second = CONSOLIDATOR.consolidate(shuffled, context()).labels
    for key, label in first.items():
        assert second[key]["confidence"] == pytest.approx(label["confidence"], abs=1e-3)
