"""Small networks simulated end to end: the spike file and the firing rates."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest
import xarray as xr

import microcircuit as mc
from microcircuit import analysis
from microcircuit.build import manifest
from microcircuit.connectivity import check_table
from microcircuit.parameters import Config, NetworkParams, SimulationParams, StimulusParams

from ..conftest import ROOT
from ..tables import small_table

pytestmark = pytest.mark.slow

# Band for per-population mean rates of a 1 s run at scale 0.1 with Poisson background.
# docs/model.md §11 lists four sets of reference rates (three full-scale vintages and the
# old NEST example at scale 0.1); they differ by up to a factor 2.4 (L23E: 0.40 vs 0.97).
# A correct run must lie within their range up to its own seed-to-seed spread, which is
# small (measured over 6 seeds, 1 s: sd <= 0.18 spikes/s in every population, < 5 % of the
# mean). The band is [0.5 x lowest, 1.5 x highest] reference rate: generous enough never to
# fail a correct run, while a broken network (e.g. inhibition halved, where L23E fires at
# several spikes/s, or a silent population) falls outside.
REFERENCE_RATES = np.array([
    [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829],
    [0.943, 3.026, 4.368, 5.882, 7.733, 8.664, 1.096, 7.851],
    [0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523],
    [0.402, 2.017, 3.881, 4.958, 6.575, 7.726, 0.831, 6.986],
])
RATE_LOW = 0.5 * REFERENCE_RATES.min(axis=0)
RATE_HIGH = 1.5 * REFERENCE_RATES.max(axis=0)


@pytest.fixture(scope="module", params=["nestml", "builtin"])
def default_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"run_{request.param}")
    cfg = Config(network=NetworkParams(neuron_model=request.param), simulation=SimulationParams(t_sim=1000.0))
    return mc.simulate(cfg, output_dir=out)


def test_every_population_fires_within_the_reference_band(default_run):
    ds = mc.load_spikes(default_run.spikes_path)
    rates = analysis.population_mean_rates(ds, *analysis.window(ds))
    assert list(rates["population"].values) == ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    assert np.all(rates.values > 0)
    outside = {p: round(float(r), 3) for p, r, lo, hi in zip(rates["population"].values, rates.values,
                                                               RATE_LOW, RATE_HIGH) if not lo <= r <= hi}
    assert not outside, f"rates outside [{RATE_LOW}, {RATE_HIGH}]: {outside}"


def test_spike_file_is_a_cf_contiguous_ragged_array(default_run):
    ds = xr.open_dataset(default_run.spikes_path)
    assert ds.attrs["Conventions"].startswith("CF-") and ds.attrs["featureType"] == "timeSeries"
    assert set(ds.dims) == {"neuron", "spike"}
    assert ds["spike_count"].attrs["sample_dimension"] == "spike"
    assert ds["spike_time"].dtype == np.float64 and ds["spike_time"].attrs["units"] == "ms"
    assert int(ds["spike_count"].sum()) == ds.sizes["spike"]
    assert ds.sizes["neuron"] == 7717
    np.testing.assert_array_equal(ds["neuron"].values, np.arange(1, 7718))  # NEST node ids, contiguous
    # grouped by neuron and sorted in time within each neuron; warm-up spikes kept
    times = ds["spike_time"].values
    bounds = np.concatenate([[0], np.cumsum(ds["spike_count"].values)])
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert np.all(np.diff(times[a:b]) > 0)
    assert times.min() < 500.0 and times.max() <= 1500.0
    # on the 0.1 ms grid, stamped at the end of a step
    np.testing.assert_allclose(times * 10, np.round(times * 10), atol=1e-6)


def test_spike_file_attributes(default_run):
    ds = mc.load_spikes(default_run.spikes_path)
    a = ds.attrs
    assert (a["t_start"], a["t_stop"]) == (500.0, 1500.0)
    assert a["seed"] == 55 and a["n_scaling"] == 0.1 and a["k_scaling"] == 0.1
    assert a["background"] == "poisson" and a["resolution"] == 0.1
    assert a["virtual_processes"] == 2 and a["status"] == "complete"
    assert a["nest_version"] == "3.10.0"
    assert a["nestml_version"].startswith("9.") or a["neuron_model"] == "builtin"
    stored = Config.from_dict(json.loads(a["config"]))
    assert stored == default_run.config
    # which neuron ran (issue 23): the NESTML source as sha256sum prints it, the build, the commit of a checkout
    if a["neuron_model"] == "nestml":
        built = manifest.read_manifest(manifest.default_build_dir())
        model = ROOT / "models" / "iaf_psc_exp_pd14.nestml"
        assert a["nestml_source_sha256"] == f"{hashlib.sha256(model.read_bytes()).hexdigest()}  {model.name}"
        assert a["build_fingerprint"] == built["fingerprint"]
    else:
        assert a["nestml_source_sha256"] == a["build_fingerprint"] == "not used"
    if shutil.which("git") and (ROOT / ".git").exists():
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert a["git_commit"] == head.stdout.strip() and a["git_dirty"] in (0, 1)
    populations = ds["population"].values
    assert (populations == "L23E").sum() == 2068 and (populations == "L5I").sum() == 106


def test_other_circuit_builds_and_runs(tmp_path):
    """A three-population table (not PD14) simulates: nothing assumes 8 populations."""
    table = small_table(3, size=300)
    path = tmp_path / "three.nc"
    table.to_netcdf(path)
    cfg = Config(network=NetworkParams(connectivity=str(path), n_scaling=1.0, k_scaling=1.0, background="poisson",
                                       neuron_model="nestml"),
                 simulation=SimulationParams(t_presim=100.0, t_sim=400.0))
    result = mc.simulate(cfg, output_dir=tmp_path / "out")
    ds = mc.load_spikes(result.spikes_path)
    assert ds.sizes["neuron"] == 900
    assert list(analysis.population_names(ds)) == ["P0", "P1", "P2"]
    assert np.all(result.mean_rates.values > 0)
    xr.testing.assert_equal(check_table(xr.Dataset.from_dict(json.loads(ds.attrs["connectivity_table"]))),
                            check_table(table))


def test_nestml_network_spikes_equal_builtin(tmp_path):
    """The NESTML neuron reproduces the built-in iaf_psc_exp network spike for spike.

    Both models integrate the same propagators in the same order; their V_m differ only by
    rounding (<1e-13 mV, see tests/nest/test_neuron.py), which at scale 0.1 over 800 ms has
    not been enough to flip a single threshold crossing. If a change to the neuron makes
    this fail, compare statistics (python -m microcircuit.validate) before accepting it.
    The transient DC stimulus (650-750 ms) is on, so the current port of the NESTML neuron
    (read only by neurons with a current source, see build.py) is exercised too.
    """
    spikes = {}
    for neuron in ("nestml", "builtin"):
        cfg = Config(network=NetworkParams(neuron_model=neuron), stimulus=StimulusParams(dc=True),
                     simulation=SimulationParams(t_presim=300.0, t_sim=500.0, seed=7))
        spikes[neuron] = mc.load_spikes(mc.simulate(cfg, output_dir=tmp_path / neuron).spikes_path)
    a, b = spikes["nestml"], spikes["builtin"]
    assert a.sizes["spike"] > 10_000
    np.testing.assert_array_equal(a["spike_count"].values, b["spike_count"].values)
    np.testing.assert_array_equal(a["spike_time"].values, b["spike_time"].values)


def test_population_is_a_coordinate_and_the_one_liners_work(default_run):
    """What the README's "Loading results" shows: groupby, spike times of one neuron and of one population."""
    ds = xr.open_dataset(default_run.spikes_path)  # plain xarray; ds.spikes comes with importing microcircuit.output
    assert "population" in ds.coords and "population" not in ds.data_vars
    per_pop = ds.spike_count.groupby("population").sum()
    assert int(per_pop.sum()) == ds.sizes["spike"]
    pops = ds["population"].values
    for name in ("L23E", "L5I"):
        assert int(per_pop.sel(population=name)) == int(ds["spike_count"].values[pops == name].sum())
    # one neuron: the slice of the ragged array that belongs to it
    counts = ds["spike_count"].values
    i = int(np.argmax(counts))
    start = int(counts[:i].sum())
    neuron = int(ds["neuron"][i])
    np.testing.assert_array_equal(ds.spikes.times(neuron=neuron).values,
                                  ds["spike_time"].values[start:start + counts[i]])
    # one population: all its spikes, each with the neuron that fired it
    l4e = ds.spikes.times(population="L4E")
    assert l4e.sizes["spike"] == int(counts[pops == "L4E"].sum())
    assert set(np.unique(l4e["neuron"].values)) <= set(ds["neuron"].values[pops == "L4E"])
    sub = ds.spikes.select(population="L4E")
    rates = analysis.firing_rates(sub, *analysis.window(sub))
    assert rates.sizes["neuron"] == int((pops == "L4E").sum())
