"""Statistics of spike data: pure functions on the spike Dataset (no NEST, no files, no printing).

Every function takes an explicit analysis window ``[t_start, t_stop]`` (ms, absolute
model time, both ends inclusive as in the PD14 reference evaluation).
"""
from __future__ import annotations

import numpy as np
import xarray as xr


def window(ds: xr.Dataset) -> tuple[float, float]:
    """The analysis window stored in a spike file: end of the warm-up to end of the run (ms)."""
    return float(ds.attrs["t_start"]), float(ds.attrs["t_stop"])


def _neuron_index(ds: xr.Dataset) -> np.ndarray:
    """Index into ``neuron`` of every entry of ``spike_time``."""
    return np.repeat(np.arange(ds.sizes["neuron"]), ds["spike_count"].values)


def spike_counts(ds: xr.Dataset, t_start: float, t_stop: float) -> xr.DataArray:
    """Number of spikes of every neuron with ``t_start <= t <= t_stop`` (silent neurons give 0)."""
    times = ds["spike_time"].values
    inside = (times >= t_start) & (times <= t_stop)
    counts = np.bincount(_neuron_index(ds)[inside], minlength=ds.sizes["neuron"])
    return xr.DataArray(counts, dims="neuron", coords={"neuron": ds["neuron"], "population": ds["population"]},
                        name="spike_count")


def firing_rates(ds: xr.Dataset, t_start: float, t_stop: float) -> xr.DataArray:
    """Per-neuron firing rate (spikes/s) in ``[t_start, t_stop]``; silent neurons count as 0.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A"]), "spike_count": ("neuron", [2, 0]),
    ...                  "spike_time": ("spike", [100.0, 600.0])}, coords={"neuron": [1, 2]})
    >>> firing_rates(ds, 0.0, 1000.0).values
    array([2., 0.])
    """
    duration_s = (t_stop - t_start) / 1000.0
    if duration_s <= 0:
        raise ValueError(f"empty analysis window [{t_start}, {t_stop}] ms")
    rates = spike_counts(ds, t_start, t_stop) / duration_s
    rates.name = "rate"
    rates.attrs["units"] = "spikes/s"
    return rates


def population_names(ds: xr.Dataset) -> list[str]:
    """Population names in the order in which they first appear along ``neuron``."""
    names = ds["population"].values.astype(str)
    _, first = np.unique(names, return_index=True)
    return [names[i] for i in sorted(first)]


def population_mean_rates(ds: xr.Dataset, t_start: float, t_stop: float) -> xr.DataArray:
    """Mean over neurons of the per-neuron rate, per population (spikes/s)."""
    rates = firing_rates(ds, t_start, t_stop)
    means = rates.groupby("population").mean()
    means = means.sel(population=population_names(ds))
    means.name = "mean_rate"
    means.attrs["units"] = "spikes/s"
    return means
