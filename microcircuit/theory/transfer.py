"""The stationary firing rate of a LIF neuron with exponential synaptic currents (single neuron, closed forms).

References
----------
Siegert AJF (1951) Phys Rev 81:617-623.
Fourcaud N, Brunel N (2002) Neural Comput 14:2057-2110.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special

from ..parameters import NeuronParams


#: |zeta(1/2)| / sqrt(2): threshold and reset move up by this times sqrt(tau_s/tau_m) sigma
#: (Fourcaud & Brunel 2002, eq. 4.33 and the text after it).
FB_SHIFT = abs(float(scipy.special.zeta(0.5))) / math.sqrt(2.0)


_GL_ORDER = 64
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_ORDER)



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
