"""Statistics of spike data: pure functions on the spike Dataset (no NEST, no files, no printing).

Every function takes an explicit analysis window ``[t_start, t_stop]`` (ms, absolute
model time, both ends inclusive as in the PD14 reference evaluation, docs/model.md §10).
The spike Dataset is the CF contiguous ragged array written by ``python -m microcircuit.run``
(:mod:`microcircuit.output`): ``spike_count(neuron)``, ``spike_time(spike)`` (ms, grouped by
neuron in ``neuron`` order) and ``population(neuron)``.

The three observables of the PD14 validation (docs/model.md §10, after Dasbach et al. 2021):

* :func:`firing_rates` -- spikes/s of every neuron, silent neurons included;
* :func:`isi_cvs` -- coefficient of variation of the inter-spike intervals of every neuron
  with more than two spikes (NaN for the others);
* :func:`spike_count_correlations` -- Pearson correlation coefficients of the spike counts
  (2 ms bins) of all pairs in a seeded random sample of neurons per population (NaN when a
  neuron of the pair is silent).

:func:`statistics` collects the three into one Dataset, :func:`population_summary` reduces
it per population, and :func:`ks_distances` / :func:`pairwise_ks_distances` compare the
distributions of two runs or of an ensemble of runs population by population with the
two-sample Kolmogorov-Smirnov statistic.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import xarray as xr

from ..output import STATUS_COMPLETE, SpikeSelectionError, neuron_ids, spike_positions

OBSERVABLES = ("rate", "cv", "cc")
"""Names of the three validation observables, as variables of :func:`statistics`."""

OBSERVABLE_LABELS = {"rate": "firing rate (spikes/s)", "cv": "ISI CV", "cc": "spike-count correlation"}

CC_BIN_SIZE = 2.0
"""Bin width (ms) of the spike counts for correlation coefficients (docs/model.md §10)."""

CC_SAMPLE_SIZE = 100
"""Default number of neurons sampled per population for correlation coefficients.

The reference pipeline uses 250 (900 s runs) or 50 (1 s test runs); 100 neurons give
4 950 pairs per population, enough for a KS distance whose sampling error is well below the
seed-to-seed spread, and keep the stored reference data small.
"""

CC_SAMPLE_SEED = 12345
"""Default seed of the random neuron sample for correlation coefficients."""


class IncompleteRunWarning(UserWarning):
    """The analysis window is not wholly simulated: the run stopped early, or the window reaches beyond it.

    The analysis then uses the simulated part of the window (see :func:`clip_window`).
    """


def _simulated_end(ds: xr.Dataset) -> float | None:
    """Model time (ms) up to which the run of ``ds`` was simulated; None when the Dataset does not say."""
    if "t_simulated" in ds.attrs:  # every spike file has it
        return float(ds.attrs["t_simulated"])
    return None


def clip_window(ds: xr.Dataset, t_start: float, t_stop: float, warn: bool = True) -> tuple[float, float]:
    """The part of the window ``[t_start, t_stop]`` (ms) that the run of ``ds`` simulated.

    This is the one rule of every analysis function that takes a window: a window that reaches
    beyond the simulated time (``[0, t_simulated]``; for a run stopped by Ctrl-C, up to where it
    stopped) is clipped to it with an :class:`IncompleteRunWarning` (unless ``warn`` is False),
    so that rates are divided by the time actually simulated; a window without any simulated time
    is an error. A Dataset that does not say how long it was simulated (no ``t_simulated``
    attribute, e.g. one built by hand) is taken as covering the window.

    Raises
    ------
    ValueError
        The window is empty, or holds no simulated time.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(attrs={"t_start": 500.0, "t_stop": 1500.0, "t_simulated": 1100.0,
    ...                        "status": "incomplete: interrupted by SIGINT at t = 1100 ms"})
    >>> clip_window(ds, 500.0, 1500.0, warn=False)
    (500.0, 1100.0)
    """
    _check_window(t_start, t_stop)
    t_start, t_stop = float(t_start), float(t_stop)
    end = _simulated_end(ds)
    if end is None:
        return t_start, t_stop
    status = str(ds.attrs.get("status", STATUS_COMPLETE))
    if t_start >= end or t_stop <= 0.0:
        what = f"the run stopped at t = {end:g} ms ({status})" if status != STATUS_COMPLETE else \
            f"the run simulated [0, {end:g}] ms"
        raise ValueError(f"nothing was simulated in the window [{t_start:g}, {t_stop:g}] ms: {what}")
    lo, hi = max(t_start, 0.0), min(t_stop, end)
    if warn and (lo, hi) != (t_start, t_stop):
        why = (f"the run is incomplete ({status})" if status != STATUS_COMPLETE else
               f"the window reaches beyond the simulated time [0, {end:g}] ms")
        warnings.warn(f"{why}; analysing the simulated part [{lo:g}, {hi:g}] ms of the window "
                      f"[{t_start:g}, {t_stop:g}] ms", IncompleteRunWarning, stacklevel=3)
    return lo, hi


def window(ds: xr.Dataset, warn: bool = True) -> tuple[float, float]:
    """The analysis window of a spike file (ms): end of the warm-up to the end of what was simulated.

    For a complete run that is ``(t_start, t_stop)`` of the file. A run that stopped early (its
    ``status`` is not "complete") was simulated only up to ``t_simulated``: the window ends
    there, and an :class:`IncompleteRunWarning` says so (unless ``warn`` is False).

    Raises
    ------
    ValueError
        If nothing of the window was simulated (the run stopped during the warm-up).

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(attrs={"t_start": 500.0, "t_stop": 5500.0, "t_simulated": 600.0,
    ...                        "status": "incomplete: interrupted by SIGINT at t = 600 ms"})
    >>> window(ds, warn=False)
    (500.0, 600.0)
    """
    return clip_window(ds, float(ds.attrs["t_start"]), float(ds.attrs["t_stop"]), warn=warn)


def neuron_index(ds: xr.Dataset) -> np.ndarray:
    """Position along ``neuron`` of every spike of the Dataset's neurons (see :func:`spike_positions`)."""
    return spike_positions(ds)[0]


def _check_window(t_start: float, t_stop: float) -> None:
    if not t_stop > t_start:
        raise ValueError(f"empty analysis window [{t_start}, {t_stop}] ms")


def _spikes(ds: xr.Dataset, t_start: float, t_stop: float) -> tuple[np.ndarray, np.ndarray]:
    """Position along ``neuron`` and time of every spike of the Dataset's neurons with ``t_start <= t <= t_stop``."""
    index, spike = spike_positions(ds)
    times = np.asarray(ds["spike_time"].values)[spike]
    inside = (times >= t_start) & (times <= t_stop)
    return index[inside], times[inside]


def _windowed(ds: xr.Dataset, t_start: float, t_stop: float) -> tuple[np.ndarray, np.ndarray]:
    """Neuron index and time of every spike with ``t_start <= t <= t_stop``, sorted by (neuron, time)."""
    index, times = _spikes(ds, t_start, t_stop)
    order = np.lexsort((times, index))
    return index[order], times[order]


def n_neurons(ds: xr.Dataset) -> int:
    return int(neuron_ids(ds).size)


def _neuron_coords(ds: xr.Dataset) -> dict:
    return {"neuron": ("neuron", neuron_ids(ds), dict(ds["neuron"].attrs)),
            "population": ("neuron", np.atleast_1d(ds["population"].values).astype(str))}


def spike_counts(ds: xr.Dataset, t_start: float, t_stop: float) -> xr.DataArray:
    """Number of spikes of every neuron with ``t_start <= t <= t_stop`` (silent neurons give 0).

    The window is clipped to the simulated time (:func:`clip_window`).
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    index, _ = _spikes(ds, t_start, t_stop)
    counts = np.bincount(index, minlength=n_neurons(ds))
    return xr.DataArray(counts, dims="neuron", coords=_neuron_coords(ds), name="spike_count",
                        attrs={"t_start": t_start, "t_stop": t_stop})


def firing_rates(ds: xr.Dataset, t_start: float, t_stop: float) -> xr.DataArray:
    """Per-neuron firing rate (spikes/s) in ``[t_start, t_stop]``; silent neurons count as 0.

    The window is clipped to the simulated time (:func:`clip_window`), so an interrupted run's
    rates are its spike counts over the time it simulated.

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset (ragged array, see the module docstring).
    t_start, t_stop : float
        Analysis window (ms, absolute time, both ends inclusive).

    Returns
    -------
    xarray.DataArray
        Dimension ``neuron``, coordinate ``population``; spike count / (t_stop - t_start),
        in spikes/s.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A"]), "spike_count": ("neuron", [2, 0]),
    ...                  "spike_time": ("spike", [100.0, 600.0])}, coords={"neuron": [1, 2]})
    >>> firing_rates(ds, 0.0, 1000.0).values
    array([2., 0.])
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    duration_s = (t_stop - t_start) / 1000.0
    rates = spike_counts(ds, t_start, t_stop) / duration_s
    rates.name = "rate"
    rates.attrs.update(units="spikes/s", t_start=t_start, t_stop=t_stop)
    return rates


def population_names(ds: xr.Dataset) -> list[str]:
    """Population names in the order in which they first appear along ``neuron``."""
    names = np.atleast_1d(ds["population"].values).astype(str)
    _, first = np.unique(names, return_index=True)
    return [names[i] for i in sorted(first)]


def population_mean_rates(ds: xr.Dataset, t_start: float, t_stop: float) -> xr.DataArray:
    """Mean over neurons of the per-neuron rate, per population (spikes/s)."""
    rates = firing_rates(ds, t_start, t_stop)  # clips the window
    means = rates.groupby("population").mean()
    means = means.sel(population=population_names(ds))
    means.name = "mean_rate"
    means.attrs["units"] = "spikes/s"
    return means


def isi_cvs(ds: xr.Dataset, t_start: float, t_stop: float, min_spikes: int = 3) -> xr.DataArray:
    """Coefficient of variation of the inter-spike intervals of every neuron.

    Only spikes in ``[t_start, t_stop]`` count. CV = std(ISI) / mean(ISI), with the
    population standard deviation (ddof = 0), as in the PD14 reference evaluation.

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset (ragged array, see the module docstring).
    t_start, t_stop : float
        Analysis window (ms, absolute time, both ends inclusive).
    min_spikes : int
        Neurons with fewer spikes in the window get NaN (default 3: "more than two spikes",
        i.e. at least two intervals).

    Returns
    -------
    xarray.DataArray
        Dimension ``neuron``, coordinate ``population``; dimensionless; NaN for neurons with
        fewer than ``min_spikes`` spikes (drop them with ``.dropna("neuron")``).

    Examples
    --------
    A regular train has CV 0; intervals of 10 and 30 ms have CV 10/20 = 0.5; two spikes are
    too few:

    >>> import xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A", "B"]), "spike_count": ("neuron", [4, 3, 2]),
    ...                  "spike_time": ("spike", [10., 20., 30., 40., 0., 10., 40., 5., 9.])},
    ...                 coords={"neuron": [1, 2, 3]})
    >>> isi_cvs(ds, 0.0, 100.0).values
    array([0. , 0.5, nan])
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    if min_spikes < 2:
        raise ValueError("min_spikes must be at least 2 (one interval)")
    n = n_neurons(ds)
    index, times = _windowed(ds, t_start, t_stop)
    same = index[1:] == index[:-1]
    isi = np.diff(times)[same]
    owner = index[1:][same]
    n_isi = np.bincount(owner, minlength=n)
    enough = n_isi >= min_spikes - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, weights=isi, minlength=n) / n_isi
        var = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n) / n_isi
        cv = np.where(enough, np.sqrt(var) / mean, np.nan)
    return xr.DataArray(cv, dims="neuron", coords=_neuron_coords(ds), name="cv", attrs={"units": "1"})


def binned_counts(ds: xr.Dataset, neurons: np.ndarray, t_start: float, t_stop: float,
                  bin_size: float = CC_BIN_SIZE) -> np.ndarray:
    """Spike counts of the given neurons in bins of ``bin_size`` ms from ``t_start``.

    Bin edges are ``t_start, t_start + bin_size, ...`` up to the last edge not after
    ``t_stop``; bins are closed on the left, and the last bin also includes its right edge
    (``numpy.histogram`` convention). Spikes after the last edge are ignored.

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset.
    neurons : array of int
        Positions along ``ds.neuron`` (not node ids).
    t_start, t_stop : float
        Window (ms).
    bin_size : float
        Bin width (ms).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(neurons), n_bins)``, integer counts.
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    n_bins = int(np.floor((t_stop - t_start) / bin_size + 1e-9))
    if n_bins < 2:
        raise ValueError(f"window [{t_start}, {t_stop}] ms holds fewer than two {bin_size} ms bins")
    t_last = t_start + n_bins * bin_size
    neurons = np.asarray(neurons, dtype=np.int64)
    slot = np.full(n_neurons(ds), -1)
    slot[neurons] = np.arange(neurons.size)
    index, times = _windowed(ds, t_start, t_last)
    keep = slot[index] >= 0
    bins = np.minimum(((times[keep] - t_start) / bin_size).astype(np.int64), n_bins - 1)
    flat = slot[index[keep]] * n_bins + bins
    return np.bincount(flat, minlength=neurons.size * n_bins).reshape(neurons.size, n_bins)


def correlation_sample(ds: xr.Dataset, sample_size: int = CC_SAMPLE_SIZE,
                       rng: int | np.random.Generator = CC_SAMPLE_SEED) -> dict[str, np.ndarray]:
    """A random sample of neurons per population, drawn without replacement.

    Populations are processed in :func:`population_names` order with one generator, so the
    sample depends only on the seed and the population sizes. A population smaller than
    ``sample_size`` is taken whole (docs/model.md §10).

    Returns
    -------
    dict
        Population name -> sorted positions along ``ds.neuron``.
    """
    if sample_size < 2:
        raise ValueError("sample_size must be at least 2 (one pair)")
    rng = np.random.default_rng(rng)
    names = np.atleast_1d(ds["population"].values).astype(str)
    sample = {}
    for pop in population_names(ds):
        members = np.flatnonzero(names == pop)
        k = min(sample_size, members.size)
        sample[pop] = np.sort(rng.choice(members, size=k, replace=False))
    return sample


def spike_count_correlations(ds: xr.Dataset, t_start: float, t_stop: float, bin_size: float = CC_BIN_SIZE,
                             sample_size: int = CC_SAMPLE_SIZE,
                             rng: int | np.random.Generator = CC_SAMPLE_SEED) -> xr.DataArray:
    """Pearson correlation coefficients of binned spike counts, for all pairs of a neuron sample.

    For every population, ``sample_size`` neurons are drawn at random (all of them when the
    population is smaller, see :func:`correlation_sample`); their spikes are counted in
    ``bin_size`` bins (:func:`binned_counts`) and the correlation coefficient of every pair
    (i < j) is returned. A pair with a silent neuron (zero count variance) gives NaN.

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset.
    t_start, t_stop : float
        Analysis window (ms, absolute time).
    bin_size : float
        Bin width (ms), 2 ms in PD14.
    sample_size : int
        Neurons per population.
    rng : int or numpy.random.Generator
        Seed or generator of the neuron sample (``numpy.random.default_rng(rng)``).

    Returns
    -------
    xarray.DataArray
        Dimension ``pair`` with coordinates ``pair_population``, ``neuron_a`` and ``neuron_b``
        (node ids, ``neuron_a < neuron_b``); dimensionless.

    Examples
    --------
    Two identical trains correlate with 1, a silent neuron gives NaN:

    >>> import xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A", "A"]), "spike_count": ("neuron", [3, 3, 0]),
    ...                  "spike_time": ("spike", [1., 5., 6., 1., 5., 6.])}, coords={"neuron": [1, 2, 3]})
    >>> cc = spike_count_correlations(ds, 0.0, 10.0, sample_size=3)
    >>> cc.values
    array([ 1., nan, nan])
    >>> cc["neuron_a"].values, cc["neuron_b"].values
    (array([1, 1, 2]), array([2, 3, 3]))
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    sample = correlation_sample(ds, sample_size, rng)
    ids = neuron_ids(ds)
    values, pops, first, second = [], [], [], []
    for pop, members in sample.items():
        counts = binned_counts(ds, members, t_start, t_stop, bin_size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(counts)
        corr = np.atleast_2d(corr)
        i, j = np.triu_indices(members.size, k=1)
        silent = counts.std(axis=1) == 0
        cc = corr[i, j]
        cc[silent[i] | silent[j]] = np.nan
        values.append(cc)
        pops.append(np.full(cc.size, pop, dtype=object))
        first.append(ids[members[i]])
        second.append(ids[members[j]])
    return xr.DataArray(
        np.concatenate(values), dims="pair", name="cc",
        coords={"pair_population": ("pair", np.concatenate(pops).astype(str)),
                "neuron_a": ("pair", np.concatenate(first)), "neuron_b": ("pair", np.concatenate(second))},
        attrs={"units": "1", "bin_size": float(bin_size), "bin_size_units": "ms"})


def statistics(ds: xr.Dataset, t_start: float, t_stop: float, bin_size: float = CC_BIN_SIZE,
               sample_size: int = CC_SAMPLE_SIZE, rng: int | np.random.Generator = CC_SAMPLE_SEED) -> xr.Dataset:
    """Per-neuron rates and ISI CVs and per-pair correlation coefficients of one run.

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset.
    t_start, t_stop : float
        Analysis window (ms, absolute time).
    bin_size, sample_size, rng
        Passed to :func:`spike_count_correlations`.

    Returns
    -------
    xarray.Dataset
        ``rate(neuron)`` (spikes/s), ``cv(neuron)`` (NaN below three spikes) and ``cc(pair)``
        (NaN for silent neurons), coordinates ``population(neuron)`` and
        ``pair_population(pair)``; attributes ``t_start``, ``t_stop`` (ms), ``bin_size`` (ms),
        ``cc_sample_size`` and the spike file's seed and scalings when present.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A"]), "spike_count": ("neuron", [3, 3]),
    ...                  "spike_time": ("spike", [1., 5., 7., 1., 5., 7.])}, coords={"neuron": [1, 2]})
    >>> st = statistics(ds, 0.0, 10.0)
    >>> st["rate"].values, st["cc"].values
    (array([300., 300.]), array([1.]))
    """
    t_start, t_stop = clip_window(ds, t_start, t_stop)
    rates = firing_rates(ds, t_start, t_stop)
    cvs = isi_cvs(ds, t_start, t_stop)
    ccs = spike_count_correlations(ds, t_start, t_stop, bin_size=bin_size, sample_size=sample_size, rng=rng)
    attrs = {k: ds.attrs[k] for k in ("seed", "n_scaling", "k_scaling", "background", "neuron_model")
             if k in ds.attrs}
    attrs.update(t_start=float(t_start), t_stop=float(t_stop), bin_size=float(bin_size),
                 cc_sample_size=int(sample_size))
    out = xr.Dataset({"rate": rates, "cv": cvs, "cc": ccs}, attrs=attrs)
    for name in OBSERVABLES:
        out[name].attrs["long_name"] = OBSERVABLE_LABELS[name]
    return out


def _populations(stats: xr.Dataset) -> list[str]:
    return population_names(stats)


def observable_values(stats: xr.Dataset, observable: str, population: str) -> np.ndarray:
    """The finite values of one observable of one population (NaNs dropped)."""
    if observable not in OBSERVABLES:
        raise ValueError(f"unknown observable {observable!r}; choose from {OBSERVABLES}")
    da = stats[observable]
    pop_coord = "pair_population" if observable == "cc" else "population"
    values = np.asarray(da.values[stats[pop_coord].values.astype(str) == population], dtype=float)
    return values[np.isfinite(values)]


def population_summary(stats: xr.Dataset) -> xr.Dataset:
    """Per-population summaries of a :func:`statistics` Dataset.

    Returns
    -------
    xarray.Dataset
        Dimension ``population``: ``n_neurons``; ``rate_mean`` and ``rate_sd`` (spikes/s,
        sd with ddof = 0 as in the reference evaluation, silent neurons included);
        ``silent_fraction``; ``cv_n``, ``cv_mean``, ``cv_median``; ``cc_n``, ``cc_mean``,
        ``cc_sd``. Means of empty samples are NaN.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A"]), "spike_count": ("neuron", [4, 0]),
    ...                  "spike_time": ("spike", [100.0, 200.0, 300.0, 400.0])}, coords={"neuron": [1, 2]})
    >>> s = population_summary(statistics(ds, 0.0, 1000.0))
    >>> float(s["rate_mean"].sel(population="A")), float(s["silent_fraction"].sel(population="A"))
    (2.0, 0.5)
    >>> float(s["cv_mean"].sel(population="A")), int(s["cc_n"].sel(population="A"))
    (0.0, 0)
    """
    pops = _populations(stats)
    rows = {k: [] for k in ("n_neurons", "rate_mean", "rate_sd", "silent_fraction", "cv_n", "cv_mean",
                            "cv_median", "cc_n", "cc_mean", "cc_sd")}
    for pop in pops:
        rate = observable_values(stats, "rate", pop)
        cv = observable_values(stats, "cv", pop)
        cc = observable_values(stats, "cc", pop)
        rows["n_neurons"].append(rate.size)
        rows["rate_mean"].append(rate.mean() if rate.size else np.nan)
        rows["rate_sd"].append(rate.std() if rate.size else np.nan)
        rows["silent_fraction"].append(np.mean(rate == 0) if rate.size else np.nan)
        rows["cv_n"].append(cv.size)
        rows["cv_mean"].append(cv.mean() if cv.size else np.nan)
        rows["cv_median"].append(np.median(cv) if cv.size else np.nan)
        rows["cc_n"].append(cc.size)
        rows["cc_mean"].append(cc.mean() if cc.size else np.nan)
        rows["cc_sd"].append(cc.std() if cc.size else np.nan)
    units = {"rate_mean": "spikes/s", "rate_sd": "spikes/s"}
    return xr.Dataset({k: ("population", np.asarray(v), {"units": units.get(k, "1")}) for k, v in rows.items()},
                      coords={"population": pops})


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``); NaN if a sample is empty."""
    import scipy.stats  # imported here: it takes about a second, which every command would pay

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return np.nan
    # method="asymp": the statistic is the same for every method; this avoids the exact p-value,
    # which is costly for tens of thousands of values and not used here
    with np.errstate(divide="ignore", invalid="ignore"):  # p-value of tiny samples; only the statistic is used
        return float(scipy.stats.ks_2samp(a, b, method="asymp").statistic)


def ks_distances(a: xr.Dataset, b: xr.Dataset) -> xr.DataArray:
    """KS distance between two runs, per observable and population.

    Parameters
    ----------
    a, b : xarray.Dataset
        :func:`statistics` Datasets with the same populations.

    Returns
    -------
    xarray.DataArray
        Dimensions ``(observable, population)``; the two-sample KS statistic of the finite
        values (NaN where either sample is empty).

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"population": ("neuron", ["A", "A"]), "spike_count": ("neuron", [4, 0]),
    ...                  "spike_time": ("spike", [100.0, 200.0, 300.0, 400.0])}, coords={"neuron": [1, 2]})
    >>> st = statistics(ds, 0.0, 1000.0)
    >>> ks_distances(st, st).sel(observable="rate").values
    array([0.])
    """
    pops = _populations(a)
    if pops != _populations(b):
        raise ValueError(f"different populations: {pops} and {_populations(b)}")
    d = [[ks_distance(observable_values(a, obs, p), observable_values(b, obs, p)) for p in pops]
         for obs in OBSERVABLES]
    return xr.DataArray(np.array(d), dims=("observable", "population"),
                        coords={"observable": list(OBSERVABLES), "population": pops}, name="ks_distance",
                        attrs={"units": "1", "long_name": "two-sample Kolmogorov-Smirnov statistic"})


def pairwise_ks_distances(ensemble: xr.Dataset, dim: str = "seed") -> xr.DataArray:
    """KS distances between every unordered pair of members of an ensemble of runs.

    Parameters
    ----------
    ensemble : xarray.Dataset
        :func:`statistics` Datasets concatenated along ``dim``.
    dim : str
        The ensemble dimension (default ``seed``).

    Returns
    -------
    xarray.DataArray
        Dimensions ``(seed_pair, observable, population)`` with coordinates ``seed_a`` and
        ``seed_b`` (values of ``dim``, in the order of ``itertools.combinations``).
    """
    labels = ensemble[dim].values
    members = [ensemble.isel({dim: k}) for k in range(labels.size)]
    pairs = list(itertools.combinations(range(labels.size), 2))
    if not pairs:
        raise ValueError(f"need at least two members along {dim!r}")
    d = xr.concat([ks_distances(members[i], members[j]) for i, j in pairs], dim="seed_pair")
    return d.assign_coords(seed_a=("seed_pair", labels[[i for i, _ in pairs]]),
                           seed_b=("seed_pair", labels[[j for _, j in pairs]]))
