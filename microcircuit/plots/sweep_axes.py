"""What a sweep's result Dataset varies, and so which figures :mod:`.sweeps` draws for it; without matplotlib.

The sweep command asks :func:`figures_note` before it imports matplotlib (half a second), which
a sweep that gets no figure (one over seeds only, or over more than two parameters) never needs.
"""
from __future__ import annotations

import xarray as xr

RATES_FILE = "sweep_rates.png"
AINESS_FILE = "sweep_ainess.png"
RATE_MAPS_FILE = "sweep_rate_maps.png"
TRIALS_FILE = "sweep_trials.png"
REPEAT_DIMS = ("seed", "trial")
"""Dimensions that repeat a point rather than vary a parameter: averaged over (lines, maps) or pooled (histograms)."""
STATUS_OK = "ok"


def varied_dims(ds: xr.Dataset) -> list[str]:
    """The sweep's parameter axes: the dimensions of its points except ``seed`` and ``trial``."""
    return [d for d in ds["status"].dims if d not in REPEAT_DIMS]


def repeat_dims(ds: xr.Dataset) -> list[str]:
    """The repetitions among the sweep's dimensions (``seed``, ``trial``)."""
    return [d for d in ds["status"].dims if d in REPEAT_DIMS]


def figure_names(ds: xr.Dataset) -> list[str]:
    """The file names of the figures :func:`microcircuit.plots.sweep_figures` draws for this sweep (empty: none)."""
    n = len(varied_dims(ds))
    names = {1: [RATES_FILE], 2: [AINESS_FILE, RATE_MAPS_FILE]}.get(n, [])
    if "trial" in ds["status"].dims and n <= 1:
        names.append(TRIALS_FILE)
    return names


def figures_note(ds: xr.Dataset) -> str | None:
    """One line saying why a sweep gets no figure (None when it gets some)."""
    if figure_names(ds):
        return None
    dims = varied_dims(ds)
    what = f"it varies {len(dims)} ({', '.join(dims)})" if dims else "it varies only the seed"
    return ("no sweep figures: they are drawn for sweeps over one or two parameters besides seed and trial, or over "
            f"trials (PD14 Fig. 7C); {what}")
