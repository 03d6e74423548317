"""The contract between the construct and the annotation functions, written once.

Everything the construct (synth time, ``gt_constructs``) and the pre- and
post-annotation functions (run time, this package) must agree on lives here
and nowhere else: the environment variable names, the task types with their
default consolidation method, each method's options with their bounds and
defaults, the payload-access modes, the skill scopes, and the metrics
namespace and names. The construct imports this module through the packaged
``gt_constructs.lambda_src``; the functions import it relatively. Standard
library only, like the rest of the Lambda code.

Each function's settings are one frozen dataclass with ``to_environment()``
(what the construct writes) and ``from_environment()`` (what the function
reads, every problem reported at once in one ``ConfigurationError``). The
same ``validate_consolidation`` checks a method and its options at synth and
at run time, so a setting the function would refuse never synthesizes.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class ConfigurationError(ValueError):
    """A function's environment (set by the construct) is not usable."""


# --------------------------------------------------------------------------- environment
#: The task type (one of ``TASK_TYPES``); both functions.
ENV_TASK_TYPE = "GT_TASK_TYPE"
#: JSON list of the job's labels, in the job's order; both functions. The construct does
#: not set it (50 labels of 256 characters would overflow Lambda's 4 KB environment): it
#: sets ``ENV_LABEL_CATEGORIES_URI``. Set by hand, it wins.
ENV_LABELS = "GT_LABELS"
#: ``s3://bucket/key`` of the job's label-category file (Ground Truth's format,
#: ``{"document-version": ..., "labels": [{"label": ...}]}``); both functions read the
#: labels from it, once per container, when they need them and ``GT_LABELS`` is unset.
ENV_LABEL_CATEGORIES_URI = "GT_LABEL_CATEGORIES_URI"
#: Pre-annotation: objects whose manifest line carries this attribute are not sent to workers.
ENV_SKIP_IF_LABELED = "GT_SKIP_IF_LABELED"
#: Post-annotation: the ``name`` of the answer element (key of the worker's form output).
ENV_ANSWER_NAME = "GT_ANSWER_NAME"
#: Post-annotation: JSON ``{"method": ..., "keepAllAnnotations": bool, ...options}``.
ENV_CONSOLIDATION = "GT_CONSOLIDATION"
#: Post-annotation: one of ``PAYLOAD_ACCESS_MODES``.
ENV_PAYLOAD_ACCESS = "GT_PAYLOAD_ACCESS"
#: Post-annotation: the DynamoDB worker-skill table (absent: skill kept per batch only).
ENV_SKILL_TABLE = "GT_SKILL_TABLE"
#: Post-annotation: one of ``SKILL_SCOPES``.
ENV_SKILL_SCOPE = "GT_SKILL_SCOPE"
#: Post-annotation: ``s3://bucket/prefix`` where consolidated masks are written.
ENV_OUTPUT_URI = "GT_OUTPUT_URI"
#: Post-annotation: CloudWatch namespace of the embedded-metric-format records.
ENV_METRICS_NAMESPACE = "GT_METRICS_NAMESPACE"
#: Log level of both functions (default INFO); not set by the construct.
ENV_LOG_LEVEL = "GT_LOG_LEVEL"

#: Lambda's limit on a function's environment (keys and values, in aggregate), in bytes.
MAX_ENVIRONMENT_BYTES = 4096


def environment_size(env: Mapping[str, str]) -> int:
    """The bytes Lambda counts against ``MAX_ENVIRONMENT_BYTES``: the variables as JSON."""
    return len(json.dumps(dict(env), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


# --------------------------------------------------------------------------- modes
PAYLOAD_ASSUME_EXECUTION_ROLE = "ASSUME_EXECUTION_ROLE"
PAYLOAD_DIRECT_READ = "DIRECT_READ"
#: How the post-annotation function reads its payload (see ``gt_constructs.PayloadAccess``).
PAYLOAD_ACCESS_MODES = (PAYLOAD_ASSUME_EXECUTION_ROLE, PAYLOAD_DIRECT_READ)

SKILL_SCOPE_JOB = "job"
SKILL_SCOPE_LABEL_SET = "label-set"
#: Over what worker skill is learned: per labeling job, or per task type and label set.
SKILL_SCOPES = (SKILL_SCOPE_JOB, SKILL_SCOPE_LABEL_SET)
#: Skill table: the attribute (epoch seconds) after which a record of a counted batch may
#: go; the created table's time-to-live attribute.
SKILL_TABLE_TTL_ATTRIBUTE = "expires"

# --------------------------------------------------------------------------- metrics
METRICS_NAMESPACE = "GroundTruthConstructs"
METRIC_OBJECTS_CONSOLIDATED = "ObjectsConsolidated"
METRIC_ANSWERS_REJECTED = "AnswersRejected"
METRIC_MEAN_CONFIDENCE = "MeanConfidence"
#: Objects of a batch that got a failure (``<attr>-metadata.failure-reason``, no label).
METRIC_CONSOLIDATION_ERRORS = "ConsolidationErrors"
#: Worker-skill reads and writes of a batch that failed (skill learning stalls meanwhile).
METRIC_SKILL_STORE_ERRORS = "SkillStoreErrors"

# --------------------------------------------------------------------------- task input
#: Keys the pre-annotation function adds to ``taskInput`` (``task.input`` in the template)
#: beside every attribute of the manifest line: the object (``source-ref`` or ``source``),
#: the job's labels, and the whole manifest line (what AWS's adjustment templates read).
TASK_INPUT_OBJECT = "taskObject"
TASK_INPUT_LABELS = "labels"
TASK_INPUT_MANIFEST_LINE = "manifestLine"
TASK_INPUT_KEYS = (TASK_INPUT_OBJECT, TASK_INPUT_LABELS, TASK_INPUT_MANIFEST_LINE)
#: Manifest attributes that hold the data object: one of them is on every manifest line.
SOURCE_ATTRIBUTES = ("source-ref", "source")


# --------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class OptionSpec:
    """One option of a consolidation method: its JSON key, type, bounds and default."""

    key: str
    kind: type[int] | type[float]
    low: float
    high: float
    default: float
    #: ``True``: ``low`` itself is not allowed (e.g. a threshold in (0, 1]).
    low_open: bool = False
    doc: str = ""

    @property
    def snake_name(self) -> str:
        """The option as a Python keyword argument (``iouThreshold`` → ``iou_threshold``)."""
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in self.key)

    @property
    def allowed(self) -> str:
        """The allowed values in words, e.g. ``a number above 0 and at most 1``."""
        if self.kind is int:
            return f"an integer from {self.low:g} to {self.high:g}"
        if self.low_open:
            return f"a number above {self.low:g} and at most {self.high:g}"
        return f"a number from {self.low:g} to {self.high:g}"

    def problem(self, value: Any, *, name: str | None = None) -> str | None:
        """Why ``value`` is not allowed, or ``None``. The message names the option as
        ``name`` (default: its JSON key, as in ``GT_CONSOLIDATION``)."""
        kinds: tuple[type, ...] = (int,) if self.kind is int else (int, float)
        ok = type(value) in kinds and (self.kind is int or math.isfinite(value))
        if ok:
            ok = (self.low < value if self.low_open else self.low <= value) and value <= self.high
        return None if ok else f"{name or self.key} is {value!r}; allowed: {self.allowed}"

    def read(self, options: Mapping[str, Any]) -> Any:
        """The option's value in ``options`` (camelCase or snake_case key), or its default;
        ``ValueError`` naming the option when the value is not allowed."""
        value = options.get(self.key, options.get(self.snake_name, self.default))
        problem = self.problem(value)
        if problem is not None:
            raise ValueError(problem)
        return self.kind(value)


@dataclass(frozen=True)
class MethodSpec:
    """A consolidation method: the consensus module that computes it, the Crowd HTML
    elements whose output it reads (empty: any), and its options."""

    name: str
    module: str
    elements: tuple[str, ...]
    options: tuple[OptionSpec, ...] = ()

    def option(self, key: str) -> OptionSpec:
        for spec in self.options:
            if spec.key == key:
                return spec
        raise KeyError(f"method {self.name!r} has no option {key!r}")


_CLASSIFIERS = ("crowd-image-classifier", "crowd-classifier")
_MULTI_SELECT = ("crowd-image-classifier-multi-select", "crowd-classifier-multi-select")

DAWID_SKENE = MethodSpec(
    "dawid-skene",
    "classification",
    _CLASSIFIERS,
    (OptionSpec("maxIterations", int, 1, 10_000, 1000, doc="guard on EM iterations"),),
)
MAJORITY_VOTE = MethodSpec("majority-vote", "classification", _CLASSIFIERS)
MULTI_LABEL = MethodSpec(
    "multi-label",
    "multilabel",
    _MULTI_SELECT,
    (OptionSpec("maxIterations", int, 1, 10_000, 100, doc="cap on EM iterations"),),
)
BOUNDING_BOX = MethodSpec(
    "bounding-box",
    "boxes",
    ("crowd-bounding-box",),
    (
        OptionSpec(
            "iouThreshold", float, 0, 1, 0.5, low_open=True, doc="IoU for two boxes to match"
        ),
    ),
)
SEMANTIC_SEGMENTATION = MethodSpec(
    "semantic-segmentation", "semantic", ("crowd-semantic-segmentation",)
)
INSTANCE_SEGMENTATION = MethodSpec(
    "instance-segmentation",
    "instance",
    ("crowd-instance-segmentation",),
    (
        OptionSpec(
            "iouThreshold", float, 0, 1, 0.5, low_open=True, doc="mask IoU for two instances"
        ),
    ),
)
NAMED_ENTITY = MethodSpec(
    "named-entity",
    "entities",
    ("crowd-entity-annotation",),
    (OptionSpec("jaccardThreshold", float, 0, 1, 0.5, low_open=True, doc="overlap for two spans"),),
)
FREE_TEXT = MethodSpec("free-text", "freetext", ("crowd-text-area", "crowd-input"))
ALL_ANNOTATIONS = MethodSpec("all-annotations", "raw", ())

#: Every consolidation method by name.
METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        DAWID_SKENE,
        MAJORITY_VOTE,
        MULTI_LABEL,
        BOUNDING_BOX,
        SEMANTIC_SEGMENTATION,
        INSTANCE_SEGMENTATION,
        NAMED_ENTITY,
        FREE_TEXT,
        ALL_ANNOTATIONS,
    )
}
#: The key of the one option every method has.
KEEP_ALL_ANNOTATIONS = "keepAllAnnotations"

# --------------------------------------------------------------------------- task types
#: Task types with their default consolidation method (the construct's ``TaskType``).
DEFAULT_METHODS: dict[str, str] = {
    "IMAGE_CLASSIFICATION": DAWID_SKENE.name,
    "TEXT_CLASSIFICATION": DAWID_SKENE.name,
    "IMAGE_MULTI_LABEL": MULTI_LABEL.name,
    "TEXT_MULTI_LABEL": MULTI_LABEL.name,
    "BOUNDING_BOX": BOUNDING_BOX.name,
    "SEMANTIC_SEGMENTATION": SEMANTIC_SEGMENTATION.name,
    "INSTANCE_SEGMENTATION": INSTANCE_SEGMENTATION.name,
    "NAMED_ENTITY": NAMED_ENTITY.name,
    "CUSTOM": ALL_ANNOTATIONS.name,
}
TASK_TYPES = tuple(DEFAULT_METHODS)
CUSTOM = "CUSTOM"


def default_method(task_type: str) -> str:
    """The consolidation method of a task type when none is chosen."""
    try:
        return DEFAULT_METHODS[task_type]
    except KeyError:
        raise ValueError(
            f"unknown task type {task_type!r}; allowed: {', '.join(TASK_TYPES)}"
        ) from None


def validate_consolidation(method: str, options: Mapping[str, Any]) -> list[str]:
    """Every problem of a method and its options (keys as in ``GT_CONSOLIDATION``)."""
    spec = METHODS.get(method)
    if spec is None:
        return [f"consolidation method {method!r} is unknown; allowed: {', '.join(METHODS)}"]
    problems = []
    known = {option.key: option for option in spec.options}
    for key, value in options.items():
        if key == KEEP_ALL_ANNOTATIONS:
            if not isinstance(value, bool):
                problems.append(f"{key} is {value!r}; allowed: true or false")
        elif key in known:
            problem = known[key].problem(value)
            if problem:
                problems.append(f"{method} {problem}")
        else:
            allowed = ", ".join([KEEP_ALL_ANNOTATIONS, *known]) or KEEP_ALL_ANNOTATIONS
            problems.append(f"{method} has no option {key!r}; allowed: {allowed}")
    return problems


# --------------------------------------------------------------------------- label attribute
#: ``CreateLabelingJob`` ``LabelAttributeName`` pattern (botocore model).
LABEL_ATTRIBUTE_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}")
#: Task types whose label is an S3 URI (the mask) rather than inline JSON.
MASK_TASK_TYPES = ("SEMANTIC_SEGMENTATION", "INSTANCE_SEGMENTATION")
#: Consolidation methods whose function writes masks (PNG) under the job's output prefix
#: (``<GT_OUTPUT_URI>/<job name>/consolidated-masks/``): the only ones that put objects.
MASK_METHODS = (SEMANTIC_SEGMENTATION.name, INSTANCE_SEGMENTATION.name)


def label_attribute_problems(name: str, task_type: str = CUSTOM) -> list[str]:
    """Every reason ``name`` cannot be the label attribute of one of our jobs.

    ``CreateLabelingJob`` allows a name ending in ``-ref`` only for the built-in
    semantic segmentation, video and 3D point-cloud task types (those run AWS's
    own pre-annotation functions). Every job of this library is a *custom* job
    (our functions), so no task type may use ``-ref`` — semantic and instance
    segmentation included: their label is still the mask's S3 URI, under a
    name such as ``street-mask``. A name may not end in ``-metadata`` either
    (Ground Truth writes ``<name>-metadata`` beside it).
    """
    problems = []
    if not LABEL_ATTRIBUTE_PATTERN.fullmatch(name):
        problems.append(
            f"label attribute name {name!r} must be 1-127 letters, digits and single or "
            "repeated hyphens, starting and ending with a letter or digit"
        )
    if name.endswith("-metadata"):
        problems.append(
            f"label attribute name {name!r} must not end in '-metadata' (Ground Truth writes "
            f"'{name}-metadata' beside the label)"
        )
    if name.endswith("-ref"):
        what = (
            f"even for segmentation, whose label is the mask's S3 URI: use e.g. '{name[:-4]}-mask'"
            if task_type in MASK_TASK_TYPES
            else f"use e.g. '{name[:-4]}'"
        )
        problems.append(
            f"label attribute name {name!r} must not end in '-ref': CreateLabelingJob allows "
            f"'-ref' only for built-in task types, and this is a custom job ({what})"
        )
    return problems


# --------------------------------------------------------------------------- settings
def _labels_from(env: Mapping[str, str], problems: list[str]) -> tuple[str, ...] | None:
    raw = env.get(ENV_LABELS)
    if not raw:
        return None
    try:
        labels = json.loads(raw)
    except ValueError:
        labels = None
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        problems.append(
            f'{ENV_LABELS} must be a JSON list of strings like ["Cat", "Dog"], got {raw[:80]!r}'
        )
        return None
    return tuple(labels)


def labels_from_categories(text: str) -> tuple[str, ...]:
    """The labels of a label-category file (``ValueError`` naming what is wrong)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"the label-category file is not JSON ({error})") from None
    entries = document.get("labels") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("label"), str) for e in entries
    ):
        raise ValueError(
            'the label-category file must be {"document-version": "2018-11-28", '
            '"labels": [{"label": "Cat"}, ...]}'
        )
    return tuple(e["label"] for e in entries)


def _categories_uri_from(env: Mapping[str, str], problems: list[str]) -> str | None:
    uri = env.get(ENV_LABEL_CATEGORIES_URI) or None
    if uri is not None and (not uri.startswith("s3://") or "/" not in uri[len("s3://") :]):
        problems.append(f"{ENV_LABEL_CATEGORIES_URI} must be s3://bucket/key, got {uri[:100]!r}")
        return None
    return uri


def _task_type_from(env: Mapping[str, str], problems: list[str]) -> str:
    task_type = env.get(ENV_TASK_TYPE) or CUSTOM
    if task_type not in DEFAULT_METHODS:
        problems.append(
            f"{ENV_TASK_TYPE} {task_type!r} is unknown; allowed: {', '.join(TASK_TYPES)}"
        )
        return CUSTOM
    return task_type


def _raise_if(problems: list[str], function: str) -> None:
    if problems:
        raise ConfigurationError(f"{function} function configuration: " + "; ".join(problems))


@dataclass(frozen=True)
class PreAnnotationSettings:
    """What the construct tells the pre-annotation function."""

    task_type: str = CUSTOM
    #: The job's labels, added to ``taskInput.labels`` (``None``: from
    #: ``label_categories_uri``, or not added).
    labels: tuple[str, ...] | None = None
    skip_if_labeled: str | None = None
    #: Where the labels are read from when ``labels`` is ``None`` (what the construct sets).
    label_categories_uri: str | None = None

    def to_environment(self) -> dict[str, str]:
        env = {ENV_TASK_TYPE: self.task_type}
        if self.labels is not None:
            env[ENV_LABELS] = json.dumps(list(self.labels))
        if self.label_categories_uri:
            env[ENV_LABEL_CATEGORIES_URI] = self.label_categories_uri
        if self.skip_if_labeled:
            env[ENV_SKIP_IF_LABELED] = self.skip_if_labeled
        return env

    @staticmethod
    def from_environment(env: Mapping[str, str] | None = None) -> PreAnnotationSettings:
        env = os.environ if env is None else env
        problems: list[str] = []
        settings = PreAnnotationSettings(
            task_type=_task_type_from(env, problems),
            labels=_labels_from(env, problems),
            skip_if_labeled=env.get(ENV_SKIP_IF_LABELED) or None,
            label_categories_uri=_categories_uri_from(env, problems),
        )
        _raise_if(problems, "pre-annotation")
        return settings


@dataclass(frozen=True)
class PostAnnotationSettings:
    """What the construct tells the post-annotation (consolidation) function."""

    task_type: str = CUSTOM
    answer_name: str | None = None
    method: str = ALL_ANNOTATIONS.name
    keep_all_annotations: bool = False
    #: ``{"method": ..., **method options}`` as the consolidators read them.
    options: Mapping[str, Any] = field(default_factory=dict)
    payload_access: str = PAYLOAD_ASSUME_EXECUTION_ROLE
    skill_table: str | None = None
    skill_scope_mode: str = SKILL_SCOPE_JOB
    output_uri: str | None = None
    metrics_namespace: str = METRICS_NAMESPACE
    #: The job's labels in the job's order: class ids follow them when the event carries
    #: no ``labelCategories`` (jobs made in the console). ``None``: from
    #: ``label_categories_uri``, or not known.
    labels: tuple[str, ...] | None = None
    #: Where the labels are read from when needed and ``labels`` is ``None``.
    label_categories_uri: str | None = None

    def consolidation_json(self) -> str:
        """The ``GT_CONSOLIDATION`` value: method, keepAllAnnotations and options, sorted."""
        body: dict[str, Any] = {
            "method": self.method,
            KEEP_ALL_ANNOTATIONS: self.keep_all_annotations,
        }
        body.update({k: v for k, v in self.options.items() if k != "method"})
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def problems(self) -> list[str]:
        """Every problem of these settings (the construct checks them at synth)."""
        problems = []
        if self.task_type not in DEFAULT_METHODS:
            problems.append(
                f"task type {self.task_type!r} is unknown; allowed: {', '.join(TASK_TYPES)}"
            )
        options = {k: v for k, v in self.options.items() if k != "method"}
        problems += validate_consolidation(self.method, options)
        if self.payload_access not in PAYLOAD_ACCESS_MODES:
            problems.append(
                f"payload access {self.payload_access!r} is unknown; "
                f"allowed: {', '.join(PAYLOAD_ACCESS_MODES)}"
            )
        if self.skill_scope_mode not in SKILL_SCOPES:
            problems.append(
                f"skill scope {self.skill_scope_mode!r} is unknown; allowed: {', '.join(SKILL_SCOPES)}"
            )
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            repeated = sorted({label for label in self.labels if self.labels.count(label) > 1})
            problems.append(f"labels must be unique; repeated: {', '.join(repeated)[:200]}")
        return problems

    def to_environment(self) -> dict[str, str]:
        env = {
            ENV_TASK_TYPE: self.task_type,
            ENV_ANSWER_NAME: self.answer_name or "",
            ENV_CONSOLIDATION: self.consolidation_json(),
            ENV_PAYLOAD_ACCESS: self.payload_access,
        }
        if self.skill_table:
            env[ENV_SKILL_TABLE] = self.skill_table
        env[ENV_SKILL_SCOPE] = self.skill_scope_mode
        if self.output_uri:
            env[ENV_OUTPUT_URI] = self.output_uri
        env[ENV_METRICS_NAMESPACE] = self.metrics_namespace
        if self.labels is not None:
            env[ENV_LABELS] = json.dumps(list(self.labels))
        if self.label_categories_uri:
            env[ENV_LABEL_CATEGORIES_URI] = self.label_categories_uri
        return env

    @staticmethod
    def from_environment(env: Mapping[str, str] | None = None) -> PostAnnotationSettings:
        """Settings from ``GT_*`` variables; ``ConfigurationError`` lists every problem."""
        env = os.environ if env is None else env
        problems: list[str] = []
        task_type = _task_type_from(env, problems)
        try:
            config = json.loads(env.get(ENV_CONSOLIDATION) or "{}")
        except ValueError:
            config = None
        if not isinstance(config, dict):
            problems.append(
                f'{ENV_CONSOLIDATION} must be a JSON object like {{"method": "dawid-skene", '
                f'"{KEEP_ALL_ANNOTATIONS}": false}}'
            )
            config = {}
        method = str(config.pop("method", "") or default_method(task_type))
        keep = config.pop(KEEP_ALL_ANNOTATIONS, False)
        if not isinstance(keep, bool):
            problems.append(f"{ENV_CONSOLIDATION} {KEEP_ALL_ANNOTATIONS} must be true or false")
        spec = METHODS.get(method)
        if spec is None:
            problems += validate_consolidation(method, {})
        else:
            # Bounds of known options are checked; snake_case spellings are accepted.
            for option in spec.options:
                value = config.get(option.key, config.get(option.snake_name))
                if value is not None and (problem := option.problem(value)):
                    problems.append(f"{ENV_CONSOLIDATION} {method} {problem}")
        access = env.get(ENV_PAYLOAD_ACCESS) or PAYLOAD_ASSUME_EXECUTION_ROLE
        if access not in PAYLOAD_ACCESS_MODES:
            problems.append(
                f"{ENV_PAYLOAD_ACCESS} {access!r} is unknown; allowed: {', '.join(PAYLOAD_ACCESS_MODES)}"
            )
        scope_mode = env.get(ENV_SKILL_SCOPE) or SKILL_SCOPE_JOB
        if scope_mode not in SKILL_SCOPES:
            problems.append(
                f"{ENV_SKILL_SCOPE} {scope_mode!r} is unknown; allowed: {', '.join(SKILL_SCOPES)}"
            )
        labels = _labels_from(env, problems)
        categories_uri = _categories_uri_from(env, problems)
        output_uri = env.get(ENV_OUTPUT_URI) or None
        if output_uri is not None and (
            not output_uri.startswith("s3://") or len(output_uri.rstrip("/")) <= len("s3://")
        ):
            problems.append(f"{ENV_OUTPUT_URI} must be s3://bucket[/prefix], got {output_uri!r}")
        _raise_if(problems, "post-annotation")
        return PostAnnotationSettings(
            task_type=task_type,
            answer_name=env.get(ENV_ANSWER_NAME) or None,
            method=method,
            keep_all_annotations=bool(keep) or method == ALL_ANNOTATIONS.name,
            options={"method": method, **config},
            payload_access=access,
            skill_table=env.get(ENV_SKILL_TABLE) or None,
            skill_scope_mode=scope_mode,
            output_uri=output_uri,
            metrics_namespace=env.get(ENV_METRICS_NAMESPACE) or METRICS_NAMESPACE,
            labels=labels,
            label_categories_uri=categories_uri,
        )
