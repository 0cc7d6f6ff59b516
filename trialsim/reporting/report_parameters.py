"""The report's assumptions table: only what the run uses, in plain words (a label per key
from `labels`, the value with its unit, "none" / "not used" for nulls), each source
sentence once (numbered notes the table cites), and every raw key in an appendix.

Why: a reviewer reads the table as the application's list of assumptions; settings of a
site kind the run does not recruit from, or of a switched-off option, are noise there,
and one paragraph repeated beside ten keys hides the ones that differ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from trialsim.reporting import labels
from trialsim.reporting.report_blocks import Block
from trialsim.reporting.rundir import RunDir
from trialsim.reporting.sources import COUNTS, leaves

FILE = "parameter_sources.csv"
_UNDER = re.compile(r"^\(under [\w.]+\)\s*")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: str
    source: str


def used(key: str, cfg) -> bool:
    """Whether the run uses `key` (cfg: RunDir.cfg). Unknown keys count as used."""
    parts = key.split(".")
    if parts[0] == "sites" and len(parts) > 2:
        return bool(cfg(f"sites.{parts[1]}.count", 0))
    allocation = cfg("trial.allocation")
    if key.startswith("trial.pilot_capacity."):
        return allocation in ("pilot_capacity", "fixed_counts")
    if key == "trial.fixed_counts":
        return allocation == "fixed_counts"
    if key == "trial.block_sizes":
        return allocation == "blocks"
    gp, pain = (bool(cfg(f"sites.{k}.count", 0)) for k in ("gp_practices", "pain_services"))
    if key in ("employment.ready.primary_care",):
        return gp
    if key in ("employment.ready.pain_service",):
        return pain
    if key == "participants.years_out_of_work.pain_service_ratio":
        return pain
    if key.startswith("follow_up.esw_completion.") and not key.endswith(".enabled"):
        return bool(cfg("follow_up.esw_completion.enabled"))
    if key.startswith("follow_up.text_followup.") and not key.endswith(".enabled"):
        return bool(cfg("follow_up.text_followup.enabled"))
    if key.startswith("follow_up.interim_contact."):
        return any(m not in (3, 6, 12) for m in cfg("follow_up.months", []) or [])
    if key in ("analysis.esw_variance", "analysis.small_sample"):
        return cfg("analysis.method") == "partially_nested"
    drawn = cfg("uncertainty.mode", "none") not in (None, "none")
    if key.startswith("uncertainty.") and key != "uncertainty.mode":
        return drawn
    if key.endswith(".se") or key.startswith("employment.fit_correlation."):
        return drawn  # the fit's uncertainty: used only when the inputs are drawn
    if key.startswith("delivery.ot."):
        return bool(cfg("delivery.ot.count", 1))
    return True


def _number(v: float) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if v == float("inf"):
        return "no limit"
    return f"{v:,.6g}" if abs(v) >= 1000 else f"{v:.6g}"


def value_words(key: str, v: Any) -> str:
    """A config value as the table shows it: with its unit, counts as 'k of n', nulls as
    'none', switches as 'on' / 'off'."""
    u = labels.unit(key)
    if v is None:
        return labels.NULL_WORDS.get(key.rsplit(".", 1)[-1], "none")
    if isinstance(v, dict) and (set(v) - {"sites"}) in COUNTS:
        text = (f"{v['k']} of {v['n']}" if "k" in v else
                f"{_number(v['events'])} in {_number(v['exposure'])} {u}".rstrip())
        if "sites" in v:
            text += f" (from {v['sites']} site{'' if v['sites'] == 1 else 's'})"
        return text
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, str):
        return labels.VALUE_WORDS.get(v, v.replace("_", " "))
    if isinstance(v, list):
        body = ", ".join(value_words("", x) for x in v)
        return f"{body} {u}".strip() if u and u != "x" else body
    if isinstance(v, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {value_words('', x)}" for k, x in v.items())
    text = _number(v)
    if u == "x":
        return f"{text} x"
    if u in ("months", "days", "weeks", "years", "hours", "points") and text == "1":
        u = u[:-1]
    return f"{text} {u}".strip()


def clean_source(source: str) -> str:
    """The citation without the parser's '(under key)' prefix; the scenario's choice in
    words."""
    text = _UNDER.sub("", str(source or "").strip())
    text = text.replace("scenario's choice; default: ", "set by the scenario; the default's "
                                                        "note: ")
    text = text.replace("scenario: ", "scenario file: ")
    return text or "not documented"


def parameter_rows(run: RunDir) -> list[tuple[Row, bool]]:
    """Every parameter of the run: (row, used by the run), in the config's order."""
    table = run.csv(FILE)
    if table is None:
        return []
    config_leaves = leaves({k: run.config[k] for k in run.config}) if run.config else {}
    out = []
    for r in table.itertuples():
        key = str(r.key)
        if key in config_leaves:
            value = value_words(key, config_leaves[key])
        else:  # no saved config: the csv's text
            value = "none" if str(r.value) in ("null", "nan", "") else str(r.value)
        out.append((Row(key, labels.label(key), value, clean_source(r.source)),
                    used(key, run.cfg) if run.config else True))
    return out


def _notes(rows: list[Row]) -> dict[str, int]:
    """Each distinct source, numbered in order of first use."""
    numbers: dict[str, int] = {}
    for r in rows:
        numbers.setdefault(r.source, len(numbers) + 1)
    return numbers


def assumptions_blocks(run: RunDir, searched: dict[str, Any] | None = None) -> list[Block]:
    """The main table (what the run uses) and its numbered sources; a key in `searched`
    (a design search's levers) shows the recommended design's value first, so that the
    table never reads as the design the report recommends when it is the scenario's."""
    rows = parameter_rows(run)
    if not rows:
        return [("p", f"{FILE} is missing from the run directory.")]
    shown = [r for r, use in rows if use]
    hidden = len(rows) - len(shown)
    notes = _notes(shown)
    blocks: list[Block] = [
        ("p", "The values this run uses, with the source of each (numbers in brackets: the "
              "notes below the table). 'Assumption' marks a value the pilot report does not "
              "give. " + (f"{hidden} settings the run does not use (another site kind, an "
                          "option switched off, uncertainty settings of a run without it) "
                          "are listed only in the appendix with every raw key."
                          if hidden else "")),
        ("table", ["assumption", "value", "source"],
         [[r.label, _searched(r, searched or {}), f"[{notes[r.source]}]"] for r in shown]),
        ("h", 3, "Sources"),
        ("ol", [searched_note(s, [r.key for r in shown if r.source == s], searched or {})
                for s, _ in sorted(notes.items(), key=lambda kv: kv[1])]),
    ]
    return blocks


def _searched(r: Row, searched: dict[str, Any]) -> str:
    if r.key not in searched:
        return r.value
    return (f"{value_words(r.key, searched[r.key])} recommended (set by the search; "
            f"configured {r.value})")


def searched_note(source: str, citing: list[str], searched: dict[str, Any]) -> str:
    """A source note as the design report gives it: a note cited by a searched key, or
    naming one, describes the scenario's setting ("one ESW each"), so it says so and
    gives the recommended design's value, lest it read as the design recommended."""
    keys = [k for k in searched if k in citing or k in source]
    if not keys:
        return source
    return (f"{source} (the scenario's setting; the recommended design's, set by the "
            "search: " + "; ".join(f"{lower_first(labels.label(k))} {value_words(k, searched[k])}"
                               for k in keys) + ")")


def lower_first(text: str) -> str:
    """A label inside a sentence: its first letter lower case, unless an acronym."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def appendix_blocks(run: RunDir, searched: dict[str, Any] | None = None) -> list[Block]:
    """Every raw configuration key with its value and source note; a key in `searched`
    (a design search's levers) with the recommended design's value first, as the
    assumptions table gives it."""
    rows = parameter_rows(run)
    if not rows:
        return []
    shown = [r for r, use in rows if use]
    notes = _notes(shown + [r for r, use in rows if not use])
    extra = [s for s, i in sorted(notes.items(), key=lambda kv: kv[1]) if i > len(_notes(shown))]
    return [("p", "Every model parameter by its configuration key (for a rerun or an "
                  "override), the value as the run used it (for the keys a design search "
                  "sets, the recommended design's beside the configured one), whether the "
                  "run uses it, and its source (the notes of the assumptions table)."),
            ("table", ["key", "value", "used", "source"],
             [[r.key, _searched(r, searched or {}), "yes" if use else "no",
               f"[{notes[r.source]}]"] for r, use in rows]),
            *([("p", f"Sources of the settings the run does not use (notes "
                     f"{len(notes) - len(extra) + 1} to {len(notes)}; notes 1 to "
                     f"{len(notes) - len(extra)} are under the assumptions table)."),
               ("ol", extra, len(notes) - len(extra) + 1)] if extra else [])]
