"""Power spectra of population activity: the oscillations of the network (Bos et al. 2016, Fig. 1E).

The signal of a population is its spike count in bins of ``bin_size`` (1 ms by default); its
power spectral density is estimated by averaging the periodograms of segments of ``segment`` ms
(500 ms by default, non-overlapping, no taper, as in Bos et al. 2016) with
``scipy.signal.welch``. With these defaults the spectrum integrates exactly to the mean
variance of the segments' counts (Parseval's theorem), which the tests check.

Reference: Bos H, Diesmann M, Helias M (2016) Identifying anatomical origins of coexisting
oscillations in the cortical microcircuit. PLoS Comput Biol 12(10):e1005132.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..output import neuron_ids
from .stationary import _spikes, clip_window, population_names


def population_counts(ds: xr.Dataset, t_start: float, t_stop: float, bin_size: float = 1.0) -> xr.DataArray:
    """Spike count of every population in bins of ``bin_size`` ms from ``t_start``.

    Bins are ``[t_start + k b, t_start + (k + 1) b)``, the last one also closed on the right
    (``numpy.histogram``), up to the last whole bin before ``t_stop``.

    The window is clipped to the simulated time first (:func:`~microcircuit.analysis.clip_window`).

    Returns
    -------
    xarray.DataArray
        ``(population, time)``, integer counts; ``time`` holds the bin starts (ms); coordinate
        ``n_neurons`` (population).
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    n_bins = int(np.floor((t_stop - t_start) / bin_size + 1e-9))
    if n_bins < 1:
        raise ValueError(f"window [{t_start}, {t_stop}] ms holds no whole {bin_size} ms bin")
    edges = t_start + bin_size * np.arange(n_bins + 1)
    names = population_names(ds)
    pops = np.atleast_1d(ds["population"].values).astype(str)
    index, times = _spikes(ds, edges[0], edges[-1])
    owner = pops[index]
    counts = np.array([np.histogram(times[owner == name], edges)[0] for name in names])
    return xr.DataArray(counts, dims=("population", "time"), name="spike_count",
                        coords={"population": names, "time": ("time", edges[:-1], {"units": "ms", "long_name": "bin start"}),
                                "n_neurons": ("population", [int(np.sum(pops == n)) for n in names])},
                        attrs={"long_name": "spikes of the population per bin", "bin_size": float(bin_size),
                               "bin_size_units": "ms"})


def power_spectrum(ds: xr.Dataset, t_start: float, t_stop: float, bin_size: float = 1.0, segment: float = 500.0,
                   window: str = "boxcar") -> xr.DataArray:
    """Power spectral density of every population's spike count (one-sided, Welch's method).

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset.
    t_start, t_stop : float
        Analysis window (ms), clipped to the simulated time; only whole segments are used.
    bin_size : float
        Bin width of the counts (ms); the spectrum reaches up to ``500 / bin_size`` Hz.
    segment : float
        Segment length (ms); the frequency resolution is ``1000 / segment`` Hz.
    window : str
        Taper of each segment (``scipy.signal.get_window``); "boxcar" (none) by default.

    Returns
    -------
    xarray.DataArray
        ``(population, frequency)`` in spikes²/Hz (the count per bin squared, per Hz);
        ``frequency`` in Hz. Attributes: ``bin_size``, ``segment`` (ms), ``n_segments``,
        ``window``, ``t_start``, ``t_stop``; coordinate ``n_neurons``.

    Examples
    --------
    A population of Poisson neurons has a flat spectrum at ``2 var / fs``: 400 neurons at
    10 spikes/s, 1 ms bins, give 4 spikes per bin on average, so 2 x 4 / 1000 Hz = 0.008:

    >>> import numpy as np
    >>> from microcircuit.output import ragged_dataset
    >>> rng = np.random.default_rng(0)
    >>> times = np.sort(rng.uniform(0, 20000, 80000))
    >>> ds = ragged_dataset(np.arange(1, 401), ["A"] * 400, rng.integers(1, 401, 80000), times, {})
    >>> p = power_spectrum(ds, 0.0, 20000.0)
    >>> round(float(p.sel(frequency=slice(10, 490)).mean()), 3)
    0.008
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    counts = population_counts(ds, t_start, t_stop, bin_size)
    per_segment = int(round(segment / bin_size))
    if per_segment < 2 or counts.sizes["time"] < per_segment:
        raise ValueError(f"the window [{t_start:g}, {t_stop:g}] ms is shorter than one {segment:g} ms segment")
    fs = 1000.0 / bin_size
    import scipy.signal  # imported here: it takes about a second, which every command would pay

    frequency, psd = scipy.signal.welch(counts.values.astype(float), fs=fs, window=window, nperseg=per_segment,
                                        noverlap=0, detrend="constant", scaling="density", axis=-1)
    return xr.DataArray(psd, dims=("population", "frequency"), name="power",
                        coords={"population": counts["population"].values,
                                "frequency": ("frequency", frequency, {"units": "Hz"}),
                                "n_neurons": counts["n_neurons"]},
                        attrs={"units": "spikes^2/Hz", "long_name": "power spectral density of the population's "
                               "spike count per bin", "bin_size": float(bin_size), "segment": float(segment),
                               "n_segments": int(counts.sizes["time"] // per_segment), "window": window,
                               "t_start": float(t_start), "t_stop": float(t_stop)})


def spectral_peaks(power: xr.DataArray, f_min: float = 10.0, f_max: float | None = None) -> xr.Dataset:
    """The frequency and height of the largest peak of each spectrum above ``f_min`` Hz.

    Returns
    -------
    xarray.Dataset
        Over ``population``: ``peak_frequency`` (Hz), ``peak_power`` (the spectrum's units) and
        ``peak_ratio``, the peak over the median of the spectrum in the same range (1 for a flat
        spectrum; a clear oscillation stands several times above it).
    """
    band = power.sel(frequency=slice(f_min, f_max))
    i = band.argmax("frequency")
    peak = band.isel(frequency=i)
    return xr.Dataset({
        "peak_frequency": ("population", band["frequency"].values[i.values], {"units": "Hz"}),
        "peak_power": ("population", peak.values, {"units": power.attrs.get("units", "")}),
        "peak_ratio": ("population", (peak / band.median("frequency")).values, {"units": "1"}),
    }, coords={"population": power["population"].values})
