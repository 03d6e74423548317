"""Consolidation: every refused option names its Python parameter and the values allowed."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from gt_constructs.lambda_src.gt_annotation import contract

from gt_constructs.consolidation import FACTORIES, Consolidation


@pytest.mark.parametrize(
    ("consolidation", "message"),
    [
        (
            Consolidation.bounding_boxes(iou_threshold=1.5),
            "Consolidation.bounding_boxes(): iou_threshold is 1.5; "
            "allowed: a number above 0 and at most 1",
        ),
        (
            Consolidation.instance_segmentation(iou_threshold=0),
            "Consolidation.instance_segmentation(): iou_threshold is 0; "
            "allowed: a number above 0 and at most 1",
        ),
        (
            Consolidation.named_entities(jaccard_threshold=float("nan")),
            "Consolidation.named_entities(): jaccard_threshold is nan; "
            "allowed: a number above 0 and at most 1",
        ),
        (
            Consolidation.dawid_skene(max_iterations=0),
            "Consolidation.dawid_skene(): max_iterations is 0; allowed: an integer from 1 to 10000",
        ),
        (
            Consolidation.dawid_skene(max_iterations=2.5),  # type: ignore[arg-type]
            "Consolidation.dawid_skene(): max_iterations is 2.5; allowed: an integer from 1 to 10000",
        ),
        (
            Consolidation.multi_label(keep_all_annotations="yes"),  # type: ignore[arg-type]
            "Consolidation.multi_label(): keep_all_annotations is 'yes'; allowed: True or False",
        ),
    ],
)
def test_fails_when_an_option_is_out_of_range_naming_the_parameter_and_range(
    consolidation: Consolidation, message: str
) -> None:
    assert consolidation.problems() == [message]


def test_every_option_of_every_factory_is_named_as_its_python_parameter() -> None:
    # GIVEN every method's factory and the contract's options
    for method, factory_name in FACTORIES.items():
        factory = getattr(Consolidation, factory_name)
        parameters = inspect.signature(factory).parameters
        for option in contract.METHODS[method].options:
            # THEN the factory takes the option under the name its messages use
            assert option.snake_name in parameters, (factory_name, option.key)
            # AND a value out of range is refused naming that parameter and the range
            bad: Any = option.high + 1
            (problem,) = factory(**{option.snake_name: bad}).problems()
            assert problem.startswith(f"Consolidation.{factory_name}(): {option.snake_name} is ")
            assert f"allowed: {option.allowed}" in problem
            assert str(int(option.high)) in option.allowed
    assert set(FACTORIES) == set(contract.METHODS)


def test_the_lambda_names_the_json_key_it_read() -> None:
    # The post-annotation function reads GT_CONSOLIDATION: its messages name the JSON key.
    assert contract.validate_consolidation("bounding-box", {"iouThreshold": 1.5}) == [
        "bounding-box iouThreshold is 1.5; allowed: a number above 0 and at most 1"
    ]


def test_defaults_have_no_problem() -> None:
    for factory_name in FACTORIES.values():
        assert getattr(Consolidation, factory_name)().problems() == []
