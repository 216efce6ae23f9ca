"""Mean-field theory (microcircuit.theory): closed forms, conventions, PD14 predictions, warnings.

No NEST. nnmt (INM-6 Neuronal Network Meanfield Toolbox, an independent implementation of the same
theory) is a dependency of the package and imported plainly: a broken nnmt fails these tests instead of
skipping its cross-checks.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import warnings

import nnmt
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import xarray as xr

from microcircuit import theory
from microcircuit.commands import theory as theory_cmd
from microcircuit.parameters import (
    Config,
    NetworkParams,
    NeuronParams,
    StimulusParams,
    below_rheobase,
    derive,
)

from ..conftest import ROOT
from ..tables import small_table

PD14 = NeuronParams()
THETA = PD14.V_th - PD14.E_L  # 15 mV
RESET = PD14.V_reset - PD14.E_L  # 0 mV


def config(scale=0.1, background="poisson", **net):
    return Config(network=NetworkParams(n_scaling=scale, k_scaling=scale, background=background, **net))


def siegert_by_quadrature(mu, sigma, tau_m=10.0, t_ref=2.0, theta=THETA, reset=RESET):
    """The classical Siegert formula, integrated adaptively: 1/nu = t_ref + tau_m sqrt(pi) int exp(u^2)(1 + erf u) du.

    exp(u^2) (1 + erf u) is evaluated as erfcx(-u), the same function without the
    cancellation of 1 + erf(u) for u << 0.
    """
    lo, hi = (reset - mu) / sigma, (theta - mu) / sigma
    integral, _ = scipy.integrate.quad(lambda u: scipy.special.erfcx(-u), lo, hi, epsabs=0, epsrel=1e-13, limit=500)
    return 1e3 / (t_ref + tau_m * math.sqrt(math.pi) * integral)


# ----------------------------------------------------------------------------------------------
# single neuron: closed forms


# (mu, sigma) in mV covering every branch of the implementation: mean-driven (mu > theta),
# fluctuation-driven with the reset below (y_r < 0 < y_th) and above the mean (y_r > 0),
# nearly deterministic, strongly sub-threshold (rate ~ 1e-41 spikes/s).
REGIMES = [(10.0, 5.0), (5.0, 3.0), (14.0, 1.0), (20.0, 2.0), (16.0, 0.5), (2.0, 4.0), (30.0, 10.0),
           (-5.0, 8.0), (0.0, 1.5), (15.0, 5.0), (40.0, 0.3)]


@pytest.mark.parametrize("mu, sigma", REGIMES)
def test_siegert_matches_direct_quadrature(mu, sigma):
    # fixed-order Gauss-Legendre in log(1 + v) vs adaptive quadrature at 1e-13: agreement to 1e-10
    # relative shows the quadrature error is negligible against any physical tolerance
    assert float(theory.siegert(mu, sigma, 10.0, 2.0, THETA, RESET)) == pytest.approx(
        siegert_by_quadrature(mu, sigma), rel=1e-10)


@pytest.mark.parametrize("mu", [15.5, 20.0, 40.0])
def test_deterministic_limit(mu):
    """sigma -> 0 above threshold: the noiseless LIF rate 1/(t_ref + tau_m ln((mu - V_r)/(mu - theta)))."""
    exact = 1e3 / (2.0 + 10.0 * math.log((mu - RESET) / (mu - THETA)))
    assert float(theory.siegert(mu, 0.0, 10.0, 2.0, THETA, RESET)) == pytest.approx(exact, rel=1e-12)
    # small noise converges to it (the correction is O(sigma^2) away from threshold)
    assert float(theory.siegert(mu, 1e-3, 10.0, 2.0, THETA, RESET)) == pytest.approx(exact, rel=1e-3)
    assert float(theory.siegert(THETA - 1.0, 0.0, 10.0, 2.0, THETA, RESET)) == 0.0


def test_fourcaud_brunel_shift_constant():
    # sqrt(2) |zeta(1/2)| / 2 = 1.0326 (Fourcaud & Brunel 2002, alpha / 2 with alpha = 2.0652)
    assert theory.FB_SHIFT == pytest.approx(1.03263, abs=1e-5)


@pytest.mark.parametrize("mu, sigma", [(10.0, 5.0), (5.0, 3.0), (20.0, 2.0)])
def test_synaptic_filtering_correction_is_a_threshold_shift(mu, sigma):
    """Threshold and reset both move up by FB_SHIFT sqrt(tau_s/tau_m) sigma (0.2309 sigma in PD14)."""
    shift = 1.0326265761 * math.sqrt(0.5 / 10.0) * sigma
    expected = siegert_by_quadrature(mu, sigma, theta=THETA + shift, reset=RESET + shift)
    assert float(theory.firing_rate(mu, sigma, PD14)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("mu, sigma", [(10.0, 5.0), (5.0, 3.0), (20.0, 2.0), (13.0, 1.0)])
def test_white_noise_limit(mu, sigma):
    """tau_s -> 0: the rate with synaptic filtering tends to the white-noise Siegert rate."""
    white = siegert_by_quadrature(mu, sigma)
    fast = dataclasses.replace(PD14, tau_syn=1e-8)
    # the shift is sigma * 1.03 * sqrt(1e-9) ~ 1.6e-4 sigma, i.e. a relative change below 1e-3
    assert float(theory.firing_rate(mu, sigma, fast)) == pytest.approx(white, rel=1e-3)
    # and the PD14 synaptic time constant lowers the rate (higher effective threshold)
    assert float(theory.firing_rate(mu, sigma, PD14)) < white


def test_filtered_noise_rate_against_direct_simulation():
    """A LIF neuron driven by exponentially filtered white noise fires at the Fourcaud-Brunel rate.

    1000 independent neurons, ``tau_m dV = (-V + mu + x) dt`` with ``x`` an Ornstein-Uhlenbeck
    process of time constant tau_s = 0.5 ms (exact update) whose white-noise limit has amplitude
    sigma; V integrated exactly over steps of 0.05 ms with x frozen; 1.8 s after 0.2 s warm-up.
    Measured: simulated 11.6 vs predicted 11.66 spikes/s (0.3 %; with dt = 0.02 ms 0.1 %); the
    white-noise Siegert rate 16.8 is 44 % off. Tolerance 5 %: ~20 000 spikes give a counting
    error of ~1 %, the first-order theory (in sqrt(tau_s/tau_m) = 0.22) leaves O(tau_s/tau_m) = 5 %.
    """
    mu, sigma, tau_s, tau_m, dt = 10.0, 5.0, 0.5, 10.0, 0.05
    n, steps, warm = 1000, 40_000, 4_000
    rng = np.random.default_rng(20260711)
    sd_x = sigma * math.sqrt(tau_m / (2 * tau_s))
    a = math.exp(-dt / tau_s)
    b = sd_x * math.sqrt(1 - a * a)
    decay = math.exp(-dt / tau_m)
    x = rng.normal(0.0, sd_x, n)
    v = rng.uniform(RESET, THETA, n)
    refractory = np.zeros(n)
    spikes = 0
    for step in range(steps):
        free = refractory <= 0
        target = mu + x
        v = np.where(free, target + (v - target) * decay, v)
        refractory -= dt
        x = a * x + b * rng.standard_normal(n)
        fired = v >= THETA
        v[fired] = RESET
        refractory[fired] = PD14.t_ref
        if step >= warm:
            spikes += int(fired.sum())
    simulated = spikes / (n * (steps - warm) * dt * 1e-3)
    predicted = float(theory.firing_rate(mu, sigma, PD14))
    white = float(theory.siegert(mu, sigma, tau_m, PD14.t_ref, THETA, RESET))
    assert simulated == pytest.approx(predicted, rel=0.05)
    assert abs(white / simulated - 1) > 0.3  # the correction matters here


# ----------------------------------------------------------------------------------------------
# input statistics: the conventions of docs/model.md §§3, 6 and parameters.derive


def test_mean_recurrent_current_is_model_facts_mu_loc(pd14_table):
    """At full scale and the table's rates, the recurrent mean current is mu_loc of docs/model.md §3."""
    cfg = config(1.0, "dc", weight_rel_sd=0.0)
    d = derive(cfg, pd14_table)
    inputs = dataclasses.replace(theory.network_inputs(cfg, d), i_const=np.zeros(8))
    mean, _ = theory.input_current_moments(pd14_table["full_mean_rate"].values, inputs)
    mu_loc = [-519.511, -362.511, -572.376, -499.174, -519.047, -445.510, -954.454, -512.795]
    np.testing.assert_allclose(mean, mu_loc, atol=2e-3)  # table given to 3 decimals


def test_dc_background_equals_mean_of_poisson_background(pd14_table):
    """Full scale: DC mode and Poisson mode give the same mean input (I_C = nu K_ext w tau_s, docs/model.md §6)."""
    rates = pd14_table["full_mean_rate"].values
    means = {}
    for bg in ("dc", "poisson"):
        cfg = config(1.0, bg)
        means[bg], _ = theory.input_current_moments(rates, theory.network_inputs(cfg, derive(cfg, pd14_table)))
    np.testing.assert_allclose(means["dc"], means["poisson"], rtol=1e-12)
    i_c = np.array([561.9744, 526.8510, 737.5913, 667.3446, 702.4679, 667.3446, 1018.5785, 737.5913])
    cfg = config(1.0, "dc")
    inputs = dataclasses.replace(theory.network_inputs(cfg, derive(cfg, pd14_table)))
    np.testing.assert_allclose(inputs.i_const, i_c, atol=1e-4)


@pytest.mark.parametrize("background", ["dc", "poisson"])
def test_k_scaling_keeps_mean_and_variance_at_reference_rates(pd14_table, background):
    """The K-scaling compensation (docs/model.md §3) keeps mean and variance of the input at full_mean_rates.

    Tolerance 0.5 % of the gross input (sum of the magnitudes of all mean contributions): at scale 0.1
    population sizes and synapse numbers are rounded (L5I 106.5 -> 106 neurons shifts in-degrees onto
    L5I by 0.47 %), and the net mean is a small difference of large excitatory and inhibitory parts.
    """
    rates = pd14_table["full_mean_rate"].values
    out, gross = {}, {}
    for scale in (1.0, 0.1):
        cfg = config(scale, background)
        inputs = theory.network_inputs(cfg, derive(cfg, pd14_table))
        out[scale] = theory.input_current_moments(rates, inputs)
        magnitude = dataclasses.replace(inputs, weight=np.abs(inputs.weight), i_const=np.abs(inputs.i_const))
        gross[scale] = theory.input_current_moments(rates, magnitude)[0]
    assert np.all(np.abs(out[0.1][0] - out[1.0][0]) <= 5e-3 * gross[1.0])
    np.testing.assert_allclose(out[0.1][1], out[1.0][1], rtol=5e-3)


def test_variance_is_campbell_with_weight_sd():
    """One Poisson source: current variance (tau_s/2) K (w^2 + sd^2) nu; sigma^2 = 2 tau_m/C^2 tau_s var."""
    n = 1
    inputs = theory.Inputs(indegree=np.array([[100.0]]), weight=np.array([[80.0]]), weight_sd=np.array([[8.0]]),
                           ext_rate=np.zeros((n, 1)), ext_weight=np.zeros((n, 1)), ext_weight_sd=np.zeros((n, 1)),
                           i_const=np.array([10.0]), neuron=PD14)
    mean, sd = theory.input_current_moments([5.0], inputs)
    assert mean[0] == pytest.approx(10.0 + 0.5 * 100 * 80.0 * 5e-3)
    assert sd[0] ** 2 == pytest.approx(0.25 * 100 * (80.0**2 + 8.0**2) * 5e-3)
    mu, sigma = theory.input_moments([5.0], inputs)
    assert mu[0] == pytest.approx(mean[0] * 10.0 / 250.0)
    # sigma^2 = tau_m K (tau_s w / C)^2 nu (Brunel 2000 with the PSC charge as jump)
    assert sigma[0] ** 2 == pytest.approx(10.0 * 100 * (0.5 / 250.0) ** 2 * (80.0**2 + 8.0**2) * 5e-3)


# ----------------------------------------------------------------------------------------------
# nnmt: independent implementation of the same theory


@pytest.mark.parametrize("mu, sigma", REGIMES[:8])
def test_rate_agrees_with_nnmt(mu, sigma):
    """nnmt.lif.exp._firing_rate_shift works in SI units (V, s, Hz); ours in mV, ms, spikes/s."""
    with _quiet():
        theirs = nnmt.lif.exp._firing_rate_shift(mu * 1e-3, sigma * 1e-3, RESET * 1e-3, THETA * 1e-3,
                                                 PD14.tau_m * 1e-3, PD14.t_ref * 1e-3, PD14.tau_syn * 1e-3)
    assert float(theory.firing_rate(mu, sigma, PD14)) == pytest.approx(float(theirs), rel=1e-9)


@contextlib.contextmanager
def _quiet():
    """nnmt warns about its own checks (and pint about units); irrelevant here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _nnmt_arguments(cfg, table):
    """Our network in nnmt's conventions: J = w tau_s / C (V), K, tau in s, rates in Hz."""
    d = derive(cfg, table)
    inputs = theory.network_inputs(cfg, d)
    nrn = cfg.network.neuron
    to_volt = nrn.tau_syn / nrn.C_m * 1e-3  # PSC amplitude (pA) -> integrated PSP jump (V)
    return inputs, {
        "J": d.weight * to_volt, "K": inputs.indegree, "V_0_rel": (nrn.V_reset - nrn.E_L) * 1e-3,
        "V_th_rel": (nrn.V_th - nrn.E_L) * 1e-3, "tau_m": nrn.tau_m * 1e-3, "tau_r": nrn.t_ref * 1e-3,
        "tau_s": nrn.tau_syn * 1e-3, "J_ext": np.full(len(d.populations), d.weight_ext * to_volt),
        "K_ext": d.k_ext.astype(float), "nu_ext": float(table["bg_rate"])}


def test_input_moments_agree_with_nnmt(pd14_table):
    from nnmt.lif import _general

    cfg = config(1.0, "poisson", weight_rel_sd=0.0)  # nnmt has no weight distribution
    inputs, a = _nnmt_arguments(cfg, pd14_table)
    rates = pd14_table["full_mean_rate"].values
    mu, sigma = theory.input_moments(rates, inputs)
    args = (rates, a["J"], a["K"], a["tau_m"], a["J_ext"], a["K_ext"], a["nu_ext"])
    np.testing.assert_allclose(mu * 1e-3, _general._mean_input(*args), rtol=1e-12)
    np.testing.assert_allclose(sigma * 1e-3, _general._std_input(*args), rtol=1e-12)


def test_pd14_solution_agrees_with_nnmt(pd14_table):
    """Full scale, Poisson background (no DC: nnmt's I_ext takes no per-population array).

    nnmt solves from zero rates with its own ODE relaxation; agreement to 1e-8 relative shows
    both find the same fixed point of the same equations (measured: 1e-13).
    """
    cfg = config(1.0, "poisson", weight_rel_sd=0.0)
    _, a = _nnmt_arguments(cfg, pd14_table)
    with _quiet():
        theirs = nnmt.lif.exp._firing_rates(**a)
    ours = theory.predict(cfg, table=pd14_table)["rate"].values
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


def test_pd14_dc_solution_agrees_with_nnmt(pd14_table):
    """Full scale, DC background: nnmt has no per-population constant current, so the DC enters as an
    external input of 10^12 spikes/s with weights that give the same mean; its variance, mean^2 / 10^12,
    is 10^-14 of the recurrent one. nnmt solves from zero rates; agreement to 1e-8 (measured 2e-9, its
    relaxation's own stopping tolerance). Without the 10 % weight sd, which nnmt cannot take, so L5I comes
    out at 8.216 instead of the 8.225 of test_cli_prints_the_table.
    """
    cfg = config(1.0, "dc", weight_rel_sd=0.0)
    inputs, a = _nnmt_arguments(cfg, pd14_table)
    nrn = cfg.network.neuron
    assert np.all(inputs.ext_rate == 0)  # DC background: no Poisson input
    mean_dc = inputs.i_const * nrn.tau_m / nrn.C_m * 1e-3  # V
    nu_ext = 1e12
    a.update(K_ext=np.ones(len(mean_dc)), nu_ext=nu_ext, J_ext=mean_dc / (nrn.tau_m * 1e-3 * nu_ext))
    with _quiet():
        theirs = nnmt.lif.exp._firing_rates(**a)
    ours = theory.predict(cfg, table=pd14_table)["rate"].values
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


# ----------------------------------------------------------------------------------------------
# the self-consistent PD14 prediction

# Simulated per-population mean rates (spikes/s) at full scale: docs/model.md §11 full_mean_rate
# (one full-scale run, 4 threads, Dec 2022; its background is not recorded, docs/model.md §3). The two
# older vintages in docs/model.md §11 differ from it by up to 8 % (L4I 5.40 vs 5.88), which bounds the
# seed-to-seed and version-to-version spread of these single-run numbers. The theory is compared
# with DC background here; with Poisson background it is closer (L23E -16 %, others within 6 %).
FULL_MEAN_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])

# Measured deviation (predicted / simulated - 1) at full scale, DC background:
#   L23E -23.6 %, L23I -10.1 %, L4E -3.9 %, L4I -4.1 %, L5E -4.0 %, L5I -4.7 %, L6E +7.4 %, L6I -3.7 %.
# Tolerances: 35 % for L23E and L6E (the low-rate populations, where the diffusion approximation is
# known to be weakest; measured 24 % and 7 %), 15 % for L23I (measured 10 %) and 10 % for the rest
# (measured <= 5 %, plus the <= 8 % spread between the reference vintages). A classic error fails
# this: the naive in-degree C*N instead of the multapse-corrected K (L23E -69 %, L5E +63 %, L6E +109 %)
# or 10 % weaker inhibition (L23E -33 %, L5E +14 %, L6E +26 %).
FULL_SCALE_TOLERANCE = np.array([0.35, 0.15, 0.10, 0.10, 0.10, 0.10, 0.35, 0.10])


@pytest.fixture(scope="module")
def full_dc(pd14_table):
    return theory.predict(config(1.0, "dc"), table=pd14_table)


def test_full_scale_dc_rates_match_simulation(full_dc):
    assert bool(full_dc["converged"])
    deviation = full_dc["rate"].values / FULL_MEAN_RATES - 1
    assert np.all(np.abs(deviation) <= FULL_SCALE_TOLERANCE), dict(zip(full_dc["population"].values, deviation))


def _reference_rates(name):
    """Per-seed population mean rates (seed, population) of reference_data/<name>.nc, or skip."""
    path = ROOT / "reference_data" / f"{name}.nc"
    if not path.exists():
        pytest.skip(f"{path} not made yet (reference_data/make_reference.py)")
    from microcircuit import analysis, validation

    ref = validation.load_reference(path)
    rows = [analysis.population_summary(ref.stats.isel(seed=k))["rate_mean"] for k in range(ref.stats.sizes["seed"])]
    return ref, np.array([r.values for r in rows]), [str(p) for p in rows[0]["population"].values]


# Our own full-scale DC ensemble, reference_data/scale1_dc_T5s.nc (builtin neuron, 5 seeds, 5 s each):
# mean rates 0.927, 2.968, 4.176, 5.698, 8.020, 8.459, 1.099, 7.651 spikes/s; seed sd <= 2 % (L5E), so
# the ensemble mean is known to ~1 %. Measured deviation of the theory:
#   L23E -25.5 %, L23I -10.1 %, L4E +1.6 %, L4I -1.1 %, L5E -9.4 %, L5I -2.8 %, L6E +8.0 %, L6I -1.5 %.
# Tolerance: the measured |deviation| plus 5 percentage points (room for small refinements of either
# model, far above the ~1 % uncertainty of the ensemble mean). 10 % weaker inhibition fails it
# (L23E -35 %, L4I +10 %, L5I +9 %, L6E +26 %, L6I +10 %), and so does the naive in-degree C*N (L23E -70 %).
ENSEMBLE_TOLERANCE = np.array([0.31, 0.16, 0.07, 0.07, 0.15, 0.08, 0.13, 0.07])


def test_full_scale_dc_rates_match_reference_ensemble(full_dc):
    ref, rates, pops = _reference_rates("scale1_dc_T5s")
    assert ref.stats.attrs["background"] == "dc" and float(ref.stats.attrs["n_scaling"]) == 1.0
    deviation = full_dc["rate"].sel(population=pops).values / rates.mean(axis=0) - 1
    assert np.all(np.abs(deviation) <= ENSEMBLE_TOLERANCE), dict(zip(pops, deviation))


def test_ensemble_tolerance_catches_weaker_inhibition(pd14_table):
    _, rates, pops = _reference_rates("scale1_dc_T5s")
    weak = theory.predict(config(1.0, "dc", g=-3.6), table=pd14_table)["rate"].sel(population=pops).values
    assert np.sum(np.abs(weak / rates.mean(axis=0) - 1) > ENSEMBLE_TOLERANCE) >= 3


# Scale 0.1, Poisson background, 10 s runs (builtin neuron, 10 seeds; docs/theory.md): measured deviation
#   L23E +15 %, L23I +20 %, L4E +8 %, L4I +11 %, L5E +2 %, L5I +5 %, L6E +32 %, L6I +9 %;
# the sd of the seed means is <= 2.7 % (L5E), so the ensemble mean is known to ~1 %. Tolerance: 30 % for
# the others (measured <= 20 %) and 45 % for L6E (measured 32 %), a margin for small model changes.
SCALE_0_1_TOLERANCE = np.array([0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.45, 0.30])


def test_scale_0_1_poisson_rates_match_reference_ensemble(pd14_table):
    ref, rates, pops = _reference_rates("scale0.1_poisson_T10s")
    assert ref.stats.attrs["background"] == "poisson" and float(ref.stats.attrs["n_scaling"]) == 0.1
    predicted = theory.predict(config(0.1, "poisson"), table=pd14_table)["rate"].sel(population=pops).values
    deviation = predicted / rates.mean(axis=0) - 1
    assert np.all(np.abs(deviation) <= SCALE_0_1_TOLERANCE), dict(zip(pops, deviation))


def test_full_scale_catches_weaker_inhibition(pd14_table):
    """The tolerance above is tight enough to see 10 % weaker inhibition (a sanity check of the test)."""
    weak = theory.predict(config(1.0, "dc", g=-3.6), table=pd14_table)["rate"].values
    assert np.any(np.abs(weak / FULL_MEAN_RATES - 1) > FULL_SCALE_TOLERANCE)


def test_prediction_does_not_depend_on_the_start(pd14_table):
    """PD14 has one stable fixed point: starting from zero rates gives the same rates (tol 1e-6 spikes/s)."""
    cfg = config(0.1, "poisson")
    inputs = theory.network_inputs(cfg, derive(cfg, pd14_table))
    a = theory.solve(inputs, pd14_table["full_mean_rate"].values)
    b = theory.solve(inputs, np.zeros(8))
    assert a.converged and b.converged
    np.testing.assert_allclose(a.rates, b.rates, atol=1e-6)


def test_prediction_is_a_fixed_point(pd14_table):
    cfg = config(0.1, "poisson")
    p = theory.predict(cfg, table=pd14_table)
    inputs = theory.network_inputs(cfg, derive(cfg, pd14_table))
    np.testing.assert_allclose(theory.transfer(p["rate"].values, inputs), p["rate"].values, atol=1e-6)
    mu, sigma = theory.input_moments(p["rate"].values, inputs)
    np.testing.assert_allclose(p["mu"].values, mu)
    np.testing.assert_allclose(p["sigma"].values, sigma)


def test_prediction_dataset(pd14_table):
    p = theory.predict(config(), table=pd14_table)
    assert list(p["population"].values) == list(pd14_table["population"].values)
    for var, unit in (("rate", "spikes/s"), ("mu", "mV"), ("sigma", "mV"), ("current_mean", "pA"),
                      ("current_sd", "pA"), ("rate_silent_state", "spikes/s"), ("residual", "spikes/s")):
        assert p[var].attrs["units"] == unit
    assert bool(p["converged"]) and float(p["residual"]) < 1e-6
    assert not p["absorbing_silent"].any() and np.isnan(p["rate_silent_state"]).all()
    assert "rate_dc_stimulus" not in p and "rate_thalamic_stimulus" not in p


def test_prediction_round_trips_through_netcdf(tmp_path, pd14_table):
    p = theory.predict(config(0.1, "dc"), table=pd14_table)
    p.to_netcdf(tmp_path / "theory.nc")
    xr.testing.assert_identical(xr.load_dataset(tmp_path / "theory.nc"), p)


def test_comparison_matches_by_population_name(pd14_table):
    p = theory.predict(config(), table=pd14_table)
    pops = list(pd14_table["population"].values)
    simulated = xr.DataArray(np.arange(8.0)[::-1], dims="population", coords={"population": pops[::-1]})
    c = theory.comparison(p, simulated)  # reversed order on purpose: matched by name, not position
    np.testing.assert_array_equal(c["simulated"].values, np.arange(8.0))
    assert np.isnan(c["deviation"].values[0])  # simulated 0: no relative deviation
    np.testing.assert_allclose(c["deviation"].values[1:], p["rate"].values[1:] / np.arange(1.0, 8.0) - 1)
    text = theory.format_comparison(p, simulated)
    assert len(text.splitlines()) == 9 and text.splitlines()[2].split()[0] == "L23I"


def test_stimuli_raise_the_rates_they_drive(pd14_table):
    """The DC pulse (excitatory current to all) and the thalamic pulse (to L4 and L6) raise the rates."""
    cfg = Config(network=NetworkParams(), stimulus=StimulusParams(dc=True, thalamic=True))
    p = theory.predict(cfg, table=pd14_table)
    assert np.all(p["rate_dc_stimulus"].values > p["rate"].values)
    # the thalamus adds input current only to L4 and L6 (docs/model.md §7) ...
    d = derive(cfg, pd14_table)
    inputs = theory.network_inputs(cfg, d)
    during = theory.stimulus_inputs(cfg, d, inputs)["thalamic"]
    rates = p["rate"].values
    added = theory.input_current_moments(rates, during)[0] - theory.input_current_moments(rates, inputs)[0]
    assert np.all(added[[2, 3, 6, 7]] > 10) and np.all(added[[0, 1, 4, 5]] == 0)
    # ... and every population's rate rises through the recurrent excitation that follows
    assert np.all(p["rate_thalamic_stimulus"].values > 1.2 * rates)


def test_any_table_works():
    """A 3-population table (tests/tables.py) gets a converged prediction of 3 rates."""
    table = small_table(3)
    p = theory.predict(config(1.0, "poisson"), table=table)
    assert p.sizes["population"] == 3 and bool(p["converged"])
    assert np.all(p["rate"].values > 0)


# ----------------------------------------------------------------------------------------------
# warnings


def test_warning_for_dc_at_scale_0_1(pd14_table):
    """DC background at K-scaling 0.1 is below the critical values of docs/model.md §3 for all but L6I."""
    cfg = config(0.1, "dc")
    p = theory.predict(cfg, table=pd14_table)
    assert p["absorbing_silent"].values.tolist() == [True] * 7 + [False]
    warnings = theory.check(cfg, prediction=p, table=pd14_table)
    assert len(warnings) == 1
    w = warnings[0]
    assert "L23E, L23I, L4E, L4I, L5E, L5I, L6E" in w and "L6I" not in w.split("stay silent")[0]
    assert "background = 'poisson'" in w and "\n" not in w  # the command line names the flag (test_cli_warns_on_stderr)
    # in the silent state only L6I fires (driven by its supra-threshold DC, I_e = 387 pA > 375 pA)
    silent_rates = p["rate_silent_state"].values
    assert np.all(silent_rates[:7] == 0) and silent_rates[7] > 1


@pytest.mark.parametrize("scale, background", [(0.1, "poisson"), (1.0, "dc"), (1.0, "poisson"), (0.2, "dc")])
def test_no_warning(pd14_table, scale, background):
    """Poisson input always gives noise; DC at full scale is above rheobase; at 0.2 the DC-subthreshold
    L2/3 populations get excitation from L4E, L5E, L6E, which stay supra-threshold."""
    assert theory.check(config(scale, background), table=pd14_table) == []


def test_remedy_names_the_k_scaling_thresholds(pd14_table):
    """docs/model.md §3: every constant input exceeds rheobase for k_scaling >= f*_L23E = 0.4097; the
    provable silent state already disappears once L6E (f* = 0.1061) is supra-threshold and excites the rest."""
    cfg = config(0.1, "dc")
    assert theory.min_k_scaling(cfg, pd14_table) == pytest.approx(0.11)
    assert theory.min_k_scaling(cfg, pd14_table, below_rheobase) == pytest.approx(0.41)
    w = theory.check(cfg, table=pd14_table)[0]
    assert "k_scaling >= 0.41" in w and "disappears above 0.11" in w


def test_warning_for_runaway_without_inhibition(pd14_table):
    cfg = config(0.1, "poisson", g=0.0)
    p = theory.predict(cfg, table=pd14_table)
    assert np.all(p["rate"].values > 250)
    warnings = theory.check(cfg, prediction=p, table=pd14_table)
    assert any("runaway" in w and "L23E" in w for w in warnings)


def test_warning_for_stronger_inhibition_at_scale_0_1(pd14_table):
    """Inhibition x1.5 (g = -6) at scale 0.1: the compensating DC, computed for the table's full_mean_rate, is then
    strongly negative and the theory predicts a silent network (a 1 s simulation, builtin neuron, seed 1:
    0 spikes in every population). At full scale (no compensation) the same change is harmless."""
    warnings = theory.check(config(0.1, "poisson", g=-6.0), table=pd14_table)
    assert len(warnings) == 1 and "silent (< 0.01)" in warnings[0] and "try k_scaling 1" in warnings[0]
    assert theory.check(config(1.0, "poisson", g=-6.0), table=pd14_table) == []


def test_warning_for_silent_populations(pd14_table):
    """Without external input (K_ext = 0) and at full scale nothing drives the network: all silent."""
    table = pd14_table.copy()
    table["k_ext"] = table["k_ext"] * 0
    cfg = config(1.0, "poisson")
    warnings = theory.check(cfg, table=table)
    assert any("silent (< 0.01)" in w for w in warnings)
    assert any("stay silent" in w for w in warnings)


# ----------------------------------------------------------------------------------------------
# command line


def test_cli_prints_the_table(capsys, pd14_table):
    """The full-scale DC prediction as printed, and an independent evaluation of one printed rate.

    8.225 spikes/s for L5I is a regression snapshot: this code's own output when the test was written,
    not a validation (it catches an unintended change). The validation: the printed rate is the
    synaptic-filtering-corrected Siegert rate of the printed input (mu, sigma), evaluated here by
    adaptive quadrature of the classical formula with threshold and reset shifted by
    FB_SHIFT sqrt(tau_s / tau_m) sigma (Fourcaud & Brunel 2002), and nnmt's rate for the same input;
    both at the prediction's full precision, to 1e-9. (test_pd14_dc_solution_agrees_with_nnmt checks
    the self-consistent solution itself against nnmt's solver.)
    """
    assert theory_cmd.main(["--scale", "1", "--background", "dc", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "L23E" in out and "rate" in out and "sigma" in out
    row = next(line for line in out.splitlines() if line.startswith("L5I")).split()
    assert float(row[1]) == pytest.approx(8.225, abs=0.001)  # regression snapshot (this code, 2026-12)
    p = theory.predict(config(1.0, "dc"), table=pd14_table).sel(population="L5I")
    rate, mu, sigma = (float(p[v]) for v in ("rate", "mu", "sigma"))
    assert [float(x) for x in row[1:4]] == [round(rate, 3), round(mu, 2), round(sigma, 2)]
    shift = theory.FB_SHIFT * math.sqrt(PD14.tau_syn / PD14.tau_m) * sigma
    assert rate == pytest.approx(siegert_by_quadrature(mu, sigma, theta=THETA + shift, reset=RESET + shift), rel=1e-9)
    with _quiet():
        theirs = nnmt.lif.exp._firing_rate_shift(mu * 1e-3, sigma * 1e-3, RESET * 1e-3, THETA * 1e-3, PD14.tau_m * 1e-3,
                                                 PD14.t_ref * 1e-3, PD14.tau_syn * 1e-3)
    assert rate == pytest.approx(float(theirs), rel=1e-9)


def test_cli_warns_on_stderr(capsys):
    assert theory_cmd.main(["--background", "dc"]) == 0
    err = capsys.readouterr().err
    assert "stay silent" in err and "--background poisson" in err


def test_cli_error_is_one_line_with_status_2(capsys):
    assert theory_cmd.main(["--scale", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m microcircuit.theory: error:") and "\n" not in err


def test_theory_imports_no_nest():
    import subprocess

    code = "import sys, microcircuit.theory as t; t.predict(t.Config()); print('nest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_run_reuses_the_prediction_only_for_another_seed(pd14_table, monkeypatch, caplog):
    """simulation._predict computes once for configurations that differ only in the seed (which the theory does
    not read), warnings included, and again for any other change or another table."""
    from microcircuit import simulation

    calls = []
    real = theory.predict
    monkeypatch.setattr(theory, "predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(simulation, "_last_prediction", {})
    silent = config(0.05, g=-8.0)  # predicted silent: the warning must be given on every run, cached or not

    def predict(cfg, table=pd14_table):
        caplog.clear()
        with caplog.at_level("WARNING", logger="microcircuit"):
            p = simulation._predict(cfg, derive(cfg, table), table)
        return p, [r.getMessage() for r in caplog.records]

    first, said = predict(silent)
    again, said_again = predict(silent.replace(simulation={"seed": 7}))
    assert len(calls) == 1 and said and said_again == said
    xr.testing.assert_identical(again, first)
    again["rate"][:] = -1.0  # a run's prediction is its own: changing it does not change the next run's
    assert float(predict(silent.replace(simulation={"seed": 8}))[0]["rate"].min()) >= 0
    assert len(calls) == 1
    predict(silent.replace(network={"g": -4.0}))
    predict(silent.replace(network={"g": -4.0}), table=pd14_table.copy())  # another table object
    assert len(calls) == 3
