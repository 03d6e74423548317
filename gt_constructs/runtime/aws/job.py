"""A ``CustomLabelingJob`` on the self-hosted runtime: its custom resource and its runner.

``SelfHostedJobResource`` is ``LabelingJobResource``'s twin: the same properties (the
request, the name prefix, stop-replaced, removal policy) and the same attributes
(name, ARN, output manifest), answered by the runtime's ``Lifecycle`` function
(``gt_runtime.aws_lifecycle``): create starts the job's state machine execution,
a changed request starts a new job and stops the old one, delete stops it.
``SelfHostedRunner`` labels another batch: the runner's input, defaults and request
(``LabelingJobRequest.runner_parameters``) as on Ground Truth, started on the runtime's
state machine and waited for (``startExecution.sync:2``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IDependable

from ...job.lifecycle import validate_job_name_prefix
from ...job.request import LabelingJobRequest
from ...job.runner import RUNNER_TIMEOUT, runner_state_machine
from ...log_groups import JobLogs
from ...nag import acknowledge_wildcards
from ...validation import Problems
from .construct import SelfHostedRuntime

RESOURCE_TYPE = "Custom::SelfHostedLabelingJob"


class SelfHostedJobResource(Construct):
    """The labeling job on the self-hosted runtime, as a custom resource."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: SelfHostedRuntime,
        request: Mapping[str, Any],
        job_name_prefix: str,
        stop_replaced_jobs: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        dependencies: Sequence[IDependable] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        problems = Problems(f"SelfHostedJobResource {self.node.path}")
        validate_job_name_prefix(problems, job_name_prefix)
        problems.raise_if_any()
        stack = Stack.of(self)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=runtime.lifecycle_function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "Request": stack.to_json_string(request),
                "JobNamePrefix": job_name_prefix,
                "StopReplacedJobs": "true" if stop_replaced_jobs else "false",
                "RemovalPolicy": "retain" if removal_policy == RemovalPolicy.RETAIN else "destroy",
            },
        )
        for dependency in (*dependencies, runtime.state_machine, runtime.table):
            self.resource.node.add_dependency(dependency)
        lifecycle_role = runtime.lifecycle_function.role
        if lifecycle_role is not None:
            self.resource.node.add_dependency(lifecycle_role)
        self.labeling_job_name = self.resource.get_att_string("LabelingJobName")
        self.labeling_job_arn = self.resource.get_att_string("LabelingJobArn")
        self.output_manifest_s3_uri = self.resource.get_att_string("OutputManifestS3Uri")
        #: The request's hash (``job_contract.request_hash``), as ``LabelingJobResource``'s.
        self.request_hash = self.resource.get_att_string("RequestHash")


class SelfHostedRunner(Construct):
    """Label another batch on the self-hosted runtime: one ``start-execution``.

    Input as ``LabelingJobRunner``'s: ``{"manifestS3Uri": "s3://...", "workersPerObject":
    5, "maxHumanLabeledObjectCount": 1000, "maxPercentageOfInputDatasetLabeled": 100}``
    (all but the manifest optional); the job is ``<job_name_prefix>-<execution name>``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: SelfHostedRuntime,
        request: LabelingJobRequest,
        job_name_prefix: str,
        log_settings: JobLogs,
    ) -> None:
        super().__init__(scope, construct_id)
        wrap = sfn.Pass(
            self,
            "ReadInput",
            parameters={"defaults": request.runner_defaults(), "input.$": "$"},
        )
        defaults = sfn.Pass(
            self,
            "ApplyDefaults",
            parameters={"args.$": "States.JsonMerge($.defaults, $.input, false)"},
        )
        label = tasks.StepFunctionsStartExecution(
            self,
            "LabelBatch",
            state_machine=runtime.state_machine,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_object(
                {"request": request.runner_parameters(job_name_prefix)}
            ),
            name=sfn.JsonPath.format(f"{job_name_prefix}-{{}}", sfn.JsonPath.execution_name),
            associate_with_parent=True,
        )
        # The log group follows the job's removal policy, as Ground Truth's runner's does.
        self.log_group, self.state_machine = runner_state_machine(
            self, wrap.next(defaults).next(label), log_settings, timeout=RUNNER_TIMEOUT
        )
        acknowledge_wildcards(
            self.state_machine.role,
            [
                (
                    r":execution:.*\*$",
                    "The runtime's job executions this runner starts (named at run time)",
                ),
                (
                    r"StepFunctionsGetEventsForStepFunctionsExecutionRule",
                    "The .sync integration's own EventBridge rule",
                ),
                (
                    r"^Resource::\*$",
                    "X-Ray and CloudWatch Logs delivery actions (added by aws-cdk-lib for "
                    "tracing and logging) have no resource-level permissions",
                ),
            ],
        )
