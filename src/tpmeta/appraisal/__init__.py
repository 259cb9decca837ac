"""Appraisal of the evidence: risk of bias (RoB 2), methodological quality (PEDro), certainty (GRADE)
and Summary of Findings.

May import: ``diagnostics``, ``models`` and the core modules (``options``, ``errors``, ``_results``).
"""
