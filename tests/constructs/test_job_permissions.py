"""Permissions a real deployment needs, and no more (issue 17, points 5–10).

One nag-checked synth for the module (``templates``), of the configurations
users run: the defaults (``Default``); a customer key, ``DESTROY`` and a batch
input granted with ``grant_batch_input`` (``Keyed``); a skill table of one's
own with its own key and DIRECT_READ (``SharedTable``); a role of one's own
and a manifest dataset without a data prefix (``GivenRole``); a workteam with
a customer key (``Team``). One more synth (``foreign``) adds wildcards the
job did not make and expects cdk-nag to stop it. What a policy allows is
evaluated (actions, resources, conditions), not only looked up as text.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk.assertions import Template

from gt_constructs import (
    ConfigurationError,
    CustomLabelingJob,
    Dataset,
    PayloadAccess,
    PrivateWorkteam,
    TaskType,
)
from tests.support import cfn_lint_findings, new_app, synth_stacks

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "examples" / "street-scenes"
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team"
ACCOUNT = "111122223333"
REGION = "us-east-1"
ENV = cdk.Environment(account=ACCOUNT, region=REGION)
#: The README's Lifecycle example.
README_BATCH = "arn:aws:s3:::my-input/batches/2.manifest"


def _job(stack: cdk.Stack, **props: Any) -> CustomLabelingJob:
    props.setdefault("task_type", TaskType.IMAGE_CLASSIFICATION)
    props.setdefault("labels", ["Cat", "Dog"])
    props.setdefault("dataset", Dataset.from_local_directory(IMAGES))
    return CustomLabelingJob(
        stack,
        "Job",
        workteam=PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN),
        **props,
    )


def _skill_table(stack: cdk.Stack, key: kms.IKey) -> dynamodb.Table:
    return dynamodb.Table(
        stack,
        "SharedSkill",
        partition_key=dynamodb.Attribute(name="scope", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="worker", type=dynamodb.AttributeType.STRING),
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
    )


def _build(app: cdk.App) -> list[cdk.Stack]:
    default = cdk.Stack(app, "Default", env=ENV)
    _job(default)

    keyed = cdk.Stack(app, "Keyed", env=ENV)
    job = _job(
        keyed,
        encryption_key=kms.Key(keyed, "Key", enable_key_rotation=True),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    job.grant_batch_input(s3.Bucket.from_bucket_name(keyed, "MyInput", "my-input"), "batches/")

    shared = cdk.Stack(app, "SharedTable", env=ENV)
    _job(
        shared,
        skill_table=_skill_table(shared, kms.Key(shared, "TableKey", enable_key_rotation=True)),
        payload_access=PayloadAccess.DIRECT_READ,
        output_bucket=s3.Bucket.from_bucket_name(shared, "Results", "labeling-results"),
    )

    given = cdk.Stack(app, "GivenRole", env=ENV)
    role = iam.Role(given, "MyRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    photos = s3.Bucket.from_bucket_name(given, "Photos", "street-photos")
    _job(given, role=role, dataset=Dataset.from_manifest(photos, "manifests/in.manifest"))

    team = cdk.Stack(app, "Team", env=ENV)
    PrivateWorkteam(
        team,
        "Crowd",
        worker_emails=["ana@example.com"],
        encryption_key=kms.Key(team, "Key", enable_key_rotation=True),
    )
    immutable = cdk.Stack(app, "ImmutableRole", env=ENV)
    arn = f"arn:aws:iam::{ACCOUNT}:role/gt-execution"
    _job(immutable, role=iam.Role.from_role_arn(immutable, "Role", arn, mutable=False))
    return [default, keyed, shared, given, team, immutable]


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return synth_stacks(_build)


# -- evaluating policies ----------------------------------------------------------------------
def _render(value: Any) -> Any:
    """A resolved value as a string in the test's account: the partition is ``aws``, and
    a created bucket's ARN is ``arn:aws:s3:::<its logical id>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_render(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT}.get(arg, f"<{arg}>")
        if fn == "Fn::GetAtt":
            return f"arn:aws:s3:::{arg[0]}" if arg[1] == "Arn" else f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            return str(arg[0]).join(str(_render(part)) for part in arg[1])
    return json.dumps(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_id(template: Template, part: str) -> str:
    (role_id,) = [r for r in template.find_resources("AWS::IAM::Role") if part in r]
    return role_id


def _statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every Allow statement of the policies attached to the role."""
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return [s for s in found if s["Effect"] == "Allow"]


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an unconditioned statement allows ``action`` on ``resource``."""
    for statement in statements:
        actions = _as_list(statement["Action"])
        resources = [str(_render(r)) for r in _as_list(statement["Resource"])]
        if (
            "Condition" not in statement
            and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
        ):
            return True
    return False


# -- 5. the skill table with a customer key ---------------------------------------------------
def _post_statements(template: Template) -> list[dict[str, Any]]:
    return _statements(template, _role_id(template, "PostAnnotationRole"))


@pytest.mark.parametrize(("name", "key_id"), [("Keyed", "Key"), ("SharedTable", "TableKey")])
def test_post_role_may_use_the_skill_tables_key_through_dynamodb_only(
    templates: dict[str, Template], name: str, key_id: str
) -> None:
    # GIVEN the job's key on the created table, or a table passed in with its own key
    template = templates[name]
    (key,) = [k for k in template.find_resources("AWS::KMS::Key") if k.startswith(key_id)]
    # THEN the post-annotation role may decrypt and make data keys with it, via DynamoDB only
    uses = [
        s
        for s in _post_statements(template)
        if {"Fn::GetAtt": [key, "Arn"]} in _as_list(s["Resource"])
        and any(a.startswith("kms:") for a in _as_list(s["Action"]))
    ]
    assert len(uses) == 1
    (use,) = uses
    assert sorted(_as_list(use["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert use["Condition"] == {
        "StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
    }


def test_post_role_reads_and_adds_skill_and_writes_batch_records_in_transactions_only(
    templates: dict[str, Template],
) -> None:
    template = templates["Default"]
    (table,) = template.find_resources("AWS::DynamoDB::Table")
    on_table = [
        s
        for s in _post_statements(template)
        if {"Fn::GetAtt": [table, "Arn"]} in _as_list(s["Resource"])
    ]
    actions = {a: s.get("Condition") for s in on_table for a in _as_list(s["Action"])}
    assert actions == {
        "dynamodb:BatchGetItem": None,
        "dynamodb:UpdateItem": None,
        "dynamodb:PutItem": {
            "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
        },
    }


def test_created_skill_table_expires_batch_records(templates: dict[str, Template]) -> None:
    templates["Default"].has_resource_properties(
        "AWS::DynamoDB::Table",
        {"TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True}},
    )


def test_skill_store_errors_raise_an_alarm_on_the_topic(templates: dict[str, Template]) -> None:
    template = templates["Default"]
    alarms = template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "SkillStoreErrors"}}
    )
    assert len(alarms) == 1
    (alarm,) = alarms.values()
    props = alarm["Properties"]
    assert (props["Namespace"], props["Statistic"], props["Threshold"]) == (
        "GroundTruthConstructs",
        "Sum",
        1,
    )
    (topic,) = template.find_resources("AWS::SNS::Topic")
    assert props["AlarmActions"] == [{"Ref": topic}]
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert "SkillStoreErrors" in json.dumps(dashboard)


# -- 6. acknowledgements name exactly what the job made ----------------------------------------
def test_a_given_role_keeps_its_own_policies_and_gets_the_jobs_in_one_of_the_jobs(
    templates: dict[str, Template],
) -> None:
    template = templates["GivenRole"]
    role = _role_id(template, "MyRole")
    attached = [
        policy_id
        for policy_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if {"Ref": role} in policy["Properties"]["Roles"]
    ]
    assert [p for p in attached if p.startswith("JobExecutionRolePolicy")] == attached


def test_an_immutable_role_gets_no_policy(templates: dict[str, Template]) -> None:
    # As before: Role.from_role_arn(..., mutable=False) is not changed, and the job does
    # not wait for a policy that is not there.
    template = templates["ImmutableRole"]
    policies = template.find_resources("AWS::IAM::Policy")
    assert not [p for p in policies.values() if "gt-execution" in p["Properties"]["Roles"]]
    assert not [p for p in policies if p.startswith("JobExecutionRolePolicy")]
    (job,) = template.find_resources("Custom::GroundTruthLabelingJob").values()
    assert set(job["DependsOn"]) <= set(template.to_json()["Resources"])


def _build_foreign(app: cdk.App) -> list[cdk.Stack]:
    # A role of the user's own, with a wildcard unrelated to the job.
    given = cdk.Stack(app, "ForeignOnGivenRole", env=ENV)
    role = iam.Role(given, "MyRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=["*"]))
    _job(given, role=role)
    # A manifest dataset without a data prefix, and s3:* on * added to the execution role.
    manifest = cdk.Stack(app, "ForeignOnManifestJob", env=ENV)
    photos = s3.Bucket.from_bucket_name(manifest, "Photos", "street-photos")
    job = _job(manifest, dataset=Dataset.from_manifest(photos, "manifests/in.manifest"))
    job.execution_role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:*"], resources=["*"])
    )
    # A deployment of the user's own, sharing the provider, into a bucket of theirs.
    deployment = cdk.Stack(app, "ForeignDeployment", env=ENV)
    _job(deployment)
    s3deploy.BucketDeployment(
        deployment,
        "MySite",
        sources=[s3deploy.Source.data("index.html", "<p>hello</p>")],
        destination_bucket=s3.Bucket.from_bucket_name(deployment, "Site", "my-site"),
        memory_limit=512,
    )
    return [given, manifest, deployment]


@pytest.fixture(scope="module")
def foreign() -> set[tuple[str, str]]:
    """(construct path, finding) of each unacknowledged cdk-nag finding of stacks whose
    roles carry wildcards the job did not make."""
    app = new_app()
    _build_foreign(app)
    with pytest.raises(Exception, match="AwsSolutions-IAM5") as raised:
        app.synth()
    findings = set()
    lines = [line.strip() for line in str(raised.value).splitlines() if line.strip()]
    for previous, line in itertools.pairwise(lines):
        if line.startswith("Acknowledge with 'AwsSolutions::"):
            path = previous.split()[0].removesuffix("/Resource")
            findings.add((path, line.split("::", 1)[1].rstrip("'")))
    return findings


def test_fails_when_a_given_role_carries_a_wildcard_of_its_own(
    foreign: set[tuple[str, str]],
) -> None:
    assert ("ForeignOnGivenRole/MyRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]") in foreign


def test_fails_when_a_manifest_jobs_execution_role_gets_s3_star(
    foreign: set[tuple[str, str]],
) -> None:
    path = "ForeignOnManifestJob/Job/ExecutionRole/DefaultPolicy"
    assert (path, "AwsSolutions-IAM5[Action::s3:*]") in foreign
    assert (path, "AwsSolutions-IAM5[Resource::*]") in foreign


def test_fails_when_another_deployment_shares_the_provider(
    foreign: set[tuple[str, str]],
) -> None:
    (path,) = {p for p, f in foreign if f.endswith("s3:::my-site/*]")}
    assert path.startswith("ForeignDeployment/Custom::CDKBucketDeployment")


def test_nothing_the_job_made_is_reported(foreign: set[tuple[str, str]]) -> None:
    # Only the three foreign wildcards: the jobs' own findings stay acknowledged.
    assert len(foreign) == 4, sorted(foreign)


# -- 7. the runner's input ----------------------------------------------------------------------
def _execution_statements(template: Template, part: str = "JobExecutionRole") -> list[Any]:
    return _statements(template, _role_id(template, part))


def test_the_readme_batch_is_readable_after_grant_batch_input(
    templates: dict[str, Template],
) -> None:
    granted = _execution_statements(templates["Keyed"])
    assert _allows(granted, "s3:GetObject", README_BATCH)
    assert _allows(granted, "s3:ListBucket", "arn:aws:s3:::my-input")
    # Not before the grant, and nothing else of that bucket
    assert not _allows(_execution_statements(templates["Default"]), "s3:GetObject", README_BATCH)
    assert not _allows(granted, "s3:GetObject", "arn:aws:s3:::my-input/private/secret.txt")


def test_the_jobs_batches_prefix_is_readable_without_a_grant(
    templates: dict[str, Template],
) -> None:
    template = templates["Default"]
    (bucket,) = [b for b in template.find_resources("AWS::S3::Bucket") if "InputBucket" in b]
    batch = f"arn:aws:s3:::{bucket}/labeling-jobs/image-classification/batches/2.manifest"
    assert _allows(_execution_statements(template), "s3:GetObject", batch)
    (output,) = [
        o for name, o in template.find_outputs("*").items() if name.startswith("JobBatchesS3Uri")
    ]
    assert "/labeling-jobs/image-classification/batches/" in json.dumps(output["Value"])


def test_fails_when_grant_batch_input_is_given_a_uri_or_a_bucket_name() -> None:
    stack = cdk.Stack(new_app(nag=False), "S", env=ENV)
    job = _job(stack)
    bucket = s3.Bucket.from_bucket_name(stack, "B", "my-input")
    with pytest.raises(ConfigurationError, match=r"prefix 's3://my-input/batches/' is not allowed"):
        job.grant_batch_input(bucket, "s3://my-input/batches/")
    with pytest.raises(
        ConfigurationError, match=r"bucket is str 'my-input'; allowed: an s3.IBucket"
    ):
        job.grant_batch_input("my-input", "batches/")  # type: ignore[arg-type]
    # (and the job's metric of failed skill-store operations is the one the function emits)
    assert job.metric_skill_store_errors().metric_name == "SkillStoreErrors"


# -- 8. who may publish to the monitoring topic ----------------------------------------------
def _topic_statements(template: Template, service: str) -> list[dict[str, Any]]:
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    return [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": service}
    ]


@pytest.mark.parametrize("name", ["Default", "Keyed"])
def test_eventbridge_may_publish_only_for_the_jobs_rule(
    templates: dict[str, Template], name: str
) -> None:
    template = templates[name]
    (rule,) = template.find_resources("AWS::Events::Rule")
    (statement,) = _topic_statements(template, "events.amazonaws.com")
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}},
    }


def _key_statements(template: Template, key_id: str, service: str) -> list[dict[str, Any]]:
    (key,) = [k for i, k in template.find_resources("AWS::KMS::Key").items() if key_id in i]
    return [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": service}
    ]


@pytest.mark.parametrize(("name", "key_id"), [("Default", "TopicKey"), ("Keyed", "Key")])
def test_the_topics_key_serves_only_this_accounts_alarms_and_rules(
    templates: dict[str, Template], name: str, key_id: str
) -> None:
    template = templates[name]
    # Neither service promises to pass the source keys on to KMS: ...IfExists cannot lock
    # the notifications out, and refuses another account's or resource's request.
    (alarms,) = _key_statements(template, key_id, "cloudwatch.amazonaws.com")
    (rules,) = _key_statements(template, key_id, "events.amazonaws.com")
    for statement, sources in (
        (alarms, f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"),
        (rules, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*"),
    ):
        assert set(statement["Condition"]) == {"StringEqualsIfExists", "ArnLikeIfExists"}
        assert statement["Condition"]["StringEqualsIfExists"] == {"aws:SourceAccount": ACCOUNT}
        assert _render(statement["Condition"]["ArnLikeIfExists"]["aws:SourceArn"]) == sources
    for statement in (alarms, rules):
        assert sorted(_as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]


# -- 9. the execution role's trust -----------------------------------------------------------
@pytest.mark.parametrize("name", ["Default", "SharedTable"])
def test_sagemaker_trust_cannot_lock_ground_truth_out(
    templates: dict[str, Template], name: str
) -> None:
    template = templates[name]
    (role,) = [
        r for i, r in template.find_resources("AWS::IAM::Role").items() if "JobExecutionRole" in i
    ]
    (trust,) = [
        s
        for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    ]
    # Absent keys pass (Ground Truth may send none); present ones must be this account's.
    assert set(trust["Condition"]) == {"StringEqualsIfExists", "ArnLikeIfExists"}
    assert trust["Condition"]["StringEqualsIfExists"] == {"aws:SourceAccount": ACCOUNT}
    assert _render(trust["Condition"]["ArnLikeIfExists"]["aws:SourceArn"]) == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:*"
    )


# -- 10. smaller ones --------------------------------------------------------------------------
def test_team_log_groups_and_topic_use_the_customer_key(templates: dict[str, Template]) -> None:
    template = templates["Team"]
    (key,) = [k for k in template.find_resources("AWS::KMS::Key") if k.startswith("Key")]
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 2  # the invitation message and the client configurator
    for group_id, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}, group_id
    (logs_statement,) = _key_statements(template, key, f"logs.{REGION}.amazonaws.com")
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert _key_statements(template, key, "sagemaker.amazonaws.com")


def test_auto_delete_provider_logs_expire_under_the_jobs_key(
    templates: dict[str, Template],
) -> None:
    template = templates["Keyed"]
    (key,) = [k for k in template.find_resources("AWS::KMS::Key") if k.startswith("Key")]
    (provider,) = [
        f
        for i, f in template.find_resources("AWS::Lambda::Function").items()
        if i.startswith("CustomS3AutoDeleteObjects")
    ]
    group_ref = provider["Properties"]["LoggingConfig"]["LogGroup"]
    group = template.find_resources("AWS::Logs::LogGroup")[group_ref["Ref"]]
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}


def test_direct_read_gets_only_the_output_objects(templates: dict[str, Template]) -> None:
    statements = _post_statements(templates["SharedTable"])
    prefix = "arn:aws:s3:::labeling-results/labeling-jobs/image-classification/output/"
    assert _allows(statements, "s3:GetObject", prefix + "job-1/annotations/x.json")
    assert not _allows(statements, "s3:ListBucket", "arn:aws:s3:::labeling-results")
    assert not _allows(statements, "s3:GetObject", "arn:aws:s3:::labeling-results/other/x.json")
    s3_actions = {a for s in statements for a in _as_list(s["Action"]) if a.startswith("s3:")}
    assert s3_actions == {"s3:GetObject"}  # classification writes no masks


@pytest.mark.parametrize("name", ["Keyed", "SharedTable", "Team"])
def test_templates_pass_cfn_lint(templates: dict[str, Template], name: str) -> None:
    assert cfn_lint_findings(templates[name].to_json()) == []
