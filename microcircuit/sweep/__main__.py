"""``python -m microcircuit.sweep``: see :mod:`microcircuit.commands.sweep`."""
import sys

from ..commands.sweep import main

sys.exit(main())
