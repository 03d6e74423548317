"""The labeling job as part of the stack: start, replace, stop, run again, watch.

- ``LabelingJobResource``: a custom resource that creates the job on deploy,
  replaces it when its request changes and stops it on delete.
- ``ManifestFromS3Prefix``: a deploy-time crawler writing an input manifest.
- ``LabelingJobRunner``: a state machine that labels another batch with the
  same definition (``createLabelingJob.sync``).
- ``LabelingJobMonitoring``: state-change notifications, alarms, a dashboard.

See docs/lifecycle.md for what happens on deploy, update and delete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct, IDependable

from .functions import annotation_function
from .nag import S3_GRANT_REASONS, acknowledge, acknowledge_wildcards
from .validation import Problems

JOB_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
#: ``<prefix>-`` plus a 10-character hash must stay within 63 characters.
MAX_PREFIX = 52
METRICS_NAMESPACE = "GroundTruthConstructs"
STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
SYNC_RULE = "StepFunctionsGetEventsForSageMakerLabelingJobsRule"
#: Private-team tasks wait up to 30 days; the runner waits a little longer.
RUNNER_TIMEOUT = Duration.days(31)


def validate_job_name_prefix(problems: Problems, prefix: str) -> None:
    if Token.is_unresolved(prefix):
        return
    if len(prefix) > MAX_PREFIX or not re.fullmatch(JOB_NAME_PATTERN, prefix):
        problems.add(
            f"job_name_prefix {prefix!r} is not allowed: 1–{MAX_PREFIX} letters, digits and "
            "hyphens, starting and ending with a letter or digit (the job name adds '-' and "
            "a 10-character hash; 63 at most)"
        )


def labeling_job_arn_pattern(scope: IConstruct, prefix: str) -> str:
    """ARNs of this prefix's jobs (SageMaker lower-cases job names in ARNs)."""
    return Stack.of(scope).format_arn(
        service="sagemaker", resource="labeling-job", resource_name=f"{prefix.lower()}-*"
    )


def _pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def grant_job_control(
    role: iam.IRole, prefix: str, execution_role: iam.IRole, *extra_actions: str
) -> None:
    """Create, describe, stop and tag this prefix's jobs, and pass only the execution role."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sagemaker:CreateLabelingJob",
                "sagemaker:DescribeLabelingJob",
                "sagemaker:StopLabelingJob",
                "sagemaker:AddTags",
                *extra_actions,
            ],
            resources=[labeling_job_arn_pattern(role, prefix)],
        )
    )
    role.add_to_principal_policy(_pass_role(execution_role))


def _job_reasons(prefix: str) -> list[tuple[str, str]]:
    return [
        (
            re.escape(f"labeling-job/{prefix.lower()}-*") + "$",
            "Job names are <prefix>-<hash of the request>, known only at deploy: the statement "
            "covers this construct's jobs and no others",
        )
    ]


class LabelingJobResource(Construct):
    """The labeling job as a custom resource (CloudFormation has none)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        request: Mapping[str, Any],
        job_name_prefix: str,
        execution_role: iam.IRole,
        stop_replaced_jobs: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        dependencies: Sequence[IDependable] = (),
    ) -> None:
        """
        :param request: the CreateLabelingJob request without ``LabelingJobName`` (may hold tokens).
        :param job_name_prefix: job names are ``<prefix>-<hash of the resolved request>``.
        :param execution_role: the role the job runs as (passed to SageMaker).
        :param stop_replaced_jobs: stop a job when a changed request replaces it. Default: true.
        :param removal_policy: RETAIN leaves the job running when the resource is deleted.
        :param dependencies: what the job needs before it starts (buckets, uploads, functions...).
        """
        super().__init__(scope, construct_id)
        problems = Problems(f"LabelingJobResource {self.node.path}")
        validate_job_name_prefix(problems, job_name_prefix)
        problems.raise_if_any()
        stack = Stack.of(self)
        self.function = annotation_function(
            self,
            "Handler",
            handler="gt_resources.labeling_job.handler",
            description="Ground Truth labeling job lifecycle (create, replace, stop)",
            environment={},
            memory_size=256,
            timeout=Duration.minutes(2),
            log_retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=removal_policy,
        )
        role = self.function.role
        assert role is not None
        grant_job_control(role, job_name_prefix, execution_role, "sagemaker:ListTags")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id]
            )
        )
        acknowledge_wildcards(role, _job_reasons(job_name_prefix))
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::GroundTruthLabelingJob",
            properties={
                "Request": stack.to_json_string(request),
                "JobNamePrefix": job_name_prefix,
                "StopReplacedJobs": "true" if stop_replaced_jobs else "false",
                "RemovalPolicy": "retain" if removal_policy == RemovalPolicy.RETAIN else "destroy",
            },
        )
        self.resource.node.add_dependency(role)
        for dependency in dependencies:
            self.resource.node.add_dependency(dependency)
        self.labeling_job_name = self.resource.get_att_string("LabelingJobName")
        self.labeling_job_arn = self.resource.get_att_string("LabelingJobArn")
        self.output_manifest_s3_uri = self.resource.get_att_string("OutputManifestS3Uri")


class ManifestFromS3Prefix(Construct):
    """A manifest of the objects under an S3 prefix, written at deploy time."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_bucket: s3.IBucket,
        prefix: str,
        extensions: Sequence[str],
        manifest_bucket: s3.IBucket,
        manifest_key: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = annotation_function(
            self,
            "Crawler",
            handler="gt_resources.manifest_crawler.handler",
            description="Writes a Ground Truth input manifest for an S3 prefix",
            environment={},
            memory_size=512,
            timeout=Duration.minutes(15),
            log_retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = self.function.role
        assert role is not None
        source_bucket.grant_read(role, f"{prefix}*")
        manifest_bucket.grant_put(role, manifest_key)
        acknowledge_wildcards(
            role,
            [
                (
                    re.escape(f"/{prefix}*") + "$" if prefix else r"/\*$",
                    "Lists and reads the objects under the dataset's prefix to write the manifest",
                ),
                *S3_GRANT_REASONS,
            ],
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::GroundTruthManifest",
            properties={
                "SourceBucket": source_bucket.bucket_name,
                "Prefix": prefix,
                "Extensions": list(extensions),
                "ManifestBucket": manifest_bucket.bucket_name,
                "ManifestKey": manifest_key,
            },
        )
        self.resource.node.add_dependency(role)
        self.manifest_s3_uri = self.resource.get_att_string("ManifestS3Uri")


class LabelingJobRunner(Construct):
    """Label another batch with the same job definition: one ``start-execution``.

    Input: ``{"manifestS3Uri": "s3://...", "workersPerObject": 5,
    "maxHumanLabeledObjectCount": 1000, "maxPercentageOfInputDatasetLabeled": 100}``
    (all but the manifest optional). The job is named
    ``<job_name_prefix>-<execution name>``: pick execution names of letters, digits
    and hyphens that keep it within 63 characters.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        request: Mapping[str, Any],
        job_name_prefix: str,
        execution_role: iam.IRole,
        timeout: Duration = RUNNER_TIMEOUT,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        human: dict[str, Any] = dict(request["HumanTaskConfig"])
        stopping = request.get("StoppingConditions", {})
        defaults = {
            "workersPerObject": human["NumberOfHumanWorkersPerDataObject"],
            "maxHumanLabeledObjectCount": stopping.get("MaxHumanLabeledObjectCount", 100_000),
            "maxPercentageOfInputDatasetLabeled": stopping.get(
                "MaxPercentageOfInputDatasetLabeled", 100
            ),
        }
        human.pop("NumberOfHumanWorkersPerDataObject")
        human["NumberOfHumanWorkersPerDataObject.$"] = "$.args.workersPerObject"
        parameters: dict[str, Any] = {
            key: value
            for key, value in request.items()
            if key not in ("InputConfig", "HumanTaskConfig", "StoppingConditions")
        }
        input_config = {k: v for k, v in request["InputConfig"].items() if k != "DataSource"}
        parameters.update(
            {
                "LabelingJobName.$": f"States.Format('{job_name_prefix}-{{}}', $$.Execution.Name)",
                "InputConfig": {
                    **input_config,
                    "DataSource": {"S3DataSource": {"ManifestS3Uri.$": "$.args.manifestS3Uri"}},
                },
                "HumanTaskConfig": human,
                "StoppingConditions": {
                    "MaxHumanLabeledObjectCount.$": "$.args.maxHumanLabeledObjectCount",
                    "MaxPercentageOfInputDatasetLabeled.$": "$.args.maxPercentageOfInputDatasetLabeled",
                },
            }
        )
        defaults_state = sfn.Pass(
            self,
            "ApplyDefaults",
            parameters={"args.$": "States.JsonMerge($.defaults, $.input, false)"},
        )
        wrap = sfn.Pass(
            self,
            "ReadInput",
            parameters={"defaults": defaults, "input.$": "$"},
        )
        label = sfn.CustomState(
            self,
            "LabelBatch",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:createLabelingJob.sync",
                "Parameters": parameters,
                "ResultSelector": {
                    "LabelingJobName.$": "$.LabelingJobName",
                    "LabelingJobStatus.$": "$.LabelingJobStatus",
                    "OutputManifest.$": "$.LabelingJobOutput.OutputDatasetS3Uri",
                },
            },
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(
                wrap.next(defaults_state).next(label)
            ),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        role = self.state_machine.role
        grant_job_control(role, job_name_prefix, execution_role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE)
                ],
            )
        )
        acknowledge_wildcards(
            role,
            [
                *_job_reasons(job_name_prefix),
                (
                    r"^Resource::\*$",
                    "X-Ray and CloudWatch Logs delivery actions (added by aws-cdk-lib for tracing and "
                    "logging) have no resource-level permissions",
                ),
            ],
        )


class LabelingJobMonitoring(Construct):
    """State-change e-mails, alarms on the functions and the runner, and a dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_name_prefix: str,
        functions: Sequence[lambda_.IFunction],
        state_machine: sfn.IStateMachine,
        notification_emails: Sequence[str] = (),
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = encryption_key or kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            description="Encrypts the labeling job notification topic",
        )
        for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
            self.key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self,
            "Topic",
            master_key=self.key,
            enforce_ssl=True,
            display_name="Ground Truth labeling job",
        )
        for address in notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self.rule = events.Rule(
            self,
            "StateChange",
            description="Ground Truth labeling jobs of this construct completed, failed or stopped",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[STATE_CHANGE],
                resources=events.Match.prefix(
                    stack.format_arn(
                        service="sagemaker",
                        resource="labeling-job",
                        resource_name=f"{job_name_prefix.lower()}-",
                    )
                ),
                detail={"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
            ),
            targets=[targets.SnsTopic(self.topic)],
        )
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        for index, function in enumerate(functions):
            for name, metric in (
                ("Errors", function.metric_errors()),
                ("Throttles", function.metric_throttles()),
            ):
                alarm = metric.with_(period=Duration.minutes(5), statistic="Sum").create_alarm(
                    self,
                    f"Function{index}{name}",
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"{name} of an annotation function of the labeling job",
                )
                alarm.add_alarm_action(action)
                self.alarms.append(alarm)
        failed = state_machine.metric_failed(period=Duration.minutes(5)).create_alarm(
            self,
            "RunnerFailed",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="A runner execution (another labeling batch) failed",
        )
        failed.add_alarm_action(action)
        self.alarms.append(failed)
        post = functions[-1] if functions else None
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations", left=[f.metric_invocations() for f in functions]
            ),
            cloudwatch.GraphWidget(title="Errors", left=[f.metric_errors() for f in functions]),
            cloudwatch.GraphWidget(title="Duration", left=[f.metric_duration() for f in functions]),
        )
        if post is not None:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Consolidation",
                    left=[
                        self.metric("ObjectsConsolidated", function=post),
                        self.metric("AnswersRejected", function=post),
                    ],
                ),
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Runner executions",
                left=[
                    state_machine.metric_started(),
                    state_machine.metric_succeeded(),
                    state_machine.metric_failed(),
                ],
            )
        )
        acknowledge(
            self.topic,
            "AwsSolutions-SNS3",
            "enforce_ssl adds the deny-insecure-transport statement to the topic policy",
        )

    @staticmethod
    def metric(name: str, *, function: lambda_.IFunction, **kwargs: Any) -> cloudwatch.Metric:
        """A metric the post-annotation function emits (embedded metric format), summed."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"Function": function.function_name},
            statistic=kwargs.pop("statistic", "Sum"),
            period=kwargs.pop("period", Duration.minutes(5)),
            **kwargs,
        )
