"""Where each parameter's value comes from, read from the comments beside it in
conf/config.yaml and the scenario's YAML: the citation lives next to the value in one
place, so the report's table stays true when a default is recalibrated. A run saves the
result as `parameter_sources.csv`, so that the report can be rebuilt from the run alone.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # its pandas only where a run directory is read
    from trialsim.reporting.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "conf" / "config.yaml"
SCENARIOS = ROOT / "scenarios"
SECTIONS = ("trial", "screening", "participants", "sites", "delivery", "employment",
            "follow_up", "outcome", "analysis", "uncertainty")
_KEY = re.compile(r"^(\s*)([A-Za-z_][\w]*):(.*)$")


def yaml_comments(text: str) -> dict[str, str]:
    """{dotted key: comment} for `key: value  # comment` lines; comment-only lines
    indented under a key continue its comment."""
    return _parse(text)[0]


def yaml_keys(text: str) -> set[str]:
    """Every dotted key the YAML text sets (parents included)."""
    return _parse(text)[1]


def _parse(text: str) -> tuple[dict[str, str], set[str]]:
    out: dict[str, str] = {}
    seen: set[str] = set()
    stack: list[tuple[int, str]] = []
    # the previous key, its indentation, and whether an indented comment-only line may
    # continue (or, for a block key without a comment, start) its comment
    last: tuple[str, int, bool] | None = None
    leading: list[str] = []  # comment lines standing above the next key
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or line.startswith("#"):
            last, leading = (None, []) if not stripped else (last, leading)
            continue
        if stripped.startswith("#"):
            note = stripped.lstrip("# ").strip()
            indent = len(line) - len(line.lstrip())
            if last is not None and last[2] and indent > last[1] and not leading:
                out[last[0]] = (out.get(last[0], "") + " " + note).strip()
            else:  # a comment above the next key
                leading.append(note)
            continue
        m = _KEY.match(line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        dotted = ".".join(k for _, k in stack)
        seen.add(dotted)
        value, _, comment = _split_comment(rest)
        note = " ".join([*leading, comment.strip()]).strip()
        leading = []
        if note:
            out[dotted] = note
        # a leaf key's comment continues only on lines below it; a comment-only line under a
        # leaf without a comment belongs to the next key, not to this one
        last = (dotted, indent, bool(comment.strip()) or not value)
    return out, seen


def _split_comment(rest: str) -> tuple[str, str, str]:
    """Split `value  # comment`, ignoring a '#' inside quotes."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"":
            quote = None if quote == ch else (quote or ch)
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), "#", rest[i + 1:]
    return rest.strip(), "", ""


COUNTS = ({"k", "n"}, {"events", "exposure"})


def _counts(v: Any) -> bool:
    """`{k, n}` or `{events, exposure}`, with or without the pilot `sites` they came from."""
    return isinstance(v, dict) and (set(v) - {"sites"}) in COUNTS


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaf keys; `{k, n}` and `{events, exposure}` counts stay one value."""
    if isinstance(data, dict) and not _counts(data):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(leaves(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): data}


def format_value(v: Any) -> str:
    if _counts(v):
        text = f"{v['k']}/{v['n']}" if "k" in v else f"{v['events']} per {v['exposure']}"
        if "sites" in v:
            text += f" from {v['sites']} site{'' if v['sites'] == 1 else 's'}"
        return text
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    return "null" if v is None else str(v)


def _comment_for(key: str, comments: dict[str, str]) -> str | None:
    """The comment on the key, or on its nearest parent that has one."""
    parts = key.split(".")
    for i in range(len(parts), 0, -1):
        c = comments.get(".".join(parts[:i]))
        if c:
            return c if i == len(parts) else f"(under {'.'.join(parts[:i])}) {c}"
    return None


def parameter_sources(config: dict[str, Any], overrides: list[str],
                      config_text: str, scenario_text: str | None) -> list[dict[str, str]]:
    """One row per model parameter of the run: key, value, source. A scenario's comment
    wins over the default's; a command-line override is named as the planner's choice."""
    defaults = yaml_comments(config_text)
    scenario, scenario_keys = _parse(scenario_text) if scenario_text else ({}, set())
    overridden = {o.partition("=")[0].lstrip("+~") for o in overrides}
    rows = []
    for key, value in leaves({k: config[k] for k in SECTIONS if k in config}).items():
        if key in overridden:
            source = "set on the command line for this run (planner's choice)"
        elif key in scenario:
            source = f"scenario: {scenario[key]}"
        elif key in scenario_keys:
            source = ("scenario's choice; default: "
                      + (_comment_for(key, defaults) or "not documented"))
        else:
            source = _comment_for(key, defaults) or "not documented"
        rows.append({"key": key, "value": format_value(value), "source": source})
    return rows


def write_parameter_sources(out_dir: Path, config: dict[str, Any], overrides: list[str],
                            scenario_name: str | None) -> None:
    scen = SCENARIOS / f"{scenario_name}.yaml" if scenario_name else None
    rows = parameter_sources(config, overrides, CONFIG.read_text() if CONFIG.is_file() else "",
                             scen.read_text() if scen and scen.is_file() else None)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["key", "value", "source"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    (out_dir / "parameter_sources.csv").write_text(buf.getvalue())


def write_run_sources(run: RunDir) -> None:
    """parameter_sources.csv in the run directory, from its own config."""
    write_parameter_sources(run.path, run.config, run.overrides, run.cfg("scenario_name"))
