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
* :mod:`.sweep_axes` -- which figures a sweep gets (without matplotlib);
* :mod:`.files` -- the files the run command writes.

Each name is imported from its module on first use, so that ``import microcircuit.plots`` (and
:mod:`.sweep_axes`) costs no matplotlib import until a figure is drawn.
"""
from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    **dict.fromkeys(["raster_plot", "rate_box_plot", "vm_traces"], "activity"),
    "stimulus_response_plot": "responses",
    "spectra_plot": "spectra",
    **dict.fromkeys(["BOX_FILE", "RASTER_FILE", "RASTER_WINDOW_MS", "RESPONSE_FILE", "VM_FILE", "save_run_figures",
                     "save_sweep_figures"], "files"),
    **dict.fromkeys(["ainess_map", "rate_maps", "sweep_figures", "sweep_lines", "trial_histograms"], "sweeps"),
    "figures_note": "sweep_axes",
    **dict.fromkeys(["EXC_COLOR", "INH_COLOR", "LAYER_LINE_COLOR", "MEAN_COLOR", "REFERENCE_COLOR", "RUN_COLOR",
                     "default_thinning", "incomplete_note", "layer_of", "population_label", "population_types",
                     "run_title", "stimulus_windows"], "style"),
    **dict.fromkeys(["distributions", "validation_title"], "validation"),
}
_SUBMODULES = {"activity", "files", "responses", "spectra", "style", "sweep_axes", "sweeps", "validation"}


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)


__all__ = ["BOX_FILE", "EXC_COLOR", "INH_COLOR", "LAYER_LINE_COLOR", "MEAN_COLOR", "RASTER_FILE", "RASTER_WINDOW_MS",
           "REFERENCE_COLOR", "RUN_COLOR", "ainess_map", "default_thinning", "distributions", "figures_note",
           "incomplete_note", "layer_of",
           "population_label", "population_types", "raster_plot", "rate_box_plot", "rate_maps", "RESPONSE_FILE",
           "run_title", "save_run_figures", "save_sweep_figures", "spectra_plot", "stimulus_response_plot",
           "stimulus_windows", "sweep_figures", "sweep_lines", "trial_histograms", "validation_title", "VM_FILE",
           "vm_traces"]
