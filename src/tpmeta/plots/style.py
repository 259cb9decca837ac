"""House style, journal widths, font resolution and figure export.

Every plotting function applies :data:`HOUSE_STYLE` through :func:`matplotlib.rc_context`, so global
``rcParams`` are never changed. Fonts are resolved once to a concrete TrueType family and set on each
artist explicitly, so that a figure draws with the metrics it was laid out with even when it is later
drawn or saved outside the style context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["HOUSE_STYLE", "JOURNAL_WIDTHS", "COLORS", "save_figure", "figure_width", "font_family", "readable_ink", "tint"]

MM_PER_INCH = 25.4

#: Column widths of typical journals (85 mm single, 170 mm double column), in inches.
JOURNAL_WIDTHS: dict[str, float] = {"single": 85 / MM_PER_INCH, "double": 170 / MM_PER_INCH}

#: Preferred sans-serif TrueType families, first available wins (Liberation Sans is metric-compatible
#: with Arial). Only TrueType files are used so that PDFs embed them as FontFile2 (``pdf.fonttype=42``).
PREFERRED_FONTS: tuple[str, ...] = ("Arial", "Helvetica", "Liberation Sans", "DejaVu Sans")

#: Glyphs the plots need; a family lacking any of them is skipped.
REQUIRED_GLYPHS = "τ²−×±≤≥–·?+0123456789%[]"

#: One consistent set of rcParams for all tpmeta figures, applied with ``matplotlib.rc_context``.
HOUSE_STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": list(PREFERRED_FONTS),
    "font.size": 7.0,
    "axes.titlesize": 7.0,
    "axes.labelsize": 7.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.edgecolor": "black",
    "axes.labelcolor": "black",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.unicode_minus": True,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.minor.visible": False,
    "ytick.minor.visible": False,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.color": "black",
    "ytick.color": "black",
    "lines.linewidth": 0.8,
    "lines.solid_capstyle": "butt",
    "patch.linewidth": 0.6,
    "text.usetex": False,
    "mathtext.default": "regular",
    "figure.dpi": 150,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.dpi": 300,
    "savefig.bbox": None,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "tpmeta",
}

#: Colours shared by the plots (Cochrane RoB traffic lights included).
COLORS: dict[str, str] = {
    "study": "#1F3A5F",
    "line": "black",
    "pooled": "black",
    "pooled_alt": "white",
    "prediction": "#A23B2A",
    "null": "#666666",
    "rule": "black",
    "rob_low": "#02C100",
    "rob_some": "#E2DF07",
    "rob_high": "#BF0000",
    "rob_none": "#4EA1F7",
}


@lru_cache(maxsize=None)
def font_family() -> str:
    """The family the figures use: the first of :data:`PREFERRED_FONTS` installed as TrueType with every
    required glyph (else DejaVu Sans, shipped with matplotlib), as its lean copy (:func:`_lean_family`)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    for name in (*PREFERRED_FONTS, "DejaVu Sans"):
        paths = [f.fname for f in font_manager.fontManager.ttflist if f.name == name and f.fname.lower().endswith(".ttf")]
        if not paths:
            continue
        try:
            charmap = FT2Font(paths[0]).get_charmap()
        except (OSError, RuntimeError):  # pragma: no cover - unreadable font file
            continue
        if all(ord(c) in charmap for c in REQUIRED_GLYPHS):
            return _lean_family(name, sorted(set(paths)))
    return "DejaVu Sans"  # pragma: no cover - matplotlib ships it


#: OpenType layout tables left out of the lean font copies. matplotlib lays text out itself (FreeType
#: advances and the ``kern`` table), so a figure never uses them, but saving a PDF subsets the font with
#: fontTools, which parses them on every save: about 70 % of the time to save a forest plot.
_LAYOUT_TABLES = ("GPOS", "GSUB", "GDEF", "BASE", "JSTF", "morx", "kerx")
_LEAN_SUFFIX = " tpmeta"


def _lean_family(name: str, paths: list[str]) -> str:
    """Register copies of the family's files without :data:`_LAYOUT_TABLES`, named ``<name> tpmeta``,
    and return that name; the original name if a copy cannot be made.

    The copies live in matplotlib's cache directory (one per source file, keyed by its size and
    modification time, written atomically), keep every glyph, metric and the PostScript name, so PDFs
    still name the original font; only matplotlib's font list learns the new family (a cache, not a
    setting: nothing of the user's rcParams changes). Written here because matplotlib has no option to
    skip the layout tables when subsetting.
    """
    import os
    import tempfile

    import matplotlib as mpl
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    lean = name + _LEAN_SUFFIX
    try:
        cache = Path(mpl.get_cachedir()) / "tpmeta-fonts"
        cache.mkdir(parents=True, exist_ok=True)
        for src in paths:
            st = os.stat(src)
            out = cache / f"{Path(src).stem}-{st.st_size}-{st.st_mtime_ns}.ttf"
            if not out.exists():
                font = TTFont(src)
                for table in _LAYOUT_TABLES:
                    if table in font:
                        del font[table]
                for record in font["name"].names:
                    if record.nameID in (1, 16):  # family and typographic family
                        record.string = lean
                with tempfile.NamedTemporaryFile(dir=cache, suffix=".ttf", delete=False) as tmp:
                    font.save(tmp.name)
                os.replace(tmp.name, out)
            if not any(f.fname == str(out) for f in font_manager.fontManager.ttflist):
                font_manager.fontManager.addfont(str(out))
    except (OSError, KeyError, ValueError):  # pragma: no cover - read-only cache or an unusual font file
        return name
    return lean


def tint(colour: Any, amount: float = 0.25) -> str:
    """``colour`` mixed with white (``amount`` of the colour): the pale centre of a hollow symbol."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(tuple(1 - amount * (1 - c) for c in to_rgb(colour)))


def readable_ink(fill: Any) -> str:
    """Black or white, whichever contrasts more with ``fill`` (WCAG 2 relative luminance and contrast
    ratio, https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio): text and symbols on dark fills stay legible."""
    from matplotlib.colors import to_rgb

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(fill))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "white" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "black"


def style() -> dict[str, Any]:
    """:data:`HOUSE_STYLE` with the resolved font family first."""
    rc = dict(HOUSE_STYLE)
    rc["font.sans-serif"] = [font_family(), *PREFERRED_FONTS]
    return rc


def figure_width(width: str | float) -> float:
    """Width in inches from ``"single"``/``"double"`` or a number of inches."""
    if isinstance(width, str):
        try:
            return JOURNAL_WIDTHS[width]
        except KeyError:
            raise ValueError(
                f"width={width!r} is not valid; choose 'single', 'double' or a number of inches"
            ) from None
    value = float(width)
    if not value > 0:
        raise ValueError(f"width={width!r} must be a positive number of inches")
    return value


def new_figure(width_in: float, height_in: float) -> Any:
    """A Figure with an Agg canvas, not registered with pyplot (no global state, no auto-show)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=HOUSE_STYLE["figure.dpi"])
    FigureCanvasAgg(fig)
    return fig


def axes_or_new(ax: Any, width: str | float, height: Any) -> tuple[Any, Any, bool]:
    """The caller's Axes, or a new single-Axes figure of ``width`` and ``height(width_in)`` inches with
    the constrained layout; returns ``(fig, ax, own)``."""
    own = ax is None
    if own:
        w = figure_width(width)
        fig = new_figure(w, height(w))
        fig.set_layout_engine("constrained", h_pad=2 / 72, w_pad=2 / 72)
        ax = fig.add_subplot()
    return ax.figure, ax, own


def get_renderer(fig: Any) -> Any:
    """The figure's renderer (for text measurement)."""
    canvas = fig.canvas
    if hasattr(canvas, "get_renderer"):
        return canvas.get_renderer()
    return fig._get_renderer()  # pragma: no cover - non-Agg canvases


_SAVE_KW: dict[str, dict[str, Any]] = {
    "pdf": {"metadata": {"Creator": "tpmeta", "CreationDate": None}},
    "svg": {"metadata": {"Creator": "tpmeta", "Date": None}},
    "png": {"metadata": {"Software": "tpmeta"}},
    "tiff": {},  # written by _save_rgb_tiff
    "eps": {"metadata": {"Creator": "tpmeta"}},
}


def save_figure(
    fig: Any,
    path_stem: str | Path,
    formats: Sequence[str] | str = ("pdf", "svg", "png"),
    dpi: int = 300,
) -> list[Path]:
    """Save ``fig`` as ``path_stem.<format>`` for each format; return the written paths.

    PDF keeps text as text with embedded TrueType fonts (``pdf.fonttype=42``); SVG keeps text as
    ``<text>`` elements (``svg.fonttype='none'``) so that it stays editable; PNG and TIFF are written at
    ``dpi`` (TIFF through Pillow, LZW-compressed). The figure is saved at its own size (no tight bounding
    box), so a figure laid out for a journal column keeps that width.

    Raises
    ------
    ValueError
        An unknown format.
    ImportError
        TIFF requested but Pillow is not importable (nothing is written in that case).
    """
    import matplotlib as mpl

    if isinstance(formats, str):
        formats = (formats,)
    fmts = [str(f).lower().lstrip(".") for f in formats]
    fmts = ["tiff" if f == "tif" else f for f in fmts]
    unknown = [f for f in fmts if f not in _SAVE_KW]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {sorted(_SAVE_KW)}")
    if "tiff" in fmts:
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise ImportError(
                "TIFF output needs Pillow, which is not importable; install Pillow or drop 'tiff' "
                "from formats"
            ) from None
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with mpl.rc_context(style()):
        for fmt in _unique(fmts):
            path = stem.with_name(f"{stem.name}.{fmt}")
            if fmt == "tiff":
                _save_rgb_tiff(fig, path, dpi)
            else:
                fig.savefig(path, format=fmt, dpi=dpi, **_SAVE_KW[fmt])
            written.append(path)
    return written


def _save_rgb_tiff(fig: Any, path: Path, dpi: int) -> None:
    """TIFF as journals ask for it: RGB on white (no alpha channel), LZW-compressed, with its dpi.
    (matplotlib writes RGBA TIFFs, which several submission systems reject.)"""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    rgba = Image.open(buf)
    rgb = Image.new("RGB", rgba.size, "white")
    rgb.paste(rgba, mask=rgba.getchannel("A") if "A" in rgba.getbands() else None)
    rgb.save(path, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi))


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
