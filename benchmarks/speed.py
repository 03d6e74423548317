"""Speed and memory of the consolidation code, beside crowd-kit, on this machine.

Sections (issue 6):
- classification: 10,000 objects × 5 answers from 50 workers, 4 classes; our
  Dawid–Skene vs crowd-kit's DawidSkene, each a whole process (imports, reading
  the answers, consensus), median of several runs; and the consensus alone,
  in one process after imports and reading;
- segmentation: 1280×960 masks, 6 classes, 3 and 5 workers; per-object time and
  peak traced memory of our semantic and instance consolidation (decode, vote,
  encode) vs crowd-kit's SegmentationMajorityVote run once per class;
- bounding boxes: 10,000 objects × 5 workers × 8 boxes;
- post-annotation cold start: asset size and import time of the handler;
- synth of the example app, for the record.

    python benchmarks/speed.py            # full run (crowd-kit from benchmarks/requirements.txt)
    python benchmarks/speed.py --smoke    # seconds, for CI: small sizes, no crowd-kit needed
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO / "lambda_src"
sys.path.insert(0, str(LAMBDA_SRC))
sys.path.insert(0, str(REPO))

from gt_annotation.consensus.instance import CONSOLIDATOR as INSTANCE  # noqa: E402
from gt_annotation.consensus.semantic import CONSOLIDATOR as SEMANTIC  # noqa: E402
from gt_annotation.model import ConsolidationContext, ObjectAnswers, WorkerAnswer  # noqa: E402
from gt_annotation.png import encode_indexed  # noqa: E402

from benchmarks._boxes_data import bench_boxes  # noqa: E402

CLASSES = ["road", "car", "person", "tree", "sky", "building"]
COLOURS = [(128, 64, 128), (0, 0, 142), (220, 20, 60), (107, 142, 35), (70, 130, 180), (70, 70, 70)]

OURS_CLASSIFICATION = """
import csv, sys, time
sys.path.insert(0, {src!r})
from gt_annotation.consensus.classification import CONSOLIDATOR
from gt_annotation.model import ConsolidationContext, ObjectAnswers, WorkerAnswer
tasks = {{}}
for worker, task, label in csv.reader(open({path!r})):
    tasks.setdefault(task, []).append(WorkerAnswer(worker, int(label)))
objects = [ObjectAnswers(t, {{}}, a) for t, a in tasks.items()]
result = CONSOLIDATOR.consolidate(objects, ConsolidationContext("X", ["a", "b", "c", "d"], "x"))
print(len(result.labels))
"""

CROWDKIT_CLASSIFICATION = """
import pandas as pd
from crowdkit.aggregation import DawidSkene
frame = pd.read_csv({path!r}, names=["worker", "task", "label"])
print(len(DawidSkene(n_iter=100).fit_predict(frame)))
"""


def classification_data(path: Path, objects: int, seed: int = 0) -> None:
    """``objects`` tasks × 5 answers from 50 workers of varied accuracy, 4 classes."""
    rng = random.Random(seed)
    accuracy = [rng.uniform(0.55, 0.95) for _ in range(50)]
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        for task in range(objects):
            truth = rng.randrange(4)
            for worker in rng.sample(range(50), 5):
                label = truth if rng.random() < accuracy[worker] else rng.randrange(4)
                writer.writerow([f"w{worker}", f"t{task}", label])


def time_process(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def have_crowdkit() -> bool:
    try:
        import crowdkit  # noqa: F401
    except ImportError:
        return False
    return True


def _classification_iterations(path: Path) -> tuple[int, bool]:
    """EM iterations of our Dawid–Skene on the benchmark's answers, and whether it converged."""
    from gt_annotation.consensus.classification import dawid_skene

    workers: dict[str, int] = {}
    tasks: dict[str, list[tuple[int, int]]] = {}
    with path.open(newline="") as file:
        for worker, task, label in csv.reader(file):
            tasks.setdefault(task, []).append(
                (workers.setdefault(worker, len(workers)), int(label))
            )
    fit = dawid_skene(list(tasks.values()), len(workers), 4)
    return fit.iterations, fit.converged


def _in_process(path: Path, runs: int) -> tuple[float, float]:
    """Median seconds of the consensus alone, after imports and reading: ours, crowd-kit's.

    The whole-process figures include importing pandas and crowd-kit (seconds);
    this shows the two EM fits side by side without that.
    """
    import pandas as pd
    from crowdkit.aggregation import DawidSkene
    from gt_annotation.consensus.classification import CONSOLIDATOR

    tasks: dict[str, list[WorkerAnswer]] = {}
    with path.open(newline="") as file:
        for worker, task, label in csv.reader(file):
            tasks.setdefault(task, []).append(WorkerAnswer(worker, int(label)))
    objects = [ObjectAnswers(t, {}, a) for t, a in tasks.items()]
    context = ConsolidationContext("X", ["a", "b", "c", "d"], "x")
    frame = pd.read_csv(path, names=["worker", "task", "label"])

    def median(run: Any) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    ours = median(lambda: CONSOLIDATOR.consolidate(objects, context))
    peer = median(lambda: DawidSkene(n_iter=100).fit_predict(frame))
    return ours, peer


def peer_note(smoke: bool) -> str | None:
    """Why the crowd-kit columns are empty, if they are."""
    if not have_crowdkit():
        return "crowd-kit not installed: peer columns skipped"
    if smoke:
        return "crowd-kit not run in --smoke: peer columns skipped"
    return None


def bench_classification(smoke: bool) -> dict[str, Any]:
    objects, runs = (1_000, 1) if smoke else (10_000, 5)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.csv"
        classification_data(path, objects)
        ours = time_process(OURS_CLASSIFICATION.format(src=str(LAMBDA_SRC), path=str(path)), runs)
        peer = None
        fit_ours = fit_peer = None
        if have_crowdkit() and not smoke:
            peer = time_process(CROWDKIT_CLASSIFICATION.format(path=str(path)), runs)
            fit_ours, fit_peer = _in_process(path, runs)
        iterations, converged = _classification_iterations(path)
    return {
        "objects": objects,
        "answers": objects * 5,
        "workers": 50,
        "classes": 4,
        "runs": runs,
        "em_iterations": iterations,
        "em_converged": converged,
        "ours_seconds": round(ours, 3),
        "crowdkit_ds_seconds": round(peer, 3) if peer else None,
        "speedup": round(peer / ours, 2) if peer else None,
        "ours_fit_seconds": round(fit_ours, 3) if fit_ours else None,
        "crowdkit_ds_fit_seconds": round(fit_peer, 3) if fit_peer else None,
        "fit_speedup": round(fit_peer / fit_ours, 2) if fit_ours and fit_peer else None,
        # Issue 20's measure: our fit's time over crowd-kit's (goal ≤ 1.5).
        "fit_ratio_ours_to_crowdkit": round(fit_ours / fit_peer, 2)
        if fit_ours and fit_peer
        else None,
    }


def _regions(seed: int, width: int, height: int) -> bytes:
    """A street-like label plane: bands of road and sky, blocks of the other classes."""
    rng = random.Random(seed)
    plane = bytearray(width * height)
    plane[: width * height // 4] = bytes([5]) * (width * height // 4)  # sky
    plane[width * height * 3 // 4 :] = bytes([1]) * (width * height // 4)  # road
    for cls in (2, 3, 4, 6):
        for _ in range(4):
            w = rng.randrange(width // 32, width // 5)
            h = rng.randrange(height // 24, height // 4)
            x0, y0 = rng.randrange(width - w), rng.randrange(height // 4, height - h)
            for y in range(y0, y0 + h):
                plane[y * width + x0 : y * width + x0 + w] = bytes([cls]) * w
    return bytes(plane)


def _jitter(plane: bytes, width: int, shift: int) -> bytes:
    """A worker's version: the same scene, offset by a few pixels."""
    return plane[shift:] + bytes(shift) if shift >= 0 else bytes(-shift) + plane[:shift]


def segmentation_answers(workers: int, width: int, height: int) -> tuple[list[Any], list[Any]]:
    truth = _regions(7, width, height)
    semantic, instance = [], []
    for w in range(workers):
        plane = _jitter(truth, width, 2 * w - workers)
        png = encode_indexed(width, height, plane, [(0, 0, 0), *COLOURS])
        semantic.append(
            {
                "labelMappings": {
                    c: {"color": "#{:02x}{:02x}{:02x}".format(*k)} for c, k in zip(CLASSES, COLOURS)
                },
                "labeledImage": {"pngImageData": base64.b64encode(png).decode()},
                "inputImageProperties": {"width": width, "height": height},
            }
        )
        people = bytes(1 if v == 3 else 0 for v in range(256))
        person_plane = plane.translate(people)
        png = encode_indexed(width, height, person_plane, [(0, 0, 0), (44, 160, 44)])
        instance.append(
            {
                "instances": [{"color": "#2ca02c", "label": "person"}],
                "labeledImage": {"pngImageData": base64.b64encode(png).decode()},
                "inputImageProperties": {"width": width, "height": height},
            }
        )
    return semantic, instance


def _ours(
    consolidator: Any,
    answers: list[Any],
    labels: list[str],
    repeats: int,
) -> tuple[float, float]:
    def once() -> None:
        parsed = [
            WorkerAnswer(f"w{i}", consolidator.parse_answer(a, labels))
            for i, a in enumerate(answers)
        ]
        consolidator.consolidate(
            [ObjectAnswers("0", {}, parsed)], ConsolidationContext("X", labels, "x")
        )

    once()  # warm caches, as a warm Lambda has them
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    once()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def _crowdkit_segmentation(
    answers: list[Any],
    width: int,
    height: int,
    repeats: int,
) -> float | None:
    if not have_crowdkit():
        return None
    import numpy as np
    import pandas as pd
    from crowdkit.aggregation import SegmentationMajorityVote
    from gt_annotation.consensus.semantic import CONSOLIDATOR

    def once() -> None:
        # decode each worker's PNG (with our decoder; crowd-kit has none), then one
        # SegmentationMajorityVote per class, as crowd-kit handles binary masks
        planes = [
            np.frombuffer(CONSOLIDATOR.parse_answer(a, CLASSES).plane, dtype=np.uint8).reshape(
                height, width
            )
            for a in answers
        ]
        for cls in range(1, len(CLASSES) + 1):
            frame = pd.DataFrame(
                {
                    "task": ["0"] * len(planes),
                    "worker": [f"w{i}" for i in range(len(planes))],
                    "segmentation": [p == cls for p in planes],
                }
            )
            SegmentationMajorityVote().fit_predict(frame)

    once()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_segmentation(smoke: bool) -> list[dict[str, Any]]:
    width, height = (320, 240) if smoke else (1280, 960)
    repeats = 1 if smoke else 5
    rows = []
    for workers in (3, 5):
        semantic, instance = segmentation_answers(workers, width, height)
        sem_time, sem_peak = _ours(SEMANTIC, semantic, CLASSES, repeats)
        inst_time, inst_peak = _ours(INSTANCE, instance, ["person"], repeats)
        peer = None if smoke else _crowdkit_segmentation(semantic, width, height, repeats)
        rows.append(
            {
                "workers": workers,
                "width": width,
                "height": height,
                "classes": len(CLASSES),
                "semantic_ms": round(sem_time * 1000, 1),
                "semantic_peak_mb": round(sem_peak, 1),
                "instance_ms": round(inst_time * 1000, 1),
                "instance_peak_mb": round(inst_peak, 1),
                "crowdkit_smv_per_class_ms": round(peer * 1000, 1) if peer else None,
                "speedup_semantic": round(peer / sem_time, 2) if peer else None,
            }
        )
    return rows


def bench_cold_start() -> dict[str, Any]:
    size = sum(p.stat().st_size for p in LAMBDA_SRC.rglob("*.py"))
    code = (
        f"import sys, time; sys.path.insert(0, {str(LAMBDA_SRC)!r}); t = time.perf_counter(); "
        "import gt_annotation.post_annotation; print(time.perf_counter() - t)"
    )
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(5)
    ]
    return {
        "asset_kb": round(size / 1024, 1),
        "import_ms": round(statistics.median(times) * 1000, 1),
    }


def bench_synth() -> float:
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    with tempfile.TemporaryDirectory() as out:
        env["CDK_OUTDIR"] = out
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, str(REPO / "app.py")],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def _print_classification(c: dict[str, Any]) -> None:
    print(
        f"classification  {c['objects']:,} objects × 5 answers, 50 workers, 4 classes "
        f"(whole process, median of {c['runs']}): ours {c['ours_seconds']:.2f} s"
        + (
            f", crowd-kit DawidSkene {c['crowdkit_ds_seconds']:.2f} s, "
            f"ours {c['speedup']:.2f}× faster"
            if c["speedup"]
            else ""
        )
        + f"; EM {c['em_iterations']} iterations"
        + ("" if c["em_converged"] else " (cap reached)")
    )
    if c["fit_speedup"]:
        print(
            f"  consensus alone (in process, after imports and reading): ours "
            f"{c['ours_fit_seconds']:.2f} s, crowd-kit DawidSkene {c['crowdkit_ds_fit_seconds']:.2f} s, "
            f"ours takes {c['fit_ratio_ours_to_crowdkit']:.2f}× crowd-kit's time (goal ≤ 1.5×)"
        )


def classification_only(args: argparse.Namespace) -> int:
    """Re-time classification and update that section of the results file only."""
    output = Path(args.output)
    if args.smoke:
        output = output.with_name("speed-smoke.json")
    results = json.loads(output.read_text()) if output.exists() else {}
    c = bench_classification(args.smoke)
    c["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results["classification"] = c
    _print_classification(c)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, seconds (CI)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "speed.json"))
    parser.add_argument(
        "--classification-only",
        action="store_true",
        help="time classification only; the other sections are kept from the output file",
    )
    args = parser.parse_args(argv)
    if args.classification_only:
        return classification_only(args)
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "smoke": args.smoke,
    }
    results["classification"] = bench_classification(args.smoke)
    results["segmentation"] = bench_segmentation(args.smoke)
    boxes = (200, 5, 8) if args.smoke else (10_000, 5, 8)
    results["bounding_boxes"] = {
        "objects": boxes[0],
        "workers": boxes[1],
        "boxes": boxes[2],
        "seconds": round(bench_boxes(*boxes), 3),
    }
    results["cold_start"] = bench_cold_start()
    results["synth_seconds"] = None if args.smoke else round(bench_synth(), 2)

    c = results["classification"]
    note = peer_note(args.smoke)
    results["crowdkit_note"] = note
    if note:
        print(note)
    _print_classification(c)
    print(
        "segmentation    workers  semantic ms  peak MB  instance ms  peak MB  "
        "crowd-kit SMV×6 ms  ratio"
    )
    for row in results["segmentation"]:
        peer = row["crowdkit_smv_per_class_ms"]
        print(
            f"  {row['width']}×{row['height']}  {row['workers']:>5}  {row['semantic_ms']:>11}  "
            f"{row['semantic_peak_mb']:>7}  {row['instance_ms']:>11}  {row['instance_peak_mb']:>7}  "
            f"{peer if peer else '-':>18}  "
            f"{str(row['speedup_semantic']) + '×' if row['speedup_semantic'] else '-'}"
        )
    b = results["bounding_boxes"]
    print(
        f"bounding boxes  {b['objects']:,} objects × {b['workers']} workers × {b['boxes']} "
        f"boxes: {b['seconds']:.2f} s"
    )
    cold = results["cold_start"]
    print(
        f"cold start      lambda_src {cold['asset_kb']} KB of Python; import of "
        f"post_annotation {cold['import_ms']} ms"
    )
    if results["synth_seconds"] is not None:
        print(f"synth           example app: {results['synth_seconds']:.1f} s")
    output = Path(args.output)
    if args.smoke:
        output = output.with_name("speed-smoke.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
