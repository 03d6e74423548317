"""CustomLabelingJob: everything a Ground Truth custom labeling job needs, in one construct.

The constructor is a list of named steps; each part lives in its own module:
settings and their validation (``settings``), buckets and configuration
(``storage``), functions (``functions``), roles and grants (``role``), the
request (``request``), the job's lifecycle (``lifecycle``, ``runner``),
monitoring (``monitoring``) and outputs (``outputs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import jsii
from aws_cdk import Annotations, Duration, ITaggableV2, RemovalPolicy, Stack, TagManager
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from ..consolidation import Consolidation
from ..dataset import Dataset, DatasetBinding
from ..lambda_src.gt_annotation import contract
from ..log_groups import JobLogs, grant_log_encryption
from ..nag import acknowledge_bucket_deployment_provider
from ..runtime.aws import Runtime, SelfHostedRuntime
from ..runtime.aws.binding import run_on, self_hosted_runtime
from ..runtime.aws.job import SelfHostedJobResource, SelfHostedRunner
from ..task_type import TaskType
from ..template import WorkerTemplate
from ..validation import Problems
from ..workteam import IWorkteam
from .functions import new_post_annotation_function, new_pre_annotation_function
from .lifecycle import LabelingJobResource, construct_key, job_dependencies
from .monitoring import LabelingJobMonitoring
from .operations import add_job_operations, name_the_job
from .outputs import add_job_outputs
from .props import EXPECTED
from .request import job_request
from .role import JobAccess, PayloadAccess, job_keys
from .runner import LabelingJobRunner
from .settings import DEFAULT_TASK_AVAILABILITY, DEFAULT_TASK_TIME_LIMIT, JobSettings
from .skill_table import SkillScope, worker_skill_table
from .storage import job_storage
from .tags import job_tag_manager

CLOSED_TO_NEW_CUSTOMERS_WARNING = "@gt-constructs/job:ground-truth-closed-to-new-customers"
#: A template reads a ``task.input`` key the pre-annotation output will not have.
TEMPLATE_TASK_INPUT_WARNING = "@gt-constructs/job:template-reads-missing-task-input"
#: ``max_concurrent_task_count`` above Ground Truth's default quota.
MAX_CONCURRENT_TASKS_WARNING = "@gt-constructs/job:max-concurrent-tasks-needs-quota-increase"
#: The quota of ``MaxConcurrentTaskCount`` without an AWS Support request.
DEFAULT_MAX_CONCURRENT_TASKS = 1000


T = TypeVar("T")


class _Part(Generic[T]):
    """A read-only attribute of the job that one of its parts holds (``settings``, ``storage``)."""

    def __init__(self, part: str, convert: Callable[[Any], T] | None = None) -> None:
        self.part = part
        self.convert = convert

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, job: Any, owner: type | None = None) -> T:
        value = getattr(getattr(job, self.part), self.name)
        return self.convert(value) if self.convert else value


@jsii.implements(ITaggableV2)
class CustomLabelingJob(Construct):
    """A Ground Truth custom labeling job and everything it needs.

    Buckets, template and labels in S3, the annotation functions, the execution
    role, and the job itself (started on deploy, replaced on change, stopped on
    delete: ``docs/lifecycle.md``; taggable: ``Tags.of(stack)`` tags the job). All
    problems of the props, wrong types and dataset's included: one ``ConfigurationError``.

    :param task_type: what workers do; selects the default template and consolidation.
    :param labels: the label categories (1–50, unique, ≤ 256 characters each; may be
        empty for CUSTOM; at most 10 for BOUNDING_BOX and IMAGE_CLASSIFICATION, whose
        elements document that limit: ``task_type.LABEL_LIMITS``).
    :param dataset: the data objects: ``Dataset.from_local_directory``,
        ``Dataset.from_manifest`` or ``Dataset.from_s3_prefix`` (their problems are
        reported with the others).
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
    :param max_concurrent_task_count: tasks out at once, 1–5000 (> 1000 warns). Default: 1000.
    :param consolidation: how answers become one label. Default: the task type's
        (Dawid–Skene for classification, etc.; raw answers for CUSTOM).
    :param payload_access: how the post-annotation function reads its payload.
        Default: ``ASSUME_EXECUTION_ROLE`` (the original blog post's way).
    :param input_bucket: bucket for the template, label categories and uploaded data.
        Default: a new encrypted, versioned, SSL-only bucket with the CORS rule workers need.
    :param output_bucket: bucket for the job's output. Default: a new bucket like the input one.
    :param encryption_key: customer key for the created buckets, the skill table, the
        job's output, the notification topic and every log group of the job (its policy
        lets CloudWatch Logs use it). Default: S3-managed / AWS-managed encryption.
    :param role: the SageMaker execution role. Default: a new role with least-privilege
        grants (grants are added to a given role too).
    :param pre_annotation_function: your own pre-annotation function. Default: the
        library's (``lambda_src/gt_annotation/pre_annotation.py``).
    :param post_annotation_function: your own consolidation function. Default: the
        library's consensus for the task type.
    :param removal_policy: buckets, table, logs and job when the construct is removed or
        the stack deleted (not on replacement). Default: RETAIN (job left running).
    :param label_attribute_name: the output manifest key of the labels. Default: the
        task type in kebab case (e.g. ``instance-segmentation``).
    :param output_prefix: key prefix of the job output in the output bucket. Default:
        ``labeling-jobs/<label attribute name>/output/``.
    :param job_name_prefix: job names are ``<prefix>-<hash of the request>``. Default:
        the label attribute name and 8 hex digits unique to this construct.
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
    :param log_retention: retention of every log group of the job (functions, runner,
        uploads). Default: one month.
    :param runtime: SELF_HOSTED (team too) or a SelfHostedRuntime. Default: GROUND_TRUTH.
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
        runtime: Runtime | SelfHostedRuntime = Runtime.GROUND_TRUTH,
    ) -> None:
        # Every prop by name (nothing else is defined yet), judged as one: wrong types too.
        props = {name: value for name, value in dict(locals()).items() if name in EXPECTED}
        super().__init__(scope, construct_id)
        self.settings = settings = JobSettings.from_props(props, construct_key=construct_key(self))
        self.template = checked_template(self, template, dataset)
        answer_name = validated_template(self, dataset)
        # None: Ground Truth runs the job (then a warning says it takes no new customers).
        self.self_hosted_runtime = self_hosted_runtime(self, props)

        self.encryption_key = encryption_key
        self.log_settings = job_logs(self, log_retention, removal_policy)
        self.storage = job_storage(
            self,
            settings,
            template_text=self.template.text,
            input_bucket=input_bucket,
            output_bucket=output_bucket,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            access_logs_bucket=access_logs_bucket,
            deployment_log_group=self.log_settings.bucket_deployment_log_group(self),
            log_settings=self.log_settings,
        )
        binding = dataset.bind(
            self,
            input_bucket=self.input_bucket,
            output_bucket=self.output_bucket,
            output_prefix=self.output_prefix,
            data_kind=task_type.data_kind,
            log_settings=self.log_settings,
        )
        # After the dataset: its upload may bring a BucketDeployment provider of its own.
        acknowledge_bucket_deployment_provider(Stack.of(self), [self.input_bucket])
        self.manifest_s3_uri = binding.manifest_s3_uri
        self.skill_table: dynamodb.ITable = skill_table or worker_skill_table(
            self, "WorkerSkill", encryption_key=encryption_key, removal_policy=removal_policy
        )

        #: What the library's annotation functions are told (their environment, through
        #: the Lambda contract); also when your own functions are used instead.
        self.pre_annotation_contract = settings.pre_annotation_settings(
            label_categories_uri=self.label_category_s3_uri
        )
        self.post_annotation_contract = settings.post_annotation_settings(
            answer_name=answer_name,
            skill_table=self.skill_table.table_name,
            output_uri=f"s3://{self.output_bucket.bucket_name}/{self.output_prefix.rstrip('/')}",
            label_categories_uri=self.label_category_s3_uri,
        )
        self.pre_annotation_function: lambda_.IFunction = pre_annotation_function or (
            new_pre_annotation_function(
                self, self.pre_annotation_contract, log_settings=self.log_settings
            )
        )
        self.post_annotation_function: lambda_.IFunction = post_annotation_function or (
            new_post_annotation_function(
                self,
                self.post_annotation_contract,
                heavy=settings.heavy,
                log_settings=self.log_settings,
            )
        )
        self._grant(role, binding, given_buckets=(input_bucket, output_bucket))
        grant_label_categories_read(self, pre_annotation_function, post_annotation_function)

        self.request = job_request(self, workteam)
        self.create_labeling_job_request: dict[str, Any] = self.request.render()
        self.job: LabelingJobResource | SelfHostedJobResource | None = None
        if self.self_hosted_runtime is not None:
            self.job = run_on(self.self_hosted_runtime, self, binding, props)
        elif start_on_deploy:
            self.job = LabelingJobResource(
                self,
                "Job",
                request=self.create_labeling_job_request,
                job_name_prefix=self.job_name_prefix,
                execution_role=self.execution_role,
                stop_replaced_jobs=stop_replaced_jobs,
                removal_policy=removal_policy,
                dependencies=[*job_dependencies(self, workteam, binding), *self.access.policies],
                log_settings=self.log_settings,
            )
        name_the_job(self)
        add_job_operations(self, notification_emails, encryption_key)
        add_job_outputs(self)

    # -- set by the last steps (operations.py) ---------------------------------------------
    labeling_job_name: str
    labeling_job_arn: str
    output_manifest_s3_uri: str
    labeling_job_request_hash: str
    runner: LabelingJobRunner | SelfHostedRunner
    monitoring: LabelingJobMonitoring

    # -- the parts' values, as attributes (escape hatches) ---------------------------------
    task_type: _Part[TaskType] = _Part("settings")
    labels: _Part[list[str]] = _Part("settings", list)
    consolidation: _Part[Consolidation] = _Part("settings")
    label_attribute_name: _Part[str] = _Part("settings")
    output_prefix: _Part[str] = _Part("settings")
    job_name_prefix: _Part[str] = _Part("settings")
    input_bucket: _Part[s3.IBucket] = _Part("storage")
    output_bucket: _Part[s3.IBucket] = _Part("storage")
    config_upload: _Part[s3deploy.BucketDeployment] = _Part("storage")
    template_s3_uri: _Part[str] = _Part("storage")
    label_category_s3_uri: _Part[str] = _Part("storage")
    batches_s3_uri: _Part[str] = _Part("storage")

    @property
    def cdk_tag_manager(self) -> TagManager:
        """The job's tags (``Tags.of(...)``): they reach the ``CreateLabelingJob`` request."""
        return job_tag_manager(self)

    # -- steps ------------------------------------------------------------------------------
    def _grant(
        self,
        role: iam.IRole | None,
        binding: DatasetBinding,
        *,
        given_buckets: Sequence[s3.IBucket | None],
    ) -> None:
        self.access = access = JobAccess(  # the job's own policies (and their nag reasons)
            self,
            payload_access=self.settings.payload_access,
            post_annotation_role=self.post_annotation_function.role,
        )
        self.execution_role: iam.IRole = access.execution_role(role)
        access.grant(
            self.execution_role,
            read=[
                (self.input_bucket, self.settings.template_key),
                (self.input_bucket, self.settings.label_categories_key),
                (self.input_bucket, f"{self.settings.batches_prefix}*"),
                *binding.read,
            ],
            output_bucket=self.output_bucket,
            output_prefix=self.output_prefix,
            functions=[self.pre_annotation_function, self.post_annotation_function],
            encryption_keys=job_keys(self.encryption_key, given_buckets),
            skill_table=self.skill_table,
            output_key=self.encryption_key,
            writes_masks=self.settings.writes_masks,
            writes_answers=self.settings.keeps_answers,
        )

    # -- for consumers ----------------------------------------------------------------------
    def grant_batch_input(self, bucket: s3.IBucket, prefix: str) -> None:
        """Let the execution role read batches (manifests, data) under ``prefix`` of ``bucket``
        for the runner; ``batches_s3_uri`` needs no grant (``JobAccess.grant_batch_input``)."""
        self.access.grant_batch_input(bucket, prefix, owner=self.node.path)
        if self.self_hosted_runtime is not None:  # the runtime reads the batches itself
            self.self_hosted_runtime.grant_job_input([(bucket, f"{prefix}*")])

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the job output (manifests, consolidated masks)."""
        return self.output_bucket.grant_read(grantee, f"{self.output_prefix}*")

    def _metric(self, name: str, **kwargs: Any) -> cloudwatch.Metric:
        """A metric the post-annotation function emits (``LabelingJobMonitoring.metric``)."""
        return LabelingJobMonitoring.metric(name, function=self.post_annotation_function, **kwargs)

    def metric_objects_consolidated(self, **kwargs: Any) -> cloudwatch.Metric:
        """Objects consolidated by the post-annotation function (sum over 5 minutes)."""
        return self._metric(contract.METRIC_OBJECTS_CONSOLIDATED, **kwargs)

    def metric_answers_rejected(self, **kwargs: Any) -> cloudwatch.Metric:
        """Worker answers the post-annotation function could not use (sum over 5 minutes)."""
        return self._metric(contract.METRIC_ANSWERS_REJECTED, **kwargs)

    def metric_skill_store_errors(self, **kwargs: Any) -> cloudwatch.Metric:
        """Worker-skill reads and writes that failed (sum over 5 minutes; alarmed)."""
        return self._metric(contract.METRIC_SKILL_STORE_ERRORS, **kwargs)

    def metric_consolidation_errors(self, **kwargs: Any) -> cloudwatch.Metric:
        """Objects that got a failure instead of a label (sum over 5 minutes)."""
        return self._metric(contract.METRIC_CONSOLIDATION_ERRORS, **kwargs)


# -- steps that judge the props, before anything is built -----------------------------------
def checked_template(
    job: CustomLabelingJob, template: WorkerTemplate | None, dataset: Dataset
) -> WorkerTemplate:
    """Every problem of the props in one error (settings, types, dataset), and the
    warnings about them; then the template to validate."""
    settings = job.settings
    problems = Problems(f"CustomLabelingJob {job.node.path}")
    for problem in settings.problems():
        problems.add(problem)
    if "dataset" not in settings.ill_typed:
        kind = None if "task_type" in settings.ill_typed else settings.task_type.data_kind
        for problem in dataset.problems(kind):
            problems.add(problem)
    if (
        template is None
        and settings.task_type is TaskType.CUSTOM
        and "task_type" not in settings.ill_typed
    ):
        problems.add("task_type CUSTOM needs template=WorkerTemplate.from_file(...)")
    problems.raise_if_any()
    warn_above_default_quota(job, settings.task.max_concurrent)
    return template or WorkerTemplate.for_task_type(settings.task_type)


def validated_template(job: CustomLabelingJob, dataset: Dataset) -> str | None:
    """Validate the job's template (``TemplateError`` on a problem); what works but would
    probably show workers an empty task becomes a synth warning. Returns the answer
    element's name."""
    warnings: list[str] = []
    task_type = job.settings.task_type
    answer_name = job.template.validate(
        job.settings.consolidation,
        warnings=warnings,
        task_type=task_type,
        manifest_attributes=dataset.manifest_attributes(task_type.data_kind),
    )
    for warning in warnings:
        Annotations.of(job).add_warning_v2(
            TEMPLATE_TASK_INPUT_WARNING, f"worker template {job.template.source}:{warning}"
        )
    return answer_name


def job_logs(
    job: CustomLabelingJob, retention: logs.RetentionDays, removal_policy: RemovalPolicy
) -> JobLogs:
    """One retention for every log group of the job, and the job's key when it has one
    (whose policy must then let CloudWatch Logs use it)."""
    if job.encryption_key is not None:
        grant_log_encryption(job, job.encryption_key)
    return JobLogs(
        retention=retention, removal_policy=removal_policy, encryption_key=job.encryption_key
    )


def grant_label_categories_read(
    job: CustomLabelingJob,
    given_pre: lambda_.IFunction | None,
    given_post: lambda_.IFunction | None,
) -> None:
    """The library's functions read the labels from the label-category file
    (``GT_LABEL_CATEGORIES_URI``: labels would overflow the 4 KB environment): the
    pre-annotation function with its own role, the post-annotation function (only when
    an event lacks ``labelCategories``) with the execution role, or its own with
    DIRECT_READ. ``s3:GetObject`` on that one object, and ``kms:Decrypt`` on the input
    bucket's key. Functions given by the user read what they like."""
    readers = [job.pre_annotation_function.role] if given_pre is None else []
    if given_post is None and job.settings.payload_access is PayloadAccess.DIRECT_READ:
        readers.append(job.post_annotation_function.role)
    for reader in readers:
        assert reader is not None
        reader.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[job.input_bucket.arn_for_objects(job.settings.label_categories_key)],
            )
        )
        if job.input_bucket.encryption_key is not None:
            job.input_bucket.encryption_key.grant_decrypt(reader)


def warn_above_default_quota(scope: IConstruct, max_concurrent: Any) -> None:
    """More concurrent tasks than Ground Truth's default quota: say so at synth."""
    if not isinstance(max_concurrent, int) or max_concurrent <= DEFAULT_MAX_CONCURRENT_TASKS:
        return
    Annotations.of(scope).add_warning_v2(
        MAX_CONCURRENT_TASKS_WARNING,
        f"max_concurrent_task_count is {max_concurrent}: more than "
        f"{DEFAULT_MAX_CONCURRENT_TASKS} concurrent tasks needs an AWS Support request "
        "(a service quota increase for Ground Truth) before the job is created, or "
        "CreateLabelingJob fails. Acknowledge with "
        f"Annotations.of(scope).acknowledge_warning('{MAX_CONCURRENT_TASKS_WARNING}').",
    )


def warn_closed_to_new_customers(scope: IConstruct) -> None:
    """Ground Truth takes no new customers: say so at synth (acknowledgeable)."""
    Annotations.of(scope).add_warning_v2(
        CLOSED_TO_NEW_CUSTOMERS_WARNING,
        "AWS has closed SageMaker Ground Truth to new customers: deploying this job needs "
        "an account that already uses Ground Truth. Without it: runtime=Runtime.SELF_HOSTED "
        "(on the job and its PrivateWorkteam) runs the job on the self-hosted runtime, and "
        "`gt-constructs serve --app ...` runs it on one machine. Acknowledge with "
        f"Annotations.of(scope).acknowledge_warning('{CLOSED_TO_NEW_CUSTOMERS_WARNING}').",
    )
