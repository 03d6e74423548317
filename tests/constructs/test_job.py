"""CustomLabelingJob: what the synthesized stacks hold.

One synth for the module (jsii start-up is per process): a minimal stack, a
maximal one (customer key, DIRECT_READ, stopping conditions, existing
manifest) and the example app's stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template
from gt_constructs.lambda_src.gt_annotation.contract import DAWID_SKENE

from gt_constructs import (
    ConfigurationError,
    Consolidation,
    CustomLabelingJob,
    DataKind,
    Dataset,
    PayloadAccess,
    PrivateWorkteam,
    TaskType,
    TemplateError,
    WorkerTemplate,
)
from tests.support import cfn_lint_findings, synth_stacks

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "examples" / "street-scenes"
WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/street-team"
ENV = cdk.Environment(account="111122223333", region="us-east-1")


def minimal_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Minimal", env=ENV)
    CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["Cat", "Dog"],
        dataset=Dataset.from_local_directory(IMAGES),
        workteam=PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN),
    )
    return stack


def maximal_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Maximal", env=ENV)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    data = s3.Bucket.from_bucket_name(stack, "Data", "existing-data-bucket")
    CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.BOUNDING_BOX,
        labels=["Car", "Bus", "Bicycle"],
        dataset=Dataset.from_manifest(data, "manifests/traffic.manifest", data_prefix="traffic"),
        workteam=PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN),
        consolidation=Consolidation.bounding_boxes(iou_threshold=0.6, keep_all_annotations=True),
        workers_per_object=5,
        task_title="Box the vehicles",
        task_description="Draw a tight box around every vehicle",
        task_keywords=["vehicles", "bounding box"],
        task_time_limit=cdk.Duration.minutes(5),
        task_availability_lifetime=cdk.Duration.days(2),
        max_concurrent_task_count=200,
        payload_access=PayloadAccess.DIRECT_READ,
        encryption_key=key,
        label_attribute_name="vehicles",
        job_name_prefix="traffic-boxes",
        max_human_labeled_object_count=500,
        max_percentage_of_input_dataset_labeled=80,
        free_of_personally_identifiable_information=True,
        free_of_adult_content=True,
        skip_objects_labeled_with="vehicles",
        removal_policy=cdk.RemovalPolicy.DESTROY,
        notification_emails=["ml-team@example.com"],
    )
    return stack


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    import app as example

    def build(app: cdk.App) -> list[cdk.Stack]:
        return [minimal_stack(app), maximal_stack(app), example.StreetPeopleStack(app, "Example")]

    return synth_stacks(build)


@pytest.fixture(scope="module")
def minimal(templates: dict[str, Template]) -> Template:
    return templates["Minimal"]


@pytest.fixture(scope="module")
def maximal(templates: dict[str, Template]) -> Template:
    return templates["Maximal"]


@pytest.fixture(scope="module")
def example(templates: dict[str, Template]) -> Template:
    return templates["Example"]


def _resources(template: Template, kind: str, props: dict[str, Any] | None = None) -> dict:
    return template.find_resources(kind, {"Properties": props} if props else None)


# -- buckets --------------------------------------------------------------------------------
def test_input_bucket_has_the_exact_cors_rule_workers_need(minimal: Template) -> None:
    # THEN
    minimal.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "CorsConfiguration": {
                "CorsRules": [
                    {
                        "AllowedHeaders": [],
                        "AllowedMethods": ["GET"],
                        "AllowedOrigins": ["*"],
                        "ExposedHeaders": ["Access-Control-Allow-Origin"],
                    }
                ]
            }
        },
    )


def test_buckets_are_encrypted_versioned_private_and_retained_by_default(minimal: Template) -> None:
    buckets = minimal.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ] == {"SSEAlgorithm": "AES256"}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"


def test_buckets_deny_requests_without_ssl(minimal: Template) -> None:
    policies = minimal.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_customer_key_encrypts_buckets_and_skill_table(maximal: Template) -> None:
    maximal.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            }
        },
    )
    maximal.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"})},
    )


def test_destroy_policy_empties_buckets_on_delete(maximal: Template) -> None:
    maximal.resource_count_is("Custom::S3AutoDeleteObjects", 2)


# -- functions ------------------------------------------------------------------------------
def test_functions_run_on_the_newest_python_on_arm64_from_lambda_src(minimal: Template) -> None:
    functions = _resources(
        minimal, "AWS::Lambda::Function", {"Handler": Match.string_like_regexp("gt_annotation")}
    )
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == [
        "gt_annotation.post_annotation.handler",
        "gt_annotation.pre_annotation.handler",
    ]
    for function in functions.values():
        assert function["Properties"]["Runtime"] == "python3.14"
        assert function["Properties"]["Architectures"] == ["arm64"]
        assert function["Properties"]["LoggingConfig"]["LogGroup"]


def test_post_annotation_function_knows_task_answer_and_skill_table(minimal: Template) -> None:
    env = Capture()
    minimal.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "gt_annotation.post_annotation.handler", "Environment": {"Variables": env}},
    )
    variables = env.as_object()
    assert variables["GT_TASK_TYPE"] == "IMAGE_CLASSIFICATION"
    assert variables["GT_ANSWER_NAME"] == "annotatedResult"
    assert json.loads(variables["GT_CONSOLIDATION"]) == {
        "method": "dawid-skene",
        "keepAllAnnotations": False,
        # One default, the contract's: what the Lambda and the benchmarks run.
        "maxIterations": DAWID_SKENE.option("maxIterations").default,
    }
    assert variables["GT_PAYLOAD_ACCESS"] == "ASSUME_EXECUTION_ROLE"
    assert variables["GT_SKILL_SCOPE"] == "job"
    assert "Ref" in variables["GT_SKILL_TABLE"]
    # The job's labels by reference (class ids follow them when an event has no
    # categories): never in the environment, whose 4 KB 50 long labels would overflow.
    assert "GT_LABELS" not in variables
    assert "label-categories.json" in json.dumps(variables["GT_LABEL_CATEGORIES_URI"])


def test_log_groups_have_retention(minimal: Template) -> None:
    groups = minimal.find_resources("AWS::Logs::LogGroup")
    assert groups
    assert all(g["Properties"].get("RetentionInDays") for g in groups.values())


def test_the_job_log_groups_follow_the_removal_policy(minimal: Template, maximal: Template) -> None:
    # GIVEN the default removal policy (RETAIN, minimal) and DESTROY (maximal)
    for template, policy in ((minimal, "Retain"), (maximal, "Delete")):
        groups = template.find_resources("AWS::Logs::LogGroup")
        # THEN the runner's state machine log group follows it, like the functions' groups
        runner = [g for name, g in groups.items() if "RunnerLogs" in name]
        functions = [g for name, g in groups.items() if "AnnotationLogs" in name]
        assert len(runner) == 1 and functions, sorted(groups)
        assert [g["DeletionPolicy"] for g in runner + functions] == [policy] * (1 + len(functions))


def test_skill_table_is_on_demand_with_point_in_time_recovery(minimal: Template) -> None:
    minimal.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": "scope", "KeyType": "HASH"},
                {"AttributeName": "worker", "KeyType": "RANGE"},
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


# -- execution role -------------------------------------------------------------------------
def _execution_role(template: Template) -> dict[str, Any]:
    roles = template.find_resources(
        "AWS::IAM::Role",
        {"Properties": {"Description": Match.string_like_regexp("execution role")}},
    )
    assert len(roles) == 1
    return next(iter(roles.values()))


def _principals(role: dict[str, Any]) -> list[Any]:
    principals = []
    for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        principals.append(statement["Principal"])
    return principals


def test_assume_mode_trusts_sagemaker_and_the_post_annotation_role(minimal: Template) -> None:
    principals = _principals(_execution_role(minimal))
    assert {"Service": "sagemaker.amazonaws.com"} in principals
    aws = [p["AWS"] for p in principals if "AWS" in p]
    assert len(aws) == 1 and "PostAnnotationRole" in json.dumps(aws[0])


def test_direct_read_mode_trusts_only_sagemaker(maximal: Template) -> None:
    assert _principals(_execution_role(maximal)) == [{"Service": "sagemaker.amazonaws.com"}]


def test_execution_role_invokes_exactly_the_two_functions(minimal: Template) -> None:
    statements = _role_statements(minimal, "ExecutionRole")
    invoke = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert len(invoke) == 1
    targets = json.dumps(invoke[0]["Resource"])
    assert "PreAnnotation" in targets and "PostAnnotation" in targets
    assert len(invoke[0]["Resource"]) == 2


def test_no_full_access_managed_policy_anywhere(templates: dict[str, Template]) -> None:
    for template in templates.values():
        text = json.dumps(template.to_json())
        assert "FullAccess" not in text
        assert "AmazonSageMakerGroundTruthExecution" not in text


def test_execution_role_writes_only_the_output_prefix(minimal: Template) -> None:
    statements = _role_statements(minimal, "ExecutionRole")
    write = [s for s in statements if "s3:PutObject" in _actions(s)]
    assert len(write) == 1
    assert "labeling-jobs/image-classification/output/*" in json.dumps(write[0]["Resource"])


def test_customer_key_is_granted_to_the_execution_role(maximal: Template) -> None:
    statements = _role_statements(maximal, "ExecutionRole")
    kms_actions = {a for s in statements for a in _actions(s) if a.startswith("kms:")}
    assert {"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"} <= kms_actions
    # The job never moves data from one key to another.
    assert not any(a.startswith("kms:ReEncrypt") for a in kms_actions)


def test_direct_read_lets_the_function_role_read_the_output(maximal: Template) -> None:
    statements = _role_statements(maximal, "PostAnnotationRole")
    reads = [s for s in statements if "s3:GetObject" in _actions(s)]
    output = [s for s in reads if "/output/" in json.dumps(s["Resource"])]
    assert len(output) == 1
    assert "labeling-jobs/vehicles/output/*" in json.dumps(output[0]["Resource"])
    # the only other object it reads is the job's label-category file
    others = [json.dumps(s["Resource"]) for s in reads if s not in output]
    assert others and all(r.endswith('/config/label-categories.json"]]}') for r in others)
    # It reads what Ground Truth names; it never lists the bucket (no s3:List*, no Get*).
    s3_actions = {a for s in statements for a in _actions(s) if a.startswith("s3:")}
    assert s3_actions <= {"s3:GetObject", "s3:PutObject"}
    assert not any("sts:AssumeRole" in _actions(s) for s in statements)


def _role_statements(template: Template, role_id_part: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    statements: list[dict[str, Any]] = []
    for policy in policies.values():
        roles = json.dumps(policy["Properties"].get("Roles", []))
        if role_id_part in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements, f"no policy attached to a role named like {role_id_part}"
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


# -- request and outputs ----------------------------------------------------------------------
def test_outputs_carry_the_create_labeling_job_request(example: Template) -> None:
    outputs = example.to_json()["Outputs"]
    names = " ".join(outputs)
    for part in (
        "InputBucketName",
        "OutputBucketName",
        "TemplateS3Uri",
        "ManifestS3Uri",
        "ExecutionRoleArn",
        "PreAnnotationFunctionArn",
        "PostAnnotationFunctionArn",
        "CreateLabelingJobRequest",
    ):
        assert part in names
    request = next(v for k, v in outputs.items() if "CreateLabelingJobRequest" in k)
    text = json.dumps(request)
    for key in (
        "LabelingJobName",
        "LabelAttributeName",
        "ManifestS3Uri",
        "S3OutputPath",
        "UiTemplateS3Uri",
        "PreHumanTaskLambdaArn",
        "AnnotationConsolidationLambdaArn",
        "LabelCategoryConfigS3Uri",
        "NumberOfHumanWorkersPerDataObject",
    ):
        assert key in text


def test_ground_truth_closed_warning_is_added_once_per_job() -> None:
    app = cdk.App()
    stack = minimal_stack(app)
    from aws_cdk.assertions import Annotations

    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("closed SageMaker Ground Truth to new customers")
    )
    assert len(warnings) == 1


_READS_MISSING_KEY = (
    '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
    "<crowd-form>\n"
    "  <p>{{ task.input.missing_key }}</p>\n"
    '  <crowd-image-classifier name="category" src="{{ task.input.taskObject | grant_read_access }}"'
    ' categories="{{ task.input.labels | to_json | escape }}" header="Pick one">\n'
    "  </crowd-image-classifier>\n"
    "</crowd-form>\n"
)


def test_template_reading_a_missing_task_input_key_warns_at_synth() -> None:
    from aws_cdk.assertions import Annotations

    job = _job(template=WorkerTemplate.from_string(_READS_MISSING_KEY, source="pets.html"))
    warnings = Annotations.from_stack(cdk.Stack.of(job)).find_warning(
        "*", Match.string_like_regexp(r"task\.input\.missing_key")
    )
    assert len(warnings) == 1
    message = warnings[0].entry.data
    assert message.startswith(
        "worker template pets.html:3: the template reads task.input.missing_key"
    )
    assert "the manifest attributes are source-ref" in message
    assert "@gt-constructs/job:template-reads-missing-task-input" in message


def test_template_warnings_know_an_existing_manifest_may_hold_any_key() -> None:
    from aws_cdk.assertions import Annotations

    bucket = _bucket()
    job = _job(
        template=WorkerTemplate.from_string(_READS_MISSING_KEY),
        dataset=Dataset.from_manifest(bucket, "in.manifest"),
    )
    Annotations.from_stack(cdk.Stack.of(job)).has_warning(
        "*",
        Match.string_like_regexp("'missing_key' must then be an attribute of every manifest line"),
    )


def test_default_and_example_templates_give_no_task_input_warning() -> None:
    # What the construct asks for its own local-directory datasets.
    for task_type in TaskType:
        if task_type.template_file is None:
            continue
        template = WorkerTemplate.for_task_type(task_type)
        attributes = Dataset.from_local_directory(IMAGES).manifest_attributes(task_type.data_kind)
        assert (
            template.task_input_warnings(task_type=task_type, manifest_attributes=attributes) == []
        ), task_type
    example = WorkerTemplate.from_file(REPO / "examples" / "street-people.liquid.html")
    assert (
        example.task_input_warnings(
            task_type=TaskType.INSTANCE_SEGMENTATION, manifest_attributes=("source-ref",)
        )
        == []
    )


def test_request_attribute_holds_the_whole_request() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Req", env=ENV)
    job = CustomLabelingJob(
        stack,
        "Job",
        task_type=TaskType.TEXT_CLASSIFICATION,
        labels=["pos", "neg"],
        dataset=Dataset.from_local_directory(REPO / "tests" / "data" / "texts"),
        workteam=PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN),
        max_percentage_of_input_dataset_labeled=50,
    )
    request = stack.resolve(job.create_labeling_job_request)
    human = request["HumanTaskConfig"]
    assert human["WorkteamArn"] == WORKTEAM_ARN
    assert human["NumberOfHumanWorkersPerDataObject"] == 3
    assert human["TaskTimeLimitInSeconds"] == 600
    assert human["TaskAvailabilityLifetimeInSeconds"] == 864000
    assert request["StoppingConditions"] == {"MaxPercentageOfInputDatasetLabeled": 50}
    assert request["LabelAttributeName"] == "text-classification"
    assert job.label_attribute_name == "text-classification"


# -- example app ------------------------------------------------------------------------------
def test_example_uploads_the_street_scenes_and_their_manifest(example: Template) -> None:
    deployments = example.find_resources("Custom::CDKBucketDeployment")
    assert len(deployments) == 2  # config (template + categories) and dataset
    prefixes = {d["Properties"].get("DestinationBucketKeyPrefix") for d in deployments.values()}
    assert "datasets/streetscenes/" in prefixes
    assert "labeling-jobs/street-people/config/" in prefixes


def test_synthesized_templates_pass_cfn_lint(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        assert cfn_lint_findings(template.to_json()) == [], name


# -- validation ------------------------------------------------------------------------------
def _job(**overrides: Any) -> CustomLabelingJob:
    app = cdk.App()
    stack = cdk.Stack(app, "V")
    props: dict[str, Any] = {
        "task_type": TaskType.IMAGE_CLASSIFICATION,
        "labels": ["a", "b"],
        "dataset": Dataset.from_local_directory(IMAGES),
        "workteam": PrivateWorkteam.from_workteam_arn(stack, "Team", WORKTEAM_ARN),
    }
    props.update(overrides)
    return CustomLabelingJob(stack, "Job", **props)


def test_fails_when_labels_repeat() -> None:
    with pytest.raises(ConfigurationError, match="labels must be unique; repeated: a"):
        _job(labels=["a", "a"])


def test_fails_when_there_are_no_labels() -> None:
    with pytest.raises(ConfigurationError, match="labels has 0 entries; allowed: 1–50"):
        _job(task_type=TaskType.IMAGE_MULTI_LABEL, labels=[])


def test_fails_when_there_are_too_many_labels() -> None:
    with pytest.raises(ConfigurationError, match="labels has 51 entries"):
        _job(labels=[f"l{i}" for i in range(51)])


def test_fails_when_bounding_box_has_11_labels() -> None:
    with pytest.raises(ConfigurationError) as error:
        _job(task_type=TaskType.BOUNDING_BOX, labels=[f"l{i}" for i in range(11)])
    assert error.value.problems == [
        "labels has 11 entries; allowed: 1–10 for BOUNDING_BOX (the crowd-bounding-box "
        "element takes at most 10 labels)"
    ]


def test_fails_when_image_classification_has_11_labels() -> None:
    with pytest.raises(ConfigurationError, match="crowd-image-classifier element takes at most 10"):
        _job(labels=[f"l{i}" for i in range(11)])


def test_bounding_box_takes_10_labels() -> None:
    job = _job(task_type=TaskType.BOUNDING_BOX, labels=[f"l{i}" for i in range(10)])
    assert len(job.labels) == 10


def test_label_limits_are_ground_truths_50_unless_an_element_documents_less() -> None:
    from gt_constructs.task_type import LABEL_LIMITS, MAX_LABELS

    for task_type in TaskType:
        limit = LABEL_LIMITS.get(task_type)
        assert task_type.max_labels == (limit.max_labels if limit else MAX_LABELS)
        assert limit is None or limit.source.startswith("https://docs.aws.amazon.com/")
    assert {t: lim.max_labels for t, lim in LABEL_LIMITS.items()} == {
        TaskType.BOUNDING_BOX: 10,
        TaskType.IMAGE_CLASSIFICATION: 10,
    }


def test_fails_when_a_label_is_too_long() -> None:
    with pytest.raises(ConfigurationError, match="1–256 characters"):
        _job(labels=["x" * 257])


def test_fails_when_label_attribute_name_ends_in_metadata() -> None:
    with pytest.raises(ConfigurationError, match="must not end in '-metadata'"):
        _job(label_attribute_name="cats-metadata")


def test_fails_when_label_attribute_name_ends_in_ref() -> None:
    # The contract's rule: -ref is for built-in task types only; these are custom jobs.
    with pytest.raises(ConfigurationError) as error:
        _job(
            task_type=TaskType.INSTANCE_SEGMENTATION,
            labels=["Person"],
            label_attribute_name="people-ref",
        )
    (problem,) = error.value.problems
    assert problem.startswith("label_attribute_name 'people-ref' must not end in '-ref'")
    assert "'people-mask'" in problem


def test_fails_when_label_attribute_name_has_bad_characters() -> None:
    with pytest.raises(ConfigurationError, match="label_attribute_name 'cats_and_dogs'"):
        _job(label_attribute_name="cats_and_dogs")


def test_fails_when_workers_per_object_out_of_range() -> None:
    with pytest.raises(ConfigurationError, match="workers_per_object is 10; allowed: 1–9"):
        _job(workers_per_object=10)


def test_fails_when_task_time_limit_out_of_range() -> None:
    with pytest.raises(ConfigurationError, match="task_time_limit is 10 s; allowed: 30–28800 s"):
        _job(task_time_limit=cdk.Duration.seconds(10))


def test_fails_when_availability_lifetime_out_of_range() -> None:
    with pytest.raises(ConfigurationError, match="task_availability_lifetime is 3110400 s"):
        _job(task_availability_lifetime=cdk.Duration.days(36))


def test_fails_when_keywords_are_too_many_or_malformed() -> None:
    with pytest.raises(ConfigurationError) as error:
        _job(task_keywords=["a", "b", "c", "d", "e", "f"])
    assert "task_keywords has 6 entries; allowed: 1–5" in str(error.value)
    with pytest.raises(ConfigurationError, match="letters and digits"):
        _job(task_keywords=["dogs & cats"])


def test_fails_when_title_or_description_too_long() -> None:
    with pytest.raises(ConfigurationError) as error:
        _job(task_title="t" * 129, task_description="d" * 256)
    assert "task_title has 129 characters; allowed: 1–128" in str(error.value)
    assert "task_description has 256 characters; allowed: 1–255" in str(error.value)


def test_fails_when_concurrent_tasks_out_of_range() -> None:
    with pytest.raises(ConfigurationError, match="max_concurrent_task_count is 5001"):
        _job(max_concurrent_task_count=5001)


def test_fails_when_job_name_prefix_is_invalid() -> None:
    with pytest.raises(ConfigurationError, match="job_name_prefix"):
        _job(job_name_prefix="-bad-")


def test_fails_with_every_problem_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as error:
        _job(labels=["a", "a"], workers_per_object=0, max_concurrent_task_count=0)
    assert len(error.value.problems) == 3


def test_fails_when_custom_task_has_no_template() -> None:
    with pytest.raises(ConfigurationError, match="CUSTOM needs template"):
        _job(task_type=TaskType.CUSTOM)


def test_fails_when_template_lacks_the_answer_element() -> None:
    html = (
        '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
        '<crowd-form>\n<crowd-bounding-box name="boxes"></crowd-bounding-box>\n</crowd-form>'
    )
    with pytest.raises(TemplateError, match="no <crowd-image-classifier> or <crowd-classifier>"):
        _job(template=WorkerTemplate.from_string(html))


def test_fails_when_dataset_directory_has_no_images(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("nothing to label")
    assert _only_problem(dataset=Dataset.from_local_directory(tmp_path)) == (
        f"dataset: Dataset.from_local_directory folder {tmp_path} holds no data objects for "
        "an image task; allowed: .jpg, .jpeg, .png files (sub-folders included)"
    )


# -- dataset problems: in the same one error as every other --------------------------------
def test_fails_when_dataset_folder_is_missing_and_workers_per_object_is_wrong(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(ConfigurationError) as error:
        _job(dataset=Dataset.from_local_directory(missing), workers_per_object=12)
    assert error.value.problems == [
        "workers_per_object is 12; allowed: 1–9",
        f"dataset: Dataset.from_local_directory path {missing} does not exist; allowed: a "
        "folder of .jpg, .jpeg, .png files (sub-folders included)",
    ]


def test_fails_when_dataset_folder_is_empty_for_a_text_task(tmp_path: Path) -> None:
    (tmp_path / "blank.txt").write_text("\n  \n")
    problem = _only_problem(
        task_type=TaskType.TEXT_CLASSIFICATION, dataset=Dataset.from_local_directory(tmp_path)
    )
    assert problem.endswith(
        "holds no data objects for a text task; allowed: .txt files, one data object per "
        "non-empty line"
    )


def test_fails_when_dataset_text_file_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    problem = _only_problem(
        task_type=TaskType.TEXT_CLASSIFICATION, dataset=Dataset.from_local_directory(tmp_path)
    )
    assert "cannot read" in problem and "latin1.txt as UTF-8 text" in problem


def test_fails_when_dataset_path_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "one.png"
    file.write_bytes(b"")
    assert _only_problem(dataset=Dataset.from_local_directory(file)) == (
        f"dataset: Dataset.from_local_directory path {file} is a file; allowed: a folder"
    )


def _bucket(name: str = "existing-data-bucket") -> Any:
    return s3.Bucket.from_bucket_name(cdk.Stack(cdk.App(), "B"), "Data", name)


def test_fails_when_dataset_manifest_key_is_empty() -> None:
    assert _only_problem(dataset=Dataset.from_manifest(_bucket(), " ")) == (
        "dataset: Dataset.from_manifest key is empty; allowed: the manifest's S3 key, "
        "e.g. 'manifests/input.manifest'"
    )


def test_fails_when_dataset_manifest_key_is_a_uri() -> None:
    dataset = Dataset.from_manifest(_bucket(), "s3://existing-data-bucket/in.manifest")
    assert _only_problem(dataset=dataset) == (
        "dataset: Dataset.from_manifest key 's3://existing-data-bucket/in.manifest' is an S3 "
        "URI; allowed: the key within the bucket given, e.g. 'in.manifest'"
    )


def test_fails_when_dataset_prefix_has_a_wildcard_and_bad_extensions() -> None:
    with pytest.raises(ConfigurationError) as error:
        _job(dataset=Dataset.from_s3_prefix(_bucket(), "images/*.jpg", extensions=["jpg"]))
    assert error.value.problems == [
        "dataset: Dataset.from_s3_prefix prefix 'images/*.jpg' holds a wildcard; allowed: the "
        "literal start of the keys (S3 prefixes match no patterns), e.g. 'images/'",
        "dataset: Dataset.from_s3_prefix extensions is ['jpg']; allowed: a non-empty list of "
        "file extensions like ['.jpg', '.png']",
    ]


def test_fails_when_dataset_extensions_is_a_string() -> None:
    dataset = Dataset.from_s3_prefix(_bucket(), "images/", extensions=".jpg")  # type: ignore[arg-type]
    assert _only_problem(dataset=dataset).startswith(
        "dataset: Dataset.from_s3_prefix extensions is '.jpg'; allowed: a non-empty list"
    )


def test_fails_when_dataset_bucket_is_a_bucket_name() -> None:
    dataset = Dataset.from_manifest("existing-data-bucket", "in.manifest")  # type: ignore[arg-type]
    assert _only_problem(dataset=dataset).startswith(
        "dataset: Dataset.from_manifest bucket is a str; allowed: an s3.IBucket"
    )


def test_dataset_factories_never_raise_and_bind_raises_the_problems(tmp_path: Path) -> None:
    dataset = Dataset.from_local_directory(tmp_path / "missing")  # no error yet
    assert len(dataset.problems()) == 1
    stack = cdk.Stack(cdk.App(), "Alone")
    bucket = s3.Bucket(stack, "In")
    with pytest.raises(ConfigurationError, match=r"Dataset\.from_local_directory: 1 invalid"):
        dataset.bind(
            stack,
            input_bucket=bucket,
            output_bucket=bucket,
            output_prefix="out/",
            data_kind=DataKind.IMAGE,
        )


# -- wrong types: the same one error, never a bare TypeError --------------------------------
def _only_problem(**overrides: Any) -> str:
    with pytest.raises(ConfigurationError) as error:
        _job(**overrides)
    (problem,) = error.value.problems
    return problem


def test_fails_when_workers_per_object_is_a_string() -> None:
    assert _only_problem(workers_per_object="3") == (
        "workers_per_object is '3' (a str); allowed: an integer, 1–9 (did you mean 3?)"
    )


def test_fails_when_workers_per_object_is_a_duration() -> None:
    assert _only_problem(workers_per_object=cdk.Duration.minutes(3)) == (
        "workers_per_object is a Duration (3 minutes); allowed: an integer, 1–9"
    )


def test_fails_when_workers_per_object_is_a_bool() -> None:
    assert _only_problem(workers_per_object=True).startswith("workers_per_object is True (a bool)")


def test_fails_when_task_time_limit_is_an_int() -> None:
    assert _only_problem(task_time_limit=600) == (
        "task_time_limit is 600 (an int); allowed: a Duration, 30 s–8 h "
        "(e.g. Duration.minutes(10)) (did you mean Duration.seconds(600)?)"
    )


def test_fails_when_labels_is_a_string() -> None:
    assert _only_problem(labels="Cat") == (
        "labels is 'Cat' (a str); allowed: a list of strings, the label categories, "
        "e.g. ['Cat', 'Dog'] (did you mean ['Cat']?)"
    )


def test_fails_when_a_label_is_not_a_string() -> None:
    assert _only_problem(labels=["Cat", 7]).startswith("labels is ['Cat', 7] (a list); allowed:")


def test_fails_when_task_type_is_a_string() -> None:
    # One problem: the stand-in task type brings no "CUSTOM needs a template" with it.
    problem = _only_problem(task_type="BOUNDING_BOX")
    assert problem.startswith("task_type is 'BOUNDING_BOX' (a str); allowed: one of TaskType.")
    assert problem.endswith("(did you mean TaskType.BOUNDING_BOX?)")


def test_fails_when_input_bucket_is_a_bucket_name() -> None:
    assert _only_problem(input_bucket="my-bucket") == (
        "input_bucket is 'my-bucket' (a str); allowed: an s3.IBucket, e.g. s3.Bucket(...) (or None)"
    )


def test_imported_resources_pass_the_type_check() -> None:
    # GIVEN resources imported by name or ARN: jsii hands them back as interface proxies
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_

    from gt_constructs.job.props import type_problems

    stack = cdk.Stack()
    arn = "arn:aws:{}:us-east-1:111111111111:{}"
    imported = {
        "encryption_key": kms.Key.from_key_arn(stack, "Key", arn.format("kms", "key/abc")),
        "input_bucket": s3.Bucket.from_bucket_name(stack, "In", "in-bucket"),
        "output_bucket": s3.Bucket.from_bucket_arn(stack, "Out", "arn:aws:s3:::out-bucket"),
        "role": iam.Role.from_role_arn(stack, "Role", arn.format("iam", "role/r")),
        "post_annotation_function": lambda_.Function.from_function_arn(
            stack, "Post", arn.format("lambda", "function:post")
        ),
        "skill_table": dynamodb.Table.from_table_name(stack, "Skill", "skill"),
    }
    # THEN none of them is taken for a wrong type
    assert type_problems(imported) == {}


def test_fails_when_removal_policy_is_a_string() -> None:
    problem = _only_problem(removal_policy="destroy")
    assert problem.startswith("removal_policy is 'destroy' (a str); allowed: one of ")
    assert "RemovalPolicy.DESTROY" in problem


def test_fails_when_start_on_deploy_is_not_a_bool() -> None:
    assert _only_problem(start_on_deploy="yes") == (
        "start_on_deploy is 'yes' (a str); allowed: True or False"
    )


def test_fails_when_task_keywords_is_a_string() -> None:
    assert _only_problem(task_keywords="cats").endswith("(did you mean ['cats']?)")


def test_fails_with_wrong_types_and_other_problems_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as error:
        _job(workers_per_object="3", labels=["a", "a"], max_concurrent_task_count=0)
    assert [p.split(" ")[0] for p in error.value.problems] == [
        "workers_per_object",
        "labels",
        "max_concurrent_task_count",
    ]


class _Wrong:
    """A value of a type no prop takes."""


def _props() -> list[str]:
    import inspect

    names = list(inspect.signature(CustomLabelingJob.__init__).parameters)
    return [n for n in names if n not in ("self", "scope", "construct_id")]


def test_every_prop_has_a_type_rule() -> None:
    from gt_constructs.job.props import EXPECTED

    assert sorted(EXPECTED) == sorted(_props())


@pytest.mark.parametrize("name", _props())
def test_fails_when_any_prop_has_the_wrong_type(name: str) -> None:
    problem = _only_problem(**{name: _Wrong()})
    assert problem.startswith(f"{name} is a _Wrong; allowed: ")


# -- snapshots (assertions above stay the source of truth) -------------------------------------
@pytest.mark.parametrize("name", ["Minimal", "Maximal"])
def test_snapshot(name: str, templates: dict[str, Template], snapshot: Any) -> None:
    from syrupy.extensions.json import JSONSnapshotExtension

    from tests.support import normalise_for_snapshot

    assert normalise_for_snapshot(templates[name].to_json()) == snapshot(
        extension_class=JSONSnapshotExtension
    )
