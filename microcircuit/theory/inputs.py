"""The stationary input of every population: mean and fluctuation from rates, in-degrees and weights.

Diffusion approximation (Amit & Brunel 1997; Brunel 2000): the input of a neuron is replaced by
Gaussian noise with the mean and variance that Campbell's theorem gives for its Poisson inputs.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..parameters import Config, Derived, NeuronParams
from .transfer import firing_rate

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
        ext_weight_sd=np.zeros((n, 1)),  # the background weight is fixed (docs/model.md §5)
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
    (docs/model.md §3 writes the same mean and variance without the weight sd).

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
