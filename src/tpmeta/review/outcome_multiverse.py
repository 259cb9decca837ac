"""The multiverse of one outcome in the shipped dataset: the review's own analytic choices (time point,
intervention, comparator, risk of bias) crossed with τ² estimators and tests, fitted by
:func:`tpmeta.diagnostics.multiverse.run_multiverse`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dataset.studies import StudyData
from ..diagnostics.multiverse import run_multiverse
from ..options import Measure, parse_option
from .analyses import AnalysisSpec, run_analysis
from .build import Review, build_review

__all__ = ["review_multiverse"]


def review_multiverse(data: StudyData, outcome: str, measure: str = "SMD", *, review: Review | None = None
                      ) -> pd.DataFrame:  # fmt: skip
    """The multiverse of one outcome in the dataset: time point (first/last after treatment) ×
    intervention (any manual technique / compression only) × comparator (inactive / any) × risk of bias
    (all / not high) × τ² estimator (REML, DL, PM) × test (z, knha)."""
    manual = ("ischemic_compression", "pressure_release", "massage", "self_massage", "instrument_assisted", "other")
    review = build_review(data) if review is None else review  # pass the review to build it only once
    rob = review.rob[review.rob["outcome"] == outcome].set_index("study_id")["overall"] if len(review.rob) else pd.Series(dtype=object)
    frames = []
    for rule in ("first_post", "last"):
        spec = AnalysisSpec("multiverse", "multiverse", outcome, parse_option(Measure, measure, "measure"), rule,
                            manual, ("sham", "no_treatment", "usual_care", "active"))  # fmt: skip
        res = run_analysis(data, spec)
        if res.studies.empty:
            continue
        fx = res.studies[["study_id", "yi", "vi", "intervention_class", "comparator_class"]].copy()
        fx["high_rob"] = [rob.get(s) == "high" for s in fx["study_id"]]
        choices = {
            "intervention": {"any manual": lambda d: d.yi == d.yi,
                             "compression only": lambda d: d.intervention_class.isin(["ischemic_compression", "pressure_release"])},
            "comparator": {"inactive": lambda d: d.comparator_class.isin(["sham", "no_treatment", "usual_care"]),
                           "any": lambda d: d.yi == d.yi},
            "risk_of_bias": {"all": lambda d: d.yi == d.yi, "not high": lambda d: ~d.high_rob},
        }  # fmt: skip
        out = run_multiverse(fx.reset_index(drop=True), choices)
        out.insert(0, "timepoint", rule)
        out["members"] = [",".join(fx["study_id"][np.array(list(m)) == "1"]) for m in out["members"]]
        frames.append(out)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
