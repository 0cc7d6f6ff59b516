"""`python -m trialsim.report RUN_DIR`: alias of `python -m trialsim.reporting.report`."""

import sys

from trialsim.reporting.report import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
