"""The self-hosted runtime's task-page layer works on its own, as Lambda loads it.

GIVEN the layer folder built at synth (python-liquid's pure-Python files and the
library's renderer modules) and the Lambda code asset (``lambda_src``), WHEN a fresh
interpreter without site-packages (``-S``: nothing else installed, as in Lambda)
imports the task page and renders the library's template with a signed data URL,
THEN the page renders, the URL is signed, and neither aws_cdk, jsii nor the web stack
was needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from gt_constructs.runtime.task_page import TaskPage
from gt_constructs.template import CROWD_ELEMENTS_SCRIPT
page = TaskPage(open(sys.argv[1]).read(), source="job probe", elements_url=CROWD_ELEMENTS_SCRIPT)
html = page.render(
    {"taskObject": "s3://in/images/cat.jpg", "labels": ["Cat", "Dog"]},
    grant_read_access=lambda uri: "https://task.example/data/SIGNED?" + uri,
)
heavy = sorted(
    m for m in sys.modules if m.split(".")[0] in ("aws_cdk", "jsii", "starlette", "uvicorn")
)
print(json.dumps({"html": html, "heavy": heavy}))
"""


@pytest.mark.slow
def test_the_layer_renders_a_task_page_without_anything_else_installed(tmp_path):
    from gt_constructs.runtime.aws.renderer import renderer_layer_folder

    layer = renderer_layer_folder() / "python"
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    template = REPO / "gt_constructs" / "templates" / "image_classification.html"
    # -S -I: no site-packages, no PYTHONPATH; the layer and the code asset come first, as
    # Lambda puts /opt/python and the function's code on the path
    bootstrap = tmp_path / "bootstrap.py"
    bootstrap.write_text(
        "import runpy, sys\n"
        f"sys.path[:0] = [{str(layer)!r}, {str(REPO / 'lambda_src')!r}]\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-I", str(bootstrap), str(probe), str(template)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = json.loads(result.stdout)
    assert output["heavy"] == []
    assert "crowd-image-classifier" in output["html"]
    assert "https://task.example/data/SIGNED?s3://in/images/cat.jpg" in output["html"]
