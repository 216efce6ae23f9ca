"""``python -m microcircuit.analyse``: see :mod:`microcircuit.commands.analyse`."""
import sys

from .commands.analyse import main

if __name__ == "__main__":
    sys.exit(main())
