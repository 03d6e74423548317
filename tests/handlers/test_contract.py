"""The contract's additions for issue 11: the job's labels, the label-attribute rule."""

from __future__ import annotations

import json

import pytest
from gt_annotation.contract import (
    ENV_LABELS,
    TASK_TYPES,
    ConfigurationError,
    PostAnnotationSettings,
    label_attribute_problems,
)
from hypothesis import given
from hypothesis import strategies as st


def test_post_annotation_labels_round_trip_through_the_environment() -> None:
    # GIVEN settings with the job's labels
    settings = PostAnnotationSettings(task_type="BOUNDING_BOX", labels=("Car", "Bus"))
    # WHEN written and read back
    env = settings.to_environment()
    again = PostAnnotationSettings.from_environment(env)
    # THEN the labels are a JSON list in the job's order, and come back unchanged
    assert json.loads(env[ENV_LABELS]) == ["Car", "Bus"]
    assert again.labels == ("Car", "Bus")


def test_post_annotation_labels_are_absent_when_not_given() -> None:
    env = PostAnnotationSettings(task_type="BOUNDING_BOX").to_environment()
    assert ENV_LABELS not in env
    assert PostAnnotationSettings.from_environment(env).labels is None


def test_fails_when_post_annotation_labels_are_not_a_json_list() -> None:
    env = PostAnnotationSettings().to_environment()
    env[ENV_LABELS] = '{"Car": 1}'
    with pytest.raises(ConfigurationError, match="GT_LABELS must be a JSON list"):
        PostAnnotationSettings.from_environment(env)


def test_repeated_labels_are_a_problem() -> None:
    problems = PostAnnotationSettings(labels=("Car", "Bus", "Car")).problems()
    assert problems == ["labels must be unique; repeated: Car"]


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_plain_label_attribute_names_are_allowed(task_type: str) -> None:
    assert label_attribute_problems("street-cars", task_type) == []
    assert label_attribute_problems("a", task_type) == []


@pytest.mark.parametrize("task_type", ["SEMANTIC_SEGMENTATION", "INSTANCE_SEGMENTATION"])
def test_segmentation_may_not_use_ref_because_our_jobs_are_custom_jobs(task_type: str) -> None:
    # GIVEN the name a built-in semantic segmentation job would use
    problems = label_attribute_problems("street-ref", task_type)
    # THEN it is refused (CreateLabelingJob: -ref only for built-in types), with a suggestion
    assert len(problems) == 1
    assert "must not end in '-ref'" in problems[0] and "'street-mask'" in problems[0]
    # AND a name without the suffix is fine
    assert label_attribute_problems("street-mask", task_type) == []


def test_ref_is_refused_for_every_task_type() -> None:
    for task_type in TASK_TYPES:
        assert any("-ref" in p for p in label_attribute_problems("pets-ref", task_type))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pets-metadata", "must not end in '-metadata'"),
        ("", "1-127 letters"),
        ("-pets", "1-127 letters"),
        ("pets_2", "1-127 letters"),
        ("a" * 128, "1-127 letters"),
    ],
)
def test_fails_when_the_label_attribute_name_breaks_the_api_rules(name: str, reason: str) -> None:
    assert any(reason in p for p in label_attribute_problems(name, "CUSTOM"))


@given(st.from_regex(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,40}", fullmatch=True))
def test_every_name_the_api_accepts_is_accepted_unless_reserved(name: str) -> None:
    problems = label_attribute_problems(name, "SEMANTIC_SEGMENTATION")
    reserved = name.endswith("-ref") or name.endswith("-metadata")
    assert bool(problems) == reserved
