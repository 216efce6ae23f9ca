"""Fixtures for the runs on several MPI processes.

They need a Python whose NEST was built with MPI (the pip wheel has none), named by
``MICROCIRCUIT_MPI_PYTHON``; ``.ci/run`` prepares one (``.ci-venv-mpi``, from the wheel in
``../shared/wheels``; docs/mpi.md says how to get one elsewhere). Without it the tests that
start MPI jobs skip, with the reason ``.ci/run`` gives in ``MICROCIRCUIT_MPI_SKIP_REASON``.

The NESTML module for that NEST is built with that Python into ``MICROCIRCUIT_MPI_BUILD_DIR``
(default ``build/mpi`` in the checkout; the pip wheel's module stays in ``build/``: the two
NESTs need differently compiled modules).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import ROOT


@dataclass
class MPI:
    """How to start the MPI-enabled Python: alone, or as ``n`` ranks under mpirun."""

    python: str
    mpirun: str
    env: dict

    def command(self, args, n: int | None = None) -> list[str]:
        if n is None:
            return [self.python, *args]
        # Open MPI refuses to run as root unless told (CI runs as root); --oversubscribe lets it
        # start more ranks than the cores it counts (containers, 1-core machines): slow, not wrong
        root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
        return [self.mpirun, *root, "--oversubscribe", "-n", str(n), self.python, *args]

    def run(self, args, n: int | None = None, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(args, n), env=self.env, capture_output=True, text=True,
                              timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def mpi() -> MPI:
    python = os.environ.get("MICROCIRCUIT_MPI_PYTHON")
    if not python:
        pytest.skip(os.environ.get("MICROCIRCUIT_MPI_SKIP_REASON")
                    or "MICROCIRCUIT_MPI_PYTHON is not set: no Python with an MPI-enabled NEST to test with "
                       "(.ci/run prepares one; see docs/mpi.md)")
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("mpirun is not on PATH (Debian: apt-get install openmpi-bin)")
    build_dir = Path(os.environ.get("MICROCIRCUIT_MPI_BUILD_DIR", ROOT / "build" / "mpi"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI_", "PMIX_"))}
    env.update(PYNEST_QUIET="1", MICROCIRCUIT_BUILD_DIR=str(build_dir))
    check = subprocess.run([python, "-c", "import nest; print(nest.build_info['have_mpi'])"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and check.stdout.strip().splitlines()[-1] == "True", \
        f"{python} has no MPI-enabled NEST: {check.stdout}{check.stderr}"
    build = subprocess.run([python, str(ROOT / "build.py"), "--build-dir", str(build_dir)], env=env,
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, f"build.py failed for the MPI-enabled NEST: {build.stdout}{build.stderr}"
    return MPI(python=python, mpirun=mpirun, env=env)
