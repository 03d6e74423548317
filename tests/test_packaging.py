"""The package installs from a wheel and synthesizes a consumer's stack elsewhere.

Builds the wheel, installs it into a fresh virtual environment outside the
repository, and synthesizes a consumer app (existing bucket + imported
workteam) from another working directory: the Lambda assets must be found
inside site-packages.

The wheel is installed alone (``--no-deps``); its dependencies come from the
test's own environment, which the fresh one reads through a ``.pth`` line, and
``pip check`` proves they satisfy what the wheel declares. Installing them
afresh copied aws-cdk-lib (430 MB) and took 70 of the test's 85 seconds; what
is under test is the wheel, not pip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CONSUMER_APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    import gt_constructs
    from gt_constructs import CustomLabelingJob, Dataset, PrivateWorkteam, TaskType

    app = cdk.App()
    stack = cdk.Stack(app, "Consumer", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    bucket = s3.Bucket.from_bucket_name(stack, "Existing", "my-existing-data")
    team = PrivateWorkteam.from_workteam_arn(
        stack, "Team", "arn:aws:sagemaker:eu-west-1:111122223333:workteam/private-crowd/reviewers")
    CustomLabelingJob(
        stack, "Reviews",
        task_type=TaskType.TEXT_CLASSIFICATION,
        labels=["positive", "negative", "neutral"],
        dataset=Dataset.from_manifest(bucket, "reviews/input.manifest"),
        workteam=team,
        input_bucket=bucket,
    )
    app.synth()
    print("SITE", gt_constructs.__file__)
    """
)


@pytest.mark.slow
def test_wheel_installs_and_synthesizes_a_consumer_stack(tmp_path: Path) -> None:
    # GIVEN a wheel built from the repository
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next(dist.glob("gt_constructs-*.whl"))
    # AND a fresh virtual environment outside the repository with only the wheel installed,
    # its dependencies read from this environment (after the fresh one's own site-packages)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dependencies = sysconfig.get_path("purelib")  # a plain path: its own .pth files stay unread
    (Path(own_site) / "test-dependencies.pth").write_text(dependencies + "\n")
    subprocess.run([*pip, "install", "-q", "--no-deps", str(wheel)], check=True)
    checked = subprocess.run([*pip, "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # WHEN a consumer app is synthesized from another working directory
    workdir = tmp_path / "consumer"
    workdir.mkdir()
    (workdir / "app.py").write_text(CONSUMER_APP)
    env = dict(
        os.environ,
        CDK_OUTDIR=str(workdir / "cdk.out"),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(python), "app.py"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # THEN the package came from site-packages, not the repository
    assert "site-packages" in result.stdout and str(REPO) not in result.stdout
    # AND the stack holds the job's functions, their assets staged from the wheel
    template = json.loads((workdir / "cdk.out" / "Consumer.template.json").read_text())
    handlers = sorted(
        r["Properties"]["Handler"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "gt_annotation" in r["Properties"].get("Handler", "")
    )
    assert handlers == [
        "gt_annotation.post_annotation.handler",
        "gt_annotation.pre_annotation.handler",
    ]
    assets = list((workdir / "cdk.out").glob("asset.*/gt_annotation/post_annotation.py"))
    assert assets, "the post-annotation code is not in the staged assets"
    # AND the wheel ships the default templates and lambda_src
    listing = subprocess.run(
        [str(python), "-c", "import gt_constructs._assets as a; print(a.lambda_src_dir())"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "site-packages/gt_constructs/lambda_src" in listing
