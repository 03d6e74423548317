"""Label another batch with the same job definition: a ``createLabelingJob.sync`` state machine."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..log_groups import JobLogs
from ..nag import acknowledge_wildcards
from .lifecycle import _job_reasons, grant_job_control
from .request import LabelingJobRequest

SYNC_RULE = "StepFunctionsGetEventsForSageMakerLabelingJobsRule"
#: Private-team tasks wait up to 30 days; the runner waits a little longer.
RUNNER_TIMEOUT = Duration.days(31)


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
        request: LabelingJobRequest,
        job_name_prefix: str,
        execution_role: iam.IRole,
        timeout: Duration = RUNNER_TIMEOUT,
        log_settings: JobLogs | None = None,
    ) -> None:
        """:param log_settings: retention and key of the state machine's logs. Default: one month."""
        super().__init__(scope, construct_id)
        log_settings = log_settings or JobLogs()
        stack = Stack.of(self)
        defaults_state = sfn.Pass(
            self,
            "ApplyDefaults",
            parameters={"args.$": "States.JsonMerge($.defaults, $.input, false)"},
        )
        wrap = sfn.Pass(
            self,
            "ReadInput",
            parameters={"defaults": request.runner_defaults(), "input.$": "$"},
        )
        label = sfn.CustomState(
            self,
            "LabelBatch",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:createLabelingJob.sync",
                "Parameters": request.runner_parameters(job_name_prefix),
                "ResultSelector": {
                    "LabelingJobName.$": "$.LabelingJobName",
                    "LabelingJobStatus.$": "$.LabelingJobStatus",
                    "OutputManifest.$": "$.LabelingJobOutput.OutputDatasetS3Uri",
                },
            },
        )
        self.log_group, self.state_machine = runner_state_machine(
            self, wrap.next(defaults_state).next(label), log_settings, timeout=timeout
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


def runner_state_machine(
    scope: Construct, chain: sfn.IChainable, log_settings: JobLogs, *, timeout: Duration
) -> tuple[logs.LogGroup, sfn.StateMachine]:
    """A runner's state machine and its log group (which follows the job's removal
    policy and key), traced, logging every state without the execution data: the same
    for Ground Truth's runner and the self-hosted one."""
    log_group = logs.LogGroup(
        scope,
        "Logs",
        retention=log_settings.retention,
        removal_policy=log_settings.removal_policy,
        encryption_key=log_settings.encryption_key,
    )
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(chain),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
        ),
    )
    return log_group, machine
