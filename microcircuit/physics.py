"""Pure physics helpers of the PD14 model: closed forms, no NEST, no I/O.

Units are NEST's native ones throughout: ms, mV, pA, pF, spikes/s.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def psc_over_psp(tau_m: float, tau_syn: float, C_m: float) -> float:
    """PSC amplitude (pA) that produces a PSP peak of 1 mV in a LIF neuron with exponential current.

    For a current ``I(t) = w exp(-t/tau_syn)`` injected into a membrane with time
    constant ``tau_m`` and capacitance ``C_m``, the potential peaks at
    ``t_max = tau_syn tau_m / (tau_m - tau_syn) ln(tau_m / tau_syn)``; the peak per
    pA is ``J_unit``, and the factor returned is ``1 / J_unit`` (Potjans & Diesmann
    2014, Table 5 and its PSP-to-PSC conversion).

    Parameters
    ----------
    tau_m : float
        Membrane time constant (ms).
    tau_syn : float
        Synaptic time constant (ms), different from ``tau_m``.
    C_m : float
        Membrane capacitance (pF).

    Returns
    -------
    float
        PSC amplitude per PSP peak (pA/mV); 585.38996 for the PD14 neuron.
    """
    if np.isclose(tau_m, tau_syn):
        raise ValueError("tau_m and tau_syn must differ for the PSP-to-PSC conversion")
    a = 1.0 / (tau_syn - tau_m)
    b = tau_m * tau_syn * a / C_m
    c = (tau_m / tau_syn) ** a
    return 1.0 / (b * (c**tau_m - c**tau_syn))


def psp_peak_time(tau_m: float, tau_syn: float) -> float:
    """Time (ms) from the onset of an exponential PSC to the peak of its PSP: 1.5767 ms in PD14."""
    return tau_syn * tau_m / (tau_m - tau_syn) * np.log(tau_m / tau_syn)


def synapse_numbers(conn_prob: ArrayLike, n_target: ArrayLike, n_source: ArrayLike) -> np.ndarray:
    """Expected total number of synapses for each [target, source] pair (unrounded).

    With synapses drawn independently with replacement from the ``N_t N_s`` possible
    neuron pairs, ``Q`` draws hit a given pair at least once with probability
    ``1 - (1 - 1/(N_t N_s))^Q``. Setting this equal to the connection probability
    ``C`` gives ``Q = ln(1 - C) / ln(1 - 1/(N_t N_s))`` (Potjans & Diesmann 2014, eq. 1).

    Parameters
    ----------
    conn_prob : array, shape (n_target, n_source)
        Connection probabilities in [0, 1).
    n_target, n_source : array
        Population sizes (neurons).

    Returns
    -------
    numpy.ndarray
        Number of synapses per pair, ``>= 0``, unrounded.
    """
    c = np.asarray(conn_prob, dtype=float)
    pairs = np.outer(np.asarray(n_target, dtype=float), np.asarray(n_source, dtype=float))
    # Evaluated as ln(1 - C) / ln((N_t N_s - 1) / (N_t N_s)), the form of the reference
    # implementation: rounding Q to whole synapses then gives exactly its counts
    # (log1p would differ in the last bits and flip a few roundings).
    q = np.log(1.0 - c) / np.log((pairs - 1.0) / pairs)
    return np.abs(q)  # C = 0 gives -0.0


def mean_input_current(tau_syn: float, indegree: ArrayLike, weight: ArrayLike, rate: ArrayLike) -> np.ndarray:
    """Mean synaptic current (pA) per target from Poisson inputs, summed over sources.

    ``mu_y = tau_syn * sum_x K_yx w_yx nu_x`` (Campbell's theorem for exponential PSCs),
    with ``tau_syn`` in ms and rates in spikes/s (hence the factor 1e-3).

    Parameters
    ----------
    tau_syn : float
        Synaptic time constant (ms).
    indegree : array, shape (n_target, n_source) or (n_target,)
        Mean number of inputs per target neuron.
    weight : array, same shape as ``indegree``
        PSC amplitude (pA), signed.
    rate : array, shape (n_source,) or scalar
        Presynaptic rate (spikes/s).
    """
    k = np.asarray(indegree, dtype=float)
    w = np.asarray(weight, dtype=float)
    prod = k * w * np.asarray(rate, dtype=float)
    return 1e-3 * tau_syn * (prod.sum(axis=-1) if prod.ndim == 2 else prod)


def rheobase(C_m: float, tau_m: float, V_th: float, E_L: float) -> float:
    """Constant current (pA) that brings the membrane potential exactly to threshold: ``C_m (V_th - E_L) / tau_m``.

    375 pA for the PD14 neuron (pF, ms, mV).
    """
    return C_m * (V_th - E_L) / tau_m


def critical_k_scaling(i_rheobase: float, i_dc_full: ArrayLike, mu_recurrent: ArrayLike) -> np.ndarray:
    """K-scaling factor below which a DC-driven population is sub-threshold on its own.

    With DC background, K-scaling by ``f`` sets ``I_e = I_C + (1 - sqrt(f)) mu_loc``.
    With ``mu_loc < 0`` (net inhibition), ``I_e >= I_rh`` iff
    ``f >= (1 - (I_rh - I_C) / mu_loc)^2`` (PD14 model description).

    Parameters
    ----------
    i_rheobase : float
        Rheobase current ``C_m (V_th - E_L) / tau_m`` (pA).
    i_dc_full : array
        DC background at full scale (pA).
    mu_recurrent : array
        Mean recurrent input at full scale (pA).
    """
    mu = np.asarray(mu_recurrent, dtype=float)
    crit = (1.0 - (i_rheobase - np.asarray(i_dc_full, dtype=float)) / mu) ** 2
    return np.where(mu < 0, crit, 0.0)
