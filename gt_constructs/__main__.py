"""``python -m gt_constructs``: the local workbench (same as the ``gt-constructs`` command)."""

from __future__ import annotations

import sys

from .workbench.cli import main

sys.exit(main())
