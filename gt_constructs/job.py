"""CustomLabelingJob: everything a Ground Truth custom labeling job needs, in one construct."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IDependable

from .consolidation import Consolidation
from .dataset import Dataset
from .functions import POST_ANNOTATION_HANDLER, PRE_ANNOTATION_HANDLER, annotation_function
from .lifecycle import (
    METRICS_NAMESPACE,
    LabelingJobMonitoring,
    LabelingJobResource,
    LabelingJobRunner,
    validate_job_name_prefix,
)
from .nag import (
    S3_GRANT_REASONS,
    acknowledge,
    acknowledge_bucket_deployment_provider,
    acknowledge_wildcards,
)
from .role import PayloadAccess, execution_role, grant_job_permissions
from .skill_table import SkillScope, worker_skill_table
from .storage import secure_bucket
from .task_type import TaskType
from .template import WorkerTemplate
from .validation import Problems
from .workteam import IWorkteam

CLOSED_TO_NEW_CUSTOMERS_WARNING = "@gt-constructs/job:ground-truth-closed-to-new-customers"

_LABEL_ATTRIBUTE_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}"
_KEYWORD_PATTERN = r"[A-Za-z0-9]+( [A-Za-z0-9]+)*"
MAX_LABELS = 50
DEFAULT_TASK_TIME_LIMIT = Duration.minutes(10)
DEFAULT_TASK_AVAILABILITY = Duration.days(10)


class CustomLabelingJob(Construct):
    """A Ground Truth custom labeling job and everything it needs.

    Buckets (or yours), the worker template and label categories in S3, the
    pre- and post-annotation functions (real consensus, worker skill kept in
    DynamoDB), the execution role with least-privilege grants, and the job
    itself: started on deploy, replaced when its definition changes, stopped
    on delete (see ``docs/lifecycle.md``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task_type: TaskType,
        labels: Sequence[str],
        dataset: Dataset,
        workteam: IWorkteam,
        template: WorkerTemplate | None = None,
        workers_per_object: int = 3,
        task_title: str | None = None,
        task_description: str | None = None,
        task_keywords: Sequence[str] | None = None,
        task_time_limit: Duration = DEFAULT_TASK_TIME_LIMIT,
        task_availability_lifetime: Duration = DEFAULT_TASK_AVAILABILITY,
        max_concurrent_task_count: int = 1000,
        consolidation: Consolidation | None = None,
        payload_access: PayloadAccess = PayloadAccess.ASSUME_EXECUTION_ROLE,
        input_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        encryption_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
        pre_annotation_function: lambda_.IFunction | None = None,
        post_annotation_function: lambda_.IFunction | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        label_attribute_name: str | None = None,
        output_prefix: str | None = None,
        job_name_prefix: str | None = None,
        start_on_deploy: bool = True,
        stop_replaced_jobs: bool = True,
        max_human_labeled_object_count: int | None = None,
        max_percentage_of_input_dataset_labeled: int | None = None,
        free_of_personally_identifiable_information: bool = False,
        free_of_adult_content: bool = False,
        skip_objects_labeled_with: str | None = None,
        skill_table: dynamodb.ITable | None = None,
        skill_scope: SkillScope = SkillScope.JOB,
        notification_emails: Sequence[str] = (),
        access_logs_bucket: s3.IBucket | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        """
        :param task_type: what workers do; selects the default template and consolidation.
        :param labels: the label categories (1–50, unique, ≤ 256 characters each; may be
            empty for CUSTOM).
        :param dataset: the data objects: ``Dataset.from_local_directory``,
            ``Dataset.from_manifest`` or ``Dataset.from_s3_prefix``.
        :param workteam: who labels: ``PrivateWorkteam(...)`` or
            ``PrivateWorkteam.from_workteam_arn(...)``.
        :param template: the worker UI. Default: the library's template for ``task_type``
            (CUSTOM needs one). Validated at synth.
        :param workers_per_object: answers collected per data object, 1–9. Default: 3.
        :param task_title: shown to workers, 1–128 characters. Default: from the task type.
        :param task_description: 1–255 characters. Default: from the task type.
        :param task_keywords: 1–5 keywords of letters, digits and single spaces, ≤ 30
            characters each. Default: from the task type.
        :param task_time_limit: time a worker has for one task, 30 s–8 h. Default: 10 minutes.
        :param task_availability_lifetime: how long a task waits for workers, 60 s–30 days.
            Default: 10 days.
        :param max_concurrent_task_count: tasks out to workers at once, 1–5000. Default: 1000.
        :param consolidation: how answers become one label. Default: the task type's
            (Dawid–Skene for classification, etc.; raw answers for CUSTOM).
        :param payload_access: how the post-annotation function reads its payload.
            Default: ``ASSUME_EXECUTION_ROLE`` (the original blog post's way).
        :param input_bucket: bucket for the template, label categories and uploaded data.
            Default: a new encrypted, versioned, SSL-only bucket with the CORS rule workers need.
        :param output_bucket: bucket for the job's output. Default: a new bucket like the input one.
        :param encryption_key: customer key for the created buckets, the skill table and the
            job's output. Default: S3-managed / AWS-managed encryption.
        :param role: the SageMaker execution role. Default: a new role with least-privilege
            grants (grants are added to a given role too).
        :param pre_annotation_function: your own pre-annotation function. Default: the
            library's (``lambda_src/gt_annotation/pre_annotation.py``).
        :param post_annotation_function: your own consolidation function. Default: the
            library's consensus for the task type.
        :param removal_policy: for buckets, table and the job on delete. Default: RETAIN
            (data kept, job left running); DESTROY also empties the buckets.
        :param label_attribute_name: the output manifest key of the labels. Default: the
            task type in kebab case (e.g. ``instance-segmentation``).
        :param output_prefix: key prefix of the job output in the output bucket. Default:
            ``labeling-jobs/<label attribute name>/output/``.
        :param job_name_prefix: job names are ``<prefix>-<hash of the request>``. Default: the
            label attribute name (cut to 52 characters).
        :param start_on_deploy: create the job during ``cdk deploy``. Default: true.
        :param stop_replaced_jobs: stop a job replaced by a changed definition. Default: true.
        :param max_human_labeled_object_count: stopping condition. Default: none.
        :param max_percentage_of_input_dataset_labeled: stopping condition, 1–100. Default: none.
        :param free_of_personally_identifiable_information: content classifier. Default: false.
        :param free_of_adult_content: content classifier. Default: false.
        :param skip_objects_labeled_with: objects whose manifest line already has this label
            attribute are not sent to workers. Default: every object is labelled.
        :param skill_table: an existing worker-skill table (e.g. shared by several jobs).
            Default: a new on-demand, encrypted table with point-in-time recovery.
        :param skill_scope: learn worker skill per job or per label set. Default: JOB.
        :param notification_emails: addresses told when a job completes, fails or stops.
            Default: none (the SNS topic is created either way).
        :param access_logs_bucket: where created buckets write S3 access logs. Default: none.
        :param log_retention: retention of the functions' logs. Default: one month.
        """
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.task_type = task_type
        self.labels = list(labels)
        self.consolidation = consolidation or Consolidation.for_task_type(task_type)
        self.label_attribute_name = label_attribute_name or task_type.value.lower().replace(
            "_", "-"
        )
        self.output_prefix = _as_prefix(
            output_prefix or f"labeling-jobs/{self.label_attribute_name}/output/"
        )
        config_prefix = f"labeling-jobs/{self.label_attribute_name}/config/"
        self.job_name_prefix = job_name_prefix or self.label_attribute_name[:52].rstrip("-")
        task_title = task_title or f"{task_type.title} of {_short_list(self.labels)}"[:128]
        task_description = task_description or (
            f"{task_type.title}: label each data object carefully following the instructions."
        )
        keywords = list(task_keywords or _default_keywords(task_type))

        # -- validation (everything at once) ----------------------------------------
        problems = Problems(f"CustomLabelingJob {self.node.path}")
        task = _HumanTask(
            workers_per_object=workers_per_object,
            title=task_title,
            description=task_description,
            keywords=keywords,
            time_limit=task_time_limit,
            availability=task_availability_lifetime,
            max_concurrent=max_concurrent_task_count,
            max_human_labeled=max_human_labeled_object_count,
            max_percentage=max_percentage_of_input_dataset_labeled,
        )
        self._validate(problems, task)
        if template is None and task_type is TaskType.CUSTOM:
            problems.add("task_type CUSTOM needs template=WorkerTemplate.from_file(...)")
        problems.raise_if_any()
        self.template = template or WorkerTemplate.for_task_type(task_type)
        answer_name = self.template.validate(self.consolidation)

        Annotations.of(self).add_warning_v2(
            CLOSED_TO_NEW_CUSTOMERS_WARNING,
            "AWS has closed SageMaker Ground Truth to new customers: deploying this job needs "
            "an account that already uses Ground Truth. Acknowledge with "
            f"Annotations.of(scope).acknowledge_warning('{CLOSED_TO_NEW_CUSTOMERS_WARNING}').",
        )

        # -- storage ---------------------------------------------------------------------
        self.encryption_key = encryption_key
        self.input_bucket: s3.IBucket = input_bucket or secure_bucket(
            self,
            "InputBucket",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            cors=True,
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix="input/",
        )
        self.output_bucket: s3.IBucket = output_bucket or secure_bucket(
            self,
            "OutputBucket",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            cors=False,
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix="output/",
        )
        if input_bucket is not None:
            Annotations.of(self).add_warning_v2(
                "@gt-constructs/job:imported-bucket-cors",
                "input_bucket is imported: make sure it carries the CORS rule Ground Truth "
                "workers' browsers need (GET from any origin, exposing "
                "Access-Control-Allow-Origin), or tasks will not load their data.",
            )

        template_key = f"{config_prefix}worker-template.liquid.html"
        categories_key = f"{config_prefix}label-categories.json"
        categories = {
            "document-version": "2018-11-28",
            "labels": [{"label": label} for label in self.labels],
        }
        self.config_upload = s3deploy.BucketDeployment(
            self,
            "ConfigUpload",
            sources=[
                s3deploy.Source.data("worker-template.liquid.html", self.template.text),
                s3deploy.Source.data("label-categories.json", json.dumps(categories, indent=1)),
            ],
            destination_bucket=self.input_bucket,
            destination_key_prefix=config_prefix,
            memory_limit=512,
            prune=False,
        )
        self.template_s3_uri = f"s3://{self.input_bucket.bucket_name}/{template_key}"
        self.label_category_s3_uri = f"s3://{self.input_bucket.bucket_name}/{categories_key}"

        binding = dataset.bind(
            self,
            input_bucket=self.input_bucket,
            output_bucket=self.output_bucket,
            output_prefix=self.output_prefix,
            data_kind=task_type.data_kind,
        )
        self.manifest_s3_uri = binding.manifest_s3_uri
        acknowledge_bucket_deployment_provider(stack)
        if access_logs_bucket is None:
            for created in (
                b for b in (self.input_bucket, self.output_bucket) if isinstance(b, s3.Bucket)
            ):
                acknowledge(
                    created,
                    "AwsSolutions-S1",
                    "S3 server access logging is opt-in: pass access_logs_bucket to "
                    "write logs there (the job's own actions are in CloudTrail)",
                )

        # -- worker skill -------------------------------------------------------------------
        self.skill_table: dynamodb.ITable = skill_table or worker_skill_table(
            self, "WorkerSkill", encryption_key=encryption_key, removal_policy=removal_policy
        )

        # -- functions --------------------------------------------------------------------
        self.pre_annotation_function: lambda_.IFunction = (
            pre_annotation_function
            or annotation_function(
                self,
                "PreAnnotation",
                handler=PRE_ANNOTATION_HANDLER,
                description="Ground Truth pre-annotation: manifest line to worker task input",
                environment={
                    "GT_TASK_TYPE": task_type.value,
                    "GT_LABELS": json.dumps(self.labels),
                    **(
                        {"GT_SKIP_IF_LABELED": skip_objects_labeled_with}
                        if skip_objects_labeled_with
                        else {}
                    ),
                },
                memory_size=256,
                timeout=Duration.seconds(30),
                log_retention=log_retention,
                removal_policy=removal_policy,
            )
        )
        heavy = task_type in (TaskType.SEMANTIC_SEGMENTATION, TaskType.INSTANCE_SEGMENTATION)
        self.post_annotation_function: lambda_.IFunction = (
            post_annotation_function
            or annotation_function(
                self,
                "PostAnnotation",
                handler=POST_ANNOTATION_HANDLER,
                description="Ground Truth annotation consolidation: workers' answers to one label",
                environment={
                    "GT_TASK_TYPE": task_type.value,
                    "GT_ANSWER_NAME": answer_name or "",
                    "GT_CONSOLIDATION": self.consolidation.to_environment_json(),
                    "GT_PAYLOAD_ACCESS": payload_access.value,
                    "GT_SKILL_TABLE": self.skill_table.table_name,
                    "GT_SKILL_SCOPE": skill_scope.value,
                    "GT_OUTPUT_URI": f"s3://{self.output_bucket.bucket_name}/"
                    f"{self.output_prefix.rstrip('/')}",
                    "GT_METRICS_NAMESPACE": METRICS_NAMESPACE,
                },
                memory_size=2048 if heavy else 1024,
                timeout=Duration.minutes(5),
                log_retention=log_retention,
                removal_policy=removal_policy,
            )
        )
        post_role = self.post_annotation_function.role

        # -- execution role ---------------------------------------------------------------
        self.execution_role: iam.IRole = role or execution_role(
            self, "ExecutionRole", payload_access=payload_access, post_annotation_role=post_role
        )
        if role is not None and payload_access is PayloadAccess.ASSUME_EXECUTION_ROLE:
            Annotations.of(self).add_warning_v2(
                "@gt-constructs/job:imported-role-trust",
                "role is given and payload_access is ASSUME_EXECUTION_ROLE: its trust policy "
                "must list the post-annotation function's role as an AWS principal, and that "
                "role needs sts:AssumeRole on it. Prefer PayloadAccess.DIRECT_READ.",
            )
            if post_role is not None:
                post_role.add_to_principal_policy(
                    iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role.role_arn])
                )
        keys = [k for k in (encryption_key,) if k is not None]
        keys += [
            b.encryption_key
            for b in (input_bucket, output_bucket)
            if b is not None and b.encryption_key is not None
        ]
        grant_job_permissions(
            self.execution_role,
            read=[
                (self.input_bucket, template_key),
                (self.input_bucket, categories_key),
                *binding.read,
            ],
            output_bucket=self.output_bucket,
            output_prefix=self.output_prefix,
            functions=[self.pre_annotation_function, self.post_annotation_function],
            encryption_keys=keys,
        )
        if post_role is not None:
            self.skill_table.grant(post_role, "dynamodb:BatchGetItem", "dynamodb:UpdateItem")
            if payload_access is PayloadAccess.DIRECT_READ:
                self.output_bucket.grant_read(post_role, f"{self.output_prefix}*")
                self.output_bucket.grant_put(
                    post_role, f"{self.output_prefix}*/consolidated-masks/*"
                )

        output_objects = re.escape(self.output_prefix) + r"(\*/consolidated-masks/)?\*$"
        job_reasons = [
            (
                output_objects,
                "Objects under the job's output prefix: Ground Truth names them per job, "
                "iteration and data object at run time",
            ),
            *[
                (
                    re.escape(pattern) + "$",
                    "Data objects of the dataset: the manifest may name any object under its prefix",
                )
                for _, pattern in binding.read
                if pattern.endswith("*")
            ],
            (
                r"log-group:/aws/sagemaker/LabelingJobs\*$",
                "Ground Truth writes its logs to log groups under /aws/sagemaker/LabelingJobs",
            ),
            (
                r"^Resource::\*$",
                "cloudwatch:PutMetricData has no resource-level permissions; a condition limits "
                "it to the AWS/SageMaker namespace",
            ),
            *S3_GRANT_REASONS,
        ]
        acknowledge_wildcards(self.execution_role, job_reasons)
        if post_role is not None:
            acknowledge_wildcards(post_role, job_reasons)

        # -- the request --------------------------------------------------------------------
        fingerprint = hashlib.sha256(
            (self.template.text + json.dumps(categories, sort_keys=True)).encode()
        ).hexdigest()[:16]
        self.create_labeling_job_request: dict[str, Any] = self._request(
            workteam=workteam,
            task=task,
            pii_free=free_of_personally_identifiable_information,
            adult_free=free_of_adult_content,
            fingerprint=fingerprint,
        )

        # -- lifecycle --------------------------------------------------------------------
        needs: list[IDependable] = [
            self.input_bucket,
            self.output_bucket,
            self.config_upload,
            *binding.dependables,
            self.pre_annotation_function,
            self.post_annotation_function,
            self.execution_role,
            self.skill_table,
        ]
        if isinstance(workteam, Construct):
            needs.append(workteam)
        self.job: LabelingJobResource | None = None
        if start_on_deploy:
            self.job = LabelingJobResource(
                self,
                "Job",
                request=self.create_labeling_job_request,
                job_name_prefix=self.job_name_prefix,
                execution_role=self.execution_role,
                stop_replaced_jobs=stop_replaced_jobs,
                removal_policy=removal_policy,
                dependencies=needs,
            )
            self.labeling_job_name: str = self.job.labeling_job_name
            self.labeling_job_arn: str = self.job.labeling_job_arn
            self.output_manifest_s3_uri: str = self.job.output_manifest_s3_uri
        else:
            self.labeling_job_name = f"{self.job_name_prefix}-{self._synth_hash()}"
            self.labeling_job_arn = stack.format_arn(
                service="sagemaker",
                resource="labeling-job",
                resource_name=self.labeling_job_name.lower(),
            )
            self.output_manifest_s3_uri = (
                f"s3://{self.output_bucket.bucket_name}/{self.output_prefix}"
                f"{self.labeling_job_name}/manifests/output/output.manifest"
            )
        self.runner = LabelingJobRunner(
            self,
            "Runner",
            request=self.create_labeling_job_request,
            job_name_prefix=self.job_name_prefix,
            execution_role=self.execution_role,
        )
        self.monitoring = LabelingJobMonitoring(
            self,
            "Monitoring",
            job_name_prefix=self.job_name_prefix,
            functions=[self.pre_annotation_function, self.post_annotation_function],
            state_machine=self.runner.state_machine,
            notification_emails=list(notification_emails),
            encryption_key=encryption_key,
        )

        self._outputs(stack)

    # -- helpers --------------------------------------------------------------------------
    def _validate(self, problems: Problems, task: _HumanTask) -> None:
        labels = [label for label in self.labels if not Token.is_unresolved(label)]
        low = 0 if self.task_type is TaskType.CUSTOM else 1
        if not low <= len(self.labels) <= MAX_LABELS:
            problems.add(f"labels has {len(self.labels)} entries; allowed: {low}–{MAX_LABELS}")
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            problems.add(f"labels must be unique; repeated: {', '.join(duplicates)}")
        for label in labels:
            if not 1 <= len(label) <= 256 or label != label.strip():
                problems.add(
                    f"label {label!r} is not allowed: 1–256 characters, no leading or "
                    "trailing spaces"
                )
        problems.check_pattern(
            "label_attribute_name",
            self.label_attribute_name,
            _LABEL_ATTRIBUTE_PATTERN,
            "1–127 letters, digits and hyphens, starting and ending with a letter or digit",
        )
        for suffix in ("-metadata", "-ref"):
            if self.label_attribute_name.endswith(suffix):
                problems.add(
                    f"label_attribute_name {self.label_attribute_name!r} must not end in "
                    f"'{suffix}' (Ground Truth reserves it)"
                )
        validate_job_name_prefix(problems, self.job_name_prefix)
        problems.check_range("workers_per_object", task.workers_per_object, 1, 9)
        problems.check_length("task_title", task.title, 1, 128)
        problems.check_length("task_description", task.description, 1, 255)
        if not 1 <= len(task.keywords) <= 5:
            problems.add(f"task_keywords has {len(task.keywords)} entries; allowed: 1–5")
        for keyword in task.keywords:
            problems.check_length(f"task keyword {keyword!r}", keyword, 1, 30)
            problems.check_pattern(
                "task keyword",
                keyword,
                _KEYWORD_PATTERN,
                "letters and digits, words separated by single spaces",
            )
        problems.check_range("task_time_limit", _seconds(task.time_limit), 30, 28_800, " s")
        problems.check_range(
            "task_availability_lifetime",
            _seconds(task.availability),
            60,
            2_592_000,
            " s",
        )
        problems.check_range("max_concurrent_task_count", task.max_concurrent, 1, 5000)
        problems.check_range(
            "max_human_labeled_object_count", task.max_human_labeled, 1, 100_000_000
        )
        problems.check_range("max_percentage_of_input_dataset_labeled", task.max_percentage, 1, 100)

    def _request(
        self,
        *,
        workteam: IWorkteam,
        task: _HumanTask,
        pii_free: bool,
        adult_free: bool,
        fingerprint: str,
    ) -> dict[str, Any]:
        input_config: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": self.manifest_s3_uri}}
        }
        classifiers = [
            name
            for name, on in (
                ("FreeOfPersonallyIdentifiableInformation", pii_free),
                ("FreeOfAdultContent", adult_free),
            )
            if on
        ]
        if classifiers:
            input_config["DataAttributes"] = {"ContentClassifiers": classifiers}
        output_config: dict[str, Any] = {
            "S3OutputPath": f"s3://{self.output_bucket.bucket_name}/{self.output_prefix}"
        }
        if self.encryption_key is not None:
            output_config["KmsKeyId"] = self.encryption_key.key_arn
        request: dict[str, Any] = {
            "LabelAttributeName": self.label_attribute_name,
            "InputConfig": input_config,
            "OutputConfig": output_config,
            "RoleArn": self.execution_role.role_arn,
            "HumanTaskConfig": {
                "WorkteamArn": workteam.workteam_arn,
                "UiConfig": {"UiTemplateS3Uri": self.template_s3_uri},
                "PreHumanTaskLambdaArn": self.pre_annotation_function.function_arn,
                "TaskKeywords": task.keywords,
                "TaskTitle": task.title,
                "TaskDescription": task.description,
                "NumberOfHumanWorkersPerDataObject": task.workers_per_object,
                "TaskTimeLimitInSeconds": _seconds(task.time_limit),
                "TaskAvailabilityLifetimeInSeconds": _seconds(task.availability),
                "MaxConcurrentTaskCount": task.max_concurrent,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": self.post_annotation_function.function_arn
                },
            },
            "Tags": [
                {"Key": "gt-constructs:construct", "Value": self.node.path[:256]},
                {"Key": "gt-constructs:template-and-labels", "Value": fingerprint},
            ],
        }
        if self.labels:
            request["LabelCategoryConfigS3Uri"] = self.label_category_s3_uri
        stopping = {
            key: value
            for key, value in (
                ("MaxHumanLabeledObjectCount", task.max_human_labeled),
                ("MaxPercentageOfInputDatasetLabeled", task.max_percentage),
            )
            if value is not None
        }
        if stopping:
            request["StoppingConditions"] = stopping
        return request

    def _synth_hash(self) -> str:
        """A hash of the request as synthesized (tokens as their CloudFormation form)."""
        resolved = Stack.of(self).resolve(self.create_labeling_job_request)
        return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:10]

    def _outputs(self, stack: Stack) -> None:
        request = dict(self.create_labeling_job_request, LabelingJobName=self.labeling_job_name)
        outputs = {
            "InputBucketName": (
                self.input_bucket.bucket_name,
                "Bucket of template, categories and data",
            ),
            "OutputBucketName": (self.output_bucket.bucket_name, "Bucket of the job output"),
            "TemplateS3Uri": (self.template_s3_uri, "Worker UI template"),
            "ManifestS3Uri": (self.manifest_s3_uri, "Input manifest"),
            "ExecutionRoleArn": (self.execution_role.role_arn, "SageMaker execution role"),
            "PreAnnotationFunctionArn": (
                self.pre_annotation_function.function_arn,
                "Pre-annotation function",
            ),
            "PostAnnotationFunctionArn": (
                self.post_annotation_function.function_arn,
                "Annotation consolidation function",
            ),
            "LabelingJobName": (self.labeling_job_name, "Labeling job name"),
            "OutputManifestS3Uri": (self.output_manifest_s3_uri, "Output manifest, once complete"),
            "RunnerStateMachineArn": (
                self.runner.state_machine.state_machine_arn,
                "Start another job with a new manifest",
            ),
            "CreateLabelingJobRequest": (
                stack.to_json_string(request),
                "aws sagemaker create-labeling-job --cli-input-json '<this>'",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the job output (manifests, consolidated masks)."""
        return self.output_bucket.grant_read(grantee, f"{self.output_prefix}*")

    def metric_objects_consolidated(self, **kwargs: Any) -> cloudwatch.Metric:
        """Objects consolidated by the post-annotation function (sum over 5 minutes)."""
        return LabelingJobMonitoring.metric(
            "ObjectsConsolidated", function=self.post_annotation_function, **kwargs
        )

    def metric_answers_rejected(self, **kwargs: Any) -> cloudwatch.Metric:
        """Worker answers the post-annotation function could not use (sum over 5 minutes)."""
        return LabelingJobMonitoring.metric(
            "AnswersRejected", function=self.post_annotation_function, **kwargs
        )


@dataclass(frozen=True)
class _HumanTask:
    """What workers see and how many: validated once, then written into the request."""

    workers_per_object: int
    title: str
    description: str
    keywords: list[str]
    time_limit: Duration
    availability: Duration
    max_concurrent: int
    max_human_labeled: int | None
    max_percentage: int | None


def _seconds(duration: Duration) -> int:
    return int(duration.to_seconds())


def _as_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def _short_list(labels: Sequence[str]) -> str:
    shown = [label for label in labels[:3] if not Token.is_unresolved(label)]
    more = "" if len(labels) <= 3 else f" and {len(labels) - 3} more"
    return ", ".join(shown) + more if shown else "data objects"


def _default_keywords(task_type: TaskType) -> list[str]:
    words = {
        "IMAGE": ["image", "labeling"],
        "TEXT": ["text", "labeling"],
    }[task_type.data_kind.name]
    return [*words, task_type.title.split(" (")[0].lower()][:5]
