"""Diagnostics of a fitted model: influence (leave-one-out, cumulative, Baujat), small-study effects
(Egger, Begg, trim-and-fill, PET-PEESE), GOSH, multiverse and sensitivity restrictions.

May import: ``models`` and the core modules (``options``, ``errors``, ``_results``).
"""
