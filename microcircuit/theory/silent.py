"""The absorbing silent state: populations that, once silent, stay silent, and the k-scaling that removes it."""
from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ..parameters import Config, Derived, below_rheobase, derive


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
    critical values of docs/model.md §3.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    excitatory = np.array([t == "E" for t in derived.types])
    silent = below_rheobase(config, derived)
    while True:
        kicked = ((derived.synapses > 0) & (excitatory & ~silent)[np.newaxis, :]).any(axis=1)
        still = silent & ~kicked
        if np.array_equal(still, silent):
            return silent
        silent = still


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
        cfg = config.replace(network={"k_scaling": f})
        return bool(problem(cfg, derive(cfg, table)).any())

    if present(1.0):
        return None
    lo, hi = config.network.k_scaling, 1.0
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if present(mid) else (lo, mid)
    return math.ceil(hi * 100 - 1e-9) / 100
