"""Figures render without a display and leave matplotlib's global state alone (no NEST)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import xarray as xr
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from microcircuit import analysis, plots
from microcircuit.output import ragged_dataset, write_atomic

from .test_analysis import poisson_trains

POPS = ["L23E", "L23I", "L4E", "L4I"]
SIZES = [60, 20, 60, 20]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pd14_like_spikes(seed: int = 0, t_stop: float = 1500.0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    trains, pops = [], []
    for pop, size, rate in zip(POPS, SIZES, [1.0, 3.0, 4.0, 6.0]):
        trains += poisson_trains(rng, size, rate, t_stop)
        pops += [pop] * size
    neurons = np.arange(1, len(trains) + 1)
    senders = np.concatenate([np.full(len(t), n) for n, t in zip(neurons, trains)])
    return ragged_dataset(neurons, pops, senders, np.concatenate(trains),
                          {"t_start": 500.0, "t_stop": t_stop, "n_scaling": 0.1, "seed": seed})


@pytest.fixture
def spikes():
    return pd14_like_spikes()


def test_raster_puts_the_first_population_on_top_in_pd14_colours(spikes):
    fig = plots.raster_plot(spikes, 500.0, 1500.0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = ax.get_lines()[:len(POPS)]
    tops = [np.min(line.get_ydata()) for line in lines]
    assert tops == sorted(tops, reverse=True)  # L23E above L23I above L4E ...
    assert [to_hex(line.get_color()) for line in lines] == [plots.EXC_COLOR, plots.INH_COLOR] * 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L2/3", "L4"]
    times = np.concatenate([line.get_xdata() for line in lines])
    assert times.min() >= 500.0 and times.max() <= 1500.0


def test_raster_thinning_plots_every_kth_spike(spikes):
    full = plots.raster_plot(spikes, 500.0, 1500.0, every=1).axes[0].get_lines()[0]
    thin = plots.raster_plot(spikes, 500.0, 1500.0, every=3).axes[0].get_lines()[0]
    assert len(thin.get_xdata()) == -(-len(full.get_xdata()) // 3)
    assert plots.default_thinning(1.0) == 10 and plots.default_thinning(0.1) == 1


def test_box_plot_is_horizontal_with_l23e_on_top(spikes):
    rates = analysis.firing_rates(spikes, 500.0, 1500.0)
    fig = plots.rate_box_plot(rates)
    ax = fig.axes[0]
    labels = sorted(((t.get_position()[1], t.get_text()) for t in ax.get_yticklabels()), reverse=True)
    assert [text for _, text in labels] == ["L2/3E", "L2/3I", "L4E", "L4I"]
    assert ax.get_xlabel() == "firing rate (spikes/s)"


def test_distributions_with_reference_band(spikes):
    stats = [analysis.statistics(pd14_like_spikes(s), 500.0, 1500.0, sample_size=10) for s in range(3)]
    ref = xr.concat(stats[1:], dim="seed", coords="minimal", compat="override")
    ks = xr.concat([analysis.ks_distances(stats[0], r) for r in stats[1:]], dim="seed").mean("seed")
    fig = plots.distributions(stats[0], ref, ks=ks, passed=ks < 0.5)
    assert len(fig.axes) == 3 * len(POPS)
    assert fig.axes[0].get_title() == "L2/3E"
    assert "D_{KS}" in fig.axes[0].texts[0].get_text()


def test_figures_do_not_change_global_matplotlib_state(spikes, tmp_path):
    before = dict(matplotlib.rcParams)
    pyplot = sys.modules.get("matplotlib.pyplot")  # imported by another test or library: its figures stay theirs
    figures_before = pyplot.get_fignums() if pyplot else []
    stats = analysis.statistics(spikes, 500.0, 1500.0, sample_size=10)
    for fig in (plots.raster_plot(spikes, 500.0, 1500.0),
                plots.rate_box_plot(stats["rate"]),
                plots.distributions(stats)):
        fig.savefig(tmp_path / "f.png")
    assert dict(matplotlib.rcParams) == before
    if "matplotlib.pyplot" in sys.modules:  # imported by someone else: still no figure of ours registered with it
        assert sys.modules["matplotlib.pyplot"].get_fignums() == figures_before


def test_save_run_figures_without_a_display(tmp_path):
    """In a fresh interpreter with no DISPLAY and an interactive backend requested: figures are
    made without pyplot, so the backend setting is never consulted."""
    path = tmp_path / "run" / "spikes.nc"
    path.parent.mkdir()
    write_atomic(pd14_like_spikes(), path)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    code = ("import sys; from microcircuit import plots; "
            f"print([p.name for p in plots.save_run_figures({str(path)!r})]); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['raster_plot.png', 'box_plot.png']", "False"]
    for name in ("raster_plot.png", "box_plot.png"):
        assert (path.parent / name).read_bytes()[:8] == PNG_MAGIC


def test_save_run_figures_of_a_run_stopped_in_the_warm_up(tmp_path):
    ds = pd14_like_spikes()
    ds.attrs["t_simulated"] = 400.0
    write_atomic(ds, tmp_path / "spikes.nc")
    assert plots.save_run_figures(tmp_path / "spikes.nc") == []


def _texts(fig):
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []
    return ax.get_title(), legend, [t.get_text() for t in ax.texts]


def test_raster_says_what_it_shows(spikes):
    """Title with scale and seed, E/I legend, stimuli shaded and named, incomplete runs flagged."""
    spikes.attrs.update(background="poisson", neuron_model="nestml",
                        config=json.dumps({"stimulus": {"thalamic": True, "thalamic_start": 700.0,
                                                        "thalamic_duration": 10.0, "dc": False}}))
    title, legend, texts = _texts(plots.raster_plot(spikes, 500.0, 1500.0))
    assert "scale 0.1" in title and "Poisson background" in title and "seed 0" in title and "[500, 1500] ms" in title
    assert legend == ["excitatory", "inhibitory", "thalamic pulse"]
    assert not any("INCOMPLETE" in t for t in texts)
    spikes.attrs.update(status="incomplete: interrupted by SIGINT at t = 900 ms")
    _, _, texts = _texts(plots.raster_plot(spikes, 500.0, 900.0))
    assert any(t.startswith("INCOMPLETE RUN") and "SIGINT" in t for t in texts)


def test_box_plot_legend_explains_box_lines_and_markers(spikes):
    _, legend, _ = _texts(plots.rate_box_plot(analysis.firing_rates(spikes, 500.0, 1500.0)))
    assert {"median", "mean", "a neuron outside the box"} <= set(legend)
    assert any("middle 50 %" in t for t in legend)


def test_correlation_histograms_show_the_bulk_and_the_tail():
    """97 % of the CCs within +-0.006, 3 % spread to 0.2 (as in L2/3E): on a linear axis from -0.006 to 0.2 the
    bulk would fill 1 of 40 bins; the symmetric-log bins spread it over many and still show the tail."""
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0.0, 0.002, 9700), rng.uniform(0.05, 0.2, 300)])
    edges = plots.validation._edges("cc", values)
    counts, _ = np.histogram(values, edges)
    bulk = (edges[:-1] >= -0.006) & (edges[1:] <= 0.006)
    assert np.count_nonzero(counts[bulk] > 0.01 * values.size) >= 10  # the bulk spreads over many bins
    assert counts[edges[:-1] >= 0.05].sum() > 250  # the tail is on the axis too
    assert np.mean((values < edges[0]) | (values > edges[-1])) < 0.005  # little off scale
