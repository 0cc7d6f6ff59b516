"""Blocks to `report.md` and a self-contained `report.html` through the Jinja2 templates in
`templates/` (layout and style live there, not in Python), and the prose templates
(`templates/prose/*.j2`) that the sections fill with numbers."""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

import jinja2

from trialsim.reporting.report_blocks import Block

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _cell(x: object) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


@cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["cell"] = _cell
    env.filters["stem"] = lambda name: Path(name).stem
    return env


def to_markdown(title: str, blocks: list[Block]) -> str:
    text = _env(False).get_template("report.md.j2").render(title=title, blocks=blocks)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


def to_html(title: str, blocks: list[Block], base: Path) -> str:
    def png(name: str) -> str:
        return base64.b64encode((base / name).read_bytes()).decode("ascii")

    text = _env(True).get_template("report.html.j2").render(title=title, blocks=blocks,
                                                             png=png)
    return text.rstrip("\n") + "\n"


def prose(name: str, **context) -> str:
    """A paragraph from `templates/prose/<name>.j2`, on one line."""
    text = _env(False).get_template(f"prose/{name}.j2").render(**context)
    return " ".join(text.split())
