"""The spike file as plain xarray and pandas see it, written by the real writer from synthetic spikes (no NEST).

``SpikeWriter`` streams (sender, time) pairs to its partial file and ``finish`` writes
``spikes.nc`` block of neurons by block of neurons; these tests check the file against the same
spikes put together in memory (``ragged_dataset``), the idioms a scientist types first on it,
selections along ``neuron`` handed to every analysis function, files of the previous layout,
and the CF compliance checker.
"""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from microcircuit import analysis, convert, output
from microcircuit.output import SpikeWriter, load_spikes, ragged_dataset

POPULATIONS = ["L23E", "L23I", "L4E", "L4I"]
SIZES = [60, 20, 70, 20]
T_END = 2000.0  # ms
ATTRS = {"title": "synthetic spikes", "t_start": 500.0, "t_stop": T_END, "seed": 1, "config": json.dumps({}),
         "date_created": "x"}


def synthetic(seed=0, rate=20.0):
    """Neurons, populations and unordered (sender, time) pairs of Poisson trains at ``rate`` spikes/s."""
    rng = np.random.default_rng(seed)
    neurons = np.arange(1, sum(SIZES) + 1)
    pops = np.repeat(POPULATIONS, SIZES)
    n = rng.poisson(rate * T_END / 1000.0 * neurons.size)
    senders = rng.integers(1, neurons.size + 1, n)
    times = np.round(rng.uniform(0.0, T_END, n), 1)
    return neurons, pops, senders, times


def write(path, neurons, pops, senders, times, chunks=10, vm=False, onsets=None):
    """Stream the spikes to a SpikeWriter in ``chunks`` time chunks (as the run loop does) and finish the file."""
    vm_neurons = np.array([3, 70, 100]) if vm else None
    writer = SpikeWriter(path, neurons, pops, ATTRS, vm_neurons=vm_neurons, onsets=onsets)
    edges = np.linspace(0.0, T_END, chunks + 1)
    for a, b in zip(edges[:-1], edges[1:]):
        inside = (times > a) & (times <= b) if a else (times >= a) & (times <= b)
        kw = {}
        if vm:
            t = np.arange(a + 1.0, b + 1.0)
            kw = dict(vm_times=t, V_m=np.full((t.size, 3), -65.0), I_syn=np.zeros((t.size, 3)))
        writer.append(senders[inside], times[inside], float(b), **kw)
    return writer.finish()


@pytest.fixture(scope="module")
def spikes(tmp_path_factory):
    path = tmp_path_factory.mktemp("spikes") / "spikes.nc"
    data = synthetic()
    write(path, *data, vm=True, onsets=[700.0, 1200.0])
    return path, data


def test_the_file_holds_the_spikes_in_the_ragged_layout(spikes):
    path, (neurons, pops, senders, times) = spikes
    expected = ragged_dataset(neurons, pops, senders, times, {})
    with xr.open_dataset(path) as ds:
        for name in ("neuron", "population", "spike_count", "spike_time", "spike_neuron", "spike_population"):
            np.testing.assert_array_equal(ds[name].values, expected[name].values, err_msg=name)
        assert ds["spike_count"].attrs["sample_dimension"] == "spike"
        assert set(ds.coords) >= {"neuron", "population", "spike_neuron", "spike_population", "vm_time"}
        assert ds.attrs["Conventions"] == output.CONVENTIONS and ds.attrs["status"] == "complete"
        assert ds["V_m"].dims == ("vm_time", "vm_neuron")
        np.testing.assert_array_equal(ds["stimulus_onset"].values, [700.0, 1200.0])


def test_blocks_of_neurons_write_the_same_file(spikes, tmp_path, monkeypatch):
    """Finishing in many small neuron blocks and read blocks (the bounded-memory path of long runs)
    gives the file that one block gives."""
    path, data = spikes
    monkeypatch.setattr(output, "SORT_BLOCK_SPIKES", 500)  # ~13 blocks of ~6 400 spikes
    monkeypatch.setattr(output, "READ_BLOCK", 777)
    small = write(tmp_path / "spikes.nc", *data, vm=True, onsets=[700.0, 1200.0])
    with xr.open_dataset(path) as a, xr.open_dataset(small) as b:
        assert len(output._neuron_blocks(a["spike_count"].values, 500)) > 10
        a.attrs.pop("history"), b.attrs.pop("history")
        xr.testing.assert_identical(a.load(), b.load())


def test_neuron_blocks_cover_every_neuron_once():
    counts = np.array([3, 0, 5, 5, 1, 9, 0, 2])
    blocks = output._neuron_blocks(counts, 6)
    assert blocks[0][0] == 0 and blocks[-1][1] == counts.size
    assert all(a[1] == b[0] for a, b in zip(blocks[:-1], blocks[1:]))
    # each block holds at most 6 spikes, unless it is one neuron with more
    assert all(counts[a:b].sum() <= 6 or b - a == 1 for a, b in blocks)


# ---- the idioms of plain xarray and pandas -----------------------------------------------------

def test_where_on_the_spike_population_selects_that_population(spikes):
    path, (neurons, pops, senders, times) = spikes
    with xr.open_dataset(path) as ds:
        l4e = ds.spike_time.where(ds.spike_population == "L4E", drop=True)
        assert set(np.unique(l4e["spike_population"].values)) == {"L4E"}
        np.testing.assert_array_equal(np.sort(l4e.values), np.sort(times[pops[senders - 1] == "L4E"]))
        np.testing.assert_array_equal(l4e.values, load_spikes(path).spikes.times(population="L4E").values)


def test_groupby_spike_population_counts_each_population(spikes):
    path, (neurons, pops, senders, times) = spikes
    with xr.open_dataset(path) as ds:
        counts = ds.spike_time.groupby("spike_population").count()
        for name in POPULATIONS:
            assert int(counts.sel(spike_population=name)) == int(np.sum(pops[senders - 1] == name))
        per_neuron = ds.spike_count.groupby("population").sum()
        np.testing.assert_array_equal(per_neuron.sel(population=POPULATIONS).values,
                                      counts.sel(spike_population=POPULATIONS).values)


def test_to_dataframe_gives_one_row_per_spike(spikes):
    path, (_, _, senders, times) = spikes
    with xr.open_dataset(path) as ds:
        df = ds[["spike_time", "spike_neuron"]].to_dataframe()
        assert len(df) == times.size and {"spike_time", "spike_neuron", "spike_population"} <= set(df.columns)
        # node id and population agree row by row
        assert (df.groupby("spike_neuron")["spike_population"].nunique() == 1).all()
        np.testing.assert_array_equal(np.sort(df["spike_neuron"].values), np.sort(senders))
    frame = load_spikes(path).spikes.to_dataframe()
    assert list(frame.columns) == ["time", "neuron", "population"] and len(frame) == times.size
    np.testing.assert_array_equal(frame["neuron"].values, df["spike_neuron"].values)
    assert list(frame["population"].cat.categories) == POPULATIONS


def test_dask_chunks_open_lazily_and_compute_the_same(spikes):
    """``xr.open_dataset(path, chunks={})``: every variable is a dask array in the file's chunks. Grouping
    and dropping need their labels in memory (dask cannot know the groups or the size of the result
    in advance), which ``ds.spike_population.load()`` does in place; the spike times stay lazy."""
    path, _ = spikes
    with xr.open_dataset(path, chunks={}) as lazy, xr.open_dataset(path) as eager:
        assert lazy["spike_time"].chunks is not None
        lazy.spike_population.load()
        lazy.population.load()
        selected = lazy.spike_time.where(lazy.spike_population == "L4E", drop=True)
        assert selected.chunks is not None
        np.testing.assert_array_equal(selected.values,
                                      eager.spike_time.where(eager.spike_population == "L4E", drop=True).values)
        np.testing.assert_array_equal(lazy.spike_time.groupby("spike_population").count().values,
                                      eager.spike_time.groupby("spike_population").count().values)
        np.testing.assert_array_equal(lazy.spike_count.groupby("population").sum().values,
                                      eager.spike_count.groupby("population").sum().values)


# ---- selections along `neuron` handed to the analysis functions --------------------------------

WINDOW = (500.0, 2000.0)
PER_NEURON = {
    "spike_counts": lambda ds: analysis.spike_counts(ds, *WINDOW),
    "firing_rates": lambda ds: analysis.firing_rates(ds, *WINDOW),
    "isi_cvs": lambda ds: analysis.isi_cvs(ds, *WINDOW),
    "convert.binned_counts": lambda ds: convert.binned_counts(ds, 5.0, *WINDOW),
}
PER_POPULATION = {
    "population_mean_rates": lambda ds: analysis.population_mean_rates(ds, *WINDOW),
    "population_counts": lambda ds: analysis.population_counts(ds, *WINDOW),
    "power_spectrum": lambda ds: analysis.power_spectrum(ds, *WINDOW, segment=250.0),
    "statistics": lambda ds: analysis.statistics(ds, *WINDOW, sample_size=10)["rate"],
    "spike_count_correlations": lambda ds: analysis.spike_count_correlations(ds, *WINDOW, sample_size=10),
    "binned_counts": lambda ds: analysis.binned_counts(ds, np.arange(5), *WINDOW),
    "to_events": lambda ds: np.concatenate(convert.to_events(ds)),
    "times": lambda ds: ds.spikes.times().values,
}


@pytest.mark.parametrize("name", list(PER_NEURON))
def test_a_neuron_selection_gives_those_neurons_statistics(spikes, name):
    """``ds.isel(neuron=...)`` keeps every spike, but the per-spike node ids tell whose they are:
    per-neuron results are those of the whole file at the selected neurons."""
    f = PER_NEURON[name]
    ds = load_spikes(spikes[0], vm=False)
    chosen = np.array([0, 5, 61, 62, 150, 169])
    whole = f(ds).isel(neuron=chosen)
    part = f(ds.isel(neuron=chosen))
    xr.testing.assert_equal(part.drop_attrs(), whole.drop_attrs())


@pytest.mark.parametrize("name", list(PER_POPULATION))
def test_a_population_selection_by_isel_equals_the_accessors(spikes, name):
    """A population picked with ``isel`` gives what ``ds.spikes.select(population=...)`` gives."""
    f = PER_POPULATION[name]
    ds = load_spikes(spikes[0], vm=False)
    by_isel = ds.isel(neuron=np.flatnonzero(ds["population"].values == "L4E"))
    np.testing.assert_array_equal(np.asarray(f(by_isel)), np.asarray(f(ds.spikes.select(population="L4E"))))


def test_one_neuron_selected_by_sel(spikes):
    ds = load_spikes(spikes[0], vm=False)
    one = ds.sel(neuron=42)
    rate = analysis.firing_rates(one, *WINDOW)
    assert rate.sizes["neuron"] == 1 and rate["neuron"].item() == 42
    assert rate.item() == analysis.firing_rates(ds, *WINDOW).sel(neuron=42).item()
    np.testing.assert_array_equal(one.spikes.times().values, ds.spikes.times(neuron=42).values)


def test_a_selection_of_a_file_without_per_spike_ids_is_refused(spikes):
    """Files of the previous layout, opened with plain xarray, have only the counts: a neuron
    selection that leaves the spikes behind is refused with one line naming ds.spikes.select."""
    with xr.open_dataset(spikes[0]) as ds:
        old = ds.drop_vars(["spike_neuron", "spike_population"]).load()
    analysis.firing_rates(old, *WINDOW)  # the whole file: the counts cover the spikes
    for f in [*PER_NEURON.values(), *PER_POPULATION.values()]:
        with pytest.raises(analysis.SpikeSelectionError, match=r"ds\.spikes\.select") as err:
            f(old.isel(neuron=slice(0, 10)))
        assert "\n" not in str(err.value)


def test_the_accessor_selects_from_a_neuron_selection(spikes):
    ds = load_spikes(spikes[0], vm=False)
    part = ds.isel(neuron=slice(60, 130))  # the rest of L23I and half of L4E
    sel = part.spikes.select(population="L23I")
    np.testing.assert_array_equal(sel["neuron"].values, ds.spikes.select(population="L23I")["neuron"].values)
    np.testing.assert_array_equal(sel["spike_time"].values, ds.spikes.select(population="L23I")["spike_time"].values)
    assert int(sel["spike_count"].sum()) == sel.sizes["spike"]


# ---- files of the previous layout ---------------------------------------------------------------

def test_a_file_of_the_previous_layout_loads_in_todays(spikes, tmp_path):
    """Before 2026-12-05: no per-spike coordinates, V_m over `time`, onsets over `pulse`, CF-1.8."""
    path, _ = spikes
    with xr.open_dataset(path) as ds:
        old = ds.drop_vars(["spike_neuron", "spike_population"]).rename({"vm_time": "time"}).load()
    old = old.assign(stimulus_onset=("pulse", old["stimulus_onset"].values)).drop_vars("stimulus_onset")
    old.attrs["Conventions"] = "CF-1.8"
    old.to_netcdf(tmp_path / "old.nc")
    loaded, new = load_spikes(tmp_path / "old.nc"), load_spikes(path)
    for name in ("spike_neuron", "spike_population", "spike_time"):
        np.testing.assert_array_equal(loaded[name].values, new[name].values)
    assert loaded["V_m"].dims == ("vm_time", "vm_neuron")
    np.testing.assert_array_equal(analysis.firing_rates(loaded, *WINDOW).values,
                                  analysis.firing_rates(new, *WINDOW).values)


# ---- CF conventions --------------------------------------------------------------------------------

# What compliance-checker 6.1 reports for every spike file besides passing, explained in docs/output.md:
# it recognises a time series only by geospatial coordinates (latitude, longitude), which the
# neurons of a model do not have; and one of its own checks fails with an exception on any CF ragged
# array (its helper returns one value where the check unpacks two).
EXPECTED_WARNINGS = {f"{name} is not a timeseries, it is detected as a point" for name in ("spike_time", "V_m", "I_syn")}
CHECKER_BUG = "cf:1.11.check_domain_variables: too many values to unpack (expected 2)"


def test_the_cf_compliance_checker_finds_no_errors(spikes, tmp_path):
    """compliance-checker --test=cf:1.11 (offline): no error (high priority), only the explained warnings."""
    report = tmp_path / "report.json"
    checker = Path(sys.executable).with_name("compliance-checker")
    out = subprocess.run([str(checker), "--test=cf:1.11", "--format=json_new", f"--output={report}", str(spikes[0])],
                         capture_output=True, text=True)
    result = next(iter(json.loads(report.read_text()).values()))["cf:1.11"]
    errors = [msg for item in result["high_priorities"] for msg in item["msgs"]]
    warned = {msg for item in result["medium_priorities"] for msg in item["msgs"]}
    assert errors == [], errors
    assert warned <= EXPECTED_WARNINGS, warned - EXPECTED_WARNINGS
    exceptions = [line for line in out.stderr.splitlines() if line.startswith("cf:1.11.")]
    assert exceptions in ([], [CHECKER_BUG]), out.stderr


def test_population_mean_rates_read_in_blocks_equal_the_analysis_of_the_loaded_file(spikes, monkeypatch):
    """The end of a run reports population rates without loading the file (output.population_mean_rates):
    the same numbers as analysis.population_mean_rates, also when the spike times are read in many blocks."""
    path, _ = spikes
    ds = load_spikes(path)
    for window in (WINDOW, (0.0, 700.0)):
        expected = analysis.population_mean_rates(ds, *window)
        for block in (output.READ_BLOCK, 7):
            monkeypatch.setattr(output, "READ_BLOCK", block)
            got = output.population_mean_rates(path, *window)
            assert list(got) == list(expected.population.values)
            np.testing.assert_allclose(list(got.values()), expected.values, rtol=1e-12)
