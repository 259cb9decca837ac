"""Appraisal of the evidence: risk of bias (RoB 2, with what each judgement rests on and PEDro-informed
answers), methodological quality (PEDro), certainty (GRADE) and Summary of Findings.

May import: ``diagnostics``, ``models`` and the core modules (``options``, ``errors``, ``_results``).
"""
