"""``gt-constructs``: the local workbench's command line (argument parsing and dispatch).

Runs the very code the construct and the Lambdas run (template checks and
rendering, pre-annotation, consensus) on your machine, without AWS::

    gt-constructs validate TEMPLATE [--task-type T]
    gt-constructs preview TEMPLATE (--data-object JSON | --manifest FILE [--line N]) --out page.html
    gt-constructs consolidate MANIFEST --task-type T --label-attribute A [--out F] [--report R]
    gt-constructs simulate --task-type T --objects N --workers K [--spammers P] [--seed S]
    gt-constructs serve --data DIR (--manifest FILE --task-type T --labels L ... | --app CMD)

Each command lives in its own module of this package (``validate``, ``preview``,
``consolidate``, ``simulate``; ``report`` draws the label-quality report). See
docs/workbench.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TypeAlias

from ..task_type import TaskType
from ..template import TemplateError
from .common import WorkbenchError, say

# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    task_types = ", ".join(t.value for t in TaskType)
    parser = argparse.ArgumentParser(
        prog="gt-constructs",
        description="Local workbench for Ground Truth custom labeling jobs: the same template "
        "rendering and consolidation code as the construct and its Lambdas, without AWS.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_validate, _add_preview, _add_consolidate, _add_simulate, _add_serve):
        add(commands, task_types)
    return parser


# One function per command: each adds its sub-parser and names the module that runs it.
_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_validate(commands: _Commands, task_types: str) -> None:
    validate = commands.add_parser(
        "validate",
        help="check a worker template as synth does",
        description="Check a worker "
        "template as synth does: Liquid with Ground Truth's filters, crowd-form, the answer element.",
    )
    validate.add_argument(
        "template", metavar="TEMPLATE", help="template file, or 'default' (with --task-type)"
    )
    validate.add_argument(
        "--task-type", help=f"one of {task_types} (default: from the template's elements)"
    )
    validate.add_argument(
        "--answer-name", help="name of the answer element the consolidation reads"
    )
    validate.set_defaults(module="validate")


def _add_preview(commands: _Commands, task_types: str) -> None:
    preview = commands.add_parser(
        "preview",
        help="render a task as a self-contained HTML page",
        description="Run pre-annotation and the template on one data object and write the "
        "worker's page: with the real Crowd HTML Elements when the page can load them, else "
        "with the workbench's offline stand-in (no drawing tools).",
    )
    preview.add_argument(
        "template", metavar="TEMPLATE", help="template file, or 'default' (with --task-type)"
    )
    given = preview.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--data-object",
        metavar="JSON",
        help='a manifest line, e.g. \'{"source-ref": "s3://b/k.jpg"}\'',
    )
    given.add_argument("--manifest", metavar="FILE", help="a JSON Lines manifest")
    preview.add_argument(
        "--line", type=int, default=1, help="line of --manifest to show (1-based, default 1)"
    )
    preview.add_argument("--task-type", help=f"one of {task_types} (default: from the template)")
    preview.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="labels (or a label category .json file)"
    )
    preview.add_argument("--out", required=True, metavar="HTML", help="the page to write")
    preview.add_argument(
        "--screenshot", metavar="PNG", help="also take a screenshot with headless Chromium"
    )
    elements = preview.add_mutually_exclusive_group()
    elements.add_argument(
        "--crowd-elements-url",
        metavar="URL",
        help="the real Crowd HTML Elements' script the page tries first (default: "
        "$GT_CROWD_ELEMENTS_URL, else Ground Truth's own); the stand-in draws the task "
        "when it cannot be loaded",
    )
    elements.add_argument(
        "--offline",
        action="store_true",
        help="use only the workbench's stand-in (no drawing tools); the page fetches nothing",
    )
    preview.add_argument("--width", type=int, default=1280, help=argparse.SUPPRESS)
    preview.add_argument("--height", type=int, default=900, help=argparse.SUPPRESS)
    preview.set_defaults(module="preview")


def _add_consolidate(commands: _Commands, task_types: str) -> None:
    consolidate = commands.add_parser(
        "consolidate",
        help="run the consensus on a finished job's raw answers",
        description="Consolidate an output manifest that kept every worker's answer "
        "(annotationsFromAllWorkers) or a job's annotations/worker-response/ folder with the "
        "post-annotation function's own code; write the built-in output format.",
    )
    consolidate.add_argument(
        "input", metavar="MANIFEST", help="output manifest or worker-response folder"
    )
    consolidate.add_argument("--task-type", required=True, help=f"one of {task_types}")
    consolidate.add_argument(
        "--label-attribute", required=True, metavar="A", help="the job's label attribute name"
    )
    consolidate.add_argument(
        "--labels",
        nargs="+",
        metavar="LABEL",
        help="labels in class-id order (or a label category .json file); default: inferred from the answers",
    )
    consolidate.add_argument("--method", help="consolidation method (default: the task type's)")
    consolidate.add_argument("--answer-name", help="name of the answer element (default: inferred)")
    consolidate.add_argument(
        "--job-name", help="job name for the metadata (default: from the input)"
    )
    consolidate.add_argument(
        "--input-manifest",
        metavar="FILE",
        help="the job's input manifest (data objects for a worker-response folder)",
    )
    consolidate.add_argument(
        "--keep-all-annotations",
        action="store_true",
        help="keep every worker's answer beside the consensus",
    )
    consolidate.add_argument(
        "--out",
        default="consolidated.manifest",
        help="output manifest (default: consolidated.manifest); masks go to <name>-masks/",
    )
    consolidate.add_argument("--report", metavar="HTML", help="write a label-quality report")
    consolidate.add_argument(
        "--batch-size", type=int, default=1000, help="objects per consensus batch (default 1000)"
    )
    consolidate.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar even when stderr is not a terminal",
    )
    consolidate.add_argument(
        "--strict", action="store_true", help="exit 1 when any input line was skipped"
    )
    consolidate.set_defaults(module="consolidate")


def _add_simulate(commands: _Commands, task_types: str) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="run the whole workflow with synthetic workers (or drive a running server)",
        description="Generated manifest -> pre-annotation -> template -> synthetic answers of "
        "known quality -> post-annotation -> output manifest; prints accuracy and recovered skill. "
        "With --against URL --data DIR: K simulated workers sign in to a running "
        "`gt-constructs serve` and label its job over HTTP until it completes.",
    )
    simulate.add_argument(
        "--against",
        metavar="URL",
        help="the portal URL of a running `gt-constructs serve` (with --data and --workers)",
    )
    simulate.add_argument(
        "--data", metavar="DIR", help="with --against: the serve's --data folder (its tokens)"
    )
    simulate.add_argument(
        "--accuracy",
        type=float,
        default=0.85,
        help="with --against: how often a simulated worker is right (default 0.85)",
    )
    simulate.add_argument(
        "--think",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --against: each worker's time on a task before submitting, 0.5 to 1.5 "
        "times this (default 0: submit at once)",
    )
    simulate.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="with --against: give up after this many seconds (default 600)",
    )
    simulate.add_argument(
        "--task-type",
        help="IMAGE_CLASSIFICATION, TEXT_CLASSIFICATION, IMAGE_MULTI_LABEL, TEXT_MULTI_LABEL, BOUNDING_BOX or NAMED_ENTITY",
    )
    simulate.add_argument("--objects", type=int, help="number of data objects")
    simulate.add_argument("--workers", type=int, required=True, help="number of workers")
    simulate.add_argument(
        "--spammers",
        type=int,
        default=0,
        help="how many of the workers answer at random (default 0)",
    )
    simulate.add_argument(
        "--per-object", type=int, default=3, help="answers per object (default 3)"
    )
    simulate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    simulate.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="labels (default: a small set per task type)"
    )
    simulate.add_argument(
        "--out",
        default="gt-simulation",
        metavar="DIR",
        help="folder for the files (default gt-simulation)",
    )
    simulate.add_argument("--report", metavar="HTML", help="write a label-quality report")
    simulate.add_argument(
        "--verbose", action="store_true", help="print every answer the consensus left out"
    )
    simulate.set_defaults(module="simulate")


def _add_serve(commands: _Commands, task_types: str) -> None:
    from ..runtime.arguments import add_arguments

    serve = commands.add_parser(
        "serve",
        help="run a labeling job on this machine: the worker portal in the browser",
        description="Run one labeling job without Ground Truth: the job from flags (--manifest, "
        "--template, --task-type, --labels) or from your CDK app (--app), the worker portal "
        "and the requester's page in the browser, Ground Truth's output under DIR/output/. "
        "Prints the portal's URL and the sign-in links; run again with the same --data to "
        "resume.",
    )
    add_arguments(serve, task_types)
    serve.set_defaults(module=".runtime.serve")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gt-constructs`` and ``python -m gt_constructs``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Each command's module is imported only when it runs (the Lambda code it pulls in
        # is not needed to print --help).
        command = importlib.import_module(f".{args.module}", __package__)
        return int(command.run(args))
    except WorkbenchError as error:
        say(f"gt-constructs {args.command}: {error}")
        return 1
    except TemplateError as error:
        for problem in error.problems:
            say(f"{error.source}:{problem}")
        return 1
    except ModuleNotFoundError as error:
        if error.name == "boto3":
            say(
                f"gt-constructs {args.command}: the Lambda code needs boto3; install it with "
                "pip install boto3"
            )
            return 1
        raise
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
