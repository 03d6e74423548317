"""``SelfHostedRuntime``: the library's labeling runtime as a serverless stack.

One runtime serves every self-hosted job of a stack that shares a user pool (a job
points at one, or the stack's own is made on demand: ``SelfHostedRuntime.of``):

- a DynamoDB table (on demand, point-in-time recovery, the customer key when given)
  holding jobs, objects, tasks, leases, answers and batches (``gt_runtime.dynamo_store``);
- the engine's handlers on Lambda, the same ``lambda_src`` code as on one machine:
  ``Api`` (the portal's JSON API), ``TaskPages`` (task pages and the Mechanical Turk
  submit endpoint, with the renderer layer), ``Steps`` (the state machine's steps) and
  ``Lifecycle`` (the jobs' custom resource);
- an HTTP API: ``/api/*`` behind a JWT authorizer on the workforce's user pool,
  everything else (task pages) on the API's own domain, an origin of its own;
- the portal (``portal.Portal``): S3 + CloudFront with origin access control, signing
  in through the pool's hosted UI (authorization code + PKCE);
- the job state machine (``machine.py``) and the jobs' state-change events on
  EventBridge, Ground Truth's detail-type and detail under ``EVENT_SOURCE``.

Each job adds its own grants (``add_job``): its buckets' prefixes, its keys, its
annotation functions; nothing of another job's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from ...functions import annotation_function
from ...lambda_src.gt_runtime import aws_contract as contract
from ...log_groups import JobLogs
from ...nag import ExactReasons, Finding
from ...validation import ConfigurationError
from .parts import acknowledge_runtime, http_api, job_state_machine, runtime_table
from .portal import TOKEN_HEADER, Portal
from .renderer import renderer_layer

#: Construct id of the stack's shared runtime (made by the first self-hosted job).
SHARED_ID = "LabelingRuntime"


def shared_runtime(
    scope: IConstruct,
    workteam: Any,
    *,
    encryption_key: kms.IKey | None = None,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> SelfHostedRuntime:
    """The stack's shared runtime for ``workteam``'s pool, made by the first job that asks
    (with that job's key, removal policy and log retention)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(SHARED_ID)
    pool = getattr(workteam, "user_pool", None)
    domain = getattr(workteam, "user_pool_domain", None)
    if isinstance(existing, SelfHostedRuntime):
        if pool is not None and existing.user_pool.node.path != pool.node.path:
            raise ConfigurationError(
                f"CustomLabelingJob {scope.node.path}",
                [
                    "runtime=Runtime.SELF_HOSTED: the stack's shared runtime serves the "
                    f"user pool {existing.user_pool.node.path}, and this job's workteam is "
                    f"of {pool.node.path}; make a SelfHostedRuntime(user_pool=..., "
                    "user_pool_domain=...) for that pool and pass runtime=<it>"
                ],
            )
        return existing
    if pool is None or domain is None:
        raise ConfigurationError(
            f"CustomLabelingJob {scope.node.path}", [missing_pool_message(workteam)]
        )
    return SelfHostedRuntime(
        stack,
        SHARED_ID,
        user_pool=pool,
        user_pool_domain=domain,
        encryption_key=encryption_key,
        removal_policy=removal_policy,
        log_retention=log_retention,
    )


class SelfHostedRuntime(Construct):
    """The labeling runtime on AWS, shared by the self-hosted jobs that point at it.

    Usually made on demand by ``CustomLabelingJob(..., runtime=Runtime.SELF_HOSTED)``
    (one per stack); make one yourself to choose its props or to serve jobs of a pool
    the stack does not create::

        runtime = SelfHostedRuntime(self, "Runtime", user_pool=pool, user_pool_domain=domain)
        CustomLabelingJob(self, "Job", ..., runtime=runtime)

    Who may act as the requester (status, answers, output, stop, workers): the members
    of the pool's group ``requester_group_name``, which the runtime creates.
    """

    #: cdk-nag reasons for the jobs' own prefixes (``add_job`` adds them).
    job_reasons: ExactReasons

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.IUserPool,
        user_pool_domain: cognito.IUserPoolDomain,
        requester_group_name: str = contract.DEFAULT_REQUESTER_GROUP,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        access_logs_bucket: s3.IBucket | None = None,
    ) -> None:
        """
        :param user_pool: the workforce's pool; its groups are the workteams.
        :param user_pool_domain: the pool's hosted-UI domain (sign-in pages).
        :param requester_group_name: the pool's group whose members are requesters.
            Default: ``labeling-requesters``.
        :param encryption_key: encrypts the table and the function logs.
            Default: - AWS-managed encryption.
        :param removal_policy: of the table and the logs. Default: RETAIN.
        :param log_retention: of every log group of the runtime. Default: one month.
        :param access_logs_bucket: where the portal's bucket logs reads. Default: - none.
        """
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.user_pool = user_pool
        self.encryption_key = encryption_key
        self.event_source = contract.EVENT_SOURCE
        self.log_settings = JobLogs(
            retention=log_retention, removal_policy=removal_policy, encryption_key=encryption_key
        )
        self.table = runtime_table(self, encryption_key, removal_policy)
        self._sign_and_admit(user_pool, requester_group_name, encryption_key)
        environment = {
            contract.ENV_TABLE: self.table.table_name,
            contract.ENV_EVENT_SOURCE: contract.EVENT_SOURCE,
            contract.ENV_REQUESTER_GROUP: requester_group_name,
            contract.ENV_ISSUER: (
                f"https://cognito-idp.{stack.region}.{stack.url_suffix}/{user_pool.user_pool_id}"
            ),
        }
        signed = {contract.ENV_SIGNING_SECRET: self.signing_secret.secret_arn}
        self.api_function = self._function(
            "Api",
            contract.API_HANDLER,
            "the portal's JSON API",
            {**environment, **signed},
            memory=512,
        )
        self.task_function = self._function(
            "TaskPages",
            contract.TASK_PAGE_HANDLER,
            "task pages and the Mechanical Turk submit endpoint",
            {**environment, **signed},
            memory=1024,
        )
        self.task_function.add_layers(renderer_layer(self, "RendererLayer"))
        self.steps_function = self._function(
            "Steps",
            contract.STEPS_HANDLER,
            "the job state machine's steps (initialize, pre-annotate, tick, fail)",
            environment,
            memory=1024,
            timeout=Duration.minutes(10),
        )
        self.state_machine = job_state_machine(self)
        self.lifecycle_function = self._function(
            "Lifecycle",
            contract.LIFECYCLE_HANDLER,
            "labeling job lifecycle on the self-hosted runtime (start, replace, stop)",
            {**environment, contract.ENV_STATE_MACHINE: self.state_machine.state_machine_arn},
            memory=256,
            timeout=Duration.minutes(2),
        )
        self._grant_runtime()
        self.api = http_api(self)
        self.portal = Portal(
            self,
            "Portal",
            api=self.api,
            user_pool=user_pool,
            sign_in_domain=(
                f"https://{user_pool_domain.domain_name}.auth.{stack.region}.amazoncognito.com"
            ),
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            log_settings=self.log_settings,
            access_logs_bucket=access_logs_bucket,
        )
        self._routes()
        self.portal_url = self.portal.url
        self.task_origin = self.api.api_endpoint
        for function in (self.api_function, self.task_function):
            function.add_environment(contract.ENV_TASK_ORIGIN, self.task_origin)
        self.task_function.add_environment(contract.ENV_PORTAL_ORIGIN, self.portal_url)
        acknowledge_runtime(self)
        CfnOutput(self, "PortalUrl", value=self.portal_url, description="Labeling portal")
        CfnOutput(self, "TaskOrigin", value=self.task_origin, description="Task pages' origin")
        CfnOutput(self, "TableName", value=self.table.table_name, description="Runtime table")

    def _sign_and_admit(
        self, user_pool: cognito.IUserPool, group_name: str, key: kms.IKey | None
    ) -> None:
        """The token-signing secret and the requesters' group."""
        encryption_key = key
        requester_group_name = group_name
        # Signs the task pages', submits' and data URLs' tokens (read by the API and task
        # functions only).
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningKey",
            description="Signs the self-hosted labeling runtime's task-page tokens",
            encryption_key=encryption_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.requester_group = cognito.CfnUserPoolGroup(
            self,
            "Requesters",
            user_pool_id=user_pool.user_pool_id,
            group_name=requester_group_name,
            description="Requesters of the self-hosted labeling runtime (status, output, stop)",
        )

    def _grant_runtime(self) -> None:
        """What the runtime's own functions may do (the jobs add theirs: ``add_job``)."""
        stack = Stack.of(self)
        self.state_machine.grant_start_execution(self.lifecycle_function)
        self.lifecycle_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{self.state_machine.state_machine_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        for function in self.functions:
            grant_runtime_table(function, self.table)
        for function in (self.api_function, self.task_function):
            self.signing_secret.grant_read(function)
        self.lifecycle_function.add_to_role_policy(
            iam.PolicyStatement(
                # why a job's resource is deleted (replaced, removed, rolled back)
                actions=["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"],
                resources=[stack.stack_id],
            )
        )
        for function in (self.steps_function, self.lifecycle_function, self.api_function):
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["events:PutEvents"],
                    resources=[
                        stack.format_arn(
                            service="events", resource="event-bus", resource_name="default"
                        )
                    ],
                    conditions={"StringEquals": {"events:source": contract.EVENT_SOURCE}},
                )
            )

    # -- the stack's shared runtime
    #: The stack's shared runtime for a team's pool, made by the first job that asks.
    of = staticmethod(shared_runtime)

    # -- parts ---------------------------------------------------------------------------------
    @property
    def functions(self) -> list[lambda_.Function]:
        return [
            self.api_function,
            self.task_function,
            self.steps_function,
            self.lifecycle_function,
        ]

    def _function(
        self,
        construct_id: str,
        handler: str,
        what: str,
        environment: dict[str, str],
        *,
        memory: int,
        timeout: Duration | None = None,
    ) -> lambda_.Function:
        settings = self.log_settings
        return annotation_function(
            self,
            construct_id,
            handler=handler,
            description=f"Self-hosted labeling runtime: {what}",
            environment=environment,
            memory_size=memory,
            timeout=timeout or Duration.seconds(30),
            log_retention=settings.retention,
            removal_policy=settings.removal_policy,
            encryption_key=settings.encryption_key,
        )

    def _routes(self) -> None:
        # The portal's ID token, which CloudFront moves from its cookie to this header.
        authorizer = authorizers.HttpUserPoolAuthorizer(
            "Workers",
            self.user_pool,
            user_pool_clients=[self.portal.client],
            identity_source=[f"$request.header.{TOKEN_HEADER}"],
        )
        api_integration = integrations.HttpLambdaIntegration("ApiIntegration", self.api_function)
        self.api.add_routes(
            path="/api/{proxy+}",
            methods=[apigw.HttpMethod.ANY],
            integration=api_integration,
            authorizer=authorizer,
        )
        task_integration = integrations.HttpLambdaIntegration("TaskIntegration", self.task_function)
        self.task_routes = self.api.add_routes(
            path="/{proxy+}",
            methods=[apigw.HttpMethod.GET, apigw.HttpMethod.POST],
            integration=task_integration,
        )

    # -- jobs ----------------------------------------------------------------------------------
    def add_job(
        self,
        *,
        read: Sequence[tuple[s3.IBucket, str]],
        template: tuple[s3.IBucket, str],
        output_bucket: s3.IBucket,
        output_prefix: str,
        functions: Sequence[lambda_.IFunction],
        encryption_keys: Sequence[kms.IKey],
    ) -> None:
        """Let the runtime run one job: exactly that job's objects, prefixes, keys, functions.

        ``read``: (bucket, key pattern) of the manifest, data and label categories;
        ``template``: the worker template's (bucket, key).
        """
        output = output_bucket.arn_for_objects(f"{output_prefix}*")
        template_arn = template[0].arn_for_objects(template[1])
        self.grant_job_input(read, [template_arn])
        # Steps: the job's output (batches, manifests); invokes the job's own functions.
        _allow(self.steps_function, ["s3:GetObject", "s3:PutObject"], [output])
        for function in functions:
            function.grant_invoke(self.steps_function)
        # API: the requester reads the output manifest.
        _allow(self.api_function, ["s3:GetObject"], [output])
        # (Lifecycle: a stop only marks the job; the state machine writes the output.)
        for key in encryption_keys:
            for function in (self.steps_function, self.task_function, self.api_function):
                key.grant(function, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        # cdk-nag: exactly these wildcards, each with its reason (nothing a user adds)
        self.job_reasons.add(
            Finding.resource(output),
            "A job's output prefix: the job's name, and so its folder, is chosen at deploy",
        )

    def grant_job_input(
        self, read: Sequence[tuple[s3.IBucket, str]], extra: Sequence[str] = ()
    ) -> None:
        """Let the runtime read a job's input: (bucket, key pattern) of manifests, data
        objects and label categories, and ``extra`` object ARNs (the template). The steps
        function reads manifests, categories and the template (validation); the task pages
        the template and the dataset (the presigned data URLs it signs reach nothing else).
        """
        reads = sorted({bucket.arn_for_objects(pattern) for bucket, pattern in read}, key=str)
        keys = {b.encryption_key.node.path: b.encryption_key for b, _ in read if b.encryption_key}
        for function in (self.steps_function, self.task_function):
            _allow(function, ["s3:GetObject"], [*reads, *extra])
            for key in keys.values():
                key.grant(function, "kms:Decrypt")
        for arn in reads:
            self.job_reasons.add(
                Finding.resource(arn),
                "A job's manifests, data objects and label categories: the dataset's key "
                "pattern, as the job's execution role reads them on Ground Truth",
            )

    # -- cdk-nag -------------------------------------------------------------------------------


#: What ``DynamoStore`` does: items one by one or in conditional transactions, and queries
#: of the table and its indexes; no scan, no batch, no table management.
TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]


def grant_runtime_table(function: lambda_.IFunction, table: dynamodb.ITable) -> None:
    """The store's actions on the runtime table and its indexes; with a customer key,
    ``kms:Decrypt`` and ``kms:GenerateDataKey`` on it through DynamoDB only (not CDK's
    ``grant_read_write_data``, whose key grant adds ``ReEncrypt*`` and ``GenerateDataKey*``).
    """
    _allow(function, TABLE_ACTIONS, [table.table_arn, f"{table.table_arn}/index/*"])
    if table.encryption_key is not None:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[table.encryption_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"dynamodb.{Stack.of(table).region}.amazonaws.com"
                    }
                },
            )
        )


def _allow(function: lambda_.IFunction, actions: list[str], resources: list[str]) -> None:
    function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))


def missing_pool_message(workteam: Any) -> str:
    """What a self-hosted job needs of its team, and what to pass instead."""
    if getattr(workteam, "user_pool", None) is None:
        return (
            "runtime=Runtime.SELF_HOSTED needs the workers' Cognito user pool and group, and a "
            "workteam known only by its ARN (PrivateWorkteam.from_workteam_arn) names a "
            "SageMaker workteam the self-hosted runtime cannot use; pass "
            "workteam=PrivateWorkteam(..., runtime=Runtime.SELF_HOSTED) (a new pool, or "
            "user_pool=<the workforce's pool> for an existing one)"
        )
    return (
        "runtime=Runtime.SELF_HOSTED: the workteam's user pool was given without its hosted-UI "
        "domain, which the portal signs in through; make SelfHostedRuntime(self, 'Runtime', "
        "user_pool=..., user_pool_domain=cognito.UserPoolDomain.from_domain_name(...)) and "
        "pass runtime=<it>"
    )
