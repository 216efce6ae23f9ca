"""Sweeps end to end: the same results wherever the points run, the run command's spikes, resume, failures.

One small sweep (scale 0.05, 100 ms warm-up + 200 ms, 1 thread; g = -4 and -3.5 times seeds 55
and 56: four points) runs three times, on 1 local worker (the command line, spike files kept),
on 2 local workers and on a real 2-worker ``dask.distributed.LocalCluster``; the tests compare
the three result files and check one point against ``python -m microcircuit.run``. Nothing here
asserts timing (docs/benchmarks.md measures speed).
"""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
import pytest
import xarray as xr

from microcircuit import analysis
from microcircuit.errors import options_named
from microcircuit.output import load_spikes
from microcircuit.sweep import run
from microcircuit.sweep.results import TIMING_VARIABLES

pytestmark = pytest.mark.slow

sweep_cmd = importlib.import_module("microcircuit.commands.sweep")

RUN_OPTIONS = ["--scale", "0.05", "--t-presim", "100", "--t-sim", "200", "--threads", "1"]
SWEEP = [*RUN_OPTIONS, "--vary", "g=-4,-3.5", "--seeds", "2"]
SUMMARY = ["rate", "cv", "synchrony", "ai", "predicted_rate", "ainess", "status"]
CHILD = "microcircuit.sweep.child"


def sweep_command(*args) -> list[str]:
    return [sys.executable, "-m", "microcircuit.sweep", *args]


def the_spec():
    with options_named({}):  # the flags it registers for messages are forgotten (also in module-scoped fixtures)
        return sweep_cmd.spec_from_args(sweep_cmd.parser().parse_args([*SWEEP, "-o", "unused"]))


def results_only(ds: xr.Dataset) -> xr.Dataset:
    """What must not depend on where and when the points ran: the summaries, statuses, coordinates and the spec."""
    out = ds[SUMMARY].load()
    out.attrs = {"sweep_spec": ds.attrs["sweep_spec"]}
    return out


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep1") / "sweep"
    done = subprocess.run(sweep_command(*SWEEP, "--keep-spikes", "--output", str(out)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep2") / "sweep"
    return run(the_spec(), out, workers=2, progress=False)


@pytest.fixture(scope="module")
def on_dask(tmp_path_factory):
    from distributed import Client, LocalCluster

    out = tmp_path_factory.mktemp("sweep_dask") / "sweep"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return run(the_spec(), out, client=client, progress=False).load()


def test_one_worker_two_workers_and_dask_give_the_same_sweep(one_worker, two_workers, on_dask):
    ds = xr.load_dataset(one_worker / "sweep.nc")
    assert ds.status.values.ravel().tolist() == ["ok"] * 4
    # not a vacuous comparison: the network fires, and seeds and g change the result
    assert (ds.rate > 0).mean() > 0.9
    assert not np.allclose(ds.rate.sel(seed=55), ds.rate.sel(seed=56))
    assert float(ds.rate.sel(g=-3.5).mean()) > float(ds.rate.sel(g=-4).mean())  # weaker inhibition, more activity
    assert np.isfinite(ds.predicted_rate).all() and np.isfinite(ds.wall_time).all() and (ds.peak_memory > 100).all()
    xr.testing.assert_identical(results_only(two_workers), results_only(ds))
    xr.testing.assert_identical(results_only(on_dask), results_only(ds))
    # the spike files are kept only where asked
    assert ds.spike_file.values.ravel().tolist() == [f"points/p{i:05d}/spikes.nc" for i in range(4)]
    assert (two_workers.spike_file == "").all()


def test_a_point_has_the_spikes_of_the_run_command(one_worker, tmp_path):
    """p00003 (g = -3.5, seed 56) ran fourth in its worker (after three other networks in the same NEST process)."""
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "microcircuit.run", *RUN_OPTIONS, "--g", "-3.5", "--seed", "56",
                           "--no-plots", "--quiet", "--output", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    alone = load_spikes(out / "spikes.nc", vm=False)
    point = load_spikes(one_worker / "points" / "p00003" / "spikes.nc", vm=False)
    assert alone.sizes["spike"] > 1000
    for name in ("spike_time", "spike_neuron", "spike_count"):
        np.testing.assert_array_equal(point[name].values, alone[name].values)
    assert point.attrs["config"] == alone.attrs["config"]
    # the summary is PD14's measures of that file in the run's own window
    ds = xr.load_dataset(one_worker / "sweep.nc")
    regime = analysis.ainess(alone, *analysis.window(alone))
    np.testing.assert_array_equal(ds.rate.sel(g=-3.5, seed=56).values, regime["rate"].values)
    np.testing.assert_array_equal(ds.synchrony.sel(g=-3.5, seed=56).values, regime["synchrony"].values)
    assert float(ds.ainess.sel(g=-3.5, seed=56)) == float(regime["ainess"])


def test_plain_xarray_reads_and_plots_the_sweep(one_worker):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = xr.open_dataset(one_worker / "sweep.nc")
    assert dict(ds.sizes) == {"g": 2, "seed": 2, "population": 8}
    assert ds.g.values.tolist() == [-4.0, -3.5] and ds.seed.values.tolist() == [55, 56]
    assert ds.population.values.tolist() == ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    mesh = ds.rate.sel(g=-4).plot()
    assert mesh.get_array().size == 16
    plt.close("all")
    lines = ds.rate.sel(population="L4E").plot.line(x="g")
    assert len(lines) == 2
    plt.close("all")
    ds.close()


def test_points_run_elsewhere_are_collected_into_the_same_sweep(one_worker, tmp_path, capsys):
    """--write-configs writes each point's configuration; --collect summarises spike files of points run
    elsewhere (here: the kept files of the 1-worker sweep) into the same sweep.nc as the sweep's own."""
    import shutil
    import tomllib

    from microcircuit.parameters import Config

    out = tmp_path / "elsewhere"
    assert sweep_cmd.main([*SWEEP, "--output", str(out), "--write-configs"]) == 0
    spec = the_spec()
    for point in spec.points():
        with open(out / "points" / point.name / "config.toml", "rb") as fh:
            assert Config.from_dict(tomllib.load(fh)) == spec.config(point)
    for i in (0, 1, 3):  # p00002 did not run (yet)
        shutil.copy(one_worker / "points" / f"p{i:05d}" / "spikes.nc", out / "points" / f"p{i:05d}" / "spikes.nc")
    assert sweep_cmd.main([*SWEEP, "--output", str(out), "--collect"]) == 0
    collected = xr.load_dataset(out / "sweep.nc")
    assert collected.status.values.ravel().tolist() == ["ok", "ok", "pending", "ok"]
    shutil.copy(one_worker / "points" / "p00002" / "spikes.nc", out / "points" / "p00002" / "spikes.nc")
    assert sweep_cmd.main([*SWEEP, "--output", str(out), "--collect"]) == 0
    collected = xr.load_dataset(out / "sweep.nc")
    xr.testing.assert_identical(results_only(collected), results_only(xr.load_dataset(one_worker / "sweep.nc")))
    assert "running the other" not in capsys.readouterr().err  # nothing was simulated


def _ok_points(path) -> int:
    try:
        with xr.open_dataset(path) as ds:
            return int((ds.status.values == "ok").sum())
    except (OSError, ValueError, KeyError):
        return 0


def test_resume_after_a_killed_sweep_runs_exactly_the_missing_points(one_worker, tmp_path):
    out = tmp_path / "sweep"
    proc = subprocess.Popen(sweep_command(*SWEEP, "--output", str(out), "--quiet"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _ok_points(out / "sweep.nc") < 1:
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before it could be killed"
        time.sleep(0.1)
    workers = [c for c in psutil.Process(proc.pid).children() if CHILD in " ".join(c.cmdline())]
    proc.kill()  # SIGKILL: no chance to clean up
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "the killed sweep's workers went on"
    before = xr.load_dataset(out / "sweep.nc")
    done = before.status.values == "ok"
    pending = int((before.status.values == "pending").sum())
    assert done.sum() >= 1 and pending >= 1 and done.sum() + pending == 4

    resumed = subprocess.run(sweep_command("--resume", "--output", str(out)), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{4 - pending} of 4 points have a result; running the other {pending}" in resumed.stderr
    after = xr.load_dataset(out / "sweep.nc")
    assert (after.status == "ok").all()
    # the points done before the kill were not run again ...
    np.testing.assert_array_equal(after.finished.values[done], before.finished.values[done])
    assert (after.finished.values[~done] > before.finished.values[done].max()).all()
    # ... and the sweep is the one that ran without interruption
    xr.testing.assert_identical(results_only(after), results_only(xr.load_dataset(one_worker / "sweep.nc")))


def test_a_failing_point_is_recorded_and_the_others_run(tmp_path):
    """Four points on one worker: its process is killed (as the out-of-memory killer would), the next point
    fails inside the worker, the third times out, and the fourth still runs."""
    out = tmp_path / "sweep"
    (out / "points").mkdir(parents=True)
    (out / "points" / "p00001").write_text("a file where the point's spike folder goes")
    i = RUN_OPTIONS.index("--t-sim")
    base = RUN_OPTIONS[:i] + RUN_OPTIONS[i + 2:]  # the axis sets t_sim (--t-sim as well would be refused)
    args = sweep_cmd.parser().parse_args([*base, "--vary", "t_sim=200,300,200000,400", "-o", "unused"])
    spec = sweep_cmd.spec_from_args(args)
    killed = []

    def kill_the_first_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = [c for c in psutil.Process().children() if CHILD in " ".join(c.cmdline())]
            if workers:
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_worker)
    killer.start()
    ds = run(spec, out, workers=1, timeout=8.0, keep_spikes=True, progress=False)
    killer.join()
    assert killed
    status = ds.status.values.tolist()
    assert status[0] == "out of memory"
    assert status[1].startswith("failed: ") and "p00001 is not a folder" in status[1] and "\n" not in status[1]
    assert status[2] == "timeout" and float(ds.wall_time[2]) >= 8.0
    assert status[3] == "ok" and (ds.rate[3] > 0).sum() >= 6
    assert np.isnan(ds.rate[:3]).all()
    assert ds.attrs["points_failed"] == 3 and ds.attrs["points_ok"] == 1
    # the worker's own account of the failure (its traceback) is in the sweep's worker log
    worker_log = (out / "workers.log").read_text()
    assert "point p00001: failed: " in worker_log and "Traceback" in worker_log
