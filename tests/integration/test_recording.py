"""Membrane potentials and synaptic currents of chosen neurons (``--record-vm N``): physics and file layout.

Each run is scale 0.1, 100 ms warm-up + 300 ms, V_m sampled every time step (0.1 ms), so that
every step of the recorded neurons is seen.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import microcircuit as mc
from microcircuit.parameters import NeuronParams, vm_sample

pytestmark = pytest.mark.slow

H = 0.1
N_PER_POP = 5
OPTIONS = ["--scale", "0.1", "--t-presim", "100", "--t-sim", "300", "--seed", "7", "--no-plots", "--quiet"]
VM = ["--record-vm", str(N_PER_POP), "--vm-interval", str(H)]


def run(out, *extra):
    res = subprocess.run([sys.executable, "-m", "microcircuit.run", *OPTIONS, *extra, "--output", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return mc.load_spikes(out / "spikes.nc")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("vm")
    return {"nestml": run(base / "nestml", *VM), "builtin": run(base / "builtin", *VM, "--neuron", "builtin"),
            "nestml_no_vm": run(base / "no_vm")}


@pytest.mark.parametrize("neuron", ["nestml", "builtin"])
def test_membrane_potential_obeys_threshold_and_refractoriness(runs, neuron):
    """V_m < V_th at every sample (a crossing resets within the step), and V_m = V_reset from each spike
    until t_ref after it (20 steps clamped; docs/model.md §4)."""
    ds = runs[neuron]
    p = NeuronParams()
    vm = ds["V_m"]
    assert float(vm.max()) < p.V_th
    steps = np.round(ds["vm_time"].values / H).astype(int)
    refractory = int(round(p.t_ref / H))
    checked = 0
    for k, nid in enumerate(ds["vm_neuron"].values):
        trace = vm.values[:, k]
        for t_spike in ds.spikes.times(neuron=int(nid)).values:
            s = int(round(t_spike / H))
            inside = (steps >= s) & (steps <= s + refractory)
            if inside.sum() == refractory + 1:  # the whole refractory period was sampled
                np.testing.assert_array_equal(trace[inside], p.V_reset)
                after = steps == s + refractory + 1
                if after.any() and trace[after][0] == p.V_reset:
                    pytest.fail(f"neuron {nid} still clamped {p.t_ref} ms after its spike at {t_spike} ms")
                checked += 1
    assert checked >= 20, "too few recorded spikes to test the reset"


def test_nestml_and_builtin_give_the_same_traces(runs):
    """Same seed, same spikes (tests/integration/test_run.py), same V_m and I_syn = I_syn_ex + I_syn_in.

    The models sum the same terms in a different order (one current against two), so the values
    differ by rounding only: 1e-9 mV / pA is five orders of magnitude above that and far below
    any physical effect.
    """
    a, b = runs["nestml"], runs["builtin"]
    np.testing.assert_array_equal(a["spike_time"].values, b["spike_time"].values)
    np.testing.assert_array_equal(a["vm_neuron"].values, b["vm_neuron"].values)
    np.testing.assert_allclose(a["V_m"].values, b["V_m"].values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a["I_syn"].values, b["I_syn"].values, rtol=1e-12, atol=1e-9)
    assert float(np.abs(a["I_syn"]).max()) > 100.0  # synaptic input arrived


def test_recording_does_not_change_the_spikes(runs):
    a, c = runs["nestml"], runs["nestml_no_vm"]
    assert "V_m" not in c
    np.testing.assert_array_equal(a["spike_count"].values, c["spike_count"].values)
    np.testing.assert_array_equal(a["spike_time"].values, c["spike_time"].values)


def test_file_layout_and_the_choice_of_neurons(runs):
    ds = runs["nestml"]
    assert ds["V_m"].dims == ("vm_time", "vm_neuron") and ds["I_syn"].dims == ("vm_time", "vm_neuron")
    assert ds["V_m"].attrs["units"] == "mV" and ds["I_syn"].attrs["units"] == "pA" and ds["vm_time"].attrs["units"] == "ms"
    assert "vm_population" in ds.coords
    # samples every interval from one interval on; NEST delivers the last one (t_end) only with a next chunk
    np.testing.assert_allclose(ds["vm_time"].values, H * np.arange(1, 4000))
    # N neurons per population, the ones derive() picks for this table, scale and seed
    sizes = [int((ds["population"] == p).sum()) for p in ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]]
    first = np.cumsum([0] + sizes[:-1]) + 1
    expected = np.concatenate([f + pos for f, pos in zip(first, vm_sample(sizes, N_PER_POP, 7))])
    np.testing.assert_array_equal(ds["vm_neuron"].values, expected)
    np.testing.assert_array_equal(ds["vm_population"].values, ds["population"].sel(neuron=ds["vm_neuron"]).values)
    # the same neurons whatever the neuron model
    np.testing.assert_array_equal(runs["builtin"]["vm_neuron"].values, expected)


def test_without_the_samples_and_the_figures(runs):
    """load_spikes(vm=False) leaves out V_m and I_syn but keeps their coordinates; the run's figures
    (which open the file that way) include the traces."""
    from pathlib import Path

    from microcircuit.plots import files

    path = Path(runs["nestml"].encoding["source"])
    light = mc.load_spikes(path, vm=False)
    assert "V_m" not in light and "I_syn" not in light
    assert "vm_population" in light.coords and "population" in light.coords
    written = files.save_run_figures(path, dpi=40)
    assert path.parent / files.VM_FILE in written


def test_a_killed_run_keeps_and_recovers_its_samples(tmp_path):
    """SIGKILL after some chunks: --recover writes the samples up to the last chunk on disk."""
    from .test_reliability import _start_long_run

    out = tmp_path / "run"
    proc = _start_long_run(out, "--record-vm", "2")
    proc.kill()
    proc.communicate(timeout=60)
    rec = subprocess.run([sys.executable, "-m", "microcircuit.run", "--recover", "--output", str(out)],
                         capture_output=True, text=True)
    assert rec.returncode == 0, rec.stderr
    ds = xr.open_dataset(out / "spikes.nc")
    t = float(ds.attrs["t_simulated"])
    assert ds.sizes["vm_neuron"] == 16 and ds.sizes["vm_time"] >= 100
    assert float(ds["vm_time"][-1]) <= t and float(ds["vm_time"][-1]) >= t - 20.0  # chunks of 20 ms
    assert np.all(np.isfinite(ds["V_m"].values))
