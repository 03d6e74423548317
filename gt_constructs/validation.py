"""Synth-time validation: collect every problem, raise one error."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Token


class ConfigurationError(ValueError):
    """Invalid construct props; the message lists every problem, what was given and what is allowed."""

    def __init__(self, construct: str, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{construct}: {len(problems)} invalid setting(s):\n{listing}")


class Problems:
    """Collects problems; unresolved tokens are never judged (they are known at deploy)."""

    def __init__(self, construct: str) -> None:
        self.construct = construct
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check_range(self, name: str, value: Any, low: float, high: float, unit: str = "") -> None:
        if value is None or _unresolved(value):
            return
        if not low <= value <= high:
            self.add(f"{name} is {value}{unit}; allowed: {low:g}–{high:g}{unit}")

    def check_pattern(self, name: str, value: str, pattern: str, rule: str) -> None:
        if _unresolved(value):
            return
        if not re.fullmatch(pattern, value):
            self.add(f"{name} {value!r} is not allowed: {rule}")

    def check_length(self, name: str, value: str, low: int, high: int) -> None:
        if _unresolved(value):
            return
        if not low <= len(value) <= high:
            self.add(f"{name} has {len(value)} characters; allowed: {low}–{high}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigurationError(self.construct, self.items)


def _unresolved(value: Any) -> bool:
    return isinstance(value, str | int | float) and Token.is_unresolved(value)


def has_attribute(value: Any, attribute: str) -> bool:
    """Whether ``value`` has ``attribute`` as a property of its class (jsii objects) or
    an attribute of its own (Python constructs), without reading it: reading a jsii
    property calls into the CDK's JavaScript. An object jsii hands back as an interface
    (``kms.Key.from_key_arn``, for one) is a proxy over one
    delegate class per interface: those classes are asked."""
    if hasattr(type(value), attribute) or attribute in getattr(value, "__dict__", {}):
        return True
    delegates = getattr(value, "__dict__", {}).get("_delegates", ())
    return any(hasattr(type(delegate), attribute) for delegate in delegates)
