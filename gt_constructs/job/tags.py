"""The labeling job's tags: the library's own and the construct's (``Tags.of(...)``).

The job is created through the API, so CloudFormation's tag propagation never
reaches it. ``CustomLabelingJob`` is taggable instead (``ITaggableV2``): the
tags that ``Tags.of(stack)``, ``Tags.of(job)``... give it land in
``JobTags.manager`` and are rendered, at synth, into the ``Tags`` of the
request the job is created with and of the runner's requests. SageMaker's tag
rules are checked at synth (``job_contract.tag_problems``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import Construct, IValidation

from ..lambda_src.gt_resources.job_contract import LIBRARY_TAG_PREFIX, tag_problems

#: The resource type ``Tags.of(...).add(..., include_resource_types=[...])`` names the job by.
JOB_RESOURCE_TYPE = "Custom::GroundTruthLabelingJob"


@jsii.implements(cdk.IAnyProducer)
class _Produce:
    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    def produce(self, context: cdk.IResolveContext) -> Any:
        return self._produce()


@jsii.implements(IValidation)
class _Validation:
    def __init__(self, validate: Callable[[], list[str]]) -> None:
        self._validate = validate

    def validate(self) -> list[str]:
        return self._validate()


def job_tag_manager(job: Construct) -> cdk.TagManager:
    """The tag manager of a taggable job construct (its ``cdk_tag_manager``), made once."""
    manager = job.__dict__.get("_job_tag_manager")
    if manager is None:
        manager = cdk.TagManager(cdk.TagType.KEY_VALUE, JOB_RESOURCE_TYPE)
        job.__dict__["_job_tag_manager"] = manager
    return manager


class JobTags:
    """The job's tags: ``library`` (the construct, the template fingerprint) first, then
    every tag the construct was given (``manager``), sorted by key; a library key is
    never overridden. Their problems stop synth, on ``scope``."""

    def __init__(
        self, scope: Construct, manager: cdk.TagManager, library: Sequence[tuple[str, str]]
    ) -> None:
        self.manager = manager
        self.library = dict(library)
        scope.node.add_validation(_Validation(self.problems))

    def values(self) -> dict[str, str]:
        given = self.manager.tag_values()
        tags = dict(self.library)
        for key in sorted(given):
            if key not in tags:
                tags[key] = given[key]
        return tags

    def tag_list(self) -> Any:
        """A token of the request's ``Tags``, rendered when the template is (after the
        ``Tags`` aspects ran)."""
        return cdk.Lazy.uncached_any(
            _Produce(lambda: [{"Key": k, "Value": v} for k, v in self.values().items()])
        )

    def problems(self) -> list[str]:
        """SageMaker's tag rules, on the tags known at synth (tokens are skipped)."""
        known = {
            key: value
            for key, value in self.values().items()
            if not cdk.Token.is_unresolved(key) and not cdk.Token.is_unresolved(value)
        }
        return [f"labeling job {problem}" for problem in tag_problems(known)]


__all__ = ["JOB_RESOURCE_TYPE", "LIBRARY_TAG_PREFIX", "JobTags", "job_tag_manager"]
