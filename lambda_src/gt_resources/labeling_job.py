"""Custom resource: the labeling job's lifecycle (CloudFormation has no resource for it).

- Create: ``CreateLabelingJob`` named ``<prefix>-<hash of the resolved request>``
  (``job_contract``). A retried create that finds its own job (same name, same
  request-hash tag) succeeds with it; a name taken by a different job fails and
  says so.
- Update: a changed request is a new job (new name, so a new physical id, and
  CloudFormation then deletes the old resource); a request whose only change is
  the user's tags re-tags the running job; an unchanged one does nothing.
- Delete: what happens depends on why CloudFormation deletes (``delete_reason``):

  ========================  ==========================================
  the job was...            it is stopped when
  ========================  ==========================================
  replaced by an update     ``StopReplacedJobs`` is true (the default)
  removed, or stack deleted ``RemovalPolicy`` is destroy (not retain)
  made by a deploy that     always: the stack goes back to the job it
  rolled back               had, and nothing would manage this one
  ========================  ==========================================

  Stopping a job that is not Initializing or InProgress (Completed, Failed,
  Stopping, Stopped, missing) is a success.
- ``Start`` false (``start_on_deploy=False``): no job is created; the resource
  only names the job a deploy would start, from the same resolved request, so
  the stack output's request starts exactly that job.
- SageMaker's error messages reach the stack event unchanged and in full.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .cfn_response import Outcome, respond
from .job_contract import HASH_TAG, creation_request, job_name, request_hash, user_tags

ACTIVE = ("Initializing", "InProgress")

#: Why CloudFormation deletes the resource (``delete_reason``).
REPLACED = "replaced"
REMOVED = "removed"
ROLLED_BACK = "rolled-back"

_CLIENTS: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _CLIENTS:
        import boto3

        _CLIENTS[service] = boto3.client(service)  # type: ignore[call-overload]
    return _CLIENTS[service]


class JobNameTaken(RuntimeError):
    """The job name exists for a different request."""


def _properties(event: Mapping[str, Any], key: str = "ResourceProperties") -> dict[str, Any]:
    props = event.get(key) or {}
    request = json.loads(props["Request"]) if isinstance(props.get("Request"), str) else None
    if not isinstance(request, dict):
        raise ValueError("the custom resource needs Request: the CreateLabelingJob request as JSON")
    return {
        "request": request,
        "prefix": str(props["JobNamePrefix"]),
        "start": str(props.get("Start", "true")).lower() == "true",
        "stop_replaced": str(props.get("StopReplacedJobs", "true")).lower() == "true",
        "retain": str(props.get("RemovalPolicy", "retain")).lower() == "retain",
    }


def _output_manifest(name: str, request: Mapping[str, Any]) -> str:
    output = str(request["OutputConfig"]["S3OutputPath"]).rstrip("/")
    return f"{output}/{name}/manifests/output/output.manifest"


def _outcome(name: str, arn: str, request: Mapping[str, Any]) -> Outcome:
    return name, {
        "LabelingJobName": name,
        "LabelingJobArn": arn,
        "OutputManifestS3Uri": _output_manifest(name, request),
        "RequestHash": request_hash(request),
    }


def planned_arn(stack_id: str, name: str) -> str:
    """The ARN a job of this name gets in the stack's partition, region and account
    (SageMaker lower-cases job names in ARNs)."""
    _, partition, _, region, account = stack_id.split(":", 5)[:5]
    return f"arn:{partition}:sagemaker:{region}:{account}:labeling-job/{name.lower()}"


def _describe(sagemaker: Any, name: str) -> Mapping[str, Any] | None:
    try:
        return sagemaker.describe_labeling_job(LabelingJobName=name)
    except sagemaker.exceptions.ResourceNotFound:
        return None
    except Exception as error:  # older API responses say "not found" in a ValidationException
        if "not found" in str(error).lower() or "does not exist" in str(error).lower():
            return None
        raise


def _same_job(sagemaker: Any, description: Mapping[str, Any], digest: str) -> bool:
    tags = sagemaker.list_tags(ResourceArn=description["LabelingJobArn"]).get("Tags", [])
    return any(t.get("Key") == HASH_TAG and t.get("Value") == digest for t in tags)


def create(sagemaker: Any, prefix: str, request: Mapping[str, Any]) -> Outcome:
    body = creation_request(request, prefix)
    name, digest = body["LabelingJobName"], request_hash(request)
    existing = _describe(sagemaker, name)
    if existing is not None:
        if _same_job(sagemaker, existing, digest):  # a retried create found its own job
            return _outcome(name, str(existing["LabelingJobArn"]), request)
        raise JobNameTaken(
            f"labeling job name {name} is taken by a different job (names are unique per "
            "account and region forever); change job_name_prefix"
        )
    try:
        created = sagemaker.create_labeling_job(**body)
    except sagemaker.exceptions.ResourceInUse:
        existing = _describe(sagemaker, name)  # lost a race with our own retry
        if existing is not None and _same_job(sagemaker, existing, digest):
            return _outcome(name, str(existing["LabelingJobArn"]), request)
        raise
    return _outcome(name, str(created["LabelingJobArn"]), request)


def retag(
    sagemaker: Any, arn: str, request: Mapping[str, Any], old_request: Mapping[str, Any]
) -> None:
    """Give a running job the request's user tags (added, changed and removed ones)."""
    new, old = user_tags(request), user_tags(old_request)
    changed = [{"Key": k, "Value": v} for k, v in new.items() if old.get(k) != v]
    removed = sorted(set(old) - set(new))
    if changed:
        sagemaker.add_tags(ResourceArn=arn, Tags=changed)
    if removed:
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=removed)


def stop(sagemaker: Any, name: str) -> None:
    description = _describe(sagemaker, name)
    if description is None or description.get("LabelingJobStatus") not in ACTIVE:
        return
    try:
        sagemaker.stop_labeling_job(LabelingJobName=name)
    except Exception as error:  # it finished or stopped meanwhile
        if "status" not in str(error).lower():
            raise


def delete_reason(event: Mapping[str, Any]) -> str:
    """Why CloudFormation deletes this resource, from the stack's status and resource.

    - a rollback (``ROLLBACK_*`` of a failed create, ``UPDATE_ROLLBACK_*``,
      ``IMPORT_ROLLBACK_*``) deletes only what the failed deploy made:
      ``ROLLED_BACK``;
    - after an update, the logical resource still in the stack with another
      physical id was replaced (``REPLACED``), else it was removed from the
      template (``REMOVED``);
    - anything else (``DELETE_IN_PROGRESS``) deletes the stack: ``REMOVED``.
    """
    cloudformation = client("cloudformation")
    stacks = cloudformation.describe_stacks(StackName=event["StackId"])["Stacks"]
    status = str(stacks[0]["StackStatus"]) if stacks else ""
    if "ROLLBACK" in status:
        return ROLLED_BACK
    if not status.startswith("UPDATE"):
        return REMOVED
    try:
        current = cloudformation.describe_stack_resource(
            StackName=event["StackId"], LogicalResourceId=event["LogicalResourceId"]
        )["StackResourceDetail"]
    except Exception as error:  # "Resource ... does not exist for stack": removed
        if "does not exist" not in str(error).lower():
            raise
        return REMOVED
    same = current.get("PhysicalResourceId") == event.get("PhysicalResourceId")
    return REMOVED if same else REPLACED


def should_stop(reason: str, *, stop_replaced: bool, retain: bool) -> bool:
    """Whether a deleted job is stopped (the table in the module docstring)."""
    if reason == ROLLED_BACK:
        return True
    if reason == REPLACED:
        return stop_replaced
    return not retain


def handle(event: Mapping[str, Any], sagemaker: Any | None = None) -> Outcome:
    kind = event["RequestType"]
    props = _properties(event)
    prefix, request = props["prefix"], props["request"]
    if not props["start"]:  # only name the job a deploy would start
        name = job_name(prefix, request)
        if kind == "Delete":
            return str(event.get("PhysicalResourceId") or name), {}
        return _outcome(name, planned_arn(str(event["StackId"]), name), request)
    sagemaker = sagemaker or client("sagemaker")
    if kind == "Create":
        return create(sagemaker, prefix, request)
    if kind == "Update":
        old_id = str(event.get("PhysicalResourceId", ""))
        if job_name(prefix, request) == old_id:
            existing = _describe(sagemaker, old_id)
            if existing is not None:  # the same job: at most its tags changed
                arn = str(existing["LabelingJobArn"])
                old = event.get("OldResourceProperties") or {}
                old_request = json.loads(old["Request"]) if "Request" in old else {}
                retag(sagemaker, arn, request, old_request)
                return _outcome(old_id, arn, request)
        return create(sagemaker, prefix, request)
    if kind == "Delete":
        name = str(event.get("PhysicalResourceId", ""))
        reason = delete_reason(event)
        if should_stop(reason, stop_replaced=props["stop_replaced"], retain=props["retain"]):
            stop(sagemaker, name)
        return name, {}
    raise ValueError(f"unknown RequestType {kind!r}; allowed: Create, Update, Delete")


def handler(event: Mapping[str, Any], context: Any) -> None:
    """Lambda entry point (answers CloudFormation itself)."""
    respond(event, handle)
