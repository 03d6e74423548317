"""Import path of the first release; the table lives in ``gt_constructs.job.skill_table``."""

from .job.skill_table import SkillScope, worker_skill_table

__all__ = ["SkillScope", "worker_skill_table"]
