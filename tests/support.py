"""Helpers for construct tests: synth with cdk-nag, cfn-lint, snapshot normalisation.

jsii start-up costs seconds per process, so each test module synthesizes its
stacks once (module-scoped fixtures) and asserts many things on the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import aws_cdk as cdk
import cdk_nag
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

#: Context the example app reads from cdk.json; ``cdk.App()`` in pytest does not.
DEFAULT_ENV = cdk.Environment(account="111122223333", region="us-east-1")


def new_app(context: dict[str, Any] | None = None, *, nag: bool = True) -> cdk.App:
    """An app with cdk-nag AwsSolutions registered: unacknowledged findings fail synth."""
    app = cdk.App(context=context or {})
    if nag:
        cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    return app


def synth_stacks(
    build: Callable[[cdk.App], Iterable[cdk.Stack]], context: dict[str, Any] | None = None
) -> dict[str, Template]:
    """Build stacks into a nag-checked app, synthesize once, return templates by stack name.

    A cdk-nag finding that is not acknowledged raises here with the full report.
    """
    app = new_app(context)
    stacks = list(build(app))
    app.synth()
    return {stack.stack_name: Template.from_stack(stack) for stack in stacks}


def cfn_lint_findings(template: dict[str, Any], ignore: tuple[str, ...] = ("W3005",)) -> list[str]:
    """cfn-lint findings for a synthesized template, except the ignored rule ids.

    W3005 (redundant DependsOn) is what CDK writes for explicit dependencies.
    """
    matches = lint(
        json.dumps(template),
        regions=["us-east-1"],
        config=ManualArgs(ignore_checks=list(ignore)),
    )
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]


_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalise_for_snapshot(template: dict[str, Any]) -> dict[str, Any]:
    """Replace asset hashes (they change with any byte of lambda_src) by a fixed marker."""
    text = json.dumps(template, sort_keys=True, indent=1)
    text = _ASSET_HASH.sub("<asset-hash>", text)
    return json.loads(text)  # type: ignore[no-any-return]
