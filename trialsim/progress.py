"""A progress bar on stderr for long runs (tqdm), shown only to a person at a terminal.

Silent when stderr is not a terminal or when `CI` is set, and drawn only after a few
seconds, so short runs and logs stay clean. It only observes the loop: results are the
same with or without it, for any n_jobs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
DELAY_SECONDS = 3.0


def wanted() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(items: Iterable[T], total: int, desc: str) -> Iterator[T]:
    yield from tqdm(items, total=total, desc=desc, unit="rep", file=sys.stderr,
                    disable=not wanted(), delay=DELAY_SECONDS, leave=False,
                    dynamic_ncols=True)
