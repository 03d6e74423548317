"""Job names and tags: the default prefix is the construct's own, the planned job is the
one the handler starts, the construct's tags reach the request, quota warnings.

One synth for the module: two stacks with a job of the same task type each (one
stack with a second job), a job named at deploy (``start_on_deploy=False``), and
one whose request is known at synth.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from gt_resources.job_contract import HASH_TAG, JOB_NAME_PATTERN, MAX_PREFIX, creation_request

from gt_constructs import CustomLabelingJob, Dataset, PrivateWorkteam, TaskType
from tests.support import cfn_lint_findings, synth_stacks

ENV = cdk.Environment(account="111122223333", region="us-east-1")
TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t"
FUNCTION = "arn:aws:lambda:us-east-1:111122223333:function:"
JOBS: dict[str, CustomLabelingJob] = {}


def _job(stack: cdk.Stack, construct_id: str, **props: Any) -> CustomLabelingJob:
    data = s3.Bucket.from_bucket_name(stack, f"{construct_id}Data", "street-photos")
    job = CustomLabelingJob(
        stack,
        construct_id,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Car", "Bus"],
        dataset=Dataset.from_manifest(data, "batches/1.manifest", data_prefix="photos/"),
        workteam=PrivateWorkteam.from_workteam_arn(stack, f"{construct_id}Team", TEAM),
        **props,
    )
    JOBS[f"{stack.stack_name}/{construct_id}"] = job
    return job


def alpha(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Alpha", env=ENV)
    job = _job(stack, "Job")
    _job(stack, "Second(2)", max_concurrent_task_count=2000)
    cdk.Tags.of(stack).add("cost-centre", "42")
    cdk.Tags.of(job).add("team", "vision")
    return stack


def beta(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Beta", env=ENV)
    _job(stack, "Job", start_on_deploy=False)
    cdk.Tags.of(stack).add("cost-centre", "43")
    return stack


def literal(app: cdk.App) -> cdk.Stack:
    """Every value of the request known at synth (imported buckets, role and functions)."""
    stack = cdk.Stack(app, "Literal", env=ENV)
    _job(
        stack,
        "Job",
        start_on_deploy=False,
        input_bucket=s3.Bucket.from_bucket_name(stack, "In", "gt-input"),
        output_bucket=s3.Bucket.from_bucket_name(stack, "Out", "gt-output"),
        role=iam.Role.from_role_arn(
            stack, "Exec", "arn:aws:iam::111122223333:role/gt-exec", mutable=False
        ),
        pre_annotation_function=lambda_.Function.from_function_arn(stack, "Pre", FUNCTION + "pre"),
        post_annotation_function=lambda_.Function.from_function_arn(
            stack, "Post", FUNCTION + "post"
        ),
    )
    cdk.Tags.of(stack).add("cost-centre", "44")
    return stack


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return synth_stacks(lambda app: [alpha(app), beta(app), literal(app)])


def _props(template: Template, kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(kind).values()]


def _sagemaker_resources(template: Template, role_part: str) -> list[str]:
    """The resources of every statement with a SageMaker action of roles whose logical id
    starts so (or holds ``Name<role_part>``: the naming resource's)."""
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = [r.get("Ref", "") for r in policy["Properties"]["Roles"]]
        if not any(r.startswith(role_part) or f"Name{role_part}" in r for r in roles):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if any(a.startswith("sagemaker:") for a in actions):
                resources = statement["Resource"]
                found += resources if isinstance(resources, list) else [resources]
    return [json.dumps(r) for r in found]


# -- 3. the default prefix is the construct's own ----------------------------------------------
def test_default_prefixes_differ_between_stacks_and_constructs(
    templates: dict[str, Template],
) -> None:
    prefixes = {path: job.job_name_prefix for path, job in JOBS.items()}
    assert len(set(prefixes.values())) == len(prefixes), prefixes
    for prefix in prefixes.values():
        # the task type's attribute, then eight hex digits; room for the job's hash
        assert re.fullmatch(r"image-classification-[0-9a-f]{8}", prefix), prefix
        assert len(prefix) <= MAX_PREFIX
        assert re.fullmatch(JOB_NAME_PATTERN, f"{prefix}-0123456789")


def test_a_long_label_attribute_still_gives_a_valid_unique_prefix() -> None:
    from gt_constructs.job.lifecycle import default_job_name_prefix

    prefix = default_job_name_prefix("a" * 60 + "-b", "0123abcd")
    assert len(prefix) == MAX_PREFIX and prefix.endswith("-0123abcd")
    assert re.fullmatch(JOB_NAME_PATTERN, f"{prefix}-0123456789")


def test_job_handler_and_runner_may_act_only_on_their_own_constructs_jobs(
    templates: dict[str, Template],
) -> None:
    own = JOBS["Alpha/Job"].job_name_prefix
    others = [job.job_name_prefix for path, job in JOBS.items() if path != "Alpha/Job"]
    alpha = templates["Alpha"]
    for role_part in ("JobHandlerRole", "JobRunnerStateMachineRole"):
        resources = [r for r in _sagemaker_resources(alpha, role_part) if "labeling-job" in r]
        mine = [r for r in resources if f"labeling-job/{own}-*" in r]
        assert mine, role_part
        # the second job of the stack has its own roles: none of these statements covers it
        for resource in resources:
            assert not any(f"labeling-job/{other}-*" in resource for other in others)


def test_state_change_rule_watches_only_this_constructs_jobs(
    templates: dict[str, Template],
) -> None:
    rules = json.dumps(_props(templates["Beta"], "AWS::Events::Rule"))
    assert f"labeling-job/{JOBS['Beta/Job'].job_name_prefix}-" in rules
    assert JOBS["Alpha/Job"].job_name_prefix not in rules


# -- 2. the planned job is the one the handler starts -------------------------------------------
def _output(template: Template, name: str) -> Any:
    outputs = template.to_json()["Outputs"]
    return next(v["Value"] for k, v in outputs.items() if k.startswith(f"Job{name}"))


def test_planned_request_known_at_synth_is_exactly_what_the_handler_sends(
    templates: dict[str, Template],
) -> None:
    # GIVEN a job not started on deploy whose request is known at synth
    job = JOBS["Literal/Job"]
    output = json.loads(_output(templates["Literal"], "CreateLabelingJobRequest"))
    # WHEN the handler is given the same request (no name, no hash tag)
    request = {k: v for k, v in output.items() if k != "LabelingJobName"}
    request["Tags"] = [t for t in output["Tags"] if t["Key"] != HASH_TAG]
    # THEN it would send exactly the output's request: same name, same hash tag
    assert creation_request(request, job.job_name_prefix) == output
    assert job.labeling_job_name == output["LabelingJobName"]
    assert _output(templates["Literal"], "LabelingJobName") == output["LabelingJobName"]
    assert {"Key": "cost-centre", "Value": "44"} in output["Tags"]
    # and no resource is needed to name it
    assert not templates["Literal"].find_resources("Custom::GroundTruthLabelingJob")


def test_planned_request_with_deploy_time_values_is_named_at_deploy_by_the_handler(
    templates: dict[str, Template],
) -> None:
    # GIVEN a job not started on deploy whose request holds bucket names, ARNs...
    beta = templates["Beta"]
    (logical_id,) = beta.find_resources("Custom::GroundTruthLabelingJob")
    props = beta.find_resources("Custom::GroundTruthLabelingJob")[logical_id]["Properties"]
    # THEN the handler names it from the resolved request, without starting it
    assert props["Start"] == "false"
    assert props["JobNamePrefix"] == JOBS["Beta/Job"].job_name_prefix
    # and the output's request carries that name and request hash, from the handler
    output = json.dumps(_output(beta, "CreateLabelingJobRequest"))
    assert json.dumps({"Fn::GetAtt": [logical_id, "LabelingJobName"]}) in output
    assert json.dumps({"Fn::GetAtt": [logical_id, "RequestHash"]}) in output
    assert _output(beta, "LabelingJobName") == {"Fn::GetAtt": [logical_id, "LabelingJobName"]}


def test_naming_handler_may_not_touch_any_job(templates: dict[str, Template]) -> None:
    assert _sagemaker_resources(templates["Beta"], "HandlerRole") == []


# -- 13. the construct's tags reach the request -------------------------------------------------
def _request(template: Template) -> str:
    (props,) = [p for p in _props(template, "Custom::GroundTruthLabelingJob") if "Start" not in p]
    return json.dumps(props["Request"])


def test_stack_and_construct_tags_reach_the_create_labeling_job_request(
    templates: dict[str, Template],
) -> None:
    requests = [p["Request"] for p in _props(templates["Alpha"], "Custom::GroundTruthLabelingJob")]
    text = json.dumps(requests)
    assert text.count('\\"Key\\":\\"cost-centre\\",\\"Value\\":\\"42\\"') == 2
    assert text.count('\\"Key\\":\\"team\\",\\"Value\\":\\"vision\\"') == 1  # Tags.of(job)


def test_runner_jobs_get_the_tags_too(templates: dict[str, Template]) -> None:
    machines = json.dumps(_props(templates["Alpha"], "AWS::StepFunctions::StateMachine"))
    assert machines.count('\\"Key\\":\\"cost-centre\\",\\"Value\\":\\"42\\"') == 2


def test_construct_path_tag_is_a_valid_tag_value(templates: dict[str, Template]) -> None:
    text = json.dumps(
        [p["Request"] for p in _props(templates["Alpha"], "Custom::GroundTruthLabelingJob")]
    )
    assert "Alpha/Second_2_" in text and "Second(2)" not in text


def test_fails_when_a_tag_breaks_sagemakers_rules() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Bad", env=ENV)
    _job(stack, "Job")
    cdk.Tags.of(stack).add("owner", "ana#1")
    cdk.Tags.of(stack).add("aws:x", "1")
    with pytest.raises(RuntimeError, match=r"tag 'owner' value 'ana#1' is not allowed") as error:
        app.synth()
    assert "'aws:' is reserved" in str(error.value)


# -- 14. more concurrent tasks than the default quota -----------------------------------------
def test_more_than_1000_concurrent_tasks_warns_at_synth(templates: dict[str, Template]) -> None:
    stack = cdk.Stack.of(JOBS["Alpha/Job"])
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("max_concurrent_task_count is 2000: .*AWS Support")
    )
    assert [w.id for w in warnings] == ["/Alpha/Second(2)"]
    assert "max-concurrent-tasks-needs-quota-increase" in str(warnings[0].entry.data)


def test_templates_pass_cfn_lint(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        assert cfn_lint_findings(template.to_json()) == [], name
