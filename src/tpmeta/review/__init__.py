"""The review: declared analyses → review object → tables → report (and ``add-study``'s comparison).

May import every layer below it (``dataset``, ``appraisal``, ``diagnostics``, ``models``, ``plots``, core);
only ``cli`` and the package's ``__init__`` import it.
"""
