"""The job's lifecycle in the template: ordering, runner, rule, alarms, dashboard, crawler."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from gt_constructs import (
    ConfigurationError,
    CustomLabelingJob,
    Dataset,
    LabelingJobResource,
    PrivateWorkteam,
    TaskType,
)
from tests.support import cfn_lint_findings, synth_stacks

ENV = cdk.Environment(account="111122223333", region="us-east-1")
TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t"


def prefix_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "FromPrefix", env=ENV)
    photos = s3.Bucket.from_bucket_name(stack, "Photos", "street-photos")
    CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.BOUNDING_BOX,
        labels=["Car"],
        dataset=Dataset.from_s3_prefix(photos, "2026/11/", extensions=[".jpg"]),
        workteam=PrivateWorkteam.from_workteam_arn(stack, "Team", TEAM),
        job_name_prefix="cars",
        stop_replaced_jobs=False,
    )
    return stack


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    import app as example

    return synth_stacks(
        lambda app: [example.StreetPeopleStack(app, "Example", env=ENV), prefix_stack(app)]
    )


@pytest.fixture(scope="module")
def example(templates: dict[str, Template]) -> Template:
    return templates["Example"]


def _logical_ids(template: Template, kind: str, **props: Any) -> list[str]:
    return list(template.find_resources(kind, {"Properties": props} if props else None))


def test_job_starts_after_everything_it_needs(example: Template) -> None:
    # GIVEN the job's custom resource
    jobs = example.find_resources("Custom::GroundTruthLabelingJob")
    assert len(jobs) == 1
    depends = set(next(iter(jobs.values()))["DependsOn"])
    # THEN it depends on buckets, uploads, functions, the role and its policy, the workteam
    for kind in (
        "AWS::S3::Bucket",
        "Custom::CDKBucketDeployment",
        "AWS::SageMaker::Workteam",
        "AWS::DynamoDB::Table",
    ):
        assert set(_logical_ids(example, kind)) <= depends, kind
    annotation = _logical_ids(
        example, "AWS::Lambda::Function", Handler=Match.string_like_regexp("gt_annotation")
    )
    assert len(annotation) == 2 and set(annotation) <= depends
    role = _logical_ids(
        example, "AWS::IAM::Role", Description=Match.string_like_regexp("execution role")
    )
    assert set(role) <= depends
    # The job's grants are its own policy, attached to the role (a given role's too)
    assert any("ExecutionRolePolicy" in d for d in depends)


def test_job_resource_carries_the_request_prefix_and_policies(example: Template) -> None:
    props = next(iter(example.find_resources("Custom::GroundTruthLabelingJob").values()))[
        "Properties"
    ]
    assert re.fullmatch(r"street-people-[0-9a-f]{8}", props["JobNamePrefix"])
    assert props["StopReplacedJobs"] == "true"
    assert props["RemovalPolicy"] == "destroy"
    assert "HumanTaskConfig" in json.dumps(props["Request"])


def test_job_handler_may_only_touch_its_own_jobs_and_pass_the_execution_role(
    example: Template,
) -> None:
    policies = example.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("JobHandlerRole")}]}},
    )
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    text = json.dumps(statements)
    assert re.search(r"labeling-job/street-people-[0-9a-f]{8}-\*", text)
    assert "sagemaker:CreateLabelingJob" in text and "sagemaker:StopLabelingJob" in text
    # why CloudFormation deletes the job (replaced, removed, rolled back): this stack only
    (describe,) = [s for s in statements if "cloudformation:DescribeStackResource" in s["Action"]]
    assert describe["Action"] == [
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackResource",
    ]
    assert describe["Resource"] == {"Ref": "AWS::StackId"}
    pass_role = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_runner_uses_the_sync_service_integration_with_logging_and_tracing(
    example: Template,
) -> None:
    machines = example.find_resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == 1
    machine = next(iter(machines.values()))["Properties"]
    definition = json.dumps(machine["DefinitionString"])
    assert ":states:::sagemaker:createLabelingJob.sync" in definition
    assert "$.args.manifestS3Uri" in definition and "$$.Execution.Name" in definition
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_runner_role_is_least_privilege_for_sync(example: Template) -> None:
    policies = example.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("RunnerStateMachineRole")}]}},
    )
    text = json.dumps([p["Properties"]["PolicyDocument"] for p in policies.values()])
    assert "rule/StepFunctionsGetEventsForSageMakerLabelingJobsRule" in text
    assert "events:PutRule" in text and "iam:PassRole" in text
    assert re.search(r"labeling-job/street-people-[0-9a-f]{8}-\*", text)


def test_state_change_rule_matches_this_stacks_jobs(example: Template) -> None:
    example.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Ground Truth Labeling Job State Change"],
                "detail": {"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
                "resources": [{"prefix": Match.any_value()}],
            },
            "Targets": [Match.object_like({"Arn": Match.any_value()})],
        },
    )


def test_alarms_cover_function_errors_throttles_consolidation_errors_and_failed_runs(
    example: Template,
) -> None:
    alarms = example.find_resources("AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms.values())
    assert metrics == [
        "ConsolidationErrors",
        "Errors",
        "Errors",
        "ExecutionsFailed",
        "SkillStoreErrors",
        "Throttles",
        "Throttles",
    ]
    assert all(a["Properties"]["AlarmActions"] for a in alarms.values())


def test_dashboard_shows_functions_consolidation_and_runner(example: Template) -> None:
    dashboards = example.find_resources("AWS::CloudWatch::Dashboard")
    body = json.dumps(next(iter(dashboards.values()))["Properties"]["DashboardBody"])
    for part in (
        "Invocations",
        "Duration",
        "ObjectsConsolidated",
        "AnswersRejected",
        "ConsolidationErrors",
        "GroundTruthConstructs",
        "ExecutionsStarted",
        "ExecutionsFailed",
    ):
        assert part in body, part


def test_notification_topic_is_encrypted(example: Template) -> None:
    topics = example.find_resources("AWS::SNS::Topic")
    assert topics and all("KmsMasterKeyId" in t["Properties"] for t in topics.values())


def test_s3_prefix_dataset_crawls_before_the_job(templates: dict[str, Template]) -> None:
    template = templates["FromPrefix"]
    crawler = template.find_resources("Custom::GroundTruthManifest")
    assert len(crawler) == 1
    props = next(iter(crawler.values()))["Properties"]
    assert props["SourceBucket"] == "street-photos" and props["Prefix"] == "2026/11/"
    assert props["Extensions"] == [".jpg"]
    job = next(iter(template.find_resources("Custom::GroundTruthLabelingJob").values()))
    assert set(crawler) <= set(job["DependsOn"])
    assert job["Properties"]["StopReplacedJobs"] == "false"
    assert "ManifestS3Uri" in json.dumps(job["Properties"]["Request"])


def test_templates_pass_cfn_lint(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        assert cfn_lint_findings(template.to_json()) == [], name


def test_fails_when_the_job_name_prefix_is_too_long() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    with pytest.raises(ConfigurationError, match=r"job_name_prefix 'x{53}' is not allowed"):
        LabelingJobResource(
            stack, "J", request={}, job_name_prefix="x" * 53, execution_role=_role(stack)
        )


def _role(stack: cdk.Stack) -> Any:
    from aws_cdk import aws_iam as iam

    return iam.Role.from_role_arn(stack, "R", "arn:aws:iam::111122223333:role/r")
