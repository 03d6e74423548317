"""Workteams: who labels. ``PrivateWorkteam`` makes one; ``from_workteam_arn`` imports one."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from aws_cdk import Arn, ArnFormat, Token
from constructs import Construct

from .validation import Problems

_WORKTEAM_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/(private-crowd|vendor-crowd)/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
)


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
        if not Token.is_unresolved(workteam_arn) and not _WORKTEAM_ARN.fullmatch(workteam_arn):
            problems = Problems(f"PrivateWorkteam.from_workteam_arn {self.node.path}")
            problems.add(
                f"workteam ARN {workteam_arn!r} is not a workteam ARN; allowed: "
                "arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name> "
                "(or vendor-crowd/<name>)"
            )
            problems.raise_if_any()
        self._arn = workteam_arn
        self._name = Arn.split(workteam_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name or ""

    @property
    def workteam_arn(self) -> str:
        return self._arn

    @property
    def workteam_name(self) -> str:
        """The last part of the ARN (``private-crowd/<name>`` → ``<name>``)."""
        return self._name.split("/")[-1] if not Token.is_unresolved(self._name) else self._name


class PrivateWorkteam(Construct):
    """A private workteam of the account's workforce."""

    @staticmethod
    def from_workteam_arn(scope: Construct, construct_id: str, workteam_arn: str) -> IWorkteam:
        """Import a workteam made elsewhere by its ARN (checked at synth unless a token)."""
        return ImportedWorkteam(scope, construct_id, workteam_arn=workteam_arn)
