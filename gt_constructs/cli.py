"""``gt-constructs``: the local workbench.

Runs the very code the construct and the Lambdas run (template checks and
rendering, pre-annotation, consensus) on your machine, without AWS::

    gt-constructs validate TEMPLATE [--task-type T]
    gt-constructs preview TEMPLATE (--data-object JSON | --manifest FILE [--line N]) --out page.html
    gt-constructs consolidate MANIFEST --task-type T --label-attribute A [--out F] [--report R]
    gt-constructs simulate --task-type T --objects N --workers K [--spammers P] [--seed S]

See docs/workbench.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from ._workbench_common import (
    LocalFiles,
    Progress,
    WorkbenchError,
    chromium_missing_message,
    find_chromium,
    parse_task_type,
    screenshot,
)
from .task_type import TaskType
from .template import TemplateError


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _labels(values: Sequence[str] | None) -> list[str] | None:
    """``--labels a b c``, or ``--labels categories.json`` (a Ground Truth label category file)."""
    if not values:
        return None
    if len(values) == 1 and values[0].endswith(".json") and Path(values[0]).is_file():
        try:
            document = json.loads(Path(values[0]).read_text(encoding="utf-8"))
            labels = [str(entry["label"]) for entry in document["labels"]]
        except (ValueError, KeyError, TypeError):
            raise WorkbenchError(
                f"{values[0]} is not a label category file "
                '({"document-version": "2018-11-28", "labels": [{"label": "..."}]})'
            ) from None
        return labels
    if len(set(values)) != len(values):
        raise WorkbenchError(f"--labels has duplicates: {list(values)}")
    return list(values)


# -- validate ------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from ._workbench_preview import infer_task_type, load_template
    from .consolidation import Consolidation

    task_type = parse_task_type(args.task_type) if args.task_type else None
    template = load_template(args.template, task_type or TaskType.CUSTOM)
    task_type = task_type or infer_task_type(template)
    consolidation = Consolidation.for_task_type(task_type)
    if args.answer_name:
        consolidation = consolidation.with_answer_name(args.answer_name)
    warnings: list[str] = []
    try:
        answer = template.validate(consolidation, warnings=warnings, task_type=task_type)
    except TemplateError as error:
        for problem in error.problems:
            print(f"{error.source}:{problem}", file=sys.stderr)
        _say(f"{error.source}: {len(error.problems)} problem(s)")
        return 1
    for warning in warnings:
        _say(f"warning: {template.source}:{warning}")
    print(
        f"{template.source}: OK ({task_type.value}, consolidation '{consolidation.method}', "
        f"answer element {repr(answer) if answer else '(whole answer)'})"
    )
    return 0


# -- preview -------------------------------------------------------------------------------


def _cmd_preview(args: argparse.Namespace) -> int:
    from ._workbench_preview import (
        infer_task_type,
        load_template,
        parse_data_object,
        read_manifest_line,
        render_preview,
    )

    task_type = parse_task_type(args.task_type) if args.task_type else None
    template = load_template(args.template, task_type or TaskType.CUSTOM)
    task_type = task_type or infer_task_type(template)
    manifest = Path(args.manifest) if args.manifest else None
    if manifest is not None:
        data_object = read_manifest_line(manifest, args.line)
    else:
        data_object = parse_data_object(args.data_object, "--data-object")
    files = LocalFiles.around(manifest)
    labels = _labels(args.labels)
    if labels is None and "labels" not in data_object:
        _say("note: no --labels given and the data object has none: the task shows no labels")
    preview = render_preview(template, task_type, data_object, labels=labels, files=files)
    for problem in preview.problems:
        _say(f"warning: {problem}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(preview.html, encoding="utf-8")
    print(f"wrote {out} ({task_type.value}, answer element {preview.answer_name!r})")
    if args.screenshot:
        if find_chromium() is None:
            _say(f"no screenshot: {chromium_missing_message()}")
            return 1
        shot = Path(args.screenshot)
        screenshot(out, shot, width=args.width, height=args.height)
        print(f"wrote {shot} (headless Chromium, {args.width}x{args.height})")
    return 0


# -- consolidate ---------------------------------------------------------------------------


def _cmd_consolidate(args: argparse.Namespace) -> int:
    from ._workbench_consolidate import (
        DEFAULT_BATCH_SIZE,
        BadInput,
        Record,
        RunSummary,
        consolidate_records,
        count_lines,
        infer_answer_name,
        infer_labels,
        job_name_of,
        mask_writer,
        now_iso,
        output_line,
        read_input_manifest,
        read_manifest,
        read_worker_responses,
        validate_method,
    )
    from ._workbench_report import ReportCollector, render, write_report

    task_type = parse_task_type(args.task_type)
    method = validate_method(args.method or task_type.default_method)
    source = Path(args.input)
    attribute = args.label_attribute
    if not source.exists():
        raise WorkbenchError(
            f"{source} does not exist: give an output manifest (annotationsFromAllWorkers) "
            "or a job's annotations/worker-response/ folder"
        )
    if args.batch_size < 1:
        raise WorkbenchError(f"--batch-size must be 1 or more, got {args.batch_size}")
    input_lines = read_input_manifest(Path(args.input_manifest)) if args.input_manifest else None

    def records() -> Iterator[Record | BadInput]:
        if source.is_dir():
            return read_worker_responses(source, input_lines)
        return read_manifest(source, attribute)

    def good() -> Iterator[Record]:
        return (r for r in records() if isinstance(r, Record))

    answer_name = args.answer_name or infer_answer_name(good(), method)
    labels = _labels(args.labels)
    if labels is None:
        labels = infer_labels(good(), answer_name)
        if method != "all-annotations":
            _say(
                f"warning: no --labels given; labels inferred from the answers: {labels} "
                "(class ids follow this order; pass --labels to fix it)"
            )
    job_name = args.job_name or (None if source.is_dir() else job_name_of(source, attribute))
    job_name = job_name or "gt-constructs-workbench"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    total = None if source.is_dir() else count_lines(source)
    progress = Progress(total, label="consolidating", enabled=True if args.progress else None)
    collector = ReportCollector(answer_name=answer_name)
    summary = RunSummary()
    written = 0
    created = now_iso()
    with out.open("w", encoding="utf-8") as stream:
        for result in consolidate_records(
            records(),
            task_type=task_type,
            method=method,
            label_attribute=attribute,
            labels=labels,
            answer_name=answer_name,
            job_name=job_name,
            keep_all_annotations=args.keep_all_annotations,
            write_png=mask_writer(out),
            batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
            warn=progress.note,
            on_batch=progress.advance,
        ):
            if isinstance(result, RunSummary):
                summary = result
                continue
            stream.write(output_line(result, attribute, job_name, created) + "\n")
            collector.add(result)
            written += 1
    progress.close()
    print(
        f"wrote {written} consolidated line(s) to {out} ({method}; {summary.errors} without a "
        f"label, {summary.rejected} answer(s) left out, {len(summary.bad_inputs)} input line(s) "
        "skipped)"
    )
    if args.report:
        html = render(
            collector,
            summary,
            source=str(source),
            task_type=task_type.value,
            files=LocalFiles.around(
                source, Path(args.input_manifest) if args.input_manifest else None
            ),
        )
        write_report(Path(args.report), html)
        print(f"wrote {args.report}")
    return 1 if summary.bad_inputs and args.strict else 0


# -- simulate ------------------------------------------------------------------------------


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ._workbench_report import ReportCollector, render, write_report
    from ._workbench_simulate import print_result, simulate

    task_type = parse_task_type(args.task_type)
    result = simulate(
        task_type,
        objects=args.objects,
        workers=args.workers,
        spammers=args.spammers,
        per_object=args.per_object,
        seed=args.seed,
        out=Path(args.out),
        labels=_labels(args.labels),
        warn=(lambda message: None) if not args.verbose else _say,
    )
    print_result(result, sys.stdout)
    if args.report:
        collector = ReportCollector(answer_name=result.summary.answer_name)
        for item in result.consolidated:
            collector.add(item)
        output = result.out / "output.manifest"
        html = render(
            collector,
            result.summary,
            source=str(output),
            task_type=task_type.value,
            files=LocalFiles.around(output),
        )
        write_report(Path(args.report), html)
        print(f"wrote {args.report}")
    return 0


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    task_types = ", ".join(t.value for t in TaskType)
    parser = argparse.ArgumentParser(
        prog="gt-constructs",
        description="Local workbench for Ground Truth custom labeling jobs: the same template "
        "rendering and consolidation code as the construct and its Lambdas, without AWS.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    validate.set_defaults(run=_cmd_validate)

    preview = commands.add_parser(
        "preview",
        help="render a task as a self-contained HTML page",
        description="Run pre-annotation and the template on one data object and write the "
        "worker's page (with a local stand-in for Crowd HTML Elements).",
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
    preview.add_argument("--width", type=int, default=1280, help=argparse.SUPPRESS)
    preview.add_argument("--height", type=int, default=900, help=argparse.SUPPRESS)
    preview.set_defaults(run=_cmd_preview)

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
    consolidate.set_defaults(run=_cmd_consolidate)

    simulate = commands.add_parser(
        "simulate",
        help="run the whole workflow with synthetic workers",
        description="Generated manifest -> pre-annotation -> template -> synthetic answers of "
        "known quality -> post-annotation -> output manifest; prints accuracy and recovered skill.",
    )
    simulate.add_argument(
        "--task-type",
        required=True,
        help="IMAGE_CLASSIFICATION, TEXT_CLASSIFICATION, IMAGE_MULTI_LABEL, TEXT_MULTI_LABEL, BOUNDING_BOX or NAMED_ENTITY",
    )
    simulate.add_argument("--objects", type=int, required=True, help="number of data objects")
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
    simulate.set_defaults(run=_cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gt-constructs`` and ``python -m gt_constructs``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except WorkbenchError as error:
        _say(f"gt-constructs {args.command}: {error}")
        return 1
    except TemplateError as error:
        for problem in error.problems:
            _say(f"{error.source}:{problem}")
        return 1
    except ModuleNotFoundError as error:
        if error.name == "boto3":
            _say(
                f"gt-constructs {args.command}: the Lambda code needs boto3; install it with "
                "pip install boto3"
            )
            return 1
        raise
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
