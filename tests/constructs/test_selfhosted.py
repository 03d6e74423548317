"""``runtime=Runtime.SELF_HOSTED``: what the synthesized self-hosted stacks hold.

One synth for the module: a self-hosted job with a new team (the shared runtime made on
demand), and two jobs on one explicit ``SelfHostedRuntime`` over an existing pool with
a customer key. cdk-nag runs on every synth (an unacknowledged finding fails it);
cfn-lint and asl-validator run on the templates.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from gt_constructs.lambda_src.gt_runtime import aws_contract

from gt_constructs import (
    ConfigurationError,
    CustomLabelingJob,
    Dataset,
    PrivateWorkteam,
    Runtime,
    SelfHostedRuntime,
    TaskType,
)
from tests.support import cfn_lint_findings, new_app, synth_stacks

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "examples" / "street-scenes"
ENV = cdk.Environment(account="111122223333", region="us-east-1")
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team"


def self_hosted_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "SelfHosted", env=ENV)
    team = PrivateWorkteam(
        stack, "Team", worker_emails=["ana@example.com"], runtime=Runtime.SELF_HOSTED
    )
    CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_local_directory(IMAGES),
        workteam=team,
        runtime=Runtime.SELF_HOSTED,
    )
    return stack


def shared_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Shared", env=ENV)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "us-east-1_AbCdEf123")
    domain = cognito.UserPoolDomain.from_domain_name(stack, "Domain", "labeling-team")
    team = PrivateWorkteam(stack, "Team", user_pool=pool, runtime=Runtime.SELF_HOSTED)
    runtime = SelfHostedRuntime(
        stack, "Runtime", user_pool=pool, user_pool_domain=domain, encryption_key=key
    )
    for name, attribute in (("Pets", "pets"), ("Streets", "streets")):
        CustomLabelingJob(
            stack,
            name,
            task_type=TaskType.IMAGE_CLASSIFICATION,
            labels=["Cat", "Dog"],
            dataset=Dataset.from_local_directory(IMAGES, prefix=f"datasets/{attribute}"),
            workteam=team,
            label_attribute_name=attribute,
            encryption_key=key,
            runtime=runtime,
        )
    return stack


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    import app as example

    return synth_stacks(
        lambda app: [
            self_hosted_stack(app),
            shared_stack(app),
            example.StreetPeopleStack(app, "Example", env=ENV),
        ],
        # the example app's one switch (cdk synth -c runtime=self-hosted)
        context={"runtime": "self-hosted"},
    )


@pytest.fixture(scope="module")
def self_hosted(templates: dict[str, Template]) -> Template:
    return templates["SelfHosted"]


@pytest.fixture(scope="module")
def shared(templates: dict[str, Template]) -> Template:
    return templates["Shared"]


def _resources(template: Template, kind: str) -> dict[str, Any]:
    return template.find_resources(kind)


# -- no SageMaker ------------------------------------------------------------------------------
def test_a_self_hosted_stack_creates_no_sagemaker_workforce_workteam_or_job(self_hosted, shared):
    for template in (self_hosted, shared):
        kinds = {r["Type"] for r in template.to_json()["Resources"].values()}
        assert not [k for k in kinds if k.startswith("AWS::SageMaker::")]
        assert "Custom::GroundTruthLabelingJob" not in kinds
        template.resource_count_is("Custom::SelfHostedLabelingJob", 2 if template is shared else 1)


def test_the_team_gives_pool_domain_group_and_workers_without_sagemaker(self_hosted):
    self_hosted.resource_count_is("AWS::Cognito::UserPool", 1)
    self_hosted.resource_count_is("AWS::Cognito::UserPoolDomain", 1)
    self_hosted.has_resource_properties(
        "AWS::Cognito::UserPoolUser", {"Username": "ana@example.com"}
    )
    groups = [
        g["Properties"]["GroupName"]
        for g in _resources(self_hosted, "AWS::Cognito::UserPoolGroup").values()
    ]
    assert aws_contract.DEFAULT_REQUESTER_GROUP in groups and len(groups) == 2
    # no SNS topic for SageMaker's task announcements, no invitation trigger reading SageMaker
    pool = next(iter(_resources(self_hosted, "AWS::Cognito::UserPool").values()))
    assert "LambdaConfig" not in pool["Properties"]


def test_the_example_app_moves_to_the_self_hosted_runtime_by_one_context_flag(templates):
    example = templates["Example"]
    kinds = {r["Type"] for r in example.to_json()["Resources"].values()}
    assert not [k for k in kinds if k.startswith("AWS::SageMaker::")]
    example.resource_count_is("Custom::SelfHostedLabelingJob", 1)
    example.resource_count_is("AWS::CloudFront::Distribution", 1)
    assert cfn_lint_findings(example.to_json()) == []


# -- the runtime's parts -----------------------------------------------------------------------
def test_one_runtime_serves_the_stacks_jobs(shared):
    shared.resource_count_is("AWS::DynamoDB::Table", 3)  # runtime + one skill table per job
    shared.resource_count_is("AWS::ApiGatewayV2::Api", 1)
    shared.resource_count_is("AWS::CloudFront::Distribution", 1)
    machines = [
        k
        for k in _resources(shared, "AWS::StepFunctions::StateMachine")
        if "RuntimeJobMachine" in k
    ]
    assert len(machines) == 1


def test_the_table_is_on_demand_with_recovery_and_the_jobs_key(shared, self_hosted):
    shared.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": Match.any_value(),
            },
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "gsi1",
                            "Projection": {
                                "ProjectionType": "INCLUDE",
                                "NonKeyAttributes": ["taken", "needed"],
                            },
                        }
                    )
                ]
            ),
        },
    )
    self_hosted.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "DeletionProtectionEnabled": True,
                    "KeySchema": Match.array_with([{"AttributeName": "pk", "KeyType": "HASH"}]),
                }
            ),
        },
    )


def test_the_api_routes_workers_through_a_jwt_authorizer_on_the_pool(self_hosted):
    authorizers = _resources(self_hosted, "AWS::ApiGatewayV2::Authorizer")
    ((authorizer_id, authorizer),) = authorizers.items()
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.X-Gt-Authorization"]
    issuer = json.dumps(props["JwtConfiguration"]["Issuer"])
    assert "cognito-idp" in issuer and "UserPool" in issuer
    assert props["JwtConfiguration"]["Audience"]  # the portal's client
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in _resources(self_hosted, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes["ANY /api/{proxy+}"]["AuthorizationType"] == "JWT"
    assert routes["ANY /api/{proxy+}"]["AuthorizerId"] == {"Ref": authorizer_id}
    # task pages: the task token is the capability, no authorizer
    assert routes["GET /{proxy+}"].get("AuthorizationType", "NONE") == "NONE"
    assert routes["POST /{proxy+}"].get("AuthorizationType", "NONE") == "NONE"


def test_the_portal_is_served_by_cloudfront_with_origin_access_control(self_hosted):
    self_hosted.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    distribution = next(iter(_resources(self_hosted, "AWS::CloudFront::Distribution").values()))
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert api["FunctionAssociations"][0]["EventType"] == "viewer-request"
    self_hosted.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "AllowedOAuthFlows": ["code"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "CallbackURLs": [Match.any_value()],
        },
    )


def test_the_state_machine_pre_annotates_with_a_distributed_map_and_loops_in_steps(self_hosted):
    definition = _definition(self_hosted, "LabelingRuntimeJobMachine")
    states = definition["States"]
    assert states["PreAnnotate"]["Type"] == "Map"
    assert states["PreAnnotate"]["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert states["Wait"]["SecondsPath"] == "$.tick.wait"
    assert states["Tick"]["Next"] == "Next?"
    assert states["ContinueAsNew"]["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
    for name in ("Initialize", "Start", "Tick"):
        assert states[name]["Catch"][0]["Next"] == "MarkFailed"


def test_the_state_change_rule_watches_the_runtimes_source(self_hosted):
    self_hosted.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": [aws_contract.EVENT_SOURCE],
                    "detail-type": [aws_contract.STATE_CHANGE_DETAIL_TYPE],
                }
            )
        },
    )


# -- least privilege ---------------------------------------------------------------------------
def _statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    found = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"].get("Roles", []))
        if role_fragment in roles:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_the_steps_function_invokes_only_the_jobs_own_functions(shared):
    invoke = [
        s for s in _statements(shared, "RuntimeStepsRole") if "lambda:InvokeFunction" in _actions(s)
    ]
    targets = json.dumps([s["Resource"] for s in invoke])
    for job in ("Pets", "Streets"):
        assert f"{job}PreAnnotation" in targets and f"{job}PostAnnotation" in targets
    assert '"*"' not in targets


def test_each_function_reads_and_writes_only_its_prefixes(shared):
    for role, writes in (
        ("RuntimeStepsRole", True),
        ("RuntimeTaskPagesRole", False),
        ("RuntimeApiRole", False),
        ("RuntimeLifecycleRole", False),
    ):
        s3 = [s for s in _statements(shared, role) if any(a.startswith("s3:") for a in _actions(s))]
        assert s3 or role == "RuntimeLifecycleRole", role
        for statement in s3:
            resources = json.dumps(statement["Resource"])
            assert '"*"' not in resources
            assert "s3:*" not in _actions(statement)
            if "s3:PutObject" in _actions(statement):
                assert writes, (role, statement)
                assert (
                    "labeling-jobs/pets/output/*" in resources
                    or "labeling-jobs/streets/output/*" in resources
                )
    assert not [
        s
        for s in _statements(shared, "RuntimeLifecycleRole")
        if any(a.startswith("s3:") for a in _actions(s))
    ]


def test_the_task_pages_sign_data_urls_with_read_of_the_dataset_only(shared):
    reads = [
        s for s in _statements(shared, "RuntimeTaskPagesRole") if "s3:GetObject" in _actions(s)
    ]
    resources = json.dumps([s["Resource"] for s in reads])
    assert "datasets/pets/" in resources and "datasets/streets/" in resources
    assert "output" not in resources


def test_events_are_put_only_under_the_runtimes_source(self_hosted):
    puts = [
        s for s in _statements(self_hosted, "RuntimeStepsRole") if "events:PutEvents" in _actions(s)
    ]
    assert puts and all(
        s["Condition"] == {"StringEquals": {"events:source": aws_contract.EVENT_SOURCE}}
        for s in puts
    )


def test_the_runtime_table_is_used_with_named_actions_and_its_key_through_dynamodb_only(shared):
    """Not CDK's grant_read_write_data: no batch, scan or table management, and the
    table's key only via DynamoDB, without ReEncrypt* or GenerateDataKey*."""
    for role in ("RuntimeStepsRole", "RuntimeApiRole", "RuntimeTaskPagesRole"):
        statements = _statements(shared, role)
        table = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
        actions = {a for s in table for a in _actions(s)}
        assert actions <= {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
        }, (role, actions)
        assert "dynamodb:Query" in actions
        every = {a for s in statements for a in _actions(s)}
        assert not {"kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:ReEncryptFrom"} & every, role


def test_the_runtime_reads_the_runners_batches(shared):
    """``batches_s3_uri`` works on the self-hosted runtime too: the runner's manifests are
    read by the steps function (validation, pre-annotation) and the task pages."""
    for role in ("RuntimeStepsRole", "RuntimeTaskPagesRole"):
        reads = [s for s in _statements(shared, role) if "s3:GetObject" in _actions(s)]
        assert "/batches/*" in json.dumps([s["Resource"] for s in reads]), role


def test_the_runners_log_group_follows_the_jobs_default_removal_policy(self_hosted):
    """RETAIN by default, as Ground Truth's runner's (it was DESTROY whatever the policy)."""
    groups = {
        k: v
        for k, v in _resources(self_hosted, "AWS::Logs::LogGroup").items()
        if k.startswith("JobRunnerLogs")
    }
    assert len(groups) == 1
    assert [g.get("DeletionPolicy") for g in groups.values()] == ["Retain"]


def _placeholders(value: Any) -> str:
    """A CloudFormation string with each reference as a fixed placeholder (the same
    reference reads the same wherever it appears)."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        return str(argument[0]).join(_placeholders(part) for part in argument[1])
    if function == "Fn::GetAtt":
        return f"<{argument[0]}.{argument[1]}>"
    if function == "Ref":
        return f"<{argument}>"
    raise AssertionError(f"unexpected {function}")


def test_the_runner_starts_the_jobs_own_request_on_the_runtimes_machine(self_hosted):
    """The runner's state machine, executed by moto: a batch's input becomes the job's
    request (as synthesized for Ground Truth) with the batch's manifest, workers and
    stopping conditions and a job name of the job's prefix, started on the runtime's job
    machine under that name. moto cannot run the startExecution integration (it fails on
    any ``Input``), so its state runs as a Pass state with the same parameters: the
    execution's output is exactly what the task would send to ``StartExecution``."""
    import boto3
    from moto import mock_aws

    (machine,) = [
        m
        for k, m in _resources(self_hosted, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("JobRunnerStateMachine")
    ]
    definition = json.loads(
        _placeholders(machine["Properties"]["DefinitionString"]).replace("<AWS::Partition>", "aws")
    )
    label = definition["States"]["LabelBatch"]
    assert label["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    definition["States"]["LabelBatch"] = {
        "Type": "Pass",
        "Parameters": label["Parameters"],
        "End": True,
    }
    (output,) = [
        o for k, o in self_hosted.find_outputs("*").items() if "CreateLabelingJobRequest" in k
    ]
    expected = json.loads(_placeholders(output["Value"]).replace("<AWS::Partition>", "aws"))
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        states = boto3.client("stepfunctions", region_name="us-east-1")
        runner = states.create_state_machine(
            name="runner",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::111122223333:role/sfn",
        )
        execution = states.start_execution(
            stateMachineArn=runner["stateMachineArn"],
            name="batch-2",
            input=json.dumps(
                {"manifestS3Uri": "s3://data/batches/2.manifest", "workersPerObject": 5}
            ),
        )["executionArn"]
        for _ in range(200):
            described = states.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"
    start = json.loads(described["output"])
    request = start["Input"]["request"]
    assert start["StateMachineArn"].startswith("<LabelingRuntimeJobMachine")
    assert start["Name"] == request["LabelingJobName"]
    assert re.fullmatch(r"image-classification-[0-9a-f]{8}-batch-2", request["LabelingJobName"])
    assert request["InputConfig"] == {
        "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://data/batches/2.manifest"}}
    }
    assert request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 5
    assert set(request["StoppingConditions"]) == {
        "MaxHumanLabeledObjectCount",
        "MaxPercentageOfInputDatasetLabeled",
    }
    # everything else is the job's own definition, as synthesized
    for key in ("LabelAttributeName", "OutputConfig", "RoleArn", "LabelCategoryConfigS3Uri"):
        assert request[key] == expected[key], key
    workers = "NumberOfHumanWorkersPerDataObject"
    assert {**request["HumanTaskConfig"], workers: 0} == {**expected["HumanTaskConfig"], workers: 0}
    # the output's request carries the deployed job's request-hash tag; a batch has its own
    assert request["Tags"] == [
        t for t in expected["Tags"] if t["Key"] != "gt-constructs:request-hash"
    ]


# -- validators --------------------------------------------------------------------------------
def test_cfn_lint_finds_nothing(self_hosted, shared):
    for template in (self_hosted, shared):
        assert cfn_lint_findings(template.to_json()) == []


def _definition(template: Template, fragment: str) -> dict[str, Any]:
    for logical_id, machine in _resources(template, "AWS::StepFunctions::StateMachine").items():
        if fragment in logical_id:
            return json.loads(_render(machine["Properties"]["DefinitionString"]))
    raise AssertionError(f"no state machine {fragment}")


def _render(value: Any) -> str:
    """A definition with its CloudFormation references replaced by ARN-shaped text."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        return str(argument[0]).join(_render(part) for part in argument[1])
    if function == "Fn::GetAtt":
        return f"arn:aws:lambda:us-east-1:111122223333:function:{argument[0]}"
    if function == "Ref":
        return {
            "AWS::Partition": "aws",
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "111122223333",
        }.get(argument, f"arn:aws:states:us-east-1:111122223333:stateMachine:{argument}")
    raise AssertionError(f"unexpected {function} in a definition")


def test_asl_validator_accepts_both_state_machines(self_hosted, tmp_path):
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed: asl-validator cannot run")
    for fragment in ("LabelingRuntimeJobMachine", "RunnerStateMachine"):
        path = tmp_path / f"{fragment}.json"
        path.write_text(json.dumps(_definition(self_hosted, fragment)))
        try:
            done = subprocess.run(
                [npx, "--yes", "asl-validator", "--json-path", str(path)],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("asl-validator could not be fetched in time (npm registry unreachable?)")
        if done.returncode != 0 and "ERR!" in done.stderr:
            pytest.skip(f"asl-validator could not be fetched: {done.stderr[-200:]}")
        assert done.returncode == 0, done.stdout + done.stderr


# -- refusals ----------------------------------------------------------------------------------
@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(nag=False), "Refusals", env=ENV)


def _job(stack: cdk.Stack, team: Any, runtime: Any) -> CustomLabelingJob:
    return CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_local_directory(IMAGES),
        workteam=team,
        runtime=runtime,
    )


def test_fails_when_a_self_hosted_job_has_only_an_imported_workteam_arn(stack):
    team = PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN)
    with pytest.raises(
        ConfigurationError, match=r"PrivateWorkteam\(\.\.\., runtime=Runtime.SELF_HOSTED\)"
    ):
        _job(stack, team, Runtime.SELF_HOSTED)


def test_fails_when_a_self_hosted_job_has_a_ground_truth_team(stack):
    team = PrivateWorkteam(stack, "Team", worker_emails=["ana@example.com"])
    with pytest.raises(
        ConfigurationError, match=r"pass runtime=Runtime\.SELF_HOSTED to PrivateWorkteam"
    ):
        _job(stack, team, Runtime.SELF_HOSTED)


def test_fails_when_a_ground_truth_job_has_a_self_hosted_team(stack):
    team = PrivateWorkteam(stack, "Team", runtime=Runtime.SELF_HOSTED)
    with pytest.raises(ConfigurationError, match="no SageMaker workteam exists"):
        _job(stack, team, Runtime.GROUND_TRUTH)


def test_fails_when_runtime_is_not_a_runtime(stack):
    team = PrivateWorkteam(stack, "Team", runtime=Runtime.SELF_HOSTED)
    with pytest.raises(
        ConfigurationError,
        match=r"runtime is 'self-hosted' \(a str\); allowed: Runtime\.GROUND_TRUTH",
    ):
        _job(stack, team, "self-hosted")


def test_fails_when_an_existing_pool_comes_without_its_domain(stack):
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "us-east-1_AbCdEf123")
    team = PrivateWorkteam(stack, "Team", user_pool=pool, runtime=Runtime.SELF_HOSTED)
    with pytest.raises(
        ConfigurationError, match=r"user_pool_domain=cognito\.UserPoolDomain\.from_domain_name"
    ):
        _job(stack, team, Runtime.SELF_HOSTED)


def test_fails_when_a_self_hosted_team_restricts_source_ips(stack):
    with pytest.raises(ConfigurationError, match="source_ip_cidrs restricts a SageMaker workforce"):
        PrivateWorkteam(
            stack, "Team", source_ip_cidrs=["203.0.113.0/24"], runtime=Runtime.SELF_HOSTED
        )


# -- snapshot (assertions above stay the source of truth) ----------------------------------------
def test_snapshot(self_hosted: Template, snapshot: Any) -> None:
    from syrupy.extensions.json import JSONSnapshotExtension

    from tests.support import normalise_for_snapshot

    assert normalise_for_snapshot(self_hosted.to_json()) == snapshot(
        extension_class=JSONSnapshotExtension
    )
