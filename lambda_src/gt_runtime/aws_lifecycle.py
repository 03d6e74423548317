"""Custom resource: a labeling job's lifecycle on the self-hosted runtime.

The twin of ``gt_resources.labeling_job`` (same properties, names and attributes):

- Create: the job ``<prefix>-<hash of the resolved request>`` starts as an execution of
  the runtime's job state machine named after it (a retried create finds its own
  execution: ``ExecutionAlreadyExists`` for that name is success).
- Update: a changed request is a new job (new name, so a new physical id; CloudFormation
  then deletes the old resource); an unchanged one does nothing.
- Delete: decided as on Ground Truth (``labeling_job.delete_reason``/``should_stop``): a
  replaced job is stopped when ``StopReplacedJobs`` is true, whatever the removal policy;
  one made by a deploy that rolls back is always stopped; a job removed from the template
  (or its stack deleted) is stopped unless ``RemovalPolicy`` is retain. Stopping means
  ``Stopping``: nothing more is handed out or accepted; the state machine consolidates
  what is ready, writes the output manifest and ends it ``Stopped``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

from gt_resources import labeling_job
from gt_resources.cfn_response import Outcome, respond
from gt_resources.job_contract import job_name, request_hash
from gt_resources.labeling_job import _properties

from . import aws_host
from .aws_contract import ENV_STATE_MACHINE
from .model import NotFound


def _outcome(name: str, engine: Any, request: Mapping[str, Any]) -> Outcome:
    output = str(request["OutputConfig"]["S3OutputPath"]).rstrip("/")
    return name, {
        "LabelingJobName": name,
        "LabelingJobArn": engine.job_arn(name),
        "OutputManifestS3Uri": f"{output}/{name}/manifests/output/output.manifest",
        "RequestHash": request_hash(request),
    }


def start(
    states: Any, machine: str, prefix: str, request: Mapping[str, Any], engine: Any
) -> Outcome:
    name = job_name(prefix, request)
    body = dict(request, LabelingJobName=name)
    # ExecutionAlreadyExists: this job's execution (a retried create); the name is the job's.
    with contextlib.suppress(states.exceptions.ExecutionAlreadyExists):
        states.start_execution(
            stateMachineArn=machine, name=name, input=json.dumps({"request": body})
        )
    return _outcome(name, engine, request)


def stop(engine: Any, name: str) -> None:
    # NotFound: never started (its execution failed before storing it): nothing to stop.
    with contextlib.suppress(NotFound):
        engine.stop_job(name)


def handle(event: Mapping[str, Any], states: Any, engine: Any) -> Outcome:
    machine = os.environ[ENV_STATE_MACHINE]
    kind = event["RequestType"]
    if kind in ("Create", "Update"):
        props = _properties(event)
        if kind == "Update":
            old = str(event.get("PhysicalResourceId", ""))
            if job_name(props["prefix"], props["request"]) == old:
                return _outcome(old, engine, props["request"])  # unchanged: nothing to do
        return start(states, machine, props["prefix"], props["request"], engine)
    if kind == "Delete":
        name = str(event.get("PhysicalResourceId", ""))
        props = _properties(event)
        reason = labeling_job.delete_reason(event)
        if labeling_job.should_stop(
            reason, stop_replaced=props["stop_replaced"], retain=props["retain"]
        ):
            stop(engine, name)
        return name, {}
    raise ValueError(f"unknown RequestType {kind!r}; allowed: Create, Update, Delete")


def handler(event: Mapping[str, Any], context: Any) -> None:
    """Lambda entry point (answers CloudFormation itself)."""
    account = aws_host.account_of(getattr(context, "invoked_function_arn", None))
    respond(
        event,
        lambda e: handle(e, aws_host.client("stepfunctions"), aws_host.engine(account=account)),
    )
