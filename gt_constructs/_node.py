"""Node.js, which the AWS CDK's Python library runs on (through jsii): is it there?

``import aws_cdk`` starts a Node.js process; without Node.js it dies in a jsii
traceback that never says "Node.js". These checks say it in one line, before
that import. Standard library only: importing this module starts nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

#: The Node.js the library is tested on; jsii supports 22 and newer, and runs on 20
#: with an end-of-life banner (``JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION``).
NODE_REQUIREMENT = "Node.js 20 or newer (22 recommended)"


class NodeNotFoundError(RuntimeError):
    """Node.js, which the AWS CDK runs on, cannot be found."""


def node_executable() -> str | None:
    """The Node.js jsii will start (``$JSII_NODE``, else ``node`` on ``PATH``), if it exists."""
    return shutil.which(os.environ.get("JSII_NODE") or "node")


def node_major(executable: str) -> int | None:
    """The major version ``executable --version`` reports, if it runs."""
    try:
        version = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.match(r"v?(\d+)\.", version.strip())
    return int(found.group(1)) if found else None


def node_problem() -> str | None:
    """Why the AWS CDK cannot start here, in one line, or ``None`` when Node.js is found."""
    if node_executable() is not None:
        return None
    given = os.environ.get("JSII_NODE")
    where = f"JSII_NODE={given} is not an executable" if given else "`node` is not on PATH"
    return (
        f"Node.js was not found ({where}): the AWS CDK's Python library runs on Node.js; "
        f"install {NODE_REQUIREMENT}, e.g. from https://nodejs.org or your package manager"
    )


def require_node() -> None:
    """Raise ``NodeNotFoundError`` (one line saying what to install) when Node.js is missing."""
    problem = node_problem()
    if problem is not None:
        raise NodeNotFoundError(problem)
