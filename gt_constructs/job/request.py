"""The CreateLabelingJob request, rendered by section.

One object holds what the request says; each section of the request is one
method. The job's own request (``render``) and the runner's state-machine
parameters (``runner_parameters``) are rendered by the same methods, the
runner passing JSONPath placeholders where an execution supplies the value
(manifest, workers per object, stopping conditions). ``LabelingJobRequest``
is pure: tests render requests without a synth.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..lambda_src.gt_resources.job_contract import LIBRARY_TAG_PREFIX, tag_value
from .tags import JobTags

if TYPE_CHECKING:
    from ..workteam import IWorkteam
    from .construct import CustomLabelingJob

#: Stopping conditions the runner applies when an execution names none.
RUNNER_DEFAULT_MAX_HUMAN_LABELED = 100_000
RUNNER_DEFAULT_MAX_PERCENTAGE = 100


@dataclass(frozen=True)
class JsonPath:
    """A value a Step Functions execution supplies (written as ``"<key>.$": path``)."""

    path: str


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, JsonPath):
        body[f"{key}.$"] = value.path
    elif value is not None:
        body[key] = value


@dataclass(frozen=True)
class HumanTask:
    """What workers see and how many of them: the request's human task settings."""

    workers_per_object: int
    title: str
    description: str
    keywords: tuple[str, ...]
    time_limit_seconds: int
    availability_seconds: int
    max_concurrent: int
    max_human_labeled: int | None = None
    max_percentage: int | None = None


@dataclass(frozen=True)
class LabelingJobRequest:
    """A CreateLabelingJob request without its ``LabelingJobName`` (values may be tokens)."""

    label_attribute_name: str
    manifest_s3_uri: str
    output_s3_path: str
    role_arn: str
    workteam_arn: str
    ui_template_s3_uri: str
    pre_annotation_lambda_arn: str
    post_annotation_lambda_arn: str
    task: HumanTask
    kms_key_id: str | None = None
    content_classifiers: tuple[str, ...] = ()
    label_category_s3_uri: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    #: The whole tag list as a token rendered at synth (``JobTags``: the library's tags and
    #: the construct's); ``None``: ``tags`` as they are.
    tag_token: Any = None

    # -- sections --------------------------------------------------------------------
    def input_config(self, manifest: str | JsonPath) -> dict[str, Any]:
        source: dict[str, Any] = {}
        _put(source, "ManifestS3Uri", manifest)
        config: dict[str, Any] = {"DataSource": {"S3DataSource": source}}
        if self.content_classifiers:
            config["DataAttributes"] = {"ContentClassifiers": list(self.content_classifiers)}
        return config

    def output_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"S3OutputPath": self.output_s3_path}
        _put(config, "KmsKeyId", self.kms_key_id)
        return config

    def human_task_config(self, workers: int | JsonPath) -> dict[str, Any]:
        task = self.task
        config: dict[str, Any] = {
            "WorkteamArn": self.workteam_arn,
            "UiConfig": {"UiTemplateS3Uri": self.ui_template_s3_uri},
            "PreHumanTaskLambdaArn": self.pre_annotation_lambda_arn,
            "TaskKeywords": list(task.keywords),
            "TaskTitle": task.title,
            "TaskDescription": task.description,
        }
        _put(config, "NumberOfHumanWorkersPerDataObject", workers)
        config.update(
            {
                "TaskTimeLimitInSeconds": task.time_limit_seconds,
                "TaskAvailabilityLifetimeInSeconds": task.availability_seconds,
                "MaxConcurrentTaskCount": task.max_concurrent,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": self.post_annotation_lambda_arn
                },
            }
        )
        return config

    def tag_list(self) -> Any:
        if self.tag_token is not None:
            return self.tag_token
        return [{"Key": key, "Value": value} for key, value in self.tags]

    def stopping_conditions(
        self, max_human_labeled: int | JsonPath | None, max_percentage: int | JsonPath | None
    ) -> dict[str, Any]:
        conditions: dict[str, Any] = {}
        _put(conditions, "MaxHumanLabeledObjectCount", max_human_labeled)
        _put(conditions, "MaxPercentageOfInputDatasetLabeled", max_percentage)
        return conditions

    # -- whole requests ----------------------------------------------------------------
    def render(self) -> dict[str, Any]:
        """The request the job is created with (``LabelingJobName`` is added at deploy)."""
        request: dict[str, Any] = {
            "LabelAttributeName": self.label_attribute_name,
            "InputConfig": self.input_config(self.manifest_s3_uri),
            "OutputConfig": self.output_config(),
            "RoleArn": self.role_arn,
            "HumanTaskConfig": self.human_task_config(self.task.workers_per_object),
            "Tags": self.tag_list(),
        }
        _put(request, "LabelCategoryConfigS3Uri", self.label_category_s3_uri)
        stopping = self.stopping_conditions(self.task.max_human_labeled, self.task.max_percentage)
        if stopping:
            request["StoppingConditions"] = stopping
        return request

    def runner_defaults(self) -> dict[str, Any]:
        """What an execution of the runner uses for the inputs it does not give."""
        task = self.task
        return {
            "workersPerObject": task.workers_per_object,
            "maxHumanLabeledObjectCount": task.max_human_labeled
            if task.max_human_labeled is not None
            else RUNNER_DEFAULT_MAX_HUMAN_LABELED,
            "maxPercentageOfInputDatasetLabeled": task.max_percentage
            if task.max_percentage is not None
            else RUNNER_DEFAULT_MAX_PERCENTAGE,
        }

    def runner_parameters(self, job_name_prefix: str) -> dict[str, Any]:
        """The runner's ``createLabelingJob`` parameters: this request, with the job name,
        manifest, workers and stopping conditions taken from the execution (``$.args``)."""
        parameters: dict[str, Any] = {
            "LabelAttributeName": self.label_attribute_name,
            "OutputConfig": self.output_config(),
            "RoleArn": self.role_arn,
            "Tags": self.tag_list(),
        }
        _put(parameters, "LabelCategoryConfigS3Uri", self.label_category_s3_uri)
        _put(
            parameters,
            "LabelingJobName",
            JsonPath(f"States.Format('{job_name_prefix}-{{}}', $$.Execution.Name)"),
        )
        parameters["InputConfig"] = self.input_config(JsonPath("$.args.manifestS3Uri"))
        parameters["HumanTaskConfig"] = self.human_task_config(JsonPath("$.args.workersPerObject"))
        parameters["StoppingConditions"] = self.stopping_conditions(
            JsonPath("$.args.maxHumanLabeledObjectCount"),
            JsonPath("$.args.maxPercentageOfInputDatasetLabeled"),
        )
        return parameters


def job_request(job: CustomLabelingJob, workteam: IWorkteam) -> LabelingJobRequest:
    """The request of a ``CustomLabelingJob``: its settings and the resources it made.

    A tag fingerprints the template and labels, which live in S3 and so would
    not otherwise change the request when they change. The tags the construct is
    given (``Tags.of(...)``) follow the library's (``JobTags``).
    """
    settings = job.settings
    fingerprint = hashlib.sha256(
        (job.template.text + json.dumps(settings.label_categories, sort_keys=True)).encode()
    ).hexdigest()[:16]
    library = library_tags(job, fingerprint)
    return LabelingJobRequest(
        label_attribute_name=settings.label_attribute_name,
        manifest_s3_uri=job.manifest_s3_uri,
        output_s3_path=f"s3://{job.output_bucket.bucket_name}/{settings.output_prefix}",
        role_arn=job.execution_role.role_arn,
        workteam_arn=workteam.workteam_arn,
        ui_template_s3_uri=job.template_s3_uri,
        pre_annotation_lambda_arn=job.pre_annotation_function.function_arn,
        post_annotation_lambda_arn=job.post_annotation_function.function_arn,
        task=settings.task,
        kms_key_id=job.encryption_key.key_arn if job.encryption_key else None,
        content_classifiers=settings.content_classifiers,
        label_category_s3_uri=job.label_category_s3_uri if settings.labels else None,
        tags=library,
        tag_token=JobTags(job, job.cdk_tag_manager, library).tag_list(),
    )


def library_tags(job: CustomLabelingJob, fingerprint: str) -> tuple[tuple[str, str], ...]:
    """The tags the library gives every job: its construct (the path as a valid tag value)
    and the fingerprint of its template and labels."""
    return (
        (f"{LIBRARY_TAG_PREFIX}construct", tag_value(job.node.path)),
        (f"{LIBRARY_TAG_PREFIX}template-and-labels", fingerprint),
    )
