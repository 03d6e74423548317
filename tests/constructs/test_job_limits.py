"""Limits a deploy would hit: Lambda's 4 KB environment (checked at synth, labels by
reference in S3) and the post-annotation function's timeout."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from gt_annotation.contract import MAX_ENVIRONMENT_BYTES, environment_size

from gt_constructs import (
    Consolidation,
    CustomLabelingJob,
    Dataset,
    PayloadAccess,
    PrivateWorkteam,
    TaskType,
)
from tests.support import synth_stacks

ENV = cdk.Environment(account="111122223333", region="us-east-1")
TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t"
#: 50 labels of 100 characters: what validation allows (gave 5.2 and 5.6 KB environments).
LONG_LABELS = [f"{i:02d} " + "x" * 97 for i in range(50)]


def _job(stack: cdk.Stack, construct_id: str = "Job", **props: Any) -> CustomLabelingJob:
    data = s3.Bucket.from_bucket_name(stack, f"{construct_id}Data", "street-photos")
    defaults: dict[str, Any] = {
        "task_type": TaskType.IMAGE_MULTI_LABEL,
        "labels": LONG_LABELS,
    }
    defaults.update(props)
    return CustomLabelingJob(
        stack,
        construct_id,
        dataset=Dataset.from_manifest(data, "batches/1.manifest", data_prefix="photos/"),
        workteam=PrivateWorkteam.from_workteam_arn(stack, f"{construct_id}Team", TEAM),
        **defaults,
    )


def many_labels(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "ManyLabels", env=ENV)
    _job(stack)
    _job(stack, "Segments", task_type=TaskType.SEMANTIC_SEGMENTATION, labels=LONG_LABELS[:20])
    _job(
        stack,
        "Kept",
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        consolidation=Consolidation.dawid_skene(keep_all_annotations=True),
        payload_access=PayloadAccess.DIRECT_READ,
    )
    return stack


@pytest.fixture(scope="module")
def template() -> Template:
    return synth_stacks(lambda app: [many_labels(app)])["ManyLabels"]


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template.find_resources("AWS::Lambda::Function").items()}


def _literal_size(variables: dict[str, Any]) -> int:
    """Deploy-time values (bucket names...) are counted as 63 characters (S3's maximum)."""
    return environment_size(
        {k: v if isinstance(v, str) else "x" * 63 + json.dumps(v)[:0] for k, v in variables.items()}
    )


def test_every_function_environment_fits_lambdas_4_kb_with_50_long_labels(
    template: Template,
) -> None:
    for logical_id, props in _functions(template).items():
        variables = (props.get("Environment") or {}).get("Variables") or {}
        assert _literal_size(variables) <= MAX_ENVIRONMENT_BYTES, logical_id
        assert "GT_LABELS" not in variables, logical_id


def test_annotation_functions_get_the_labels_by_reference(template: Template) -> None:
    functions = _functions(template)
    annotation = [
        p for p in functions.values() if str(p.get("Handler", "")).startswith("gt_annotation")
    ]
    assert len(annotation) == 6
    for props in annotation:
        uri = json.dumps(props["Environment"]["Variables"]["GT_LABEL_CATEGORIES_URI"])
        assert "label-categories.json" in uri


def test_pre_annotation_role_reads_exactly_the_label_category_file(template: Template) -> None:
    policies = template.find_resources("AWS::IAM::Policy")
    (pre,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in policies.values()
        if p["Properties"]["Roles"][0]["Ref"].startswith("JobPreAnnotationRole")
    ]
    reads = [s for s in pre if s["Action"] == "s3:GetObject"]
    assert len(reads) == 1
    assert json.dumps(reads[0]["Resource"]).endswith(
        '"/labeling-jobs/image-multi-label/config/label-categories.json"]]}'
    )


def test_post_annotation_timeout_is_sized_to_the_task_type(template: Template) -> None:
    timeouts = {
        k: p["Timeout"]
        for k, p in _functions(template).items()
        if p.get("Handler") == "gt_annotation.post_annotation.handler"
    }
    segments = [t for k, t in timeouts.items() if k.startswith("Segments")]
    others = [t for k, t in timeouts.items() if not k.startswith("Segments")]
    assert segments == [900] and others == [300, 300]


def test_direct_read_function_that_keeps_answers_may_put_them_only_by_reference(
    template: Template,
) -> None:
    policies = template.find_resources("AWS::IAM::Policy")
    statements = [
        statement
        for p in policies.values()
        if p["Properties"]["Roles"][0]["Ref"].startswith("KeptPostAnnotationRole")
        for statement in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    puts = [s for s in statements if "s3:PutObject" in json.dumps(s["Action"])]
    assert len(puts) == 1 and puts[0]["Action"] == "s3:PutObject"
    assert json.dumps(puts[0]["Resource"]).endswith(
        '"/labeling-jobs/image-classification/output/*/annotations-from-all-workers/*"]]}'
    )


def test_fails_when_a_function_environment_is_over_4_kb() -> None:
    # GIVEN a job function whose environment someone made too large
    app = cdk.App()
    stack = cdk.Stack(app, "Big", env=ENV)
    job = _job(stack, labels=["Cat", "Dog"])
    assert isinstance(job.post_annotation_function, cdk.aws_lambda.Function)
    job.post_annotation_function.add_environment("NOTES", "n" * 5000)
    # THEN synth stops, naming the function and the size
    with pytest.raises(
        RuntimeError,
        match=r"function Big/Job/PostAnnotation: its environment is at least 5\d\d\d bytes "
        r"\(\d+ variables, the largest NOTES\); Lambda allows 4096 bytes",
    ):
        app.synth()
