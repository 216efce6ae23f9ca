"""Figures of a run: raster plot, rate box plot, and distributions of rates, ISI CVs and CCs.

Every function takes data (a spike Dataset or the results of :mod:`microcircuit.analysis`)
and returns a :class:`matplotlib.figure.Figure`, or draws into axes it is given. Nothing here
touches ``matplotlib.rcParams`` or pyplot's global state: figures are created with
``matplotlib.figure.Figure`` directly, which renders with the Agg canvas when saved, so the
module works without a display and whatever pyplot backend is configured. Whether and where a
figure is saved is the caller's decision; :func:`save_run_figures` is the one the run command
uses.

Conventions (MODEL_FACTS §8.2-8.3): excitatory populations ``#595289``, inhibitory
``#af143c``; layer 2/3 at the top of raster and box plots.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import analysis

EXC_COLOR = "#595289"
INH_COLOR = "#af143c"
LAYER_LINE_COLOR = "#d0d0d0"
RUN_COLOR = "#1f5fa8"
REFERENCE_COLOR = "#7f7f7f"

RASTER_FILE = "raster_plot.png"
BOX_FILE = "box_plot.png"
RASTER_WINDOW_MS = 1000.0
"""Default length of the raster window after ``t_start`` (the current PD14 examples plot [500, 1500] ms)."""


def population_label(name: str) -> str:
    """Display name of a population: ``L23E`` -> ``L2/3E`` (other names unchanged)."""
    return re.sub(r"^L23", "L2/3", str(name))


def layer_of(name: str) -> str:
    """Layer label of a population: the name without its trailing E/I (``L23E`` -> ``L2/3``)."""
    label = population_label(name)
    return label[:-1] if len(label) > 1 and label[-1] in "EI" else label


def population_types(ds: xr.Dataset, names: list[str]) -> list[str]:
    """``"E"`` or ``"I"`` per population.

    Taken from the connectivity table stored in a spike file when present, otherwise from the
    last letter of the name; populations that have neither alternate E, I (PD14 order).
    """
    table = ds.attrs.get("connectivity_table") if hasattr(ds, "attrs") else None
    if table:
        import json

        data = json.loads(table)
        try:
            pops = data["coords"]["population"]["data"]
            types = data["data_vars"]["population_type"]["data"]
            lookup = dict(zip(pops, types))
            if all(n in lookup for n in names):
                return [str(lookup[n]) for n in names]
        except (KeyError, TypeError):
            pass
    return [n[-1] if n[-1] in "EI" else "EI"[k % 2] for k, n in enumerate(names)]


def _color(kind: str) -> str:
    return INH_COLOR if kind == "I" else EXC_COLOR


def _new_figure(width: float, height: float, dpi: float = 100) -> Figure:
    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def default_thinning(n_scaling: float) -> int:
    """Plot every k-th spike in rasters: k = int(10 n_scaling) above scale 0.2, else 1 (current PD14 rule)."""
    return max(1, int(10 * n_scaling)) if n_scaling > 0.2 else 1


def raster_plot(ds: xr.Dataset, t_start: float, t_stop: float, every: int | None = None,
                ax: Axes | None = None) -> Figure:
    """Spikes of all neurons in ``[t_start, t_stop]`` (ms), layer 2/3 on top.

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
        Axes to draw into; by default a new 4 x 3 in figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not t_stop > t_start:
        raise ValueError(f"empty raster window [{t_start}, {t_stop}] ms")
    if every is None:
        every = default_thinning(float(ds.attrs.get("n_scaling", 0.1)))
    fig = ax.figure if ax is not None else _new_figure(4, 3)
    ax = ax if ax is not None else fig.add_subplot()
    names = analysis.population_names(ds)
    types = population_types(ds, names)
    pops = ds["population"].values.astype(str)
    n = pops.size
    times = ds["spike_time"].values
    position = analysis._neuron_index(ds)
    inside = (times >= t_start) & (times <= t_stop)
    for name, kind in zip(names, types):
        sel = inside & (pops[position] == name)
        t, y = times[sel][::every], n - position[sel][::every]  # first neuron at the top
        ax.plot(t, y, linestyle="none", marker="o", markersize=1, markeredgewidth=0, color=_color(kind))
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
    return fig


def rate_box_plot(rates: xr.DataArray, ax: Axes | None = None, types: list[str] | None = None) -> Figure:
    """Horizontal box plot of per-neuron firing rates per population, L2/3E at the top.

    Boxes span the interquartile range with no whiskers (``whis = 0``, as in the current PD14
    code): every rate outside the box is drawn as a red ``+``. Black line: median; dashed grey
    line: mean.

    Parameters
    ----------
    rates : xarray.DataArray
        Per-neuron rates (:func:`microcircuit.analysis.firing_rates`), with ``population`` coordinate.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; by default a new 4 x 3 in figure.
    types : list of str, optional
        ``"E"``/``"I"`` per population (default from the names, :func:`population_types`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = analysis.population_names(rates)
    types = types or population_types(rates, names)
    pops = rates["population"].values.astype(str)
    data = [rates.values[pops == name] for name in names]
    fig = ax.figure if ax is not None else _new_figure(4, 3)
    ax = ax if ax is not None else fig.add_subplot()
    positions = np.arange(len(names), 0, -1)  # first population at the top
    boxes = ax.boxplot(data, positions=positions, orientation="horizontal", whis=0, widths=0.6,
                       showmeans=True, meanline=True, patch_artist=True,
                       medianprops={"color": "black", "linewidth": 2.5},
                       meanprops={"color": "lightgrey", "linestyle": "--", "linewidth": 1.5},
                       flierprops={"marker": "+", "markeredgecolor": "red", "markersize": 3, "alpha": 0.5})
    for box, kind in zip(boxes["boxes"], types):
        box.set_facecolor(_color(kind))
    ax.set_yticks(positions, [population_label(n) for n in names])
    ax.set_xlabel("firing rate (spikes/s)")
    ax.set_xlim(left=0)
    return fig


def _edges(observable: str, values: np.ndarray, quantum: float | None = None, n_bins: int = 40) -> np.ndarray:
    """Histogram bin edges covering the bulk of ``values``.

    Rates are multiples of ``quantum`` = 1/T (spikes/s); their bins are whole multiples of it,
    centred so that every bin holds the same number of possible values (no aliasing).
    """
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.linspace(0, 1, n_bins + 1)
    # the bulk: CCs of low-rate neurons have long sparse tails, which would squeeze the histogram
    tail = 0.01 if observable == "cc" else 0.002
    lo, hi = np.quantile(values, [tail, 1 - tail])
    if observable == "rate":
        lo = 0.0
    if observable == "cv":
        lo = min(lo, 0.0) if lo < 0.2 else lo
    if hi <= lo:
        hi = lo + 1.0
    if observable == "rate" and quantum:
        width = quantum * max(1, int(np.ceil((hi - lo) / n_bins / quantum)))
        return np.arange(-quantum / 2, hi + width, width)
    return np.linspace(lo, hi, n_bins + 1)


def _fractions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    counts, _ = np.histogram(values, edges)
    return counts / values.size if values.size else counts.astype(float)


def distributions(stats: xr.Dataset | None = None, reference: xr.Dataset | None = None,
                  ks: xr.DataArray | None = None, passed: xr.DataArray | None = None,
                  label: str = "run", reference_label: str = "reference seeds",
                  observables: tuple[str, ...] = analysis.OBSERVABLES,
                  predicted_rates: xr.DataArray | None = None) -> Figure:
    """Histograms of rates, ISI CVs and CCs per population, a reference ensemble overlaid.

    One row per observable, one column per population. Each histogram is normalised by its
    sample size (fraction per bin). The reference ensemble is drawn as a grey band spanning
    the smallest to largest fraction over its members (seeds) in every bin, with a grey line
    at their mean; the run as a coloured step line.

    Parameters
    ----------
    stats : xarray.Dataset, optional
        :func:`microcircuit.analysis.statistics` of the run.
    reference : xarray.Dataset, optional
        Statistics of the reference ensemble, concatenated along ``seed``.
    ks : xarray.DataArray, optional
        ``(observable, population)`` KS distances to print in each panel.
    passed : xarray.DataArray of bool, optional
        ``(observable, population)`` verdicts; a failed panel gets a red frame.
    label, reference_label : str
        Legend entries.
    observables : tuple of str
        Rows to draw.
    predicted_rates : xarray.DataArray, optional
        Population rates (spikes/s) over ``population``, e.g. the mean-field prediction of
        :func:`microcircuit.theory.predict`; drawn as a dashed vertical line in the rate panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if stats is None and reference is None:
        raise ValueError("nothing to plot: give stats, reference or both")
    base = stats if stats is not None else reference.isel(seed=0)
    names = analysis.population_names(base)
    t_span = (base.attrs.get("t_stop", np.nan) - base.attrs.get("t_start", np.nan)) / 1000.0
    quantum = 1.0 / t_span if np.isfinite(t_span) and t_span > 0 else None
    fig = _new_figure(2.0 * len(names), 1.9 * len(observables) + 0.4)
    axes = fig.subplots(len(observables), len(names), squeeze=False)
    members = [] if reference is None else [reference.isel(seed=k) for k in range(reference.sizes["seed"])]
    for r, obs in enumerate(observables):
        for c, pop in enumerate(names):
            ax = axes[r, c]
            run_values = analysis.observable_values(stats, obs, pop) if stats is not None else np.empty(0)
            ref_values = [analysis.observable_values(m, obs, pop) for m in members]
            edges = _edges(obs, np.concatenate([run_values, *ref_values]), quantum)
            if ref_values:
                frac = np.array([_fractions(v, edges) for v in ref_values])
                ax.stairs(frac.max(axis=0), edges, baseline=frac.min(axis=0), fill=True,
                          color=REFERENCE_COLOR, alpha=0.35, linewidth=0, label=reference_label)
                ax.stairs(frac.mean(axis=0), edges, color=REFERENCE_COLOR, linewidth=0.8)
            if stats is not None:
                ax.stairs(_fractions(run_values, edges), edges, color=RUN_COLOR, linewidth=1.2, label=label)
            if obs == "rate" and predicted_rates is not None and pop in predicted_rates["population"].values:
                ax.axvline(float(predicted_rates.sel(population=pop)), color="black", linestyle="--",
                           linewidth=0.8, label="mean-field theory")
            if ks is not None:
                d = float(ks.sel(observable=obs, population=pop))
                ax.text(0.97, 0.95, f"$D_{{KS}}$={d:.3f}", transform=ax.transAxes, ha="right", va="top",
                        fontsize=7)
            if passed is not None and not bool(passed.sel(observable=obs, population=pop)):
                for spine in ax.spines.values():
                    spine.set_edgecolor("red")
                    spine.set_linewidth(1.5)
            ax.tick_params(labelsize=7)
            ax.set_ylim(bottom=0)
            if r == 0:
                ax.set_title(population_label(pop), fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{analysis.OBSERVABLE_LABELS[obs]}\nfraction per bin", fontsize=7)
            if obs == "cc":
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
                ax.xaxis.get_offset_text().set_fontsize(6)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    return fig


def save_run_figures(spikes_path: str | Path, dpi: float = 300) -> list[Path]:
    """Write ``raster_plot.png`` and ``box_plot.png`` next to a spike file.

    The window is the file's analysis window (``t_start`` to ``t_stop``, cut at
    ``t_simulated`` for an interrupted run); the raster shows its first
    :data:`RASTER_WINDOW_MS` ms.

    Parameters
    ----------
    spikes_path : path
        A ``spikes.nc`` written by ``python -m microcircuit.run``.
    dpi : float
        Resolution of the PNG files.

    Returns
    -------
    list of pathlib.Path
        The files written (none when the run stopped before its analysis window).
    """
    from .output import load_spikes

    spikes_path = Path(spikes_path)
    ds = load_spikes(spikes_path)
    t_start, t_stop = analysis.window(ds)
    t_stop = min(t_stop, float(ds.attrs.get("t_simulated", t_stop)))
    if not t_stop > t_start:
        return []
    written = []
    raster = raster_plot(ds, t_start, min(t_stop, t_start + RASTER_WINDOW_MS))
    written.append(_save(raster, spikes_path.parent / RASTER_FILE, dpi))
    rates = analysis.firing_rates(ds, t_start, t_stop)
    box = rate_box_plot(rates, types=population_types(ds, analysis.population_names(ds)))
    written.append(_save(box, spikes_path.parent / BOX_FILE, dpi))
    return written


def _save(fig: Figure, path: Path, dpi: float) -> Path:
    fig.savefig(path, dpi=dpi)
    return path
