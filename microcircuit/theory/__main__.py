"""``python -m microcircuit.theory``: see :mod:`microcircuit.commands.theory`."""
import sys

from ..commands.theory import main

sys.exit(main())
