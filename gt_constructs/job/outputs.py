"""The job's CloudFormation outputs (their ids are part of the public contract)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import CfnOutput, Lazy, Stack

from ..lambda_src.gt_resources.job_contract import named_request
from .tags import _Produce

if TYPE_CHECKING:
    from .construct import CustomLabelingJob


def add_job_outputs(job: CustomLabelingJob) -> None:
    """The stack outputs a user needs to run, watch and reuse the job."""
    stack = Stack.of(job)
    request = Lazy.uncached_any(_Produce(lambda: creation_request(job)))
    outputs = {
        "InputBucketName": (
            job.input_bucket.bucket_name,
            "Bucket of template, categories and data",
        ),
        "OutputBucketName": (job.output_bucket.bucket_name, "Bucket of the job output"),
        "TemplateS3Uri": (job.template_s3_uri, "Worker UI template"),
        "ManifestS3Uri": (job.manifest_s3_uri, "Input manifest"),
        "ExecutionRoleArn": (job.execution_role.role_arn, "SageMaker execution role"),
        "PreAnnotationFunctionArn": (
            job.pre_annotation_function.function_arn,
            "Pre-annotation function",
        ),
        "PostAnnotationFunctionArn": (
            job.post_annotation_function.function_arn,
            "Annotation consolidation function",
        ),
        "LabelingJobName": (job.labeling_job_name, "Labeling job name"),
        "OutputManifestS3Uri": (job.output_manifest_s3_uri, "Output manifest, once complete"),
        "BatchesS3Uri": (
            job.batches_s3_uri,
            "Where the runner's batch manifests may go (the execution role reads it)",
        ),
        "RunnerStateMachineArn": (
            job.runner.state_machine.state_machine_arn,
            "Start another job with a new manifest",
        ),
        "CreateLabelingJobRequest": (
            stack.to_json_string(request),
            "aws sagemaker create-labeling-job --cli-input-json '<this>'",
        ),
    }
    for output_id, (value, description) in outputs.items():
        CfnOutput(job, output_id, value=value, description=description)


def creation_request(job: CustomLabelingJob) -> dict[str, Any]:
    """What the job's custom resource sends ``CreateLabelingJob`` (the contract's
    ``named_request``): the request with the job's name and request-hash tag, its tags
    as rendered at synth. ``aws sagemaker create-labeling-job --cli-input-json`` with
    it starts the very job a deploy would (``start_on_deploy=False``)."""
    request = dict(job.create_labeling_job_request)
    request["Tags"] = Stack.of(job).resolve(request.get("Tags") or [])
    return named_request(request, job.labeling_job_name, job.labeling_job_request_hash)
