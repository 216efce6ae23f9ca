"""The response to thalamic pulses: trial-averaged rates, one row per layer, E and I together."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .style import STIMULUS_COLORS, color, layer_of, new_figure, population_types


def stimulus_response_plot(response: xr.DataArray, latency: xr.Dataset | None = None, pulse: float | None = None,
                           title: str = "", types: list[str] | None = None) -> Figure:
    """Trial-averaged rate of every population around the pulse onsets, stacked by layer (as in the paper's figure).

    Parameters
    ----------
    response : xarray.DataArray
        :func:`microcircuit.analysis.stimulus_response`.
    latency : xarray.Dataset, optional
        :func:`microcircuit.analysis.response_latency`: onset latencies are marked with a triangle,
        populations that do not respond say so.
    pulse : float, optional
        Pulse duration (ms), shaded from lag 0.
    title : str
        Figure title.
    types : list of str, optional
        "E"/"I" per population (default from the names).

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = [str(p) for p in response["population"].values]
    types = types or population_types(response, names)
    layers = list(dict.fromkeys(layer_of(n) for n in names))
    fig = new_figure(5.0, 1.25 * len(layers) + 1.3)
    axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    lags = response["lag"].values
    width = float(response.attrs.get("bin_size", lags[1] - lags[0] if lags.size > 1 else 1.0))
    for ax, layer in zip(axes, layers):
        if pulse:
            ax.axvspan(0.0, pulse, color=STIMULUS_COLORS["thalamic pulse"], alpha=0.35, linewidth=0, zorder=0)
        ax.axvline(0.0, color="black", linewidth=0.5)
        notes = []
        for name, kind in zip(names, types):
            if layer_of(name) != layer:
                continue
            r = response.sel(population=name)
            c = color(kind)
            ax.stairs(r.values, np.append(lags, lags[-1] + width), color=c, linewidth=1.0)
            ax.axhline(float(r["baseline"]), color=c, linestyle=":", linewidth=0.7)
            if latency is not None:
                lat = latency.sel(population=name)
                if bool(lat["responds"]):
                    ax.plot(float(lat["onset_latency"]), float(lat["threshold"]), marker="v", color=c, markersize=4)
                else:
                    notes.append(f"{kind}: no response")
        ax.set_ylabel(f"{layer}\nspikes/s", fontsize=7)
        ax.tick_params(labelsize=6)
        top = float(response.sel(population=[n for n in names if layer_of(n) == layer]).max())
        ax.set_ylim(0, top * 1.05 if top > 0 else 1.0)
        if notes:
            ax.text(0.99, 0.92, "; ".join(notes), transform=ax.transAxes, ha="right", va="top", fontsize=6,
                    color="dimgrey")
    axes[-1].set_xlabel("time after pulse onset (ms)")
    axes[-1].set_xlim(lags[0], lags[-1] + width)
    handles = [Line2D([], [], color=color("E"), label="excitatory"), Line2D([], [], color=color("I"), label="inhibitory"),
               Line2D([], [], color="grey", linestyle=":", label="baseline")]
    if pulse:
        handles.append(Patch(color=STIMULUS_COLORS["thalamic pulse"], alpha=0.35, label="thalamic pulse"))
    if latency is not None:
        handles.append(Line2D([], [], color="grey", marker="v", linestyle="none", label="onset of the response"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=8)
    return fig
