"""The curated dataset: loading and validation of ``studies/`` and journaled, atomic writes
(``add-study``).

May import: ``appraisal`` (to check RoB 2 and PEDro rows), ``diagnostics``, ``models`` and the core modules.
"""
