"""Self-consistent rates: solve ``nu = Phi(nu)`` across populations."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize

from .inputs import Inputs, transfer

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
