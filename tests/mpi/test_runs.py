"""Runs on 2 MPI processes: the same spikes as one process with 2 threads, one file, no hangs.

NEST's guarantee: the same seed and the same number of virtual processes (ranks x threads)
give the same network and the same spikes, however they are split into processes and
threads. These tests check that it holds end to end (recording on every rank, merging into
one spikes.nc) and that a rank that fails or is signalled ends the whole job promptly.
Each test starts small MPI jobs (scale 0.05, 400 ms), a few seconds each.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import microcircuit as mc
from microcircuit.output import partial_path, spike_times_by_neuron

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
RUN = ["-m", "microcircuit.run"]
SMALL = ["--scale", "0.05", "--t-presim", "100", "--t-sim", "300", "--seed", "7", "--chunk", "50", "--no-plots"]
CASES = {
    "nestml": [],
    "builtin": ["--neuron", "builtin"],
    "nestml, Poisson drawn in the neuron": ["--poisson-source", "neuron"],
    "nestml, V_m recorded, thalamic pulses": ["--record-vm", "3", "--thalamic-pulses", "2", "--thalamic-start", "150",
                                              "--thalamic-interval", "100"],
}
# attributes allowed to differ between the 2 x 1 and the 1 x 2 run (config differs in its threads only)
DIFFERENT = ("date_created", "history", "wall_time_s", "mpi_processes", "threads", "config")
ERROR = "python -m microcircuit.run: error: "


def without_differences(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for key in DIFFERENT:
        ds.attrs.pop(key)
    return ds


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(ERROR)]


def truncated(ds: xr.Dataset, t: float) -> tuple[np.ndarray, np.ndarray]:
    """(spike_count, spike_time) of ``ds`` restricted to spikes at or before ``t``."""
    per_neuron = [times[times <= t] for times in spike_times_by_neuron(ds)]
    return np.array([len(x) for x in per_neuron]), np.concatenate(per_neuron)


@pytest.fixture(scope="module")
def runs(mpi, tmp_path_factory):
    """``runs(case)`` -> (2 ranks x 1 thread, 1 process x 2 threads, stderr of the 2-rank job); run once per case."""
    done = {}

    def get(case):
        if case not in done:
            base = tmp_path_factory.mktemp("identity")
            two = mpi.run(RUN + SMALL + CASES[case] + ["--threads", "1", "--output", str(base / "2x1")], n=2)
            assert two.returncode == 0, two.stderr
            one = mpi.run(RUN + SMALL + CASES[case] + ["--threads", "2", "--output", str(base / "1x2")])
            assert one.returncode == 0, one.stderr
            done[case] = (mc.load_spikes(base / "2x1" / "spikes.nc"), mc.load_spikes(base / "1x2" / "spikes.nc"),
                          two.stderr)
        return done[case]

    return get


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_give_the_spikes_of_one_process_with_two_threads(runs, case):
    two, one, _ = runs(case)
    assert two.sizes["spike"] > 500  # an active network: two empty files would match trivially
    if "V_m" in one:  # the V_m of neurons on both ranks, merged into one array
        assert two.sizes["vm_neuron"] == 24 and two.sizes["vm_time"] > 300
    xr.testing.assert_identical(without_differences(two), without_differences(one))
    assert (two.attrs["mpi_processes"], two.attrs["threads"], two.attrs["virtual_processes"]) == (2, 1, 2)
    assert (one.attrs["mpi_processes"], one.attrs["threads"], one.attrs["virtual_processes"]) == (1, 2, 2)
    config_two, config_one = json.loads(two.attrs["config"]), json.loads(one.attrs["config"])
    assert config_two["simulation"].pop("threads") == 1 and config_one["simulation"].pop("threads") == 2
    assert config_two == config_one
    # NEST counts each rank's connections; the file holds their total
    assert two.attrs["num_connections_nest"] == one.attrs["num_connections_nest"] > two.attrs["num_synapses"]


def test_only_rank_0_logs(runs):
    *_, stderr = runs("nestml")
    lines = stderr.splitlines()
    assert sum(line.startswith("wrote ") for line in lines) == 1
    assert sum(line.startswith("running on 2 MPI processes x 1 threads") for line in lines) == 1
    assert sum(line.startswith("simulating: 400 of 400 ms (100%)") for line in lines) == 1
    assert not any(line.startswith("rank ") for line in lines)


def run_watched(mpi, args, n, timeout=300):
    """Start an MPI job; return (exit status, stderr lines with the time each arrived, time it ended)."""
    proc = subprocess.Popen(mpi.command(args, n), env=mpi.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend((time.monotonic(), line) for line in proc.stderr))
    reader.start()
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # mpirun passes SIGTERM on to the ranks and kills them a second later
        proc.wait(timeout=60)
        raise AssertionError(f"the job hung: still running after {timeout} s") from None
    ended = time.monotonic()
    reader.join(timeout=60)
    return status, lines, ended


def test_a_failing_rank_ends_the_job_promptly(mpi, runs, tmp_path):
    """Rank 1 fails mid-run while rank 0 simulates: the job ends within seconds, with rank 1's message."""
    out = tmp_path / "run"
    status, lines, ended = run_watched(
        mpi, [str(HERE / "inject.py"), "raise", "1", *SMALL, "--threads", "1", "--output", str(out)], n=2)
    assert status == 1
    errors = [(t, line.rstrip()) for t, line in lines if line.startswith(ERROR)]
    assert [line for _, line in errors] == [ERROR + "rank 1 of 2: OSError: injected write error"]
    assert ended - errors[0][0] < 30.0  # ended by MPI_Abort, not by waiting
    assert not (out / "spikes.nc").exists()
    assert partial_path(out / "spikes.nc", 0, 2).exists() and partial_path(out / "spikes.nc", 1, 2).exists()

    # the unfinished data of both ranks are merged by --recover, in one process without MPI
    rec = subprocess.run([sys.executable, "-m", "microcircuit.run", "--recover", "--output", str(out)],
                         capture_output=True, text=True)
    assert rec.returncode == 0, rec.stderr
    ds = mc.load_spikes(out / "spikes.nc")
    t = float(ds.attrs["t_simulated"])
    assert ds.attrs["status"] == f"incomplete: recovered from unfinished run data of 2 processes at t = {t:g} ms"
    assert 200.0 <= t < 400.0
    counts, times = truncated(runs("nestml")[0], t)  # what the complete 2-rank run had up to t
    np.testing.assert_array_equal(ds["spike_count"].values, counts)
    np.testing.assert_array_equal(ds["spike_time"].values, times)


def test_a_signal_to_one_rank_stops_all_ranks_after_the_same_chunk(mpi, runs, tmp_path):
    out = tmp_path / "run"
    result = mpi.run([str(HERE / "inject.py"), "signal", "1", *SMALL, "--threads", "1", "--output", str(out)], n=2,
                     timeout=300)
    assert result.returncode == 143, result.stderr
    ds = mc.load_spikes(out / "spikes.nc")
    t = float(ds.attrs["t_simulated"])
    assert ds.attrs["status"] == f"incomplete: interrupted by SIGTERM at t = {t:g} ms"
    assert 200.0 <= t < 400.0
    counts, times = truncated(runs("nestml")[0], t)
    np.testing.assert_array_equal(ds["spike_count"].values, counts)
    np.testing.assert_array_equal(ds["spike_time"].values, times)
    assert not list(out.glob(".spikes.nc.partial*"))


def test_an_input_error_on_one_rank_is_reported_once(mpi, tmp_path):
    """Rank 1 alone meets an input error before NEST is touched: both ranks exit 2, one message."""
    out = tmp_path / "run"
    result = mpi.run([str(HERE / "inject.py"), "config", "1", *SMALL, "--threads", "1", "--output", str(out)], n=2,
                     timeout=300)
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [ERROR + "injected input error (on rank 1 of 2)"]
    assert not out.exists()


def test_bad_input_is_reported_once(mpi, tmp_path):
    result = mpi.run(RUN + SMALL + ["--scale", "2", "--output", str(tmp_path / "o")], n=2, timeout=300)
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [ERROR + "--scale 2 is not allowed; must be in (0, 1]"]


def test_benchmark_reports_every_rank(mpi, tmp_path):
    """Under mpirun the benchmark measures the job: per-rank memory, totals over ranks."""
    bench = ["-m", "microcircuit.benchmark", "--scale", "0.05", "--t-presim", "50", "--t-sim", "200",
             "--background", "poisson", "--seed", "7"]
    two = mpi.run(bench + ["--threads", "1", "--json", str(tmp_path / "2x1.json")], n=2)
    assert two.returncode == 0, two.stderr
    one = mpi.run(bench + ["--threads", "2", "--json", str(tmp_path / "1x2.json")])
    assert one.returncode == 0, one.stderr
    (r2,), (r1,) = json.loads((tmp_path / "2x1.json").read_text()), json.loads((tmp_path / "1x2.json").read_text())
    assert (r2["mpi_processes"], r2["threads"], r2["virtual_processes"]) == (2, 1, 2)
    assert (r1["mpi_processes"], r1["threads"], r1["virtual_processes"]) == (1, 2, 2)
    assert len(r2["peak_rss_mb_per_rank"]) == 2 and min(r2["peak_rss_mb_per_rank"]) > 100
    assert r2["peak_rss_mb"] == max(r2["peak_rss_mb_per_rank"])
    assert r2["peak_rss_mb_sum"] == pytest.approx(sum(r2["peak_rss_mb_per_rank"]))
    # totals over ranks: the same network and the same spikes as one process with 2 threads
    assert r2["num_connections"] == r1["num_connections"]
    assert r2["num_spikes"] == r1["num_spikes"] > 0
    assert two.stdout.count("peak RSS MB per rank: ") == 1
