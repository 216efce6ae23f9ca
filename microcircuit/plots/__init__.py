"""Figures: every function takes data (a spike Dataset or results of :mod:`microcircuit.analysis`) and returns a Figure.

Nothing here touches ``matplotlib.rcParams`` or pyplot's global state: figures are created
with ``matplotlib.figure.Figure`` directly, which renders with the Agg canvas when saved, so
the package works without a display and whatever pyplot backend is configured. Every figure
says what it shows: the run (scale, background, neuron, seed) in its title, a legend, the
stimuli marked, an incomplete run flagged. Whether and where a figure is saved is the
caller's decision; :func:`save_run_figures` is the one the run command uses.

* :mod:`.style` -- colours, labels, titles (conventions of docs/model.md §10);
* :mod:`.activity` -- raster, rate box plot, membrane-potential traces;
* :mod:`.validation` -- distributions against a reference ensemble;
* :mod:`.responses` -- trial-averaged responses to stimulus pulses;
* :mod:`.spectra` -- power spectra, simulated and predicted;
* :mod:`.sweeps` -- a parameter sweep's result file: lines, AIness and rate maps, trial histograms;
* :mod:`.files` -- the files the run command writes.
"""
from .activity import raster_plot, rate_box_plot, vm_traces
from .responses import stimulus_response_plot
from .spectra import spectra_plot
from .files import BOX_FILE, RASTER_FILE, RASTER_WINDOW_MS, RESPONSE_FILE, VM_FILE, save_run_figures, save_sweep_figures
from .sweeps import ainess_map, figures_note, rate_maps, sweep_figures, sweep_lines, trial_histograms
from .style import (EXC_COLOR, INH_COLOR, LAYER_LINE_COLOR, MEAN_COLOR, REFERENCE_COLOR, RUN_COLOR, default_thinning,
                    incomplete_note, layer_of, population_label, population_types, run_title, stimulus_windows)
from .validation import distributions, validation_title

__all__ = ["BOX_FILE", "EXC_COLOR", "INH_COLOR", "LAYER_LINE_COLOR", "MEAN_COLOR", "RASTER_FILE", "RASTER_WINDOW_MS",
           "REFERENCE_COLOR", "RUN_COLOR", "ainess_map", "default_thinning", "distributions", "figures_note",
           "incomplete_note", "layer_of",
           "population_label", "population_types", "raster_plot", "rate_box_plot", "rate_maps", "RESPONSE_FILE",
           "run_title", "save_run_figures", "save_sweep_figures", "spectra_plot", "stimulus_response_plot",
           "stimulus_windows", "sweep_figures", "sweep_lines", "trial_histograms", "validation_title", "VM_FILE",
           "vm_traces"]
