"""Workteams: who labels. ``PrivateWorkteam`` makes one; ``from_workteam_arn`` imports one."""

from __future__ import annotations

from .team import (
    INVITATION_HANDLER,
    MAX_SOURCE_IP_CIDRS,
    WORKFORCE_CLIENT_HANDLER,
    ImportedWorkteam,
    IWorkteam,
    PrivateWorkteam,
)

__all__ = [
    "INVITATION_HANDLER",
    "MAX_SOURCE_IP_CIDRS",
    "WORKFORCE_CLIENT_HANDLER",
    "IWorkteam",
    "ImportedWorkteam",
    "PrivateWorkteam",
]
