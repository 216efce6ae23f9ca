"""Power spectra of population activity: the estimate (analysis) and the mean-field prediction (theory). No NEST.

nnmt is a dependency of the package and imported plainly: a broken nnmt fails these tests.
"""
from __future__ import annotations

import warnings

import nnmt
import numpy as np
import pytest

from microcircuit import analysis, theory
from microcircuit.output import ragged_dataset
from microcircuit.parameters import Config, NetworkParams, derive
from microcircuit.theory.spectra import TRANSFER_GRID

from ..tables import small_table


def poisson_population(rng, n_neurons, rate_hz, t_stop, name="A", first_id=1):
    n = rng.poisson(n_neurons * rate_hz * t_stop / 1000.0)
    return np.arange(first_id, first_id + n_neurons), [name] * n_neurons, \
        rng.integers(first_id, first_id + n_neurons, n), rng.uniform(0.0, t_stop, n)


def two_populations(seed=0, t_stop=20_000.0):
    rng = np.random.default_rng(seed)
    a = poisson_population(rng, 400, 10.0, t_stop, "A", 1)
    b = poisson_population(rng, 100, 2.0, t_stop, "B", 401)
    return ragged_dataset(np.concatenate([a[0], b[0]]), a[1] + b[1], np.concatenate([a[2], b[2]]),
                          np.concatenate([a[3], b[3]]), {"t_start": 0.0, "t_stop": t_stop})


def test_spectrum_integrates_to_the_variance_of_the_binned_counts():
    """Parseval: with no taper and no overlap, sum(P) df is the mean over segments of the counts' variance (exact);
    for a stationary signal that is the variance of all binned counts, up to sampling noise."""
    ds = two_populations()
    p = analysis.power_spectrum(ds, 0.0, 20_000.0)
    counts = analysis.population_counts(ds, 0.0, 20_000.0)
    df = float(p["frequency"][1] - p["frequency"][0])
    segments = counts.values.reshape(2, -1, 500)  # 40 segments of 500 ms
    np.testing.assert_allclose(p.sum("frequency").values * df, segments.var(axis=-1).mean(axis=-1), rtol=1e-10)
    # the variance of the whole signal, within 5 % (40 segments: sd of the mean of their variances ~ 2 %)
    np.testing.assert_allclose(p.sum("frequency").values * df, counts.var("time").values, rtol=0.05)
    assert p.attrs["units"] == "spikes^2/Hz" and p.attrs["n_segments"] == 40
    assert float(p["frequency"][-1]) == 500.0 and df == 2.0


def test_poisson_populations_have_flat_spectra_at_the_shot_noise_level():
    """Binned Poisson counts are white: 2 var / fs = 2 N nu dt^2 at every frequency."""
    ds = two_populations(1)
    p = analysis.power_spectrum(ds, 0.0, 20_000.0).sel(frequency=slice(4, 496))
    expected = {"A": 2 * 400 * 10.0 * 1e-3**2, "B": 2 * 100 * 2.0 * 1e-3**2}
    for pop, level in expected.items():
        x = p.sel(population=pop).values
        # each value averages 40 periodograms (chi^2 with 80 dof, relative sd 0.16); their mean over 247
        # frequencies has a relative sd of 1 %: 5 % is five standard errors
        assert abs(x.mean() / level - 1) < 0.05
        assert abs(x.std() / x.mean() - np.sqrt(2 / 80)) < 0.05


def test_spectral_peak_of_an_oscillating_population():
    """A population whose rate is modulated at 80 Hz has its largest peak there."""
    rng = np.random.default_rng(2)
    t = rng.uniform(0, 10_000.0, 400_000)
    keep = rng.random(t.size) < 0.5 * (1 + 0.5 * np.sin(2 * np.pi * 80.0 * t / 1000.0))
    t = t[keep]
    ds = ragged_dataset(np.arange(1, 201), ["A"] * 200, rng.integers(1, 201, t.size), t,
                        {"t_start": 0.0, "t_stop": 10_000.0})
    peaks = analysis.spectral_peaks(analysis.power_spectrum(ds, 0.0, 10_000.0))
    assert float(peaks["peak_frequency"].sel(population="A")) == 80.0
    assert float(peaks["peak_ratio"].sel(population="A")) > 10


def test_spectrum_needs_one_segment():
    with pytest.raises(ValueError, match="shorter than one 500 ms segment"):
        analysis.power_spectrum(two_populations(t_stop=400.0), 0.0, 400.0)


# ---------------------------------------------------------------------------------------------- theory

def test_unconnected_network_predicts_the_shot_noise_level():
    """Without recurrent synapses W = 0: each population is a sum of independent Poisson-like neurons, C = nu/N,
    and the binned counts are white at 2 N nu dt^2."""
    table = small_table(2, size=300)
    table["connection_probability"] = table["connection_probability"] * 0
    cfg = Config(network=NetworkParams(connectivity="", n_scaling=1.0, k_scaling=1.0))
    d = derive(cfg, table)
    pred = theory.predict(cfg, d)
    p = theory.power_spectra(cfg, d, pred, frequencies=[1.0, 50.0, 200.0, 500.0])
    level = 2 * d.sizes * pred["rate"].values * 1e-3**2
    np.testing.assert_allclose(p.values, np.repeat(level[:, np.newaxis], 4, axis=1), rtol=1e-9)


def nnmt_spectra(cfg, d, pred, f):
    """nnmt's power spectra of the population rates, with the transfer function computed by nnmt at every
    frequency, converted to binned counts (1 ms) as theory.power_spectra does: (population, frequency)."""
    nrn = cfg.network.neuron
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf = nnmt.lif.exp._transfer_function_shift(pred["mu"].values * 1e-3, pred["sigma"].values * 1e-3, 0.01, 5e-4,
                                                   2e-3, 0.015, 0.0, 2 * np.pi * f)
        delays = nnmt.network_properties._delay_dist_matrix(d.delay * 1e-3, d.delay_sd * 1e-3, "truncated_gaussian",
                                                            2 * np.pi * f)
        j = d.weight * nrn.tau_syn / nrn.C_m * 1e-3
        k = d.synapses / d.sizes[:, np.newaxis]
        w = nnmt.lif.exp._effective_connectivity(tf, delays, j, k, 0.01)
        rate_power = nnmt.lif.exp._power_spectra(pred["rate"].values, w, j, k, d.sizes.astype(float), 0.01)
    dt = 1e-3
    shot = pred["rate"].values / d.sizes
    return (2 * (d.sizes * dt) ** 2 * (shot + (rate_power - shot) * np.sinc(f * dt)[:, np.newaxis] ** 2)).T


def test_prediction_agrees_with_nnmt_power_spectra(pd14_table):
    """Our cross-spectrum step against nnmt's own _power_spectra with the same effective connectivity
    (before the conversion to binned counts); 4 frequencies: the transfer function is computed at each."""
    cfg = Config(network=NetworkParams(n_scaling=0.1, k_scaling=0.1))
    d = derive(cfg, pd14_table)
    pred = theory.predict(cfg, d)
    f = np.array([5.0, 40.0, 80.0, 250.0])
    ours = theory.power_spectra(cfg, d, pred, frequencies=f)
    np.testing.assert_allclose(ours.values, nnmt_spectra(cfg, d, pred, f), rtol=1e-10)


def test_interpolated_transfer_function_agrees_with_nnmt_on_a_dense_grid(pd14_table):
    """More than TRANSFER_GRID frequencies: the transfer function is computed on 40 log-spaced frequencies
    and interpolated (cubic spline in log f). Compared with nnmt computing it at every frequency, PD14 at
    full scale (DC), 1-500 Hz, at the points where a spline errs most: halfway (in log f) between its
    nodes, and a quarter of the way. Measured: at most 9.6e-5 relative (L5E, 323 Hz; spectra.py states
    < 1e-4 for the transfer function). Tolerance 2.5e-4: room for other scipy/mpmath versions, and it
    catches the interpolation's likely errors: a spline in f instead of log f (6.2e-4), 20 instead of
    40 nodes (3.5e-3), nodes spaced linearly in f (0.28).
    """
    cfg = Config(network=NetworkParams(n_scaling=1.0, k_scaling=1.0, background="dc"))
    d = derive(cfg, pd14_table)
    pred = theory.predict(cfg, d)
    log_nodes = np.log(np.geomspace(1.0, 500.0, TRANSFER_GRID))
    between = np.concatenate([log_nodes[:-1] + q * np.diff(log_nodes) for q in (0.25, 0.5)])
    f = np.concatenate([[1.0], np.sort(np.exp(between)), [500.0]])  # 80 frequencies: the nodes span 1-500 Hz
    ours = theory.power_spectra(cfg, d, pred, frequencies=f)
    theirs = nnmt_spectra(cfg, d, pred, f)
    np.testing.assert_allclose(ours.values, theirs, rtol=2.5e-4)


def test_prediction_of_pd14_has_a_low_gamma_peak_in_layer_4(pd14_table):
    """Bos et al. (2016): low-gamma power originates in L2/3 and L4, high-gamma in L4I. At full scale (DC)
    the predicted L4E spectrum peaks between 40 and 100 Hz, L4I's highest peak lies above 150 Hz."""
    cfg = Config(network=NetworkParams(n_scaling=1.0, k_scaling=1.0, background="dc"))
    p = theory.power_spectra(cfg, table=pd14_table, frequencies=np.arange(10.0, 501.0, 2.0))
    peaks = analysis.spectral_peaks(p, f_min=10.0)
    assert 40 <= float(peaks["peak_frequency"].sel(population="L4E")) <= 100
    assert float(peaks["peak_frequency"].sel(population="L4I")) > 150
    assert p.dims == ("population", "frequency") and p.attrs["units"] == "spikes^2/Hz"
