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


def invoke_main(module, argv: list[str], capsys) -> tuple[int, str, list[str]]:
    """Run a command module's ``main(argv)`` in this process; return (exit status, stdout, stderr lines)."""
    try:
        code = module.main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


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
    """How messages name options (microcircuit.errors) is process-wide: every test starts with the library's
    own names (Python spellings), whatever a command line parsed in-process before it registered (also one
    parsed by a module-scoped fixture, which runs before this fixture), and leaves them so."""
    from microcircuit import errors

    saved = dict(errors._names), dict(errors._origins)
    errors._names.clear()
    errors._origins.clear()
    yield
    errors._names.clear()
    errors._origins.clear()
    errors._names.update(saved[0])
    errors._origins.update(saved[1])
