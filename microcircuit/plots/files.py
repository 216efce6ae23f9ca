"""The figures the run command writes next to a spike file, and the sweep command next to its result file."""
from __future__ import annotations

import warnings
from pathlib import Path

import xarray as xr

from matplotlib.figure import Figure

from .. import analysis
from ..output import load_spikes, stored_config, upgrade
from .activity import raster_plot, rate_box_plot, vm_traces
from .responses import stimulus_response_plot
from .style import decorate, incomplete_note, population_types, run_title
from .sweeps import sweep_figures

RASTER_FILE = "raster_plot.png"
BOX_FILE = "box_plot.png"
VM_FILE = "vm_traces.png"
RESPONSE_FILE = "stimulus_response.png"
RASTER_WINDOW_MS = 1000.0
"""Default length of the raster window after ``t_start`` (the current PD14 examples plot [500, 1500] ms)."""
VM_WINDOW_MS = 200.0
"""Length of the window of the membrane-potential figure."""
RESPONSE_WINDOW_MS = (-50.0, 150.0)
"""Lags around each pulse onset shown in the response figure (ms)."""


def save_run_figures(spikes_path: str | Path, dpi: float = 300,
                     response_window: tuple[float, float] = RESPONSE_WINDOW_MS) -> list[Path]:
    """Write the figures of a run next to its spike file; return the files written.

    Always ``raster_plot.png`` (the first :data:`RASTER_WINDOW_MS` ms of the analysis window)
    and ``box_plot.png`` (the whole window: end of the warm-up to the end of what was simulated);
    ``vm_traces.png`` when membrane potentials were recorded (the first :data:`VM_WINDOW_MS` ms);
    ``stimulus_response.png`` when the run has thalamic pulses inside its window.

    Parameters
    ----------
    spikes_path : path
        A ``spikes.nc`` written by ``python -m microcircuit.run``.
    dpi : float
        Resolution of the PNG files.
    response_window : (float, float)
        Lags around each pulse onset in the response figure (ms).

    Returns
    -------
    list of pathlib.Path
        The files written (none when the run stopped before its analysis window).
    """
    spikes_path = Path(spikes_path)
    ds = load_spikes(spikes_path, vm=False)  # V_m is read only for the window drawn
    try:
        t_start, t_stop = analysis.window(ds, warn=False)
    except ValueError:  # stopped before the analysis window
        return []
    folder = spikes_path.parent
    written = [_save(raster_plot(ds, t_start, min(t_stop, t_start + RASTER_WINDOW_MS)), folder / RASTER_FILE, dpi)]
    rates = analysis.firing_rates(ds, t_start, t_stop)
    box = rate_box_plot(rates, types=population_types(ds, analysis.population_names(ds)))
    decorate(box, box.axes[0], ds.attrs, f"per-neuron firing rates in [{t_start:g}, {t_stop:g}] ms")
    written.append(_save(box, folder / BOX_FILE, dpi))
    if ds.sizes.get("vm_time", 0) > 1:  # membrane potentials were recorded
        t_vm = min(t_stop, t_start + VM_WINDOW_MS)
        with xr.open_dataset(spikes_path, engine="netcdf4") as full:
            window = upgrade(full[["V_m"]]).sel(vm_time=slice(t_start, t_vm)).load()
        if window.sizes["vm_time"] > 1:
            written.append(_save(vm_traces(ds.assign(V_m=window["V_m"]), t_start, t_vm), folder / VM_FILE, dpi))
    figure = response_figure(ds, response_window)
    if figure is not None:
        written.append(_save(figure, folder / RESPONSE_FILE, dpi))
    return written


def response_figure(ds, window: tuple[float, float] = RESPONSE_WINDOW_MS) -> Figure | None:
    """The trial-averaged response figure of a run with thalamic pulses (None when it has none in its window)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.IncompleteRunWarning)  # the title flags an incomplete run
        try:
            response = analysis.stimulus_response(ds, window=window)
        except ValueError:  # no pulse with its whole window inside the simulated analysis window
            return None
    latency = analysis.response_latency(response)
    duration = _pulse_duration(ds)
    title = "\n".join(filter(None, [
        run_title(ds.attrs),
        f"response to the thalamic pulse ({duration:g} ms), mean of {response.attrs['n_trials']} trials, "
        f"{response.attrs['bin_size']:g} ms bins", incomplete_note(ds.attrs)]))
    return stimulus_response_plot(response, latency, pulse=duration, title=title,
                                  types=population_types(ds, [str(p) for p in response["population"].values]))


def _pulse_duration(ds) -> float:
    try:
        return float(stored_config(ds.attrs)["stimulus"]["thalamic_duration"])
    except (KeyError, TypeError, ValueError):
        return 0.0


def save_sweep_figures(ds: xr.Dataset, folder: str | Path, dpi: float = 200) -> list[Path]:
    """Write the figures of a sweep (:func:`microcircuit.plots.sweeps.sweep_figures`) into ``folder``; return them.

    ``sweep_rates.png`` for a sweep over one parameter, ``sweep_ainess.png`` and
    ``sweep_rate_maps.png`` over two, ``sweep_trials.png`` over trials (and at most one
    parameter); none over more (:func:`microcircuit.plots.sweep_axes.figures_note` says why).

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's result Dataset (``DIR/sweep.nc``).
    folder : path
        Where to write them (the sweep's folder).
    dpi : float
        Resolution of the PNG files.

    Returns
    -------
    list of pathlib.Path
    """
    folder = Path(folder)
    return [_save(fig, folder / name, dpi) for name, fig in sweep_figures(ds).items()]


def _save(fig: Figure, path: Path, dpi: float) -> Path:
    fig.savefig(path, dpi=dpi)
    return path
