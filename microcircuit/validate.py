"""``python -m microcircuit.validate``: see :mod:`microcircuit.commands.validate`."""
import sys

from .commands.validate import main

if __name__ == "__main__":
    sys.exit(main())
