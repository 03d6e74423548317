"""Helpers of the engine tests: a job on local blobs with the library's own handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gt_constructs.lambda_src.gt_annotation.contract import (
    PostAnnotationSettings,
    PreAnnotationSettings,
)
from gt_constructs.lambda_src.gt_runtime.blobs import LocalBlobs
from gt_constructs.lambda_src.gt_runtime.engine import Engine
from gt_constructs.lambda_src.gt_runtime.invoke import (
    InProcessInvoker,
    LocalFunction,
    local_function_arn,
)
from gt_constructs.lambda_src.gt_runtime.model import WorkerIdentity
from gt_constructs.lambda_src.gt_runtime.sqlite_store import SqliteSkillStore, SqliteStore

REGION, ACCOUNT = "us-east-1", "111122223333"
PRE_ARN = local_function_arn(REGION, ACCOUNT, "pre")
POST_ARN = local_function_arn(REGION, ACCOUNT, "post")
TEAM = "labelers"
TEAM_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/{TEAM}"
LABELS = ("cat", "dog", "bird")
TEMPLATE = (
    "<script src='https://assets.crowd.aws/crowd-html-elements.js'></script>"
    "<crowd-form><crowd-image-classifier name='category' src='{{ task.input.taskObject | "
    "grant_read_access }}' categories='{{ task.input.labels | to_json | escape }}' "
    "header='What is it?'></crowd-image-classifier></crowd-form>"
)


class FakeClock:
    """Epoch seconds that move only when told."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def worker(name: str, teams: tuple[str, ...] = (TEAM,)) -> WorkerIdentity:
    return WorkerIdentity(sub=name, issuer="https://local.test", provider="Oidc", teams=teams)


def answer(label: str) -> dict[str, Any]:
    return {"category": {"label": label}}


@dataclass
class Setup:
    root: Path
    blobs: LocalBlobs
    store: SqliteStore
    clock: FakeClock
    engine: Engine
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def output(self, job: str, path: str) -> Path:
        return self.root / "blobs" / "out" / "jobs" / job / path

    def manifest_lines(self, job: str, final: bool = True) -> list[dict[str, Any]]:
        where = (
            "manifests/output/output.manifest"
            if final
            else "manifests/intermediate/1/output.manifest"
        )
        text = self.output(job, where).read_text()
        return [json.loads(line) for line in text.splitlines()]


def functions(*, with_pre: bool = True, with_post: bool = True) -> dict[str, LocalFunction]:
    found = {}
    if with_pre:
        found[PRE_ARN] = LocalFunction.pre(
            PreAnnotationSettings(task_type="IMAGE_CLASSIFICATION", labels=LABELS)
        )
    if with_post:
        found[POST_ARN] = LocalFunction.post(
            PostAnnotationSettings(
                task_type="IMAGE_CLASSIFICATION",
                answer_name="category",
                method="majority-vote",
                skill_table="WorkerSkill",
                output_uri="s3://out/jobs",
                labels=LABELS,
            )
        )
    return found


def make_setup(root: Path, *, clock: FakeClock | None = None, **engine_options: Any) -> Setup:
    blobs = LocalBlobs(root / "blobs")
    store = SqliteStore(root / "state.db")
    skills = SqliteSkillStore(root / "skill.db")
    invoker = InProcessInvoker(functions(), blobs, skill_store=skills.for_table)
    clock = clock or FakeClock()
    notes: list[tuple[str, dict[str, Any]]] = []
    engine_options.setdefault("batch_wait_seconds", 0)
    engine = Engine(
        store,
        blobs,
        invoker,
        clock=clock,
        region=REGION,
        account=ACCOUNT,
        notify=lambda kind, payload: notes.append((kind, payload)),
        **engine_options,
    )
    return Setup(root, blobs, store, clock, engine, notes)


def put_inputs(blobs: LocalBlobs, count: int, *, lines: list[str] | None = None) -> None:
    manifest = (
        lines
        if lines is not None
        else [
            json.dumps({"source-ref": f"s3://in/images/{i:05d}.jpg", "id": i}) for i in range(count)
        ]
    )
    blobs.write("s3://in/manifest.jsonl", ("\n".join(manifest) + "\n").encode())
    blobs.write("s3://in/template.liquid.html", TEMPLATE.encode())
    categories = {"document-version": "2018-11-28", "labels": [{"label": x} for x in LABELS]}
    blobs.write("s3://in/categories.json", json.dumps(categories).encode())


def request(name: str = "pets", **human: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "WorkteamArn": TEAM_ARN,
        "UiConfig": {"UiTemplateS3Uri": "s3://in/template.liquid.html"},
        "PreHumanTaskLambdaArn": PRE_ARN,
        "TaskKeywords": ["pets"],
        "TaskTitle": "What animal is it?",
        "TaskDescription": "Pick the animal in the picture",
        "NumberOfHumanWorkersPerDataObject": 3,
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
            "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://in/manifest.jsonl"}}
        },
        "OutputConfig": {"S3OutputPath": "s3://out/jobs"},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/labeling",
        "LabelCategoryConfigS3Uri": "s3://in/categories.json",
        "HumanTaskConfig": config,
        "Tags": [],
    }
