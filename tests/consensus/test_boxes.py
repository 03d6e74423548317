"""Bounding-box consensus: parsing crowd-bounding-box output, IoU matching, weighted majority."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from gt_annotation.consensus import get_consolidator
from gt_annotation.consensus.boxes import CONSOLIDATOR, Box, cluster_pairs, match_clusters
from gt_annotation.model import (
    AnswerError,
    ConsolidationContext,
    ObjectAnswers,
    WorkerAnswer,
    WorkerSkill,
)
from gt_annotation.post_annotation import Settings, consolidate_batch
from gt_annotation.skill import MemorySkillStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LABELS = ["Car", "Person"]
SIZE = {"height": 960, "width": 1280}


def box(label: Any, left: Any, top: Any, width: Any, height: Any) -> dict[str, Any]:
    return {"height": height, "label": label, "left": left, "top": top, "width": width}


def answer(*boxes: Any, size: dict[str, Any] | None = None) -> dict[str, Any]:
    """A crowd-bounding-box element value, as Ground Truth sends it."""
    return {"boundingBoxes": list(boxes), "inputImageProperties": size or SIZE}


def objects_of(*per_object: dict[str, dict[str, Any]]) -> list[ObjectAnswers]:
    return [
        ObjectAnswers(
            str(index),
            {"s3Uri": f"s3://bucket/images/{index}.jpg"},
            [
                WorkerAnswer(worker, CONSOLIDATOR.parse_answer(value, LABELS), value)
                for worker, value in answers.items()
            ],
        )
        for index, answers in enumerate(per_object)
    ]


def context(skills: dict[str, WorkerSkill] | None = None, **options: Any) -> ConsolidationContext:
    return ConsolidationContext(
        task_type="BOUNDING_BOX",
        labels=LABELS,
        label_attribute_name="vehicles",
        options={"method": "bounding-box", **options},
        skills=skills or {},
    )


def run(*per_object: dict[str, dict[str, Any]], **kwargs: Any) -> Any:
    return CONSOLIDATOR.consolidate(objects_of(*per_object), context(**kwargs))


def spammer_history(worker: str) -> WorkerSkill:
    return WorkerSkill(worker, agreements=1.0, scored=60.0)


def expert_history(worker: str) -> WorkerSkill:
    return WorkerSkill(worker, agreements=95.0, scored=100.0)


# -- parsing ---------------------------------------------------------------------------


def test_parses_the_real_element_output_into_corners() -> None:
    # GIVEN the crowd-bounding-box value of one worker (pixels)
    value = answer(box("Car", 10, 20, 100, 50), box("Person", 300, 40, 30, 90))
    # WHEN it is parsed
    parsed = CONSOLIDATOR.parse_answer(value, LABELS)
    # THEN every box becomes label + corners and the image size is kept
    assert parsed.boxes == (Box("Car", 10, 20, 110, 70), Box("Person", 300, 40, 330, 130))
    assert parsed.image_size == (1280, 960)


def test_method_name_loads_this_consolidator() -> None:
    assert get_consolidator("bounding-box") is CONSOLIDATOR


def test_parses_an_answer_still_under_its_element_name_and_without_boxes() -> None:
    parsed = CONSOLIDATOR.parse_answer({"annotatedResult": answer()}, LABELS)
    assert parsed.boxes == ()
    assert parsed.image_size == (1280, 960)


def test_clips_boxes_that_stick_out_of_the_image() -> None:
    parsed = CONSOLIDATOR.parse_answer(
        answer(box("Car", -5, 900, 50, 100), size={"width": 640, "height": 960}), LABELS
    )
    assert parsed.boxes == (Box("Car", 0, 900, 45, 960),)


def test_accepts_any_label_when_the_job_has_no_label_categories_and_indexes_when_it_has() -> None:
    assert CONSOLIDATOR.parse_answer(answer(box("Truck", 1, 1, 5, 5)), []).boxes[0].label == "Truck"
    assert CONSOLIDATOR.parse_answer(answer(box(1, 1, 1, 5, 5)), LABELS).boxes[0].label == "Person"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], r"bounding-box answer is a list, expected an object with 'boundingBoxes'"),
        ({"boundingBoxes": "none"}, r"no 'boundingBoxes' list \(got str\)"),
        (answer(box("Car", 1, 1, 0, 5)), r"box 0 width is 0, expected more than 0 pixels"),
        (answer(box("Car", 1, 1, 5, -3)), r"box 0 height is -3, expected more than 0 pixels"),
        (answer(box("Car", "1", 1, 5, 5)), r"box 0 left is a str, expected a number of pixels"),
        (answer(box("Car", 1, True, 5, 5)), r"box 0 top is a bool, expected a number of pixels"),
        (
            answer(box("Car", 1, 1, float("nan"), 5)),
            r"box 0 width is nan, expected a finite number",
        ),
        (
            answer(box("Car", 1, 1, 5, 5), box("Truck", 1, 1, 5, 5)),
            r"box 1 label 'Truck' is not one of: Car, Person",
        ),
        (answer({"label": "Car", "left": 1, "top": 1, "width": 5}), r"box 0 has no 'height'"),
        (answer("Car"), r"box 0 is a str, expected an object"),
        (answer(box("Car", 2000, 1, 5, 5)), r"box 0 lies outside the image"),
        (
            answer(size={"width": 0, "height": 5}),
            r"inputImageProperties.width is 0; expected a whole number",
        ),
        (answer(size={"width": 10.5, "height": 5}), r"inputImageProperties.width is 10.5"),
    ],
)
def test_fails_when_an_answer_is_malformed(value: Any, message: str) -> None:
    with pytest.raises(AnswerError, match=message):
        CONSOLIDATOR.parse_answer(value, LABELS)


def test_fails_when_the_iou_threshold_option_is_out_of_range() -> None:
    objects = objects_of({"a": answer()})
    with pytest.raises(
        ValueError, match=r"iouThreshold is 0; allowed: a number above 0 and at most 1"
    ):
        CONSOLIDATOR.consolidate(objects, context(iouThreshold=0))


# -- consensus -------------------------------------------------------------------------


def test_three_workers_agreeing_give_averaged_boxes_in_the_built_in_format() -> None:
    # GIVEN three workers who drew the same car and person a few pixels apart
    result = run(
        {
            "w1": answer(box("Car", 100, 200, 300, 150), box("Person", 600, 100, 80, 200)),
            "w2": answer(box("Car", 104, 196, 296, 156), box("Person", 603, 98, 80, 204)),
            "w3": answer(box("Person", 606, 102, 77, 199), box("Car", 99, 201, 304, 150)),
        }
    )
    label = result.labels["0"]
    # THEN each object is one box whose corners are the mean of the workers' corners
    assert label["image_size"] == [{"width": 1280, "height": 960, "depth": 3}]
    assert label["class-map"] == {"0": "Car", "1": "Person"}
    assert label["workers"] == 3
    car, person = label["annotations"]
    assert (car["class_id"], car["left"], car["top"]) == (0, 101, 199)
    assert (car["width"], car["height"]) == (
        round((400 + 400 + 403) / 3) - 101,
        round((350 + 352 + 351) / 3) - 199,
    )
    assert (
        person["class_id"],
        person["left"],
        person["top"],
        person["width"],
        person["height"],
    ) == (
        1,
        603,
        100,
        round((680 + 683 + 683) / 3) - 603,
        round((300 + 302 + 301) / 3) - 100,
    )
    # AND near-identical boxes are confident, and so is the object
    assert 0.9 < car["confidence"] <= 1.0
    assert 0.9 < label["confidence"] <= 1.0
    # AND every worker agreed on both boxes
    for worker in ("w1", "w2", "w3"):
        assert (result.skill_updates[worker].agreements, result.skill_updates[worker].scored) == (
            2,
            2,
        )


def test_a_box_drawn_by_a_minority_is_dropped_and_counted_against_its_worker() -> None:
    result = run(
        {
            "w1": answer(box("Car", 100, 100, 200, 100)),
            "w2": answer(box("Car", 102, 98, 200, 104), box("Person", 800, 500, 50, 120)),
            "w3": answer(box("Car", 98, 101, 203, 99)),
        }
    )
    label = result.labels["0"]
    assert [a["class_id"] for a in label["annotations"]] == [0]
    # the dropped person was a decision with 2/3 of the weight behind it
    assert label["confidence"] == pytest.approx(
        (label["annotations"][0]["confidence"] + 2 / 3) / 2, abs=1e-4
    )
    assert (result.skill_updates["w2"].agreements, result.skill_updates["w2"].scored) == (1, 2)
    assert (result.skill_updates["w1"].agreements, result.skill_updates["w1"].scored) == (1, 1)


def test_a_box_missed_by_one_worker_is_kept_and_the_miss_is_scored() -> None:
    result = run(
        {
            "w1": answer(box("Car", 100, 100, 200, 100), box("Person", 800, 500, 50, 120)),
            "w2": answer(box("Car", 102, 98, 200, 104), box("Person", 801, 502, 49, 118)),
            "w3": answer(box("Car", 98, 101, 203, 99)),
        }
    )
    assert [a["class_id"] for a in result.labels["0"]["annotations"]] == [0, 1]
    person = result.labels["0"]["annotations"][1]
    assert person["confidence"] < 2 / 3 + 1e-9  # two thirds of the weight drew it
    assert (result.skill_updates["w3"].agreements, result.skill_updates["w3"].scored) == (1, 2)


def test_nobody_drawing_anything_is_a_confident_empty_label() -> None:
    result = run({"w1": answer(), "w2": answer(), "w3": answer()})
    assert result.labels["0"]["annotations"] == []
    assert result.labels["0"]["confidence"] == 1.0
    assert all((s.agreements, s.scored) == (1, 1) for s in result.skill_updates.values())


def test_one_worker_keeps_every_box_with_zero_confidence_and_no_skill_evidence() -> None:
    result = run({"w1": answer(box("Car", 10, 10, 20, 20), box("Car", 500, 500, 40, 40))})
    label = result.labels["0"]
    assert len(label["annotations"]) == 2
    assert label["confidence"] == 0.0
    assert all(a["confidence"] == 0.0 for a in label["annotations"])
    assert label["workers"] == 1
    assert result.skill_updates == {}


def test_two_equally_weighted_workers_who_disagree_is_a_tie_and_no_box_is_kept() -> None:
    result = run({"w1": answer(box("Car", 10, 10, 200, 200)), "w2": answer()})
    assert result.labels["0"]["annotations"] == []
    assert result.labels["0"]["confidence"] == 0.5


def test_a_spammer_weighted_down_by_stored_skill_changes_the_outcome() -> None:
    # GIVEN one careful worker who drew the car and two who drew random boxes elsewhere
    scene = {
        "careful": answer(box("Car", 400, 300, 200, 120)),
        "spam1": answer(box("Car", 20, 700, 90, 60), box("Person", 1000, 50, 100, 100)),
        "spam2": answer(box("Person", 900, 800, 60, 60)),
    }
    # WHEN nothing is known about them, the car is a minority of one and is dropped
    assert run(scene).labels["0"]["annotations"] == []
    # WHEN the stored skill says who is reliable
    skills = {
        "careful": expert_history("careful"),
        "spam1": spammer_history("spam1"),
        "spam2": spammer_history("spam2"),
    }
    label = run(scene, skills=skills).labels["0"]
    # THEN the careful worker's car is the consensus and the random boxes are not
    assert [
        (a["class_id"], a["left"], a["top"], a["width"], a["height"]) for a in label["annotations"]
    ] == [(0, 400, 300, 200, 120)]


def test_stored_skill_pulls_the_average_towards_the_reliable_worker() -> None:
    scene = {
        "expert": answer(box("Car", 100, 100, 100, 100)),
        "sloppy": answer(box("Car", 130, 100, 100, 100)),
    }
    even = run(scene).labels["0"]["annotations"][0]
    weighted = run(
        scene,
        skills={
            "expert": expert_history("expert"),
            "sloppy": WorkerSkill("sloppy", agreements=30, scored=60),
        },
    ).labels["0"]["annotations"][0]
    assert even["left"] == 115
    assert 100 <= weighted["left"] < 115


def test_corrupt_stored_counts_neither_silence_nor_crash_the_consensus() -> None:
    skills = {
        "w1": WorkerSkill("w1", agreements=-10.0, scored=0.0),  # reliability below zero
        "w2": WorkerSkill("w2", agreements=500.0, scored=3.0),  # reliability above one
    }
    alone = run({"w1": answer(box("Car", 10, 10, 50, 50))}, skills=skills).labels["0"]
    assert [a["left"] for a in alone["annotations"]] == [10]
    pair = run(
        {"w1": answer(box("Car", 10, 10, 50, 50)), "w2": answer(box("Car", 12, 10, 50, 50))},
        skills=skills,
    ).labels["0"]
    assert 0.0 <= pair["annotations"][0]["confidence"] <= 1.0


def test_one_worker_cannot_back_a_box_twice() -> None:
    # w1 drew the same car twice; w2 drew it once; w3 nothing
    result = run(
        {
            "w1": answer(box("Car", 100, 100, 200, 100), box("Car", 101, 100, 200, 100)),
            "w2": answer(box("Car", 100, 101, 200, 100)),
            "w3": answer(),
        }
    )
    assert len(result.labels["0"]["annotations"]) == 1
    assert (result.skill_updates["w1"].agreements, result.skill_updates["w1"].scored) == (1, 2)


def test_boxes_of_different_labels_are_never_matched() -> None:
    result = run(
        {
            "w1": answer(box("Car", 100, 100, 200, 100)),
            "w2": answer(box("Person", 100, 100, 200, 100)),
            "w3": answer(box("Person", 100, 100, 200, 100)),
        }
    )
    assert [a["class_id"] for a in result.labels["0"]["annotations"]] == [1]


def test_a_chain_of_loose_overlaps_is_not_one_cluster() -> None:
    # a-b and b-c overlap by IoU >= 0.5, a-c does not: complete linkage keeps them apart
    a = box("Car", 0, 0, 100, 100)
    b = box("Car", 30, 0, 100, 100)
    c = box("Car", 60, 0, 100, 100)
    result = run({"wa": answer(a), "wb": answer(b), "wc": answer(c)})
    # b pairs with a (first best edge, ties by order) or c; either way one box of two workers
    annotations = result.labels["0"]["annotations"]
    assert len(annotations) == 1
    assert annotations[0]["left"] in (15, 45)


def test_the_iou_threshold_option_decides_what_matches() -> None:
    scene = {
        "w1": answer(box("Car", 100, 100, 100, 100)),
        "w2": answer(box("Car", 120, 100, 100, 100)),  # IoU 80/120 = 0.67
    }
    assert len(run(scene).labels["0"]["annotations"]) == 1
    assert run(scene, iouThreshold=0.8).labels["0"]["annotations"] == []


def test_consolidated_box_is_rounded_to_pixels_inside_the_image() -> None:
    size = {"width": 100, "height": 50}
    result = run(
        {
            "w1": answer(box("Car", 99.2, 49.4, 0.8, 0.6), size=size),
            "w2": answer(box("Car", 99.3, 49.3, 0.7, 0.7), size=size),
        }
    )
    (only,) = result.labels["0"]["annotations"]
    assert (only["left"], only["top"], only["width"], only["height"]) == (99, 49, 1, 1)
    assert result.labels["0"]["image_size"] == [{"width": 100, "height": 50, "depth": 3}]


def test_missing_image_size_leaves_image_size_empty() -> None:
    value = {"boundingBoxes": [box("Car", 1, 1, 10, 10)]}
    result = run({"w1": value, "w2": value})
    assert result.labels["0"]["image_size"] == []
    assert len(result.labels["0"]["annotations"]) == 1


def test_cluster_pairs_keeps_one_item_per_owner_and_complete_linkage() -> None:
    # items 0,1,2 of owners 0,1,2 form a triangle; item 3 (owner 0) links only to 1
    edges = [(0.9, 0, 1), (0.8, 1, 2), (0.7, 0, 2), (0.95, 1, 3)]
    assert sorted(map(sorted, cluster_pairs(4, [0, 1, 2, 0], list(edges)))) == [[0, 2], [1, 3]]
    # the clique shortcut gives what the greedy merge gives
    adjacent = [0b110, 0b101, 0b011, 0]
    triangle = [(0.9, 0, 1), (0.8, 1, 2), (0.7, 0, 2)]
    assert sorted(map(sorted, match_clusters(4, [0, 1, 2, 0], list(triangle), adjacent))) == [
        [0, 1, 2],
        [3],
    ]
    assert sorted(map(sorted, cluster_pairs(4, [0, 1, 2, 0], list(triangle)))) == [[0, 1, 2], [3]]


# -- through the post-annotation function's core -------------------------------------


def test_a_real_payload_is_consolidated_end_to_end_and_skill_is_stored() -> None:
    def annotation(worker: str, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "workerId": worker,
            "annotationData": {"content": json.dumps({"boundingBox": value})},
        }

    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://bucket/datasets/streetscenes/SSDB00010.JPG"},
            "annotations": [
                annotation("private.us-east-1.aaaa", answer(box("Car", 10, 20, 100, 50))),
                annotation("private.us-east-1.bbbb", answer(box("Car", 12, 21, 98, 50))),
                annotation("private.us-east-1.cccc", answer(box("Car", 11, 19, 101, 52))),
                {"workerId": "private.us-east-1.dddd", "annotationData": {"content": "{]"}},
            ],
        },
        {"datasetObjectId": "1", "dataObject": {"s3Uri": "s3://b/1.jpg"}, "annotations": []},
    ]
    store = MemorySkillStore()
    response, stats, rejections = consolidate_batch(
        payload,
        Settings(task_type="BOUNDING_BOX", answer_name="boundingBox", method="bounding-box"),
        labels=LABELS,
        label_attribute_name="street-cars",
        scope="job#street-cars",
        skill_store=store,
    )
    assert [entry["datasetObjectId"] for entry in response] == ["0", "1"]
    content = response[0]["consolidatedAnnotation"]["content"]
    label, metadata = content["street-cars"], content["street-cars-metadata"]
    assert metadata["workers"] == 3 and metadata["rejected-answers"] == 1
    assert [(a["class_id"], a["left"], a["top"]) for a in label["annotations"]] == [(0, 11, 20)]
    failed = response[1]["consolidatedAnnotation"]["content"]
    assert "street-cars" not in failed and "failure-reason" in failed["street-cars-metadata"]
    assert [r.worker_id for r in rejections] == ["private.us-east-1.dddd"]
    assert (stats.consolidated, stats.errors, stats.rejected) == (1, 1, 1)
    assert store.all("job#street-cars")["private.us-east-1.aaaa"].agreements == 1.0


# -- properties -------------------------------------------------------------------------


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[dict[str, dict[str, Any]]], dict[str, WorkerSkill]]:
    n_objects = draw(st.integers(1, 3))
    workers = draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=5, unique=True))
    per_object = []
    for _ in range(n_objects):
        width = draw(st.integers(1, 400))
        height = draw(st.integers(1, 300))
        answers = {}
        for worker in workers:
            boxes = []
            for _ in range(draw(st.integers(0, 5))):
                left = draw(st.integers(0, width - 1))
                top = draw(st.integers(0, height - 1))
                boxes.append(
                    box(
                        draw(st.sampled_from(LABELS)),
                        left,
                        top,
                        draw(st.integers(1, width - left)),
                        draw(st.integers(1, height - top)),
                    )
                )
            answers[f"worker-{worker}"] = answer(*boxes, size={"width": width, "height": height})
        per_object.append(answers)
    skills = {
        f"worker-{w}": WorkerSkill(f"worker-{w}", agreements=a, scored=a + b)
        for w, a, b in draw(
            st.lists(
                st.tuples(st.sampled_from(workers), st.floats(0, 50), st.floats(0, 50)),
                max_size=3,
            )
        )
    }
    return per_object, skills


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes(), seed=st.integers(0, 1000), threshold=st.floats(0.05, 1.0))
def test_any_valid_answers_give_a_label_per_object_in_bounds_and_order_free(
    scene: tuple[list[dict[str, dict[str, Any]]], dict[str, WorkerSkill]],
    seed: int,
    threshold: float,
) -> None:
    per_object, skills = scene
    result = run(*per_object, skills=skills, iouThreshold=threshold)
    assert set(result.labels) == {str(i) for i in range(len(per_object))}
    for index, answers in enumerate(per_object):
        label = result.labels[str(index)]
        assert label["workers"] == len(answers)
        assert 0.0 <= label["confidence"] <= 1.0
        (size,) = label["image_size"]
        for a in label["annotations"]:
            assert 0.0 <= a["confidence"] <= 1.0
            assert a["class_id"] in (0, 1)
            assert a["width"] >= 1 and a["height"] >= 1
            assert a["left"] >= 0 and a["top"] >= 0
            assert a["left"] + a["width"] <= size["width"]
            assert a["top"] + a["height"] <= size["height"]
        if len(answers) == 1:
            assert label["confidence"] == 0.0
    for skill in result.skill_updates.values():
        assert 0.0 <= skill.agreements <= skill.scored
    # the same answers in another order give the same labels
    rng = random.Random(seed)
    shuffled = []
    for answers in per_object:
        items = list(answers.items())
        rng.shuffle(items)
        shuffled.append(dict(items))
    again = run(*shuffled, skills=skills, iouThreshold=threshold)
    assert again.labels == result.labels
    assert {w: (s.agreements, s.scored) for w, s in again.skill_updates.items()} == {
        w: (s.agreements, s.scored) for w, s in result.skill_updates.items()
    }


@settings(max_examples=150, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "boundingBoxes",
                        "inputImageProperties",
                        "label",
                        "left",
                        "top",
                        "width",
                        "height",
                    ]
                ),
                inner,
                max_size=5,
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
        for b in parsed.boxes:
            assert b.label in LABELS and b.right > b.left >= 0 and b.bottom > b.top >= 0
