"""Figures of a run's activity: spike raster, box plot of the firing rates, membrane-potential traces."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import analysis
from ..errors import option
from ..output import stored_config
from .style import (EXC_COLOR, INH_COLOR, LAYER_LINE_COLOR, MEAN_COLOR, color, decorate, default_thinning,
                    incomplete_note, layer_of, new_figure, population_label, population_types, run_title,
                    shade_stimuli)


def raster_plot(ds: xr.Dataset, t_start: float, t_stop: float, every: int | None = None,
                ax: Axes | None = None) -> Figure:
    """Spikes of all neurons in ``[t_start, t_stop]`` (ms), layer 2/3 on top.

    Excitatory populations in ``EXC_COLOR``, inhibitory in ``INH_COLOR`` (legend below); stimuli
    stored in the file's configuration are shaded; the title names the run, the window and any
    thinning; an incomplete run is flagged in red.

    Parameters
    ----------
    ds : xarray.Dataset
        Spike Dataset.
    t_start, t_stop : float
        Time window (ms, absolute time).
    every : int, optional
        Plot only every ``every``-th spike of each population (default
        :func:`default_thinning` of the file's ``n_scaling``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; by default a new 5 x 4.2 in figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not t_stop > t_start:
        raise ValueError(f"empty raster window [{t_start}, {t_stop}] ms")
    if every is None:
        every = default_thinning(float(ds.attrs.get("n_scaling", 0.1)))
    fig = ax.figure if ax is not None else new_figure(5, 4.2)
    ax = ax if ax is not None else fig.add_subplot()
    names = analysis.population_names(ds)
    types = population_types(ds, names)
    pops = np.atleast_1d(ds["population"].values).astype(str)
    n = pops.size
    position, spike = analysis.spike_positions(ds)
    times = np.asarray(ds["spike_time"].values)[spike]
    inside = (times >= t_start) & (times <= t_stop)
    for name, kind in zip(names, types):
        sel = inside & (pops[position] == name)
        t, y = times[sel][::every], n - position[sel][::every]  # first neuron at the top
        ax.plot(t, y, linestyle="none", marker="o", markersize=1, markeredgewidth=0, color=color(kind))
    # layers: tick at the middle, thin line at the upper boundary
    layers = [layer_of(name) for name in names]
    ticks, labels = [], []
    for layer in dict.fromkeys(layers):
        members = np.flatnonzero(np.isin(pops, [nm for nm, ly in zip(names, layers) if ly == layer]))
        top, bottom = n - members.min(), n - members.max()
        ticks.append(0.5 * (top + bottom))
        labels.append(layer)
        ax.axhline(top + 0.5, color=LAYER_LINE_COLOR, linewidth=0.5)
    ax.set_yticks(ticks, labels)
    ax.set_ylim(0.5, n + 0.5)
    ax.set_xlim(t_start, t_stop)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neurons, by layer")
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=4, color=EXC_COLOR, label="excitatory"),
               Line2D([], [], linestyle="none", marker="o", markersize=4, color=INH_COLOR, label="inhibitory")]
    handles += shade_stimuli(ax, ds, t_start, t_stop)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=len(handles), fontsize=7,
              frameon=False, handletextpad=0.3, columnspacing=1.0)
    thinning = f", every {every}th spike" if every > 1 else ""
    decorate(fig, ax, ds.attrs, f"spikes of all {n} neurons in [{t_start:g}, {t_stop:g}] ms{thinning}")
    return fig


def rate_box_plot(rates: xr.DataArray, ax: Axes | None = None, types: list[str] | None = None,
                  title: str = "") -> Figure:
    """Horizontal box plot of per-neuron firing rates per population, L2/3E at the top.

    Boxes span the interquartile range with no whiskers (``whis = 0``, as in the current PD14
    code): every rate outside the box is drawn as a red ``+``. Black line: median; dashed grey
    line: mean. A legend below the axes says so.

    Parameters
    ----------
    rates : xarray.DataArray
        Per-neuron rates (:func:`microcircuit.analysis.firing_rates`), with ``population`` coordinate.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; by default a new 5 x 4.2 in figure.
    types : list of str, optional
        ``"E"``/``"I"`` per population (default from the names, :func:`population_types`).
    title : str
        Title above the axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = analysis.population_names(rates)
    types = types or population_types(rates, names)
    pops = rates["population"].values.astype(str)
    data = [rates.values[pops == name] for name in names]
    fig = ax.figure if ax is not None else new_figure(5, 4.2)
    ax = ax if ax is not None else fig.add_subplot()
    positions = np.arange(len(names), 0, -1)  # first population at the top
    boxes = ax.boxplot(data, positions=positions, orientation="horizontal", whis=0, widths=0.6,
                       showmeans=True, meanline=True, patch_artist=True,
                       medianprops={"color": "black", "linewidth": 2.5},
                       meanprops={"color": MEAN_COLOR, "linestyle": "--", "linewidth": 1.5},
                       flierprops={"marker": "+", "markeredgecolor": "red", "markersize": 3, "alpha": 0.5})
    for box, kind in zip(boxes["boxes"], types):
        box.set_facecolor(color(kind))
    ax.set_yticks(positions, [population_label(n) for n in names])
    ax.set_xlabel("firing rate (spikes/s)")
    ax.set_xlim(left=0)
    handles = [Patch(facecolor=EXC_COLOR, edgecolor="black", label="E: middle 50 % of neurons"),
               Patch(facecolor=INH_COLOR, edgecolor="black", label="I: middle 50 %"),
               Line2D([], [], color="black", linewidth=2.5, label="median"),
               Line2D([], [], color=MEAN_COLOR, linestyle="--", linewidth=1.5, label="mean"),
               Line2D([], [], linestyle="none", marker="+", markeredgecolor="red", label="a neuron outside the box")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, fontsize=7,
              frameon=False, handletextpad=0.4, columnspacing=1.0)
    if title:
        ax.set_title(title, fontsize=7)
    return fig


def vm_traces(ds: xr.Dataset, t_start: float, t_stop: float, per_population: int = 3) -> Figure:
    """Membrane potentials of a few recorded neurons per population, with their spikes marked.

    One panel per population (layer 2/3 at the top); up to ``per_population`` of its recorded
    neurons, each in its own shade. A spike shows as a short vertical tick above the threshold
    at its time (the sample after it is at the reset potential). The dashed line is the threshold.

    Parameters
    ----------
    ds : xarray.Dataset
        A spike file with ``V_m(vm_time, vm_neuron)`` (``python -m microcircuit.run --record-vm N``).
    t_start, t_stop : float
        Time window (ms, absolute time).
    per_population : int
        Neurons drawn per population.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "V_m" not in ds:
        raise ValueError(f"this spike file has no membrane potentials (record them with {option('record_vm')})")
    if not t_stop > t_start:
        raise ValueError(f"empty window [{t_start}, {t_stop}] ms")
    vm = ds["V_m"].sel(vm_time=slice(t_start, t_stop))
    names = [n for n in analysis.population_names(ds) if n in set(ds["vm_population"].values.astype(str))]
    types = population_types(ds, names)
    threshold = _threshold(ds)
    fig = new_figure(5.5, 0.9 * len(names) + 1.2)
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    spikes = ds.spikes
    for ax, name, kind in zip(axes, names, types):
        ids = ds["vm_neuron"].values[ds["vm_population"].values.astype(str) == name][:per_population]
        for k, nid in enumerate(ids):
            shade = 1.0 - 0.3 * k
            trace = vm.sel(vm_neuron=nid)
            line, = ax.plot(trace["vm_time"], trace, color=color(kind), alpha=shade, linewidth=0.7)
            t = spikes.times(neuron=int(nid)).values
            t = t[(t >= t_start) & (t <= t_stop)]
            if threshold is not None and t.size:
                ax.vlines(t, threshold + 1.0, threshold + 4.0, color=line.get_color(), alpha=shade, linewidth=1.0)
        if threshold is not None:
            ax.axhline(threshold, color="grey", linestyle="--", linewidth=0.6)
        ax.set_ylabel(population_label(name), fontsize=7, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=6)
    axes[-1].set_xlabel("time (ms)")
    axes[-1].set_xlim(t_start, t_stop)
    fig.supylabel("membrane potential (mV)", fontsize=8)
    handles = [Line2D([], [], color="grey", linestyle="--", linewidth=0.6, label="threshold"),
               Line2D([], [], color="black", marker="|", linestyle="none", markersize=6, label="spike")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=7, frameon=False)
    shown = min(per_population, max(int((ds["vm_population"] == n).sum()) for n in names))
    lines = [run_title(ds.attrs), f"V_m of {shown} neuron{'s' if shown > 1 else ''} per population (sampled every "
             f"{float(ds['vm_time'][1] - ds['vm_time'][0]) if ds.sizes['vm_time'] > 1 else 0:g} ms) in "
             f"[{t_start:g}, {t_stop:g}] ms"]
    note = incomplete_note(ds.attrs)
    fig.suptitle("\n".join([*filter(None, lines), *([note] if note else [])]), fontsize=8)
    return fig


def _threshold(ds: xr.Dataset) -> float | None:
    """The threshold V_th (mV) stored with a run's configuration."""
    try:
        return float(stored_config(ds.attrs)["network"]["neuron"]["V_th"])
    except (KeyError, TypeError, ValueError):
        return None
