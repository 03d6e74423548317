"""Without Node.js, which the AWS CDK runs on, the app and the library say so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _without_node(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "PYTHONPATH")}
    env["PATH"] = str(tmp_path)  # an empty folder: no `node` on PATH
    env.update(extra)
    return env


def test_app_py_says_in_one_line_that_node_is_missing(tmp_path: Path) -> None:
    # GIVEN a machine without Node.js
    env = _without_node(tmp_path)
    # WHEN README command 1 runs
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    # THEN it exits 1 with one line naming Node.js and the version to install
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "app.py: Node.js was not found (`node` is not on PATH): the AWS CDK's Python library "
        "runs on Node.js; install Node.js 20 or newer (22 recommended), e.g. from "
        "https://nodejs.org or your package manager"
    ]


def test_the_library_raises_one_clear_error_before_jsii_starts(tmp_path: Path) -> None:
    # GIVEN JSII_NODE pointing at nothing
    env = _without_node(tmp_path, JSII_NODE=str(tmp_path / "node"))
    code = (
        "from gt_constructs import Consolidation, TaskType, WorkerTemplate\n"  # no CDK needed
        "from gt_constructs import CustomLabelingJob\n"
    )
    # WHEN a construct is imported
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    # THEN the last line says what is missing; jsii never started
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"gt_constructs._node.NodeNotFoundError: Node.js was not found (JSII_NODE="
        f"{tmp_path / 'node'} is not an executable): the AWS CDK's Python library runs on "
        "Node.js; install Node.js 20 or newer (22 recommended), e.g. from https://nodejs.org "
        "or your package manager"
    )
    assert "jsii" not in result.stderr
