"""Enumerated options, parsed once at the edge of the public API.

Each option is a :class:`str`-valued :class:`enum.Enum`. Public functions accept either the enum member
or its exact string value (``method="REML"``); anything else raises a :class:`ValueError` that lists the
valid values. There are deliberately no synonyms (``"reml"`` or ``"DerSimonian"`` are rejected) so that
an analysis script means exactly one thing.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

__all__ = ["Method", "BinaryMethod", "Test", "Measure", "ZeroCells", "Judgement", "MultilevelTest", "SmallValues", "EggerModel", "EggerPredictor",
           "VarianceType", "parse_option"]


class _Option(str, Enum):
    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class Method(_Option):
    """Estimator of the between-study variance τ² (or ``FE`` for the fixed/common-effect model)."""

    FE = "FE"  #: inverse-variance fixed (common) effect, τ² = 0
    DL = "DL"  #: DerSimonian-Laird method of moments
    REML = "REML"  #: restricted maximum likelihood (Fisher scoring)
    ML = "ML"  #: maximum likelihood (Fisher scoring)
    PM = "PM"  #: Paule-Mandel generalised Q
    HE = "HE"  #: Hedges (unweighted method of moments)
    SJ = "SJ"  #: Sidik-Jonkman
    HS = "HS"  #: Hunter-Schmidt
    EB = "EB"  #: empirical Bayes (Morris)


class BinaryMethod(_Option):
    """Pooling of 2×2 tables by :func:`tpmeta.pool_binary` (common-effect models)."""

    MH = "MH"  #: Mantel-Haenszel (OR, RR, RD)
    PETO = "PETO"  #: Peto's one-step log odds ratio


class Test(_Option):
    """Test and interval for the pooled effect."""

    __test__ = False  # not a pytest test class, despite the name

    Z = "z"  #: Wald-type z test with normal quantiles
    KNHA = "knha"  #: Hartung-Knapp-Sidik-Jonkman: scaled variance, t with k - 1 df
    KNHA_ADHOC = "knha_adhoc"  #: as knha with the scale factor max(1, s²) (metafor's test="adhoc")

    @property
    def knapp_hartung(self) -> bool:
        """Knapp–Hartung type (``knha``, ``knha_adhoc``): scaled variance, t quantiles on k − p df."""
        return self in (Test.KNHA, Test.KNHA_ADHOC)


class MultilevelTest(_Option):
    """Test and interval for the fixed effects of :func:`tpmeta.multilevel` (metafor's ``rma.mv(test=)``)."""

    Z = "z"  #: Wald z tests with normal quantiles; QM as χ²
    T = "t"  #: t tests on k − p df, QM/m as F(m, k − p); the variance is not rescaled


class Measure(_Option):
    """Effect-size measures computed by :func:`tpmeta.effect_sizes`."""

    SMD = "SMD"  #: standardised mean difference, Hedges' g
    MD = "MD"  #: raw mean difference
    SMD_CHANGE = "SMD_CHANGE"  #: SMD of change scores from pre/post summaries and a correlation
    RR = "RR"  #: log risk ratio
    OR = "OR"  #: log odds ratio
    RD = "RD"  #: risk difference
    PETO = "PETO"  #: Peto's log odds ratio
    ROM = "ROM"  #: log ratio of means
    COR = "COR"  #: raw correlation coefficient
    ZCOR = "ZCOR"  #: Fisher's z-transformed correlation
    IRR = "IRR"  #: log incidence rate ratio
    PR = "PR"  #: raw proportion
    PLO = "PLO"  #: logit (log odds) of a proportion
    PAS = "PAS"  #: arcsine square-root transformed proportion
    PFT = "PFT"  #: Freeman-Tukey double arcsine transformed proportion
    SMCC = "SMCC"  #: standardised mean change, change-score standardisation (pre-post)
    SMCR = "SMCR"  #: standardised mean change, raw-score standardisation (pre-post)
    GENERIC = "GENERIC"  #: a reported estimate with its CI or SE

    @property
    def is_ratio(self) -> bool:
        """Whether the measure is a ratio analysed on the log scale."""
        return self in (Measure.RR, Measure.OR, Measure.PETO, Measure.ROM, Measure.IRR)


class SmallValues(_Option):
    """Which end of the effect scale is better, for ranking treatments (P-scores of
    :func:`tpmeta.network_meta`; netmeta's ``small.values``)."""

    DESIRABLE = "desirable"  #: smaller effects are better (e.g. a log odds ratio of death)
    UNDESIRABLE = "undesirable"  #: larger effects are better (e.g. a log odds ratio of response)


class EggerModel(_Option):
    """The regression of Egger's test (metafor's ``regtest(model=)``)."""

    LM = "lm"  #: weighted least squares with a free dispersion (Egger et al. 1997)
    RMA = "rma"  #: the meta-regression with the model's τ² method and test (metafor's default)


class EggerPredictor(_Option):
    """The precision measure Egger's test regresses on (metafor's ``regtest(predictor=)``)."""

    SEI = "sei"  #: standard error
    VI = "vi"  #: sampling variance
    NI = "ni"  #: sample size
    NINV = "ninv"  #: 1 / sample size
    SQRTNI = "sqrtni"  #: √ sample size
    SQRTNINV = "sqrtninv"  #: 1 / √ sample size


class VarianceType(_Option):
    """Sampling-variance formula of an effect size (metafor's ``escalc(vtype=)``); which types a measure
    offers is listed in :data:`tpmeta.models.effects_extra.VTYPES`."""

    LS = "LS"  #: large-sample approximation (the default)
    LS2 = "LS2"  #: the alternative large-sample formula
    UB = "UB"  #: unbiased estimate
    AV = "AV"  #: with the average over the rows in place of each row's value
    HO = "HO"  #: assuming homoscedastic groups
    AVHO = "AVHO"  #: AV and HO together


class ZeroCells(_Option):
    """Which 2×2 tables get the continuity correction ``add`` (metafor's ``to`` argument)."""

    ONLY0 = "only0"  #: tables with at least one zero cell (metafor's default)
    ALL = "all"  #: every table
    IF0ALL = "if0all"  #: every table, if any table has a zero cell
    NONE = "none"  #: no correction


class Judgement(_Option):
    """Risk-of-bias judgement levels (RoB 2)."""

    LOW = "low"
    SOME_CONCERNS = "some concerns"
    HIGH = "high"


E = TypeVar("E", bound=Enum)


def parse_option(enum: type[E], value: E | str, name: str) -> E:
    """Return ``value`` as a member of ``enum``; raise ``ValueError`` listing valid values otherwise.

    >>> parse_option(Method, "REML", "method")
    <Method.REML: 'REML'>
    """
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in enum)  # type: ignore[attr-defined]
        raise ValueError(f"{name}={value!r} is not valid; choose one of {valid}") from None
