#!/usr/bin/env python3
"""Compile the NESTML neuron in ``models/`` into a NEST extension module.

Usage::

    python build.py            # build into ./build (skipped when nothing changed)
    python build.py --force    # rebuild even when up to date

The work is done by :mod:`microcircuit.build` (``python -m microcircuit.build`` outside a
source checkout); ``python build.py --help`` says where the module goes.
"""
import sys

from microcircuit.commands.build import main

if __name__ == "__main__":
    sys.exit(main())
