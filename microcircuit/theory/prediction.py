"""The prediction for a configuration: rates, inputs, silent states, warnings, comparison with a simulation."""
from __future__ import annotations

import math
import time

import numpy as np
import xarray as xr

from .. import physics
from ..connectivity import load_table
from ..errors import option
from ..parameters import Config, Derived, derive
from .inputs import input_current_moments, input_moments, network_inputs, stimulus_inputs
from .silent import absorbing_silent, min_k_scaling
from .solver import solve

#: A population predicted below this rate (spikes/s) is reported as silent. PD14's slowest
#: population fires at ~0.9 spikes/s (docs/model.md, "Reference rates"); at 0.01 spikes/s a neuron fires once
#: per 100 s, so in runs of 1-10 s almost all its neurons are silent and its rate, ISI CV
#: (>= 3 spikes) and correlation statistics are undefined.
SILENT_RATE = 0.01

#: A population predicted above this fraction of the maximal rate 1/t_ref is reported as
#: runaway: refractoriness then takes at least half of every interspike interval, far outside
#: the asynchronous irregular low-rate state PD14 is built for (rates <~ 10 spikes/s).
RUNAWAY_FRACTION = 0.5


def _derived(config: Config, derived: Derived | None, table: xr.Dataset | None) -> Derived:
    if derived is not None:
        return derived
    return derive(config, load_table(config.network.connectivity) if table is None else table)


def predict(config: Config, derived: Derived | None = None, *, table: xr.Dataset | None = None) -> xr.Dataset:
    """Predicted stationary rates and inputs of every population of the network ``config`` builds.

    Uses ``derived = derive(config, table)``: the same sizes, synapse numbers (mean in-degree
    ``synapses / sizes``), weights and weight sd, background (Poisson rate or DC) and
    K-scaling compensation as the simulation. The solver starts from the table's
    ``full_mean_rate``.

    Parameters
    ----------
    config : Config
    derived : Derived, optional
        ``derive(config, table)``, if already computed (a run derives once and passes it on).
    table : xarray.Dataset, optional
        Connectivity table to derive from when ``derived`` is not given; by default the one
        ``config.network.connectivity`` names.

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
    t0 = time.perf_counter()
    derived = _derived(config, derived, table)
    inputs = network_inputs(config, derived)
    start = np.asarray(derived.full_mean_rate, dtype=float)
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
        "g": float(derived.g), "bg_rate": float(derived.bg_rate),  # as resolved against the table (docs/model.md §13)
        "threshold_mV": net.neuron.V_th - net.neuron.E_L,
        "solver": "; ".join(messages),
        "wall_time_s": round(time.perf_counter() - t0, 3),
    })


def check(config: Config, derived: Derived | None = None, prediction: xr.Dataset | None = None, *,
          table: xr.Dataset | None = None) -> list[str]:
    """One-line warnings about populations the theory predicts silent or runaway, with a remedy.

    Parameters
    ----------
    config : Config
    derived : Derived, optional
        ``derive(config, table)``, if already computed.
    prediction : xarray.Dataset, optional
        ``predict(config, derived)``, if already computed.
    table : xarray.Dataset, optional
        Connectivity table; by default the one ``config.network.connectivity`` names. Needed
        to find the k-scaling that removes an absorbing silent state (derived again per step).

    Returns
    -------
    list of str
        Empty if the theory expects every population to fire at a moderate rate.
    """
    if table is None:
        table = load_table(config.network.connectivity)
    derived = _derived(config, derived, table)
    p = predict(config, derived) if prediction is None else prediction
    net = config.network
    pops = [str(x) for x in p["population"].values]
    rate = p["rate"].values
    out = []
    if not bool(p["converged"]):
        out.append(f"theory found no stationary state ({p.attrs['solver']}): the network may oscillate or "
                   f"run away; check the weights ({option('g')}) and the connectivity table")
    low = rate < SILENT_RATE
    if low.any():
        remedy = "raise their drive (background, k_scaling) or check the connectivity table"
        if net.k_scaling < 1:
            remedy += (f"; at k_scaling {net.k_scaling:g} the compensating DC assumes the table's full_mean_rate, "
                       f"which changed weights or input (e.g. {option('g')}, {option('bg_rate')}) may no longer "
                       f"produce: try k_scaling 1")
        out.append(f"theory predicts {_listing(pops, rate, low)} spikes/s, i.e. silent (< {SILENT_RATE:g}): "
                   f"their input stays far below threshold; {remedy}")
    if net.neuron.t_ref > 0:
        high = rate >= RUNAWAY_FRACTION / net.neuron.t_ref * 1e3
        if high.any():
            out.append(f"theory predicts {_listing(pops, rate, high)} spikes/s, near the maximum "
                       f"1/t_ref = {1e3 / net.neuron.t_ref:g} spikes/s (runaway excitation); "
                       f"strengthen inhibition ({option('g')}) or check the connectivity table")
    silent = p["absorbing_silent"].values
    if silent.any():
        names = ", ".join(x for x, s in zip(pops, silent) if s)
        f_silent = min_k_scaling(config, table, absorbing_silent)
        f_rheobase = _rheobase_k_scaling(config, derived)
        remedy = f"use {option('background_poisson')}"
        if f_rheobase is not None:
            remedy += f", or k_scaling >= {f_rheobase:g} so that every constant input exceeds rheobase"
            if f_silent is not None and f_silent < f_rheobase:
                remedy += f" (this silent state disappears above {f_silent:g})"
        out.append(f"with {net.background} background at k_scaling {net.k_scaling:g}, {names} get constant "
                   f"input below rheobase and no excitation from populations that keep firing: once silent "
                   f"they stay silent, and a simulation may settle there instead of at the predicted rates; "
                   f"{remedy}")
    return out


def _rheobase_k_scaling(config: Config, derived: Derived) -> float | None:
    """Smallest k-scaling (rounded up to 0.01) at which every DC background exceeds rheobase; None if none.

    Closed form of the DC compensation (:func:`microcircuit.physics.critical_k_scaling`); only
    for DC background, where the constant input is the whole external drive.
    """
    if config.network.background != "dc":
        return None
    nrn = config.network.neuron
    i_rh = physics.rheobase(nrn.C_m, nrn.tau_m, nrn.V_th, nrn.E_L)
    if np.any(derived.i_dc_full <= i_rh):  # below rheobase even at k_scaling 1
        return None
    f = float(np.max(physics.critical_k_scaling(i_rh, derived.i_dc_full, derived.mu_recurrent_full)))
    return math.ceil(f * 100 - 1e-9) / 100 if f <= 1 else None


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


def comparison_report(prediction: xr.Dataset, simulated: xr.DataArray, t_start: float, t_stop: float,
                      config: Config | None = None, note: str = "") -> str:
    """A heading, :func:`format_comparison`, and what the prediction leaves out.

    ``t_start``, ``t_stop``: the window of the simulated rates (ms). With ``config``, a run with
    stimuli gets a line saying that the prediction is the stationary state without them.
    ``note`` is added to the heading (e.g. "information, not part of the verdict").
    """
    head = f"mean rates (spikes/s) in [{t_start:g}, {t_stop:g}] ms, simulated and predicted by mean-field theory"
    lines = [head + (f" ({note})" if note else "") + ":", format_comparison(prediction, simulated)]
    stimuli = active_stimuli(config, t_start, t_stop) if config is not None else []
    if stimuli:
        lines.append(f"note: the prediction is the stationary state without the {' and the '.join(stimuli)}; "
                     "the simulated rates include the network's response to them")
    return "\n".join(lines)


def active_stimuli(config: Config, t_start: float, t_stop: float) -> list[str]:
    """Descriptions of the stimuli of ``config`` that act within ``[t_start, t_stop]`` (ms)."""
    stim = config.stimulus
    out = []
    onsets = [t for t in stim.thalamic_onsets() if t < t_stop and t + stim.thalamic_duration > t_start]
    if len(onsets) == 1:
        out.append(f"thalamic pulse ({onsets[0]:g}-{onsets[0] + stim.thalamic_duration:g} ms)")
    elif onsets:
        out.append(f"{len(onsets)} thalamic pulses ({stim.thalamic_duration:g} ms each, from {onsets[0]:g} ms every "
                   f"{stim.thalamic_interval:g} ms)")
    if stim.dc and stim.dc_start < t_stop and stim.dc_start + stim.dc_duration > t_start:
        out.append(f"transient DC ({stim.dc_start:g}-{stim.dc_start + stim.dc_duration:g} ms)")
    return out


def format_prediction(prediction: xr.Dataset) -> str:
    """The prediction as a text table (one line per population)."""
    p = prediction
    a = p.attrs
    lines = [(f"mean-field prediction: n_scaling {a['n_scaling']:g}, k_scaling {a['k_scaling']:g}, "
              f"{a['background']} background at {a.get('bg_rate', math.nan):g} spikes/s per input, "
              f"g {a.get('g', math.nan):g}; threshold {a['threshold_mV']:g} mV above E_L"),
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
