"""Mean-field theory of the microcircuit: predicted stationary rates for any connectivity table.

``python -m microcircuit.theory [run options]`` prints, for the network that
``python -m microcircuit.run`` with the same options would build, the predicted
stationary rate of every population and the mean and fluctuation of its input.

Modules: :mod:`.transfer` (single-neuron rate), :mod:`.inputs` (input of every population),
:mod:`.solver` (self-consistent rates), :mod:`.silent` (absorbing silent states),
:mod:`.prediction` (the prediction for a configuration, its warnings, comparison with a run),
:mod:`.spectra` (power spectra of population activity, by linear response around that state).

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

Everything here is pure (no NEST, no files); units are the package's: ms, mV, pA, pF, spikes/s.

References
----------
Amit DJ, Brunel N (1997) Cereb Cortex 7:237-252.
Brunel N (2000) J Comput Neurosci 8:183-208.
Fourcaud N, Brunel N (2002) Neural Comput 14:2057-2110.
Siegert AJF (1951) Phys Rev 81:617-623.
"""
from ..parameters import Config, derive
from .inputs import (Inputs, input_current_moments, input_moments, network_inputs, stimulus_inputs,
                     transfer)
from .prediction import (RUNAWAY_FRACTION, SILENT_RATE, active_stimuli, check, comparison, comparison_report,
                         format_comparison, format_prediction, predict)
from .silent import absorbing_silent, min_k_scaling
from .solver import Solution, solve
from .spectra import power_spectra
from .transfer import FB_SHIFT, firing_rate, siegert

__all__ = ["Config", "FB_SHIFT", "Inputs", "RUNAWAY_FRACTION", "SILENT_RATE", "Solution", "absorbing_silent",
           "active_stimuli", "check", "comparison", "comparison_report", "derive", "firing_rate", "format_comparison", "format_prediction", "input_current_moments",
           "input_moments", "min_k_scaling", "network_inputs", "power_spectra", "predict", "siegert", "solve", "stimulus_inputs",
           "transfer"]
