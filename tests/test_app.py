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

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_python_app_py_prints_the_synth_warnings_and_no_jsii_banner() -> None:
    # GIVEN the environment of a user's shell: no jsii silencing, not run by the CDK CLI
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("JSII_SILENCE_WARNING") and key != "CDK_OUTDIR"
    }
    # WHEN README command 1 runs
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
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
def test_under_the_cdk_cli_stdout_stays_empty(tmp_path: Path) -> None:
    # GIVEN the environment the CDK CLI gives the app (`cdk ls`, `cdk synth`)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("JSII_SILENCE_WARNING")
    }
    env["CDK_OUTDIR"] = str(tmp_path / "cdk.out")
    # WHEN the CLI runs the app
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    # THEN the assembly is where the CLI asked, stdout holds nothing the CLI would mix into
    # its own output, and the warnings are left to the CLI (it prints them itself)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cdk.out" / "GtStreetPeople.template.json").is_file()
    assert result.stdout == ""
    assert "[warning]" not in result.stderr
    assert "end-of-life" not in result.stderr
