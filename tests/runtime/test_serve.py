"""``serve``'s job preparation: flags, bad input, CDK app functions, restart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gt_constructs.runtime.local_app import Stack
from gt_constructs.runtime.local_job import LocalJobError, from_flags
from gt_constructs.runtime.serve import open_runtime
from gt_constructs.runtime.server import identity_of
from gt_constructs.task_type import TaskType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "street-scenes"


def manifest(tmp_path: Path, lines: list[str]) -> Path:
    shutil.copy(EXAMPLES / "street-01.png", tmp_path / "street-01.png")
    path = tmp_path / "data.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def flags(path: Path, **overrides):
    options = dict(
        manifest=path,
        template=None,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        labels=["A", "B"],
        workers_per_object=1,
    )
    options.update(overrides)
    return from_flags(**options)


def test_a_relative_or_file_source_ref_becomes_a_local_object(tmp_path) -> None:
    uri = (tmp_path / "street-01.png").as_uri()
    job = flags(
        manifest(tmp_path, ['{"source-ref": "street-01.png"}', json.dumps({"source-ref": uri})])
    )
    lines = [
        json.loads(x)
        for x in job.files[
            job.request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        ]
        .decode()
        .splitlines()
    ]
    assert [line["source-ref"] for line in lines] == ["s3://input/data/street-01.png"] * 2
    assert job.files["s3://input/data/street-01.png"][:4] == b"\x89PNG"


def test_every_problem_of_the_input_is_one_error(tmp_path) -> None:
    path = manifest(
        tmp_path,
        [
            '{"source-ref": "street-01.png"}',
            "{not json",
            '"a string"',
            '{"source-ref": "missing.png"}',
        ],
    )
    bad_template = tmp_path / "bad.html"
    bad_template.write_text("<crowd-form>{{ task.input.taskObject | nope }}</crowd-form>")
    with pytest.raises(LocalJobError) as raised:
        flags(path, template=bad_template, workers_per_object=12)
    text = "\n".join(raised.value.problems)
    assert "data.manifest:2: not JSON" in text
    assert "data.manifest:3: a manifest line is a JSON object" in text
    assert "missing.png" in text and "no such file" in text
    assert "unknown Liquid filter 'nope'" in text
    assert "--workers-per-object must be 1–9" in text


def _stack(runtime: str, handler: str) -> Stack:
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Runtime": runtime, "Handler": handler},
            }
        }
    }
    return Stack("S", template, Path("."))


def test_a_lambda_that_is_not_python_runs_only_on_aws() -> None:
    stack = _stack("nodejs22.x", "index.handler")
    function, problem = stack.function(stack.get_att("Fn", "Arn"))
    assert function is None and "not Python: only the AWS runtime runs it" in problem
    stack = _stack("python3.13", "mine.handler")
    function, problem = stack.function(stack.get_att("Fn", "Arn"))
    assert function is None and "your own handler" in problem
    stack = _stack("python3.13", "gt_annotation.pre_annotation.handler")
    function, problem = stack.function(stack.get_att("Fn", "Arn"))
    assert problem is None and function is not None
    _, problem = stack.function("arn:aws:lambda:us-east-1:1:function:elsewhere")
    assert "not defined in this app" in problem


def test_a_restart_with_the_same_folder_resumes_the_job(tmp_path) -> None:
    job = flags(
        manifest(tmp_path, ['{"source-ref": "street-01.png"}']), worker_emails=["a@example.com"]
    )
    folder = tmp_path / "serve"
    first = open_runtime(
        job, folder, portal_origin="http://p", task_origin="http://t", elements_url=None
    )
    worker = identity_of(first.accounts.get("a@example.com"))
    task = first.engine.claim(job.name, worker)
    first.engine.submit(task.task_id, worker, {"annotatedResult": {"label": "A"}})
    token = first.requester_token
    first.close()
    again = open_runtime(
        job, folder, portal_origin="http://p", task_origin="http://t", elements_url=None
    )
    try:
        assert again.requester_token == token
        rows = again.engine.object_answers(job.name)
        assert [len(row["answers"]) for row in rows] == [1]
        assert again.engine.describe_job(job.name)["LabelingJobStatus"] in (
            "InProgress",
            "Completed",
        )
    finally:
        again.close()


def test_serve_from_flags_never_starts_jsii(tmp_path) -> None:
    """A job from flags needs no CDK: importing aws_cdk starts a Node process (seconds,
    and jsii's end-of-life banner on Node 20) for nothing."""
    import subprocess
    import sys

    manifest = tmp_path / "streets.manifest"
    manifest.write_text(
        "".join(
            json.dumps({"source-ref": str(path)}) + "\n"
            for path in sorted(EXAMPLES.glob("*.png"))[:2]
        )
    )
    code = (
        "import sys\n"
        "from gt_constructs.cli import main\n"
        f"code = main(['serve', '--data', {str(tmp_path / 'data')!r}, '--manifest', "
        f"{str(manifest)!r}, '--task-type', 'IMAGE_CLASSIFICATION', '--labels', 'A', 'B', "
        "'--check'])\n"
        "print('loaded', sorted(m for m in ('jsii', 'aws_cdk') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded []" in result.stdout
    assert "end-of-life" not in result.stderr
