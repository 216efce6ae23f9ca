"""The figures of a sweep, drawn from synthetic result Datasets (no simulation), and the commands that write them."""
from __future__ import annotations

import importlib
import json
import logging

import matplotlib
import numpy as np
import pytest
import tomli_w
from matplotlib.collections import QuadMesh
from matplotlib.colors import LogNorm, to_hex
from matplotlib.patches import Rectangle

from microcircuit import plots
from microcircuit.parameters import Config
from microcircuit.plots import sweeps
from microcircuit.sweep import build
from microcircuit.sweep.point import STATUS_OK
from microcircuit.sweep.results import Results, irregularity_note

from ..conftest import invoke_main

analyse_cmd = importlib.import_module("microcircuit.commands.analyse")
sweep_cmd = importlib.import_module("microcircuit.commands.sweep")

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
BASE_RATES = np.array([0.9, 2.8, 4.4, 5.7, 7.6, 8.5, 1.1, 7.7])  # about PD14's rates at g = -4, nu_bg = 8 spikes/s
SMALL = Config().replace(network={"n_scaling": 0.05, "k_scaling": 0.05}, simulation={"t_presim": 100.0, "t_sim": 200.0})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_sweep(vary, seeds=None, trials=None, fail=(), pending=(), paired=False):
    """The result Dataset a sweep over ``vary`` would write, with made-up summaries.

    Rates grow with g and with nu_bg (a seed or trial adds up to +-10 %); a population is AI
    when its rate is between 0.5 and 10 spikes/s, so the AIness runs from 0 % (weak input,
    strong inhibition) through 100 % to below 50 % (strong input). Points at the indices in
    ``fail`` have failed, those in ``pending`` have not run.
    """
    spec = build(SMALL, vary=vary, seeds=seeds, trials=trials, paired=paired,
                 draw=["k_ext=pd14_random"] if trials else [])
    results = Results(spec, POPS, {"sweep_spec": spec.canonical(), "base_config": tomli_w.dumps(SMALL.to_dict())})
    rng = np.random.default_rng(1)
    for point in spec.points():
        if point.index in pending:
            continue
        if point.index in fail:
            results.record(point, {"status": "failed: MemoryError", "occupied_s": 2.0})
            continue
        values = {k.name: v for k, v in point.values}
        factor = np.exp(0.8 * (values.get("g", -4.0) + 4.0)) * (values.get("bg_rate", 8.0) / 8.0) ** 2
        predicted = BASE_RATES * factor
        rate = predicted * rng.uniform(0.9, 1.1, len(POPS))
        ai = ((rate > 0.5) & (rate < 10.0)).astype(float)
        results.record(point, {"status": STATUS_OK, "populations": POPS, "rate": rate, "cv": rng.uniform(0.7, 1.0, 8),
                               "synchrony": 1.0 + 0.3 * rate, "ai": ai, "predicted_rate": predicted,
                               "ainess": 100.0 * ai.mean(), "wall_time": 3.0, "peak_memory": 300.0})
    return results.dataset()


@pytest.fixture(scope="module")
def one_axis():
    # g = -6 failed for every seed: a gap; g = -5 for one seed: the mean of the other two
    return synthetic_sweep(["g=-8:-3:6"], seeds=3, fail=[(2, 0), (2, 1), (2, 2), (3, 1)])


@pytest.fixture(scope="module")
def two_axes():
    # (g = -8, nu_bg = 12) failed for both seeds: a blank cell; (g = -5, nu_bg = 6) for one seed only
    return synthetic_sweep(["g=-8:-3:6", "bg_rate=4:12:5"], seeds=2, fail=[(0, 4, 0), (0, 4, 1), (3, 1, 0)],
                           pending=[(5, 0, 1)])


def _meshes(fig):
    """The maps of a figure (not the colour bar's own mesh: the colour bar is the last axes)."""
    return [c for ax in fig.axes[:-1] for c in ax.collections if isinstance(c, QuadMesh)]


# ----------------------------------------------------------------------------------------------
# one axis


def test_one_axis_draws_rate_cv_and_synchrony_per_population_against_the_parameter(one_axis):
    fig = plots.sweep_lines(one_axis)
    axes = fig.axes
    assert [ax.get_ylabel().split(" ")[0] for ax in axes] == ["rate", "irregularity", "synchrony"]
    assert all(ax.get_xlabel() == "relative inhibition g" for ax in axes)  # g is dimensionless
    rate_ax = axes[0]
    solid = [line for line in rate_ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in rate_ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_label() for line in solid] == ["L2/3E", "L2/3I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    assert len(dashed) == 8  # the mean-field rates
    assert [to_hex(solid[k].get_color()) for k in (0, 1)] == [plots.EXC_COLOR, plots.INH_COLOR]
    ok = one_axis.rate.where(one_axis.status == STATUS_OK)
    l4e = solid[2].get_ydata()
    np.testing.assert_allclose(solid[2].get_xdata(), [-8, -7, -6, -5, -4, -3])
    np.testing.assert_allclose(l4e[[0, 1, 3, 4, 5]], ok.sel(population="L4E").mean("seed").values[[0, 1, 3, 4, 5]])
    assert np.isnan(l4e[2])  # every seed failed: a gap, not a zero
    np.testing.assert_allclose(l4e[3], ok.sel(g=-5, population="L4E", seed=[55, 57]).mean())
    np.testing.assert_allclose(dashed[2].get_ydata()[4], BASE_RATES[2])  # theory at g = -4
    assert len(rate_ax.collections) == 8  # a band over the seeds per population
    assert "4 of 18 points missing (4 failed)" in fig._suptitle.get_text()
    assert "mean over 3 seeds" in fig._suptitle.get_text()


def test_values_of_a_point_that_is_not_ok_are_never_drawn(one_axis, two_axes):
    """The file has NaN at failed points; should a failed point carry numbers all the same, they are left out."""
    stale = one_axis.copy(deep=True)
    stale["rate"].loc[{"g": -6}] = 99.0  # status of g = -6: failed for every seed
    stale["predicted_rate"].loc[{"g": -6}] = 99.0
    assert all(np.isnan(line.get_ydata()[2]) for line in plots.sweep_lines(stale).axes[0].get_lines())
    stale = two_axes.copy(deep=True)
    stale["ainess"].loc[{"g": -8, "bg_rate": 12}] = 0.0
    image = plots.ainess_map(stale).axes[0].collections[0].get_array().reshape(5, 6)
    assert np.ma.is_masked(image[4, 0])


def test_one_axis_with_nothing_missing_says_nothing_missing():
    ds = synthetic_sweep(["bg_rate=6,8,10"])
    fig = plots.sweep_lines(ds)
    assert fig.axes[0].get_xlabel() == "background rate ν_bg (spikes/s)"
    assert "missing" not in fig._suptitle.get_text()
    assert not fig.axes[0].collections  # one run per value: no band


# ----------------------------------------------------------------------------------------------
# two axes


def test_ainess_map_has_its_contours_and_leaves_missing_cells_blank(two_axes):
    fig = plots.ainess_map(two_axes)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "relative inhibition g" and ax.get_ylabel() == "background rate ν_bg (spikes/s)"
    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    image = mesh.get_array().reshape(5, 6)  # rows: nu_bg, columns: g
    ok = two_axes.ainess.where(two_axes.status == STATUS_OK)
    assert float(ok.min()) == 0.0 and float(ok.max()) == 100.0  # the synthetic AIness spans 0-100 %
    assert np.ma.is_masked(image[4, 0])  # no ok point: masked (drawn blank), not 0 %
    assert image.mask.sum() == 1
    assert float(image[1, 3]) == float(ok.sel(g=-5, bg_rate=6, seed=56))  # one seed failed: the other's value
    assert float(image[0, 5]) == pytest.approx(float(ok.sel(g=-3, bg_rate=4).mean()))
    contours = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(contours) == 1 and list(contours[0].levels) == [25.0, 50.0, 75.0]
    assert all(len(segments) > 0 for segments in contours[0].allsegs)  # every level is drawn
    assert fig.axes[1].get_ylabel().startswith("AIness") and fig.axes[1].get_ylabel().endswith("(%)")  # colour bar
    title = fig._suptitle.get_text()
    assert "PD14 Fig. 8B" in title and "4 of 60 points missing (3 failed, 1 not run)" in title


def test_rate_maps_one_panel_per_population_on_one_colour_scale(two_axes):
    fig = plots.rate_maps(two_axes)
    meshes = _meshes(fig)
    assert len(meshes) == 8
    titles = [ax.get_title() for ax in fig.axes[:-1] if ax.get_visible()]
    assert titles == ["L2/3E", "L2/3I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    assert len({(m.norm.vmin, m.norm.vmax) for m in meshes}) == 1 and all(m.norm is meshes[0].norm for m in meshes)
    ok = two_axes.rate.where(two_axes.status == STATUS_OK).mean("seed")
    assert meshes[0].norm.vmax == pytest.approx(float(ok.max()))
    for m in meshes:
        image = m.get_array().reshape(5, 6)
        assert np.ma.is_masked(image[4, 0]) and image.mask.sum() == 1  # blank, not 0 spikes/s
    l4i = meshes[3].get_array().reshape(5, 6)
    assert float(l4i[2, 4]) == pytest.approx(float(ok.sel(g=-4, bg_rate=8, population="L4I")))
    assert fig.axes[-1].get_ylabel() == "rate (spikes/s)"  # the shared colour bar


def test_silent_cells_of_a_log_rate_map_are_marked_zero(two_axes):
    # on the log scale a silent population shares the lowest colour with the slowest ones: it is marked "0"
    ds = two_axes.copy(deep=True)
    ds["rate"].loc[{"g": -8.0, "bg_rate": 4.0, "population": "L23E"}] = 0.0
    fig = plots.rate_maps(ds)
    assert isinstance(_meshes(fig)[0].norm, LogNorm)
    marks = [[(t.get_position(), t.get_text()) for t in ax.texts] for ax in fig.axes[:-1] if ax.get_visible()]
    assert marks[0] == [((-8.0, 4.0), "0")] and not any(marks[1:])
    assert any("0: silent" in t.get_text() for t in fig.texts)  # the title says what "0" means
    assert not any(ax.texts for ax in plots.rate_maps(two_axes).axes)  # nothing silent, nothing marked


def test_a_two_by_two_grid_gets_contours_too():
    ds = synthetic_sweep(["g=-8,-3", "bg_rate=4,12"])
    fig = plots.ainess_map(ds)
    contours = [c for c in fig.axes[0].collections if hasattr(c, "levels")]
    assert contours and sum(len(s) for s in contours[0].allsegs) > 0


# ----------------------------------------------------------------------------------------------
# trials, more axes, what is drawn when


def test_trial_histograms_count_every_ok_trial_once():
    ds = synthetic_sweep([], trials=30, fail=[(3,), (17,)], pending=[(29,)])
    fig = plots.trial_histograms(ds)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.patches]
    assert [ax.get_title() for ax in panels] == ["L2/3E", "L2/3I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    for ax, pop in zip(panels, POPS):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert sum(b.get_height() for b in bars) == 27  # 30 trials, 2 failed, 1 not run
        rates = ds.rate.sel(population=pop).where(ds.status == STATUS_OK)
        assert min(b.get_x() for b in bars) == pytest.approx(float(rates.min()))
    assert "3 of 30 points missing" in fig._suptitle.get_text() and "PD14 Fig. 7C" in fig._suptitle.get_text()


def test_which_figures_each_sweep_gets(one_axis, two_axes):
    assert list(plots.sweep_figures(one_axis)) == ["sweep_rates.png"]
    assert sweeps.figure_names(two_axes) == ["sweep_ainess.png", "sweep_rate_maps.png"]
    trials = synthetic_sweep(["g=-5,-4"], trials=3)
    assert sweeps.figure_names(trials) == ["sweep_rates.png", "sweep_trials.png"]
    assert len([ax for ax in plots.trial_histograms(trials).axes if ax.get_visible()]) == 8
    assert plots.figures_note(one_axis) is None
    three = synthetic_sweep(["g=-5,-4", "bg_rate=8,9", "C_m=250,260"])
    assert plots.sweep_figures(three) == {}
    note = plots.figures_note(three)
    assert "one or two parameters" in note and "it varies 3 (g, bg_rate, C_m)" in note and "\n" not in note
    seeds_only = synthetic_sweep([], seeds=2)
    assert plots.sweep_figures(seeds_only) == {} and "it varies only the seed" in plots.figures_note(seeds_only)
    with pytest.raises(ValueError, match="needs a sweep over 2 parameters"):
        plots.ainess_map(one_axis)


def test_a_paired_axis_is_one_axis_labelled_by_its_keys():
    ds = synthetic_sweep(["g=-5,-4,-3", "bg_rate=7,8,9"], paired=True)
    fig = plots.sweep_lines(ds)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["-5 / 7", "-4 / 8", "-3 / 9"]  # one line each, so that neighbouring ticks do not overlap
    assert fig.axes[0].get_xlabel() == "g / bg_rate"


def test_sweep_figures_leave_matplotlib_global_state_alone(two_axes, tmp_path):
    before = dict(matplotlib.rcParams)
    written = plots.save_sweep_figures(two_axes, tmp_path, dpi=40)
    assert [p.name for p in written] == ["sweep_ainess.png", "sweep_rate_maps.png"]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in written)
    assert dict(matplotlib.rcParams) == before


# ----------------------------------------------------------------------------------------------
# the commands


def test_analyse_a_sweep_folder_prints_its_points_and_writes_its_figures(tmp_path, capsys):
    spec_ds = synthetic_sweep(["g=-5,-4"], seeds=2, fail=[(1, 1)])
    folder = tmp_path / "sweep"
    folder.mkdir()
    spec_ds.to_netcdf(folder / "sweep.nc", engine="netcdf4")
    code, out, err = invoke_main(analyse_cmd, [str(folder)], capsys)
    assert code == 0, err
    assert (folder / "sweep_rates.png").read_bytes()[:8] == PNG_MAGIC
    assert any(line.endswith("sweep_rates.png") for line in err)  # each file named
    lines = out.splitlines()
    assert "points: 3 ok, 1 failed, 0 not run; AIness" in out
    rows = [line for line in lines if line.startswith("p0000")]
    assert [r.split()[:3] for r in rows] == [["p00000", "-5", "55"], ["p00001", "-5", "56"], ["p00002", "-4", "55"],
                                            ["p00003", "-4", "56"]]
    assert rows[3].endswith("failed: MemoryError") and rows[0].endswith("ok")
    code, out, _ = invoke_main(analyse_cmd, [str(folder / "sweep.nc"), "--no-plots"], capsys)  # the file itself
    assert code == 0 and "points: 3 ok" in out


def test_a_sweep_whose_windows_are_too_short_for_the_cv_criterion_says_so():
    """Made-up rates of 0.8-9.4 spikes/s: in 200 ms every population fires under 4.8 spikes per neuron
    (IRREGULARITY_MIN_COUNT), in 60 s none does; failed points are not counted."""
    ds = synthetic_sweep(["t_sim=200,60000,300"], fail=[(2,)])
    note = irregularity_note(ds)
    assert note.startswith("irregularity: at 1 of 2 ok points populations fire fewer than 4.8 spikes per neuron")
    assert "(" + ", ".join(f"{p} at 1 point" for p in ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")) + ")" in note
    assert note.endswith("the CV criterion of AIness cannot be applied there; simulate longer (--t-sim) (docs/sweeps.md)")
    assert f"note: {note}" in analyse_cmd.sweep_report(ds)
    long = synthetic_sweep(["t_sim=60000,120000"])
    assert irregularity_note(long) is None and "note:" not in analyse_cmd.sweep_report(long)
    # a file whose stored sweep this version cannot read back (here: an unknown option) is still reported
    spec = json.loads(ds.attrs["sweep_spec"])
    spec["base"]["simulation"]["old_option"] = 1
    ds.attrs["sweep_spec"] = json.dumps(spec)
    assert irregularity_note(ds) is None and "points: 2 ok, 1 failed" in analyse_cmd.sweep_report(ds)


@pytest.mark.parametrize("case, message", [
    ("empty", "no spikes.nc (a run) or sweep.nc (a sweep) in"),
    ("window", "--t-start set the window of a run"),
    ("not_a_sweep", "is not a sweep result file written by python -m microcircuit.sweep"),
])
def test_analyse_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case, message):
    folder = tmp_path / "d"
    folder.mkdir()
    argv = [str(folder)]
    if case == "window":
        synthetic_sweep(["g=-5,-4"]).to_netcdf(folder / "sweep.nc", engine="netcdf4")
        argv += ["--t-start", "200"]
    elif case == "not_a_sweep":
        synthetic_sweep(["g=-5,-4"]).drop_vars(["status"]).to_netcdf(folder / "sweep.nc", engine="netcdf4")
    code, out, err = invoke_main(analyse_cmd, argv, capsys)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert err[0].startswith("python -m microcircuit.analyse")
    assert not list(folder.glob("*.png"))


def test_the_sweep_command_keeps_its_result_when_a_figure_fails(two_axes, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="microcircuit")
    assert sweep_cmd.parser().parse_args(["--vary", "g=-4,-5", "--no-plots"]).no_plots
    written = sweep_cmd.write_figures(two_axes, tmp_path)
    assert [p.name for p in written] == ["sweep_ainess.png", "sweep_rate_maps.png"]

    def broken(ds):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(sweeps, "rate_maps", broken)
    (tmp_path / "sweep.nc").write_bytes(b"results")
    caplog.clear()
    assert sweep_cmd.write_figures(two_axes, tmp_path) is None
    assert "the sweep's figures could not be drawn (RuntimeError: no fonts)" in caplog.text
    assert (tmp_path / "sweep.nc").read_bytes() == b"results"
    caplog.clear()
    assert sweep_cmd.write_figures(synthetic_sweep(["g=-5,-4", "bg_rate=8,9", "C_m=250,260"]), tmp_path) == []
    assert len(caplog.records) == 1 and "no sweep figures" in caplog.text


def test_a_sweep_without_figures_says_so_without_importing_matplotlib(tmp_path):
    """Which figures a sweep gets is decided in microcircuit.plots.sweep_axes (plots imports lazily), so the
    command's note for a sweep that gets none costs no matplotlib import (half a second at the end of every such
    sweep; docs/benchmarks.md)."""
    import subprocess
    import sys

    synthetic_sweep([], seeds=2).to_netcdf(tmp_path / "sweep.nc")
    code = ("import logging, sys, xarray as xr; from microcircuit.commands.sweep import write_figures; "
            "logging.basicConfig(level=logging.INFO); "
            f"written = write_figures(xr.load_dataset({str(tmp_path / 'sweep.nc')!r}), {str(tmp_path)!r}); "
            "print(written, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "False"]
    assert "no sweep figures" in out.stderr and "it varies only the seed" in out.stderr
