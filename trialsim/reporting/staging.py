"""Publishing a run directory's results all or nothing.

Results, figures and the report are written into a private staging directory inside the
run directory (seeded with copies of its files, and links to its subdirectories, so that
the writers read what they would read there). Only when every file is written is each
new or changed one renamed into the run directory, an atomic step per file on the same
filesystem, with the files that mark a run complete (summary.json, design.json) last: a
run or sweep job killed before then has no completion mark and is rerun by `resume`, and
a full disk or a failed rebuild leaves the run directory as it was.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = ".staging-"
COMPLETION_MARKS = ("summary.json", "design.json")  # renamed last: they mark a run complete


def _seed(stage: Path, out_dir: Path) -> None:
    for entry in out_dir.iterdir():
        if entry.name.startswith(PREFIX):
            continue
        if entry.is_dir():
            (stage / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
        elif entry.is_file():
            shutil.copy2(entry, stage / entry.name)


def _commit(stage: Path, out_dir: Path) -> None:
    files = [p for p in stage.iterdir() if p.is_file() and not p.is_symlink()]
    files.sort(key=lambda p: p.name in COMPLETION_MARKS)
    for path in files:
        target = out_dir / path.name
        if target.is_file() and filecmp.cmp(path, target, shallow=False):
            continue  # unchanged: left as it was
        path.replace(target)


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A directory to write `out_dir`'s results in; published into `out_dir` when the
    block ends without an error, discarded (and `out_dir` untouched) when it raises.
    An OSError names the file in `out_dir` it was writing."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=PREFIX, dir=out_dir))
    try:
        _seed(stage, out_dir)
        yield stage
        _commit(stage, out_dir)
    except OSError as ex:
        where = out_dir / Path(ex.filename).name if ex.filename else out_dir
        raise OSError(ex.errno, ex.strerror or str(ex), str(where)) from ex
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def discard_stages(out_dir: Path) -> None:
    """Remove staging directories a killed run left behind."""
    for stage in Path(out_dir).glob(f"{PREFIX}*"):
        shutil.rmtree(stage, ignore_errors=True)
