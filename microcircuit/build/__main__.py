"""``python -m microcircuit.build``: compile the neuron module (the same as ``python build.py`` in a checkout)."""
import sys

from ..commands.build import main

sys.exit(main(prog="python -m microcircuit.build"))
