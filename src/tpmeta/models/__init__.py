"""Statistical models: effect sizes and conversions, pooling (with the batched engine), heterogeneity,
meta-regression, subgroups and permutation tests; next Bayesian, network and multilevel models.

May import: the package's core modules (``options``, ``errors``, ``_results``) and NumPy/SciPy/pandas only.
"""
