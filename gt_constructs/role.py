"""Import path of the first release; the roles and grants live in ``gt_constructs.job.role``."""

from .job.role import PayloadAccess, execution_role, grant_job_permissions

__all__ = ["PayloadAccess", "execution_role", "grant_job_permissions"]
