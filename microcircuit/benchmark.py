"""``python -m microcircuit.benchmark``: see :mod:`microcircuit.commands.benchmark`."""
import sys

from .commands.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
