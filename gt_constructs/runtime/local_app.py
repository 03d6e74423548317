"""A ``CustomLabelingJob`` of the user's own CDK app, run on this machine.

``from_app("python3 app.py")`` synthesizes the app (``CDK_OUTDIR`` set to a fresh
folder, as the CDK CLI does) and reads the cloud assembly; nothing of the app or the
construct is changed. In each stack template:

- the job: an output whose id ends in ``CreateLabelingJobRequest`` (the request exactly
  as synthesized for Ground Truth); its ``LabelingJobName`` is what the job's custom
  resource would name it (``<prefix>-<hash of the request>``);
- CloudFormation's references are resolved to local values: a bucket's ``Ref`` is a
  local bucket (``DIR/<logical id>/``), a function's ``Arn`` a local ARN, pseudo
  parameters ``local`` / ``000000000000``;
- the files the stack uploads (``Custom::CDKBucketDeployment``: the template, the label
  categories, the local dataset and its generated manifest, their deploy-time markers
  filled in) are copied from the assembly's assets into those local buckets;
- the request's Lambda functions: a Python function running the library's handler
  (``gt_annotation.pre_annotation.handler`` / ``post_annotation.handler``) runs in
  process with its synthesized environment; any other function (another language,
  your own handler, an imported ARN) runs only on the AWS runtime and is refused;
- the team's workers: the Cognito users the stack puts in the workteam's group.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..lambda_src.gt_resources.labeling_job import job_name
from ..lambda_src.gt_runtime.invoke import LocalFunction
from .local_job import ACCOUNT, REGION, LocalJob, LocalJobError

REQUEST_OUTPUT = "CreateLabelingJobRequest"
JOB_RESOURCE = "Custom::GroundTruthLabelingJob"
BUCKET_DEPLOYMENT = "Custom::CDKBucketDeployment"
_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}
_LIBRARY_HANDLERS = {
    "gt_annotation.pre_annotation.handler",
    "gt_annotation.post_annotation.handler",
}


class Unresolvable(LocalJobError):
    pass


class Stack:
    """One synthesized stack: its template, assets folder, and CloudFormation resolution."""

    def __init__(self, name: str, template: dict[str, Any], outdir: Path) -> None:
        self.name = name
        self.template = template
        self.outdir = outdir
        self.resources: dict[str, Any] = template.get("Resources", {})
        #: Local names of buckets (logical id → name): the job's input and output buckets
        #: are ``input`` and ``output`` (``DIR/input``, ``DIR/output``).
        self.bucket_names: dict[str, str] = {}

    # -- resolution --------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its local value."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical, attribute = (
                    argument if isinstance(argument, list) else argument.split(".", 1)
                )
                return self.get_att(logical, attribute)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(self.resolve(item)) for item in items)
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key.startswith("Fn::"):
                raise Unresolvable(f"{key} is not resolved locally")
        return {key: self.resolve(item) for key, item in value.items()}

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def ref(self, logical: str) -> Any:
        if logical in _PSEUDO:
            return _PSEUDO[logical]
        if logical == "AWS::StackName":
            return self.name
        parameters = self.template.get("Parameters", {})
        if logical in parameters:
            return parameters[logical].get("Default", logical)
        resource = self.resources.get(logical)
        if resource is None:
            raise Unresolvable(f"Ref to {logical}, which the stack does not define")
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if kind == "AWS::S3::Bucket":
            return self.bucket_name(logical)
        if kind == "AWS::Lambda::Function":
            return self.function_name(logical)
        if kind == "AWS::SageMaker::Workteam":
            return self.get_att(logical, "WorkteamArn")
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{logical}"
        if kind == "AWS::Cognito::UserPoolUser":
            return self.resolve(properties.get("Username", logical))
        return logical

    def bucket_name(self, logical: str) -> str:
        if logical in self.bucket_names:
            return self.bucket_names[logical]
        given = self.resources[logical].get("Properties", {}).get("BucketName")
        name = self.resolve(given) if given is not None else logical.lower()
        return str(name)

    def function_name(self, logical: str) -> str:
        given = self.resources[logical].get("Properties", {}).get("FunctionName")
        return str(self.resolve(given)) if given is not None else logical

    def get_att(self, logical: str, attribute: str) -> Any:
        resource = self.resources.get(logical)
        if resource is None:
            raise Unresolvable(f"GetAtt of {logical}, which the stack does not define")
        kind = resource["Type"]
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name(logical)}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{logical}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.bucket_name(logical)}"
        if kind == "AWS::SageMaker::Workteam" and attribute == "WorkteamArn":
            name = resource.get("Properties", {}).get("WorkteamName", logical)
            team = self.resolve(name)
            return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/{team}"
        if kind == JOB_RESOURCE and attribute == "LabelingJobName":
            return self.job_name(logical)
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical}"
        return f"{logical}.{attribute}"

    def job_name(self, logical: str) -> str:
        """The name the job's custom resource gives it: ``<prefix>-<hash of the request>``."""
        properties = self.resources[logical]["Properties"]
        request = json.loads(self.resolve(properties["Request"]))
        return job_name(str(properties["JobNamePrefix"]), request)

    # -- assets ---------------------------------------------------------------------------
    def asset_files(self, object_key: str) -> dict[str, bytes]:
        """The files of an asset (``<hash>.zip``): relative path → bytes."""
        digest = object_key.split(".", 1)[0]
        folder = self.outdir / f"asset.{digest}"
        if folder.is_dir():
            return {
                path.relative_to(folder).as_posix(): path.read_bytes()
                for path in sorted(folder.rglob("*"))
                if path.is_file()
            }
        archive = self.outdir / f"asset.{digest}.zip"
        if archive.is_file():
            with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as bundle:
                return {n: bundle.read(n) for n in bundle.namelist() if not n.endswith("/")}
        raise LocalJobError(f"the assembly has no asset {object_key} (was the app synthesized?)")

    def deployed_files(self) -> dict[str, bytes]:
        """What the stack's bucket deployments upload: ``s3://`` URI → bytes."""
        files: dict[str, bytes] = {}
        for resource in self.resources.values():
            if resource["Type"] != BUCKET_DEPLOYMENT:
                continue
            properties = resource["Properties"]
            if str(properties.get("Extract", "true")).lower() == "false":
                continue
            bucket = self.resolve(properties["DestinationBucketName"])
            prefix = str(self.resolve(properties.get("DestinationBucketKeyPrefix", "")))
            prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
            markers = properties.get("SourceMarkers") or [{}] * len(properties["SourceObjectKeys"])
            for key, marks in zip(properties["SourceObjectKeys"], markers):
                values = {m: str(self.resolve(v)).encode() for m, v in (marks or {}).items()}
                for name, data in self.asset_files(key).items():
                    for marker, value in values.items():
                        data = data.replace(marker.encode(), value)
                    files[f"s3://{bucket}/{prefix}{name}"] = data
        return files

    # -- functions and workers ----------------------------------------------------------------
    def function(self, arn: str) -> tuple[LocalFunction | None, str | None]:
        """The library function an ARN of the request names, or why it cannot run here."""
        for logical, resource in self.resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            if self.get_att(logical, "Arn") != arn:
                continue
            properties = resource.get("Properties", {})
            runtime = str(properties.get("Runtime", ""))
            handler = str(properties.get("Handler", ""))
            if not runtime.startswith("python"):
                return None, (
                    f"the Lambda function {logical} runs {runtime or 'a container image'}, not "
                    "Python: only the AWS runtime runs it"
                )
            if handler not in _LIBRARY_HANDLERS:
                return None, (
                    f"the Lambda function {logical} runs your own handler {handler}: only the "
                    "AWS runtime runs it (locally, only the library's own handlers run)"
                )
            variables = (properties.get("Environment") or {}).get("Variables") or {}
            environment = {k: str(self.resolve(v)) for k, v in variables.items()}
            return LocalFunction(handler, environment), None
        return None, (
            f"the Lambda function {arn} is not defined in this app (imported): only the AWS "
            "runtime runs it"
        )

    def team_emails(self, workteam_logical: str | None) -> list[str]:
        """E-mails of the Cognito users the stack adds to the workteam's group."""
        if workteam_logical is None:
            return []
        properties = self.resources[workteam_logical].get("Properties", {})
        groups = {
            json.dumps(d["CognitoMemberDefinition"].get("CognitoUserGroup"), sort_keys=True)
            for d in properties.get("MemberDefinitions", [])
            if "CognitoMemberDefinition" in d
        }
        emails = []
        for resource in self.resources.values():
            if resource["Type"] != "AWS::Cognito::UserPoolUserToGroupAttachment":
                continue
            attachment = resource["Properties"]
            if json.dumps(attachment.get("GroupName"), sort_keys=True) not in groups:
                continue
            user = attachment.get("Username")
            logical = user.get("Ref") if isinstance(user, dict) else None
            if logical in self.resources:
                attributes = self.resources[logical]["Properties"].get("UserAttributes", [])
                email = next((a["Value"] for a in attributes if a.get("Name") == "email"), None)
                emails.append(str(self.resolve(email or self.ref(logical))))
            elif isinstance(user, str):
                emails.append(user)
        return sorted(set(emails))

    def workteam_of(self, arn: str) -> str | None:
        for logical, resource in self.resources.items():
            if (
                resource["Type"] == "AWS::SageMaker::Workteam"
                and self.get_att(logical, "WorkteamArn") == arn
            ):
                return logical
        return None


def synthesize(command: str, outdir: Path, context: Sequence[str] = ()) -> None:
    """Run the CDK app as the CDK CLI does (``CDK_OUTDIR``, ``CDK_CONTEXT_JSON``)."""
    env = dict(os.environ)
    env["CDK_OUTDIR"] = str(outdir)
    values: dict[str, Any] = {}
    cdk_json = Path("cdk.json")
    if cdk_json.is_file():
        with contextlib.suppress(ValueError):
            values.update(json.loads(cdk_json.read_text(encoding="utf-8")).get("context") or {})
    for item in context:
        key, sep, value = item.partition("=")
        if not sep:
            raise LocalJobError(f"--context {item!r}: give KEY=VALUE")
        values[key] = value
    env["CDK_CONTEXT_JSON"] = json.dumps(values)
    try:
        result = subprocess.run(
            shlex.split(command), env=env, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise LocalJobError(f"cannot run the app {command!r}: {error.strerror}") from None
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise LocalJobError(f"the app {command!r} failed (exit {result.returncode}):\n{tail}")


def stacks(outdir: Path) -> list[Stack]:
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    found = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = artifact.get("properties", {}).get("templateFile")
        template = json.loads((outdir / template_file).read_text(encoding="utf-8"))
        found.append(Stack(artifact.get("displayName") or name, template, outdir))
    return found


def _job_buckets(stack: Stack, request: Mapping[str, Any]) -> dict[str, str]:
    """The job's manifest bucket is ``input`` and its output bucket ``output`` locally."""
    wanted = {
        "output": str(request["OutputConfig"]["S3OutputPath"]),
        "input": str(request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]),
    }
    names: dict[str, str] = {}
    for local, uri in wanted.items():
        bucket = uri[5:].split("/", 1)[0] if uri.startswith("s3://") else ""
        for logical, resource in stack.resources.items():
            if resource["Type"] == "AWS::S3::Bucket" and stack.bucket_name(logical) == bucket:
                names.setdefault(logical, local)
    return names


def _construct_path(request: Mapping[str, Any]) -> str | None:
    for tag in request.get("Tags", []):
        if tag.get("Key") == "gt-constructs:construct":
            return str(tag.get("Value"))
    return None


def jobs_in(outdir: Path) -> list[tuple[Stack, str, dict[str, Any]]]:
    """Every job of the assembly: (stack, construct path, resolved request)."""
    jobs = []
    for stack in stacks(outdir):
        for output_id, output in stack.template.get("Outputs", {}).items():
            if REQUEST_OUTPUT not in output_id:
                continue
            try:
                request = json.loads(stack.resolve(output["Value"]))
                stack.bucket_names = _job_buckets(stack, request)
                request = json.loads(stack.resolve(output["Value"]))
            except (Unresolvable, ValueError) as error:
                raise LocalJobError(
                    f"{stack.name}: output {output_id} does not resolve locally ({error})"
                ) from None
            jobs.append((stack, _construct_path(request) or output_id, request))
    return jobs


def from_assembly(
    outdir: Path, *, job: str | None = None, worker_emails: Sequence[str] = ()
) -> LocalJob:
    """The ``LocalJob`` of a synthesized assembly (``job``: a construct path, when several)."""
    found = jobs_in(outdir)
    if not found:
        raise LocalJobError(
            f"the app defines no CustomLabelingJob (no stack output ending in {REQUEST_OUTPUT})"
        )
    if job is not None:
        chosen = [j for j in found if j[1] == job or j[1].endswith("/" + job)]
        if not chosen:
            raise LocalJobError(
                f"no CustomLabelingJob {job!r}; the app has: {', '.join(j[1] for j in found)}"
            )
    elif len(found) > 1:
        raise LocalJobError(
            "the app has several CustomLabelingJobs: choose one with --job "
            + " or ".join(j[1] for j in found)
        )
    else:
        chosen = found
    stack, path, request = chosen[0]
    human = request["HumanTaskConfig"]
    functions: dict[str, LocalFunction] = {}
    problems: list[str] = []
    for arn in (
        human.get("PreHumanTaskLambdaArn"),
        (human.get("AnnotationConsolidationConfig") or {}).get("AnnotationConsolidationLambdaArn"),
    ):
        if not arn:
            continue
        function, problem = stack.function(arn)
        if function is not None:
            functions[arn] = function
        elif problem:
            problems.append(problem)
    if problems:
        raise LocalJobError(problems)
    team_arn = str(human["WorkteamArn"])
    emails = stack.team_emails(stack.workteam_of(team_arn))
    return LocalJob(
        request=request,
        files=stack.deployed_files(),
        functions=functions,
        team=team_arn.rsplit("/", 1)[-1],
        worker_emails=sorted({*emails, *worker_emails}),
        source=f"{stack.name}: {path}",
    )


def from_app(
    command: str,
    *,
    job: str | None = None,
    context: Sequence[str] = (),
    worker_emails: Sequence[str] = (),
) -> LocalJob:
    """Synthesize the CDK app ``command`` and read its job (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="gt-constructs-synth-") as folder:
        outdir = Path(folder)
        synthesize(command, outdir, context)
        return from_assembly(outdir, job=job, worker_emails=worker_emails)
