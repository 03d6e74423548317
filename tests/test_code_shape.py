"""The shape issue 10 settled, kept: small construct-side functions, one contract.

- No function body on the construct side (``gt_constructs/``) is over 100
  lines and no class over 300: the constructs are built from named steps.
- Every ``GT_*`` environment name is spelled, as a string literal, in one
  source file only: the functions' names in the Lambdas' contract modules
  (the workbench's own, such as ``GT_CHROMIUM``, where the workbench reads them).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_FUNCTION_BODY = 100
MAX_CLASS = 300
GT_NAME = re.compile(r"\bGT_[A-Z_]+\b")
CONTRACTS = {
    REPO / "lambda_src" / "gt_annotation" / "contract.py",
    REPO / "lambda_src" / "gt_resources" / "contract.py",
}


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            if "lambda_src" in path.relative_to(REPO).parts[1:]:
                continue  # the packaged copy of lambda_src, if a build left one
            yield path


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    if (
        len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]  # the docstring is not code
    end = body[-1].end_lineno or body[-1].lineno
    return end - body[0].lineno + 1


def test_no_construct_side_function_body_is_over_100_lines() -> None:
    # GIVEN every function and class of the construct library
    too_long = []
    for path in _sources("gt_constructs"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            # THEN function bodies stay within 100 lines, classes within 300
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if (lines := _body_lines(node)) > MAX_FUNCTION_BODY:
                    too_long.append(f"{name} {node.name}: body of {lines} lines")
            elif isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_CLASS:
                    too_long.append(f"{name} class {node.name}: {lines} lines")
    assert too_long == []


def test_each_environment_name_is_spelled_in_one_source_file() -> None:
    # GIVEN every GT_* string literal in the library, the Lambdas and the example app
    spelled: dict[str, set[Path]] = {}
    for path in [*_sources("gt_constructs", "lambda_src"), REPO / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            literal = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if literal and GT_NAME.fullmatch(node.value):
                spelled.setdefault(node.value, set()).add(path)
    # THEN each is written in one file, and the functions' names only in a contract
    assert spelled, "no GT_* name found: the scan is looking in the wrong place"
    twice = {name: sorted(map(str, paths)) for name, paths in spelled.items() if len(paths) > 1}
    assert twice == {}
    contract_names = {name for name, paths in spelled.items() if paths <= CONTRACTS}
    assert {"GT_TASK_TYPE", "GT_CONSOLIDATION", "GT_LABELS"} <= contract_names
