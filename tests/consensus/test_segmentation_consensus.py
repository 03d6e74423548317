"""Semantic and instance segmentation consensus on answers in Ground Truth's real shapes."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from typing import Any

import boto3
import pytest
from gt_annotation import payload as payload_module
from gt_annotation import post_annotation
from gt_annotation.consensus.instance import CONSOLIDATOR as INSTANCE
from gt_annotation.consensus.semantic import CONSOLIDATOR as SEMANTIC
from gt_annotation.model import (
    AnswerError,
    ConsolidationContext,
    ObjectAnswers,
    WorkerAnswer,
    WorkerSkill,
)
from gt_annotation.png import decode, encode_indexed
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from PIL import Image as PILImage

W, H = 64, 48
GREEN, BLUE = (44, 160, 44), (31, 119, 180)


def plane(rects: Sequence[tuple[int, int, int, int, int]]) -> bytes:
    """Indices of rectangles (x0, y0, x1, y1, index) on a W×H background."""
    out = bytearray(W * H)
    for x0, y0, x1, y1, index in rects:
        for y in range(y0, y1):
            out[y * W + x0 : y * W + x1] = bytes([index]) * (x1 - x0)
    return bytes(out)


def instance_answer(
    rects: Sequence[tuple[int, int, int, int]], label: str = "Person"
) -> dict[str, Any]:
    colours = [GREEN, BLUE, (255, 127, 14)][: len(rects)]
    png = encode_indexed(
        W, H, plane([(*r, i + 1) for i, r in enumerate(rects)]), [(0, 0, 0), *colours]
    )
    return {
        "annotatedResult": {
            "inputImageProperties": {"height": H, "width": W},
            "instances": [
                {"color": "#{:02x}{:02x}{:02x}".format(*c), "label": label} for c in colours
            ],
            "labeledImage": {"pngImageData": base64.b64encode(png).decode()},
        }
    }


def semantic_answer(
    rects: Sequence[tuple[int, int, int, int, int]], rgb: bool = False
) -> dict[str, Any]:
    colours = {1: (255, 0, 0), 2: (0, 0, 255)}
    indices = plane(rects)
    if rgb:  # an RGB PNG, as some tools write
        image = PILImage.new("RGB", (W, H))
        image.putdata([colours.get(i, (0, 0, 0)) for i in indices])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        png = buffer.getvalue()
    else:
        png = encode_indexed(W, H, indices, [(0, 0, 0), colours[1], colours[2]])
    return {
        "annotatedResult": {
            "inputImageProperties": {"height": H, "width": W},
            "labelMappings": {"Car": {"color": "#ff0000"}, "Road": {"color": "#0000ff"}},
            "labeledImage": {"pngImageData": base64.b64encode(png).decode()},
        }
    }


def run(
    consolidator: Any,
    answers: list[dict[str, Any]],
    labels: list[str],
    skills: dict[str, WorkerSkill] | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    parsed = [
        WorkerAnswer(f"w{i}", consolidator.parse_answer(a["annotatedResult"], labels))
        for i, a in enumerate(answers)
    ]
    context = ConsolidationContext("X", labels, "people", options or {}, skills or {})
    result = consolidator.consolidate([ObjectAnswers("0", {}, parsed)], context)
    label = result.labels["0"]
    png = decode(base64.b64decode(label["label-ref"].split(",", 1)[1]))
    return label, png


# -- instance segmentation -----------------------------------------------------------------------
def test_real_shaped_masks_of_depth_1_and_2_round_trip() -> None:
    one = instance_answer([(5, 5, 20, 30)])
    two = instance_answer([(5, 5, 20, 30), (30, 10, 50, 40)])
    for answer, depth in ((one, 1), (two, 2)):
        data = base64.b64decode(answer["annotatedResult"]["labeledImage"]["pngImageData"])
        assert decode(data).bit_depth == depth
        assert PILImage.open(io.BytesIO(data)).mode == "P"
        mask = INSTANCE.parse_answer(answer["annotatedResult"], ["Person"])
        assert mask.plane == plane(
            [(5, 5, 20, 30, 1)] if depth == 1 else [(5, 5, 20, 30, 1), (30, 10, 50, 40, 2)]
        )


def test_a_pixel_is_the_persons_only_where_two_of_three_marked_it() -> None:
    # GIVEN three workers, one of whom saw no person
    label, png = run(
        INSTANCE,
        [
            instance_answer([(10, 10, 30, 40)]),
            instance_answer([(14, 10, 30, 44)]),
            instance_answer([]),
        ],
        ["Person"],
    )
    # THEN the instance is kept (2 of 3) and its pixels are those both others marked
    assert [i["label"] for i in label["instances"]] == ["Person"]
    assert png.samples == plane([(14, 10, 30, 40, 1)])
    assert png.palette[0] == (0, 0, 0) and label["workers"] == 3
    assert 0 < label["instances"][0]["confidence"] < 1


def test_an_instance_only_one_of_three_drew_is_dropped() -> None:
    label, png = run(
        INSTANCE,
        [
            instance_answer([(10, 10, 30, 40), (40, 5, 60, 20)]),
            instance_answer([(10, 10, 30, 40)]),
            instance_answer([(11, 10, 30, 40)]),
        ],
        ["Person"],
    )
    assert len(label["instances"]) == 1
    assert png.samples.count(1) > 0 and png.samples.count(2) == 0


def test_a_distrusted_worker_is_outvoted_by_stored_skill() -> None:
    answers = [instance_answer([(10, 10, 30, 40)]), instance_answer([]), instance_answer([])]
    # w0 alone: dropped; with w1 and w2 known to be poor and w0 reliable, still a minority of 3
    label, _ = run(INSTANCE, answers, ["Person"])
    assert label["instances"] == []
    trusted = {
        "w0": WorkerSkill("w0", agreements=95, scored=100),
        "w1": WorkerSkill("w1", agreements=1, scored=100),
        "w2": WorkerSkill("w2", agreements=1, scored=100),
    }
    label, _ = run(INSTANCE, answers, ["Person"], trusted)
    assert [i["label"] for i in label["instances"]] == ["Person"]


def test_instance_answers_with_unknown_labels_or_shared_colours_are_rejected() -> None:
    with pytest.raises(AnswerError, match="label 'Dog' is not one of: Person"):
        INSTANCE.parse_answer(
            instance_answer([(1, 1, 5, 5)], label="Dog")["annotatedResult"], ["Person"]
        )
    shared = instance_answer([(1, 1, 5, 5), (6, 6, 9, 9)])["annotatedResult"]
    shared["instances"][1]["color"] = shared["instances"][0]["color"]
    with pytest.raises(AnswerError, match="share a colour"):
        INSTANCE.parse_answer(shared, ["Person"])


def test_mask_of_the_wrong_size_is_rejected() -> None:
    answer = instance_answer([(1, 1, 5, 5)])["annotatedResult"]
    answer["inputImageProperties"] = {"width": 1280, "height": 960}
    with pytest.raises(AnswerError, match="mask is 64×48 but the image is 1280×960"):
        INSTANCE.parse_answer(answer, ["Person"])


# -- semantic segmentation -----------------------------------------------------------------------
def test_semantic_vote_counts_background_of_workers_who_painted_nothing() -> None:
    label, png = run(
        SEMANTIC,
        [
            semantic_answer([(0, 0, 32, 48, 1)]),
            semantic_answer([(0, 0, 40, 48, 1)]),
            semantic_answer([]),
        ],
        ["Car", "Road"],
    )
    assert png.samples == plane([(0, 0, 32, 48, 1)])
    # Every label of the job is listed with its colour, painted or not (Road is not)...
    names = [v["class-name"] for v in label["internal-color-map"].values()]
    assert names == ["BACKGROUND", "Car", "Road"]
    assert label["internal-color-map"]["1"] == {"class-name": "Car", "hex-color": "#ff0000"}
    # ...and only painted classes have a confidence.
    assert set(label["class-confidences"]) == {"0", "1"}
    assert label["class-confidences"]["1"] == pytest.approx(2 / 3, abs=0.01)


def test_semantic_reads_rgb_masks_through_label_mappings() -> None:
    label, png = run(
        SEMANTIC,
        [semantic_answer([(0, 0, 10, 10, 2)], rgb=True), semantic_answer([(0, 0, 10, 10, 2)])],
        ["Car", "Road"],
    )
    assert png.samples == plane([(0, 0, 10, 10, 2)])
    assert label["confidence"] == 1.0


def test_semantic_rejects_labels_outside_the_categories() -> None:
    answer = semantic_answer([])["annotatedResult"]
    answer["labelMappings"]["Tree"] = {"color": "#00ff00"}
    with pytest.raises(AnswerError, match="Tree"):
        SEMANTIC.parse_answer(answer, ["Car", "Road"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 30), st.integers(0, 20), st.integers(1, 30), st.integers(1, 25)
            ),
            max_size=3,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_consolidators_label_any_set_of_masks(
    workers: list[list[tuple[int, int, int, int]]],
) -> None:
    rects = [[(x, y, x + w, y + h) for x, y, w, h in boxes] for boxes in workers]
    label, png = run(INSTANCE, [instance_answer(r) for r in rects], ["Person"])
    assert (png.width, png.height) == (W, H)
    assert 0 <= label["confidence"] <= 1
    assert all(0 <= i["confidence"] <= 1 for i in label["instances"])
    assert max(png.samples) <= len(label["instances"])
    label, png = run(
        SEMANTIC,
        [semantic_answer([(*r, 1 + i % 2) for i, r in enumerate(b)]) for b in rects],
        ["Car", "Road"],
    )
    assert 0 <= label["confidence"] <= 1 and (png.width, png.height) == (W, H)


# -- end to end: the mask lands in S3 ------------------------------------------------------------
def test_handler_writes_the_consolidated_mask_to_the_jobs_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        payload_module.reset_clients()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        objects = [
            {
                "datasetObjectId": "7",
                "dataObject": {"s3Uri": "s3://in/SSDB00010.JPG"},
                "annotations": [
                    {
                        "workerId": f"w{i}",
                        "annotationData": {
                            "content": json.dumps(instance_answer([(10, 10, 30, 40)]))
                        },
                    }
                    for i in range(3)
                ],
            }
        ]
        s3.put_object(Bucket="out", Key="req.json", Body=json.dumps(objects).encode())
        for key, value in {
            "GT_TASK_TYPE": "INSTANCE_SEGMENTATION",
            "GT_ANSWER_NAME": "annotatedResult",
            "GT_PAYLOAD_ACCESS": "DIRECT_READ",
            "GT_OUTPUT_URI": "s3://out/jobs",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("GT_SKILL_TABLE", raising=False)
        event = {
            "version": "2018-10-16",
            "labelCategories": ["Person"],
            "labelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/street-1",
            "labelAttributeName": "street-people",
            "payload": {"s3Uri": "s3://out/req.json"},
        }
        response = post_annotation.handler(event, None)
        label = response[0]["consolidatedAnnotation"]["content"]["street-people"]
        assert label["label-ref"] == "s3://out/jobs/street-1/consolidated-masks/7.png"
        body = s3.get_object(Bucket="out", Key="jobs/street-1/consolidated-masks/7.png")["Body"]
        assert decode(body.read()).samples == plane([(10, 10, 30, 40, 1)])
        payload_module.reset_clients()
