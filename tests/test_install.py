"""The package works without the source checkout: a wheel installed elsewhere builds the neuron and runs.

The wheel is built from this checkout and installed (without its dependencies, which this
environment has) into a folder of its own; Python then imports it from there, in another folder,
with no checkout in sight: the connectivity table, the NESTML model and the reference sets come
from the package data, and the module is built where ``MICROCIRCUIT_BUILD_DIR`` says.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_an_installed_wheel_builds_the_neuron_and_runs_from_another_folder(tmp_path):
    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = wheels.glob("microcircuit-*.whl")
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=str(site), MICROCIRCUIT_BUILD_DIR=str(tmp_path / "build"))

    def run(*args):
        res = subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-3000:]
        return res

    where = run("-c", "import microcircuit, microcircuit.build.manifest as m; "
                      "print(microcircuit.__file__); print(m.source_checkout()); print(m.model_files()[0])")
    package, checkout, model = where.stdout.split()
    assert package.startswith(str(site)) and checkout == "None" and model.startswith(str(site))
    run("-m", "microcircuit.build")
    assert (tmp_path / "build" / "install" / "pd14module.so").exists()
    run("-m", "microcircuit.run", "--t-presim", "100", "--t-sim", "200", "--quiet")
    assert (work / "output" / "spikes.nc").exists() and (work / "output" / "raster_plot.png").exists()
    listing = run("-m", "microcircuit.validate", "--list")
    assert "scale1_dc_T5s" in listing.stdout  # the reference sets came with the package
