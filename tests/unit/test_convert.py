"""Converters round-trip spike counts and times exactly."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from microcircuit import convert
from microcircuit.output import ragged_dataset


@pytest.fixture
def spikes():
    """Random spike data on the 0.1 ms grid: 40 neurons (ids 5..44) in two populations, some silent."""
    rng = np.random.default_rng(4)
    neurons = np.arange(5, 45)
    pops = np.where(neurons < 30, "E", "I")
    counts = rng.poisson(6, neurons.size)
    counts[[3, 17]] = 0
    senders = np.repeat(neurons, counts)
    times = np.round(rng.uniform(0.1, 1000.0, senders.size), 1)
    return ragged_dataset(neurons, pops, senders, times, {"t_start": 0.0, "t_stop": 1000.0, "t_simulated": 1000.0})


def test_events_round_trip(spikes):
    senders, times = convert.to_events(spikes)
    assert np.all(np.diff(times) >= 0)  # time-sorted like a spike recorder's events
    back = convert.from_events(senders, times, spikes["neuron"].values, spikes["population"].values, spikes.attrs)
    xr.testing.assert_identical(back, spikes)


def test_spiketrains_round_trip(spikes):
    pytest.importorskip("neo")
    trains = convert.to_spiketrains(spikes)
    assert len(trains) == spikes.sizes["neuron"]
    assert [len(t) for t in trains] == spikes["spike_count"].values.tolist()
    assert trains[3].annotations == {"neuron": 8, "population": "E"}
    back = convert.from_spiketrains(trains, spikes.attrs)
    xr.testing.assert_identical(back, spikes)


def test_elephant_statistics_on_converted_trains(spikes):
    """Elephant computes on our output: its mean rate equals count / duration."""
    pytest.importorskip("elephant")
    from elephant.statistics import mean_firing_rate

    trains = convert.to_spiketrains(spikes)
    rates = [float(mean_firing_rate(t).rescale("Hz")) for t in trains]
    np.testing.assert_allclose(rates, spikes["spike_count"].values / 1.0)


def test_binned_counts(spikes):
    counts = convert.binned_counts(spikes, 2.0, 0.0, 1000.0)
    assert counts.dims == ("neuron", "time") and counts.sizes["time"] == 500
    np.testing.assert_array_equal(counts.sum("time").values, spikes["spike_count"].values)
    # every spike sits in the bin that contains it
    senders, times = convert.to_events(spikes)
    i = np.searchsorted(spikes["neuron"].values, senders)
    b = np.minimum((times // 2.0).astype(int), 499)
    expected = np.zeros(counts.shape, dtype=int)
    np.add.at(expected, (i, b), 1)
    np.testing.assert_array_equal(counts.values, expected)
    with pytest.raises(ValueError, match="whole number"):
        convert.binned_counts(spikes, 3.0, 0.0, 1000.0)
