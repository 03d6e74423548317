#!/usr/bin/env python3
"""Example app: the original blog post's scenario, as one CDK stack.

Street-scene photos, instance segmentation of ``Person``, three workers per
object, a custom worker template, and a private workteam made in the same
deploy. Synthesizes offline without AWS credentials (``python app.py``).

Context (``-c key=value`` or cdk.json):
  workerEmails         comma-separated worker e-mail addresses for the new team
                       (default: a documented placeholder, worker@example.com)
  existingUserPoolId / existingUserPoolClientId
                       use the account's existing private workforce (one per
                       region): only a Cognito group and a workteam are added
  workteamArn          import a workteam made elsewhere instead
  notificationEmail    e-mail told when a job completes, fails or stops
  runtime              ground-truth (default) or self-hosted: the same job on the
                       library's labeling runtime in this stack (DynamoDB, Lambda,
                       Step Functions, an HTTP API and a portal behind CloudFront);
                       no SageMaker workforce, workteam or labeling job is made
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from gt_constructs._node import node_executable, node_major, node_problem

# The AWS CDK's Python library runs on Node.js (through jsii), started by
# `import aws_cdk`; without it that import dies in a jsii traceback that never
# names Node.js. Say it in one line instead.
_NODE_PROBLEM = node_problem()
if _NODE_PROBLEM:
    sys.exit(f"app.py: {_NODE_PROBLEM}")

# jsii prints an eleven-line banner on stderr when the machine's Node.js release
# is past jsii's support date (Node 20 on many machines). The app synthesizes
# correctly on it, and the banner would bury the synth's own warnings, so it is
# silenced for the Node release actually found, and only for the end-of-life
# banner (a user's own setting wins). It has to be set before aws_cdk is
# imported: the import starts jsii's Node process.
_NODE = node_executable()
_NODE_MAJOR = node_major(_NODE) if _NODE else None
if _NODE_MAJOR:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", str(_NODE_MAJOR))

import aws_cdk as cdk  # noqa: E402 (after the jsii setting above)
import cdk_nag  # noqa: E402
from aws_cdk import aws_cognito as cognito  # noqa: E402
from aws_cdk import cx_api  # noqa: E402
from constructs import Construct  # noqa: E402

from gt_constructs import (  # noqa: E402
    CustomLabelingJob,
    Dataset,
    IWorkteam,
    PayloadAccess,
    PrivateWorkteam,
    Runtime,
    TaskType,
    WorkerTemplate,
)

HERE = Path(__file__).resolve().parent
PLACEHOLDER_WORKER = "worker@example.com"
RUNTIMES = {"ground-truth": Runtime.GROUND_TRUTH, "self-hosted": Runtime.SELF_HOSTED}


def _context_list(scope: Construct, key: str) -> list[str]:
    value = scope.node.try_get_context(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item) for item in value]


class StreetPeopleStack(cdk.Stack):
    """Label the people in street scenes, with consensus of three workers."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.runtime = _runtime(self)
        workteam = self._workteam()
        job = CustomLabelingJob(
            self,
            "StreetPeople",
            task_type=TaskType.INSTANCE_SEGMENTATION,
            labels=["Person"],
            dataset=Dataset.from_local_directory(
                HERE / "examples" / "street-scenes", prefix="datasets/streetscenes"
            ),
            workteam=workteam,
            template=WorkerTemplate.from_file(HERE / "examples" / "street-people.liquid.html"),
            workers_per_object=3,
            task_title="Outline the people in a street scene",
            task_description="Draw one instance around each person in the photo",
            task_keywords=["image", "segmentation", "people"],
            task_time_limit=cdk.Duration.minutes(10),
            task_availability_lifetime=cdk.Duration.days(10),
            max_concurrent_task_count=100,
            payload_access=PayloadAccess.ASSUME_EXECUTION_ROLE,
            label_attribute_name="street-people",
            removal_policy=cdk.RemovalPolicy.DESTROY,
            notification_emails=_context_list(self, "notificationEmail"),
            runtime=self.runtime,
        )
        cdk.CfnOutput(self, "LabelAttributeName", value=job.label_attribute_name)

    def _workteam(self) -> IWorkteam:
        arn = self.node.try_get_context("workteamArn")
        if arn:  # a self-hosted job refuses a workteam known by its ARN alone (it says why)
            return PrivateWorkteam.from_workteam_arn(self, "Workteam", arn)
        emails = _context_list(self, "workerEmails") or [PLACEHOLDER_WORKER]
        pool_id = self.node.try_get_context("existingUserPoolId")
        client_id = self.node.try_get_context("existingUserPoolClientId")
        if pool_id:
            return PrivateWorkteam(
                self,
                "Workteam",
                user_pool=cognito.UserPool.from_user_pool_id(self, "ExistingPool", pool_id),
                user_pool_client_id=client_id,
                worker_emails=emails,
                description="Workers labelling people in street scenes",
                runtime=self.runtime,
            )
        return PrivateWorkteam(
            self,
            "Workteam",
            worker_emails=emails,
            description="Workers labelling people in street scenes",
            runtime=self.runtime,
        )


def _runtime(scope: Construct) -> Runtime:
    value = str(scope.node.try_get_context("runtime") or "ground-truth").strip().lower()
    if value not in RUNTIMES:
        raise SystemExit(
            f"context runtime={value!r} is unknown; allowed: {', '.join(RUNTIMES)} "
            "(cdk synth -c runtime=self-hosted)"
        )
    return RUNTIMES[value]


def print_synth_messages(assembly: cx_api.CloudAssembly, stream: TextIO) -> int:
    """Print the assembly's warnings and errors, one line each with the construct path.

    The CDK CLI prints these itself after ``cdk synth``; ``python app.py`` alone
    would say nothing about them. Returns how many were printed.
    """
    printed = 0
    for artifact in assembly.stacks_recursively:
        for message in artifact.messages:
            if message.level == cx_api.SynthesisMessageLevel.INFO:
                continue
            level = "error" if message.level == cx_api.SynthesisMessageLevel.ERROR else "warning"
            print(f"[{level}] {message.id}: {message.entry.data}", file=stream)
            printed += 1
    return printed


def main() -> None:
    under_cdk_cli = "CDK_OUTDIR" in os.environ
    # Run by the CDK CLI, CDK_OUTDIR says where to write; run as `python app.py`, cdk.out/.
    app = cdk.App(outdir=None if under_cdk_cli else str(HERE / "cdk.out"))
    # Unacknowledged AwsSolutions findings stop synth: the library acknowledges
    # its own, each with a specific reason.
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    stack = StreetPeopleStack(app, "GtStreetPeople")
    cdk.Tags.of(stack).add("project", "gt-constructs-example")
    assembly = app.synth()
    if not under_cdk_cli:  # the CDK CLI prints the messages itself
        print_synth_messages(assembly, sys.stderr)
    # stderr: stdout is the CDK CLI's (`cdk ls` prints the stack names there).
    print(f"synthesized {stack.stack_name} into {assembly.directory}", file=sys.stderr)


if __name__ == "__main__":
    main()
