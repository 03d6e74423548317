"""Custom resource: the labeling job's lifecycle (CloudFormation has no resource for it).

- Create: ``CreateLabelingJob`` named ``<prefix>-<hash of the resolved request>``.
  A retried create that finds its own job (same name, same request hash tag)
  succeeds with it; a name taken by a different job fails and says so.
- Update: a changed request is a new job (new name, so a new physical id, and
  CloudFormation then deletes the old resource); an unchanged one does nothing.
- Delete: stop the job if it is Initializing or InProgress; Completed, Failed,
  Stopping, Stopped or missing is success. ``RemovalPolicy`` retain leaves it
  running. A delete that follows a replacement (the stack is cleaning up after
  an update) stops the old job only when ``StopReplacedJobs`` is true.
- SageMaker's error messages reach the stack event unchanged and in full.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .cfn_response import Outcome, respond

HASH_TAG = "gt-constructs:request-hash"
ACTIVE = ("Initializing", "InProgress")
_CLIENTS: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _CLIENTS:
        import boto3

        _CLIENTS[service] = boto3.client(service)  # type: ignore[call-overload]
    return _CLIENTS[service]


class JobNameTaken(RuntimeError):
    """The job name exists for a different request."""


def request_hash(request: Mapping[str, Any]) -> str:
    """Short hash of the resolved request (canonical JSON)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]


def job_name(prefix: str, request: Mapping[str, Any]) -> str:
    return f"{prefix}-{request_hash(request)}"


def _properties(event: Mapping[str, Any], key: str = "ResourceProperties") -> dict[str, Any]:
    props = event.get(key) or {}
    request = json.loads(props["Request"]) if isinstance(props.get("Request"), str) else None
    if not isinstance(request, dict):
        raise ValueError("the custom resource needs Request: the CreateLabelingJob request as JSON")
    return {
        "request": request,
        "prefix": str(props["JobNamePrefix"]),
        "stop_replaced": str(props.get("StopReplacedJobs", "true")).lower() == "true",
        "retain": str(props.get("RemovalPolicy", "retain")).lower() == "retain",
    }


def _outcome(name: str, description: Mapping[str, Any], request: Mapping[str, Any]) -> Outcome:
    output = str(request["OutputConfig"]["S3OutputPath"]).rstrip("/")
    return name, {
        "LabelingJobName": name,
        "LabelingJobArn": str(description["LabelingJobArn"]),
        "OutputManifestS3Uri": f"{output}/{name}/manifests/output/output.manifest",
    }


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
    digest = request_hash(request)
    name = f"{prefix}-{digest}"
    existing = _describe(sagemaker, name)
    if existing is not None:
        if _same_job(sagemaker, existing, digest):
            return _outcome(name, existing, request)  # a retried create found its own job
        raise JobNameTaken(
            f"labeling job name {name} is taken by a different job (names are unique per "
            "account and region forever); change job_name_prefix"
        )
    tags = [t for t in request.get("Tags", []) if t.get("Key") != HASH_TAG]
    body = dict(request, LabelingJobName=name, Tags=[*tags, {"Key": HASH_TAG, "Value": digest}])
    try:
        created = sagemaker.create_labeling_job(**body)
    except sagemaker.exceptions.ResourceInUse:
        existing = _describe(sagemaker, name)  # lost a race with our own retry
        if existing is not None and _same_job(sagemaker, existing, digest):
            return _outcome(name, existing, request)
        raise
    return _outcome(name, created, request)


def stop(sagemaker: Any, name: str) -> None:
    description = _describe(sagemaker, name)
    if description is None or description.get("LabelingJobStatus") not in ACTIVE:
        return
    try:
        sagemaker.stop_labeling_job(LabelingJobName=name)
    except Exception as error:  # it finished or stopped meanwhile
        if "status" not in str(error).lower():
            raise


def _stack_is_cleaning_up_after_update(event: Mapping[str, Any]) -> bool:
    stacks = client("cloudformation").describe_stacks(StackName=event["StackId"])["Stacks"]
    return bool(stacks) and str(stacks[0]["StackStatus"]).startswith("UPDATE")


def handle(event: Mapping[str, Any], sagemaker: Any | None = None) -> Outcome:
    sagemaker = sagemaker or client("sagemaker")
    kind = event["RequestType"]
    if kind == "Create":
        props = _properties(event)
        return create(sagemaker, props["prefix"], props["request"])
    if kind == "Update":
        props = _properties(event)
        old_id = str(event.get("PhysicalResourceId", ""))
        if job_name(props["prefix"], props["request"]) == old_id:
            existing = _describe(sagemaker, old_id)
            if existing is not None:
                return _outcome(old_id, existing, props["request"])  # unchanged: nothing to do
        return create(sagemaker, props["prefix"], props["request"])
    if kind == "Delete":
        name = str(event.get("PhysicalResourceId", ""))
        props = _properties(event)
        if props["retain"]:
            return name, {}
        if not props["stop_replaced"] and _stack_is_cleaning_up_after_update(event):
            return name, {}
        stop(sagemaker, name)
        return name, {}
    raise ValueError(f"unknown RequestType {kind!r}; allowed: Create, Update, Delete")


def handler(event: Mapping[str, Any], context: Any) -> None:
    """Lambda entry point (answers CloudFormation itself)."""
    respond(event, handle)
