"""Power spectra of population activity predicted by linear-response theory (Bos et al. 2016).

Around the stationary state of :func:`microcircuit.theory.predict`, every population responds
linearly to fluctuations of its input: with the neurons' transfer function (Schuecker et al. 2015,
including the synaptic filter), the delay distribution and the connectivity, the populations'
effective connectivity ``W(f)`` gives the cross-spectral matrix
``C(f) = (1 - W)^-1 diag(nu / N) (1 - W)^-H`` of the population activities, whose diagonal is the
power spectrum of each (Bos et al. 2016, eq. 18). The numerics are those of nnmt (INM-6's
Neuronal Network Meanfield Toolbox), called with this package's network, in SI units.

To compare with :func:`microcircuit.analysis.power_spectrum`, the prediction is given in the
same units: the one-sided spectrum of the population's spike count in bins of ``bin_size``:
``2 (N dt)^2 [nu/N + (C(f) - nu/N) sinc^2(f dt)]`` (the shot-noise part ``nu/N`` is white in the
binned counts; the rest is low-pass filtered by the binning, aliasing neglected).

References
----------
Bos H, Diesmann M, Helias M (2016) PLoS Comput Biol 12(10):e1005132.
Schuecker J, Diesmann M, Helias M (2015) Phys Rev E 92:052119.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.interpolate
import xarray as xr

from ..parameters import Config, Derived
from .prediction import _derived, predict

TRANSFER_GRID = 40
"""Number of frequencies (log-spaced) at which the transfer function is computed and then interpolated."""


def power_spectra(config: Config, derived: Derived | None = None, prediction: xr.Dataset | None = None, *,
                  table: xr.Dataset | None = None, frequencies=None, bin_size: float = 1.0) -> xr.DataArray:
    """Predicted power spectrum of every population's spike count, as :func:`analysis.power_spectrum` measures it.

    Parameters
    ----------
    config : Config
    derived : Derived, optional
        ``derive(config, table)``, if already computed.
    prediction : xarray.Dataset, optional
        ``predict(config, derived)``, if already computed (the stationary rates and inputs).
    table : xarray.Dataset, optional
        Connectivity table to derive from when ``derived`` is not given.
    frequencies : array of float, optional
        Frequencies (Hz, > 0); by default 1 to ``500 / bin_size`` Hz in steps of 1 Hz.
    bin_size : float
        Bin width of the counts (ms) the prediction is for.

    Returns
    -------
    xarray.DataArray
        ``(population, frequency)`` in spikes²/Hz; coordinate ``n_neurons``; attribute
        ``rate_spectrum`` holds nothing else but notes the conversion. The transfer function's
        approximations (diffusion, linear response, ``tau_syn << tau_m``) and those of the
        stationary state (docs/theory.md) apply.
    """
    try:
        import nnmt  # noqa: F401  (INM-6's mean-field toolbox)
        from nnmt import network_properties
        from nnmt.lif import exp
    except ImportError as exc:
        raise ImportError(f"power spectra need nnmt (pip install nnmt): {exc}") from None
    derived = _derived(config, derived, table)
    if prediction is None:
        prediction = predict(config, derived)
    nrn = config.network.neuron
    f = np.arange(1.0, 500.0 / bin_size + 0.5) if frequencies is None else np.asarray(frequencies, dtype=float)
    if np.any(f <= 0):
        raise ValueError("frequencies must be > 0 Hz")
    omegas = 2 * np.pi * f
    ms, mv = 1e-3, 1e-3
    nu = np.asarray(prediction["rate"].values, dtype=float)
    n = np.asarray(derived.sizes, dtype=float)
    k = derived.synapses / derived.sizes[:, np.newaxis]
    j = derived.weight * nrn.tau_syn / nrn.C_m * mv  # integrated PSP jump of each synapse (V)
    # nnmt evaluates the transfer function with mpmath's parabolic cylinder functions, ~10 ms per frequency and
    # population; it is smooth in log f, so it is computed on TRANSFER_GRID frequencies and interpolated
    # (cubic spline in log f: relative error < 1e-4 for PD14 at full scale, 1-500 Hz)
    grid = np.geomspace(f.min(), f.max(), TRANSFER_GRID) if f.size > TRANSFER_GRID else f
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nnmt's and pint's notes on units and regimes
        on_grid = exp._transfer_function_shift(
            prediction["mu"].values * mv, prediction["sigma"].values * mv, nrn.tau_m * ms, nrn.tau_syn * ms,
            nrn.t_ref * ms, (nrn.V_th - nrn.E_L) * mv, (nrn.V_reset - nrn.E_L) * mv, 2 * np.pi * grid,
            synaptic_filter=True)
    transfer = on_grid if grid is f else scipy.interpolate.CubicSpline(np.log(grid), on_grid, axis=0)(np.log(f))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        delays = network_properties._delay_dist_matrix(derived.delay * ms, derived.delay_sd * ms,
                                                       "truncated_gaussian", omegas)
        w = exp._effective_connectivity(transfer, delays, j, k, nrn.tau_m * ms)
    eye = np.eye(n.size)
    shot = nu / n
    rate_power = np.empty((f.size, n.size))
    for i, wf in enumerate(w):
        q = np.linalg.inv(eye - wf)
        rate_power[i] = np.abs(np.einsum("ij,j,ij->i", q, shot, q.conj()))
    dt = bin_size * ms
    sinc2 = np.sinc(f * dt) ** 2
    counts_power = 2 * (n * dt) ** 2 * (shot + (rate_power - shot) * sinc2[:, np.newaxis])
    return xr.DataArray(counts_power.T, dims=("population", "frequency"), name="power",
                        coords={"population": list(derived.populations),
                                "frequency": ("frequency", f, {"units": "Hz"}),
                                "n_neurons": ("population", derived.sizes.astype(int))},
                        attrs={"units": "spikes^2/Hz", "long_name": "predicted power spectral density of the "
                               "population's spike count per bin", "bin_size": float(bin_size),
                               "theory": "linear response around the mean-field state (Bos et al. 2016), nnmt"})
