"""Scenario files are data: refuse any that could change Hydra or run code.

A scenario YAML may set the model's keys and name other scenarios of its own group in
`defaults`. It may not set `hydra` (output directories, callbacks, launchers), any
`_target_` (an object Hydra would instantiate), `defaults` outside its group, a package
other than `_global_`, a YAML tag, or an interpolation that calls a resolver (`${oc.env:..}`
reads the environment, `${hydra:..}` Hydra's settings: neither is data). Checked before
Hydra composes anything, so that a refused file has run nothing and written nothing; the
file's size and its aliases' expansion are bounded before it is parsed (a 'billion
laughs' file is a few lines that expand to billions of nodes).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

PACKAGE = re.compile(r"^\s*#\s*@package\s+(\S+)")
NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
RESOLVER = re.compile(r"\$\{\s*([^\s:}]+)\s*:")  # ${name:...}: a resolver call
MAX_BYTES = 1 << 20  # a scenario is a page of settings; the shipped ones are under 10 kB
MAX_NODES = 100_000  # nodes after expanding every alias


def resolver_call(text: str, allowed: tuple[str, ...] = ()) -> str | None:
    """The first resolver `text` calls that is not in `allowed`, or None."""
    return next((m.group(1) for m in RESOLVER.finditer(text) if m.group(1) not in allowed),
                None)


def _expanded_nodes(text: str) -> int | None:
    """The node count with every alias expanded, or None once it passes MAX_NODES (counted
    from the parser's events: nothing is built)."""
    sizes: dict[str, int] = {}
    frames: list[list[Any]] = [[None, 0]]  # [anchor, nodes so far]: the document, then
    for ev in yaml.parse(text):            # each open mapping or sequence
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            frames.append([ev.anchor, 1])
            continue
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, n = frames.pop()
        elif isinstance(ev, yaml.AliasEvent):
            anchor, n = None, sizes.get(ev.anchor, 1)
        elif isinstance(ev, yaml.ScalarEvent):
            anchor, n = ev.anchor, 1
        else:
            continue
        if anchor:
            sizes[anchor] = n
        frames[-1][1] += n
        if frames[-1][1] > MAX_NODES:
            return None
    return frames[0][1]


def _tagged_key(text: str) -> tuple[str, str] | None:
    """(key path, tag) of the first node carrying an explicit YAML tag, or None."""
    stack: list[list[Any]] = []  # [kind, key or index, expecting_key]
    path: list[str] = []

    def position() -> str:
        return ".".join(path) or "(top level)"

    for ev in yaml.parse(text):
        is_node = isinstance(ev, (yaml.ScalarEvent, yaml.MappingStartEvent,
                                  yaml.SequenceStartEvent, yaml.AliasEvent))
        if not is_node:
            if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                if path and stack:
                    path.pop()
                _after_value(stack)
            continue
        frame = stack[-1] if stack else None
        as_key = frame is not None and frame[0] == "map" and frame[2]
        if as_key:
            path.append(str(getattr(ev, "value", "?")))
        elif frame is not None and frame[0] == "seq":
            path.append(f"[{frame[1]}]")
        tag = getattr(ev, "tag", None)
        if tag is not None:
            return position(), tag
        if isinstance(ev, yaml.MappingStartEvent):
            stack.append(["map", None, True])
            continue
        if isinstance(ev, yaml.SequenceStartEvent):
            stack.append(["seq", 0, False])
            continue
        if as_key:
            frame[2] = False
            continue
        if frame is not None:
            path.pop()
        _after_value(stack)
    return None


def _after_value(stack: list[list[Any]]) -> None:
    if not stack:
        return
    frame = stack[-1]
    if frame[0] == "map":
        frame[2] = True
    else:
        frame[1] += 1


def _find_target(node: Any, prefix: str = "") -> str | None:
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if key == "_target_":
                return dotted
            found = _find_target(value, dotted + ".")
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _find_target(value, f"{prefix}[{i}].")
            if found:
                return found
    return None


def check_scenario_file(path: Path, seen: frozenset[Path] = frozenset()) -> str | None:
    """One line naming the file and the offending key, or None if `path` is plain data."""
    where = f"scenario file {path}"
    if path in seen:
        return f"{where}: defaults include it again (a cycle)"
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return f"{where}: {size:,} bytes is not allowed: at most {MAX_BYTES:,}"
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as ex:
        return f"{where}: cannot be read ({getattr(ex, 'strerror', None) or ex})"
    for line in text.splitlines():
        m = PACKAGE.match(line)
        if m and m.group(1) != "_global_":
            return f"{where}: '@package {m.group(1)}' is not allowed: only '@package _global_'"
    try:
        if _expanded_nodes(text) is None:
            return (f"{where}: its aliases expand to over {MAX_NODES:,} nodes: not allowed "
                    "(a scenario is plain data)")
        tagged = _tagged_key(text)
        if tagged:
            return f"{where}: key {tagged[0]} carries the YAML tag {tagged[1]!r}: not allowed " \
                   "in a scenario (plain data only)"
        data = yaml.safe_load(text)
    except yaml.YAMLError as ex:
        return f"{where}: not valid YAML ({str(ex).splitlines()[0]})"
    if data is None:
        return None
    called = resolver_call(text)
    if called:
        return (f"{where}: the interpolation ${{{called}:...}} is not allowed in a scenario "
                "(it reads the environment or Hydra's settings; a scenario is plain data)")
    if not isinstance(data, dict):
        return f"{where}: must be a mapping of config keys, not {type(data).__name__}"
    if "hydra" in data:
        return f"{where}: key hydra is not allowed in a scenario (Hydra's settings are not data)"
    target = _find_target(data)
    if target:
        return f"{where}: key {target} is not allowed in a scenario (it would instantiate code)"
    defaults = data.get("defaults")
    if defaults is None:
        return None
    if not isinstance(defaults, list):
        return f"{where}: key defaults must be a list of scenario names of this group"
    for i, entry in enumerate(defaults):
        if entry == "_self_":
            continue
        if not isinstance(entry, str) or not NAME.match(entry) or \
                not (path.parent / f"{entry}.yaml").is_file():
            return (f"{where}: key defaults[{i}]={entry!r} is not allowed: only _self_ or "
                    f"the name of another scenario in {path.parent}")
        error = check_scenario_file(path.parent / f"{entry}.yaml", seen | {path})
        if error:
            return error
    return None
