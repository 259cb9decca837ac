"""Statistical models: effect sizes and conversions, pooling (with the batched engine; Mantel-Haenszel and
Peto for 2×2 tables), heterogeneity, meta-regression with its inference (anova, predict, profiles),
subgroups, permutation tests, Bayesian random effects, network meta-analysis, and multilevel models with
cluster-robust variance.

May import: the package's core modules (``options``, ``errors``, ``_results``) and NumPy/SciPy/pandas only.
"""
