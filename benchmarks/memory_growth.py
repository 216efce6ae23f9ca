"""Resident memory against model time, and across networks run one after another in one process.

Two measurements (docs/benchmarks.md, "Memory of long runs"), each printing a table:

``timeline``: one run (any options of ``python -m microcircuit.run``), the resident memory
(``VmRSS``, and its anonymous part ``RssAnon``: the process's own data, without the pages of mapped
files such as shared libraries, which the kernel may drop and re-read when memory is short) sampled
after every chunk; the rows give model time, spikes recorded up to then (from the spike file
afterwards) and memory. The summary gives the growth after the warm-up per million
recorded spikes, the peak of the simulation and the peak including the writing of the spike file,
and the run's memory estimate::

    python benchmarks/memory_growth.py timeline --scale 0.1 --poisson-source neuron --t-sim 120000 --seed 9

``sequence``: ``--runs N`` runs of the same network in one process (as a sweep worker or a test
session runs them), the memory after each::

    python benchmarks/memory_growth.py sequence --runs 20 --scale 0.05 --t-sim 1000

The spike files go to a temporary folder, removed at the end (``timeline --keep DIR`` keeps it in DIR).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

import microcircuit as mc
from microcircuit import resources
from microcircuit.commands import common


def vm_kb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return float("nan")


def rss_mb() -> float:
    return vm_kb("VmRSS") / 1024.0


def timeline(config: mc.Config, rows: int, keep: Path | None = None) -> None:
    samples = []  # (model time ms, wall s, rss MB, peak MB)
    t0 = time.perf_counter()

    def progress(phase, done, total):
        if phase == "simulate":
            samples.append((done, time.perf_counter() - t0, rss_mb(), vm_kb("VmHWM") / 1024.0,
                            vm_kb("RssAnon") / 1024.0, vm_kb("RssFile") / 1024.0))
            if len(samples) % 100 == 0:  # a running record on stderr, in case a long run is stopped
                s = samples[-1]
                print(f"model {s[0] / 1000:.1f} s, wall {s[1]:.0f} s: RSS {s[2]:.1f} MB, anonymous {s[4]:.1f} MB, "
                      f"peak {s[3]:.1f} MB", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="memory-growth-") as tmp:
        if keep is not None:
            tmp = str(keep)
        result = mc.simulate(config, output_dir=tmp, progress=progress)
        end_peak = vm_kb("VmHWM") / 1024.0
        with xr.open_dataset(Path(tmp) / "spikes.nc") as ds:
            spike_times = np.sort(ds["spike_time"].values)
    t = np.array([s[0] for s in samples])
    spikes = np.searchsorted(spike_times, t, side="right")
    rss = np.array([s[2] for s in samples])
    pick = np.unique(np.linspace(0, len(samples) - 1, rows).round().astype(int))
    anon = np.array([s[4] for s in samples])
    print(f"{'model time (s)':>14} {'wall (s)':>9} {'spikes':>12} {'RSS (MB)':>9} {'anonymous':>10} {'file':>7}")
    for i in pick:
        print(f"{t[i] / 1000:14.1f} {samples[i][1]:9.1f} {spikes[i]:12d} {rss[i]:9.1f} {anon[i]:10.1f} {samples[i][5]:7.1f}")
    warm = int(np.searchsorted(t, config.simulation.t_presim))
    warm = min(warm, len(t) - 1)
    grown = rss[-1] - rss[warm]
    recorded = spikes[-1] - spikes[warm]
    print(f"after the warm-up ({t[warm] / 1000:g} s): {rss[warm]:.1f} MB; at the end ({t[-1] / 1000:g} s): "
          f"{rss[-1]:.1f} MB; growth {grown:+.1f} MB over {recorded} spikes "
          f"({grown / max(recorded, 1) * 1e6:+.2f} MB per million spikes); "
          f"largest RSS after the warm-up {rss[warm:].max():.1f} MB")
    grown_anon = anon[-1] - anon[warm]
    print(f"anonymous memory (the process's own data, without mapped files such as libraries): "
          f"{anon[warm]:.1f} MB after the warm-up, {anon[-1]:.1f} MB at the end: {grown_anon:+.1f} MB "
          f"({grown_anon / max(recorded, 1) * 1e6:+.2f} MB per million spikes); largest {anon[warm:].max():.1f} MB")
    print(f"peak of the simulation {samples[-1][3]:.1f} MB; peak including the spike file {end_peak:.1f} MB; "
          f"estimated {result.estimated_mb:.1f} MB; {spike_times.size} spikes in the file")


def sequence(config: mc.Config, runs: int) -> None:
    print(f"{'run':>4} {'spikes':>9} {'RSS after (MB)':>15} {'peak so far (MB)':>17}")
    after = []
    with tempfile.TemporaryDirectory(prefix="memory-growth-") as tmp:
        for k in range(runs):
            result = mc.simulate(config, output_dir=Path(tmp) / f"run{k}")
            with xr.open_dataset(result.spikes_path) as ds:
                n = ds.sizes["spike"]
            (Path(tmp) / f"run{k}" / "spikes.nc").unlink()
            after.append(rss_mb())
            print(f"{k + 1:4d} {n:9d} {after[-1]:15.1f} {vm_kb('VmHWM') / 1024.0:17.1f}")
    print(f"RSS after run 2: {after[min(1, runs - 1)]:.1f} MB, after run {runs}: {after[-1]:.1f} MB "
          f"({after[-1] - after[min(1, runs - 1)]:+.1f} MB over {runs - 2} runs)")


def main(argv=None) -> int:
    p = common.ArgumentParser(prog="python benchmarks/memory_growth.py", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["timeline", "sequence"])
    p.add_argument("--runs", type=int, default=20, help="sequence: number of runs (default 20)")
    p.add_argument("--rows", type=int, default=13, help="timeline: rows of the table (default 13)")
    p.add_argument("--keep", type=Path, metavar="DIR", help="timeline: write the spike file into DIR and keep it "
                   "(default: a temporary folder)")
    common.add_run_options(p)
    args = p.parse_args(argv)
    common.setup(quiet=True)
    config, table = common.config_from_args(args)
    if table is not None:
        raise SystemExit("--from is not supported here")
    print(f"{' '.join(sys.argv)}\n{mc.derive(config, mc.load_table(config.network.connectivity)).n_neurons} neurons, "
          f"{config.simulation.threads} threads; available memory {resources.available_mb():.0f} MB")
    if args.what == "timeline":
        timeline(config, args.rows, args.keep)
    else:
        sequence(config, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
