"""What a sweep varies and its bad input, without simulating: keys, values, axes, points, draws, the result file.

The command-line cases run ``microcircuit.commands.sweep.main`` in-process; every one stops
before a worker starts, so none of them simulates.
"""
from __future__ import annotations

import importlib
import tomllib

import numpy as np
import pytest
import xarray as xr

from microcircuit import variations
from microcircuit.errors import ConfigError
from microcircuit.parameters import Config
from microcircuit.sweep import Spec, build, load, plan, resolve_key
from microcircuit.sweep.point import STATUS_OK, STATUS_PENDING
from microcircuit.sweep.results import Results, sweep_toml

from ..conftest import invoke_main

sweep_cmd = importlib.import_module("microcircuit.commands.sweep")

SMALL = Config().replace(network={"n_scaling": 0.05, "k_scaling": 0.05}, simulation={"t_presim": 100.0, "t_sim": 200.0})


# ----------------------------------------------------------------------------------------------
# keys and values


@pytest.mark.parametrize("text, path, name", [
    ("g", "network.g", "g"),
    ("network.g", "network.g", "g"),
    ("bg_rate", "network.bg_rate", "bg_rate"),
    ("seed", "simulation.seed", "seed"),
    ("C_m", "network.neuron.C_m", "C_m"),
    ("k_ext", "network.k_ext", "k_ext"),
    ("k_ext.L6E", "network.k_ext.L6E", "k_ext_L6E"),
    ("network.k_ext.L6E", "network.k_ext.L6E", "k_ext_L6E"),
    ("L23E->L4I.probability", "network.pathways.L23E->L4I.probability", "L23E->L4I_probability"),
    ("network.pathways.L23E -> L4I.psp", "network.pathways.L23E->L4I.psp", "L23E->L4I_psp"),
    ("L23E->L4I_probability", "network.pathways.L23E->L4I.probability", "L23E->L4I_probability"),
])
def test_keys_resolve_to_configuration_keys_with_readable_names(text, path, name, pd14_table):
    key = resolve_key(text, pd14_table)
    assert (key.path, key.name) == (path, name)


def test_every_short_name_of_the_configuration_is_unambiguous_or_refused():
    """The short name of every configuration field resolves to that field (no two fields share a last name today)."""
    from microcircuit.sweep.spec import LEAVES, NOT_VARIED

    for path in LEAVES:
        if path in NOT_VARIED or path == "network.pathways":
            continue
        assert resolve_key(path.rsplit(".", 1)[-1]).path == path


@pytest.mark.parametrize("vary, values", [
    ("g=-8:-4:5", [-8.0, -7.0, -6.0, -5.0, -4.0]),
    ("g=-4,table", [-4.0, "table"]),
    ("bg_rate=4:8:3", [4.0, 6.0, 8.0]),
    ("seed=1:4:4", [1, 2, 3, 4]),
    ("g=-4:-4:1", [-4.0]),  # one value: both ends the same
    ("t_sim=0.1:0.3:3", [0.1, 0.2, 0.3]),  # rounded to 12 digits: 0.2, not 0.20000000000000004
    ("k_ext=table,layer_independent", ["table", "layer_independent"]),
    ("background=poisson,dc", ["poisson", "dc"]),
    ("thalamic=true,false", [True, False]),
])
def test_values_of_lists_and_inclusive_ranges(vary, values):
    spec = build(SMALL, vary=[vary])
    assert list(spec.axes[0].values[0]) == values


def test_grid_is_the_product_paired_is_the_zip():
    grid = build(SMALL, vary=["g=-4,-5", "bg_rate=8,9,10"])
    assert grid.dims == ("g", "bg_rate") and grid.shape == (2, 3) and grid.size == 6
    assert [dict((k.name, v) for k, v in p.values) for p in grid.points()][:4] == [
        {"g": -4.0, "bg_rate": 8.0}, {"g": -4.0, "bg_rate": 9.0}, {"g": -4.0, "bg_rate": 10.0}, {"g": -5.0, "bg_rate": 8.0}]
    paired = build(SMALL, vary=["g=-4,-5,-6", "bg_rate=8,9,10"], paired=True)
    assert paired.dims == ("g_and_bg_rate",) and paired.size == 3
    assert [p.label for p in paired.points()] == ["g=-4 bg_rate=8", "g=-5 bg_rate=9", "g=-6 bg_rate=10"]


def test_a_paired_key_may_repeat_a_value_a_combination_may_not():
    # PD14's Fig. 8A row (g = -4) and 8C column (nu_bg = 8) meet in one point: each key repeats a
    # value, every combination differs.
    cross = build(SMALL, vary=["bg_rate=8,10,8,8", "g=-4,-4,-5,-3"], paired=True)
    assert [p.label for p in cross.points()] == ["bg_rate=8 g=-4", "bg_rate=10 g=-4", "bg_rate=8 g=-5",
                                                 "bg_rate=8 g=-3"]
    with pytest.raises(ConfigError, match="a combination of values is given twice"):
        build(SMALL, vary=["bg_rate=8,10,8", "g=-4,-4,-4"], paired=True)
    with pytest.raises(ConfigError, match="given twice; every value of an axis must differ"):
        build(SMALL, vary=["bg_rate=8,10,8", "g=-4,-5,-6"])  # a grid axis may not


def test_seeds_axis_starts_at_the_base_seed_and_sets_simulation_seed():
    spec = build(SMALL.replace(simulation={"seed": 7}), vary=["g=-4,-5"], seeds=3)
    assert spec.dims == ("g", "seed") and list(spec.axes[1].values[0]) == [7, 8, 9]
    configs = [spec.config(p) for p in spec.points()]
    assert [c.simulation.seed for c in configs] == [7, 8, 9, 7, 8, 9]
    assert [c.network.g for c in configs] == [-4.0] * 3 + [-5.0] * 3


def test_pathway_and_indegree_axes_set_the_configuration(pd14_table):
    spec = build(SMALL.replace(network={"pathways": {"L4E->L23E": {"psp": 2.0}}}),
                 vary=["L23E->L4I.probability=1,0", "k_ext.L6E=1500,2000"])
    last = spec.config(spec.points()[-1])
    assert last.network.pathways == {"L4E->L23E": {"probability": 1.0, "psp": 2.0},
                                     "L23E->L4I": {"probability": 0.0, "psp": 1.0}}
    assert last.network.k_ext == {"L6E": 2000}


def test_draws_are_pd14_fig7c_reproducible_from_the_base_seed_and_trial(pd14_table):
    spec = build(SMALL, trials=3, draw=["k_ext=pd14_random"])
    drawn = [spec.config(p, pd14_table).network.k_ext for p in spec.points()]
    assert spec.dims == ("trial",)
    assert drawn == [variations.random_k_ext(pd14_table, SMALL.simulation.seed, t) for t in range(3)]
    assert drawn[0] != drawn[1]  # a draw differs between trials
    other = build(SMALL.replace(simulation={"seed": 56}), trials=3, draw=["k_ext=pd14_random"])
    assert other.config(other.points()[0], pd14_table).network.k_ext != drawn[0]
    found = plan(spec)
    assert found.draws["k_ext"][0].tolist() == [[d[p] for p in found.populations] for d in drawn]


def test_a_sweep_file_gives_base_configuration_and_axes(tmp_path):
    path = tmp_path / "fig8.toml"
    path.write_text("""
[network]
n_scaling = 0.05
k_scaling = 0.05
[simulation]
t_sim = 300.0
[sweep]
seeds = 2
[sweep.vary]
g = "-8:-4:3"
network.bg_rate = [8, 10]
"L23E->L4I" = { probability = [1.0, 0.0] }
[sweep.paired.state]
"k_ext.L6E" = [1800, 2000]
C_m = [250, 260]
""")
    spec = load(path)
    assert spec.base.network.n_scaling == 0.05 and spec.base.simulation.t_sim == 300.0
    assert spec.dims == ("g", "bg_rate", "L23E->L4I_probability", "state", "seed")
    assert spec.shape == (3, 2, 2, 2, 2)
    assert spec.text == path.read_text()


def test_the_stored_sweep_toml_runs_the_same_points(tmp_path):
    """sweep_toml (stored in sweep.nc) is a sweep file: read back, it gives the same spec (canonical JSON)."""
    spec = build(SMALL, vary=["g=-8:-4:3", "L23E->L4I.probability=1,0", "k_ext.L6E=1800,2000", "C_m=250,260"], seeds=2)
    path = tmp_path / "again.toml"
    path.write_text(sweep_toml(spec))
    assert load(path).canonical() == spec.canonical()
    drawn = build(SMALL, vary=["g=-4,-5", "bg_rate=8,9"], paired=True, trials=2, draw=["k_ext=pd14_random"])
    path.write_text(sweep_toml(drawn))
    assert load(path).canonical() == drawn.canonical()
    assert Spec.from_canonical(drawn.canonical()).canonical() == drawn.canonical()
    assert "sweep" in tomllib.loads(sweep_toml(drawn))


def test_results_record_points_and_round_trip_through_netcdf(tmp_path):
    spec = build(SMALL, vary=["g=-4,-5"], seeds=2)
    pops = ["A", "B"]
    results = Results(spec, pops, {"sweep_spec": spec.canonical()})
    p = spec.points()[1]
    results.record(p, {"status": STATUS_OK, "populations": pops, "rate": [1.0, 2.0], "cv": [0.9, 1.0],
                       "synchrony": [1.5, 2.0], "ai": [1.0, 0.0], "predicted_rate": [1.1, 2.2], "ainess": 50.0,
                       "wall_time": 3.0, "peak_memory": 300.0})
    results.record(spec.points()[2], {"status": "timeout", "occupied_s": 9.0})
    results.write(tmp_path / "sweep.nc")
    ds = xr.load_dataset(tmp_path / "sweep.nc")  # loaded and closed: HDF5 must not see the file open twice
    assert ds.rate.sel(g=-4, seed=56).values.tolist() == [1.0, 2.0]
    assert ds.status.values.tolist() == [[STATUS_PENDING, STATUS_OK], ["timeout", STATUS_PENDING]]
    assert float(ds.wall_time.sel(g=-5, seed=55)) == 9.0 and np.isnan(ds.rate.sel(g=-5, seed=55)).all()
    assert ds.attrs["points_ok"] == 1 and ds.attrs["points_failed"] == 1 and ds.attrs["points_pending"] == 2
    again = Results(spec, pops, {"sweep_spec": spec.canonical()})
    again.load(tmp_path / "sweep.nc")
    assert [again.done(q) for q in spec.points()] == [False, True, True, False]
    assert [again.done(q, retry_failed=True) for q in spec.points()] == [False, True, False, False]
    other = build(SMALL, vary=["g=-4,-6"], seeds=2)
    with pytest.raises(ConfigError, match=r"holds another sweep \(axes: .*-5\.0.* in the file, .*-6\.0.* now\)"):
        Results(other, pops, {"sweep_spec": other.canonical()}).load(tmp_path / "sweep.nc")
    longer = build(SMALL.replace(simulation={"t_sim": 300.0}), vary=["g=-4,-5"], seeds=2)
    with pytest.raises(ConfigError, match=r"\(base configuration simulation\.t_sim: 200\.0 in the file, 300\.0 now\)"):
        Results(longer, pops, {"sweep_spec": longer.canonical()}).load(tmp_path / "sweep.nc")


def test_a_resumed_sweep_keeps_the_command_that_started_it(tmp_path):
    spec = build(SMALL, vary=["g=-4,-5"])
    Results(spec, ["L23E"], {"sweep_spec": spec.canonical(), "command": "sweep --vary g=-4,-5"}).write(tmp_path / "s.nc")
    for n, command in enumerate(["sweep --resume", "sweep --resume --workers 2"], 1):
        again = Results(spec, ["L23E"], {"sweep_spec": spec.canonical(), "command": command})
        again.load(tmp_path / "s.nc")
        again.write(tmp_path / "s.nc")
        attrs = xr.load_dataset(tmp_path / "s.nc").attrs
        assert attrs["command"] == "sweep --vary g=-4,-5"
        assert attrs["later_commands"].splitlines() == ["sweep --resume", "sweep --resume --workers 2"][:n]


# ----------------------------------------------------------------------------------------------
# the command line: points, and bad input


def invoke(argv, capsys):
    return invoke_main(sweep_cmd, argv, capsys)


def test_print_points_lists_every_point_with_its_memory(capsys, tmp_path):
    code, out, _ = invoke(["--scale", "0.05", "--vary", "g=-8:-4:3", "--vary", "bg_rate=6,8", "--seeds", "2",
                           "--print-points", "-o", str(tmp_path / "s")], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("# 12 points (g 3 x bg_rate 2 x seed 2)")
    assert lines[1].split() == ["point", "g", "bg_rate", "seed", "memory", "MB"]
    assert lines[2].split()[:4] == ["p00000", "-8", "6", "55"] and lines[-1].split()[:4] == ["p00011", "-4", "8", "56"]
    assert not (tmp_path / "s").exists()


def test_run_options_that_set_other_keys_than_the_axes_are_the_base(capsys, tmp_path):
    """--seed is the first of --seeds N; a population's in-degree and another population's axis go together."""
    code, out, err = invoke(["--scale", "0.05", "--seed", "10", "--seeds", "2", "--print-points",
                             "-o", str(tmp_path / "s")], capsys)
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["10", "11"]
    code, out, err = invoke(["--scale", "0.05", "--k-ext", "L6E=2000", "--pathway", "L23E->L4I:psp=2",
                             "--vary", "k_ext.L5E=1000,2000", "--vary", "L23E->L4I.probability=1,0.5",
                             "--print-points", "-o", str(tmp_path / "s")], capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith("# 4 points")


BAD = [
    (["--vary", "gg=1,2"], ["unknown key 'gg'", "did you mean g"]),
    (["--vary", "g"], ["--vary 'g'", "KEY=V1,V2"]),
    (["--vary", "g="], ["network.g: no values"]),
    (["--vary", "g=-4,,-5"], ["empty value"]),
    (["--vary", "g=-8:-4:0"], ["range '-8:-4:0' is empty", "N must be a whole number >= 1"]),
    (["--vary", "g=a:b:3"], ["range 'a:b:3' is not numeric"]),
    (["--vary", "g=-5:-3:1"], ["range '-5:-3:1' has one value but two ends", "N = 1 needs START = STOP"]),
    (["--vary", "g=-4,strong"], ["value 'strong' is not allowed", "a number or 'table'"]),
    (["--vary", "seed=1.5,2"], ["value '1.5' is not allowed", "whole number"]),
    (["--vary", "g=-4,-4"], ["given twice"]),
    (["--vary", "g=1,-4"], ["point p00000 (g=1)", "must be 'table'", "a number <= 0"]),
    (["--vary", "g=-4,-5", "--vary", "network.g=-6"], ["network.g: two axes set the same key"]),
    (["--vary", "seed=1,2", "--seeds", "3"], ["simulation.seed: two axes set the same key"]),
    (["--vary", "k_ext=table,layer_independent", "--vary", "k_ext.L6E=1,2"], ["two axes set the same key"]),
    (["--trials", "3", "--draw", "k_ext=pd14_random", "--vary", "k_ext.L6E=1,2"], ["drawn by a rule"]),
    # a run option and an axis (or draw) on the same key: one of the two would silently win
    (["--g", "-4", "--vary", "g=-4,-5"], ["--g -4 and the axis g both set network.g", "give one of them"]),
    (["--seed", "10", "--vary", "seed=1,2"], ["--seed 10 and the axis seed both set simulation.seed"]),
    (["--scale", "0.05", "--vary", "network.k_scaling=0.05,0.1"], ["--scale 0.05 and the axis k_scaling"]),
    (["--k-ext", "L6E=2000", "--vary", "k_ext=table,layer_independent"], ["--k-ext L6E=2000 and the axis k_ext"]),
    (["--k-ext", "L6E=2000", "--vary", "k_ext.L6E=1000,1500"], ["--k-ext L6E=2000 and the axis k_ext_L6E"]),
    (["--pathway", "L23E->L4I:probability=0", "--vary", "L23E->L4I.probability=1,0.5"],
     ["--pathway 'L23E->L4I:probability=0' and the axis", "network.pathways.L23E->L4I.probability"]),
    (["--k-ext", "table", "--trials", "2", "--draw", "k_ext=pd14_random"], ["the draw rule network.k_ext=pd14_random"]),
    (["--trials", "3"], ["need a draw rule"]),
    (["--draw", "k_ext=pd14_random"], ["a draw rule needs trials"]),
    (["--trials", "2", "--draw", "k_ext=uniform"], ["unknown rule 'uniform'"]),
    (["--vary", "L23E->L9I.probability=1,0"], ["unknown population 'L9I'", "L23E, L23I"]),
    (["--vary", "k_ext.L7E=1000,2000"], ["unknown population 'L7E'"]),
    (["--vary", "L23E->L4I=1,0"], ["name the factor of the pathway", "probability, psp"]),
    (["--vary", "L23E->L4I.probability=1,500"], ["probability factor 500", "below 1"]),
    (["--vary", "record=true,false"], ["simulation.record cannot vary"]),
    (["--vary", "g=-4,-5", "--paired"], ["--paired pairs two or more"]),
    (["--vary", "g=-4,-5", "--vary", "bg_rate=8,9,10", "--paired"], ["same number of values", "2 for network.g"]),
    (["--scale", "1", "--seeds", "16", "--workers", "16"],  # 16 x 14 GB: more than any machine CI runs on
     ["16 workers x", "GB are available", "--skip-memory-check"]),
    (["--vary", "g=-4,-5", "--workers", "0"], ["--workers 0 is not allowed", ">= 1"]),
    (["--vary", "g=-4,-5", "--timeout", "0"], ["--timeout 0.0 is not allowed", "> 0"]),
    (["--vary", "g=-4,-5", "--retry-failed"], ["--retry-failed", "with --resume"]),
    (["--vary", "g=-4,-5", "--resume", "--overwrite"], ["give one"]),
    ([], ["nothing varies"]),
]


@pytest.mark.parametrize("argv, fragments", BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2_before_anything_runs(argv, fragments, capsys, tmp_path):
    out = tmp_path / "sweep"
    code, _, err = invoke(["--scale", "0.05", *argv, "-o", str(out)] if "--scale" not in argv else
                          [*argv, "-o", str(out)], capsys)
    assert code == 2, err
    assert len(err) == 1 and "Traceback" not in err[0], err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    assert not out.exists()  # nothing written


def test_an_existing_sweep_is_not_overwritten_and_resume_needs_the_same_sweep(capsys, tmp_path):
    spec = build(SMALL, vary=["g=-4,-5"])
    out = tmp_path / "sweep"
    out.mkdir()
    Results(spec, ["L23E"], {"sweep_spec": spec.canonical()}).write(out / "sweep.nc")
    before = (out / "sweep.nc").read_bytes()
    args = ["--scale", "0.05", "--t-presim", "100", "--t-sim", "200", "-o", str(out)]
    code, _, err = invoke([*args, "--vary", "g=-4,-5"], capsys)
    assert code == 2 and "exists: continue that sweep with --resume" in err[0] and len(err) == 1
    code, _, err = invoke([*args, "--vary", "g=-4,-6", "--resume"], capsys)
    assert code == 2 and "holds another sweep" in err[0] and len(err) == 1
    code, _, err = invoke(["--resume", "--g", "-5", "-o", str(out)], capsys)
    assert code == 2 and "give no run options" in err[0]
    assert (out / "sweep.nc").read_bytes() == before


def test_progress_bar_counts_points_done_and_failed(caplog):
    import io

    from microcircuit.sweep.engine import PointProgress

    spec = build(SMALL, vary=["g=-4,-5,-6"])
    points = spec.points()
    stream = io.StringIO()
    bar = PointProgress(3, stream=stream, force_tty=True)
    bar(points[0], {"status": "ok", "ainess": 75.0, "wall_time": 2.0, "peak_memory": 300.0})
    bar(points[1], {"status": "timeout"})
    text = stream.getvalue()
    assert "2/3 points" in text and "1 failed" in text
    assert "p00001 g=-5: timeout" in text  # a failure is printed above the bar
    bar.close()
    caplog.set_level("INFO", logger="microcircuit")
    lines = PointProgress(3, stream=io.StringIO(), force_tty=False)  # no terminal: one log line per point
    lines(points[0], {"status": "ok", "ainess": 75.0, "wall_time": 2.0, "peak_memory": 300.0})
    assert "[1/3] p00000 g=-4: ok, AIness 75 %, 2.0 s, 300 MB" in caplog.text
