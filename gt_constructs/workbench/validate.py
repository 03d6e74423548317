"""``gt-constructs validate``: check a worker template as synth does."""

from __future__ import annotations

import argparse
import sys

from ..consolidation import Consolidation
from ..task_type import TaskType
from ..template import TemplateError
from .common import parse_task_type, say
from .preview import infer_task_type, load_template


def run(args: argparse.Namespace) -> int:
    task_type = parse_task_type(args.task_type) if args.task_type else None
    template = load_template(args.template, task_type or TaskType.CUSTOM)
    task_type = task_type or infer_task_type(template)
    consolidation = Consolidation.for_task_type(task_type)
    if args.answer_name:
        consolidation = consolidation.with_answer_name(args.answer_name)
    warnings: list[str] = []
    try:
        answer = template.validate(
            consolidation,
            warnings=warnings,
            task_type=task_type,
            answer_name_setting="--answer-name",
        )
    except TemplateError as error:
        for problem in error.problems:
            print(f"{error.source}:{problem}", file=sys.stderr)
        say(f"{error.source}: {len(error.problems)} problem(s)")
        return 1
    for warning in warnings:
        say(f"warning: {template.source}:{warning}")
    print(
        f"{template.source}: OK ({task_type.value}, consolidation '{consolidation.method}', "
        f"answer element {repr(answer) if answer else '(whole answer)'})"
    )
    return 0
