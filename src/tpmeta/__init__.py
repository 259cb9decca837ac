"""tpmeta: evidence review and meta-analysis of trigger-point therapy trials.

Every estimator is validated against metafor (R). Public API::

    import tpmeta
    es = tpmeta.effect_sizes(data, "SMD")
    res = tpmeta.pool(es["yi"], es["vi"], method="REML", test="knha")

Figures live in :mod:`tpmeta.plots` (the only module that imports matplotlib).

Importing tpmeta is cheap: each public name is imported from its module on first use (PEP 562), so the
command line and scripts that need only part of the package do not pay for pandas, SciPy's statistics or
the report machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConvergenceWarning,
    DataProblem,
    DataWarning,
    SingleStudyWarning,
    StudyDataError,
    TpmetaWarning,
)
from .options import (
    BinaryMethod,
    EggerModel,
    EggerPredictor,
    Judgement,
    Measure,
    Method,
    MultilevelTest,
    SmallValues,
    Test,
    VarianceType,
    ZeroCells,
)

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "AnalysisResult": "tpmeta.review.analyses",
    "AnalysisSpec": "tpmeta.review.analyses",
    "BatchPoolResult": "tpmeta.models.pooling",
    "BayesBatchResult": "tpmeta.models.bayes",
    "BayesPoolResult": "tpmeta.models.bayes",
    "BeggResult": "tpmeta.diagnostics.smallstudy",
    "BinaryPoolResult": "tpmeta.models.binary_pooling",
    "BlupResult": "tpmeta.models.inference",
    "EggerResult": "tpmeta.diagnostics.smallstudy",
    "GradeAssessment": "tpmeta.appraisal.grade",
    "HarbordResult": "tpmeta.diagnostics.regtest",
    "LRTResult": "tpmeta.models.comparison",
    "MetaRegResult": "tpmeta.models.metareg",
    "MuPrior": "tpmeta.models.bayes",
    "MultilevelResult": "tpmeta.models.multilevel",
    "NetworkResult": "tpmeta.models.network",
    "PermutationResult": "tpmeta.models.permutation",
    "PetPeeseResult": "tpmeta.diagnostics.smallstudy",
    "PetersResult": "tpmeta.diagnostics.regtest",
    "PoolResult": "tpmeta.models.pooling",
    "PredictResult": "tpmeta.models.inference",
    "ProfileResult": "tpmeta.models.profile",
    "RobustResult": "tpmeta.models.robust",
    "RveResult": "tpmeta.models.robust",
    "Sigma2Profile": "tpmeta.models.multilevel",
    "StudyData": "tpmeta.dataset.studies",
    "SubgroupResult": "tpmeta.models.subgroups",
    "Tau2CIType": "tpmeta.models.inference",
    "Tau2Interval": "tpmeta.models.inference",
    "TauPrior": "tpmeta.models.bayes",
    "TrimFillResult": "tpmeta.diagnostics.smallstudy",
    "ValidationReport": "tpmeta.dataset.studies",
    "WaldResult": "tpmeta.models.inference",
    "anova": "tpmeta.models.comparison",
    "apply_overrides": "tpmeta.appraisal.grade",
    "assess_rob2": "tpmeta.appraisal.rob2",
    "baujat": "tpmeta.diagnostics.influence",
    "begg_test": "tpmeta.diagnostics.smallstudy",
    "blup": "tpmeta.models.inference",
    "combine_arms": "tpmeta.models.conversions",
    "confint_tau2": "tpmeta.models.inference",
    "cumulative": "tpmeta.diagnostics.sensitivity",
    "effect_sizes": "tpmeta.models.effects",
    "egger_test": "tpmeta.diagnostics.smallstudy",
    "estimate_tau2": "tpmeta.models.pooling",
    "fill_mean_sd": "tpmeta.models.conversions",
    "gosh": "tpmeta.diagnostics.gosh",
    "harbord_test": "tpmeta.diagnostics.regtest",
    "influence_diagnostics": "tpmeta.diagnostics.influence",
    "labbe_data": "tpmeta.diagnostics.graphical",
    "leave_one_out": "tpmeta.diagnostics.sensitivity",
    "load_studies": "tpmeta.dataset.studies",
    "mean_sd_from_median": "tpmeta.models.conversions",
    "meta_regression": "tpmeta.models.metareg",
    "multilevel": "tpmeta.models.multilevel",
    "network_meta": "tpmeta.models.network",
    "pedro_score": "tpmeta.appraisal.pedro",
    "pedro_table": "tpmeta.appraisal.pedro",
    "permutation_test": "tpmeta.models.permutation",
    "pet_peese": "tpmeta.diagnostics.smallstudy",
    "peters_test": "tpmeta.diagnostics.regtest",
    "pool": "tpmeta.models.pooling",
    "pool_batch": "tpmeta.models.pooling",
    "pool_bayes": "tpmeta.models.bayes",
    "pool_bayes_batch": "tpmeta.models.bayes",
    "pool_binary": "tpmeta.models.binary_pooling",
    "predict": "tpmeta.models.inference",
    "profile_sigma2": "tpmeta.models.multilevel",
    "profile_tau2": "tpmeta.models.profile",
    "qq_residuals": "tpmeta.diagnostics.graphical",
    "radial_data": "tpmeta.diagnostics.graphical",
    "restrict": "tpmeta.diagnostics.sensitivity",
    "rob2_table": "tpmeta.appraisal.rob2",
    "robust": "tpmeta.models.robust",
    "run_all": "tpmeta.review.analyses",
    "run_analysis": "tpmeta.review.analyses",
    "run_multiverse": "tpmeta.diagnostics.multiverse",
    "rve": "tpmeta.models.robust",
    "sd_from_ci": "tpmeta.models.conversions",
    "sd_from_se": "tpmeta.models.conversions",
    "subgroup_analysis": "tpmeta.models.subgroups",
    "suggest_grade": "tpmeta.appraisal.grade",
    "summarise_multiverse": "tpmeta.diagnostics.multiverse",
    "summary_of_findings": "tpmeta.appraisal.grade",
    "trim_and_fill": "tpmeta.diagnostics.smallstudy",
    "turner_prior": "tpmeta.models.bayes",
    "validate_studies": "tpmeta.dataset.studies",
    "wald_test": "tpmeta.models.inference",
}

#: Subpackages reachable as attributes (``tpmeta.plots``) without an explicit import.
_SUBPACKAGES = frozenset({"appraisal", "cli", "dataset", "diagnostics", "models", "plots", "review"})

__all__ = [
    "AnalysisResult",
    "AnalysisSpec",
    "BatchPoolResult",
    "BayesBatchResult",
    "BayesPoolResult",
    "BeggResult",
    "BinaryMethod",
    "BinaryPoolResult",
    "BlupResult",
    "ConvergenceWarning",
    "DataProblem",
    "DataWarning",
    "EggerModel",
    "EggerPredictor",
    "EggerResult",
    "GradeAssessment",
    "HarbordResult",
    "Judgement",
    "LRTResult",
    "Measure",
    "MetaRegResult",
    "Method",
    "MuPrior",
    "MultilevelResult",
    "MultilevelTest",
    "NetworkResult",
    "PermutationResult",
    "PetPeeseResult",
    "PetersResult",
    "PoolResult",
    "PredictResult",
    "ProfileResult",
    "RobustResult",
    "RveResult",
    "Sigma2Profile",
    "SingleStudyWarning",
    "SmallValues",
    "StudyData",
    "StudyDataError",
    "SubgroupResult",
    "Tau2CIType",
    "Tau2Interval",
    "TauPrior",
    "Test",
    "TpmetaWarning",
    "TrimFillResult",
    "ValidationReport",
    "VarianceType",
    "WaldResult",
    "ZeroCells",
    "anova",
    "apply_overrides",
    "assess_rob2",
    "baujat",
    "begg_test",
    "blup",
    "combine_arms",
    "confint_tau2",
    "cumulative",
    "effect_sizes",
    "egger_test",
    "estimate_tau2",
    "fill_mean_sd",
    "gosh",
    "harbord_test",
    "influence_diagnostics",
    "labbe_data",
    "leave_one_out",
    "load_studies",
    "mean_sd_from_median",
    "meta_regression",
    "multilevel",
    "network_meta",
    "pedro_score",
    "pedro_table",
    "permutation_test",
    "pet_peese",
    "peters_test",
    "pool",
    "pool_batch",
    "pool_bayes",
    "pool_bayes_batch",
    "pool_binary",
    "predict",
    "profile_sigma2",
    "profile_tau2",
    "qq_residuals",
    "radial_data",
    "restrict",
    "rob2_table",
    "robust",
    "run_all",
    "run_analysis",
    "run_multiverse",
    "rve",
    "sd_from_ci",
    "sd_from_se",
    "subgroup_analysis",
    "suggest_grade",
    "summarise_multiverse",
    "summary_of_findings",
    "trim_and_fill",
    "turner_prior",
    "validate_studies",
    "wald_test",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups are ordinary attribute access
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tpmeta' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBPACKAGES})


if TYPE_CHECKING:  # static type checkers and IDEs see ordinary imports
    from .appraisal.grade import (  # noqa: F401
        GradeAssessment,
        apply_overrides,
        suggest_grade,
        summary_of_findings,
    )
    from .appraisal.pedro import pedro_score, pedro_table  # noqa: F401
    from .appraisal.rob2 import assess_rob2, rob2_table  # noqa: F401
    from .dataset.studies import (  # noqa: F401
        StudyData,
        ValidationReport,
        load_studies,
        validate_studies,
    )
    from .diagnostics.gosh import gosh  # noqa: F401
    from .diagnostics.graphical import labbe_data, qq_residuals, radial_data  # noqa: F401
    from .diagnostics.influence import baujat, influence_diagnostics  # noqa: F401
    from .diagnostics.multiverse import run_multiverse, summarise_multiverse  # noqa: F401
    from .diagnostics.regtest import (  # noqa: F401
        HarbordResult,
        PetersResult,
        harbord_test,
        peters_test,
    )
    from .diagnostics.sensitivity import cumulative, leave_one_out, restrict  # noqa: F401
    from .diagnostics.smallstudy import (  # noqa: F401
        BeggResult,
        EggerResult,
        PetPeeseResult,
        TrimFillResult,
        begg_test,
        egger_test,
        pet_peese,
        trim_and_fill,
    )
    from .models.bayes import (  # noqa: F401
        BayesBatchResult,
        BayesPoolResult,
        MuPrior,
        TauPrior,
        pool_bayes,
        pool_bayes_batch,
        turner_prior,
    )
    from .models.binary_pooling import BinaryPoolResult, pool_binary  # noqa: F401
    from .models.comparison import LRTResult, anova  # noqa: F401
    from .models.conversions import (  # noqa: F401
        combine_arms,
        fill_mean_sd,
        mean_sd_from_median,
        sd_from_ci,
        sd_from_se,
    )
    from .models.effects import effect_sizes  # noqa: F401
    from .models.inference import (  # noqa: F401
        BlupResult,
        PredictResult,
        Tau2CIType,
        Tau2Interval,
        WaldResult,
        blup,
        confint_tau2,
        predict,
        wald_test,
    )
    from .models.metareg import MetaRegResult, meta_regression  # noqa: F401
    from .models.multilevel import (  # noqa: F401
        MultilevelResult,
        Sigma2Profile,
        multilevel,
        profile_sigma2,
    )
    from .models.network import NetworkResult, network_meta  # noqa: F401
    from .models.permutation import PermutationResult, permutation_test  # noqa: F401
    from .models.pooling import (  # noqa: F401
        BatchPoolResult,
        PoolResult,
        estimate_tau2,
        pool,
        pool_batch,
    )
    from .models.profile import ProfileResult, profile_tau2  # noqa: F401
    from .models.robust import RobustResult, RveResult, robust, rve  # noqa: F401
    from .models.subgroups import SubgroupResult, subgroup_analysis  # noqa: F401
    from .review.analyses import AnalysisResult, AnalysisSpec, run_all, run_analysis  # noqa: F401
