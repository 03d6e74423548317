"""Helpers of the AWS runtime's tests: moto's DynamoDB and S3, the engine on them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
from gt_constructs.lambda_src.gt_runtime.dynamo_store import DynamoStore, create_table

TABLE = "gt-runtime"


class CountingClient:
    """A boto3 client that counts the requests made through it, by operation."""

    def __init__(self, client: Any, counts: Counter[str]) -> None:
        self._client = client
        self._counts = counts
        self.meta = client.meta
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith(("get_paginator", "can_paginate")):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._counts[f"{self._client.meta.service_model.service_name}:{name}"] += 1
            return attribute(*args, **kwargs)

        return call


def dynamo_store(counts: Counter[str] | None = None) -> DynamoStore:
    """A fresh table (inside an active moto mock) and the store on it."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    existing = client.list_tables()["TableNames"]
    if TABLE not in existing:
        create_table(client, TABLE)
    if counts is not None:
        client = CountingClient(client, counts)
    return DynamoStore(TABLE, client=client)


# =========================================================================== a whole job
import base64  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from urllib.parse import parse_qs, urlencode, urlsplit  # noqa: E402

from gt_constructs.lambda_src.gt_annotation.contract import (  # noqa: E402
    PostAnnotationSettings,
    PreAnnotationSettings,
)
from gt_constructs.lambda_src.gt_runtime import (  # noqa: E402
    aws_api,
    aws_contract,
    aws_host,
    aws_tasks,
)
from gt_constructs.lambda_src.gt_runtime.invoke import (  # noqa: E402
    _HANDLERS,
    LambdaContext,
    LocalFunction,
    _environment,
)

REGION, ACCOUNT = "us-east-1", "111122223333"
TEAM = "labelers"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_TestPool"
TASK_ORIGIN = f"https://abc123.execute-api.{REGION}.amazonaws.com"
PORTAL_ORIGIN = "https://d111111abcdef8.cloudfront.net"
PRE_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:job-pre"
POST_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:job-post"
STEPS_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:runtime-steps"
LABELS = ("cat", "dog", "bird")
TEMPLATE = (
    "<script src='https://assets.crowd.aws/crowd-html-elements.js'></script>"
    "<crowd-form><crowd-image-classifier name='category' src='{{ task.input.taskObject | "
    "grant_read_access }}' categories='{{ task.input.labels | to_json | escape }}' "
    "header='What is it?'></crowd-image-classifier></crowd-form>"
)


class FakeLambda:
    """Lambda's ``Invoke`` for the job's two functions: the library's handlers run here
    with the environment the construct gives them, against moto's S3, STS and DynamoDB
    (moto runs Lambda code only in Docker)."""

    def __init__(self, functions: dict[str, LocalFunction]) -> None:
        self.functions = functions
        self.meta = type("Meta", (), {"service_model": type("M", (), {"service_name": "lambda"})})()
        self.exceptions = None

    def invoke(self, *, FunctionName: str, Payload: bytes, **_: Any) -> dict[str, Any]:
        function = self.functions[FunctionName]
        context = LambdaContext(FunctionName.rsplit(":", 1)[-1], FunctionName)
        with _environment(function.environment):
            try:
                result = _HANDLERS[function.handler](json.loads(Payload), context)
            except Exception as error:
                body = {"errorMessage": str(error), "errorType": type(error).__name__}
                return {
                    "Payload": io.BytesIO(json.dumps(body).encode()),
                    "FunctionError": "Unhandled",
                }
        return {"Payload": io.BytesIO(json.dumps(result).encode())}


def job_request(name: str, workers_per_object: int, **human: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/{TEAM}",
        "UiConfig": {"UiTemplateS3Uri": "s3://job-input/template.liquid.html"},
        "PreHumanTaskLambdaArn": PRE_ARN,
        "TaskKeywords": ["pets"],
        "TaskTitle": "What animal is it?",
        "TaskDescription": "Pick the animal in the picture",
        "NumberOfHumanWorkersPerDataObject": workers_per_object,
        "TaskTimeLimitInSeconds": 300,
        "TaskAvailabilityLifetimeInSeconds": 86_400,
        "MaxConcurrentTaskCount": 1000,
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": POST_ARN},
    }
    config.update(human)
    return {
        "LabelingJobName": name,
        "LabelAttributeName": "animal",
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://job-input/manifest.jsonl"}}
        },
        "OutputConfig": {"S3OutputPath": "s3://job-output/jobs"},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/labeling-execution",
        "LabelCategoryConfigS3Uri": "s3://job-input/categories.json",
        "HumanTaskConfig": config,
        "Tags": [],
    }


def claims_of(name: str, groups: tuple[str, ...] = (TEAM,)) -> dict[str, Any]:
    """An ID token's claims as API Gateway's JWT authorizer passes them (arrays as text)."""
    return {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        "iss": ISSUER,
        "aud": "portalclient",
        "token_use": "id",
        "email": f"{name}@example.com",
        "cognito:username": name,
        "cognito:groups": "[" + " ".join(groups) + "]",
        "auth_time": "1790000000",
        "exp": "1790003600",
        "iat": "1790000000",
    }


def api_event(
    method: str,
    path: str,
    claims: dict[str, Any] | None = None,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    form: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event."""
    split = urlsplit(path)
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": "abc123",
        "domainName": urlsplit(TASK_ORIGIN).netloc,
        "domainPrefix": "abc123",
        "http": {
            "method": method,
            "path": split.path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "pytest",
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": "ANY /api/{proxy+}" if claims is not None else "ANY /{proxy+}",
        "stage": "$default",
        "time": "05/Dec/2026:09:00:00 +0000",
        "timeEpoch": 1_790_000_000_000,
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": context["routeKey"],
        "rawPath": split.path,
        "rawQueryString": split.query,
        "headers": {"host": context["domainName"], **(headers or {})},
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if split.query:
        event["queryStringParameters"] = {k: v[0] for k, v in parse_qs(split.query).items()}
    if body is not None:
        if form:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
            event["headers"]["content-type"] = "application/x-www-form-urlencoded"
        else:
            event["body"] = body.decode()
            event["headers"]["content-type"] = "application/json"
    return event


@dataclass
class AwsJob:
    """A job on moto: the runtime's handlers called as Lambda, API Gateway and Step
    Functions would call them; every AWS request counted in ``counts``."""

    counts: Counter[str] = field(default_factory=Counter)
    #: The events the handlers put on EventBridge (``PutEvents`` entries, as sent).
    events: list[dict[str, Any]] = field(default_factory=list)
    transitions: int = 0
    csrf: dict[str, str] = field(default_factory=dict)
    #: Bytes of the task pages served (data transfer out).
    page_bytes: int = 0
    lambda_invocations: Counter[str] = field(default_factory=Counter)
    context: Any = None

    def __post_init__(self) -> None:
        self.context = LambdaContext("runtime", STEPS_ARN)

    # -- the runtime's functions, as their services call them --------------------------------
    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        self.lambda_invocations["steps"] += 1
        self.transitions += 1
        return aws_tasks.handler(event, self.context)

    def api(self, event: dict[str, Any]) -> dict[str, Any]:
        self.lambda_invocations["api"] += 1
        return aws_api.handler(event, self.context)

    def task_origin(self, event: dict[str, Any]) -> dict[str, Any]:
        self.lambda_invocations["task-pages"] += 1
        return aws_api.task_handler(event, self.context)

    def run_machine_start(self, request: dict[str, Any]) -> dict[str, Any]:
        """Initialize, the Distributed Map over the chunks, Start (as the machine runs them)."""
        self.transitions += 1  # Resume?
        job = self.step({"action": "initialize", "request": request})
        self.transitions += 1  # the Map state
        for chunk in job["chunks"]:
            self.step({"action": "pre_annotate", "jobName": job["jobName"], "chunk": chunk})
        tick = self.step({"action": "start", "jobName": job["jobName"]})
        self.transitions += 1  # Started?
        return {"job": job, "tick": tick}

    def run_tick(self, state: dict[str, Any]) -> dict[str, Any]:
        """Wait, Tick, Next? (three transitions)."""
        self.transitions += 2
        previous = state["tick"]
        state["tick"] = self.step(
            {
                "action": "tick",
                "jobName": state["job"]["jobName"],
                "round": previous["round"],
                "wait": previous["wait"],
            }
        )
        return state

    # -- a worker in the portal ------------------------------------------------------------------
    def label(self, worker: str, job_name: str, choose: Any) -> bool:
        """One task, as the portal and the real elements do it: claim, open the page,
        submit through the Mechanical Turk endpoint. False when there is nothing."""
        claims = claims_of(worker)
        if worker not in self.csrf:  # the portal asks once per session
            me = json.loads(self.api(api_event("GET", "/api/me", claims))["body"])
            self.csrf[worker] = me["csrfToken"]
        headers = {"x-csrf-token": self.csrf[worker]}
        claimed = self.api(
            api_event("POST", f"/api/jobs/{job_name}/claim", claims, headers=headers)
        )
        if claimed["statusCode"] != 200:
            return False
        task = json.loads(claimed["body"])["task"]
        url = urlsplit(task["taskUrl"])
        page = self.task_origin(api_event("GET", url.path + "?" + url.query))
        assert page["statusCode"] == 200, page["body"][:300]
        self.page_bytes += len(page["body"].encode())
        # the browser loads the task's data object through the task origin (a redirect)
        start = page["body"].find(f"{TASK_ORIGIN}/data/")
        if start >= 0:
            end = min(i for i in (page["body"].find(c, start) for c in "'\" <") if i > 0)
            data = self.task_origin(api_event("GET", urlsplit(page["body"][start:end]).path))
            assert data["statusCode"] == 302, data
        query = parse_qs(url.query)
        submit_to = urlsplit(query["turkSubmitTo"][0]).path + "/mturk/externalSubmit"
        answer = {"category": {"label": choose(task)}}
        form = urlencode(
            {"assignmentId": query["assignmentId"][0], "taskAnswers": json.dumps([answer])}
        ).encode()
        done = self.task_origin(api_event("POST", submit_to, body=form, form=True))
        assert done["statusCode"] == 200, done["body"][:300]
        return True


def put_inputs(s3: Any, count: int) -> None:
    s3.create_bucket(Bucket="job-input")
    s3.create_bucket(Bucket="job-output")
    lines = [
        json.dumps({"source-ref": f"s3://job-input/images/{i:05d}.jpg", "id": i})
        for i in range(count)
    ]
    s3.put_object(Bucket="job-input", Key="manifest.jsonl", Body=("\n".join(lines) + "\n").encode())
    s3.put_object(Bucket="job-input", Key="template.liquid.html", Body=TEMPLATE.encode())
    categories = {"document-version": "2018-11-28", "labels": [{"label": x} for x in LABELS]}
    s3.put_object(Bucket="job-input", Key="categories.json", Body=json.dumps(categories).encode())
    for i in range(count):
        s3.put_object(Bucket="job-input", Key=f"images/{i:05d}.jpg", Body=b"\xff\xd8 image")


@contextmanager
def aws_runtime(count: int, *, workers_per_object: int = 3) -> Iterator[AwsJob]:
    """Inside ``mock_aws``: buckets, table, secret, skill table, the clients the handlers
    use (counting), and the environment the stack gives the runtime's functions."""
    import boto3

    job = AwsJob()
    clients = {
        name: CountingClient(boto3.client(name, region_name=REGION), job.counts)
        for name in ("dynamodb", "s3", "events", "secretsmanager", "stepfunctions", "sns")
    }
    events_client = clients["events"]
    put_events = events_client._client.put_events

    def recorded_put_events(**kwargs: Any) -> Any:
        job.counts["events:put_events"] += 1
        job.events.extend(kwargs.get("Entries", []))
        return put_events(**kwargs)

    events_client.put_events = recorded_put_events  # type: ignore[attr-defined]
    create_table(clients["dynamodb"]._client, TABLE)
    clients["dynamodb"]._client.create_table(
        TableName="WorkerSkill",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "scope", "KeyType": "HASH"},
            {"AttributeName": "worker", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "scope", "AttributeType": "S"},
            {"AttributeName": "worker", "AttributeType": "S"},
        ],
    )
    put_inputs(clients["s3"]._client, count)
    secret = clients["secretsmanager"]._client.create_secret(
        Name="runtime-signing", SecretString="k" * 48
    )
    functions = {
        PRE_ARN: LocalFunction.pre(
            PreAnnotationSettings(task_type="IMAGE_CLASSIFICATION", labels=LABELS)
        ),
        POST_ARN: LocalFunction.post(
            PostAnnotationSettings(
                task_type="IMAGE_CLASSIFICATION",
                answer_name="category",
                method="majority-vote",
                skill_table="WorkerSkill",
                output_uri="s3://job-output/jobs",
                labels=LABELS,
            )
        ),
    }
    fake_lambda = FakeLambda(functions)
    original_invoke = fake_lambda.invoke

    def counted_invoke(**kwargs: Any) -> dict[str, Any]:
        job.counts["lambda:invoke"] += 1
        job.lambda_invocations["job-functions"] += 1
        return original_invoke(**kwargs)

    fake_lambda.invoke = counted_invoke  # type: ignore[method-assign]
    environment = {
        aws_contract.ENV_TABLE: TABLE,
        aws_contract.ENV_SIGNING_SECRET: secret["ARN"],
        aws_contract.ENV_TASK_ORIGIN: TASK_ORIGIN,
        aws_contract.ENV_PORTAL_ORIGIN: PORTAL_ORIGIN,
        aws_contract.ENV_ISSUER: ISSUER,
        aws_contract.ENV_REQUESTER_GROUP: aws_contract.DEFAULT_REQUESTER_GROUP,
        aws_contract.ENV_EVENT_SOURCE: aws_contract.EVENT_SOURCE,
        "AWS_REGION": REGION,
    }
    saved_env = {name: os.environ.get(name) for name in environment}
    saved_clients = dict(aws_host._CLIENTS)
    os.environ.update(environment)
    aws_host._CLIENTS.clear()
    aws_host._CLIENTS.update(clients)
    aws_host._CLIENTS["lambda"] = fake_lambda
    aws_host._SECRET.clear()
    try:
        yield job
    finally:
        aws_host._CLIENTS.clear()
        aws_host._CLIENTS.update(saved_clients)
        aws_host._SECRET.clear()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def on_dynamodb(made: Any) -> Any:
    """An engine test's ``Setup`` with its store swapped for ``DynamoStore`` (moto active)."""
    store = dynamo_store()
    made.store = store
    made.engine.store = store
    return made
