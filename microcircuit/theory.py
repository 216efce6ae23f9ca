"""Mean-field theory of the microcircuit: predicted stationary rates for any connectivity table.

``python -m microcircuit.theory [run options]`` prints, for the network that
``python -m microcircuit.run`` with the same options would build, the predicted
stationary rate of every population and the mean and fluctuation of its input.

Theory (see docs/theory.md for the assumptions and where it fails for PD14):

* Every neuron of population y receives, on top of its constant current ``I_e``,
  independent Poisson spike trains: ``K_yx`` inputs of rate ``nu_x`` and PSC amplitude
  ``w_yx`` from every population x (``K`` = mean in-degree of this network, i.e. the
  multapse-corrected ``Q_yx / N_y``), plus the Poisson background.
* Diffusion approximation (Amit & Brunel 1997; Brunel 2000): the input is replaced by
  Gaussian noise with mean ``mu`` and white-noise amplitude ``sigma`` (both in mV):

      mu_y      = (tau_m / C_m) [ I_e,y + tau_s sum_x K_yx w_yx nu_x ]
      sigma_y^2 = tau_m sum_x K_yx (tau_s / C_m)^2 (w_yx^2 + sd_yx^2) nu_x

  (background terms alike). ``sd_yx`` is the synaptic weight sd: each neuron sums
  ``K`` inputs with independently drawn fixed weights, so its variance is
  ``K E[w^2] nu``, with ``E[w^2] = w^2 + sd^2`` averaged over neurons.
* Stationary rate of a LIF neuron with exponential synaptic currents: the white-noise
  Siegert formula with threshold and reset shifted by
  ``sigma sqrt(tau_s / tau_m) |zeta(1/2)| / sqrt(2)`` (Fourcaud & Brunel 2002), valid
  for ``tau_s << tau_m`` (PD14: ``sqrt(tau_s / tau_m) = 0.22``).
* Self-consistency across populations ``nu = Phi(mu(nu), sigma(nu))``, solved by
  relaxing ``d nu / ds = Phi(nu) - nu`` (which settles on a fixed point that is stable
  for rate dynamics) and polishing with ``scipy.optimize.root``.

Everything here is pure (no NEST, no files except in ``main``); units are the package's:
ms, mV, pA, pF, spikes/s.

References
----------
Amit DJ, Brunel N (1997) Cereb Cortex 7:237-252.
Brunel N (2000) J Comput Neurosci 8:183-208.
Fourcaud N, Brunel N (2002) Neural Comput 14:2057-2110.
Siegert AJF (1951) Phys Rev 81:617-623.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special
import xarray as xr

from .parameters import Config, Derived, NeuronParams, derive, rheobase

log = logging.getLogger("microcircuit")

#: |zeta(1/2)| / sqrt(2): threshold and reset move up by this times sqrt(tau_s/tau_m) sigma
#: (Fourcaud & Brunel 2002, eq. 4.33 and the text after it).
FB_SHIFT = abs(float(scipy.special.zeta(0.5))) / math.sqrt(2.0)

#: A population predicted below this rate (spikes/s) is reported as silent. PD14's slowest
#: population fires at ~0.9 spikes/s (MODEL_FACTS §8.4); at 0.01 spikes/s a neuron fires once
#: per 100 s, so in runs of 1-10 s almost all its neurons are silent and its rate, ISI CV
#: (>= 3 spikes) and correlation statistics are undefined.
SILENT_RATE = 0.01

#: A population predicted above this fraction of the maximal rate 1/t_ref is reported as
#: runaway: refractoriness then takes at least half of every interspike interval, far outside
#: the asynchronous irregular low-rate state PD14 is built for (rates <~ 10 spikes/s).
RUNAWAY_FRACTION = 0.5

_GL_ORDER = 64
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_ORDER)


# ----------------------------------------------------------------------------------------------
# single neuron


def _erfcx_integral(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``int_a^b erfcx(v) dv`` for ``0 <= a <= b`` (elementwise).

    Gauss-Legendre quadrature in ``t = ln(1 + v)``: the integrand becomes
    ``erfcx(v) (1 + v)``, which is smooth and stays between 0.56 and 1 for all ``v >= 0``,
    so a fixed order is accurate for any range (checked against ``scipy.integrate.quad``
    in the tests).
    """
    ta, tb = np.log1p(a), np.log1p(b)
    half = 0.5 * (tb - ta)
    t = (0.5 * (tb + ta))[..., np.newaxis] + half[..., np.newaxis] * _GL_X
    v = np.expm1(t)
    return half * np.sum(_GL_W * scipy.special.erfcx(v) * (1.0 + v), axis=-1)


def siegert(mu, sigma, tau_m: float, t_ref: float, theta, v_reset) -> np.ndarray:
    """Stationary rate of a LIF neuron driven by white noise (Siegert 1951).

    ``1 / nu = t_ref + tau_m sqrt(pi) int_{y_r}^{y_th} exp(u^2) (1 + erf u) du`` with
    ``y_th = (theta - mu) / sigma`` and ``y_r = (v_reset - mu) / sigma``, for
    ``tau_m dV/dt = -V + mu + sigma sqrt(tau_m) xi(t)``.

    Parameters
    ----------
    mu : array_like
        Mean input (mV, relative to the resting potential).
    sigma : array_like
        White-noise amplitude of the input (mV), ``>= 0``; the free membrane potential
        has variance ``sigma**2 / 2``. ``sigma = 0`` gives the deterministic rate.
    tau_m : float
        Membrane time constant (ms).
    t_ref : float
        Absolute refractory period (ms).
    theta, v_reset : array_like
        Threshold and reset (mV, relative to the resting potential), ``v_reset < theta``.

    Returns
    -------
    numpy.ndarray
        Firing rate (spikes/s), same shape as the broadcast inputs.
    """
    mu, sigma, theta, v_reset = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                                      (mu, sigma, theta, v_reset)))
    rate = np.zeros(mu.shape)
    noisy = sigma > 1e-12 * np.maximum(1.0, np.abs(theta - v_reset))
    # deterministic limit: rate 0 below threshold, 1 / (t_ref + tau_m ln((mu - V_r)/(mu - theta))) above
    det = ~noisy & (mu > theta)
    rate[det] = 1.0 / (t_ref + tau_m * np.log((mu[det] - v_reset[det]) / (mu[det] - theta[det])))

    s = np.where(noisy, sigma, 1.0)
    y_th = np.where(noisy, (theta - mu) / s, 0.0)
    y_r = np.where(noisy, (v_reset - mu) / s, -1.0)
    sqrt_pi = math.sqrt(math.pi)

    # mean-driven (y_th <= 0): the integrand erfcx(-u) = erfcx(|u|) is bounded
    m = noisy & (y_th <= 0)
    integral = _erfcx_integral(-y_th[m], -y_r[m])
    rate[m] = 1.0 / (t_ref + tau_m * sqrt_pi * integral)

    # fluctuation-driven (y_th > 0): for u > 0, erfcx(-u) = 2 exp(u^2) - erfcx(u), and
    # int_0^y 2 exp(u^2) du = 2 exp(y^2) D(y) (D = Dawson's function). Factor exp(y_th^2) out:
    # 1/nu = t_ref + tau_m sqrt(pi) exp(y_th^2) J, so nu = e / (e t_ref + tau_m sqrt(pi) J), e = exp(-y_th^2).
    f = noisy & (y_th > 0)
    yt, yr = y_th[f], y_r[f]
    e = np.exp(-yt**2)
    j = 2.0 * scipy.special.dawsn(yt)
    pos = yr >= 0
    with np.errstate(over="ignore", invalid="ignore"):
        # yr >= 0: subtract the part below yr of the exp(u^2) integral, and int_yr^yt erfcx
        lower_pos = 2.0 * np.exp(np.where(pos, yr**2 - yt**2, 0.0)) * scipy.special.dawsn(np.where(pos, yr, 0.0))
        erfcx_pos = _erfcx_integral(np.where(pos, yr, 0.0), np.where(pos, yt, 0.0))
        # yr < 0: int_yr^0 erfcx(-u) du = int_0^|yr| erfcx, and subtract int_0^yt erfcx
        erfcx_neg = (_erfcx_integral(np.zeros_like(yr), np.where(pos, 0.0, -yr))
                     - _erfcx_integral(np.zeros_like(yt), np.where(pos, 0.0, yt)))
    j = j + np.where(pos, -lower_pos - e * erfcx_pos, e * erfcx_neg)
    rate[f] = e / (e * t_ref + tau_m * sqrt_pi * j)
    return 1e3 * rate


def firing_rate(mu, sigma, neuron: NeuronParams) -> np.ndarray:
    """Stationary rate of a LIF neuron with exponential synaptic currents (Fourcaud & Brunel 2002).

    The white-noise Siegert rate with threshold and reset both raised by
    ``FB_SHIFT * sqrt(tau_syn / tau_m) * sigma``; first order in ``sqrt(tau_syn / tau_m)``.

    Parameters
    ----------
    mu : array_like
        Mean input (mV, relative to ``E_L``).
    sigma : array_like
        White-noise amplitude of the input (mV).
    neuron : NeuronParams
        Neuron parameters (ms, mV).

    Returns
    -------
    numpy.ndarray
        Firing rate (spikes/s).
    """
    shift = FB_SHIFT * math.sqrt(neuron.tau_syn / neuron.tau_m) * np.asarray(sigma, dtype=float)
    return siegert(mu, sigma, neuron.tau_m, neuron.t_ref,
                   neuron.V_th - neuron.E_L + shift, neuron.V_reset - neuron.E_L + shift)


# ----------------------------------------------------------------------------------------------
# network input


@dataclass(frozen=True)
class Inputs:
    """The stationary input of every population of one network (matrices are [target, source]).

    Attributes
    ----------
    indegree : numpy.ndarray, shape (n, n)
        Mean number of synapses per target neuron, ``synapses / sizes`` (multapses counted).
    weight, weight_sd : numpy.ndarray, shape (n, n)
        Mean and sd of the recurrent PSC amplitudes (pA), as the network draws them.
    ext_rate : numpy.ndarray, shape (n, m)
        Total rate of spikes from each of ``m`` external Poisson sources per neuron (spikes/s).
    ext_weight, ext_weight_sd : numpy.ndarray, shape (n, m)
        Mean and sd of their PSC amplitudes (pA).
    i_const : numpy.ndarray, shape (n,)
        Constant current per population (pA): ``I_e`` (DC background, K-scaling compensation).
    neuron : NeuronParams
    """

    indegree: np.ndarray
    weight: np.ndarray
    weight_sd: np.ndarray
    ext_rate: np.ndarray
    ext_weight: np.ndarray
    ext_weight_sd: np.ndarray
    i_const: np.ndarray
    neuron: NeuronParams

    def with_poisson(self, rate, weight, weight_sd=0.0) -> Inputs:
        """These inputs plus one more external Poisson source (spikes/s per neuron, pA)."""
        n = self.i_const.shape[0]

        def col(x):
            return np.broadcast_to(np.asarray(x, dtype=float), (n,))[:, np.newaxis]
        return dataclasses.replace(
            self, ext_rate=np.hstack([self.ext_rate, col(rate)]),
            ext_weight=np.hstack([self.ext_weight, col(weight)]),
            ext_weight_sd=np.hstack([self.ext_weight_sd, col(weight_sd)]))

    def with_current(self, current) -> Inputs:
        """These inputs plus a constant current per population (pA)."""
        return dataclasses.replace(self, i_const=self.i_const + np.asarray(current, dtype=float))


def network_inputs(config: Config, derived: Derived) -> Inputs:
    """The stationary input of the network that ``derived = derive(config, table)`` describes.

    Transient stimuli (thalamic pulse, DC pulse) are not part of it (see ``stimulus_inputs``).
    """
    n = len(derived.populations)
    return Inputs(
        indegree=derived.synapses / derived.sizes[:, np.newaxis],
        weight=np.asarray(derived.weight, dtype=float),
        weight_sd=np.asarray(derived.weight_sd, dtype=float),
        ext_rate=np.asarray(derived.poisson_rate, dtype=float).reshape(n, 1),
        ext_weight=np.full((n, 1), derived.weight_ext),
        ext_weight_sd=np.zeros((n, 1)),  # the background weight is fixed (MODEL_FACTS §4.4)
        i_const=np.asarray(derived.i_e, dtype=float),
        neuron=config.network.neuron,
    )


def stimulus_inputs(config: Config, derived: Derived, inputs: Inputs) -> dict[str, Inputs]:
    """The inputs during each switched-on transient stimulus, by stimulus name.

    ``"dc"``: the DC pulse adds ``dc_amplitude`` (pA) to every neuron. ``"thalamic"``: every
    neuron of population y receives ``thalamic_synapses_y / N_y`` thalamic inputs, each a
    Poisson train at ``thalamic_rate``, with the thalamic weights.
    """
    stim = config.stimulus
    out = {}
    if stim.dc:
        out["dc"] = inputs.with_current(derived.dc_amplitude)
    if stim.thalamic:
        k_th = derived.thalamic_synapses / derived.sizes
        out["thalamic"] = inputs.with_poisson(k_th * stim.thalamic_rate, derived.weight_thalamic,
                                              derived.weight_thalamic_sd)
    return out


def input_moments(rates, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Mean and white-noise amplitude of every population's input for given rates.

    Parameters
    ----------
    rates : array_like, shape (n,)
        Rate of every population (spikes/s).
    inputs : Inputs

    Returns
    -------
    mu : numpy.ndarray
        Mean input (mV, relative to ``E_L``): the mean of the free membrane potential,
        ``(tau_m / C_m) (I_e + tau_s sum K w nu)``.
    sigma : numpy.ndarray
        White-noise amplitude (mV): ``sigma**2 = tau_m sum K (tau_s / C_m)**2 (w**2 + sd**2) nu``;
        ``sigma**2 / 2`` is the free membrane potential's variance for ``tau_s -> 0``.
    """
    i_mean, i_sd = input_current_moments(rates, inputs)
    nrn = inputs.neuron
    # a shot noise of current variance i_sd**2 = (tau_s / 2) sum K w^2 nu equals, for tau_s -> 0,
    # white noise of amplitude sigma with sigma**2 = tau_m sum K (tau_s w / C_m)**2 nu
    return nrn.tau_m / nrn.C_m * i_mean, i_sd * math.sqrt(2.0 * nrn.tau_syn * nrn.tau_m) / nrn.C_m


def input_current_moments(rates, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of every population's total synaptic plus constant input current (pA).

    Campbell's theorem for Poisson spikes with exponential PSCs ``w exp(-t/tau_s)``:
    mean ``I_e + tau_s sum K w nu`` and variance ``(tau_s / 2) sum K (w**2 + sd**2) nu``
    (MODEL_FACTS §5.3 writes the same mean and variance without the weight sd).

    Parameters
    ----------
    rates : array_like, shape (n,)
        Rate of every population (spikes/s).
    inputs : Inputs

    Returns
    -------
    mean, sd : numpy.ndarray
        Current (pA).
    """
    nrn = inputs.neuron
    nu = np.asarray(rates, dtype=float) * 1e-3  # spikes/ms
    ext = inputs.ext_rate * 1e-3
    mean = (inputs.i_const + nrn.tau_syn * ((inputs.indegree * inputs.weight) @ nu)
            + nrn.tau_syn * np.sum(ext * inputs.ext_weight, axis=1))
    var = 0.5 * nrn.tau_syn * ((inputs.indegree * (inputs.weight**2 + inputs.weight_sd**2)) @ nu
                               + np.sum(ext * (inputs.ext_weight**2 + inputs.ext_weight_sd**2), axis=1))
    return mean, np.sqrt(var)


def transfer(rates, inputs: Inputs) -> np.ndarray:
    """``Phi(nu)``: the stationary output rate of every population (spikes/s) for input rates ``nu``."""
    mu, sigma = input_moments(rates, inputs)
    return firing_rate(mu, sigma, inputs.neuron)


# ----------------------------------------------------------------------------------------------
# self-consistent solution


@dataclass(frozen=True)
class Solution:
    """A solution of ``nu = Phi(nu)``.

    Attributes
    ----------
    rates : numpy.ndarray
        Rates (spikes/s).
    converged : bool
        Whether ``residual <= tol``.
    residual : float
        ``max |Phi(nu) - nu|`` (spikes/s).
    evaluations : int
        Number of evaluations of ``Phi``.
    message : str
    """

    rates: np.ndarray
    converged: bool
    residual: float
    evaluations: int
    message: str


def solve(inputs: Inputs, start, clamp=None, tol: float = 1e-6, max_time: float = 1e4) -> Solution:
    """Solve ``nu = Phi(nu)`` starting from the rates ``start``.

    Relaxes ``d nu / ds = Phi(nu) - nu`` (pseudo-time ``s``) with LSODA until the residual
    ``max |Phi(nu) - nu|`` falls below ``100 tol``: this settles on a fixed point that is
    stable under rate dynamics (oscillatory instabilities through delays are not
    considered). Then polishes with ``scipy.optimize.root`` (hybrid Powell) and keeps the
    polished point if it is better and within 1 % of the relaxed one.

    Parameters
    ----------
    inputs : Inputs
    start : array_like, shape (n,)
        Initial rates (spikes/s).
    clamp : array_like of bool, shape (n,), optional
        Populations held at rate 0.
    tol : float
        Convergence criterion on the residual (spikes/s).
    max_time : float
        Longest relaxation (pseudo-time, in units of the rate time constant).

    Returns
    -------
    Solution
    """
    n = inputs.i_const.shape[0]
    free = np.ones(n, dtype=bool) if clamp is None else ~np.asarray(clamp, dtype=bool)
    count = [0]

    def residual_of(nu):
        count[0] += 1
        return np.where(free, transfer(np.maximum(nu, 0.0), inputs) - nu, -nu)

    nu = np.where(free, np.maximum(np.asarray(start, dtype=float), 0.0), 0.0)
    residual = np.max(np.abs(residual_of(nu)))
    s, ds = 0.0, 10.0
    while residual > 100 * tol and s < max_time:
        sol = scipy.integrate.solve_ivp(lambda _, x: residual_of(x), (0.0, ds), nu, method="LSODA",
                                        rtol=1e-8, atol=1e-10)
        nu = np.maximum(sol.y[:, -1], 0.0)
        s += ds
        ds *= 2
        residual = np.max(np.abs(residual_of(nu)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        root = scipy.optimize.root(residual_of, nu, method="hybr", options={"xtol": 1e-13})
    polished = np.where(free, np.maximum(root.x, 0.0), 0.0)
    polished_residual = np.max(np.abs(residual_of(polished)))
    if polished_residual < residual and np.allclose(polished, nu, rtol=1e-2, atol=1e-3):
        nu, residual = polished, polished_residual
    converged = bool(residual <= tol)
    message = (f"converged: max |Phi(nu) - nu| = {residual:.1e} spikes/s" if converged else
               f"not converged: max |Phi(nu) - nu| = {residual:.1e} spikes/s after relaxing to s = {s:g}")
    return Solution(rates=nu, converged=converged, residual=float(residual), evaluations=count[0],
                    message=message)


# ----------------------------------------------------------------------------------------------
# absorbing silent state


def absorbing_silent(config: Config, derived: Derived) -> np.ndarray:
    """Populations that, once silent, stay silent for ever (exactly, no approximation).

    A neuron with constant input at most rheobase (``I_e <= C_m (V_th - E_L) / tau_m``),
    no Poisson input and only inhibitory (negative) synaptic currents never reaches
    threshold: ``V`` relaxes to at most ``V_th`` and inhibition only lowers it. Starting
    from all populations with ``I_e`` at most rheobase and no Poisson background, this
    removes every population that receives synapses from an excitatory population
    outside the set, until nothing changes. A non-empty result means the network has a
    stationary state in which these populations never fire, whatever the diffusion
    approximation predicts (it treats inhibitory input as symmetric noise that can
    also reach threshold). With DC background and K-scaling this happens below the
    critical values of MODEL_FACTS §5.3 (pitfall P1).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    excitatory = np.array([t == "E" for t in derived.types])
    silent = below_rheobase_without_noise(config, derived)
    while True:
        kicked = ((derived.synapses > 0) & (excitatory & ~silent)[np.newaxis, :]).any(axis=1)
        still = silent & ~kicked
        if np.array_equal(still, silent):
            return silent
        silent = still


def below_rheobase_without_noise(config: Config, derived: Derived) -> np.ndarray:
    """Populations with constant input at most rheobase and no Poisson input (bool, shape (n,)).

    They fire only through recurrent input (MODEL_FACTS pitfall P1).
    """
    i_rh = rheobase(config.network.neuron)
    return (np.asarray(derived.poisson_rate) <= 0) & (np.asarray(derived.i_e) <= i_rh)


def min_k_scaling(config: Config, table: xr.Dataset, problem=absorbing_silent) -> float | None:
    """Smallest K-scaling (rounded up to 0.01) above which ``problem(config, derived)`` flags no population.

    Parameters
    ----------
    config : Config
    table : xarray.Dataset
    problem : callable
        ``problem(config, derived) -> bool array``; by default ``absorbing_silent``.

    Returns
    -------
    float or None
        None if the problem persists at ``k_scaling = 1``. Found by bisection, which assumes
        that raising the K-scaling only raises the constant inputs (true when the recurrent
        mean input is inhibitory, as in PD14).
    """
    def present(f):
        cfg = dataclasses.replace(config, network=dataclasses.replace(config.network, k_scaling=f))
        return bool(problem(cfg, derive(cfg, table)).any())

    if present(1.0):
        return None
    lo, hi = config.network.k_scaling, 1.0
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if present(mid) else (lo, mid)
    return math.ceil(hi * 100 - 1e-9) / 100


# ----------------------------------------------------------------------------------------------
# the prediction for a configuration


def predict(config: Config, table: xr.Dataset | None = None) -> xr.Dataset:
    """Predicted stationary rates and inputs of every population of the network ``config`` builds.

    Uses ``derive(config, table)``: the same sizes, synapse numbers (mean in-degree
    ``synapses / sizes``), weights and weight sd, background (Poisson rate or DC) and
    K-scaling compensation as the simulation. The solver starts from the table's
    ``full_mean_rate``.

    Parameters
    ----------
    config : Config
    table : xarray.Dataset, optional
        Connectivity table; by default the one ``config.network.connectivity`` names.

    Returns
    -------
    xarray.Dataset
        Over ``population``:

        * ``rate`` (spikes/s): predicted stationary rate;
        * ``mu`` (mV): mean input, i.e. mean free membrane potential relative to ``E_L``
          (threshold at ``V_th - E_L``);
        * ``sigma`` (mV): white-noise amplitude of the input (free membrane potential sd
          ``sigma / sqrt(2)`` for ``tau_s -> 0``);
        * ``current_mean``, ``current_sd`` (pA): the same as input current;
        * ``absorbing_silent`` (bool): population belongs to an absorbing silent state
          (see ``absorbing_silent``); ``rate_silent_state`` (spikes/s): the rates in that
          state (all NaN if there is none);
        * ``rate_dc_stimulus`` / ``rate_thalamic_stimulus`` (spikes/s), only when the
          stimulus is on: the stationary rates the stimulus drives the network towards;

        and scalars ``converged`` (bool), ``residual`` (spikes/s, ``max |Phi(nu) - nu|``),
        ``evaluations``. ``attrs`` hold the settings and the solver message.
    """
    from .connectivity import DEFAULT_TABLE, load_table

    if table is None:
        table = load_table(config.network.connectivity or DEFAULT_TABLE)
    t0 = time.perf_counter()
    derived = derive(config, table)
    inputs = network_inputs(config, derived)
    start = np.asarray(table["full_mean_rate"].values, dtype=float)
    sol = solve(inputs, start)
    i_mean, i_sd = input_current_moments(sol.rates, inputs)
    mu, sigma = input_moments(sol.rates, inputs)

    pop = ("population",)
    rate_attrs = {"units": "spikes/s"}
    silent = absorbing_silent(config, derived)
    rate_silent = np.full(len(silent), np.nan)
    data = {
        "rate": (pop, sol.rates, {**rate_attrs, "long_name": "predicted stationary rate"}),
        "mu": (pop, mu, {"units": "mV", "long_name": "mean input (mean free membrane potential above E_L)"}),
        "sigma": (pop, sigma, {"units": "mV", "long_name": "white-noise amplitude of the input"}),
        "current_mean": (pop, i_mean, {"units": "pA", "long_name": "mean input current"}),
        "current_sd": (pop, i_sd, {"units": "pA", "long_name": "sd of the input current"}),
        "absorbing_silent": (pop, silent, {"long_name": "silent for ever once silent"}),
    }
    messages = [f"stationary: {sol.message}"]
    converged = sol.converged
    if silent.any():
        s_sol = solve(inputs, np.where(silent, 0.0, sol.rates), clamp=silent)
        rate_silent = s_sol.rates
        messages.append(f"silent state: {s_sol.message}")
    data["rate_silent_state"] = (pop, rate_silent, {**rate_attrs,
                                                    "long_name": "rates in the absorbing silent state"})
    for name, stim_inputs in stimulus_inputs(config, derived, inputs).items():
        st = solve(stim_inputs, sol.rates)
        data[f"rate_{name}_stimulus"] = (pop, st.rates, {
            **rate_attrs, "long_name": f"stationary rate the {name} stimulus drives towards"})
        messages.append(f"{name} stimulus: {st.message}")
    data["converged"] = ((), converged, {"long_name": "stationary solution converged"})
    data["residual"] = ((), sol.residual, {"units": "spikes/s", "long_name": "max |Phi(nu) - nu|"})
    data["evaluations"] = ((), sol.evaluations)
    net = config.network
    return xr.Dataset(data, coords={"population": list(derived.populations)}, attrs={
        "theory": "diffusion approximation, Siegert rate with Fourcaud-Brunel (2002) threshold shift, "
                  "self-consistent across populations",
        "n_scaling": net.n_scaling, "k_scaling": net.k_scaling, "background": net.background,
        "threshold_mV": net.neuron.V_th - net.neuron.E_L,
        "solver": "; ".join(messages),
        "wall_time_s": round(time.perf_counter() - t0, 3),
    })


def check(config: Config, table: xr.Dataset | None = None, prediction: xr.Dataset | None = None) -> list[str]:
    """One-line warnings about populations the theory predicts silent or runaway, with a remedy.

    Parameters
    ----------
    config : Config
    table : xarray.Dataset, optional
        Connectivity table; by default the one ``config.network.connectivity`` names.
    prediction : xarray.Dataset, optional
        ``predict(config, table)``, if already computed.

    Returns
    -------
    list of str
        Empty if the theory expects every population to fire at a moderate rate.
    """
    from .connectivity import DEFAULT_TABLE, load_table

    if table is None:
        table = load_table(config.network.connectivity or DEFAULT_TABLE)
    p = predict(config, table) if prediction is None else prediction
    net = config.network
    pops = [str(x) for x in p["population"].values]
    rate = p["rate"].values
    out = []
    if not bool(p["converged"]):
        out.append(f"theory found no stationary state ({p.attrs['solver']}): the network may oscillate or "
                   f"run away; check the weights (--inh-psp-scale) and the connectivity table")
    low = rate < SILENT_RATE
    if low.any():
        remedy = "raise their drive (background, k_scaling) or check the connectivity table"
        if net.k_scaling < 1:
            remedy += (f"; at k_scaling {net.k_scaling:g} the compensating DC assumes the table's full_mean_rate, "
                       f"which changed weights (e.g. --inh-psp-scale) no longer produce: try k_scaling 1")
        out.append(f"theory predicts {_listing(pops, rate, low)} spikes/s, i.e. silent (< {SILENT_RATE:g}): "
                   f"their input stays far below threshold; {remedy}")
    if net.neuron.t_ref > 0:
        high = rate >= RUNAWAY_FRACTION / net.neuron.t_ref * 1e3
        if high.any():
            out.append(f"theory predicts {_listing(pops, rate, high)} spikes/s, near the maximum "
                       f"1/t_ref = {1e3 / net.neuron.t_ref:g} spikes/s (runaway excitation); "
                       f"strengthen inhibition (--inh-psp-scale) or check the connectivity table")
    silent = p["absorbing_silent"].values
    if silent.any():
        names = ", ".join(x for x, s in zip(pops, silent) if s)
        f_silent = min_k_scaling(config, table, absorbing_silent)
        f_rheobase = min_k_scaling(config, table, below_rheobase_without_noise)
        remedy = "use --background poisson"
        if f_rheobase is not None:
            remedy += f", or k_scaling >= {f_rheobase:g} so that every constant input exceeds rheobase"
            if f_silent is not None and f_silent < f_rheobase:
                remedy += f" (this silent state disappears above {f_silent:g})"
        out.append(f"with {net.background} background at k_scaling {net.k_scaling:g}, {names} get constant "
                   f"input below rheobase and no excitation from populations that keep firing: once silent "
                   f"they stay silent, and a simulation may settle there instead of at the predicted rates; "
                   f"{remedy}")
    return out


def _listing(pops, values, mask) -> str:
    return ", ".join(f"{p} {v:.3g}" for p, v, m in zip(pops, values, mask) if m)


def comparison(prediction: xr.Dataset, simulated: xr.DataArray) -> xr.Dataset:
    """Predicted next to simulated population rates, matched by population name.

    Parameters
    ----------
    prediction : xarray.Dataset
        ``predict(config, table)``.
    simulated : xarray.DataArray
        Simulated mean rate per population (spikes/s), dimension ``population``, e.g.
        ``analysis.population_mean_rates(spikes, t_start, t_stop)``.

    Returns
    -------
    xarray.Dataset
        ``simulated`` and ``predicted`` (spikes/s) and ``deviation`` (predicted / simulated - 1;
        NaN where the simulated rate is 0), over the populations of ``prediction``.
    """
    pops = [str(x) for x in prediction["population"].values]
    sim = simulated.sel(population=pops).values.astype(float)
    pred = prediction["rate"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(sim > 0, pred / sim - 1, np.nan)
    pop = ("population",)
    return xr.Dataset({"simulated": (pop, sim, {"units": "spikes/s"}),
                       "predicted": (pop, pred, {"units": "spikes/s"}),
                       "deviation": (pop, deviation, {"units": "1", "long_name": "predicted / simulated - 1"})},
                      coords={"population": pops})


def format_comparison(prediction: xr.Dataset, simulated: xr.DataArray) -> str:
    """``comparison`` as a text table: population, simulated, predicted (spikes/s), deviation (%)."""
    c = comparison(prediction, simulated)
    lines = [f"{'population':<10} {'simulated':>9} {'theory':>9} {'deviation':>9}"]
    for i, name in enumerate(c["population"].values):
        dev = c["deviation"].values[i]
        dev_text = f"{100 * dev:+8.0f}%" if np.isfinite(dev) else f"{'-':>9}"
        lines.append(f"{name!s:<10} {c['simulated'].values[i]:9.3f} {c['predicted'].values[i]:9.3f} {dev_text}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# command line


def format_table(prediction: xr.Dataset) -> str:
    """The prediction as a text table (one line per population)."""
    p = prediction
    a = p.attrs
    lines = [(f"mean-field prediction: n_scaling {a['n_scaling']:g}, k_scaling {a['k_scaling']:g}, "
              f"{a['background']} background; threshold {a['threshold_mV']:g} mV above E_L"),
             f"{'population':<10} {'rate':>9} {'mu':>8} {'sigma':>8} {'I mean':>9} {'I sd':>8}",
             f"{'':<10} {'(1/s)':>9} {'(mV)':>8} {'(mV)':>8} {'(pA)':>9} {'(pA)':>8}"]
    for i, name in enumerate(p["population"].values):
        lines.append(f"{name!s:<10} {p['rate'].values[i]:9.3f} {p['mu'].values[i]:8.2f} "
                     f"{p['sigma'].values[i]:8.2f} {p['current_mean'].values[i]:9.1f} "
                     f"{p['current_sd'].values[i]:8.1f}")
    extra = [v for v in p.data_vars if v.startswith("rate_") and not np.all(np.isnan(p[v].values))]
    for v in extra:
        lines.append(f"{v} (1/s): " + ", ".join(f"{n} {r:.3f}" for n, r in
                                                zip(p["population"].values, p[v].values)))
    lines.append(f"mu: mean free membrane potential; sigma: noise amplitude (V_m sd ~ sigma/sqrt 2); "
                 f"solver: {a['solver']}; {a['wall_time_s']:.2f} s")
    return "\n".join(lines)


def parser():
    from . import cli

    p = cli.ArgumentParser(prog="python -m microcircuit.theory", description=__doc__.splitlines()[0])
    cli.add_run_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from . import cli

    args = parser().parse_args(argv)
    cli.setup_logging(args.quiet)
    return cli.main_wrapper("python -m microcircuit.theory", lambda: _main(args), args.debug)


def _main(args) -> int:
    from . import cli

    config, table = cli.config_from_args(args)
    if args.print_config:
        sys.stdout.write(cli.to_toml(config))
        return 0
    if table is None:
        from .connectivity import DEFAULT_TABLE, load_table
        table = load_table(config.network.connectivity or DEFAULT_TABLE)
    prediction = predict(config, table)
    print(format_table(prediction))
    for line in check(config, table, prediction):
        log.warning("warning: %s", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
