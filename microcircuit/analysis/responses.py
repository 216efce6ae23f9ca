"""The response to a transient stimulus: trial-averaged population rates around its onsets, and latencies.

PD14's second main result is how the activity caused by a thalamic pulse flows through the
layers (Potjans & Diesmann 2014). :func:`stimulus_response` averages every population's rate
over repeated pulses ("trials"); :func:`response_latency` reads off when and how strongly
each population responds, and marks populations that do not respond.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..output import stored_config
from .stationary import _spikes, population_names, window as analysis_window


def stimulus_onsets(ds: xr.Dataset) -> np.ndarray:
    """The stimulus onsets (ms) stored in a spike file (``stimulus_onset``), or those its configuration implies."""
    if "stimulus_onset" in ds:
        return np.asarray(ds["stimulus_onset"].values, dtype=float)
    stim = stored_config(ds.attrs).get("stimulus", {})
    if not stim.get("thalamic"):
        return np.empty(0)
    return stim["thalamic_start"] + stim.get("thalamic_interval", 0.0) * np.arange(stim.get("thalamic_pulses", 1))


def stimulus_response(ds: xr.Dataset, onsets=None, window: tuple[float, float] = (-50.0, 150.0),
                      bin_size: float = 1.0, baseline: tuple[float, float] | None = None) -> xr.DataArray:
    """Trial-averaged rate of every population around the stimulus onsets (peri-stimulus time histogram).

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset.
    onsets : array of float, optional
        Onsets (ms, absolute time); by default :func:`stimulus_onsets`. Onsets whose window
        does not lie within the simulated part of the analysis window are left out.
    window : (float, float)
        Lags (ms) relative to each onset, e.g. (-50, 150).
    bin_size : float
        Bin width (ms).
    baseline : (float, float), optional
        Lags (ms) of the baseline; by default the pre-onset part of ``window``, ``(window[0], 0)``.

    Returns
    -------
    xarray.DataArray
        ``(population, lag)``: spikes/s per neuron, averaged over trials; ``lag`` holds the bin
        starts (ms; bin ``[lag, lag + bin_size)`` after the onset). Coordinates ``baseline``
        (population; mean rate over the baseline lags and trials), ``baseline_sd`` (population; sd of
        the trial-averaged rate over the baseline bins) and ``sem`` (population, lag; standard
        error of the mean over trials). Attributes ``n_trials``, ``onsets``, ``bin_size``,
        ``baseline_window``.

    Examples
    --------
    Two trials; population A fires once 3 ms after each onset: in the bin [3, 4) ms, 1 spike per
    trial from 2 neurons in 1 ms is 500 spikes/s per neuron:

    >>> from microcircuit.output import ragged_dataset
    >>> ds = ragged_dataset([1, 2], ["A", "A"], [1, 2], [103.5, 203.5],
    ...                     {"t_start": 0.0, "t_stop": 400.0})
    >>> r = stimulus_response(ds, onsets=[100.0, 200.0], window=(-10.0, 10.0))
    >>> float(r.sel(population="A", lag=3.0)), float(r.sel(population="A", lag=4.0)), r.attrs["n_trials"]
    (500.0, 0.0, 2)
    """
    lo, hi = float(window[0]), float(window[1])
    if not (lo < 0 < hi):
        raise ValueError(f"the response window {window} ms must start before the onset (baseline) and end after it")
    base = (lo, 0.0) if baseline is None else (float(baseline[0]), float(baseline[1]))
    if not base[1] > base[0] or base[0] < lo or base[1] > hi:
        raise ValueError(f"the baseline {base} ms must be a non-empty part of the window {window}")
    t_start, t_stop = analysis_window(ds)  # warns for an incomplete run
    onsets = stimulus_onsets(ds) if onsets is None else np.asarray(onsets, dtype=float)
    usable = onsets[(onsets + lo >= t_start) & (onsets + hi <= t_stop)]
    if usable.size == 0:
        raise ValueError(f"no stimulus onset (of {onsets.size}) has its window [{lo:g}, {hi:g}] ms within the "
                         f"simulated analysis window [{t_start:g}, {t_stop:g}] ms")
    n_bins = int(round((hi - lo) / bin_size))
    lags = lo + bin_size * np.arange(n_bins)
    names = population_names(ds)
    pops = np.atleast_1d(ds["population"].values).astype(str)
    index, times = _spikes(ds, t_start, t_stop)
    owner = pops[index]
    per_trial = np.empty((len(names), usable.size, n_bins))
    for p, name in enumerate(names):
        t = times[owner == name]
        n_neurons = int(np.sum(pops == name))
        for k, onset in enumerate(usable):
            rel = t[(t >= onset + lo) & (t < onset + lo + n_bins * bin_size)] - onset
            counts = np.bincount(((rel - lo) / bin_size).astype(np.int64), minlength=n_bins)[:n_bins]
            per_trial[p, k] = counts / (n_neurons * bin_size / 1000.0)
    mean = per_trial.mean(axis=1)
    n = usable.size
    sem = per_trial.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    in_base = (lags >= base[0]) & (lags + bin_size <= base[1] + 1e-9)
    return xr.DataArray(
        mean, dims=("population", "lag"), name="rate",
        coords={"population": names, "lag": ("lag", lags, {"units": "ms", "long_name": "bin start after the onset"}),
                "baseline": ("population", mean[:, in_base].mean(axis=1), {"units": "spikes/s"}),
                "baseline_sd": ("population", mean[:, in_base].std(axis=1, ddof=1), {"units": "spikes/s"}),
                "sem": (("population", "lag"), sem, {"units": "spikes/s", "long_name": "standard error over trials"}),
                "n_neurons": ("population", [int(np.sum(pops == name)) for name in names])},
        attrs={"units": "spikes/s", "long_name": "trial-averaged rate per neuron", "n_trials": int(n),
               "onsets": usable.tolist(), "bin_size": float(bin_size), "baseline_window": list(base)})


def response_latency(response: xr.DataArray, threshold_sd: float = 4.0) -> xr.Dataset:
    """When and how strongly every population responds, from :func:`stimulus_response`.

    A population responds when its trial-averaged rate after the onset rises above the baseline
    by more than ``threshold_sd`` times the baseline's fluctuation, ``sigma``: the sd of the
    trial-averaged rate over the baseline bins, but at least the rate of one spike in one trial
    (``1 / (n_neurons n_trials bin_size)``, so that a population silent before the onset does not
    "respond" with one spike). With 4 sd, a population without a response crosses by chance in a
    150-bin window with a probability of about 150 x 3e-5 = 0.5 % (for Gaussian fluctuations).

    Returns
    -------
    xarray.Dataset
        Over ``population``: ``responds`` (bool), ``onset_latency`` (ms; the first bin at or after
        the onset above the threshold), ``peak_latency`` (ms; the bin of the maximum after the onset),
        ``peak_amplitude`` (spikes/s above the baseline), ``baseline`` and ``threshold`` (spikes/s).
        Latencies and amplitude are NaN for populations that do not respond.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> lags = np.arange(-20.0, 30.0)
    >>> rng = np.random.default_rng(0)
    >>> rates = 5 + rng.normal(0, 0.2, (2, lags.size))
    >>> rates[0, (lags >= 4) & (lags < 12)] += 20  # A responds 4 ms after the onset; B does not
    >>> r = xr.DataArray(rates, dims=("population", "lag"), coords={"population": ["A", "B"], "lag": lags,
    ...                  "baseline": ("population", rates[:, lags < 0].mean(1)),
    ...                  "baseline_sd": ("population", rates[:, lags < 0].std(1, ddof=1)),
    ...                  "n_neurons": ("population", [1000, 1000])}, attrs={"n_trials": 10, "bin_size": 1.0})
    >>> lat = response_latency(r)
    >>> lat["responds"].values.tolist(), float(lat["onset_latency"].sel(population="A"))
    ([True, False], 4.0)
    >>> bool(np.isnan(lat["peak_latency"].sel(population="B")))
    True
    """
    post = response.where(response["lag"] >= 0, drop=True)
    bin_s = float(response.attrs.get("bin_size", 1.0)) / 1000.0
    one_spike = 1.0 / (response["n_neurons"] * int(response.attrs.get("n_trials", 1)) * bin_s)
    sigma = np.maximum(response["baseline_sd"].fillna(0.0), one_spike)
    threshold = response["baseline"] + threshold_sd * sigma
    above = post > threshold
    responds = above.any("lag")
    first = above.argmax("lag")
    peak = post.argmax("lag")
    lags = post["lag"].values
    nan = np.full(responds.size, np.nan)
    onset = np.where(responds, lags[first.values], nan)
    peak_lag = np.where(responds, lags[peak.values], nan)
    amplitude = np.where(responds, post.max("lag").values - response["baseline"].values, nan)
    return xr.Dataset({
        "responds": ("population", responds.values),
        "onset_latency": ("population", onset, {"units": "ms", "long_name": "first bin above the threshold"}),
        "peak_latency": ("population", peak_lag, {"units": "ms", "long_name": "bin of the largest rate"}),
        "peak_amplitude": ("population", amplitude, {"units": "spikes/s", "long_name": "peak rate above baseline"}),
        "baseline": ("population", response["baseline"].values, {"units": "spikes/s"}),
        "threshold": ("population", threshold.values, {"units": "spikes/s"}),
    }, coords={"population": response["population"].values},
        attrs={"threshold_sd": float(threshold_sd), "n_trials": int(response.attrs.get("n_trials", 0))})
