"""The labeling job's settings: props in, validated values and their defaults out.

``JobSettings.from_props`` turns the construct's props into one frozen object
(defaults applied, durations in seconds) and ``problems()`` lists everything
wrong with it at once: types, Ground Truth's limits, and the consolidation's
options checked against the Lambda contract. Pure: nothing is added to a
construct tree, so the rules are tested without a synth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Token

from ..consolidation import Consolidation
from ..lambda_src.gt_annotation.contract import (
    MASK_METHODS,
    MASK_TASK_TYPES,
    PostAnnotationSettings,
    PreAnnotationSettings,
    label_attribute_problems,
)
from ..task_type import MAX_LABELS, TaskType
from ..validation import Problems
from .lifecycle import default_job_name_prefix, validate_job_name_prefix
from .props import neutral, type_problems
from .request import HumanTask
from .role import PayloadAccess
from .skill_table import SkillScope

KEYWORD_PATTERN = r"[A-Za-z0-9]+( [A-Za-z0-9]+)*"
DEFAULT_TASK_TIME_LIMIT = Duration.minutes(10)
DEFAULT_TASK_AVAILABILITY = Duration.days(10)
#: Ground Truth's label category file format version.
LABEL_CATEGORY_VERSION = "2018-11-28"


@dataclass(frozen=True)
class JobSettings:
    """Everything the job's parts are built from, defaults applied."""

    task_type: TaskType
    labels: tuple[str, ...]
    consolidation: Consolidation
    label_attribute_name: str
    output_prefix: str
    job_name_prefix: str
    task: HumanTask
    payload_access: PayloadAccess
    skill_scope: SkillScope
    skip_objects_labeled_with: str | None
    content_classifiers: tuple[str, ...]
    #: Problems found while reading the props (wrong types), reported with the rest.
    prop_problems: tuple[str, ...] = ()
    #: The props of the wrong type (their stand-ins are not judged again).
    ill_typed: frozenset[str] = frozenset()

    # -- from the construct's props ----------------------------------------------------
    @staticmethod
    def from_props(props: Mapping[str, Any], *, construct_key: str) -> JobSettings:
        """The settings of the construct's props (by name); never raises for a prop of
        the wrong type. ``construct_key`` (``lifecycle.construct_key``) makes the default
        job-name prefix this construct's own.

        Each prop, those the settings do not hold too (buckets, functions, the
        dataset, ...), is checked for its type first. A wrong one becomes a problem
        in ``prop_problems``, reported by ``problems()`` with every other, and a
        neutral stand-in is used for it here, so that the rest is still judged and a
        wrong type never ends as a bare ``TypeError``.
        """
        wrong = type_problems(props)
        judged = {name: neutral(name) if name in wrong else value for name, value in props.items()}
        return JobSettings._build(
            judged,
            prop_problems=tuple(wrong.values()),
            ill_typed=frozenset(wrong),
            construct_key=construct_key,
        )

    @staticmethod
    def _build(
        props: Mapping[str, Any],
        *,
        prop_problems: tuple[str, ...],
        ill_typed: frozenset[str],
        construct_key: str,
    ) -> JobSettings:
        """The settings, defaults applied, from props whose types are right."""
        task_type: TaskType = props["task_type"]
        labels = tuple(props["labels"])
        attribute = props["label_attribute_name"] or task_type.value.lower().replace("_", "-")
        keywords = tuple(props["task_keywords"] or task_type.default_keywords)
        classifiers = tuple(
            name
            for name, on in (
                (
                    "FreeOfPersonallyIdentifiableInformation",
                    props["free_of_personally_identifiable_information"],
                ),
                ("FreeOfAdultContent", props["free_of_adult_content"]),
            )
            if on
        )
        return JobSettings(
            task_type=task_type,
            labels=labels,
            consolidation=props["consolidation"] or Consolidation.for_task_type(task_type),
            label_attribute_name=attribute,
            output_prefix=_as_prefix(
                props["output_prefix"] or f"labeling-jobs/{attribute}/output/"
            ),
            job_name_prefix=props["job_name_prefix"]
            or default_job_name_prefix(attribute, construct_key),
            task=HumanTask(
                workers_per_object=props["workers_per_object"],
                title=props["task_title"] or f"{task_type.title} of {_short_list(labels)}"[:128],
                description=props["task_description"]
                or f"{task_type.title}: label each data object carefully following the instructions.",
                keywords=keywords,
                time_limit_seconds=_seconds(props["task_time_limit"]),
                availability_seconds=_seconds(props["task_availability_lifetime"]),
                max_concurrent=props["max_concurrent_task_count"],
                max_human_labeled=props["max_human_labeled_object_count"],
                max_percentage=props["max_percentage_of_input_dataset_labeled"],
            ),
            payload_access=props["payload_access"],
            skill_scope=props["skill_scope"],
            skip_objects_labeled_with=props["skip_objects_labeled_with"],
            content_classifiers=classifiers,
            prop_problems=prop_problems,
            ill_typed=ill_typed,
        )

    # -- derived values ----------------------------------------------------------------
    @property
    def config_prefix(self) -> str:
        return f"labeling-jobs/{self.label_attribute_name}/config/"

    @property
    def batches_prefix(self) -> str:
        """Where further batches' manifests and data go in the input bucket (the
        execution role reads it: the runner labels them without another grant)."""
        return f"labeling-jobs/{self.label_attribute_name}/batches/"

    @property
    def template_key(self) -> str:
        return f"{self.config_prefix}worker-template.liquid.html"

    @property
    def label_categories_key(self) -> str:
        return f"{self.config_prefix}label-categories.json"

    @property
    def label_categories(self) -> dict[str, Any]:
        """The label category file Ground Truth reads (``LabelCategoryConfigS3Uri``)."""
        return {
            "document-version": LABEL_CATEGORY_VERSION,
            "labels": [{"label": label} for label in self.labels],
        }

    def label_categories_json(self) -> str:
        return json.dumps(self.label_categories, indent=1)

    @property
    def heavy(self) -> bool:
        """Segmentation consolidations decode whole images: they get more memory."""
        return self.task_type in (TaskType.SEMANTIC_SEGMENTATION, TaskType.INSTANCE_SEGMENTATION)

    @property
    def writes_masks(self) -> bool:
        """The post-annotation function puts consolidated masks in the output bucket
        (segmentation task types, or a segmentation consolidation of a custom task)."""
        return self.task_type.value in MASK_TASK_TYPES or self.consolidation.method in MASK_METHODS

    @property
    def keeps_answers(self) -> bool:
        """Every worker's answer goes into the output (``keep_all_annotations``, or the
        ``all-annotations`` method): the function may put them in S3 by reference."""
        return (
            self.consolidation.keep_all_annotations
            or self.consolidation.method == "all-annotations"
        )

    def pre_annotation_settings(self, *, label_categories_uri: str) -> PreAnnotationSettings:
        """The labels by reference (the label-category file), never in the environment."""
        return PreAnnotationSettings(
            task_type=self.task_type.value,
            skip_if_labeled=self.skip_objects_labeled_with,
            label_categories_uri=label_categories_uri,
        )

    def post_annotation_settings(
        self,
        *,
        answer_name: str | None,
        skill_table: str,
        output_uri: str,
        label_categories_uri: str,
    ) -> PostAnnotationSettings:
        """The labels by reference: the event carries ``labelCategories``, the file is the
        fallback."""
        consolidation = self.consolidation
        return PostAnnotationSettings(
            task_type=self.task_type.value,
            answer_name=answer_name,
            method=consolidation.method,
            keep_all_annotations=consolidation.keep_all_annotations,
            options=dict(consolidation.options),
            payload_access=self.payload_access.value,
            skill_table=skill_table,
            skill_scope_mode=self.skill_scope.value,
            output_uri=output_uri,
            label_categories_uri=label_categories_uri,
        )

    # -- validation --------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every problem of these settings, each naming the setting and what is allowed."""
        problems = Problems("")
        for problem in self.prop_problems:
            problems.add(problem)
        self._check_labels(problems)
        self._check_names(problems)
        self._check_task(problems)
        for problem in self.consolidation.problems():
            problems.add(f"consolidation: {problem}")
        return problems.items

    def _check_labels(self, problems: Problems) -> None:
        if "labels" in self.ill_typed:
            return
        labels = [label for label in self.labels if not Token.is_unresolved(label)]
        low = 0 if self.task_type is TaskType.CUSTOM else 1
        high = self.task_type.max_labels
        if not low <= len(self.labels) <= high:
            why = (
                ""
                if high == MAX_LABELS
                else f" for {self.task_type.value} ({self.task_type.label_limit_reason})"
            )
            problems.add(f"labels has {len(self.labels)} entries; allowed: {low}–{high}{why}")
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            problems.add(f"labels must be unique; repeated: {', '.join(duplicates)}")
        for label in labels:
            if not 1 <= len(label) <= 256 or label != label.strip():
                problems.add(
                    f"label {label!r} is not allowed: 1–256 characters, no leading or "
                    "trailing spaces"
                )

    def _check_names(self, problems: Problems) -> None:
        """The label attribute by the Lambda contract's rule (one rule, synth and run time)."""
        name = self.label_attribute_name
        if not Token.is_unresolved(name):
            for problem in label_attribute_problems(name, self.task_type.value):
                # The contract says "label attribute name"; the message names the prop.
                problems.add(problem.replace("label attribute name", "label_attribute_name", 1))
        validate_job_name_prefix(problems, self.job_name_prefix)

    def _check_task(self, problems: Problems) -> None:
        task = self.task
        problems.check_range("workers_per_object", task.workers_per_object, 1, 9)
        problems.check_length("task_title", task.title, 1, 128)
        problems.check_length("task_description", task.description, 1, 255)
        if not 1 <= len(task.keywords) <= 5:
            problems.add(f"task_keywords has {len(task.keywords)} entries; allowed: 1–5")
        for keyword in task.keywords:
            problems.check_length(f"task keyword {keyword!r}", keyword, 1, 30)
            problems.check_pattern(
                "task keyword",
                keyword,
                KEYWORD_PATTERN,
                "letters and digits, words separated by single spaces",
            )
        problems.check_range("task_time_limit", task.time_limit_seconds, 30, 28_800, " s")
        problems.check_range(
            "task_availability_lifetime", task.availability_seconds, 60, 2_592_000, " s"
        )
        problems.check_range("max_concurrent_task_count", task.max_concurrent, 1, 5000)
        problems.check_range(
            "max_human_labeled_object_count", task.max_human_labeled, 1, 100_000_000
        )
        problems.check_range("max_percentage_of_input_dataset_labeled", task.max_percentage, 1, 100)


def _seconds(duration: Duration) -> int:
    return int(duration.to_seconds())


def _as_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def _short_list(labels: Sequence[str]) -> str:
    shown = [label for label in labels[:3] if not Token.is_unresolved(label)]
    more = "" if len(labels) <= 3 else f" and {len(labels) - 3} more"
    return ", ".join(shown) + more if shown else "data objects"
