"""Analysis of spike files: pure functions on the spike Dataset (no NEST, no files, no printing).

Every function takes an explicit window ``[t_start, t_stop]`` (ms, absolute model time, warm-up
included); :func:`window` gives a run's own (end of the warm-up to the end of what was simulated).
One rule holds for every window (:func:`clip_window`): the part beyond the simulated time is cut
off with an :class:`IncompleteRunWarning`, and a window without simulated time is an error.

The functions read each spike's neuron from the file's per-spike node ids, so a Dataset
selected along ``neuron`` (``ds.isel(neuron=...)``) gives the statistics of those neurons;
a Dataset whose spikes cannot be matched to its neurons is refused (:class:`SpikeSelectionError`,
naming ``ds.spikes.select``).

* :mod:`.stationary` -- the stationary statistics of the PD14 validation: per-neuron firing
  rates, ISI CVs, spike-count correlations, per-population summaries and KS distances;
* :mod:`.spectra` -- power spectra of population activity (Bos et al. 2016);
* :mod:`.responses` -- trial-averaged responses to stimulus pulses and their latencies;
* :mod:`.regime` -- PD14's synchrony, irregularity and AIness of every population.
"""
from .regime import (AI_IRREGULARITY, IRREGULARITY_MIN_COUNT, ainess, irregularity, irregularity_resolved,
                     poisson_irregularity, regime_sample, synchrony, too_few_spikes_for_irregularity)
from .responses import response_latency, stimulus_onsets, stimulus_response
from .spectra import population_counts, power_spectrum, spectral_peaks
from ..output import SpikeSelectionError, spike_positions
from .stationary import (CC_BIN_SIZE, CC_SAMPLE_SEED, CC_SAMPLE_SIZE, OBSERVABLE_LABELS, OBSERVABLES,
                         IncompleteRunWarning, binned_counts, clip_window, correlation_sample, firing_rates, isi_cvs,
                         ks_distance, ks_distances, neuron_index, observable_values, pairwise_ks_distances,
                         population_mean_rates, population_names, population_summary, spike_count_correlations,
                         spike_counts, statistics, window)

__all__ = ["AI_IRREGULARITY", "CC_BIN_SIZE", "CC_SAMPLE_SEED", "CC_SAMPLE_SIZE", "IRREGULARITY_MIN_COUNT",
           "IncompleteRunWarning", "OBSERVABLES", "OBSERVABLE_LABELS", "SpikeSelectionError", "ainess",
           "binned_counts", "clip_window", "correlation_sample", "firing_rates", "irregularity",
           "irregularity_resolved", "isi_cvs", "ks_distance", "ks_distances", "neuron_index", "observable_values",
           "pairwise_ks_distances", "poisson_irregularity", "population_counts", "population_mean_rates",
           "population_names", "population_summary", "power_spectrum", "regime_sample", "response_latency",
           "spectral_peaks", "spike_count_correlations", "spike_counts", "spike_positions", "statistics",
           "stimulus_onsets", "stimulus_response", "synchrony", "too_few_spikes_for_irregularity", "window"]
