"""The construct's functions read what the construct wrote: the Lambda contract, end to end.

Each function the stacks synthesize from ``lambda_src`` with a settings class in a
``contract.py`` (pre-annotation, post-annotation, the workforce's invitation
function) gets its synthesized ``Environment.Variables``, unresolved references
replaced by plausible strings, fed into that class's ``from_environment()``.
It must parse, write the same environment back, and hold the settings the
construct meant to give it. A variable renamed on one side only, or a value
the function would refuse, fails here rather than in a deployed job.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from gt_constructs.lambda_src.gt_annotation.contract import (
    PostAnnotationSettings,
    PreAnnotationSettings,
)
from gt_constructs.lambda_src.gt_resources.contract import (
    InvitationSettings,
    default_invitation_subject,
)

from gt_constructs import (
    Consolidation,
    CustomLabelingJob,
    Dataset,
    PayloadAccess,
    PrivateWorkteam,
    SkillScope,
    TaskType,
)
from gt_constructs.workteam.settings import DEFAULT_WORKFORCE_NAME
from tests.support import DEFAULT_ENV, synth_stacks

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "examples" / "street-scenes"

#: The settings class of each function handler that reads one.
SETTINGS_BY_HANDLER: dict[str, type] = {
    "gt_annotation.pre_annotation.handler": PreAnnotationSettings,
    "gt_annotation.post_annotation.handler": PostAnnotationSettings,
    "gt_resources.workforce_client.invitation_handler": InvitationSettings,
}


@dataclasses.dataclass
class Built:
    templates: dict[str, Template]
    #: stack name → function handler → the settings the construct meant to write.
    expected: dict[str, dict[str, Any]]
    stacks: dict[str, cdk.Stack]


def _classification(app: cdk.App) -> tuple[cdk.Stack, dict[str, Any]]:
    stack = cdk.Stack(app, "Classification", env=DEFAULT_ENV)
    team = PrivateWorkteam(stack, "Team", worker_emails=["ana@example.com"])
    job = CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_local_directory(IMAGES),
        workteam=team,
    )
    invitation = InvitationSettings(
        DEFAULT_WORKFORCE_NAME,
        team.workteam_name,
        default_invitation_subject(team.workteam_name),
    )
    return stack, _job_settings(job) | {
        "gt_resources.workforce_client.invitation_handler": invitation
    }


def _boxes(app: cdk.App) -> tuple[cdk.Stack, dict[str, Any]]:
    stack = cdk.Stack(app, "Boxes", env=DEFAULT_ENV)
    data = s3.Bucket.from_bucket_name(stack, "Data", "existing-data-bucket")
    job = CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.BOUNDING_BOX,
        labels=["Car", "Bus"],
        dataset=Dataset.from_s3_prefix(data, "traffic/"),
        workteam=PrivateWorkteam.from_workteam_arn(
            stack,
            "Team",
            "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team",
        ),
        consolidation=Consolidation.bounding_boxes(iou_threshold=0.7, keep_all_annotations=True),
        payload_access=PayloadAccess.DIRECT_READ,
        skill_scope=SkillScope.LABEL_SET,
        skip_objects_labeled_with="vehicles",
        label_attribute_name="vehicles-v2",
    )
    return stack, _job_settings(job)


def _job_settings(job: CustomLabelingJob) -> dict[str, Any]:
    return {
        "gt_annotation.pre_annotation.handler": job.pre_annotation_contract,
        "gt_annotation.post_annotation.handler": job.post_annotation_contract,
    }


@pytest.fixture(scope="module")
def built() -> Built:
    expected: dict[str, dict[str, Any]] = {}
    stacks: dict[str, cdk.Stack] = {}

    def build(app: cdk.App) -> list[cdk.Stack]:
        for make in (_classification, _boxes):
            stack, settings = make(app)
            expected[stack.stack_name] = settings
            stacks[stack.stack_name] = stack
        return list(stacks.values())

    return Built(synth_stacks(build), expected, stacks)


def plausible(value: Any, resources: dict[str, Any]) -> Any:
    """``value`` with every CloudFormation reference replaced by a string of the kind it
    will be at deploy: a table or bucket name, an ARN attribute, a joined string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            kind = resources.get(argument, {}).get("Type", "")
            name = argument.lower()[:40]
            return {"AWS::DynamoDB::Table": f"skill-{name}", "AWS::S3::Bucket": f"b-{name}"}.get(
                kind, name
            )
        if function == "Fn::GetAtt":
            return f"{argument[0]}-{argument[1]}".lower()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(plausible(part, resources) for part in parts)
    if isinstance(value, dict):
        return {key: plausible(item, resources) for key, item in value.items()}
    raise AssertionError(f"no plausible string for {value!r}")


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    """The functions from lambda_src, by handler (one of each per stack here)."""
    found: dict[str, dict[str, Any]] = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        handler = function["Properties"].get("Handler", "")
        if handler.startswith(("gt_annotation.", "gt_resources.")):
            assert handler not in found, f"two functions with {handler}"
            found[handler] = function["Properties"]
    return found


def test_every_function_that_reads_gt_settings_has_a_settings_class(built: Built) -> None:
    for name, template in built.templates.items():
        for handler, props in _functions(template).items():
            variables = props.get("Environment", {}).get("Variables", {})
            if variables:
                assert handler in SETTINGS_BY_HANDLER, f"{name}: {handler} reads {variables}"


@pytest.mark.parametrize("stack", ["Classification", "Boxes"])
def test_each_function_parses_its_synthesized_environment_and_round_trips(
    built: Built, stack: str
) -> None:
    template = built.templates[stack]
    resources = template.to_json()["Resources"]
    functions = _functions(template)
    assert set(built.expected[stack]) <= set(functions)
    for handler, expected in built.expected[stack].items():
        synthesized = functions[handler].get("Environment", {}).get("Variables", {})
        env = plausible(synthesized, resources)
        settings = SETTINGS_BY_HANDLER[handler].from_environment(env)
        # What the function reads, written back, is what the construct wrote...
        assert settings.to_environment() == env, handler
        # ...which is what the construct meant: its own settings, tokens made plausible.
        meant = plausible(built.stacks[stack].resolve(expected.to_environment()), resources)
        assert meant == env, handler


def test_post_annotation_settings_survive_the_environment(built: Built) -> None:
    resources = built.templates["Boxes"].to_json()["Resources"]
    synthesized = _functions(built.templates["Boxes"])["gt_annotation.post_annotation.handler"]
    parsed = PostAnnotationSettings.from_environment(
        plausible(synthesized["Environment"]["Variables"], resources)
    )
    meant: PostAnnotationSettings = built.expected["Boxes"]["gt_annotation.post_annotation.handler"]
    for field in (
        "task_type",
        "answer_name",
        "method",
        "keep_all_annotations",
        "payload_access",
        "skill_scope_mode",
        "metrics_namespace",
        "labels",
    ):
        assert getattr(parsed, field) == getattr(meant, field), field
    assert {k: v for k, v in parsed.options.items() if k != "method"} == dict(meant.options)
    # The labels by reference: the label-category file (Lambda's 4 KB environment)
    assert parsed.labels is None
    assert parsed.label_categories_uri
    assert parsed.label_categories_uri.endswith("/config/label-categories.json")
    assert parsed.skill_table and parsed.skill_table.startswith("skill-")
    assert parsed.output_uri and parsed.output_uri.startswith("s3://")


def test_pre_annotation_settings_survive_the_environment(built: Built) -> None:
    resources = built.templates["Boxes"].to_json()["Resources"]
    synthesized = _functions(built.templates["Boxes"])["gt_annotation.pre_annotation.handler"]
    parsed = PreAnnotationSettings.from_environment(
        plausible(synthesized["Environment"]["Variables"], resources)
    )
    meant = built.expected["Boxes"]["gt_annotation.pre_annotation.handler"]
    assert (parsed.task_type, parsed.labels, parsed.skip_if_labeled) == (
        meant.task_type,
        meant.labels,
        meant.skip_if_labeled,
    )
    assert parsed.skip_if_labeled == "vehicles"
    # the labels by reference, from the job's label-category file
    assert parsed.labels is None and parsed.label_categories_uri
    assert parsed.label_categories_uri.endswith("/config/label-categories.json")
