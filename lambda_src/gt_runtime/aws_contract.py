"""What the self-hosted runtime's stack and its Lambda handlers agree on.

The CDK side (``gt_constructs/runtime/aws``) reads these names to build the table,
the functions' environment and the state-change events; the handlers
(``aws_api``, ``aws_tasks``, ``aws_lifecycle``, ``dynamo_store``) read them back.
Standard library only.
"""

from __future__ import annotations

#: ``source`` of the jobs' state-change events (a custom publisher may not use ``aws.*``);
#: detail-type and detail are Ground Truth's.
EVENT_SOURCE = "gt-constructs.runtime"
STATE_CHANGE_DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"

#: The pool's group whose members act as the requester.
DEFAULT_REQUESTER_GROUP = "labeling-requesters"

# -- the functions' environment ------------------------------------------------------------
ENV_TABLE = "GT_RUNTIME_TABLE"
ENV_EVENT_SOURCE = "GT_RUNTIME_EVENT_SOURCE"
ENV_REQUESTER_GROUP = "GT_RUNTIME_REQUESTER_GROUP"
#: The user pool's issuer URL (``https://cognito-idp.<region>.amazonaws.com/<pool id>``).
ENV_ISSUER = "GT_RUNTIME_ISSUER"
ENV_STATE_MACHINE = "GT_RUNTIME_STATE_MACHINE"
#: The task pages' origin (the HTTP API's own URL) and the portal's (CloudFront).
ENV_TASK_ORIGIN = "GT_RUNTIME_TASK_ORIGIN"
ENV_PORTAL_ORIGIN = "GT_RUNTIME_PORTAL_ORIGIN"
#: The Secrets Manager secret whose value signs task-page, submit and data tokens.
ENV_SIGNING_SECRET = "GT_RUNTIME_SIGNING_SECRET"
#: Seconds a data object's presigned S3 URL lives (the page asks again when it reloads).
DATA_URL_SECONDS = 300

# -- handlers ------------------------------------------------------------------------------
API_HANDLER = "gt_runtime.aws_api.handler"
TASK_PAGE_HANDLER = "gt_runtime.aws_api.task_handler"
STEPS_HANDLER = "gt_runtime.aws_tasks.handler"
LIFECYCLE_HANDLER = "gt_runtime.aws_lifecycle.handler"

# -- the table (single-table design: ``dynamo_store``'s docstring has the items) ---------------
PK = "pk"
SK = "sk"
#: Index name -> (partition key, sort key) attribute names (all strings, sparse).
INDEXES = {
    "gsi1": ("gsi1pk", "gsi1sk"),
    "gsi2": ("gsi2pk", "gsi2sk"),
}
#: Attributes the indexes hold besides their keys (a claim reads the free slots there).
INDEX_ATTRIBUTES = ("taken", "needed")

#: Manifest lines per pre-annotation chunk (one Distributed Map item each).
PRE_ANNOTATION_CHUNK = 500
