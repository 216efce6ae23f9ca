"""Power spectra of population activity: simulated and predicted, one panel per population."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .style import color, new_figure, population_label, population_types


def spectra_plot(simulated: xr.DataArray | None = None, predicted: xr.DataArray | None = None, title: str = "",
                 f_min: float = 1.0, f_max: float = 500.0) -> Figure:
    """Power spectra per population on a log scale: simulated (coloured) and predicted (black, dashed).

    Parameters
    ----------
    simulated : xarray.DataArray, optional
        :func:`microcircuit.analysis.power_spectrum`.
    predicted : xarray.DataArray, optional
        :func:`microcircuit.theory.power_spectra` (same units).
    title : str
        Figure title.
    f_min, f_max : float
        Frequency range shown (Hz).

    Returns
    -------
    matplotlib.figure.Figure
    """
    base = simulated if simulated is not None else predicted
    if base is None:
        raise ValueError("nothing to plot: give simulated, predicted or both")
    names = [str(p) for p in base["population"].values]
    types = population_types(base, names)
    cols = 2
    rows = int(np.ceil(len(names) / cols))
    fig = new_figure(6.0, 1.35 * rows + 1.2)
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    for k, (name, kind) in enumerate(zip(names, types)):
        ax = axes[k // cols, k % cols]
        for data, style in ((simulated, {"color": color(kind), "linewidth": 0.9}),
                            (predicted, {"color": "black", "linestyle": "--", "linewidth": 0.8})):
            if data is not None and name in data["population"].values:
                d = data.sel(population=name).sel(frequency=slice(f_min, f_max))
                d = d.where(d > 0)  # a silent population has no power: nothing to draw on a log axis
                if bool(d.notnull().any()):
                    ax.plot(d["frequency"], d, **style)
        ax.set_yscale("log")
        ax.set_xlim(f_min, f_max)
        ax.tick_params(labelsize=6)
        ax.set_title(population_label(name), fontsize=8, loc="left", pad=2)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("frequency (Hz)", fontsize=7)
    units = base.attrs.get("units", "")
    fig.supylabel(f"power ({units.replace('^2', '²')})", fontsize=8)
    handles = []
    if simulated is not None:
        handles += [Line2D([], [], color=color("E"), label="simulated, E"),
                    Line2D([], [], color=color("I"), label="simulated, I")]
    if predicted is not None:
        handles.append(Line2D([], [], color="black", linestyle="--", label="mean-field theory (linear response)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=8)
    return fig
