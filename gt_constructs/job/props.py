"""The construct's props checked for their types, before any value is used.

Python does not check type hints, and the CDK's own checks (jsii's) raise a bare
``TypeError`` deep inside some ``aws_cdk`` call, naming an argument of that
call rather than the prop. A string where an integer belongs, or an int where
a ``Duration`` belongs, would otherwise end as ``TypeError: '<=' not supported``
or ``AttributeError: 'int' object has no attribute 'to_seconds'``; and a string
where a list of labels belongs would silently become one label per character.

``type_problems`` judges each prop against ``EXPECTED``: what is allowed, in
words for the message, and the test. A prop with a problem is replaced by a
neutral value (``NEUTRAL``) while the rest of the settings are built, so it
causes no second, confusing problem; the construct raises before any of them
is used. CDK interfaces (``s3.IBucket`` and the like) are jsii protocols that
``isinstance`` cannot test: they are recognised by the attribute that defines
them (``bucket_name``, ``key_arn``, ...).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_logs as logs

from ..consolidation import Consolidation
from ..dataset import Dataset
from ..runtime.aws.kind import Runtime
from ..task_type import TaskType
from ..template import WorkerTemplate
from ..validation import has_attribute
from .role import PayloadAccess
from .skill_table import SkillScope


@dataclass(frozen=True)
class Expect:
    """What one prop may be: ``allowed`` says it in a message, ``accepts`` tests it."""

    allowed: str
    accepts: Callable[[Any], bool]
    #: ``None`` is allowed (the prop's default is used).
    optional: bool = False


def _is_int(value: Any) -> bool:
    # bool is an int in Python, but never a count; a number token is a float.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and Token.is_unresolved(value))


def _is_strings(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def integer(what: str) -> Expect:
    return Expect(f"an integer, {what}", _is_int)


def optional_integer(what: str) -> Expect:
    return Expect(f"an integer, {what} (or None)", _is_int, optional=True)


def text(what: str, *, optional: bool = True) -> Expect:
    suffix = " (or None)" if optional else ""
    return Expect(f"a string, {what}{suffix}", lambda v: isinstance(v, str), optional)


def strings(what: str, *, optional: bool = False) -> Expect:
    suffix = " (or None)" if optional else ""
    return Expect(f"a list of strings, {what}{suffix}", _is_strings, optional)


def duration(what: str) -> Expect:
    return Expect(
        f"a Duration, {what} (e.g. Duration.minutes(10))", lambda v: isinstance(v, Duration)
    )


BOOLEAN = Expect("True or False", lambda v: isinstance(v, bool))


def member_of(kind: type[enum.Enum], *, optional: bool = False) -> Expect:
    names = ", ".join(f"{kind.__name__}.{m.name}" for m in kind)
    suffix = " (or None)" if optional else ""
    return Expect(f"one of {names}{suffix}", lambda v: isinstance(v, kind), optional)


def instance_of(kind: type, example: str, *, optional: bool = False) -> Expect:
    suffix = " (or None)" if optional else ""
    return Expect(
        f"a {kind.__name__}, e.g. {example}{suffix}", lambda v: isinstance(v, kind), optional
    )


def cdk_interface(interface: str, attribute: str, example: str, *, optional: bool = True) -> Expect:
    """A CDK interface (a jsii protocol), recognised by the attribute that defines it."""
    suffix = " (or None)" if optional else ""
    return Expect(
        f"an {interface}, e.g. {example}{suffix}",
        lambda v: has_attribute(v, attribute),
        optional=optional,
    )


def _is_runtime(value: Any) -> bool:
    from ..runtime.aws.construct import SelfHostedRuntime

    return isinstance(value, Runtime | SelfHostedRuntime)


#: Every prop of ``CustomLabelingJob`` (but ``scope`` and ``construct_id``).
EXPECTED: dict[str, Expect] = {
    "task_type": member_of(TaskType),
    "labels": strings("the label categories, e.g. ['Cat', 'Dog']"),
    "dataset": instance_of(Dataset, "Dataset.from_local_directory('images')"),
    "workteam": cdk_interface(
        "IWorkteam",
        "workteam_arn",
        "PrivateWorkteam.from_workteam_arn(scope, 'Team', arn)",
        optional=False,
    ),
    "template": instance_of(
        WorkerTemplate, "WorkerTemplate.from_file('template.liquid.html')", optional=True
    ),
    "workers_per_object": integer("1–9"),
    "task_title": text("1–128 characters"),
    "task_description": text("1–255 characters"),
    "task_keywords": strings("1–5 keywords", optional=True),
    "task_time_limit": duration("30 s–8 h"),
    "task_availability_lifetime": duration("60 s–30 days"),
    "max_concurrent_task_count": integer("1–5000"),
    "consolidation": instance_of(Consolidation, "Consolidation.dawid_skene()", optional=True),
    "payload_access": member_of(PayloadAccess),
    "input_bucket": cdk_interface("s3.IBucket", "bucket_name", "s3.Bucket(...)"),
    "output_bucket": cdk_interface("s3.IBucket", "bucket_name", "s3.Bucket(...)"),
    "access_logs_bucket": cdk_interface("s3.IBucket", "bucket_name", "s3.Bucket(...)"),
    "encryption_key": cdk_interface("kms.IKey", "key_arn", "kms.Key(...)"),
    "role": cdk_interface("iam.IRole", "role_arn", "iam.Role(...)"),
    "pre_annotation_function": cdk_interface(
        "lambda_.IFunction", "function_arn", "lambda_.Function(...)"
    ),
    "post_annotation_function": cdk_interface(
        "lambda_.IFunction", "function_arn", "lambda_.Function(...)"
    ),
    "skill_table": cdk_interface("dynamodb.ITable", "table_name", "dynamodb.Table(...)"),
    "removal_policy": member_of(RemovalPolicy),
    "label_attribute_name": text("1–127 letters, digits and hyphens"),
    "output_prefix": text("an S3 key prefix"),
    "job_name_prefix": text("letters, digits and hyphens"),
    "start_on_deploy": BOOLEAN,
    "stop_replaced_jobs": BOOLEAN,
    "max_human_labeled_object_count": optional_integer("1–100000000"),
    "max_percentage_of_input_dataset_labeled": optional_integer("1–100"),
    "free_of_personally_identifiable_information": BOOLEAN,
    "free_of_adult_content": BOOLEAN,
    "skip_objects_labeled_with": text("a label attribute name"),
    "skill_scope": member_of(SkillScope),
    "notification_emails": strings("e-mail addresses"),
    "log_retention": member_of(logs.RetentionDays),
    "runtime": Expect(
        "Runtime.GROUND_TRUTH, Runtime.SELF_HOSTED or a SelfHostedRuntime(...)", _is_runtime
    ),
}

#: Stand-ins for props of the wrong type while the settings are built: valid, so that
#: a wrong prop causes only its own problem (never used: the construct raises first).
NEUTRAL: dict[str, Any] = {
    "task_type": TaskType.CUSTOM,
    "labels": (),
    "workers_per_object": 3,
    "task_time_limit": Duration.minutes(10),
    "task_availability_lifetime": Duration.days(10),
    "max_concurrent_task_count": 1000,
    "payload_access": PayloadAccess.ASSUME_EXECUTION_ROLE,
    "skill_scope": SkillScope.JOB,
    "free_of_personally_identifiable_information": False,
    "free_of_adult_content": False,
}


def describe(value: Any) -> str:
    """A given value as a message shows it: short, with its type."""
    if isinstance(value, Duration):
        return f"a Duration ({value.to_human_string()})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, str | int | float | bool | list | tuple | dict):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"{shown} ({_a(type(value).__name__)})"
    return _a(type(value).__name__)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _hint(name: str, value: Any) -> str:
    """A suggestion when the value is the name of what was meant (``'BOUNDING_BOX'``)."""
    if name == "task_type" and isinstance(value, str) and value.upper() in TaskType.__members__:
        return f" (did you mean TaskType.{value.upper()}?)"
    if name in ("labels", "task_keywords", "notification_emails") and isinstance(value, str):
        return f" (did you mean [{value!r}]?)"
    allowed = EXPECTED[name].allowed
    if isinstance(value, int | float) and not isinstance(value, bool) and "Duration" in allowed:
        return f" (did you mean Duration.seconds({value})?)"
    if isinstance(value, str) and value.strip().isdigit() and allowed.startswith("an integer"):
        return f" (did you mean {int(value)}?)"
    return ""


def type_problems(props: Mapping[str, Any]) -> dict[str, str]:
    """The problem of each prop whose value has the wrong type, by prop name."""
    problems = {}
    for name, value in props.items():
        expect = EXPECTED[name]
        if value is None and expect.optional:
            continue
        if not expect.accepts(value):
            problems[name] = (
                f"{name} is {describe(value)}; allowed: {expect.allowed}{_hint(name, value)}"
            )
    return problems


def neutral(name: str) -> Any:
    """The stand-in for a prop of the wrong type (``None``: the prop's default)."""
    return NEUTRAL.get(name)
