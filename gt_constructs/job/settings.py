"""The labeling job's settings: props in, validated values and their defaults out.

``JobSettings.from_props`` turns the construct's props into one frozen object
(defaults applied, durations in seconds) and ``problems()`` lists everything
wrong with it at once: types, Ground Truth's limits, and the consolidation's
options checked against the Lambda contract. Pure: nothing is added to a
construct tree, so the rules are tested without a synth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Token

from ..consolidation import Consolidation
from ..lambda_src.gt_annotation.contract import (
    MASK_METHODS,
    MASK_TASK_TYPES,
    PostAnnotationSettings,
    PreAnnotationSettings,
)
from ..task_type import TaskType
from ..validation import Problems
from .lifecycle import validate_job_name_prefix
from .request import HumanTask
from .role import PayloadAccess
from .skill_table import SkillScope

LABEL_ATTRIBUTE_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}"
KEYWORD_PATTERN = r"[A-Za-z0-9]+( [A-Za-z0-9]+)*"
MAX_LABELS = 50
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

    # -- from the construct's props ----------------------------------------------------
    @staticmethod
    def from_props(
        *,
        task_type: TaskType,
        labels: Sequence[str],
        consolidation: Consolidation | None,
        label_attribute_name: str | None,
        output_prefix: str | None,
        job_name_prefix: str | None,
        workers_per_object: int,
        task_title: str | None,
        task_description: str | None,
        task_keywords: Sequence[str] | None,
        task_time_limit: Duration,
        task_availability_lifetime: Duration,
        max_concurrent_task_count: int,
        max_human_labeled_object_count: int | None,
        max_percentage_of_input_dataset_labeled: int | None,
        payload_access: PayloadAccess,
        skill_scope: SkillScope,
        skip_objects_labeled_with: str | None,
        free_of_personally_identifiable_information: bool,
        free_of_adult_content: bool,
    ) -> JobSettings:
        labels = tuple(labels)
        attribute = label_attribute_name or task_type.value.lower().replace("_", "-")
        keywords = tuple(task_keywords or _default_keywords(task_type))
        classifiers = tuple(
            name
            for name, on in (
                (
                    "FreeOfPersonallyIdentifiableInformation",
                    free_of_personally_identifiable_information,
                ),
                ("FreeOfAdultContent", free_of_adult_content),
            )
            if on
        )
        return JobSettings(
            task_type=task_type,
            labels=labels,
            consolidation=consolidation or Consolidation.for_task_type(task_type),
            label_attribute_name=attribute,
            output_prefix=_as_prefix(output_prefix or f"labeling-jobs/{attribute}/output/"),
            job_name_prefix=job_name_prefix or attribute[:52].rstrip("-"),
            task=HumanTask(
                workers_per_object=workers_per_object,
                title=task_title or f"{task_type.title} of {_short_list(labels)}"[:128],
                description=task_description
                or f"{task_type.title}: label each data object carefully following the instructions.",
                keywords=keywords,
                time_limit_seconds=_seconds(task_time_limit),
                availability_seconds=_seconds(task_availability_lifetime),
                max_concurrent=max_concurrent_task_count,
                max_human_labeled=max_human_labeled_object_count,
                max_percentage=max_percentage_of_input_dataset_labeled,
            ),
            payload_access=payload_access,
            skill_scope=skill_scope,
            skip_objects_labeled_with=skip_objects_labeled_with,
            content_classifiers=classifiers,
        )

    # -- derived values ----------------------------------------------------------------
    @property
    def config_prefix(self) -> str:
        return f"labeling-jobs/{self.label_attribute_name}/config/"

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

    def pre_annotation_settings(self) -> PreAnnotationSettings:
        return PreAnnotationSettings(
            task_type=self.task_type.value,
            labels=self.labels,
            skip_if_labeled=self.skip_objects_labeled_with,
        )

    def post_annotation_settings(
        self, *, answer_name: str | None, skill_table: str, output_uri: str
    ) -> PostAnnotationSettings:
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
        labels = [label for label in self.labels if not Token.is_unresolved(label)]
        low = 0 if self.task_type is TaskType.CUSTOM else 1
        if not low <= len(self.labels) <= MAX_LABELS:
            problems.add(f"labels has {len(self.labels)} entries; allowed: {low}–{MAX_LABELS}")
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
        name = self.label_attribute_name
        problems.check_pattern(
            "label_attribute_name",
            name,
            LABEL_ATTRIBUTE_PATTERN,
            "1–127 letters, digits and hyphens, starting and ending with a letter or digit",
        )
        for suffix in ("-metadata", "-ref"):
            if name.endswith(suffix):
                problems.add(
                    f"label_attribute_name {name!r} must not end in '{suffix}' "
                    "(Ground Truth reserves it)"
                )
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


def _default_keywords(task_type: TaskType) -> list[str]:
    words = {"IMAGE": ["image", "labeling"], "TEXT": ["text", "labeling"]}[task_type.data_kind.name]
    return [*words, task_type.title.split(" (")[0].lower()][:5]
