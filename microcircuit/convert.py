"""Converters between the spike Dataset and the formats other tools use.

* NEST-style event arrays ``(senders, times)``, as a ``spike_recorder`` returns them;
* one ``neo.SpikeTrain`` per neuron (Neo is optional: ``pip install neo``), so that
  Elephant's statistics work on our output;
* a binned spike-count ``DataArray(neuron, time)``.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from . import analysis
from .output import neuron_ids, ragged_dataset, spike_positions, spike_times_by_neuron


def to_events(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """NEST-style ``(senders, times)``: node ids and spike times (ms), sorted by time, then sender."""
    index, spike = spike_positions(ds)
    senders = neuron_ids(ds)[index]
    times = np.asarray(ds["spike_time"].values)[spike]
    order = np.lexsort((senders, times))
    return senders[order], times[order]


def from_events(senders, times, neurons, populations, attrs: dict | None = None) -> xr.Dataset:
    """Spike Dataset (CF contiguous ragged array) from NEST-style events of the given neurons."""
    return ragged_dataset(neurons, populations, senders, times, dict(attrs or {}))


def to_spiketrains(ds: xr.Dataset, t_start: float = 0.0, t_stop: float | None = None) -> list:
    """One ``neo.SpikeTrain`` per neuron (in ``neuron`` order), times in ms.

    Parameters
    ----------
    ds : xarray.Dataset
        A spike file's Dataset.
    t_start, t_stop : float
        Time span of the trains (ms); ``t_stop`` defaults to the end of what was simulated
        (:func:`microcircuit.analysis.window`, which warns for an incomplete run). The span is
        clipped to the simulated time (:func:`microcircuit.analysis.clip_window`).
        Spikes outside ``[t_start, t_stop]`` are left out.

    Each train is annotated with ``neuron`` (NEST node id) and ``population``.
    """
    try:
        import neo
        import quantities as pq
    except ImportError:
        raise ImportError("to_spiketrains needs Neo: pip install neo") from None
    if t_stop is None:
        t_stop = analysis.window(ds)[1]
    t_start, t_stop = analysis.clip_window(ds, t_start, t_stop)
    trains = []
    pops = np.atleast_1d(ds["population"].values)
    for nid, pop, st in zip(neuron_ids(ds), pops, spike_times_by_neuron(ds)):
        st = st[(st >= t_start) & (st <= t_stop)]
        trains.append(neo.SpikeTrain(st, units=pq.ms, t_start=t_start * pq.ms, t_stop=t_stop * pq.ms,
                                     neuron=int(nid), population=str(pop)))
    return trains


def from_spiketrains(trains, attrs: dict | None = None) -> xr.Dataset:
    """Spike Dataset from ``neo.SpikeTrain`` objects annotated with ``neuron`` and ``population``."""
    neurons = np.array([st.annotations["neuron"] for st in trains], dtype=np.int64)
    pops = np.array([st.annotations["population"] for st in trains])
    order = np.argsort(neurons)
    senders = np.concatenate([np.full(len(trains[i]), neurons[i]) for i in order]) if trains else []
    times = np.concatenate([trains[i].rescale("ms").magnitude for i in order]) if trains else []
    return ragged_dataset(neurons[order], pops[order], senders, times, dict(attrs or {}))


def binned_counts(ds: xr.Dataset, bin_size: float, t_start: float, t_stop: float) -> xr.DataArray:
    """Spike counts per neuron in bins ``[t_start + k*bin_size, t_start + (k+1)*bin_size)`` (ms).

    The last bin is closed on the right (numpy histogram convention), so every spike with
    ``t_start <= t <= t_stop`` is counted once. The ``time`` coordinate holds bin starts. The
    window is clipped to the simulated time first (:func:`microcircuit.analysis.clip_window`).
    """
    t_start, t_stop = analysis.clip_window(ds, t_start, t_stop)
    n_bins = int(round((t_stop - t_start) / bin_size))
    if n_bins < 1 or not np.isclose(n_bins * bin_size, t_stop - t_start):
        raise ValueError(f"window [{t_start}, {t_stop}] ms is not a whole number of {bin_size} ms bins")
    ids = neuron_ids(ds)
    counts = analysis.binned_counts(ds, np.arange(ids.size), t_start, t_stop, bin_size)
    edges = t_start + bin_size * np.arange(n_bins + 1)
    return xr.DataArray(
        counts, dims=("neuron", "time"),
        coords={"neuron": ids, "population": ("neuron", np.atleast_1d(ds["population"].values)),
                "time": ("time", edges[:-1], {"units": "ms", "long_name": "bin start"})},
        name="spike_count", attrs={"bin_size": bin_size, "bin_size_units": "ms"},
    )
