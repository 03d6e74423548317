"""Label quality on real crowd data with gold labels, side by side with crowd-kit.

For every data set in ``../shared/data/crowd/`` (beside the checkout) the
answers become Ground Truth post-annotation payloads (one data object per
task, one annotation per answer), stored in S3 and consolidated by the real
post-annotation Lambda handler, with its worker-skill table in DynamoDB, both
in moto. Beside it, in the same run: our majority vote, and crowd-kit's
MajorityVote, DawidSkene, GLAD and MACE on the same answers. Reported:
accuracy against gold, expected calibration error (ECE, 10 equal-width bins)
of our confidence, and the effect of batching: the data fed in batches of 10
and 100 objects, worker skill persisting between batches in the skill table.

Usage::

    .venv/bin/pip install -r benchmarks/requirements.txt   # crowd-kit (benchmark only)
    .venv/bin/python benchmarks/quality.py                  # all eight data sets, minutes
    .venv/bin/python benchmarks/quality.py --smoke          # two small sets, seconds (CI)

Writes ``benchmarks/results/quality.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "lambda_src"))

import _crowd  # noqa: E402

#: Fake credentials: everything AWS runs in moto, nothing leaves the machine.
for _name, _value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "GT_LOG_LEVEL": "WARNING",
}.items():
    os.environ[_name] = _value

BUCKET = "crowd-benchmark-output"
TABLE = "gt-worker-skill"
BATCH_SIZES = (10, 100)
TARGETS = {
    "max_points_below_crowdkit_ds": 0.5,
    "ece": 0.05,
    "batched_within_points": 1.0,
}


def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: |accuracy − mean confidence| per bin, weighted by bin size."""
    if not confidences:
        return 0.0
    totals = [[0, 0.0, 0] for _ in range(bins)]
    for confidence, ok in zip(confidences, correct, strict=True):
        b = min(int(confidence * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += confidence
        totals[b][2] += int(ok)
    n = len(confidences)
    return sum(abs(s / c - k / c) * c / n for c, s, k in totals if c)


# --------------------------------------------------------------------------- ours


@contextlib.contextmanager
def aws() -> Iterator[Any]:
    """moto: an S3 bucket for payloads and the worker-skill table as the construct creates it."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "scope", "KeyType": "HASH"},
                {"AttributeName": "worker", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "scope", "AttributeType": "S"},
                {"AttributeName": "worker", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield boto3.client("s3")


def run_handler(
    data: _crowd.CrowdData,
    grouped: dict[str, list[tuple[str, str]]],
    *,
    method: str,
    batch_size: int | None,
    s3: Any,
) -> dict[str, dict[str, Any]]:
    """Labels by task from the real Lambda handler, the data fed in batches."""
    from gt_annotation import payload as payload_module
    from gt_annotation import post_annotation

    job = _crowd.job_name(data.name, method, f"b{batch_size or 'all'}")
    os.environ.update(
        {
            "GT_TASK_TYPE": "TEXT_CLASSIFICATION",
            "GT_ANSWER_NAME": _crowd.ANSWER_NAME,
            "GT_CONSOLIDATION": json.dumps({"method": method}),
            "GT_PAYLOAD_ACCESS": "DIRECT_READ",
            "GT_SKILL_TABLE": TABLE,
            "GT_SKILL_SCOPE": "job",
        }
    )
    payload_module.reset_clients()
    labels: dict[str, dict[str, Any]] = {}
    for number, tasks in enumerate(_crowd.batches(data.tasks, batch_size)):
        key = f"{job}/annotations/consolidated-annotation/consolidation-request/iteration-1/{number}.json"
        s3.put_object(
            Bucket=BUCKET, Key=key, Body=json.dumps(_crowd.payload(tasks, grouped)).encode()
        )
        event = _crowd.event(job, data.labels, f"s3://{BUCKET}/{key}")
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines
            response = post_annotation.handler(event, None)
        if len(response) != len(tasks):
            raise RuntimeError(f"{job}: {len(tasks)} objects in, {len(response)} entries out")
        for entry in response:
            # The metadata holds class-name, confidence and workers (or failure-reason).
            content = entry["consolidatedAnnotation"]["content"]
            labels[entry["datasetObjectId"]] = content[f"{_crowd.LABEL_ATTRIBUTE}-metadata"]
    return labels


def run_core(
    data: _crowd.CrowdData,
    grouped: dict[str, list[tuple[str, str]]],
    *,
    method: str,
    batch_size: int | None,
) -> dict[str, dict[str, Any]]:
    """Labels by task from the handler's pure core (``consolidate_batch``), skill in memory.

    The same parsing, consensus and skill bookkeeping as the handler, without the
    S3 and DynamoDB round trips (moto needs ~15 ms per DynamoDB update, which makes
    thousands of small batches take many minutes).
    """
    from gt_annotation import post_annotation
    from gt_annotation.skill import MemorySkillStore

    settings = post_annotation.Settings(
        task_type="TEXT_CLASSIFICATION",
        answer_name=_crowd.ANSWER_NAME,
        method=method,
        options={"method": method},
    )
    store = MemorySkillStore()
    labels: dict[str, dict[str, Any]] = {}
    for tasks in _crowd.batches(data.tasks, batch_size):
        response, _stats, _rejections = post_annotation.consolidate_batch(
            _crowd.payload(tasks, grouped),
            settings,
            labels=data.labels,
            label_attribute_name=_crowd.LABEL_ATTRIBUTE,
            scope="job#benchmark",
            skill_store=store,
        )
        for entry in response:
            # The metadata holds class-name, confidence and workers (or failure-reason).
            content = entry["consolidatedAnnotation"]["content"]
            labels[entry["datasetObjectId"]] = content[f"{_crowd.LABEL_ATTRIBUTE}-metadata"]
    return labels


def score_ours(data: _crowd.CrowdData, labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    correct = [labels[t].get("class-name") == data.gold[t] for t in data.tasks]
    several = [t for t in data.tasks if labels[t].get("workers", 0) > 1]
    confidences = [float(labels[t]["confidence"]) for t in several]
    hits = [labels[t].get("class-name") == data.gold[t] for t in several]
    return {
        "accuracy": sum(correct) / len(correct),
        "ece": ece(confidences, hits),
        "mean_confidence": sum(confidences) / len(confidences) if confidences else None,
        "errors": sum(1 for t in data.tasks if "failure-reason" in labels[t]),
    }


# ----------------------------------------------------------------------- crowd-kit


def crowdkit_methods(full: bool) -> dict[str, Callable[[], Any]] | None:
    """crowd-kit aggregators by name, or None when crowd-kit is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crowdkit.aggregation as ca
            from sklearn.base import BaseEstimator
    except ImportError:
        return None
    # crowd-kit 1.4.2 with scikit-learn ≥ 1.6: these two lack the new estimator tags.
    for cls in (ca.Wawa, ca.ZeroBasedSkill):
        cls.__sklearn_tags__ = BaseEstimator.__sklearn_tags__  # type: ignore[union-attr]
    methods: dict[str, Callable[[], Any]] = {
        "crowdkit_mv": ca.MajorityVote,
        "crowdkit_ds": lambda: ca.DawidSkene(n_iter=100),
    }
    if full:
        methods["crowdkit_glad"] = ca.GLAD
        methods["crowdkit_mace"] = lambda: ca.MACE(random_state=0)
    return methods


def run_crowdkit(
    data: _crowd.CrowdData, methods: dict[str, Callable[[], Any]]
) -> dict[str, dict[str, Any]]:
    import pandas as pd

    frame = pd.DataFrame(data.answers, columns=["worker", "task", "label"])
    counts = frame.groupby("task").size()
    results: dict[str, dict[str, Any]] = {}
    for name, factory in methods.items():
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = factory()
            if hasattr(model, "fit_predict_proba"):
                probas = model.fit_predict_proba(frame)
                predicted = probas.idxmax(axis=1)
                confidence = probas.max(axis=1)
            else:
                predicted = model.fit_predict(frame)
                confidence = None
        seconds = time.perf_counter() - started
        correct = [predicted.get(t) == data.gold[t] for t in data.tasks]
        entry: dict[str, Any] = {"accuracy": sum(correct) / len(correct), "seconds": seconds}
        if confidence is not None:
            several = [t for t in data.tasks if counts.get(t, 0) > 1]
            entry["ece"] = ece(
                [float(confidence[t]) for t in several],
                [predicted[t] == data.gold[t] for t in several],
            )
        results[name] = entry
    return results


# ----------------------------------------------------------------------------- main


def evaluate(
    data: _crowd.CrowdData,
    s3: Any,
    methods: dict[str, Callable[[], Any]] | None,
    *,
    dynamodb_batches: bool,
) -> dict[str, Any]:
    grouped = _crowd.answers_by_task(data)
    row: dict[str, Any] = {
        "objects": len(data.tasks),
        "answers": len(data.answers),
        "workers": data.workers,
        "classes": len(data.labels),
        "duplicate_answers_dropped": data.duplicates,
        "single_answer_objects": sum(1 for t in data.tasks if len(grouped[t]) < 2),
    }
    for key, method, size in [
        ("ours_ds", "dawid-skene", None),
        ("ours_mv", "majority-vote", None),
        *((f"ours_ds_b{size}", "dawid-skene", size) for size in BATCH_SIZES),
    ]:
        started = time.perf_counter()
        if (size is None and method == "dawid-skene") or dynamodb_batches:
            path = "handler, S3 and DynamoDB in moto"
            labels = run_handler(data, grouped, method=method, batch_size=size, s3=s3)
        else:
            path = "consolidate_batch, in-memory skill store"
            labels = run_core(data, grouped, method=method, batch_size=size)
        seconds = time.perf_counter() - started
        row[key] = {**score_ours(data, labels), "seconds": seconds, "path": path}
    if methods:
        row.update(run_crowdkit(data, methods))
    return row


def summarise(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    names = list(rows)
    ours = [rows[n]["ours_ds"]["accuracy"] for n in names]
    mv = [rows[n]["ours_mv"]["accuracy"] for n in names]
    summary: dict[str, Any] = {
        "mean_accuracy_ours_ds": sum(ours) / len(ours),
        "mean_accuracy_majority_vote": sum(mv) / len(mv),
        "max_ece": max(rows[n]["ours_ds"]["ece"] for n in names),
        "max_batched_gap_points": max(
            abs(rows[n][f"ours_ds_b{s}"]["accuracy"] - rows[n]["ours_ds"]["accuracy"]) * 100
            for n in names
            for s in BATCH_SIZES
        ),
    }
    summary["above_majority_vote_on_average"] = (
        summary["mean_accuracy_ours_ds"] > summary["mean_accuracy_majority_vote"]
    )
    if all("crowdkit_ds" in rows[n] for n in names):
        gaps = {
            n: (rows[n]["ours_ds"]["accuracy"] - rows[n]["crowdkit_ds"]["accuracy"]) * 100
            for n in names
        }
        summary["points_vs_crowdkit_ds"] = gaps
        summary["worst_points_vs_crowdkit_ds"] = min(gaps.values())
        summary["accuracy_ratio_vs_crowdkit_ds"] = {
            n: rows[n]["ours_ds"]["accuracy"] / rows[n]["crowdkit_ds"]["accuracy"] for n in names
        }
    summary["targets_met"] = {
        "accuracy_vs_crowdkit_ds": (
            summary["worst_points_vs_crowdkit_ds"] >= -TARGETS["max_points_below_crowdkit_ds"]
            if "worst_points_vs_crowdkit_ds" in summary
            else None
        ),
        "above_majority_vote_on_average": summary["above_majority_vote_on_average"],
        "ece": summary["max_ece"] <= TARGETS["ece"],
        "batched": summary["max_batched_gap_points"] <= TARGETS["batched_within_points"],
    }
    return summary


def table(rows: dict[str, dict[str, Any]], summary: dict[str, Any]) -> str:
    columns = [
        ("ours DS", "ours_ds", "accuracy"),
        ("ours MV", "ours_mv", "accuracy"),
        ("ck MV", "crowdkit_mv", "accuracy"),
        ("ck DS", "crowdkit_ds", "accuracy"),
        ("ck GLAD", "crowdkit_glad", "accuracy"),
        ("ck MACE", "crowdkit_mace", "accuracy"),
        ("vs ck DS", None, None),
        ("ECE", "ours_ds", "ece"),
        ("ck DS ECE", "crowdkit_ds", "ece"),
        ("b10", "ours_ds_b10", "accuracy"),
        ("b100", "ours_ds_b100", "accuracy"),
    ]
    lines = ["| data set | " + " | ".join(c[0] for c in columns) + " |"]
    lines.append("|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        cells = []
        for _title, key, field in columns:
            if key is None:
                ratio = summary.get("accuracy_ratio_vs_crowdkit_ds", {}).get(name)
                cells.append(f"{ratio:.3f}×" if ratio else "–")
                continue
            value = row.get(key, {}).get(field)
            if value is None:
                cells.append("–")
            elif field == "ece":
                cells.append(f"{value:.3f}")
            else:
                cells.append(f"{value * 100:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two small data sets, seconds")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO.parent / "shared" / "data" / "crowd",
        help="folder of the crowd CSV files (default: ../shared/data/crowd beside the repo)",
    )
    parser.add_argument("--output", type=Path, default=HERE / "results" / "quality.json")
    parser.add_argument("--datasets", nargs="*", help="a subset of the data sets, by name")
    parser.add_argument(
        "--dynamodb-batches",
        action="store_true",
        help="run the batched runs through the handler and the moto skill table too "
        "(default: the handler's core with the in-memory store; moto makes this take ~30 min)",
    )
    args = parser.parse_args(argv)

    names = list(args.datasets or (_crowd.SMOKE_DATASETS if args.smoke else _crowd.DATASETS))
    unknown = [n for n in names if n not in _crowd.DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; allowed: {', '.join(_crowd.DATASETS)}")
    if not args.data_dir.is_dir():
        parser.error(f"crowd data not found at {args.data_dir} (use --data-dir)")
    methods = crowdkit_methods(full=not args.smoke)
    if methods is None:
        print("crowd-kit is not installed: only our methods run", file=sys.stderr)
        if not args.smoke:
            print("install it with: pip install -r benchmarks/requirements.txt", file=sys.stderr)

    rows: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    with aws() as s3:
        for name in names:
            data = _crowd.load(args.data_dir, name)
            rows[name] = evaluate(data, s3, methods, dynamodb_batches=args.dynamodb_batches)
            print(
                f"{name}: ours {rows[name]['ours_ds']['accuracy'] * 100:.2f} "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    summary = summarise(rows)
    print(table(rows, summary))
    print()
    print(
        f"mean accuracy: ours DS {summary['mean_accuracy_ours_ds'] * 100:.2f}, "
        f"majority vote {summary['mean_accuracy_majority_vote'] * 100:.2f}; "
        f"worst vs crowd-kit DS: {summary.get('worst_points_vs_crowdkit_ds', float('nan')):+.2f} points; "
        f"max ECE {summary['max_ece']:.3f}; "
        f"max batched gap {summary['max_batched_gap_points']:.2f} points"
    )
    print("targets met:", json.dumps(summary["targets_met"]))
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "smoke": args.smoke,
        "targets": TARGETS,
        "notes": [
            "Accuracy over all objects; ECE (10 equal-width bins) over objects with two or more "
            "answers (one answer: confidence 0 by contract, not a probability).",
            "A repeated (worker, task) row is dropped (first kept), as Ground Truth takes one "
            "answer per worker and object; every method sees the same answers.",
            "Ours (whole set): the real post-annotation handler, payload in S3 and the skill "
            "table in DynamoDB (moto). Batched runs (task order of first appearance in the "
            "file): the handler's core consolidate_batch with the in-memory skill store, or "
            "the handler and moto with --dynamodb-batches (see 'path' per run).",
        ],
        "datasets": rows,
        "summary": summary,
        "seconds": time.perf_counter() - started,
    }
    if args.smoke and args.output == HERE / "results" / "quality.json":
        args.output = args.output.with_name("quality-smoke.json")  # keep the full run's figures
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    print(f"written {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
