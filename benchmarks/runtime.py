"""Benchmark of the labeling runtime on one machine (issue 18, "Performance").

Starts a real ``gt-constructs serve`` process on a generated image-classification
job (default 10,000 objects x 3 workers per object) and drives it over HTTP with
``gt-constructs simulate``'s workers (default 50 concurrent): sign in, claim,
open the rendered task page, submit through ``/mturk/externalSubmit``. Measures
the server's part of claim + render + submit (p50, p99), the whole job's time
including consolidation (until ``Completed``), and the server's peak RSS
(``VmHWM``). Three runs:

- **paced** (the targets): each worker spends ``--think`` seconds on a task
  (0.5 to 1.5 times it; default 0.5 s, far quicker than a person, and as quick as
  the 10-minute target for the whole job allows: 50 workers x 1 task a second
  would need every second of it). The latency leaves that time out.
- **saturated**: the same workers submitting at once (no think time), on a
  smaller job: the most the server does on this machine (tasks a second), and
  the latency when that many requests queue.
- **single worker**: one worker, paced the same, for the ratio.

Results go to ``benchmarks/results/runtime.json``.

    python -m benchmarks.runtime            # the full run (targets: p50 <= 20 ms,
                                            #  p99 <= 150 ms, < 10 min, < 300 MB)
    python -m benchmarks.runtime --smoke    # a small run, under a minute
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "runtime.json"
TEMPLATE = REPO / "gt_constructs" / "templates" / "image_classification.html"
LABELS = ["Bird", "Cat", "Dog", "Fish"]


def _write_dataset(folder: Path, objects: int) -> Path:
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(objects):
        name = f"{index:06d}.jpg"
        (images / name).write_bytes(b"\xff\xd8\xff\xd9")  # a tiny JPEG marker pair
        lines.append(json.dumps({"source-ref": f"images/{name}"}))
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


class Server:
    """A ``gt-constructs serve`` process and its peak resident memory."""

    def __init__(self, folder: Path, manifest: Path, per_object: int, port: int) -> None:
        self.data = folder / "data"
        command = [
            sys.executable,
            "-m",
            "benchmarks.runtime",
            "--serve",
            "--data",
            str(self.data),
            "--manifest",
            str(manifest),
            "--template",
            str(TEMPLATE),
            "--task-type",
            "IMAGE_CLASSIFICATION",
            "--labels",
            *LABELS,
            "--workers-per-object",
            str(per_object),
            "--port",
            str(port),
            "--task-port",
            str(port + 1),
            "--offline",
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "lambda_src")])}
        self.log = (folder / "serve.log").open("w")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.portal = f"http://localhost:{port}"
        self.peak_rss_mb = 0.0
        self._watching = True
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"serve exited with {self.process.returncode}; see {self.log.name}"
                )
            if (self.data / "serve.json").is_file() and (self.data / "requester-token").is_file():
                self._watcher.start()
                return
            time.sleep(0.2)
        raise RuntimeError(f"serve did not start within {timeout:.0f} s; see {self.log.name}")

    def _watch(self) -> None:
        status = Path(f"/proc/{self.process.pid}/status")
        while self._watching and self.process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)
            except OSError:
                return
            time.sleep(0.5)

    def stop(self) -> None:
        self._watching = False
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def _run(
    folder: Path, *, objects: int, per_object: int, workers: int, port: int, think: float
) -> dict[str, Any]:
    from gt_constructs.runtime.simulate import Simulation

    folder.mkdir(parents=True, exist_ok=True)
    manifest = _write_dataset(folder / "dataset", objects)
    server = Server(folder, manifest, per_object, port)
    started = time.perf_counter()
    try:
        server.wait_ready()
        ready = time.perf_counter() - started
        simulation = Simulation(
            server.portal,
            server.data,
            workers=workers,
            timeout=1800.0,
            log=lambda _: None,
            think=think,
        )
        figures = simulation.run()
    finally:
        server.stop()
    return {
        "objects": objects,
        "workersPerObject": per_object,
        "concurrentWorkers": workers,
        "thinkSeconds": think,
        "startSeconds": round(ready, 2),
        "jobSeconds": figures["seconds"],
        "p50Ms": figures["p50Ms"],
        "p99Ms": figures["p99Ms"],
        "meanMs": figures["meanMs"],
        "submits": figures["submits"],
        "tasksPerSecond": round(figures["submits"] / figures["seconds"], 1),
        "emptyClaims": figures["emptyClaims"],
        "serverPeakRssMb": round(server.peak_rss_mb, 1),
        "labelCounters": figures["labelCounters"],
    }


def _use_this_checkouts_lambda_src() -> None:
    """An editable install maps ``gt_constructs.lambda_src`` to the checkout it was installed
    from; in another git worktree that is the wrong one: use this checkout's."""
    import importlib.util

    import gt_constructs

    name = "gt_constructs.lambda_src"
    here = REPO / "lambda_src"
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if locations and Path(locations[0]).resolve() == here:
        return
    spec = importlib.util.spec_from_file_location(
        name, here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    gt_constructs.lambda_src = module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve"]:  # the server process: `gt-constructs serve ...`
        _use_this_checkouts_lambda_src()
        from gt_constructs.cli import main as cli

        return cli(["serve", *argv[1:]])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run (under a minute)")
    parser.add_argument("--objects", type=int, help="objects (default 10,000; smoke 300)")
    parser.add_argument("--workers", type=int, help="concurrent workers (default 50; smoke 10)")
    parser.add_argument("--port", type=int, default=8761)
    parser.add_argument(
        "--think",
        type=float,
        help="seconds a paced worker spends on a task (default 0.5; smoke 0.05)",
    )
    parser.add_argument("--out", default=str(RESULTS), help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    objects = args.objects or (300 if args.smoke else 10_000)
    workers = args.workers or (10 if args.smoke else 50)
    think = args.think if args.think is not None else (0.05 if args.smoke else 0.5)
    saturated_objects = min(objects, 300 if args.smoke else 3_000)
    single_objects = min(objects, 50 if args.smoke else 200)
    folder = Path(tempfile.mkdtemp(prefix="gt-runtime-bench-"))
    runs: dict[str, Any] = {}
    try:
        for name, size, per_object, count, pause in (
            ("paced", objects, 3, workers, think),
            ("saturated", saturated_objects, 3, workers, 0.0),
            ("singleWorker", single_objects, 1, 1, think),
        ):
            print(
                f"{name}: {size} objects x {per_object}, {count} simulated worker(s), "
                f"think {pause:g} s ...",
                flush=True,
            )
            runs[name] = _run(
                folder / name,
                objects=size,
                per_object=per_object,
                workers=count,
                port=args.port + 2 * len(runs),
                think=pause,
            )
            print(json.dumps(runs[name], indent=2), flush=True)  # kept if a later run fails
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    paced, one = runs["paced"], runs["singleWorker"]
    result = {
        "mode": "smoke" if args.smoke else "full",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **runs,
        "p50RatioToSingleWorker": round(paced["p50Ms"] / one["p50Ms"], 2)
        if paced["p50Ms"] and one["p50Ms"]
        else None,
        "p99RatioToSingleWorker": round(paced["p99Ms"] / one["p99Ms"], 2)
        if paced["p99Ms"] and one["p99Ms"]
        else None,
        "targets": {"p50Ms": 20, "p99Ms": 150, "jobSeconds": 600, "serverPeakRssMb": 300},
        "measuredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
