"""microcircuit.analysis against spike trains with known statistics (no NEST).

Tolerances come from the sampling distribution of each estimator; the random trains use
fixed seeds, so every test is deterministic, and each tolerance is wide enough (>= 5 standard
errors) that a correct implementation would fail it with probability < 1e-5 for any seed.
"""
from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from microcircuit import analysis
from microcircuit.output import ragged_dataset


def spike_dataset(trains: list[np.ndarray], populations: list[str], t_start=0.0, t_stop=1000.0) -> xr.Dataset:
    """A spike Dataset as written by the run command, from one array of times (ms) per neuron."""
    neurons = np.arange(1, len(trains) + 1)
    senders = np.concatenate([np.full(len(t), n) for n, t in zip(neurons, trains)]).astype(np.int64)
    times = np.concatenate([np.asarray(t, dtype=float) for t in trains]) if trains else np.empty(0)
    return ragged_dataset(neurons, populations, senders, times, {"t_start": t_start, "t_stop": t_stop})


def poisson_trains(rng, n: int, rate_hz: float, t_stop: float) -> list[np.ndarray]:
    """Independent homogeneous Poisson trains on [0, t_stop] ms."""
    trains = []
    for k in rng.poisson(rate_hz * t_stop / 1000.0, size=n):
        trains.append(np.sort(rng.uniform(0.0, t_stop, size=k)))
    return trains


@pytest.mark.parametrize("module", ["stationary", "spectra", "responses", "regime"])
def test_doctests(module):
    import importlib

    result = doctest.testmod(importlib.import_module(f"microcircuit.analysis.{module}"),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0


# ---------------------------------------------------------------- rates

def test_rate_of_a_known_count_with_inclusive_window_and_silent_neurons():
    # 7 spikes inside [500, 2500] (two of them exactly on the edges), 3 outside
    inside = [500.0, 700.0, 900.0, 1200.0, 1800.0, 2400.0, 2500.0]
    ds = spike_dataset([np.array([100.0, 499.9] + inside + [2500.1]), np.array([])], ["A", "B"])
    rates = analysis.firing_rates(ds, 500.0, 2500.0)
    np.testing.assert_array_equal(rates.values, [7 / 2.0, 0.0])
    assert rates.attrs["units"] == "spikes/s"
    assert list(rates["population"].values) == ["A", "B"]


def test_rate_rejects_an_empty_window():
    ds = spike_dataset([np.array([1.0])], ["A"])
    with pytest.raises(ValueError, match="empty analysis window"):
        analysis.firing_rates(ds, 10.0, 10.0)


def test_poisson_rates_scatter_as_the_poisson_distribution():
    """Rates of Poisson neurons: mean within 5 standard errors, variance of counts = mean (Fano 1)."""
    rng = np.random.default_rng(1)
    rate, t_stop, n = 8.0, 10_000.0, 2000
    ds = spike_dataset(poisson_trains(rng, n, rate, t_stop), ["A"] * n, t_stop=t_stop)
    counts = analysis.firing_rates(ds, 0.0, t_stop).values * t_stop / 1000.0
    expected = rate * t_stop / 1000.0  # 80 spikes
    assert abs(counts.mean() - expected) < 5 * np.sqrt(expected / n)
    # sample variance of Poisson counts: sd of var/mean ~ sqrt(2/(n-1)) (normal approximation)
    assert abs(counts.var(ddof=1) / expected - 1) < 5 * np.sqrt(2 / (n - 1))


def test_population_mean_rates_in_first_appearance_order():
    ds = spike_dataset([np.array([1.0, 2.0]), np.array([]), np.array([5.0])], ["L2", "L2", "L1"])
    means = analysis.population_mean_rates(ds, 0.0, 1000.0)
    assert list(means["population"].values) == ["L2", "L1"]
    np.testing.assert_allclose(means.values, [1.0, 1.0])


# ---------------------------------------------------------------- ISI CV

def test_regular_trains_have_cv_zero():
    trains = [np.arange(10.0, 1000.0, period) for period in (5.0, 10.0, 33.0)]
    cv = analysis.isi_cvs(spike_dataset(trains, ["A"] * 3), 0.0, 1000.0)
    np.testing.assert_allclose(cv.values, 0.0, atol=1e-12)


def test_cv_needs_more_than_two_spikes_in_the_window():
    # neuron 1: 3 spikes but only 2 in the window; neuron 2: 3 in the window; neuron 3: silent
    trains = [np.array([5.0, 50.0, 150.0]), np.array([20.0, 30.0, 60.0]), np.array([])]
    cv = analysis.isi_cvs(spike_dataset(trains, ["A"] * 3), 10.0, 100.0)
    assert np.isnan(cv.values[0]) and np.isnan(cv.values[2])
    # intervals 10 and 30: sd (ddof 0) 10, mean 20
    assert cv.values[1] == pytest.approx(0.5, abs=1e-12)


def test_poisson_trains_have_cv_one():
    """Exponential intervals: the sample CV of n intervals has sd 1/sqrt(n) (delta method:
    Var(s/m) = [Var(s) + Var(m) - 2 Cov(m, s)] / mean^2 = (2 + 1 - 2) / n for the exponential)."""
    rng = np.random.default_rng(2)
    rate, t_stop, n = 50.0, 20_000.0, 200  # ~1000 intervals per neuron
    ds = spike_dataset(poisson_trains(rng, n, rate, t_stop), ["A"] * n, t_stop=t_stop)
    cv = analysis.isi_cvs(ds, 0.0, t_stop).values
    n_isi = analysis.spike_counts(ds, 0.0, t_stop).values - 1
    # every neuron within 5.5 sd (P(|Z| > 5.5) x 200 neurons < 1e-5); bias of the ddof-0 estimator ~ 1/n
    assert np.all(np.abs(cv - 1) < 5.5 / np.sqrt(n_isi) + 1 / n_isi)
    # the mean over neurons within 5 standard errors
    assert abs(cv.mean() - 1) < 5 * np.sqrt(np.mean(1 / n_isi) / n) + np.mean(1 / n_isi)


# ---------------------------------------------------------------- correlation coefficients

def test_identical_trains_have_cc_one_and_silent_neurons_nan():
    rng = np.random.default_rng(3)
    train = np.sort(rng.uniform(0, 1000, 40))
    ds = spike_dataset([train, train.copy(), train.copy(), np.array([])], ["A"] * 4)
    cc = analysis.spike_count_correlations(ds, 0.0, 1000.0, sample_size=4, rng=0)
    assert cc.sizes["pair"] == 6
    silent = (cc["neuron_a"] == 4) | (cc["neuron_b"] == 4)
    np.testing.assert_allclose(cc.values[~silent.values], 1.0, atol=1e-12)
    assert np.all(np.isnan(cc.values[silent.values]))


def test_binned_counts_follow_the_histogram_convention():
    # bins [0,2), [2,4), [4,6]: 6.0 is in the last bin, 6.5 is beyond it (window 6.5 holds 3 whole bins)
    ds = spike_dataset([np.array([0.0, 1.9, 2.0, 5.9, 6.0, 6.5])], ["A"])
    counts = analysis.binned_counts(ds, np.array([0]), 0.0, 6.5, bin_size=2.0)
    np.testing.assert_array_equal(counts, [[2, 1, 2]])
    ref, _ = np.histogram([0.0, 1.9, 2.0, 5.9, 6.0], bins=[0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(counts[0], ref)


def test_independent_poisson_trains_have_cc_near_zero():
    """For independent count series of B bins, Pearson's r has mean ~0 and sd 1/sqrt(B);
    pairs sharing a neuron are uncorrelated, so the mean over P pairs has sd 1/sqrt(B P)."""
    rng = np.random.default_rng(4)
    n, t_stop, rate = 60, 20_000.0, 50.0  # B = 10 000 bins of 2 ms, ~0.1 spikes per bin
    ds = spike_dataset(poisson_trains(rng, n, rate, t_stop), ["A"] * n, t_stop=t_stop)
    cc = analysis.spike_count_correlations(ds, 0.0, t_stop, sample_size=n, rng=0).values
    n_bins, n_pairs = t_stop / 2.0, n * (n - 1) / 2
    assert cc.size == n_pairs and np.all(np.isfinite(cc))
    assert abs(cc.mean()) < 5 / np.sqrt(n_bins * n_pairs)
    # sd of the CCs: relative standard error of a sample sd is ~1/sqrt(2 P) = 1.7 %; allow 5 of them
    assert abs(cc.std() * np.sqrt(n_bins) - 1) < 5 / np.sqrt(2 * n_pairs)


def test_correlated_trains_have_the_expected_cc():
    """Two trains sharing a common Poisson source with fraction f of their spikes: r = f (for
    bins much wider than the jitter, here 0: shared spikes coincide exactly)."""
    rng = np.random.default_rng(5)
    t_stop, rate, f = 20_000.0, 40.0, 0.3
    common = np.sort(rng.uniform(0, t_stop, rng.poisson(f * rate * t_stop / 1000)))
    own = [np.sort(rng.uniform(0, t_stop, rng.poisson((1 - f) * rate * t_stop / 1000))) for _ in range(2)]
    ds = spike_dataset([np.sort(np.concatenate([common, o])) for o in own], ["A", "A"], t_stop=t_stop)
    cc = float(analysis.spike_count_correlations(ds, 0.0, t_stop, sample_size=2, rng=0)[0])
    # sampling sd of r is ~ (1 - r^2)/sqrt(B) = 0.009 for B = 10 000
    assert cc == pytest.approx(f, abs=5 * (1 - f ** 2) / np.sqrt(t_stop / 2))


def test_correlation_sample_is_seeded_and_handles_small_populations():
    ds = spike_dataset([np.array([1.0])] * 30, ["A"] * 20 + ["B"] * 10)
    s1 = analysis.correlation_sample(ds, sample_size=15, rng=7)
    s2 = analysis.correlation_sample(ds, sample_size=15, rng=np.random.default_rng(7))
    s3 = analysis.correlation_sample(ds, sample_size=15, rng=8)
    assert {k: v.tolist() for k, v in s1.items()} == {k: v.tolist() for k, v in s2.items()}
    assert s1["A"].tolist() != s3["A"].tolist()
    assert len(s1["A"]) == 15 and len(set(s1["A"])) == 15 and np.all(s1["A"] < 20)
    np.testing.assert_array_equal(s1["B"], np.arange(20, 30))  # smaller than the sample: all of it (P11)
    cc = analysis.spike_count_correlations(ds, 0.0, 10.0, sample_size=15, rng=7)
    assert (cc["pair_population"] == "B").sum() == 10 * 9 / 2
    assert (cc["pair_population"] == "A").sum() == 15 * 14 / 2
    assert np.all(cc["neuron_a"] < cc["neuron_b"])


# ---------------------------------------------------------------- summaries and KS distances

def two_population_stats(seed: int, shift: float = 0.0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    trains = poisson_trains(rng, 80, 10.0 + shift, 5000.0) + poisson_trains(rng, 40, 20.0, 5000.0)
    ds = spike_dataset(trains, ["E"] * 80 + ["I"] * 40, t_stop=5000.0)
    return analysis.statistics(ds, 0.0, 5000.0, sample_size=30)


def test_statistics_and_population_summary():
    st = two_population_stats(6)
    assert set(st.data_vars) == {"rate", "cv", "cc"}
    assert st.sizes["neuron"] == 120 and st.sizes["pair"] == 2 * 30 * 29 / 2
    assert st.attrs["t_start"] == 0.0 and st.attrs["t_stop"] == 5000.0
    s = analysis.population_summary(st)
    assert list(s["population"].values) == ["E", "I"]
    e_rates = st["rate"].values[:80]
    assert float(s["rate_mean"].sel(population="E")) == pytest.approx(e_rates.mean())
    assert float(s["rate_sd"].sel(population="E")) == pytest.approx(e_rates.std(ddof=0))
    assert int(s["n_neurons"].sel(population="I")) == 40
    assert s["rate_mean"].attrs["units"] == "spikes/s"


def test_ks_distances_match_scipy_and_are_symmetric():
    a, b = two_population_stats(7), two_population_stats(8)
    d = analysis.ks_distances(a, b)
    assert d.dims == ("observable", "population")
    for obs in analysis.OBSERVABLES:
        for pop in ("E", "I"):
            x, y = analysis.observable_values(a, obs, pop), analysis.observable_values(b, obs, pop)
            assert float(d.sel(observable=obs, population=pop)) == pytest.approx(scipy.stats.ks_2samp(x, y).statistic)
    xr.testing.assert_allclose(d, analysis.ks_distances(b, a))
    assert float(analysis.ks_distances(a, a).max()) == 0.0


def test_ks_distance_detects_a_rate_change():
    """Rates of 10 vs 14 spikes/s over 5 s (count sd sqrt(50) = 7 vs a shift of 20): D_KS of the
    E rates must be large, while the unchanged I population stays at the sampling level."""
    a, b = two_population_stats(9), two_population_stats(10, shift=4.0)
    d = analysis.ks_distances(a, b)
    assert float(d.sel(observable="rate", population="E")) > 0.8
    # two samples of 40 from one distribution: D > 1.63 sqrt(2/40) = 0.36 has probability 1 %
    assert float(d.sel(observable="rate", population="I")) < 0.36


def test_ks_distance_of_empty_samples_is_nan():
    assert np.isnan(analysis.ks_distance(np.array([]), np.array([1.0])))


def test_pairwise_ks_distances_cover_all_pairs():
    stats = [two_population_stats(s) for s in (11, 12, 13)]
    ens = xr.concat(stats, dim="seed", coords="minimal", compat="override").assign_coords(seed=[1, 2, 3])
    d = analysis.pairwise_ks_distances(ens)
    assert d.sizes["seed_pair"] == 3
    assert list(zip(d["seed_a"].values, d["seed_b"].values)) == [(1, 2), (1, 3), (2, 3)]
    xr.testing.assert_allclose(d.isel(seed_pair=1).drop_vars(["seed_a", "seed_b"]),
                               analysis.ks_distances(stats[0], stats[2]))


def test_window_of_complete_incomplete_and_empty_runs():
    """The analysis window ends where the simulation ended; an incomplete run says so; nothing simulated is an error."""
    ds = xr.Dataset(attrs={"t_start": 500.0, "t_stop": 5500.0, "t_simulated": 5500.0, "status": "complete"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete run gives no warning
        assert analysis.window(ds) == (500.0, 5500.0)
    ds.attrs.update(t_simulated=600.0, status="incomplete: interrupted by SIGINT at t = 600 ms")
    with pytest.warns(analysis.IncompleteRunWarning, match=r"SIGINT .*\[500, 600\] ms"):
        assert analysis.window(ds) == (500.0, 600.0)
    ds.attrs.update(t_simulated=400.0)
    with pytest.raises(ValueError, match=r"nothing was simulated in the window \[500, 5500\] ms: the run stopped at t = 400 ms"):
        analysis.window(ds)


def test_spikes_accessor_one_liners():
    from microcircuit import output

    result = doctest.testmod(output)  # the examples of ds.spikes
    assert result.attempted >= 5 and result.failed == 0
    ds = ragged_dataset([1, 2, 3], ["A", "A", "B"], [1, 3, 1, 2], [5.0, 7.5, 6.0, 9.0], {})
    np.testing.assert_array_equal(ds.spikes.times(neuron=3).values, [7.5])
    np.testing.assert_array_equal(ds.spikes.sender().values, [1, 1, 2, 3])
    with pytest.raises(KeyError, match="no neuron 7"):
        ds.spikes.times(neuron=7)
    with pytest.raises(KeyError, match="no population 'C'"):
        ds.spikes.times(population="C")


# ---------------------------------------------------------------- PD14's regime measures

def test_synchrony_of_independent_poisson_neurons_is_one():
    """For independent Poisson neurons the population count in 3 ms bins is Poisson: var / mean = 1.

    200 neurons at 5 spikes/s over 60 s: 20 000 bins with a mean of 3; the sd of var/mean over
    bins is about sqrt(2 / 20 000) = 0.01, so +-0.05 is 5 sd.
    """
    rng = np.random.default_rng(11)
    ds = spike_dataset(poisson_trains(rng, 200, 5.0, 60000.0), ["A"] * 200, t_stop=60000.0)
    assert float(analysis.synchrony(ds, 0.0, 60000.0)[0]) == pytest.approx(1.0, abs=0.05)


def test_synchrony_of_identical_trains_is_the_population_size_times_that_of_one():
    """n neurons firing the same train: the population count is n times one neuron's, so var / mean scales by n."""
    rng = np.random.default_rng(12)
    train = poisson_trains(rng, 1, 20.0, 10000.0)[0]
    ds = spike_dataset([train] * 50, ["A"] * 50, t_stop=10000.0)
    one = analysis.binned_counts(spike_dataset([train], ["A"], t_stop=10000.0), [0], 0.0, 10000.0, 3.0)[0]
    assert float(analysis.synchrony(ds, 0.0, 10000.0)[0]) == pytest.approx(50 * one.var() / one.mean(), rel=1e-12)


def test_the_regime_sample_is_1000_neurons_or_the_whole_population_and_reproducible():
    ds = spike_dataset([np.array([1.0])] * 1300, ["A"] * 1200 + ["B"] * 100)
    sample = analysis.regime_sample(ds)
    assert sample["A"].size == 1000 and np.unique(sample["A"]).size == 1000 and sample["B"].size == 100
    np.testing.assert_array_equal(sample["A"], analysis.regime_sample(ds)["A"])


def test_irregularity_is_one_for_poisson_and_zero_for_regular_trains():
    """Mean ISI CV of the sample: exponential intervals have CV 1 (200 neurons x ~100 intervals:
    the mean CV's sd is below 0.01, +-0.05 allows for the small-sample bias of each CV, ~1 %)."""
    rng = np.random.default_rng(13)
    poisson = poisson_trains(rng, 200, 10.0, 10000.0)
    regular = [np.arange(5.0, 10000.0, 100.0)] * 10
    ds = spike_dataset(poisson + regular, ["P"] * 200 + ["R"] * 10, t_stop=10000.0)
    irr = analysis.irregularity(ds, 0.0, 10000.0)
    assert float(irr.sel(population="P")) == pytest.approx(1.0, abs=0.05)
    assert float(irr.sel(population="R")) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("rate, t_stop", [(2.0, 2000.0), (1.0, 10000.0)])
def test_poisson_irregularity_is_what_the_estimator_gives_for_poisson_trains_in_that_window(rate, t_stop):
    """poisson_irregularity draws exponential intervals; here the estimator itself runs on Poisson trains
    (uniform spike times in the window). 4000 neurons each: the mean CV's sd is about 0.3 / sqrt(3000),
    under 0.006, so the two agree within 0.03 (> 3 sd of their difference)."""
    rng = np.random.default_rng(15)
    ds = spike_dataset(poisson_trains(rng, 4000, rate, t_stop), ["P"] * 4000, t_stop=t_stop)
    measured = float(analysis.irregularity(ds, 0.0, t_stop, sample_size=4000)[0])
    assert analysis.poisson_irregularity(rate * t_stop / 1000.0) == pytest.approx(measured, abs=0.03)
    assert measured < 0.9  # the windows are short: the estimate is biased well below the trains' CV of 1


def test_below_irregularity_min_count_spikes_poisson_neurons_fail_the_cv_criterion():
    """IRREGULARITY_MIN_COUNT is where the Poisson estimate crosses 0.7: 40 000 neurons (sd ~0.002) per
    value; the estimate rises with the count (0.02 per 0.25 spikes near the threshold) and nears 1 for
    PD14's 60 s (>= 0.98 at 2 spikes/s: the bias left is about 1 / count)."""
    at = analysis.IRREGULARITY_MIN_COUNT
    assert analysis.poisson_irregularity(at, trains=40000) == pytest.approx(0.7, abs=0.01)
    assert analysis.poisson_irregularity(at - 1, trains=40000) < 0.69 < 0.71 < analysis.poisson_irregularity(
        at + 1, trains=40000)
    assert analysis.poisson_irregularity(2.0 * 60.0) >= 0.98
    assert analysis.irregularity_resolved([at * 0.99, at * 1.01, np.nan], 1000.0).tolist() == [False, True, False]


@pytest.mark.parametrize("case, ai", [("poisson", True), ("fast", False), ("regular", False), ("synchronous", False),
                                      ("silent", False)])
def test_ainess_applies_pd14s_three_criteria(case, ai):
    """AI: rate < 30 spikes/s, 0.7 <= CV <= 1.2, synchrony < 8; each case breaks one criterion
    (by far: 60 spikes/s, CV 0, synchrony ~100) or none; a silent population is not AI."""
    rng = np.random.default_rng(14)
    base = poisson_trains(rng, 100, 8.0, 20000.0)
    trains = {"poisson": base, "fast": poisson_trains(rng, 100, 60.0, 20000.0),
              "regular": [np.arange(k, 20000.0, 125.0) for k in rng.uniform(0, 125, 100)],
              "synchronous": [base[0]] * 100, "silent": [np.array([])] * 100}[case]
    ds = spike_dataset(base + trains, ["ref"] * 100 + ["X"] * 100, t_stop=20000.0)
    result = analysis.ainess(ds, 0.0, 20000.0)
    assert bool(result["ai"].sel(population="ref")) and bool(result["ai"].sel(population="X")) == ai
    assert float(result["ainess"]) == (100.0 if ai else 50.0) == result.attrs["ainess"]
