"""The ``serve`` command's arguments (light: no runtime import, so ``--help`` is quick)."""

from __future__ import annotations

import argparse

DEFAULT_PORT = 8080


def add_arguments(serve: argparse.ArgumentParser, task_types: str) -> None:
    serve.add_argument(
        "--data", required=True, metavar="DIR", help="folder for the job's state and output"
    )
    given = serve.add_argument_group("the job from flags")
    given.add_argument(
        "--manifest",
        metavar="FILE",
        help="JSON Lines manifest (source-ref: a "
        "path relative to the manifest, file://, or text in source)",
    )
    given.add_argument(
        "--template", metavar="FILE", help="worker template (default: the task type's own)"
    )
    given.add_argument("--task-type", help=f"one of {task_types}")
    given.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="labels (or a label category .json file)"
    )
    given.add_argument(
        "--workers-per-object",
        type=int,
        default=1,
        metavar="N",
        help="answers per data object, 1–9 (default 1)",
    )
    given.add_argument(
        "--label-attribute",
        metavar="A",
        help="the output's label attribute (default: the task type in kebab case)",
    )
    given.add_argument(
        "--task-time-limit",
        type=int,
        default=600,
        metavar="SECONDS",
        help="time a worker has for one task (default 600)",
    )
    app = serve.add_argument_group("the job of a CDK app")
    app.add_argument(
        "--app",
        metavar="COMMAND",
        help='the CDK app, e.g. "python3 app.py" '
        "(default: cdk.json's app when --manifest is not given)",
    )
    app.add_argument(
        "--job",
        metavar="PATH",
        help="which CustomLabelingJob (its construct "
        "path, e.g. GtStreetPeople/StreetPeople) when the app has several",
    )
    app.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="CDK context for the app (as cdk -c)",
    )
    serve.add_argument(
        "--workers",
        nargs="+",
        default=[],
        metavar="EMAIL",
        help="workers to add to the job's team (each gets a sign-in link)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the portal's port (default {DEFAULT_PORT}); the task pages use the next one",
    )
    serve.add_argument("--task-port", type=int, help="the task origin's port (default: --port + 1)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default "
        "127.0.0.1, this machine only; 0.0.0.0 for the network with --portal-url "
        "and --task-url)",
    )
    serve.add_argument(
        "--portal-url", help="the portal's URL as browsers reach it (default http://localhost:PORT)"
    )
    serve.add_argument(
        "--task-url",
        help="the task origin's URL as browsers reach it (default "
        "http://127.0.0.1:TASK_PORT: another host name than the portal's)",
    )
    serve.add_argument(
        "--offline",
        action="store_true",
        help="task pages use the offline "
        "stand-in for Crowd HTML Elements only (nothing fetched from AWS)",
    )
    serve.add_argument(
        "--check",
        action="store_true",
        help="prepare and create the job, print the links, and exit without serving",
    )
