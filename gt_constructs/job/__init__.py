"""The job wing: ``CustomLabelingJob`` and the parts it is built from.

``from gt_constructs.job import CustomLabelingJob`` keeps working; the
package's modules are the job's parts (see ``construct``'s docstring).
"""

from .construct import CLOSED_TO_NEW_CUSTOMERS_WARNING, CustomLabelingJob

__all__ = ["CLOSED_TO_NEW_CUSTOMERS_WARNING", "CustomLabelingJob"]
