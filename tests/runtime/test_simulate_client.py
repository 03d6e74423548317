"""``gt-constructs simulate --against``: answers shaped like the page's element, errors as
messages, and a whole job driven over HTTP against a real ``serve`` process."""

from __future__ import annotations

import json
import socket
import time

import pytest

from gt_constructs.cli import main
from gt_constructs.runtime.simulate import AnswerShape, SimulationError

CLASSIFIER_PAGE = (
    '<crowd-form><crowd-image-classifier name="category" src="x" '
    'categories="[&quot;Cat&quot;, &quot;Dog&quot;]" header="h"></crowd-image-classifier>'
    "</crowd-form>"
)
ENTITY_PAGE = (
    "<crowd-entity-annotation name='crowd-entity-annotation' "
    "labels='[{&quot;label&quot;: &quot;PER&quot;}, {&quot;label&quot;: &quot;LOC&quot;}]' "
    "text='Ana went to Lisbon'></crowd-entity-annotation>"
)


def test_the_answer_element_and_its_labels_are_read_from_the_rendered_page():
    assert AnswerShape.of_page(CLASSIFIER_PAGE) == AnswerShape(
        "crowd-image-classifier", "category", ("Cat", "Dog")
    )
    shape = AnswerShape.of_page(ENTITY_PAGE)
    assert (shape.element, shape.labels) == ("crowd-entity-annotation", ("PER", "LOC"))


def test_a_page_without_a_known_element_is_a_clear_error():
    with pytest.raises(SimulationError, match="supported: crowd-image-classifier"):
        AnswerShape.of_page("<crowd-form><crowd-semantic-segmentation name='x'>")


def test_against_without_the_serve_folder_exits_1_with_a_message(tmp_path, capsys):
    code = main(
        ["simulate", "--against", "http://localhost:9", "--data", str(tmp_path), "--workers", "2"]
    )
    assert code == 1
    assert "requester-token" in capsys.readouterr().err


def test_the_offline_simulation_still_needs_its_task_type(capsys):
    assert main(["simulate", "--workers", "2"]) == 1
    assert "--task-type and --objects" in capsys.readouterr().err


def test_a_think_time_out_of_range_exits_1_with_a_message(tmp_path, capsys):
    (tmp_path / "requester-token").write_text("t")
    code = main(
        [
            "simulate",
            "--against",
            "http://localhost:9",
            "--data",
            str(tmp_path),
            "--workers",
            "2",
            "--think",
            "-1",
        ]
    )
    assert code == 1
    assert "--think must be 0 to 3600 seconds" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket() as probe:  # the task origin takes port + 1
        try:
            probe.bind(("127.0.0.1", port + 1))
        except OSError:
            return _free_port()
    return int(port)


@pytest.mark.slow
def test_simulated_workers_label_a_served_job_over_http_until_it_completes(tmp_path):
    from benchmarks.runtime import _run

    figures = _run(tmp_path, objects=12, per_object=2, workers=3, port=_free_port(), think=0.0)
    assert figures["labelCounters"]["HumanLabeled"] == 12
    assert figures["submits"] == 24
    assert figures["p50Ms"] is not None
    manifest = next(tmp_path.glob("data/output/*/manifests/output/output.manifest"))
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == 12
    assert all(
        "class-name" in next(v for k, v in line.items() if k.endswith("-metadata"))
        for line in lines
    )


@pytest.mark.slow
def test_paced_workers_think_and_the_figures_leave_their_thinking_out(tmp_path):
    """--think: each task takes the worker 0.5-1.5 x that long; the latency is the
    server's part only (a 0.2 s think would otherwise put every figure above 100 ms)."""
    from benchmarks.runtime import _run

    started = time.perf_counter()
    figures = _run(tmp_path, objects=4, per_object=1, workers=1, port=_free_port(), think=0.2)
    assert figures["submits"] == 4
    assert time.perf_counter() - started >= 4 * 0.1
    assert figures["p50Ms"] < 100
