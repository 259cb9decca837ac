"""Publication figures for tpmeta: forest, funnel, risk-of-bias and flow diagrams; house style and export.

This subpackage is the only place tpmeta uses matplotlib. Importing it has no side effects: matplotlib
is imported inside the functions, figures are created without pyplot (never shown, never registered as
global state) and styling is applied with ``matplotlib.rc_context``.

May import: ``appraisal``, ``diagnostics``, ``models`` and the core modules; never ``dataset`` or ``review``
(a plot takes a result and draws it; it computes nothing statistical).

>>> from tpmeta.plots import forest_plot, save_figure          # doctest: +SKIP
>>> fig = forest_plot(res, favours=("Favours dry needling", "Favours control"))  # doctest: +SKIP
>>> save_figure(fig, "figures/forest_pain", formats=("pdf", "svg", "png", "tiff"))  # doctest: +SKIP
"""

from __future__ import annotations

from .baujat import baujat_plot
from .bayes import posterior_plot, prior_sensitivity_plot, shrinkage_forest
from .flow import flow_diagram
from .forest import ForestColumn, forest_plot
from .funnel import funnel_plot
from .gosh import gosh_plot
from .labbe import labbe_plot
from .multiverse import specification_curve_plot
from .network import league_heatmap, network_graph, node_split_plot, pscore_plot
from .profile import profile_plot
from .qq import qq_plot
from .radial import radial_plot
from .rob import rob_summary_plot, traffic_light_plot
from .sequential import cumulative_plot, leave_one_out_plot
from .style import HOUSE_STYLE, JOURNAL_WIDTHS, save_figure

__all__ = [
    "ForestColumn",
    "HOUSE_STYLE",
    "JOURNAL_WIDTHS",
    "baujat_plot",
    "cumulative_plot",
    "flow_diagram",
    "forest_plot",
    "funnel_plot",
    "gosh_plot",
    "labbe_plot",
    "league_heatmap",
    "leave_one_out_plot",
    "posterior_plot",
    "prior_sensitivity_plot",
    "network_graph",
    "node_split_plot",
    "profile_plot",
    "qq_plot",
    "pscore_plot",
    "radial_plot",
    "rob_summary_plot",
    "save_figure",
    "shrinkage_forest",
    "specification_curve_plot",
    "traffic_light_plot",
]
