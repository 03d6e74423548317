"""The contract between the workteam construct and the invitation function, written once.

The Cognito custom-message function learns the workforce and team from its
environment; the construct writes it with ``InvitationSettings.to_environment``
and the function reads it with ``from_environment``. Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The private workforce whose portal the invitation links to.
ENV_WORKFORCE_NAME = "GT_WORKFORCE_NAME"
#: The team's name as the invitation shows it.
ENV_TEAM_NAME = "GT_TEAM_NAME"
#: The invitation e-mail's subject.
ENV_INVITATION_SUBJECT = "GT_INVITATION_SUBJECT"
#: The log level: Lambda's own variable, set from the function's application log level.
ENV_LOG_LEVEL = "AWS_LAMBDA_LOG_LEVEL"

DEFAULT_TEAM_NAME = "private"


def default_invitation_subject(team: str) -> str:
    return f"Invitation to the {team} labeling team"


@dataclass(frozen=True)
class InvitationSettings:
    """What the invitation function needs to write its e-mail."""

    workforce_name: str | None = None
    team_name: str = DEFAULT_TEAM_NAME
    subject: str | None = None

    @property
    def invitation_subject(self) -> str:
        return self.subject or default_invitation_subject(self.team_name)

    def to_environment(self) -> dict[str, str]:
        env = {ENV_TEAM_NAME: self.team_name, ENV_INVITATION_SUBJECT: self.invitation_subject}
        if self.workforce_name:
            env = {ENV_WORKFORCE_NAME: self.workforce_name, **env}
        return env

    @staticmethod
    def from_environment(env: Mapping[str, str] | None = None) -> InvitationSettings:
        env = os.environ if env is None else env
        return InvitationSettings(
            workforce_name=env.get(ENV_WORKFORCE_NAME) or None,
            team_name=env.get(ENV_TEAM_NAME) or DEFAULT_TEAM_NAME,
            subject=env.get(ENV_INVITATION_SUBJECT) or None,
        )
