"""Parts of ``SelfHostedRuntime``: its table, state machine, HTTP API and cdk-nag reasons.

Each function takes the runtime (``self``) and builds one part in its scope.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ...lambda_src.gt_runtime import aws_contract as contract
from ...nag import Finding, acknowledge, acknowledge_findings, acknowledge_wildcards
from .machine import job_definition


def runtime_table(
    self: Construct, key: kms.IKey | None, removal_policy: RemovalPolicy
) -> dynamodb.Table:
    string = dynamodb.AttributeType.STRING
    table = dynamodb.Table(
        self,
        "Table",
        partition_key=dynamodb.Attribute(name=contract.PK, type=string),
        sort_key=dynamodb.Attribute(name=contract.SK, type=string),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=(
            dynamodb.TableEncryption.CUSTOMER_MANAGED
            if key
            else dynamodb.TableEncryption.AWS_MANAGED
        ),
        encryption_key=key,
        deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        removal_policy=removal_policy,
    )
    for index, (pk, sk) in contract.INDEXES.items():
        table.add_global_secondary_index(
            index_name=index,
            partition_key=dynamodb.Attribute(name=pk, type=string),
            sort_key=dynamodb.Attribute(name=sk, type=string),
            # A claim reads the free slots from the index alone.
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(contract.INDEX_ATTRIBUTES),
        )
    return table


def job_state_machine(self: Any) -> sfn.StateMachine:
    log_group = logs.LogGroup(
        self,
        "JobMachineLogs",
        retention=self.log_settings.retention,
        removal_policy=self.log_settings.removal_policy,
        encryption_key=self.log_settings.encryption_key,
    )
    machine = sfn.StateMachine(
        self,
        "JobMachine",
        definition_body=sfn.DefinitionBody.from_chainable(
            job_definition(self, self.steps_function)
        ),
        # A job waits for workers up to 30 days (TaskAvailabilityLifetimeInSeconds);
        # an execution hands over to a new one long before the 1-year limit.
        timeout=Duration.days(45),
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
        ),
    )
    # ContinueAsNew starts this machine by $$.StateMachine.Id: a policy of its own,
    # so the machine does not depend on a statement that names it.
    iam.Policy(
        self,
        "JobMachineContinuesItself",
        roles=[machine.role],
        statements=[
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[machine.state_machine_arn]
            )
        ],
    )
    return machine


def http_api(self: Any) -> apigw.HttpApi:
    api = apigw.HttpApi(
        self,
        "HttpApi",
        description="Self-hosted labeling runtime: portal API and task pages",
        create_default_stage=True,
    )
    log_group = logs.LogGroup(
        self,
        "ApiAccessLogs",
        retention=self.log_settings.retention,
        removal_policy=self.log_settings.removal_policy,
        encryption_key=self.log_settings.encryption_key,
    )
    stage = api.default_stage
    assert stage is not None
    cfn_stage = stage.node.default_child
    assert isinstance(cfn_stage, apigw.CfnStage)
    cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
        destination_arn=log_group.log_group_arn,
        format=(
            '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"time":"$context.requestTime","method":"$context.httpMethod",'
            '"route":"$context.routeKey","status":"$context.status",'
            '"latency":"$context.responseLatency","error":"$context.authorizer.error"}'
        ),
    )
    cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
        throttling_burst_limit=500, throttling_rate_limit=200
    )
    return api


def acknowledge_runtime(self: Any) -> None:
    acknowledge_wildcards(
        self,
        [
            (
                r"^Resource::.*\.Arn>:\*$",
                "Invoking a version or alias of the job's own annotation functions "
                "(CDK's grant_invoke names them with :*)",
            ),
            (
                r":execution:.*\*$",
                "The executions of the runtime's own job state machine (named at run time)",
            ),
            (
                r"^Resource::\*$",
                "X-Ray and CloudWatch Logs delivery actions (added by aws-cdk-lib for "
                "tracing and logging) have no resource-level permissions",
            ),
        ],
    )
    # Each job's prefixes: exactly the findings add_job's grants make (job_reasons).
    self.job_reasons = acknowledge_findings(
        self,
        [
            (
                Finding.resource(f"{self.table.table_arn}/index/*"),
                "The runtime's queries use the runtime table's own indexes",
            )
        ],
    )
    for route in self.task_routes:
        acknowledge(
            route,
            "AwsSolutions-APIG4",
            "Task pages and the Mechanical Turk submit endpoint are reached by the "
            "unguessable task id the portal gives the signed-in worker (the page runs "
            "in a sandboxed frame on this origin, which holds no credentials)",
        )
    acknowledge(
        self.signing_secret,
        "AwsSolutions-SMG4",
        "The key signs task-page tokens that live at most a task's time limit plus two "
        "minutes; replacing it (a new deploy of the secret) only ends open task pages",
    )
    acknowledge(
        self.api,
        "AwsSolutions-APIG1",
        "The default stage logs every request to the ApiAccessLogs log group "
        "(set through the stage's access_log_settings)",
    )
