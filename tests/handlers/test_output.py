"""The built-in output shapes (ground-truth.md §4), per task type, field by field.

Each test feeds the answer shape the task type's Crowd HTML element documents
(§3) through the post-annotation core and checks ``content``: ``<attr>`` holds
the label exactly as the built-in type writes it, ``<attr>-metadata`` the
built-in metadata plus our extras — and nothing else.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from gt_annotation import post_annotation
from gt_annotation.output import creation_date, job_name
from gt_annotation.png import decode, encode_indexed
from gt_annotation.post_annotation import Settings, consolidate_batch
from hypothesis import given
from hypothesis import strategies as st

ARN = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/street-people"
CREATED = "2026-11-23T10:00:00.123456"
COMMON = {
    "job-name": "labeling-job/street-people",
    "human-annotated": "yes",
    "creation-date": CREATED,
}
W, H = 8, 4


def annotation(worker: str, name: str, value: Any) -> dict[str, Any]:
    return {"workerId": worker, "annotationData": {"content": json.dumps({name: value})}}


def run(
    task_type: str,
    method: str,
    name: str,
    answers: Sequence[Any],
    labels: Sequence[str] | None,
    *,
    data_object: dict[str, Any] | None = None,
    attribute: str = "attr",
    keep: bool = False,
) -> dict[str, Any]:
    """The ``content`` of one object answered by workers w1, w2, ... in order."""
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": data_object or {"s3Uri": "s3://in/0.jpg"},
            "annotations": [
                annotation(f"w{i}", name, value) for i, value in enumerate(answers, start=1)
            ],
        }
    ]
    settings = Settings(
        task_type=task_type,
        answer_name=name,
        method=method,
        keep_all_annotations=keep,
        options={"method": method},
    )
    response, _, rejections = consolidate_batch(
        payload,
        settings,
        labels=labels,
        label_attribute_name=attribute,
        scope="job#t",
        job=ARN,
        created=CREATED,
        write_png=lambda object_id, png: f"s3://out/masks/{object_id}.png",
    )
    assert rejections == []
    assert len(response) == 1 and response[0]["datasetObjectId"] == "0"
    content: dict[str, Any] = response[0]["consolidatedAnnotation"]["content"]
    return content


def without(metadata: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in keys}


# -- classification --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task_type", "kind", "data_object"),
    [
        ("IMAGE_CLASSIFICATION", "groundtruth/image-classification", {"s3Uri": "s3://in/0.jpg"}),
        ("TEXT_CLASSIFICATION", "groundtruth/text-classification", {"content": "Great!"}),
        # A custom task with a classification method: the data object decides.
        ("CUSTOM", "groundtruth/text-classification", {"content": "Great!"}),
    ],
)
def test_single_label_classification_writes_the_class_index(
    task_type: str, kind: str, data_object: dict[str, Any]
) -> None:
    # GIVEN crowd-classifier answers {"label": name}
    content = run(
        task_type,
        "majority-vote",
        "category",
        [{"label": "Dog"}, {"label": "Dog"}, {"label": "Cat"}],
        ["Cat", "Dog", "Rabbit"],
        data_object=data_object,
    )
    # THEN the label is the class index, the name and confidence are in the metadata
    assert set(content) == {"attr", "attr-metadata"}
    assert content["attr"] == 1
    metadata = content["attr-metadata"]
    assert metadata == {
        **COMMON,
        "type": kind,
        "class-name": "Dog",
        "confidence": metadata["confidence"],
        "workers": 3,
        "method": "majority-vote",
        "rejected-answers": 0,
    }
    assert metadata["confidence"] == pytest.approx(2 / 3, abs=1e-4)


@pytest.mark.parametrize(
    ("task_type", "kind", "data_object"),
    [
        ("IMAGE_MULTI_LABEL", "groundtruth/image-classification-multilabel", None),
        ("TEXT_MULTI_LABEL", "groundtruth/text-classification-multilabel", {"content": "txt"}),
    ],
)
def test_multi_label_classification_writes_the_list_of_class_indices(
    task_type: str, kind: str, data_object: dict[str, Any] | None
) -> None:
    # GIVEN multi-select answers {"labels": [...]}
    content = run(
        task_type,
        "multi-label",
        "tags",
        [{"labels": ["Hat", "Tree"]}, {"labels": ["Hat", "Tree"]}, {"labels": ["Tree"]}],
        ["Dog", "Hat", "Tree"],
        data_object=data_object,
    )
    assert set(content) == {"attr", "attr-metadata"}
    # THEN the label lists the class indices; class-map and confidence-map are keyed by them
    assert content["attr"] == [1, 2]
    metadata = content["attr-metadata"]
    assert metadata["class-map"] == {"1": "Hat", "2": "Tree"}
    assert set(metadata["confidence-map"]) == {"1", "2"}
    assert all(0.0 < c <= 1.0 for c in metadata["confidence-map"].values())
    assert without(metadata, "class-map", "confidence-map", "confidence") == {
        **COMMON,
        "type": kind,
        "workers": 3,
        "method": "multi-label",
        "rejected-answers": 0,
    }


# -- bounding boxes --------------------------------------------------------------------------
def box(label: str, left: int, top: int, width: int, height: int) -> dict[str, Any]:
    return {"label": label, "left": left, "top": top, "width": width, "height": height}


def test_bounding_boxes_write_the_object_detection_shape() -> None:
    # GIVEN crowd-bounding-box answers (pixels, with inputImageProperties)
    def answer(*boxes: dict[str, Any]) -> dict[str, Any]:
        return {"boundingBoxes": list(boxes), "inputImageProperties": {"width": 640, "height": 480}}

    content = run(
        "BOUNDING_BOX",
        "bounding-box",
        "boundingBox",
        [
            answer(box("Car", 10, 20, 100, 50), box("Bus", 300, 200, 80, 80)),
            answer(box("Car", 12, 20, 98, 50), box("Bus", 300, 202, 80, 78)),
            answer(box("Car", 11, 20, 99, 50)),
        ],
        ["Car", "Bus"],
    )
    assert set(content) == {"attr", "attr-metadata"}
    # THEN the label is image_size + annotations with class_id and whole pixels, no confidence
    label = content["attr"]
    assert label == {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 11, "top": 20, "width": 99, "height": 50},
            {"class_id": 1, "left": 300, "top": 201, "width": 80, "height": 79},
        ],
    }
    # AND the metadata has one objects[i].confidence per box, in order, and every class
    metadata = content["attr-metadata"]
    assert [set(o) for o in metadata["objects"]] == [{"confidence"}, {"confidence"}]
    car, bus = (o["confidence"] for o in metadata["objects"])
    assert car > bus > 0.0  # all three drew the car, two the bus
    assert metadata["class-map"] == {"0": "Car", "1": "Bus"}
    assert without(metadata, "objects", "class-map", "confidence") == {
        **COMMON,
        "type": "groundtruth/object-detection",
        "workers": 3,
        "method": "bounding-box",
        "rejected-answers": 0,
    }


# -- segmentation ----------------------------------------------------------------------------
def png_of(rows: Sequence[str], palette: Sequence[tuple[int, int, int]]) -> str:
    """An indexed PNG, W×H, one digit (the palette index) per pixel."""
    indices = bytes(int(c) for row in rows for c in row)
    return base64.b64encode(encode_indexed(W, H, indices, palette)).decode()


SKY, ROAD = (135, 206, 235), (128, 64, 128)


def semantic_answer(rows: Sequence[str]) -> dict[str, Any]:
    return {
        "inputImageProperties": {"width": W, "height": H},
        "labelMappings": {"Road": {"color": "#804080"}, "Sky": {"color": "#87ceeb"}},
        "labeledImage": {"pngImageData": png_of(rows, [(255, 255, 255), SKY, ROAD])},
    }


def test_semantic_segmentation_writes_the_mask_uri_and_every_labels_colour() -> None:
    sky_and_road = ["11111111", "11111111", "22222222", "22222222"]
    content = run(
        "SEMANTIC_SEGMENTATION",
        "semantic-segmentation",
        "crowd-semantic-segmentation",
        [semantic_answer(sky_and_road), semantic_answer(sky_and_road)],
        ["Sky", "Road", "Car"],  # nobody painted Car
        attribute="street-mask",
    )
    assert set(content) == {"street-mask", "street-mask-metadata"}
    # THEN the label is the consolidated mask's S3 URI
    assert content["street-mask"] == "s3://out/masks/0.png"
    metadata = content["street-mask-metadata"]
    # AND the colour map lists every label of the job, painted or not, keyed by class index
    assert metadata["internal-color-map"] == {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "Sky", "hex-color": "#87ceeb"},
        "2": {"class-name": "Road", "hex-color": "#804080"},
        "3": {"class-name": "Car", "hex-color": metadata["internal-color-map"]["3"]["hex-color"]},
    }
    assert re.fullmatch(r"#[0-9a-f]{6}", metadata["internal-color-map"]["3"]["hex-color"])
    # AND one image-level confidence (full agreement), per-class confidences as our extra
    assert metadata["confidence"] == 1.0
    assert metadata["class-confidences"] == {"1": 1.0, "2": 1.0}
    assert without(metadata, "internal-color-map", "confidence", "class-confidences") == {
        **COMMON,
        "type": "groundtruth/semantic-segmentation",
        "workers": 2,
        "method": "semantic-segmentation",
        "rejected-answers": 0,
    }


def test_the_semantic_mask_palette_matches_the_colour_map() -> None:
    written: dict[str, bytes] = {}

    def write(object_id: str, png: bytes) -> str:
        written[object_id] = png
        return f"s3://out/{object_id}.png"

    rows = ["11110000", "11110000", "22222222", "22222222"]
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://in/0.jpg"},
            "annotations": [
                annotation(w, "seg", semantic_answer(rows)) for w in ("w1", "w2", "w3")
            ],
        }
    ]
    response, _, _ = consolidate_batch(
        payload,
        Settings(
            task_type="SEMANTIC_SEGMENTATION", answer_name="seg", method="semantic-segmentation"
        ),
        labels=["Sky", "Road"],
        label_attribute_name="m",
        scope="s",
        write_png=write,
    )
    colours = response[0]["consolidatedAnnotation"]["content"]["m-metadata"]["internal-color-map"]
    image = decode(written["0"])
    for index, colour in enumerate(image.palette):
        assert colours[str(index)]["hex-color"] == "#{:02x}{:02x}{:02x}".format(*colour)


def test_instance_segmentation_writes_our_documented_type() -> None:
    person = "#2ca02c"
    value = {
        "inputImageProperties": {"width": W, "height": H},
        "instances": [{"color": person, "label": "Person"}],
        "labeledImage": {
            "pngImageData": png_of(
                ["11000000", "11000000", "00000000", "00000000"], [(0, 0, 0), (44, 160, 44)]
            )
        },
    }
    content = run(
        "INSTANCE_SEGMENTATION",
        "instance-segmentation",
        "crowd-instance-segmentation",
        [value, value],
        ["Person"],
        attribute="people-mask",
    )
    assert set(content) == {"people-mask", "people-mask-metadata"}
    # THEN the label is the mask's URI and the instance list (no confidences)
    assert content["people-mask"] == {
        "label-ref": "s3://out/masks/0.png",
        "instances": [{"label": "Person", "color": person, "index": 1}],
    }
    # AND the metadata follows the semantic layout, one confidence per instance
    metadata = content["people-mask-metadata"]
    assert metadata == {
        **COMMON,
        "type": "gt-constructs/instance-segmentation",
        "internal-color-map": {
            "0": {"class-name": "BACKGROUND", "hex-color": "#000000"},
            "1": {"class-name": "Person", "hex-color": person},
        },
        "instances": [{"confidence": 1.0}],
        "confidence": 1.0,
        "workers": 2,
        "method": "instance-segmentation",
        "rejected-answers": 0,
    }


# -- text ------------------------------------------------------------------------------------
def test_named_entities_write_the_text_span_shape() -> None:
    # GIVEN crowd-entity-annotation answers
    def answer(*spans: tuple[str, int, int]) -> dict[str, Any]:
        return {
            "entities": [{"label": s[0], "startOffset": s[1], "endOffset": s[2]} for s in spans]
        }

    content = run(
        "NAMED_ENTITY",
        "named-entity",
        "crowd-entity-annotation",
        [answer(("PER", 0, 4), ("LOC", 10, 16)), answer(("PER", 0, 4)), answer(("PER", 0, 4))],
        ["PER", "LOC"],
        data_object={"content": "Jane went to Berlin"},
    )
    assert set(content) == {"attr", "attr-metadata"}
    # THEN the label is annotations.entities (no confidence) and annotations.labels
    assert content["attr"] == {
        "annotations": {
            "entities": [{"label": "PER", "startOffset": 0, "endOffset": 4}],
            "labels": [{"label": "PER"}, {"label": "LOC"}],
        }
    }
    # AND one entities[i].confidence per entity
    metadata = content["attr-metadata"]
    assert metadata["entities"] == [{"confidence": 1.0}]
    assert without(metadata, "entities", "confidence") == {
        **COMMON,
        "type": "groundtruth/text-span",
        "workers": 3,
        "method": "named-entity",
        "rejected-answers": 0,
    }


def test_free_text_writes_the_text_and_our_documented_type() -> None:
    content = run(
        "CUSTOM", "free-text", "total", ["12.50", "12.50", "12,50"], None, data_object=None
    )
    assert content["attr"] == "12.50"
    metadata = content["attr-metadata"]
    assert 0.0 < metadata["confidence"] <= 1.0
    assert without(metadata, "confidence") == {
        **COMMON,
        "type": "gt-constructs/free-text",
        "workers": 3,
        "method": "free-text",
        "rejected-answers": 0,
    }


def test_keep_all_annotations_puts_the_raw_answers_in_the_metadata_only() -> None:
    content = run(
        "IMAGE_CLASSIFICATION",
        "majority-vote",
        "category",
        [{"label": "Cat"}, {"label": "Cat"}],
        ["Cat", "Dog"],
        keep=True,
    )
    assert content["attr"] == 0
    assert content["attr-metadata"]["annotationsFromAllWorkers"] == [
        {"workerId": "w1", "annotationData": {"content": {"category": {"label": "Cat"}}}},
        {"workerId": "w2", "annotationData": {"content": {"category": {"label": "Cat"}}}},
    ]


# -- failures --------------------------------------------------------------------------------
def test_a_failed_object_has_no_label_and_says_why_like_ground_truth() -> None:
    # GIVEN two answers, neither usable (a label the job does not have; not JSON)
    payload = [
        {
            "datasetObjectId": "7",
            "dataObject": {"s3Uri": "s3://in/7.jpg"},
            "annotations": [
                annotation("w1", "category", {"label": "Horse"}),
                {"workerId": "w2", "annotationData": {"content": "{oops"}},
            ],
        },
        {
            "datasetObjectId": "8",
            "dataObject": {"s3Uri": "s3://in/8.jpg"},
            "annotations": [annotation("w1", "category", {"label": "Cat"})],
        },
    ]
    response, stats, _ = consolidate_batch(
        payload,
        Settings(task_type="IMAGE_CLASSIFICATION", answer_name="category", method="dawid-skene"),
        labels=["Cat", "Dog"],
        label_attribute_name="pets",
        scope="s",
        job=ARN,
        created=CREATED,
    )
    # THEN still one entry per object
    assert [e["datasetObjectId"] for e in response] == ["7", "8"]
    failed = response[0]["consolidatedAnnotation"]["content"]
    # AND the failed one has no label value at all, only metadata with the reason and count
    assert failed == {
        "pets-metadata": {
            "failure-reason": "no usable worker answer (2 answers rejected)",
            "type": "groundtruth/image-classification",
            "job-name": "labeling-job/street-people",
            "creation-date": CREATED,
            "workers": 0,
            "method": "dawid-skene",
            "rejected-answers": 2,
        }
    }
    # AND the other object is labelled as usual
    assert response[1]["consolidatedAnnotation"]["content"]["pets"] == 0
    assert (stats.consolidated, stats.errors) == (1, 1)


# -- item 5: class ids from the job's labels when the event has none --------------------------
def test_class_ids_follow_the_jobs_labels_when_the_event_has_no_label_categories() -> None:
    # GIVEN a console-made job: labelCategories null; the construct knows the job's labels
    event = {
        "version": "2018-10-16",
        "labelingJobArn": ARN,
        "labelCategories": None,
        "labelAttributeName": "pets",
        "payload": {
            "content": json.dumps(
                [
                    {
                        "datasetObjectId": "0",
                        "dataObject": {"s3Uri": "s3://in/0.jpg"},
                        # answers arrive as Rabbit, Cat: sorted names would make Cat 0
                        "annotations": [
                            annotation("w1", "category", {"label": "Rabbit"}),
                            annotation("w2", "category", {"label": "Rabbit"}),
                        ],
                    },
                    {
                        "datasetObjectId": "1",
                        "dataObject": {"s3Uri": "s3://in/1.jpg"},
                        "annotations": [annotation("w1", "category", {"label": "Cat"})],
                    },
                ]
            )
        },
    }
    settings = Settings(
        task_type="IMAGE_CLASSIFICATION",
        answer_name="category",
        method="majority-vote",
        options={"method": "majority-vote"},
        labels=("Dog", "Cat", "Rabbit"),
    )
    # WHEN the function runs
    response = post_annotation.run(event, settings)
    # THEN the class ids are the positions in the job's labels
    contents = [e["consolidatedAnnotation"]["content"] for e in response]
    assert [c["pets"] for c in contents] == [2, 1]
    assert [c["pets-metadata"]["class-name"] for c in contents] == ["Rabbit", "Cat"]


def test_boxes_class_map_lists_every_label_of_the_job_in_its_order() -> None:
    value = {"boundingBoxes": [box("Bus", 1, 1, 5, 5)]}
    content = run("BOUNDING_BOX", "bounding-box", "b", [value, value], ["Car", "Bus", "Van"])
    assert content["attr"]["annotations"][0]["class_id"] == 1
    assert content["attr-metadata"]["class-map"] == {"0": "Car", "1": "Bus", "2": "Van"}


# -- job name and creation date --------------------------------------------------------------
@given(st.from_regex(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", fullmatch=True))
def test_job_name_is_the_arns_resource_part(name: str) -> None:
    arn = f"arn:aws:sagemaker:eu-west-1:111122223333:labeling-job/{name}"
    assert job_name(arn) == job_name(name) == job_name(f"labeling-job/{name}")
    assert job_name(arn) == f"labeling-job/{name}"


@given(st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))])))
def test_creation_date_is_iso_in_utc_without_offset(moment: datetime) -> None:
    text = creation_date(moment)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", text)
    assert datetime.fromisoformat(text).replace(tzinfo=timezone.utc) == moment.astimezone(
        timezone.utc
    )
