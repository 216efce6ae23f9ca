"""The activity regime of each population as Potjans & Diesmann (2014) measure it: synchrony, irregularity, AIness.

PD14 (Cereb Cortex 24:785, Figs. 6 and 8) characterise the state of every population by three
numbers, computed from a sample of 1 000 neurons per population (all of them in smaller
populations):

* the **rate**, spikes per neuron and second;
* the **irregularity**, the coefficient of variation of the inter-spike intervals (here: the
  mean over the sampled neurons with at least three spikes in the window, :func:`~.isi_cvs`);
* the **synchrony**, the variance over the mean of the population's spike-count histogram in
  3 ms bins (1 for independent Poisson neurons; larger when neurons fire together).

A population is **asynchronous-irregular (AI)** when its rate is below 30 spikes/s, its
irregularity between 0.7 and 1.2 and its synchrony below 8; the **AIness** of the network is
the percentage of its populations that are AI (PD14, Fig. 8B).

The sample is drawn at random per population with a fixed seed (``REGIME_SAMPLE_SEED``), so the
same file always gives the same numbers; :func:`regime_sample` returns it.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .stationary import (binned_counts, clip_window, correlation_sample, isi_cvs, population_mean_rates,
                         population_names)

REGIME_SAMPLE_SIZE = 1000
"""Neurons per population for irregularity and synchrony (PD14)."""
REGIME_SAMPLE_SEED = 2014
"""Seed of the random neuron sample (any fixed number: the sample only has to be reproducible)."""
SYNCHRONY_BIN_SIZE = 3.0
"""Bin width (ms) of the population histogram for synchrony (PD14)."""
AI_MAX_RATE = 30.0        # spikes/s
AI_IRREGULARITY = (0.7, 1.2)
AI_MAX_SYNCHRONY = 8.0
IRREGULARITY_MIN_COUNT = 4.8
"""Spikes per neuron in the window (rate x duration) below which even Poisson neurons, whose CV is 1,
get an irregularity under the AI bound 0.7 (:func:`poisson_irregularity`: 0.70 at 4.8): where a
population fires fewer, a failed CV criterion says more about the window than about the neurons."""


def regime_sample(ds: xr.Dataset, sample_size: int = REGIME_SAMPLE_SIZE,
                  rng: int | np.random.Generator = REGIME_SAMPLE_SEED) -> dict[str, np.ndarray]:
    """PD14's sample: ``sample_size`` neurons of every population (all of a smaller one), positions along ``neuron``."""
    return correlation_sample(ds, sample_size, rng)


def synchrony(ds: xr.Dataset, t_start: float, t_stop: float, bin_size: float = SYNCHRONY_BIN_SIZE,
              sample_size: int = REGIME_SAMPLE_SIZE, rng: int | np.random.Generator = REGIME_SAMPLE_SEED) -> xr.DataArray:
    """Variance over mean of each population's spike-count histogram (PD14's synchrony).

    The spikes of the population's sample (:func:`regime_sample`) are counted in bins of
    ``bin_size`` ms from ``t_start`` (:func:`~.binned_counts`; the window is clipped to the
    simulated time); the synchrony is the variance of these counts over their mean, NaN for a
    population without spikes.

    Returns
    -------
    xarray.DataArray
        Dimension ``population``; dimensionless.

    Examples
    --------
    Independent Poisson neurons give a synchrony near 1; the same train in every neuron gives
    the number of neurons times the variance over the mean of that train:

    >>> import numpy as np
    >>> from microcircuit.output import ragged_dataset
    >>> rng = np.random.default_rng(1)
    >>> t = np.sort(rng.uniform(0, 60000, 600 * 60))  # 600 spikes/s in all
    >>> ds = ragged_dataset(np.arange(1, 101), ["A"] * 100, rng.integers(1, 101, t.size), t, {})
    >>> round(float(synchrony(ds, 0.0, 60000.0)[0]), 1)
    1.0
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    sample = regime_sample(ds, sample_size, rng)
    values = []
    for pop in population_names(ds):
        counts = binned_counts(ds, sample[pop], t_start, t_stop, bin_size).sum(axis=0)
        mean = counts.mean()
        values.append(counts.var() / mean if mean > 0 else np.nan)
    return xr.DataArray(np.array(values), dims="population", coords={"population": population_names(ds)},
                        name="synchrony", attrs={"units": "1", "bin_size": float(bin_size), "bin_size_units": "ms",
                                                 "long_name": "variance / mean of the population spike count"})


def irregularity(ds: xr.Dataset, t_start: float, t_stop: float, sample_size: int = REGIME_SAMPLE_SIZE,
                 rng: int | np.random.Generator = REGIME_SAMPLE_SEED) -> xr.DataArray:
    """Mean ISI CV of each population's sample (neurons with at least 3 spikes in the window; NaN if none)."""
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    sample = regime_sample(ds, sample_size, rng)
    cv = isi_cvs(ds, t_start, t_stop).values
    values = []
    for pop in population_names(ds):
        finite = cv[sample[pop]][np.isfinite(cv[sample[pop]])]
        values.append(finite.mean() if finite.size else np.nan)
    return xr.DataArray(np.array(values), dims="population", coords={"population": population_names(ds)},
                        name="irregularity", attrs={"units": "1", "long_name": "mean ISI CV"})


def poisson_irregularity(mean_count: float, min_spikes: int = 3, trains: int = 4000,
                         rng: int | np.random.Generator = REGIME_SAMPLE_SEED) -> float:
    """The irregularity (:func:`irregularity`) of Poisson neurons firing ``mean_count`` spikes each on average.

    A Poisson train has CV 1, but the estimate from a window is biased low: only neurons with
    at least ``min_spikes`` spikes count, and the long intervals are the ones a window cannot
    hold. Given n spikes in the window, a Poisson train's spike times are n independent uniform
    points, whose n - 1 inner intervals are, up to one common factor, n - 1 independent
    exponential variables; a CV does not see the factor, so the estimate depends on the rate and
    the window only through ``mean_count`` = rate x duration. It is drawn here for ``trains``
    neurons (at most 4 million intervals in all, fewer neurons for long windows). Compare a
    population's irregularity with it, and see :data:`IRREGULARITY_MIN_COUNT`.

    Examples
    --------
    A neuron at 2 spikes/s in a 2 s window, and in PD14's 60 s:

    >>> round(poisson_irregularity(2 * 2.0), 2), round(poisson_irregularity(2 * 60.0), 2)
    (0.67, 0.99)
    """
    rng = np.random.default_rng(rng)
    trains = max(1, min(int(trains), int(4e6 / max(float(mean_count), 1.0))))
    counts = rng.poisson(float(mean_count), trains)
    counts = counts[counts >= max(min_spikes, 2)]
    if counts.size == 0:
        return float("nan")
    m = counts - 1  # intervals per neuron
    isi = rng.exponential(size=int(m.sum()))
    starts = np.concatenate([[0], np.cumsum(m)[:-1]])
    mean = np.add.reduceat(isi, starts) / m
    var = np.maximum(np.add.reduceat(isi ** 2, starts) / m - mean ** 2, 0.0)  # population variance (ddof 0)
    return float(np.mean(np.sqrt(var) / mean))


def irregularity_resolved(rate, duration: float) -> np.ndarray:
    """Where PD14's CV criterion can tell irregular from regular firing: a population's mean count of
    spikes per neuron in a window of ``duration`` ms, ``rate`` (spikes/s) x duration, is at least
    :data:`IRREGULARITY_MIN_COUNT` (False where the rate is NaN).

    >>> irregularity_resolved([0.9, 2.0, 8.0], 2000.0).tolist()
    [False, False, True]
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(rate, dtype=float) * duration / 1000.0 >= IRREGULARITY_MIN_COUNT


def too_few_spikes_for_irregularity(rate, duration: float) -> np.ndarray:
    """Populations that fire but fewer than :data:`IRREGULARITY_MIN_COUNT` spikes per neuron in ``duration`` ms:
    the ones whose failed CV criterion may be the window's. Silent populations (rate 0) and NaN rates are not
    among them: no window makes a silent population asynchronous-irregular.

    >>> too_few_spikes_for_irregularity([0.0, 0.9, 8.0, float("nan")], 2000.0).tolist()
    [False, True, False, False]
    """
    rate = np.asarray(rate, dtype=float)
    return ~irregularity_resolved(rate, duration) & (np.nan_to_num(rate) > 0)


def ainess(ds: xr.Dataset, t_start: float, t_stop: float, sample_size: int = REGIME_SAMPLE_SIZE,
           rng: int | np.random.Generator = REGIME_SAMPLE_SEED) -> xr.Dataset:
    """PD14's measures of every population and whether it is asynchronous-irregular.

    Returns
    -------
    xarray.Dataset
        Over ``population``: ``rate`` (spikes/s, the mean over all the population's neurons),
        ``irregularity`` and ``synchrony`` (of the sample), ``ai`` (bool); the attribute
        ``ainess`` (%) is the share of AI populations, and ``ainess`` is also a scalar variable.

    Examples
    --------
    >>> import numpy as np
    >>> from microcircuit.output import ragged_dataset
    >>> rng = np.random.default_rng(2)
    >>> t = np.sort(rng.uniform(0, 20000, 40000))  # 200 neurons at 10 spikes/s, Poisson
    >>> ds = ragged_dataset(np.arange(1, 201), ["A"] * 100 + ["B"] * 100, rng.integers(1, 201, t.size), t, {})
    >>> result = ainess(ds, 0.0, 20000.0)
    >>> result["ai"].values.tolist(), float(result["ainess"])
    ([True, True], 100.0)
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    rate = population_mean_rates(ds, t_start, t_stop)
    irr = irregularity(ds, t_start, t_stop, sample_size, rng)
    syn = synchrony(ds, t_start, t_stop, SYNCHRONY_BIN_SIZE, sample_size, rng)
    lo, hi = AI_IRREGULARITY
    with np.errstate(invalid="ignore"):
        ai = (rate.values < AI_MAX_RATE) & (irr.values >= lo) & (irr.values <= hi) & (syn.values < AI_MAX_SYNCHRONY)
    percent = 100.0 * float(ai.mean()) if ai.size else np.nan
    out = xr.Dataset(
        {"rate": ("population", rate.values, {"units": "spikes/s", "long_name": "mean rate"}),
         "irregularity": irr, "synchrony": syn,
         "ai": ("population", ai, {"long_name": "asynchronous-irregular: rate < 30 spikes/s, 0.7 <= irregularity "
                                                "<= 1.2, synchrony < 8 (Potjans & Diesmann 2014)"}),
         "ainess": ((), percent, {"units": "%", "long_name": "share of asynchronous-irregular populations"})},
        coords={"population": rate["population"].values},
        attrs={"t_start": t_start, "t_stop": t_stop, "sample_size": int(sample_size), "ainess": percent})
    return out
