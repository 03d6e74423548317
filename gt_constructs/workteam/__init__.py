"""Workteams: who labels. ``PrivateWorkteam`` makes one; ``from_workteam_arn`` imports one.

``settings`` judges the props (pure), ``workforce`` builds a new workforce or
stands for the existing one, ``team`` assembles the workteam, ``imported``
holds ``IWorkteam`` and the ARN import.
"""

from __future__ import annotations

from .imported import ImportedWorkteam, IWorkteam
from .settings import MAX_SOURCE_IP_CIDRS, WorkteamSettings
from .team import PrivateWorkteam
from .workforce import INVITATION_HANDLER, WORKFORCE_CLIENT_HANDLER

__all__ = [
    "INVITATION_HANDLER",
    "MAX_SOURCE_IP_CIDRS",
    "WORKFORCE_CLIENT_HANDLER",
    "IWorkteam",
    "ImportedWorkteam",
    "PrivateWorkteam",
    "WorkteamSettings",
]
