"""README command 1: ``python app.py`` without the CDK CLI.

Run as a user runs it (a fresh process, no jsii setting in the environment):
the synth's warnings go to stderr with their construct paths, jsii's Node
end-of-life banner does not appear, and stdout stays empty (under ``cdk ls``
the app's stdout would be mixed into the list of stack names).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def _user_env() -> dict[str, str]:
    """The environment of a user's shell: no jsii silencing, not run by the CDK CLI."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("JSII_SILENCE_WARNING") and key != "CDK_OUTDIR"
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """README command 1 as a user runs it, and as the CDK CLI runs it, started together.

    Each is a fresh process (jsii's banner and the app's own jsii setting are
    per-process); run side by side they take the wall time of one.
    """
    outdir = tmp_path_factory.mktemp("cli") / "cdk.out"
    envs = {"user": _user_env(), "cli": {**_user_env(), "CDK_OUTDIR": str(outdir)}}
    started = {
        name: subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, env in envs.items()
    }
    results: dict[str, Any] = {"outdir": outdir}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return results


@pytest.mark.slow
def test_python_app_py_prints_the_synth_warnings_and_no_jsii_banner(runs: dict[str, Any]) -> None:
    # GIVEN the environment of a user's shell: no jsii silencing, not run by the CDK CLI
    # WHEN README command 1 runs
    result = runs["user"]
    # THEN it succeeds and says where the template went, on stderr
    assert result.returncode == 0, result.stderr
    assert "synthesized GtStreetPeople into " in result.stderr
    assert result.stdout == ""
    # AND the Ground Truth warning is printed with its construct path
    assert (
        "[warning] /GtStreetPeople/StreetPeople: AWS has closed SageMaker Ground Truth to new "
        "customers" in result.stderr
    )
    # AND jsii's end-of-life banner is not
    assert "end-of-life" not in result.stderr
    assert "!!!!" not in result.stderr


@pytest.mark.slow
def test_under_the_cdk_cli_stdout_stays_empty(runs: dict[str, Any]) -> None:
    # GIVEN the environment the CDK CLI gives the app (`cdk ls`, `cdk synth`)
    # WHEN the CLI runs the app
    result = runs["cli"]
    # THEN the assembly is where the CLI asked, stdout holds nothing the CLI would mix into
    # its own output, and the warnings are left to the CLI (it prints them itself)
    assert result.returncode == 0, result.stderr
    assert (runs["outdir"] / "GtStreetPeople.template.json").is_file()
    assert result.stdout == ""
    assert "[warning]" not in result.stderr
    assert "end-of-life" not in result.stderr
