"""``IWorkteam`` (what a labeling job needs of a team) and ``ImportedWorkteam`` (one known by ARN)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aws_cdk import Arn, ArnFormat, Token
from constructs import Construct

from .settings import validate_workteam_arn


@runtime_checkable
class IWorkteam(Protocol):
    """A Ground Truth workteam a labeling job sends its tasks to."""

    @property
    def workteam_arn(self) -> str: ...

    @property
    def workteam_name(self) -> str: ...


class ImportedWorkteam(Construct):
    """A workteam made elsewhere (console, another stack, a vendor), known by its ARN."""

    def __init__(self, scope: Construct, construct_id: str, *, workteam_arn: str) -> None:
        super().__init__(scope, construct_id)
        validate_workteam_arn(workteam_arn, f"PrivateWorkteam.from_workteam_arn {self.node.path}")
        self._arn = workteam_arn
        self._name = Arn.split(workteam_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name or ""

    @property
    def workteam_arn(self) -> str:
        return self._arn

    @property
    def workteam_name(self) -> str:
        """The last part of the ARN (``private-crowd/<name>`` → ``<name>``)."""
        return self._name.split("/")[-1] if not Token.is_unresolved(self._name) else self._name
