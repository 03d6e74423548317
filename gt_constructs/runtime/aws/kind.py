"""``Runtime``: where a labeling job runs (Ground Truth, or the self-hosted runtime)."""

from __future__ import annotations

import enum


class Runtime(enum.Enum):
    """Where a ``CustomLabelingJob`` runs and who makes its workteam's AWS resources.

    ``GROUND_TRUTH`` (the default): SageMaker Ground Truth runs the job; the stack
    creates the labeling job, and ``PrivateWorkteam`` the SageMaker workforce and
    workteam. ``SELF_HOSTED``: the library's labeling runtime runs it in the stack
    (DynamoDB, Lambda, Step Functions, an HTTP API and a portal behind CloudFront);
    no SageMaker workforce, workteam or labeling job is created.
    """

    GROUND_TRUTH = "ground-truth"
    SELF_HOSTED = "self-hosted"
