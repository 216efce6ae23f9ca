"""``python -m microcircuit`` is ``python -m microcircuit.run``."""
import sys

from .commands.run import main

sys.exit(main())
