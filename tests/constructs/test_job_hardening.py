"""CustomLabelingJob hardening (issue 13): alarms that can notify, logs under the
customer key, DIRECT_READ grants per task type, consolidation errors watched.

One nag-checked synth for the module: a classification job without a key
(``Plain``), a classification job with a key, an imported output bucket and an
S3-prefix dataset (``Keyed``), and a semantic segmentation job with a key and
its own log retention (``Segmentation``); all three DIRECT_READ.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from gt_annotation.metrics import emit_consolidation_metrics
from gt_constructs.lambda_src.gt_annotation.contract import (
    METRIC_CONSOLIDATION_ERRORS,
    METRICS_NAMESPACE,
)

from gt_constructs import CustomLabelingJob, Dataset, PayloadAccess, PrivateWorkteam, TaskType
from tests.support import synth_stacks

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "examples" / "street-scenes"
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team"
ACCOUNT = "111122223333"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")


def _job(stack: cdk.Stack, **props: Any) -> CustomLabelingJob:
    return CustomLabelingJob(
        stack,
        "Job",
        workteam=PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN),
        payload_access=PayloadAccess.DIRECT_READ,
        **props,
    )


def _build(app: cdk.App) -> list[cdk.Stack]:
    plain = cdk.Stack(app, "Plain", env=ENV)
    _job(
        plain,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_local_directory(IMAGES),
    )
    keyed = cdk.Stack(app, "Keyed", env=ENV)
    photos = s3.Bucket.from_bucket_name(keyed, "Photos", "street-photos")
    _job(
        keyed,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_s3_prefix(photos, "2026/11/"),
        output_bucket=s3.Bucket.from_bucket_name(keyed, "Results", "labeling-results"),
        encryption_key=kms.Key(keyed, "Key", enable_key_rotation=True),
    )
    segmentation = cdk.Stack(app, "Segmentation", env=ENV)
    _job(
        segmentation,
        task_type=TaskType.SEMANTIC_SEGMENTATION,
        labels=["Sky", "Road"],
        dataset=Dataset.from_local_directory(IMAGES),
        encryption_key=kms.Key(segmentation, "Key", enable_key_rotation=True),
        log_retention=logs.RetentionDays.TWO_WEEKS,
    )
    return [plain, keyed, segmentation]


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return synth_stacks(_build)


def _resources(template: Template, kind: str) -> dict[str, Any]:
    return template.find_resources(kind)


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- 1. alarms can notify -------------------------------------------------------------------
def _cloudwatch_statements(template: Template, topic_id: str) -> list[dict[str, Any]]:
    """Statements of the topic's policies that let CloudWatch publish to it."""
    found = []
    for policy in _resources(template, "AWS::SNS::TopicPolicy").values():
        props = policy["Properties"]
        if {"Ref": topic_id} not in props["Topics"]:
            continue
        for statement in _statements(props["PolicyDocument"]):
            if (
                statement["Effect"] == "Allow"
                and statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
                and "sns:Publish" in _as_list(statement["Action"])
            ):
                found.append(statement)
    return found


def _source_arn_matches(condition: dict[str, Any], alarm_id: str) -> bool:
    """The alarm's own ARN is one of the condition's aws:SourceArn values (exact ARNs)."""
    arn = {"Fn::GetAtt": [alarm_id, "Arn"]}
    values = [
        value
        for operator in ("ArnEquals", "ArnLike")
        for value in _as_list(condition.get(operator, {}).get("aws:SourceArn", []))
    ]
    return arn in values


@pytest.mark.parametrize("name", ["Plain", "Keyed", "Segmentation"])
def test_every_alarm_action_is_a_topic_cloudwatch_may_publish_to(
    templates: dict[str, Template], name: str
) -> None:
    template = templates[name]
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for alarm_id, alarm in alarms.items():
        actions = alarm["Properties"]["AlarmActions"]
        assert actions, alarm_id
        for action in actions:
            assert set(action) == {"Ref"}, f"{alarm_id}: action {action} is not a topic"
            statements = _cloudwatch_statements(template, action["Ref"])
            assert statements, f"{alarm_id}: CloudWatch may not publish to {action['Ref']}"
            assert any(
                s["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
                and _source_arn_matches(s["Condition"], alarm_id)
                for s in statements
            ), f"{alarm_id}: no statement names this alarm and the account"


def test_cloudwatch_may_publish_only_for_the_jobs_alarms(templates: dict[str, Template]) -> None:
    template = templates["Plain"]
    (topic_id,) = _resources(template, "AWS::SNS::Topic")
    (statement,) = _cloudwatch_statements(template, topic_id)
    named = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert sorted(json.dumps(a) for a in named) == sorted(
        json.dumps({"Fn::GetAtt": [alarm_id, "Arn"]}) for alarm_id in alarms
    )
    assert statement["Resource"] == {"Ref": topic_id}


# -- 2. logs under the customer key -----------------------------------------------------------
def _key_id(template: Template) -> str:
    keys = [k for k in _resources(template, "AWS::KMS::Key") if k.startswith("Key")]
    assert len(keys) == 1
    return keys[0]


@pytest.mark.parametrize("name", ["Keyed", "Segmentation"])
def test_customer_key_encrypts_every_log_group(templates: dict[str, Template], name: str) -> None:
    template = templates[name]
    groups = _resources(template, "AWS::Logs::LogGroup")
    # Pre, post, lifecycle handler, runner, BucketDeployment provider (+ crawler or dataset).
    assert len(groups) >= 5
    key = {"Fn::GetAtt": [_key_id(template), "Arn"]}
    for group_id, group in groups.items():
        assert group["Properties"].get("KmsKeyId") == key, group_id


@pytest.mark.parametrize("name", ["Keyed", "Segmentation"])
def test_key_lets_cloudwatch_logs_use_it_for_the_accounts_log_groups(
    templates: dict[str, Template], name: str
) -> None:
    template = templates[name]
    key = _resources(template, "AWS::KMS::Key")[_key_id(template)]
    statements = [
        s
        for s in _statements(key["Properties"]["KeyPolicy"])
        if s.get("Principal") == {"Service": "logs.us-east-1.amazonaws.com"}
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert statement["Effect"] == "Allow"
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"} <= set(statement["Action"])
    pattern = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert json.dumps(pattern).endswith(':logs:us-east-1:111122223333:log-group:*"]]}')


def test_without_a_key_log_groups_are_not_encrypted(templates: dict[str, Template]) -> None:
    template = templates["Plain"]
    groups = _resources(template, "AWS::Logs::LogGroup")
    assert groups
    assert not any("KmsKeyId" in g["Properties"] for g in groups.values())
    for key in _resources(template, "AWS::KMS::Key").values():
        assert "logs." not in json.dumps(key["Properties"]["KeyPolicy"])


@pytest.mark.parametrize(
    ("name", "days", "encrypted"),
    [("Plain", 30, False), ("Keyed", 30, True), ("Segmentation", 14, True)],
)
def test_bucket_deployment_provider_logs_with_the_jobs_retention(
    templates: dict[str, Template], name: str, days: int, encrypted: bool
) -> None:
    template = templates[name]
    providers = {
        fid: f
        for fid, f in _resources(template, "AWS::Lambda::Function").items()
        if fid.startswith("CustomCDKBucketDeployment")
    }
    assert len(providers) == 1
    (provider,) = providers.values()
    group_id = provider["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = _resources(template, "AWS::Logs::LogGroup")[group_id]["Properties"]
    assert group["RetentionInDays"] == days
    assert ("KmsKeyId" in group) is encrypted
    for other_id, other in _resources(template, "AWS::Logs::LogGroup").items():
        assert other["Properties"]["RetentionInDays"] == days, other_id


# -- 3. DIRECT_READ grants what each task type's function does -------------------------------
def _post_role_statements(template: Template) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        if "PostAnnotationRole" in json.dumps(policy["Properties"].get("Roles", [])):
            statements.extend(_statements(policy["Properties"]["PolicyDocument"]))
    assert statements
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in _as_list(s["Action"])}


@pytest.mark.parametrize("name", ["Plain", "Keyed"])
def test_classification_post_role_writes_no_masks_and_cannot_reencrypt(
    templates: dict[str, Template], name: str
) -> None:
    statements = _post_role_statements(templates[name])
    assert "consolidated-masks" not in json.dumps(statements)
    assert not [a for a in _actions(statements) if a.startswith("s3:Put")]
    assert "kms:ReEncrypt*" not in _actions(statements)
    # Beyond decrypting: only data keys of the skill table, and only through DynamoDB.
    outside_dynamodb = [
        s for s in statements if "kms:ViaService" not in json.dumps(s.get("Condition", {}))
    ]
    assert {a for a in _actions(outside_dynamodb) if a.startswith("kms:")} <= {
        "kms:Decrypt",
        "kms:DescribeKey",
    }


def test_direct_read_decrypts_the_output_with_the_jobs_key(templates: dict[str, Template]) -> None:
    # The output bucket is imported: the job's key (the request's KmsKeyId) is what
    # Ground Truth writes the payload with.
    template = templates["Keyed"]
    key = {"Fn::GetAtt": [_key_id(template), "Arn"]}
    statements = _post_role_statements(template)
    assert any("kms:Decrypt" in _as_list(s["Action"]) and s["Resource"] == key for s in statements)


def test_segmentation_post_role_writes_masks_only_under_consolidated_masks(
    templates: dict[str, Template],
) -> None:
    template = templates["Segmentation"]
    statements = _post_role_statements(template)
    writes = [s for s in statements if any(a.startswith("s3:Put") for a in _as_list(s["Action"]))]
    assert len(writes) == 1
    (write,) = writes
    assert _as_list(write["Action"]) == ["s3:PutObject"]
    assert json.dumps(write["Resource"]).endswith(
        '"/labeling-jobs/semantic-segmentation/output/*/consolidated-masks/*"]]}'
    )
    kms_actions = {a for a in _actions(statements) if a.startswith("kms:")}
    assert "kms:GenerateDataKey" in kms_actions
    assert not kms_actions & {"kms:ReEncrypt*", "kms:Encrypt", "kms:GenerateDataKey*"}


# -- 4. consolidation errors ------------------------------------------------------------------
def _post_function_id(template: Template) -> str:
    (function_id,) = [
        fid
        for fid, f in _resources(template, "AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == "gt_annotation.post_annotation.handler"
    ]
    return function_id


def test_consolidation_errors_alarm_notifies_the_topic(templates: dict[str, Template]) -> None:
    template = templates["Plain"]
    alarms = [
        a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == METRIC_CONSOLIDATION_ERRORS
    ]
    assert len(alarms) == 1
    (alarm,) = alarms
    (topic_id,) = _resources(template, "AWS::SNS::Topic")
    assert alarm["Namespace"] == METRICS_NAMESPACE
    assert alarm["Dimensions"] == [
        {"Name": "Function", "Value": {"Ref": _post_function_id(template)}}
    ]
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300
    # A count of objects: >= 1 is > 0, in one period.
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_consolidation_errors_alarm_reads_what_the_function_emits() -> None:
    # The alarm's namespace, metric and dimension are those of the function's EMF record.
    stream = io.StringIO()
    emit_consolidation_metrics(
        job_name="j", objects=3, rejected=0, mean_confidence=None, errors=2, stream=stream
    )
    record = json.loads(stream.getvalue())
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRICS_NAMESPACE
    assert ["Function"] in directive["Dimensions"]
    assert {"Name": METRIC_CONSOLIDATION_ERRORS, "Unit": "Count"} in directive["Metrics"]
    assert record[METRIC_CONSOLIDATION_ERRORS] == 2


def test_dashboard_shows_consolidation_errors(templates: dict[str, Template]) -> None:
    (dashboard,) = _resources(templates["Plain"], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Consolidation errors" in body
    assert f'\\"{METRIC_CONSOLIDATION_ERRORS}\\"' in body


# -- shared provider, imported key: said at synth ---------------------------------------------
def _classification(stack: cdk.Stack, construct_id: str = "Job", **props: Any) -> None:
    CustomLabelingJob(
        stack,
        construct_id,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_local_directory(IMAGES, prefix=f"datasets/{construct_id}"),
        workteam=PrivateWorkteam.from_workteam_arn(stack, f"{construct_id}Team", WORKTEAM_ARN),
        label_attribute_name=construct_id.lower(),
        **props,
    )


def _warnings(stack: cdk.Stack, text: str) -> list[Any]:
    from aws_cdk.assertions import Annotations, Match

    return Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(text))


def test_jobs_of_one_stack_share_the_providers_log_group() -> None:
    stack = cdk.Stack(cdk.App(), "Two", env=ENV)
    _classification(stack, "First")
    _classification(stack, "Second")
    template = Template.from_stack(stack)
    used = json.dumps(
        [
            *_resources(template, "AWS::Lambda::Function").values(),
            *_resources(template, "AWS::StepFunctions::StateMachine").values(),
        ]
    )
    for group_id in _resources(template, "AWS::Logs::LogGroup"):
        assert f'"{group_id}"' in used, f"{group_id} is used by no function or state machine"
    assert not _warnings(stack, "BucketDeployment")


def test_warns_when_the_provider_was_made_before_the_job() -> None:
    from aws_cdk import aws_s3_deployment as s3deploy

    stack = cdk.Stack(cdk.App(), "Before", env=ENV)
    s3deploy.BucketDeployment(
        stack,
        "Earlier",
        sources=[s3deploy.Source.data("a.txt", "a")],
        destination_bucket=s3.Bucket(stack, "Site"),
        memory_limit=512,
    )
    _classification(stack)
    assert len(_warnings(stack, "keeps aws-cdk-lib's default log group")) == 1
    template = Template.from_stack(stack)
    assert not [g for g in _resources(template, "AWS::Logs::LogGroup") if "BucketDeployment" in g]


def test_warns_when_an_imported_key_cannot_let_logs_use_it() -> None:
    stack = cdk.Stack(cdk.App(), "Imported", env=ENV)
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    _classification(stack, encryption_key=key)
    assert len(_warnings(stack, "its key policy must allow the CloudWatch Logs service")) == 1
