"""Shared behaviour of result objects: a tidy ``to_frame()`` and an HTML repr for notebooks."""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ResultMixin", "CoefTableMixin", "format_number"]


def format_number(value: Any, digits: int = 4) -> str:
    """Format for display only (never used inside computation)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "—"
        if value != 0 and (abs(value) < 10 ** (-digits) or abs(value) >= 1e6):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}f}"
    return str(value)


class ResultMixin:
    """Mixin for frozen dataclasses whose scalar fields form a one-row summary."""

    #: fields left out of ``to_frame()`` and the HTML repr (per-study arrays and the like)
    _array_fields: tuple[str, ...] = ()

    def _scalar_items(self) -> list[tuple[str, Any]]:
        out = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in self._array_fields or f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if hasattr(value, "value") and not isinstance(value, (int, float)):
                value = value.value  # enums as their string value
            out.append((f.name, value))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Scalar fields as plain Python values (enums as strings), e.g. for JSON."""
        out: dict[str, Any] = {}
        for name, value in self._scalar_items():
            if isinstance(value, np.generic):
                value = value.item()
            out[name] = value
        return out

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of the scalar fields, named as the dataclass fields."""
        return pd.DataFrame([self.to_dict()])

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:right'>{html.escape(format_number(value))}</td></tr>"
            for name, value in self._scalar_items()
        )
        title = html.escape(type(self).__name__)
        return f"<table><caption>{title}</caption>{rows}</table>"


class CoefTableMixin(ResultMixin):
    """A result with a coefficient table (meta-regression, multilevel models): ``coef_frame()`` and the
    table in the HTML repr. Needs fields ``names``, ``coef``, ``se``, ``statistic``, ``pvalue``,
    ``ci_low``, ``ci_high``."""

    def coef_frame(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, statistic, pvalue, ci_low, ci_high."""
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.statistic,  # type: ignore[attr-defined]
                             "pvalue": self.pvalue, "ci_low": self.ci_low, "ci_high": self.ci_high},  # type: ignore[attr-defined]
                            index=pd.Index(self.names, name="term"))  # type: ignore[attr-defined]  # fmt: skip

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.coef_frame().to_html(float_format=format_number)

