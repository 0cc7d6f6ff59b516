"""One look for every figure: Okabe-Ito colours (readable with colour-blindness),
a caption line naming the scenario, replications and seed, and saving that gives the
same bytes on every rebuild (no dates or versions in the files, a fixed SVG hash salt)."""

from __future__ import annotations

import re
import textwrap
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = {
    "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000",
    "grey": "#999999",
}
ARM_COLOURS = {"ips": OKABE_ITO["blue"], "tau": OKABE_ITO["orange"]}
ARM_LABELS = {"ips": "IPS", "tau": "TAU"}
SERIES = [OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "sky", "vermillion",
                                 "yellow", "black")]
DPI = 200
# The text width of an A4 page with 2.5 cm margins (16 cm): every figure is drawn at it, so
# that a font size here is the size printed (and the HTML shows each figure at the text
# width, see templates/report.css); no text below 7 pt.
TEXT_WIDTH = 6.3
RC = {
    "svg.hashsalt": "trialsim",
    "svg.fonttype": "path",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 7.5,
    "figure.titlesize": 9,
    "axes.prop_cycle": matplotlib.cycler(color=SERIES),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": False,
    # save() takes the layout engine away before it saves: with either of these set in a
    # user's matplotlibrc, that would put another engine in its place
    "figure.autolayout": False,
    "figure.constrained_layout.use": False,
}


@contextmanager
def figure_style():
    with matplotlib.rc_context(RC):
        yield


def save(fig, path_png: Path) -> list[Path]:
    """PNG at 200 dpi and SVG beside it, without timestamps or software versions."""
    path_svg = path_png.with_suffix(".svg")
    # the layout is solved once, at the PNG's resolution, as savefig would solve it in
    # the whole draw it makes first (to a renderer that paints nothing) with a layout
    # engine set; with no engine at all (not "none", a placeholder) neither file's
    # savefig makes that draw, and the SVG keeps the PNG's layout: the same bytes
    # (tests/test_reporting.py)
    solve_layout(fig)
    fig.set_layout_engine(None)
    fig.savefig(path_png, dpi=DPI, metadata={"Software": None})
    fig.savefig(path_svg, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    path_svg.write_text(_stable_clip_ids(path_svg.read_text()))
    return [path_png, path_svg]


def solve_layout(fig) -> None:
    """The figure's layout engine run as savefig runs it for a PNG at DPI: the figure at
    that resolution, the text measured by the Agg renderer the PNG is drawn with."""
    engine = fig.get_layout_engine()
    if engine is None:
        return
    dpi = fig.dpi
    fig.dpi = DPI
    try:
        engine.execute(fig)
    finally:
        fig.dpi = dpi


_CLIP_ID = re.compile(r"\bp[0-9a-f]{10}\b")


def _stable_clip_ids(svg: str) -> str:
    """Clip-path ids numbered in order of appearance: matplotlib hashes each clip
    rectangle's coordinates to the last bit, and a constrained layout can differ at
    1e-12 between processes, which would change the ids (not the drawing) on a rebuild."""
    ids: dict[str, str] = {}
    for m in _CLIP_ID.finditer(svg):
        ids.setdefault(m.group(0), f"clip{len(ids):06d}")
    return _CLIP_ID.sub(lambda m: ids[m.group(0)], svg)


def new_figure(width: float, height: float, caption: str, **kwargs):
    """A constrained-layout figure with its caption at the foot, wrapped to the width,
    with room kept for it so that it never runs over the axes."""
    lines = textwrap.wrap(caption, int(width * 16)) or [""]
    foot = (0.05 + 0.12 * len(lines)) / height
    fig = plt.figure(figsize=(width, height), layout="constrained", **kwargs)
    fig.get_layout_engine().set(rect=(0, foot, 1, 1 - foot))
    fig.text(0.01, 0.02 / height, "\n".join(lines), ha="left", va="bottom", fontsize=7,
             color="#444444")
    return fig
