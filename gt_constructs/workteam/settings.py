"""A workteam's settings as values: every problem found at once, and what follows from them.

Pure: no construct, no stack. ``PrivateWorkteam`` builds one from its props
(the workteam name already defaulted, the existing pool and client reduced to
whether they were given) and validates it before creating anything.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from aws_cdk import Token

from ..lambda_src.gt_resources.contract import InvitationSettings, default_invitation_subject
from ..validation import ConfigurationError, Problems

MAX_SOURCE_IP_CIDRS = 10
DEFAULT_DESCRIPTION = "Private labeling workteam (gt-constructs)"
DEFAULT_WORKFORCE_NAME = "default"

_WORKTEAM_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/(private-crowd|vendor-crowd)/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
)
_WORKFORCE_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9\-]){0,62}"
_WORKTEAM_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_DOMAIN_PREFIX = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_RESERVED_IN_DOMAIN = ("aws", "amazon", "cognito")
# Pragmatic address check: one @, a dot in the domain, no spaces; Cognito usernames ≤ 128.
_EMAIL = r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+"


@dataclass(frozen=True)
class WorkteamSettings:
    """The props of ``PrivateWorkteam`` that are judged before anything is created.

    ``existing_workforce`` says a ``user_pool`` was given, ``user_pool_client_given``
    that a ``user_pool_client`` was; the objects themselves are not needed to judge.
    """

    workteam_name: str
    description: str = DEFAULT_DESCRIPTION
    display_name: str | None = None
    worker_emails: tuple[str, ...] = ()
    existing_worker_usernames: tuple[str, ...] = ()
    existing_workforce: bool = False
    user_pool_client_given: bool = False
    user_pool_client_id: str | None = None
    workforce_name: str = DEFAULT_WORKFORCE_NAME
    source_ip_cidrs: tuple[str, ...] = ()
    domain_prefix: str | None = None
    #: ``Runtime.SELF_HOSTED``: no SageMaker workforce or workteam is made.
    self_hosted: bool = False

    # -- derived values -----------------------------------------------------------------------

    @property
    def team_label(self) -> str:
        """How the invitation names the team: the display name, else the workteam name."""
        return self.display_name or self.workteam_name

    @property
    def invitation_subject(self) -> str:
        return default_invitation_subject(self.team_label)

    @property
    def invitation(self) -> InvitationSettings:
        """What the new workforce's invitation function is told (its environment)."""
        return InvitationSettings(self.workforce_name, self.team_label, self.invitation_subject)

    @property
    def group_description(self) -> str:
        return f"Members of the {self.workteam_name} Ground Truth workteam"[:2048]

    # -- validation ---------------------------------------------------------------------------

    def validate(self, construct: str) -> None:
        """Raise one ``ConfigurationError`` naming ``construct`` if there is any problem."""
        found = self.problems()
        if found:
            raise ConfigurationError(construct, found)

    def problems(self) -> list[str]:
        """Every problem of these settings, in a stable order; unresolved tokens are not judged."""
        problems = Problems("PrivateWorkteam")
        self._check_names(problems)
        self._check_emails(problems)
        self._check_workforce_choice(problems)
        self._check_cidrs(problems)
        self._check_domain_prefix(problems)
        self._check_self_hosted(problems)
        return problems.items

    def _check_names(self, problems: Problems) -> None:
        problems.check_pattern(
            "workteam_name",
            self.workteam_name,
            _WORKTEAM_NAME,
            "1–63 letters and digits, single or repeated hyphens inside "
            "(^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$)",
        )
        problems.check_pattern(
            "workforce_name",
            self.workforce_name,
            _WORKFORCE_NAME,
            "1–63 letters, digits and hyphens, starting with a letter or digit "
            "(^[a-zA-Z0-9]([a-zA-Z0-9\\-]){0,62}$)",
        )
        problems.check_length("description", self.description, 1, 200)

    def _check_emails(self, problems: Problems) -> None:
        seen: set[str] = set()
        for address in self.worker_emails:
            if Token.is_unresolved(address):
                continue
            if len(address) > 128 or not re.fullmatch(_EMAIL, address):
                problems.add(
                    f"worker e-mail {address!r} is not an e-mail address; allowed: "
                    "name@domain.tld, at most 128 characters"
                )
            elif address.lower() in seen:
                problems.add(f"worker e-mail {address!r} is listed twice (addresses ignore case)")
            seen.add(address.lower())

    def _check_workforce_choice(self, problems: Problems) -> None:
        """New workforce (no pool, no client) or existing one (pool and one client)."""
        existing, client_given = self.existing_workforce, self.user_pool_client_given
        if existing and not client_given and not self.user_pool_client_id and not self.self_hosted:
            problems.add(
                "user_pool is given without its app client; give user_pool_client or "
                "user_pool_client_id too (aws sagemaker describe-workforce --workforce-name "
                "default shows Workforce.CognitoConfig.ClientId)"
            )
        if client_given and self.user_pool_client_id:
            problems.add("give user_pool_client or user_pool_client_id, not both")
        if not existing and (client_given or self.user_pool_client_id):
            problems.add(
                "an app client is given without user_pool; an existing workforce needs both "
                "(or neither, for a new workforce)"
            )
        if existing and self.source_ip_cidrs:
            problems.add(
                "source_ip_cidrs applies to a new workforce only; the existing one keeps its "
                "own (aws sagemaker update-workforce --source-ip-config)"
            )
        if not existing and self.existing_worker_usernames:
            problems.add(
                "existing_worker_usernames names users of an existing pool; give user_pool "
                "(and its client) too, or list new workers in worker_emails"
            )
        if existing and self.domain_prefix:
            problems.add("domain_prefix applies to a new workforce only")

    def _check_cidrs(self, problems: Problems) -> None:
        if len(self.source_ip_cidrs) > MAX_SOURCE_IP_CIDRS:
            problems.add(
                f"source_ip_cidrs has {len(self.source_ip_cidrs)} entries; allowed: at most "
                f"{MAX_SOURCE_IP_CIDRS}"
            )
        for cidr in self.source_ip_cidrs:
            if Token.is_unresolved(cidr):
                continue
            try:
                ipaddress.ip_network(cidr, strict=True)
                if "/" not in cidr:
                    raise ValueError("no prefix length")
            except ValueError:
                problems.add(
                    f"source_ip_cidrs entry {cidr!r} is not a CIDR block; allowed: a network "
                    "address with prefix length, e.g. 203.0.113.0/24 (host bits zero)"
                )

    def _check_domain_prefix(self, problems: Problems) -> None:
        prefix = self.domain_prefix
        if prefix is None or Token.is_unresolved(prefix):
            return
        reserved = [word for word in _RESERVED_IN_DOMAIN if word in prefix]
        if not re.fullmatch(_DOMAIN_PREFIX, prefix) or reserved:
            problems.add(
                f"domain_prefix {prefix!r} is not allowed: 1–63 lowercase letters, "
                "digits and hyphens, not starting or ending with a hyphen, without the "
                "words aws, amazon or cognito"
            )

    def _check_self_hosted(self, problems: Problems) -> None:
        """What only a SageMaker workforce does has no meaning on the self-hosted runtime."""
        if self.self_hosted and self.source_ip_cidrs:
            problems.add(
                "source_ip_cidrs restricts a SageMaker workforce's portal; with "
                "runtime=Runtime.SELF_HOSTED there is none (restrict the runtime's API and "
                "portal with AWS WAF instead), so leave source_ip_cidrs out"
            )


def validate_workteam_arn(workteam_arn: str, construct: str) -> None:
    """Raise a ``ConfigurationError`` naming ``construct`` unless this is a workteam ARN (or a token)."""
    if Token.is_unresolved(workteam_arn) or _WORKTEAM_ARN.fullmatch(workteam_arn):
        return
    raise ConfigurationError(
        construct,
        [
            f"workteam ARN {workteam_arn!r} is not a workteam ARN; allowed: "
            "arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name> "
            "(or vendor-crowd/<name>)"
        ],
    )


def short_digest(text: str) -> str:
    """Ten hex digits of SHA-256: stable construct-id suffixes (workers, template digests)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
