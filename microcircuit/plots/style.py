"""What every figure shares: colours, labels, the title that names the run, stimuli and incomplete runs.

Conventions (docs/model.md §10): excitatory populations ``#595289``, inhibitory ``#af143c``;
layer 2/3 at the top.
"""
from __future__ import annotations

import re

import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .. import analysis
from ..output import stored_config

EXC_COLOR = "#595289"
INH_COLOR = "#af143c"
LAYER_LINE_COLOR = "#d0d0d0"
RUN_COLOR = "#1f5fa8"
REFERENCE_COLOR = "#7f7f7f"
MEAN_COLOR = "#a9a9a9"

STIMULUS_COLORS = {"thalamic pulse": "#f2b134", "transient DC": "#7fb8d9"}





def stimulus_windows(ds: xr.Dataset) -> list[tuple[str, float, float]]:
    """(label, start, stop) in ms of every stimulus pulse of a run (from its file)."""
    out = []
    stim = stored_config(ds.attrs).get("stimulus", {})
    if stim.get("dc"):
        out.append(("transient DC", stim["dc_start"], stim["dc_start"] + stim["dc_duration"]))
    duration = stim.get("thalamic_duration", 10.0)
    for onset in analysis.stimulus_onsets(ds):
        out.append(("thalamic pulse", float(onset), float(onset) + duration))
    return out


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


def color(kind: str) -> str:
    return INH_COLOR if kind == "I" else EXC_COLOR


def run_title(attrs: dict) -> str:
    """One line describing a run from its spike file's attributes: scalings, background, neuron, seed."""
    if "n_scaling" not in attrs:
        return ""
    n, k = float(attrs["n_scaling"]), float(attrs.get("k_scaling", attrs["n_scaling"]))
    scale = f"scale {n:g}" if n == k else f"n_scaling {n:g}, k_scaling {k:g}"
    parts = [f"PD14, {scale}"]
    if "background" in attrs:
        parts.append(f"{ {'poisson': 'Poisson', 'dc': 'DC'}.get(attrs['background'], attrs['background'])} background")
    if "neuron_model" in attrs:
        parts.append({"nestml": "NESTML neuron", "builtin": "NEST iaf_psc_exp"}.get(attrs["neuron_model"],
                                                                                    attrs["neuron_model"]))
    if "seed" in attrs:
        parts.append(f"seed {attrs['seed']}")
    return ", ".join(parts)


def incomplete_note(attrs: dict) -> str | None:
    """"INCOMPLETE RUN: ..." for a spike file of a run that stopped early, else None."""
    status = str(attrs.get("status", "complete"))
    return None if status == "complete" else f"INCOMPLETE RUN ({status})"


def decorate(fig: Figure, ax: Axes, attrs: dict, extra: str = "") -> None:
    """Title (the run, ``extra`` on a second line) and, for an incomplete run, a red note."""
    lines = [t for t in (run_title(attrs), extra) if t]
    note = incomplete_note(attrs)
    if lines:
        ax.set_title("\n".join(lines), fontsize=7)
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="red",
                alpha=0.8, bbox={"facecolor": "white", "edgecolor": "red", "alpha": 0.8})


def new_figure(width: float, height: float, dpi: float = 100) -> Figure:
    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def default_thinning(n_scaling: float) -> int:
    """Plot every k-th spike in rasters: k = int(10 n_scaling) above scale 0.2, else 1 (current PD14 rule)."""
    return max(1, int(10 * n_scaling)) if n_scaling > 0.2 else 1


def shade_stimuli(ax: Axes, ds: xr.Dataset, t_start: float, t_stop: float) -> list:
    """Shade the stimuli of the run that fall into the window; return legend handles (one per kind)."""
    handles = {}
    for label, start, stop in stimulus_windows(ds):
        if stop > t_start and start < t_stop:
            color = STIMULUS_COLORS.get(label, "#f2d16b")
            ax.axvspan(start, stop, color=color, alpha=0.35, linewidth=0, zorder=0)
            handles.setdefault(label, Patch(color=color, alpha=0.35, label=label))
    return list(handles.values())


