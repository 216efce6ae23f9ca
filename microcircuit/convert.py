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
from .output import ragged_dataset


def to_events(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """NEST-style ``(senders, times)``: node ids and spike times (ms), sorted by time, then sender."""
    senders = np.repeat(ds["neuron"].values, ds["spike_count"].values)
    times = ds["spike_time"].values
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
        (:func:`microcircuit.analysis.window`, which warns for an incomplete run).
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
    bounds = np.concatenate([[0], np.cumsum(ds["spike_count"].values)])
    times = ds["spike_time"].values
    trains = []
    for i, (nid, pop) in enumerate(zip(ds["neuron"].values, ds["population"].values)):
        st = times[bounds[i]:bounds[i + 1]]
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
    ``t_start <= t <= t_stop`` is counted once. The ``time`` coordinate holds bin starts.
    """
    n_bins = int(round((t_stop - t_start) / bin_size))
    if n_bins < 1 or not np.isclose(n_bins * bin_size, t_stop - t_start):
        raise ValueError(f"window [{t_start}, {t_stop}] ms is not a whole number of {bin_size} ms bins")
    counts = analysis.binned_counts(ds, np.arange(ds.sizes["neuron"]), t_start, t_stop, bin_size)
    edges = t_start + bin_size * np.arange(n_bins + 1)
    return xr.DataArray(
        counts, dims=("neuron", "time"),
        coords={"neuron": ds["neuron"].values, "population": ("neuron", ds["population"].values),
                "time": ("time", edges[:-1], {"units": "ms", "long_name": "bin start"})},
        name="spike_count", attrs={"bin_size": bin_size, "bin_size_units": "ms"},
    )
