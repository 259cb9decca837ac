"""tpmeta: evidence review and meta-analysis of trigger-point therapy trials.

Every estimator is validated against metafor (R). Public API::

    import tpmeta
    es = tpmeta.effect_sizes(data, "SMD")
    res = tpmeta.pool(es["yi"], es["vi"], method="REML", test="knha")

Figures live in :mod:`tpmeta.plots` (the only module that imports matplotlib).
"""

from .appraisal.grade import (
    GradeAssessment,
    apply_overrides,
    suggest_grade,
    summary_of_findings,
)
from .appraisal.pedro import pedro_score, pedro_table
from .appraisal.rob2 import assess_rob2, rob2_table
from .dataset.studies import StudyData, ValidationReport, load_studies, validate_studies
from .diagnostics.gosh import gosh
from .diagnostics.influence import baujat, influence_diagnostics
from .diagnostics.multiverse import run_multiverse, summarise_multiverse
from .diagnostics.sensitivity import cumulative, leave_one_out, restrict
from .diagnostics.smallstudy import (
    BeggResult,
    EggerResult,
    PetPeeseResult,
    TrimFillResult,
    begg_test,
    egger_test,
    pet_peese,
    trim_and_fill,
)
from .errors import (
    ConvergenceWarning,
    DataProblem,
    DataWarning,
    SingleStudyWarning,
    StudyDataError,
    TpmetaWarning,
)
from .models.conversions import (
    combine_arms,
    fill_mean_sd,
    mean_sd_from_median,
    sd_from_ci,
    sd_from_se,
)
from .models.effects import effect_sizes
from .models.metareg import MetaRegResult, meta_regression
from .models.permutation import PermutationResult, permutation_test
from .models.pooling import BatchPoolResult, PoolResult, estimate_tau2, pool, pool_batch
from .models.subgroups import SubgroupResult, subgroup_analysis
from .options import Judgement, Measure, Method, Test, ZeroCells
from .review.analyses import AnalysisResult, AnalysisSpec, run_all, run_analysis

__version__ = "0.1.0"

__all__ = [
    "AnalysisResult",
    "AnalysisSpec",
    "BatchPoolResult",
    "BeggResult",
    "ConvergenceWarning",
    "DataProblem",
    "DataWarning",
    "EggerResult",
    "GradeAssessment",
    "Judgement",
    "Measure",
    "MetaRegResult",
    "Method",
    "PermutationResult",
    "PetPeeseResult",
    "PoolResult",
    "SingleStudyWarning",
    "StudyData",
    "StudyDataError",
    "SubgroupResult",
    "Test",
    "TpmetaWarning",
    "TrimFillResult",
    "ValidationReport",
    "ZeroCells",
    "apply_overrides",
    "assess_rob2",
    "baujat",
    "begg_test",
    "combine_arms",
    "cumulative",
    "effect_sizes",
    "egger_test",
    "estimate_tau2",
    "fill_mean_sd",
    "gosh",
    "influence_diagnostics",
    "leave_one_out",
    "load_studies",
    "mean_sd_from_median",
    "meta_regression",
    "pedro_score",
    "pedro_table",
    "permutation_test",
    "pet_peese",
    "pool",
    "pool_batch",
    "restrict",
    "rob2_table",
    "run_all",
    "run_analysis",
    "run_multiverse",
    "sd_from_ci",
    "sd_from_se",
    "subgroup_analysis",
    "suggest_grade",
    "summarise_multiverse",
    "summary_of_findings",
    "trim_and_fill",
    "validate_studies",
]
