"""Display formatting (rounding for display only) and text measurement with the figure's renderer."""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any

import numpy as np

MINUS = "\u2212"


def fmt_num(value: float, digits: int = 2) -> str:
    """Fixed decimals with a typographic minus; NaN as an en dash."""
    if value is None or not np.isfinite(value):
        return "\u2013"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text.replace("-", MINUS)


def fmt_sig(value: float) -> str:
    """Three significant figures without scientific notation, for τ² and the like."""
    if not np.isfinite(value):
        return "\u2013"
    if value == 0:
        return "0"
    if abs(value) < 1e-4:
        return "< 0.0001" if value > 0 else fmt_num(value, 4)
    decimals = max(0, 2 - int(math.floor(math.log10(abs(value)))))
    return fmt_num(value, min(decimals, 4))


def fmt_p(p: float) -> str:
    """``p = 0.04``, ``p = 0.004`` or ``p < 0.001``."""
    if not np.isfinite(p):
        return "p = \u2013"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def fmt_data(values: Any) -> list[str]:
    """Format one column of caller data with as many decimals as it carries (at most 3)."""
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    decimals = 0
    for d in range(4):
        decimals = d
        if np.all(np.abs(np.round(finite, d) - finite) <= 1e-9 * np.maximum(1, np.abs(finite))):
            break
    return ["" if not np.isfinite(v) else fmt_num(v, decimals) for v in arr]


class Measurer:
    """Text extents in inches, measured with the figure's renderer (cached)."""

    def __init__(self, fig: Any, renderer: Any, family: str) -> None:
        self.fig, self.renderer, self.family = fig, renderer, family
        self._cache: dict[tuple[str, float, str], tuple[float, float]] = {}

    def size(self, text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
        """Width and height (inches) of ``text`` as drawn (multi-line aware)."""
        key = (text, fontsize, weight)
        if key not in self._cache:
            if not text:
                self._cache[key] = (0.0, 0.0)
            else:
                from matplotlib.text import Text

                t = Text(0, 0, text, fontsize=fontsize, fontweight=weight, family=self.family,
                         parse_math=False)  # fmt: skip
                t.set_figure(self.fig)
                bb = t.get_window_extent(self.renderer)
                self._cache[key] = (bb.width / self.fig.dpi, bb.height / self.fig.dpi)
        return self._cache[key]

    def width(self, text: str, fontsize: float, weight: str = "normal") -> float:
        return self.size(text, fontsize, weight)[0]


def wrap_to_width(text: str, max_width: float, measure: Measurer, fontsize: float,
                  weight: str = "normal") -> str:  # fmt: skip
    """Wrap ``text`` at spaces (breaking over-long words) so every line fits ``max_width`` inches.

    Words are packed greedily by their measured widths; the result is verified by measuring each line.
    """
    if measure.width(text, fontsize, weight) <= max_width:
        return text
    limit = max_width
    for _ in range(20):
        lines = _greedy(text, limit, measure, fontsize, weight)
        if all(measure.width(line, fontsize, weight) <= max_width for line in lines):
            return "\n".join(lines)
        limit *= 0.97
    return "\n".join(lines)  # pragma: no cover - pathological fonts


def _greedy(text: str, limit: float, measure: Measurer, fontsize: float, weight: str) -> list[str]:
    space = measure.width("a a", fontsize, weight) - measure.width("aa", fontsize, weight)
    lines: list[str] = []
    current, cur_w = "", 0.0
    for word in re.split(r"[ \t\n]+", text.strip()):  # a no-break space (U+00A0) keeps words together
        w = measure.width(word, fontsize, weight)
        if w > limit:  # break an over-long word into pieces that fit
            chars = max(1, int(len(word) * limit / w))
            pieces = textwrap.wrap(word, chars, break_long_words=True) or [word]
        else:
            pieces = [word]
        for piece in pieces:
            pw = measure.width(piece, fontsize, weight)
            if current and cur_w + space + pw <= limit:
                current, cur_w = f"{current} {piece}", cur_w + space + pw
            else:
                if current:
                    lines.append(current)
                current, cur_w = piece, pw
    if current:
        lines.append(current)
    return lines


def pack_parts(parts: list[str], max_width: float, measure: Measurer, fontsize: float,
               sep: str = "; ") -> str:  # fmt: skip
    """Join ``parts`` with ``sep`` into as few lines as fit ``max_width`` (a part is never split)."""
    lines: list[str] = []
    for part in parts:
        if lines and measure.width(lines[-1] + sep + part, fontsize) <= max_width:
            lines[-1] = lines[-1] + sep + part
        else:
            if lines:
                lines[-1] += sep.rstrip()
            lines.append(part)
    return "\n".join(lines)
