"""AWS cost of the self-hosted labeling runtime, from the requests of a whole job on moto.

A 3-worker image-classification job runs end to end on moto through the runtime's own
handlers (``tests/runtime/aws_support.py``: the state machine's steps in its order, the
portal's API calls, task pages, data redirects and Mechanical Turk submits, the job's
unchanged pre- and post-annotation Lambdas). Every AWS request is counted; DynamoDB
capacity is measured from the items each request reads and writes. The counts per
object and per answer are priced at list prices (us-east-1, on-demand, no free tier)
and scaled to 1,000 objects. Target: under $0.50 per 1,000 objects.

    python benchmarks/runtime_cost.py            # 50 objects x 3 workers (about a minute)
    python benchmarks/runtime_cost.py --smoke    # 15 objects, seconds (CI)
    python benchmarks/runtime_cost.py --json     # the figures as JSON

moto's in-memory tables answer an index query by walking the table, so a run grows
faster than linearly with the objects (and holds everything in memory): it is kept
small. The per-object figures are steady from 15 to 60 objects (about 45 read and 52
write units per object).

What it does not price (not per object, or not the runtime's): Cognito monthly active
users, the Secrets Manager secret ($0.40 a month), CloudWatch alarms and dashboard,
storage (DynamoDB items of ~1 KB per object and task; S3 output), a customer KMS key's
requests, and the idle state machine rounds of a long job (priced separately below,
per job-day).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lambda_src"), str(REPO)]

#: List prices, us-east-1, USD (AWS price pages, on-demand, as of 2025).
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST (S3 Standard)
    "s3_get": 0.0004 / 1000,  # GET, HEAD and all other requests
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm": 0.0000133334,
    "sfn_transition": 0.025 / 1000,  # Standard workflows
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, first 300 million
    "cloudfront_request": 0.0100 / 10_000,  # HTTPS requests, United States
    "data_transfer_out_gb": 0.09,  # to the internet, first 10 TB
    "eventbridge_event": 1.00 / 1e6,  # custom events
    "logs_ingested_gb": 0.50,  # CloudWatch Logs, standard class
}
REGION = "us-east-1"
#: Memory of the runtime's functions and the job's (MB), as the constructs set them.
MEMORY_MB = {"api": 512, "task-pages": 1024, "steps": 1024, "job-functions": 640}
#: Assumed billed duration per invocation on Lambda (ms): measured here in-process and
#: rounded up; moto's in-memory services make calls faster than real ones, so each is
#: floored at a conservative figure.
FLOOR_MS = {"api": 60, "task-pages": 80, "steps": 400, "job-functions": 150}
#: Log bytes per invocation (the handlers' JSON logs + Lambda's report lines).
LOG_BYTES_PER_INVOCATION = 700
#: Idle rounds of the job's state machine: at most one every MAX_WAIT seconds.
IDLE_ROUNDS_PER_DAY = 86_400 / 300
TRANSITIONS_PER_ROUND = 3


class CapacityMeter:
    """Wraps the runtime's DynamoDB client: counts read and write request units as
    DynamoDB bills them (4 KB per strongly consistent read unit, half for eventual;
    1 KB per write unit; transactions twice)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta
        self.exceptions = client.exceptions
        self.read_units = 0.0
        self.write_units = 0.0
        self.requests: Counter[str] = Counter()

    @staticmethod
    def _size(item: Any) -> int:
        return len(json.dumps(item, separators=(",", ":")))

    def _read(self, size: int, consistent: bool) -> None:
        units = max(1, math.ceil(size / 4096))
        self.read_units += units if consistent else units / 2

    def _write(self, size: int, factor: int = 1) -> None:
        self.write_units += max(1, math.ceil(size / 1024)) * factor

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._client, name)
        if not callable(operation):
            return operation

        def call(**kwargs: Any) -> Any:
            self.requests[name] += 1
            try:
                response = operation(**kwargs)
            except Exception:
                # a failed condition still consumes the write (DynamoDB bills it)
                if name == "transact_write_items":
                    for item in kwargs.get("TransactItems", []):
                        self._write(self._size(item), 2)
                elif name in ("put_item", "update_item", "delete_item"):
                    self._write(self._size(kwargs.get("Item", kwargs.get("Key", {}))))
                raise
            consistent = bool(kwargs.get("ConsistentRead"))
            if name == "get_item":
                self._read(self._size(response.get("Item", {})), consistent)
            elif name == "query":
                if kwargs.get("Select") == "COUNT":
                    size = int(response.get("ScannedCount", 0)) * 100
                else:
                    size = sum(self._size(i) for i in response.get("Items", []))
                self._read(size, consistent)
            elif name in ("put_item", "update_item", "delete_item"):
                self._write(self._size(kwargs.get("Item", kwargs.get("Key", {}))))
            elif name == "transact_write_items":
                for item in kwargs.get("TransactItems", []):
                    self._write(self._size(item), 2)
            return response

        return call


def run(objects: int, workers: tuple[str, ...] = ("ana", "ben", "chi")) -> dict[str, Any]:
    # moto: offline, credential-free clients (as the test suite's conftest sets them)
    for name, value in (
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
    ):
        os.environ.setdefault(name, value)
    from gt_constructs.lambda_src.gt_runtime import aws_host
    from moto import mock_aws

    from tests.runtime.aws_support import LABELS, aws_runtime, job_request

    started = time.perf_counter()
    timings: Counter[str] = Counter()
    with mock_aws(), aws_runtime(objects) as job:
        meter = CapacityMeter(aws_host._CLIENTS["dynamodb"]._client)
        aws_host._CLIENTS["dynamodb"] = meter
        for role in ("step", "api", "task_origin"):
            original = getattr(job, role)
            kind = {"step": "steps", "api": "api", "task_origin": "task-pages"}[role]

            def timed(event: Any, original: Any = original, kind: str = kind) -> Any:
                moment = time.perf_counter()
                try:
                    return original(event)
                finally:
                    timings[kind] += time.perf_counter() - moment

            setattr(job, role, timed)
        state = job.run_machine_start(job_request("cost", len(workers)))
        name = state["job"]["jobName"]
        for _ in range(50):
            for worker in workers:
                while job.label(worker, name, lambda task: LABELS[hash(task["task_id"]) % 3]):
                    pass
            state = job.run_tick(state)
            if state["tick"]["done"]:
                break
        if not state["tick"]["done"]:
            raise SystemExit("the job did not complete")
        counts = dict(job.counts)
        invocations = dict(job.lambda_invocations)
    answers = objects * len(workers)
    s3_puts = sum(v for k, v in counts.items() if k in ("s3:put_object", "s3:list_objects_v2"))
    s3_gets = sum(
        v
        for k, v in counts.items()
        if k.startswith("s3:")
        and k not in ("s3:put_object", "s3:list_objects_v2", "s3:create_bucket")
    )
    # the job's functions read and write S3 themselves (moto, not through the counter):
    # the post-annotation function reads each batch's payload and writes nothing else for
    # classification; the pre-annotation function touches no AWS service
    api_requests = invocations.get("api", 0)
    task_requests = invocations.get("task-pages", 0)
    return {
        "objects": objects,
        "workers_per_object": len(workers),
        "answers": answers,
        "seconds": round(time.perf_counter() - started, 1),
        "dynamodb": {
            "requests": dict(meter.requests),
            "read_units": meter.read_units,
            "write_units": meter.write_units,
        },
        "s3": {"put_list": s3_puts, "get_head": s3_gets},
        "lambda": {"invocations": invocations, "seconds_in_process": dict(timings)},
        "step_functions_transitions": job.transitions,
        "http_api_requests": api_requests + task_requests,
        "cloudfront_requests": api_requests,
        "eventbridge_events": len(job.events),
        "task_page_bytes": job.page_bytes,
        "aws_requests": counts,
    }


def price(figures: dict[str, Any]) -> dict[str, float]:
    """USD per 1,000 objects, by service."""
    scale = 1000 / figures["objects"]
    invocations = figures["lambda"]["invocations"]
    in_process = figures["lambda"]["seconds_in_process"]
    gb_seconds = 0.0
    for kind, count in invocations.items():
        measured_ms = 1000 * in_process.get(kind, 0.0) / max(1, count)
        billed_ms = max(FLOOR_MS.get(kind, 100), math.ceil(measured_ms))
        gb_seconds += count * billed_ms / 1000 * MEMORY_MB.get(kind, 1024) / 1024
    total_invocations = sum(invocations.values())
    log_gb = total_invocations * LOG_BYTES_PER_INVOCATION / 1e9
    costs = {
        "DynamoDB": figures["dynamodb"]["read_units"] * PRICES["dynamodb_read_unit"]
        + figures["dynamodb"]["write_units"] * PRICES["dynamodb_write_unit"],
        "S3 requests": figures["s3"]["put_list"] * PRICES["s3_put"]
        + figures["s3"]["get_head"] * PRICES["s3_get"],
        "Lambda": total_invocations * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_gb_second_arm"],
        "Step Functions": figures["step_functions_transitions"] * PRICES["sfn_transition"],
        "API Gateway (HTTP API)": figures["http_api_requests"] * PRICES["http_api_request"],
        "CloudFront": figures["cloudfront_requests"] * PRICES["cloudfront_request"],
        "Data transfer out (task pages)": figures["task_page_bytes"]
        / 1e9
        * PRICES["data_transfer_out_gb"],
        "EventBridge": figures["eventbridge_events"] * PRICES["eventbridge_event"],
        "CloudWatch Logs": log_gb * PRICES["logs_ingested_gb"],
    }
    return {service: cost * scale for service, cost in costs.items()}


def report(figures: dict[str, Any], costs: dict[str, float]) -> str:
    objects, answers = figures["objects"], figures["answers"]
    dynamo = figures["dynamodb"]
    lines = [
        f"Self-hosted runtime on AWS: {objects} objects x {figures['workers_per_object']} "
        f"workers (image classification), whole job on moto in {figures['seconds']} s",
        f"Prices: {REGION} list prices, on-demand, no free tier (see PRICES in this file)",
        "",
        "Requests per object / per answer:",
        f"  DynamoDB read units   {dynamo['read_units'] / objects:8.1f} / {dynamo['read_units'] / answers:6.1f}",
        f"  DynamoDB write units  {dynamo['write_units'] / objects:8.1f} / {dynamo['write_units'] / answers:6.1f}",
        f"  S3 PUT/LIST           {figures['s3']['put_list'] / objects:8.2f} / {figures['s3']['put_list'] / answers:6.2f}",
        f"  S3 GET/HEAD           {figures['s3']['get_head'] / objects:8.2f} / {figures['s3']['get_head'] / answers:6.2f}",
        f"  Lambda invocations    {sum(figures['lambda']['invocations'].values()) / objects:8.2f} / "
        f"{sum(figures['lambda']['invocations'].values()) / answers:6.2f}   {figures['lambda']['invocations']}",
        f"  State transitions     {figures['step_functions_transitions'] / objects:8.2f} / "
        f"{figures['step_functions_transitions'] / answers:6.2f}",
        f"  HTTP API requests     {figures['http_api_requests'] / objects:8.2f} / {figures['http_api_requests'] / answers:6.2f}",
        f"  EventBridge events    {figures['eventbridge_events']} in all",
        "",
        "Cost per 1,000 objects (USD):",
    ]
    for service, cost in sorted(costs.items(), key=lambda item: -item[1]):
        lines.append(f"  {service:32s} {cost:9.4f}")
    total = sum(costs.values())
    verdict = "under" if total < 0.50 else "OVER"
    lines += [
        f"  {'total':32s} {total:9.4f}   ({verdict} the $0.50 target)",
        "",
        f"Idle rounds of a long job: at most {IDLE_ROUNDS_PER_DAY:.0f} a day x "
        f"{TRANSITIONS_PER_ROUND} transitions = "
        f"${IDLE_ROUNDS_PER_DAY * TRANSITIONS_PER_ROUND * PRICES['sfn_transition']:.4f} "
        "per job-day (plus one steps invocation per round)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="15 objects (seconds)")
    parser.add_argument("--objects", type=int, default=None, help="objects (default 50)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    objects = args.objects or (15 if args.smoke else 50)
    if objects < 1:
        parser.error("--objects must be at least 1")
    with contextlib.redirect_stdout(io.StringIO()):  # the handlers' own JSON logs
        figures = run(objects)
    costs = price(figures)
    if args.json:
        print(json.dumps({"figures": figures, "cost_per_1000_objects": costs}, indent=1))
    else:
        print(report(figures, costs))
    return 0 if sum(costs.values()) < 0.50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
