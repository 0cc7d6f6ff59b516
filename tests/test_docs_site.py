"""The user guide builds as a static site with no warnings (`make docs`), offline.

mkdocs and mkdocs-material are in the test extra, so `make test` (CI) runs this; an
environment without them skips it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytest.importorskip("mkdocs")
pytest.importorskip("material")

GUIDE = ["scenarios", "design-search", "assurance", "sweeps", "outputs", "safety",
         "validation", "performance", "model"]


def test_the_guide_builds_strict_without_warnings(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--site-dir", str(tmp_path / "site")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in GUIDE:
        assert (tmp_path / "site" / "guide" / f"{page}.html").is_file(), page
    index = (tmp_path / "site" / "index.html").read_text()
    assert "fonts.googleapis" not in index  # nothing fetched when the site is opened
    grid = (tmp_path / "site" / "guide" / "validation.html").read_text()
    assert "Type I error at effect 0" in grid  # the committed grid, included


def test_nav_entries_of_absent_pages_are_dropped():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from hooks import _present
    finally:
        sys.path.pop(0)
    nav = [{"Home": "index.md"}, {"Guide": [{"Costs": "guide/not-yet-merged.md"},
                                            {"Assurance": "guide/assurance.md"}]}]
    assert _present(nav, ROOT / "docs") == [
        {"Home": "index.md"}, {"Guide": [{"Assurance": "guide/assurance.md"}]}]
