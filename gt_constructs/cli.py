"""Compatibility shim: the workbench's command line lives in ``gt_constructs.workbench.cli``; ``from gt_constructs.cli import main`` keeps working."""

from .workbench.cli import main as main
