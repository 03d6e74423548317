"""Single-label classification consensus: parsing, Dawid–Skene, majority vote, skill."""

from __future__ import annotations

import random

import pytest
from gt_annotation.consensus import get_consolidator
from gt_annotation.consensus.classification import CONSOLIDATOR, dawid_skene
from gt_annotation.model import (
    AnswerError,
    ConsolidationContext,
    ObjectAnswers,
    WorkerAnswer,
    WorkerSkill,
)
from hypothesis import given, settings
from hypothesis import strategies as st

LABELS = ["Cat", "Dog", "Bird"]


def context(method: str = "dawid-skene", **kwargs: object) -> ConsolidationContext:
    return ConsolidationContext(
        task_type="IMAGE_CLASSIFICATION",
        labels=LABELS,
        label_attribute_name="animal",
        options={"method": method},
        **kwargs,  # type: ignore[arg-type]
    )


def obj(object_id: str, *answers: tuple[str, int]) -> ObjectAnswers:
    return ObjectAnswers(
        object_id,
        {"s3Uri": f"s3://b/{object_id}.jpg"},
        [WorkerAnswer(w, label, {"animal": {"label": LABELS[label]}}) for w, label in answers],
    )


# --------------------------------------------------------------------------- parse


def test_parses_the_crowd_classifier_output_a_bare_name_and_an_index() -> None:
    assert CONSOLIDATOR.parse_answer({"label": "Dog"}, LABELS) == 1
    assert CONSOLIDATOR.parse_answer("Bird", LABELS) == 2
    assert CONSOLIDATOR.parse_answer(0, LABELS) == 0


def test_keeps_names_when_the_job_has_no_label_categories() -> None:
    assert CONSOLIDATOR.parse_answer({"label": "Fish"}, []) == "Fish"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"label": "Horse"}, "'Horse' is not one of: 'Cat', 'Dog', 'Bird'"),
        (3, "outside 0–2"),
        (-1, "outside 0–2"),
        (True, "bool"),
        ({"labels": ["Cat", "Dog"]}, "no 'label'"),
        ({"other": 1}, "keys: other"),
        (None, "NoneType"),
        ([1], "list"),
    ],
)
def test_fails_when_the_answer_is_not_a_known_label(value: object, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        CONSOLIDATOR.parse_answer(value, LABELS)


def test_both_methods_resolve_to_this_module() -> None:
    assert get_consolidator("dawid-skene") is CONSOLIDATOR
    assert get_consolidator("majority-vote") is CONSOLIDATOR


def test_fails_when_the_method_is_unknown() -> None:
    with pytest.raises(ValueError, match="allowed: dawid-skene, majority-vote"):
        CONSOLIDATOR.consolidate([obj("0", ("a", 0))], context("best-guess"))


# ----------------------------------------------------------------------- consensus


def test_output_has_the_documented_shape() -> None:
    # GIVEN three workers, two agreeing
    objects = [obj("0", ("a", 1), ("b", 1), ("c", 0))]
    # WHEN consolidated
    result = CONSOLIDATOR.consolidate(objects, context())
    # THEN the label follows docs/architecture.md
    label = result.labels["0"]
    assert set(label) == {"class-id", "class-name", "confidence", "workers", "method"}
    assert label["class-id"] == 1
    assert label["class-name"] == "Dog"
    assert label["workers"] == 3
    assert label["method"] == "dawid-skene"
    assert 0.5 < label["confidence"] < 1.0


def test_confidence_is_zero_with_a_single_worker() -> None:
    result = CONSOLIDATOR.consolidate([obj("0", ("a", 2))], context())
    assert result.labels["0"]["class-name"] == "Bird"
    assert result.labels["0"]["confidence"] == 0.0
    assert result.skill_updates == {}  # a lone answer says nothing about its worker


def test_majority_vote_reports_the_vote_share() -> None:
    objects = [obj("0", ("a", 0), ("b", 0), ("c", 2), ("d", 0))]
    label = CONSOLIDATOR.consolidate(objects, context("majority-vote")).labels["0"]
    assert (label["class-name"], label["confidence"], label["method"]) == (
        "Cat",
        0.75,
        "majority-vote",
    )


def simulated(
    seed: int, n_objects: int = 300, good: int = 2, lazy: int = 3
) -> tuple[list[ObjectAnswers], dict[str, int]]:
    """Reliable workers, and lazy ones who mostly say 'Cat' whatever the truth."""
    rng = random.Random(seed)
    objects, truth = [], {}
    for i in range(n_objects):
        true = rng.randrange(3)
        answers = []
        for worker in (f"good{n + 1}" for n in range(good)):
            answers.append((worker, true if rng.random() < 0.9 else rng.randrange(3)))
        for worker in (f"lazy{n + 1}" for n in range(lazy)):
            answers.append((worker, 0 if rng.random() < 0.8 else true))
        objects.append(obj(str(i), *answers))
        truth[str(i)] = true
    return objects, truth


def accuracy(labels: dict[str, dict[str, object]], truth: dict[str, int]) -> float:
    return sum(labels[k]["class-id"] == v for k, v in truth.items()) / len(truth)


def test_dawid_skene_weights_down_workers_who_are_often_wrong() -> None:
    # GIVEN two biased workers beside three good ones
    objects, truth = simulated(7, good=3, lazy=2)
    # WHEN consolidated both ways
    ds = CONSOLIDATOR.consolidate(objects, context()).labels
    mv = CONSOLIDATOR.consolidate(objects, context("majority-vote")).labels
    # THEN Dawid–Skene learns who to trust and beats the vote
    assert accuracy(ds, truth) > 0.95
    assert accuracy(ds, truth) > accuracy(mv, truth) + 0.03


@pytest.mark.xfail(
    strict=True,
    reason="known limitation (issue 20): the one-coin prior (STRENGTH 2048) cannot leave the "
    "majority-vote start when biased workers are the majority of every object",
)
def test_dawid_skene_outvotes_a_majority_of_workers_who_answer_one_class() -> None:
    # GIVEN three biased workers outvoting two good ones
    objects, truth = simulated(7)
    # WHEN consolidated both ways
    ds = CONSOLIDATOR.consolidate(objects, context()).labels
    mv = CONSOLIDATOR.consolidate(objects, context("majority-vote")).labels
    # THEN Dawid–Skene learns who to trust, majority vote cannot
    assert accuracy(mv, truth) < 0.6
    assert accuracy(ds, truth) > 0.85


def test_skill_updates_are_the_batch_soft_counts() -> None:
    objects, _ = simulated(3, good=3, lazy=2)
    result = CONSOLIDATOR.consolidate(objects, context())
    good = result.skill_updates["good1"]
    lazy = result.skill_updates["lazy1"]
    # one unit of soft count per answer, spread over the true classes (bits below 1e-4 dropped)
    assert sum(good.confusion.values()) == pytest.approx(300.0, abs=0.05)
    assert good.scored == 300.0
    assert good.agreements / good.scored > 0.8
    assert lazy.agreements / lazy.scored < 0.6
    # lazy workers answer 'Cat' (given=0) whatever the truth
    said_cat = sum(v for (truth, given), v in lazy.confusion.items() if given == 0)
    assert said_cat > 200


#: Stored counts of a worker right 30 % of the time, wrong answers spread evenly.
UNRELIABLE = {(t, g): 30.0 if t == g else 35.0 for t in range(3) for g in range(3)}


def test_stored_skill_decides_a_small_batch() -> None:
    # GIVEN a batch of two objects where one worker contradicts two others
    objects = [
        obj("0", ("trusted", 2), ("x", 1), ("y", 1)),
        obj("1", ("trusted", 0), ("x", 0), ("y", 0)),
    ]
    # WHEN nothing is known about the workers, the two agreeing workers win
    assert CONSOLIDATOR.consolidate(objects, context()).labels["0"]["class-name"] == "Dog"
    # AND WHEN the store says 'trusted' is nearly always right and x, y often wrong
    skills = {
        "trusted": WorkerSkill("trusted", {(t, t): 300.0 for t in range(3)}),
        "x": WorkerSkill("x", UNRELIABLE),
        "y": WorkerSkill("y", UNRELIABLE),
    }
    label = CONSOLIDATOR.consolidate(objects, context(skills=skills)).labels["0"]
    # THEN the trusted worker's answer is the consensus
    assert label["class-name"] == "Bird"


def test_batches_with_persisting_skill_match_the_whole_set() -> None:
    # (With biased workers in the majority, small batches lock in their bias: see the report.)
    objects, truth = simulated(11, n_objects=400, good=3, lazy=2)
    whole = CONSOLIDATOR.consolidate(objects, context()).labels
    store: dict[str, WorkerSkill] = {}
    batched: dict[str, dict[str, object]] = {}
    for start in range(0, len(objects), 20):
        result = CONSOLIDATOR.consolidate(objects[start : start + 20], context(skills=dict(store)))
        batched.update(result.labels)
        for worker, delta in result.skill_updates.items():
            store[worker] = store[worker].add(delta) if worker in store else delta
    assert abs(accuracy(batched, truth) - accuracy(whole, truth)) <= 0.02
    # the store holds exactly one unit per answer to objects with several answers: no double counting
    assert sum(sum(s.confusion.values()) for s in store.values()) == pytest.approx(400 * 5, abs=1.0)


def test_confidence_is_not_near_one_for_everything() -> None:
    objects, truth = simulated(5, good=3, lazy=2)
    labels = CONSOLIDATOR.consolidate(objects, context()).labels
    confidences = [label["confidence"] for label in labels.values()]
    assert min(confidences) < 0.9
    wrong = [labels[k]["confidence"] for k, v in truth.items() if labels[k]["class-id"] != v]
    right = [labels[k]["confidence"] for k, v in truth.items() if labels[k]["class-id"] == v]
    assert sum(wrong) / len(wrong) < sum(right) / len(right)


def test_labels_outside_the_categories_are_kept_by_name() -> None:
    objects = [ObjectAnswers("0", {}, [WorkerAnswer("a", "Fish"), WorkerAnswer("b", "Fish")])]
    ctx = ConsolidationContext("IMAGE_CLASSIFICATION", [], "animal", {"method": "dawid-skene"})
    assert CONSOLIDATOR.consolidate(objects, ctx).labels["0"]["class-name"] == "Fish"


def test_em_converges_on_an_empty_batch() -> None:
    fit = dawid_skene([], 0, 3)
    assert fit.posteriors == []


# ------------------------------------------------------------------------ properties

answer_sets = st.lists(
    st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 2)),
        min_size=1,
        max_size=6,
        unique_by=lambda pair: pair[0],
    ),
    min_size=1,
    max_size=25,
)


def build(batch: list[list[tuple[int, int]]]) -> list[ObjectAnswers]:
    return [
        obj(str(i), *((f"w{w}", label) for w, label in answers)) for i, answers in enumerate(batch)
    ]


@settings(max_examples=60, deadline=None)
@given(batch=answer_sets, method=st.sampled_from(["dawid-skene", "majority-vote"]))
def test_every_object_gets_a_label_with_confidence_in_range(
    batch: list[list[tuple[int, int]]], method: str
) -> None:
    objects = build(batch)
    result = CONSOLIDATOR.consolidate(objects, context(method))
    assert set(result.labels) == {o.dataset_object_id for o in objects}
    for item in objects:
        label = result.labels[item.dataset_object_id]
        assert 0.0 <= label["confidence"] <= 1.0
        assert label["class-name"] == LABELS[label["class-id"]]
        assert label["workers"] == len(item.answers)
        if len(item.answers) == 1:
            assert label["confidence"] == 0.0
        # a lone answer is the label; a majority vote winner got at least one vote
        if len(item.answers) == 1 or method == "majority-vote":
            assert label["class-id"] in {a.value for a in item.answers}


@settings(max_examples=40, deadline=None)
@given(batch=answer_sets, seed=st.randoms(use_true_random=False))
def test_the_order_of_objects_does_not_matter(
    batch: list[list[tuple[int, int]]], seed: random.Random
) -> None:
    objects = build(batch)
    shuffled = objects[:]
    seed.shuffle(shuffled)
    first = CONSOLIDATOR.consolidate(objects, context()).labels
    second = CONSOLIDATOR.consolidate(shuffled, context()).labels
    for key, label in first.items():
        assert (
            second[key]["class-id"] == label["class-id"]
            or abs(second[key]["confidence"] - label["confidence"]) < 1e-6
        )
        assert second[key]["confidence"] == pytest.approx(label["confidence"], abs=1e-3)
