"""``python -m microcircuit.run``: see :mod:`microcircuit.commands.run`."""
import sys

from .commands.run import main

if __name__ == "__main__":
    sys.exit(main())
