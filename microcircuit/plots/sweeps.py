"""Figures of a parameter sweep: its result Dataset (``DIR/sweep.nc``, docs/sweeps.md) in, Figures out.

What is drawn depends on how many axes the sweep varies besides ``seed`` and ``trial`` (the
repetitions, averaged over or pooled):

* one axis: rate, irregularity (CV) and synchrony of every population against the parameter,
  the mean over the repetitions with their range as a band, the mean-field rate dashed
  (:func:`sweep_lines`);
* two axes: the AIness map with its 25/50/75 % contours, as in Fig. 8B of Potjans & Diesmann
  (2014), Cereb. Cortex 24:785 (PD14) (:func:`ainess_map`), and a rate map per population on
  one colour scale (:func:`rate_maps`);
* a ``trial`` axis (random external in-degrees, PD14 Fig. 7C) and at most one other axis: the
  histogram of every population's rate over the trials (:func:`trial_histograms`);
* more than two axes: nothing (:func:`figures_note` says so, in one line).

Which figures a sweep gets is decided in :mod:`.sweep_axes`, which does not import matplotlib.

Only points whose status is ``ok`` are drawn; any other point (failed, timed out, out of memory,
pending) is left out of lines and averages and blank (hatched) in maps, never drawn as zero,
and the title says how many are missing. Nothing here reads or writes files
(:func:`microcircuit.plots.save_sweep_figures` does), nor touches matplotlib's global state.
"""
from __future__ import annotations

import tomllib
import warnings

import numpy as np
import xarray as xr
from matplotlib import colormaps, patheffects
from matplotlib.colors import LogNorm, Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..analysis.regime import AI_IRREGULARITY, AI_MAX_RATE, AI_MAX_SYNCHRONY
from .sweep_axes import (AINESS_FILE, RATE_MAPS_FILE, RATES_FILE, REPEAT_DIMS, STATUS_OK, TRIALS_FILE,  # noqa: F401
                         figure_names, figures_note, repeat_dims, varied_dims)
from .style import layer_of, new_figure, population_label, population_types, run_title, color

AINESS_LEVELS = (25.0, 50.0, 75.0)
"""Contours of the AIness map (%), as in PD14 Fig. 8B."""
MISSING_HATCH = "////"
MISSING_COLOR = "#b0b0b0"
LAYER_MARKERS = ("o", "s", "^", "D", "v", "P")
CONTOUR_EDGE = [patheffects.withStroke(linewidth=2.6, foreground="black")]
CONTOUR_STYLES = ((0, (1.5, 1.5)), "--", "-")  # 25 %: dotted, 50 %: dashed, 75 %: solid

# axis labels of the well-known keys (symbols as in PD14; g is dimensionless)
KEY_AXIS_LABELS = {
    "network.g": "relative inhibition g",
    "network.bg_rate": "background rate ν_bg (spikes/s)",
}
QUANTITIES = (  # variable, axis label, AI bounds (PD14: rate < 30 spikes/s, 0.7 <= CV <= 1.2, synchrony < 8)
    ("rate", "rate (spikes/s)", (AI_MAX_RATE,)),
    ("cv", "irregularity (mean ISI CV)", AI_IRREGULARITY),
    ("synchrony", "synchrony (variance / mean of 3 ms counts)", (AI_MAX_SYNCHRONY,)),
)


def sweep_figures(ds: xr.Dataset) -> dict[str, Figure]:
    """Every figure of a sweep (see the module's description), by file name; empty for more than two axes."""
    makers = {RATES_FILE: sweep_lines, AINESS_FILE: ainess_map, RATE_MAPS_FILE: rate_maps,
              TRIALS_FILE: trial_histograms}
    return {name: makers[name](ds) for name in figure_names(ds)}


def missing_points(ds: xr.Dataset) -> dict[str, int]:
    """Points by outcome: ``points``, ``ok``, ``pending`` and ``failed`` (failed, timeout, out of memory)."""
    status = np.asarray(ds["status"].values, dtype=str).ravel()
    ok = int((status == STATUS_OK).sum())
    pending = int((status == "pending").sum())
    return {"points": status.size, "ok": ok, "pending": pending, "failed": status.size - ok - pending}


def missing_note(ds: xr.Dataset, shown: str = "not drawn") -> str | None:
    """``"3 of 12 points missing (2 failed, 1 not run): not drawn"`` when points are not ok, else None."""
    c = missing_points(ds)
    missing = c["points"] - c["ok"]
    if not missing:
        return None
    why = ", ".join(f"{n} {label}" for n, label in ((c["failed"], "failed"), (c["pending"], "not run")) if n)
    return f"{missing} of {c['points']} points missing ({why}): {shown}"


def sweep_title(ds: xr.Dataset) -> str:
    """The sweep in one line: its points and base configuration (scale, background, neuron, simulated time)."""
    return ", ".join(filter(None, [base_title(ds), points_title(ds)]))


def points_title(ds: xr.Dataset) -> str:
    """``"sweep of 12 points (g 3 x bg_rate 2 x seed 2)"``."""
    dims = list(ds["status"].dims)
    shape = " x ".join(f"{d} {ds.sizes[d]}" for d in dims)
    return f"sweep of {int(np.prod([ds.sizes[d] for d in dims]))} points ({shape})"


def base_title(ds: xr.Dataset) -> str:
    """The base configuration of a sweep, as the run's figures name a run: ``"PD14, scale 0.05, Poisson background,
    NESTML neuron, 300 ms after 100 ms warm-up"`` ("" when the file does not store it)."""
    try:
        base = tomllib.loads(ds.attrs["base_config"])
    except (KeyError, TypeError, tomllib.TOMLDecodeError):
        return ""
    net, sim = base.get("network", {}), base.get("simulation", {})
    attrs = {k: net[k] for k in ("n_scaling", "k_scaling", "background", "neuron_model") if k in net}
    parts = [run_title(attrs) or "PD14"]
    if "t_sim" in sim:
        parts.append(f"{float(sim['t_sim']):g} ms after {float(sim.get('t_presim', 0.0)):g} ms warm-up")
    return ", ".join(parts)


def axis_label(ds: xr.Dataset, dim: str) -> str:
    """Label of a sweep axis: its quantity and units (``relative inhibition g``, ``background rate ν_bg (spikes/s)``;
    g is dimensionless)."""
    if dim not in ds.coords:  # a paired axis: one coordinate per key, its ticks "v1 / v2" in the same order
        keys = _paired_keys(ds, dim)
        return " / ".join(keys) if keys else dim.replace("_and_", " and ")
    attrs = ds[dim].attrs
    if attrs.get("configuration_key") in KEY_AXIS_LABELS:
        return KEY_AXIS_LABELS[attrs["configuration_key"]]
    label = attrs.get("long_name", dim)
    units = attrs.get("units")
    return f"{label} ({units})" if units and units != "1" else label


def _positions(ds: xr.Dataset, dim: str) -> tuple[np.ndarray, list[str] | None]:
    """Where the values of ``dim`` go on an axis: the numbers themselves, or 0, 1, ... and tick labels."""
    if dim in ds.coords and ds[dim].dtype.kind in "iuf":
        return np.asarray(ds[dim].values, dtype=float), None
    coords = [dim] if dim in ds.coords else _paired_keys(ds, dim)
    labels = []
    for k in range(ds.sizes[dim]):
        values = [ds[c].values[k] for c in coords]
        text = [f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in values]
        labels.append(" / ".join(text) if text else str(k))  # the keys are in the axis label (axis_label)
    return np.arange(ds.sizes[dim], dtype=float), labels


def _paired_keys(ds: xr.Dataset, dim: str) -> list[str]:
    """The coordinates of a paired axis (one per key, in the file's order)."""
    return [c for c in ds.coords if ds[c].dims == (dim,) and c != dim]


def _sorted(ds: xr.Dataset) -> xr.Dataset:
    """The sweep with every numeric parameter axis in increasing order (lines and maps need it)."""
    for dim in varied_dims(ds):
        if dim in ds.coords and ds[dim].dtype.kind in "iuf":
            ds = ds.sortby(dim)
    return ds


def _ok(ds: xr.Dataset, name: str) -> xr.DataArray:
    """``ds[name]`` with every point whose status is not ``ok`` set to NaN."""
    return ds[name].where(ds["status"].astype(str) == STATUS_OK)


def _reduce(values: np.ndarray, how) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all repetitions missing: NaN, as it should be
        return how(values, axis=-1)


def _over_repeats(da: xr.DataArray, first: list[str]) -> np.ndarray:
    """``da`` as an array over ``first`` (then population, if it has one) and, last, all repetitions flattened."""
    repeats = [d for d in da.dims if d in REPEAT_DIMS]
    rest = [d for d in ("population",) if d in da.dims]
    arr = da.transpose(*first, *rest, *repeats).values
    return arr.reshape(arr.shape[:len(first) + len(rest)] + (-1,))


def _populations(ds: xr.Dataset) -> tuple[list[str], list[str]]:
    names = [str(p) for p in ds["population"].values]
    return names, population_types(ds, names)


def population_styles(ds: xr.Dataset) -> list[dict]:
    """Colour and marker per population: excitatory ``EXC_COLOR``, inhibitory ``INH_COLOR`` (as in the run's
    figures), lighter and with another marker from layer to layer (L2/3 darkest)."""
    names, types = _populations(ds)
    layers = list(dict.fromkeys(layer_of(n) for n in names))
    styles = []
    for name, kind in zip(names, types):
        k = layers.index(layer_of(name))
        mix = 0.55 * k / max(1, len(layers) - 1)  # towards white
        rgb = tuple((1 - mix) * c + mix for c in to_rgb(color(kind)))
        styles.append({"color": rgb, "marker": LAYER_MARKERS[k % len(LAYER_MARKERS)],
                       "label": population_label(name)})
    return styles


def _repeat_text(ds: xr.Dataset) -> str:
    parts = [f"{ds.sizes[d]} {d}s" for d in repeat_dims(ds)]
    return " x ".join(parts)


def _title(fig: Figure, ds: xr.Dataset, what: str, shown: str = "not drawn") -> None:
    """Three lines: the base configuration; the points and what the figure shows; the missing points, if any."""
    lines = [base_title(ds), f"{points_title(ds)}: {what}", missing_note(ds, shown)]
    fig.suptitle("\n".join(filter(None, lines)), fontsize=8, wrap=True)


def _check_dims(ds: xr.Dataset, n: int, figure: str) -> list[str]:
    dims = varied_dims(ds)
    if len(dims) != n:
        raise ValueError(f"{figure} needs a sweep over {n} parameter{'s' if n > 1 else ''} besides seed and trial; "
                         f"this one varies {len(dims)} ({', '.join(dims) or 'none'})")
    return dims


# ----------------------------------------------------------------------------------------------
# one axis


def sweep_lines(ds: xr.Dataset) -> Figure:
    """Rate, irregularity and synchrony of every population against the one parameter a sweep varies.

    One panel per quantity; a line per population through the mean over the repetitions (seeds,
    trials) of its ok points, a band over their range (min to max) when there are several; in the
    rate panel the mean-field prediction dashed in the population's colour. PD14's bounds of the
    asynchronous-irregular state (CV 0.7 and 1.2, synchrony 8, and rate 30 spikes/s where it falls
    inside the rates' range) are dotted grey. Rates and synchronies spanning more than a factor
    30 are shown on a log scale. Missing points are gaps, never zeros; so are values a point could
    not measure (a CV or synchrony without enough spikes is NaN in the file).

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's result Dataset with one parameter axis (besides ``seed`` and ``trial``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    ds = _sorted(ds)
    dim, = _check_dims(ds, 1, "sweep_lines")
    x, ticks = _positions(ds, dim)
    names, _ = _populations(ds)
    styles = population_styles(ds)
    repeats = int(np.prod([ds.sizes[d] for d in repeat_dims(ds)]))
    fig = new_figure(10.0, 3.9)
    axes = fig.subplots(1, len(QUANTITIES))
    bounds_drawn = False
    for ax, (name, ylabel, bounds) in zip(axes, QUANTITIES):
        data = _over_repeats(_ok(ds, name), [dim])  # (dim, population, repeats)
        mean = _reduce(data, np.nanmean)
        for p, style in enumerate(styles):
            if repeats > 1:
                ax.fill_between(x, _reduce(data[:, p], np.nanmin), _reduce(data[:, p], np.nanmax),
                                color=style["color"], alpha=0.15, linewidth=0)
            ax.plot(x, mean[:, p], color=style["color"], marker=style["marker"], markersize=3.5, linewidth=1.2,
                    label=style["label"])
        if name == "rate" and "predicted_rate" in ds:
            predicted = _reduce(_over_repeats(_ok(ds, "predicted_rate"), [dim]), np.nanmean)
            for p, style in enumerate(styles):
                ax.plot(x, predicted[:, p], color=style["color"], linestyle="--", linewidth=0.9)
        finite = data[np.isfinite(data)]
        if name != "cv" and finite.size and finite.min() > 0 and finite.max() > 30 * finite.min():
            ax.set_yscale("log")
        if finite.size:  # the CV's and synchrony's bounds always (the axis grows), the rate's inside the data's range
            low, high = ax.get_ylim()
            for bound in bounds:
                if name != "rate" or low < bound < high:
                    ax.axhline(bound, color="grey", linestyle=":", linewidth=0.8, zorder=0)
                    bounds_drawn = True
            if name == "rate":
                ax.set_ylim(low, high)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlabel(axis_label(ds, dim), fontsize=8)
        if ticks is not None:
            ax.set_xticks(x, ticks, fontsize=7)
        elif x.size <= 12:
            ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.tick_params(labelsize=7)
    handles = [Line2D([], [], color=s["color"], marker=s["marker"], markersize=4, label=s["label"]) for s in styles]
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=0.9, label="mean-field rate"))
    if repeats > 1:
        handles.append(Patch(color="black", alpha=0.15, linewidth=0, label=f"range over {_repeat_text(ds)}"))
    if bounds_drawn:
        handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=0.8, label="bounds of AI (PD14)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), fontsize=7, frameon=False)
    over = f"mean over {_repeat_text(ds)}" if repeats > 1 else "one run per value"
    _title(fig, ds, f"rate, irregularity and synchrony per population against {axis_label(ds, dim)} ({over})")
    return fig


# ----------------------------------------------------------------------------------------------
# two axes


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around increasing centres: half way between neighbours, as far out at the ends."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def _map_axes(ds: xr.Dataset, dims: list[str]):
    (x, xt), (y, yt) = _positions(ds, dims[0]), _positions(ds, dims[1])
    return x, xt, y, yt


def _frame(ax, ds, dims, x, xt, y, yt, labels: bool = True) -> None:
    """Limits, ticks and labels of a map; a hatched background, which missing (masked) cells show."""
    xe, ye = _edges(x), _edges(y)
    ax.add_patch(Rectangle((xe[0], ye[0]), xe[-1] - xe[0], ye[-1] - ye[0], facecolor="white", edgecolor=MISSING_COLOR,
                           hatch=MISSING_HATCH, linewidth=0, zorder=0))
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    if xt is not None:
        ax.set_xticks(x, xt)
    elif x.size <= 12:
        ax.set_xticks(x, [f"{v:g}" for v in x])
    if yt is not None:
        ax.set_yticks(y, yt)
    elif y.size <= 12:
        ax.set_yticks(y, [f"{v:g}" for v in y])
    if labels:
        ax.set_xlabel(axis_label(ds, dims[0]), fontsize=8)
        ax.set_ylabel(axis_label(ds, dims[1]), fontsize=8)


def _mean_map(ds: xr.Dataset, name: str, dims: list[str]) -> np.ndarray:
    """``name`` averaged over the repetitions of its ok points, as rows over ``dims[1]`` and columns over ``dims[0]``
    (then population, if it has one); NaN where no repetition is ok."""
    values = _reduce(_over_repeats(_ok(ds, name), [dims[1], dims[0]]), np.nanmean)
    return values


def ainess_map(ds: xr.Dataset) -> Figure:
    """The AIness over the two parameters a sweep varies, as PD14 Fig. 8B: the share (%) of populations in the
    asynchronous-irregular state, averaged over the repetitions, with its 25, 50 and 75 % contours.

    The first parameter axis is horizontal, the second vertical; cells are centred on the values.
    The contours are white, outlined in black: 25 % dotted, 50 % dashed, 75 % solid (a legend
    says so). A cell with no ok point is hatched (blank), never coloured as 0 %. On grids of up
    to 36 cells each cell shows its value.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's result Dataset with two parameter axes (besides ``seed`` and ``trial``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    ds = _sorted(ds)
    dims = _check_dims(ds, 2, "ainess_map")
    x, xt, y, yt = _map_axes(ds, dims)
    z = np.ma.masked_invalid(_mean_map(ds, "ainess", dims))
    fig = new_figure(6.2, 5.0)
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(_edges(x), _edges(y), z, cmap="viridis", vmin=0.0, vmax=100.0, zorder=1)
    _frame(ax, ds, dims, x, xt, y, yt)
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label("AIness: share of asynchronous-irregular populations (%)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if x.size > 1 and y.size > 1 and z.count():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no contour levels were found": levels outside the data
            contours = ax.contour(x, y, z, levels=list(AINESS_LEVELS), colors="white", linewidths=1.4,
                                  linestyles=CONTOUR_STYLES, zorder=2)
        contours.set(path_effects=CONTOUR_EDGE)
    if z.size <= 36:
        for i, yy in enumerate(y):
            for j, xx in enumerate(x):
                if not np.ma.is_masked(z[i, j]):
                    value = float(z[i, j])
                    ax.text(xx, yy, f"{value:.0f}", ha="center", va="center", fontsize=7, zorder=3,
                            color="white" if value < 60 else "black")
    handles = [Line2D([], [], color="white", linewidth=1.4, linestyle=style, path_effects=CONTOUR_EDGE,
                      label=f"{level:.0f} %") for level, style in zip(AINESS_LEVELS, CONTOUR_STYLES)]
    handles.append(Patch(facecolor="white", edgecolor=MISSING_COLOR, hatch=MISSING_HATCH, label="no ok point"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=4, fontsize=7, frameon=False,
              title="AIness contours", title_fontsize=7, handlelength=3.0)
    ax.tick_params(labelsize=7)
    repeats = _repeat_text(ds)
    _title(fig, ds, "AIness (PD14 Fig. 8B)" + (f", mean over {repeats}" if repeats else ""),
           "not drawn; hatched where no point is ok")
    return fig


def _panel_grid(names: list[str]) -> list[tuple[int, int]]:
    """(row, column) of every population: one row per layer, excitatory left, inhibitory right (PD14's layout)."""
    layers = list(dict.fromkeys(layer_of(n) for n in names))
    if all(n[-1] in "EI" for n in names) and len(layers) * 2 >= len(names) and \
            len(set((layer_of(n), n[-1]) for n in names)) == len(names):
        return [(layers.index(layer_of(n)), 0 if n[-1] == "E" else 1) for n in names]
    return [(k // 2, k % 2) for k in range(len(names))]


def rate_maps(ds: xr.Dataset) -> Figure:
    """The rate of every population over the two parameters a sweep varies: one small map per population
    (one row per layer, excitatory left, inhibitory right), all on one colour scale.

    Rates are averaged over the repetitions of the ok points. The scale is logarithmic when the
    rates span more than a factor 10 (rates below its lower end, 0.01 spikes/s at the least,
    including silent populations, take its lowest colour, and silent ones are marked "0"), linear
    otherwise. A cell with no ok point is hatched (blank), never coloured as 0 spikes/s.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's result Dataset with two parameter axes (besides ``seed`` and ``trial``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    ds = _sorted(ds)
    dims = _check_dims(ds, 2, "rate_maps")
    x, xt, y, yt = _map_axes(ds, dims)
    names, _ = _populations(ds)
    rates = _mean_map(ds, "rate", dims)  # (y, x, population)
    finite = rates[np.isfinite(rates)]
    positive = finite[finite > 0]
    silent = rates == 0  # on a log scale they share the lowest colour with the slowest: marked "0"
    if positive.size and positive.max() > 10 * max(positive.min(), 0.01):
        norm = LogNorm(vmin=max(positive.min(), 0.01), vmax=positive.max())
        rates = np.where(np.isfinite(rates), np.maximum(rates, norm.vmin), np.nan)  # silent: the lowest colour
    else:
        top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        norm = Normalize(vmin=0.0, vmax=top)
    cells = _panel_grid(names)
    rows = max(r for r, _ in cells) + 1
    fig = new_figure(6.4, 1.55 * rows + 1.6)
    axes = fig.subplots(rows, 2, sharex=True, sharey=True, squeeze=False)
    used = set()
    mesh = None
    for p, (name, (r, c)) in enumerate(zip(names, cells)):
        ax = axes[r, c]
        used.add((r, c))
        mesh = ax.pcolormesh(_edges(x), _edges(y), np.ma.masked_invalid(rates[:, :, p]), cmap="magma", norm=norm,
                             zorder=1)
        _frame(ax, ds, dims, x, xt, y, yt, labels=False)
        if isinstance(norm, LogNorm):
            for i, j in zip(*np.nonzero(silent[:, :, p])):
                ax.text(x[j], y[i], "0", ha="center", va="center", fontsize=6, color="white", zorder=2)
        ax.set_title(population_label(name), fontsize=8, pad=2)
        ax.tick_params(labelsize=6)
    for r in range(rows):
        for c in range(2):
            if (r, c) not in used:
                axes[r, c].set_visible(False)
    fig.supxlabel(axis_label(ds, dims[0]), fontsize=8)
    fig.supylabel(axis_label(ds, dims[1]), fontsize=8)
    if mesh is not None:
        bar = fig.colorbar(mesh, ax=axes, shrink=0.6)
        bar.set_label("rate (spikes/s)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    repeats = _repeat_text(ds)
    scale = "log scale" if isinstance(norm, LogNorm) else "linear scale"
    if isinstance(norm, LogNorm) and silent.any():
        scale += "; 0: silent"
    _title(fig, ds, f"rate per population ({scale}" + (f", mean over {repeats})" if repeats else ")"),
           "not drawn; hatched where no point is ok")
    return fig


# ----------------------------------------------------------------------------------------------
# trials


def trial_histograms(ds: xr.Dataset) -> Figure:
    """Histogram of every population's rate over the trials of a sweep that draws external in-degrees anew
    per trial (``--trials N --draw k_ext=pd14_random``; PD14 Fig. 7C).

    One panel per population (one row per layer, excitatory left, inhibitory right); the ok
    points of all trials (and seeds) pooled: each counts once. With one parameter axis besides,
    one outline per value of it, on the same bins.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's result Dataset with a ``trial`` dimension and at most one parameter axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "trial" not in ds["status"].dims:
        raise ValueError("trial_histograms needs a sweep with trials (--trials N --draw k_ext=pd14_random)")
    ds = _sorted(ds)
    dims = varied_dims(ds)
    if len(dims) > 1:
        raise ValueError(f"trial_histograms draws sweeps over trials and at most one parameter; this one varies "
                         f"{len(dims)} ({', '.join(dims)})")
    names, types = _populations(ds)
    cells = _panel_grid(names)
    rows = max(r for r, _ in cells) + 1
    fig = new_figure(6.4, 1.45 * rows + 1.5)
    axes = fig.subplots(rows, 2, squeeze=False)
    used = set()
    rates = _ok(ds, "rate")
    if dims:
        x, ticks = _positions(ds, dims[0])
        labels = ticks or [f"{v:g}" for v in x]
        data = _over_repeats(rates, dims)  # (value, population, repeats)
        shades = colormaps["viridis"](np.linspace(0.1, 0.85, len(x)))
    else:
        data = _over_repeats(rates, [])[None]  # (1, population, repeats)
    for p, (name, kind, (r, c)) in enumerate(zip(names, types, cells)):
        ax = axes[r, c]
        used.add((r, c))
        values = data[:, p]
        finite = values[np.isfinite(values)]
        bins = np.histogram_bin_edges(finite, bins=_bin_count(finite.size)) if finite.size else 10
        if dims:
            for k, label in enumerate(labels):
                v = values[k][np.isfinite(values[k])]
                ax.hist(v, bins=bins, histtype="step", color=shades[k], linewidth=1.2, label=f"{dims[0]}={label}")
        else:
            ax.hist(finite, bins=bins, color=color(kind), edgecolor="white", linewidth=0.4)
        ax.set_title(population_label(name), fontsize=8, pad=2)
        ax.tick_params(labelsize=6)
    for r in range(rows):
        for c in range(2):
            if (r, c) not in used:
                axes[r, c].set_visible(False)
    for c in range(2):
        bottom = max((r for r, cc in cells if cc == c), default=None)
        if bottom is not None:
            axes[bottom, c].set_xlabel("rate (spikes/s)", fontsize=8)
    fig.supylabel("trials", fontsize=8)
    if dims:
        handles, labels = axes[cells[0]].get_legend_handles_labels()
        fig.legend(handles, [f"{axis_label(ds, dims[0])}: {t.split('=', 1)[1]}" for t in labels],
                   loc="outside lower center", ncols=min(len(handles), 4), fontsize=7, frameon=False)
    n_trials = ds.sizes["trial"]
    pooled = f", pooled over {ds.sizes['seed']} seeds" if "seed" in ds["status"].dims else ""
    _title(fig, ds, f"rates of {n_trials} trials with random external in-degrees (PD14 Fig. 7C){pooled}")
    return fig


def _bin_count(n: int) -> int:
    """Bins for ``n`` values: about 1.5 sqrt(n), from 5 to 40."""
    return int(np.clip(np.ceil(1.5 * np.sqrt(max(n, 1))), 5, 40))
