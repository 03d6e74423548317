"""The annotation functions' package, however the runtime was imported.

Inside the library (``gt_constructs.lambda_src.gt_runtime``) it is the sibling
``gt_annotation`` package; in the Lambda asset, where both are top-level
packages, the top-level one. One place decides, so the runtime and the
handlers it calls always share the same module objects (and so the same
injection points).
"""

from __future__ import annotations

try:
    from ..gt_annotation import contract, payload, post_annotation, pre_annotation, skill
except ImportError:  # gt_runtime is a top-level package (the Lambda asset's root)
    from gt_annotation import (  # type: ignore[no-redef]
        contract,
        payload,
        post_annotation,
        pre_annotation,
        skill,
    )

__all__ = ["contract", "payload", "post_annotation", "pre_annotation", "skill"]
