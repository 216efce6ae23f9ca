"""The validation figure: distributions of rates, ISI CVs and correlations against a reference ensemble."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.scale import SymmetricalLogScale
from matplotlib.ticker import NullLocator

from .. import analysis
from .style import REFERENCE_COLOR, RUN_COLOR, incomplete_note, new_figure, population_label, run_title


def _edges(observable: str, values: np.ndarray, quantum: float | None = None, n_bins: int = 40) -> np.ndarray:
    """Histogram bin edges covering ``values`` but their extreme 0.2 % on each side.

    Rates are multiples of ``quantum`` = 1/T (spikes/s); their bins are whole multiples of it,
    centred so that every bin holds the same number of possible values (no aliasing).
    Correlations are binned evenly on a symmetric-log scale (:func:`_cc_scale`): their bulk lies
    within a few 1e-3 of 0 while a few % of the pairs (low-rate neurons that happen to fire
    together) reach 0.1-0.2, which on a linear scale squeezes the bulk into one bar.
    """
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.linspace(0, 1, n_bins + 1)
    tail = 0.002
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
    if observable == "cc":
        transform = _cc_scale(values).get_transform()
        ends = transform.transform(np.array([lo, hi]))
        return transform.inverted().transform(np.linspace(ends[0], ends[1], n_bins + 1))
    return np.linspace(lo, hi, n_bins + 1)


def _decade(x: float) -> float:
    """The largest power of ten not above ``x`` (> 0); 0 for ``x <= 0``."""
    return 10.0 ** np.floor(np.log10(x)) if x > 0 else 0.0


def _cc_scale(values: np.ndarray) -> SymmetricalLogScale:
    """A symmetric-log scale, linear within the interquartile range of ``values`` around 0, logarithmic beyond."""
    q1, q3 = np.quantile(values, [0.25, 0.75])
    linthresh = max(abs(q1), abs(q3), q3 - q1, 1e-4)
    return SymmetricalLogScale(None, linthresh=float(linthresh), linscale=1.0)


def _fractions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    counts, _ = np.histogram(values, edges)
    return counts / values.size if values.size else counts.astype(float)


def distributions(stats: xr.Dataset | None = None, reference: xr.Dataset | None = None,
                  ks: xr.DataArray | None = None, passed: xr.DataArray | None = None,
                  label: str = "run", reference_label: str = "reference seeds",
                  observables: tuple[str, ...] = analysis.OBSERVABLES,
                  predicted_rates: xr.DataArray | None = None, title: str = "") -> Figure:
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
    title : str
        Figure title (e.g. :func:`validation_title`).

    Values outside a panel's range (the long tails of the correlations, the top 0.2 % of rates)
    are counted in the panel's corner ("x % off scale").

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
    fig = new_figure(2.0 * len(names), 1.9 * len(observables) + 0.4)
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
            every = np.concatenate([run_values, *ref_values])
            off = np.mean((every < edges[0]) | (every > edges[-1])) if every.size else 0.0
            if off >= 0.001:
                ax.text(0.97, 0.80, f"{100 * off:.1f} % off scale", transform=ax.transAxes, ha="right", va="top",
                        fontsize=6, color="dimgrey")
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
                axis = "\n(x: symmetric log)" if obs == "cc" else ""
                ax.set_ylabel(f"{analysis.OBSERVABLE_LABELS[obs]}{axis}\nfraction per bin", fontsize=7)
            if obs == "cc" and every.size:
                ax.set_xscale("symlog", linthresh=_cc_scale(every).linthresh, linscale=1.0)
                ax.set_xlim(edges[0], edges[-1])
                ticks = [t for t in (-_decade(-edges[0]), 0.0, _decade(edges[-1])) if edges[0] <= t <= edges[-1]]
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
                ax.xaxis.set_minor_locator(NullLocator())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if passed is not None and not bool(passed.all()):
        handles.append(Patch(facecolor="none", edgecolor="red", linewidth=1.5))
        labels.append("outside the reference's seed-to-seed spread (fails)")
    if ks is not None:
        handles.append(Line2D([], [], linestyle="none"))
        labels.append("$D_{KS}$: Kolmogorov-Smirnov distance of the run to the reference seeds")
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def validation_title(validation, attrs: dict) -> str:
    """Title of the validation figure: the run, the window, the reference set and the verdict."""
    ref = validation.reference
    failed = int((~validation.result["passed"]).sum())
    cells = int(validation.result["passed"].size)
    verdict = f"PASS, all {cells} cells" if failed == 0 else f"FAIL, {failed} of {cells} cells"
    lines = [run_title(attrs),
             f"distributions in [{validation.window[0]:g}, {validation.window[1]:g}] ms against reference "
             f"{ref.name} ({ref.stats.sizes['seed']} seeds); {verdict}"]
    note = incomplete_note(attrs)
    return "\n".join([*filter(None, lines), *([note] if note else [])])
