"""``python -m microcircuit`` is ``python -m microcircuit.run``."""
import sys

from .run import main

sys.exit(main())
