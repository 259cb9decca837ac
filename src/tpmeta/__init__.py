"""tpmeta: evidence review and meta-analysis of trigger-point therapy trials.

Every estimator is validated against metafor (R). Public API::

    import tpmeta
    es = tpmeta.effect_sizes(data, "SMD")
    res = tpmeta.pool(es["yi"], es["vi"], method="REML", test="knha")
"""

from .errors import (
    ConvergenceWarning,
    DataProblem,
    DataWarning,
    SingleStudyWarning,
    StudyDataError,
    TpmetaWarning,
)
from .options import Judgement, Measure, Method, Test, ZeroCells
from .effects import effect_sizes
from .pooling import BatchPoolResult, PoolResult, estimate_tau2, pool, pool_batch

__version__ = "0.1.0"

__all__ = [
    "BatchPoolResult",
    "ConvergenceWarning",
    "DataProblem",
    "DataWarning",
    "Judgement",
    "Measure",
    "Method",
    "PoolResult",
    "SingleStudyWarning",
    "StudyDataError",
    "Test",
    "TpmetaWarning",
    "ZeroCells",
    "effect_sizes",
    "estimate_tau2",
    "pool",
    "pool_batch",
]
