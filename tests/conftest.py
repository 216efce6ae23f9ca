"""Shared test fixtures. Paths resolve relative to this file; outputs go to tmp_path."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYNEST_QUIET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def pd14_table():
    from microcircuit.connectivity import load_table

    return load_table()


@pytest.fixture
def nest_kernel():
    """A fresh NEST kernel for each test (skips when NEST is not importable)."""
    nest = pytest.importorskip("nest")
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    yield nest
    nest.ResetKernel()


@pytest.fixture(autouse=True)
def _option_names_restored():
    """How messages name options (microcircuit.errors) is process-wide; a test that parses a command line
    in-process must not change the messages later tests see."""
    from microcircuit.errors import options_named

    with options_named({}):
        yield
