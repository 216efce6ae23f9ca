"""Which part of a run makes resident memory grow with model time (docs/benchmarks.md, "Memory of long runs").

Each mode prints the anonymous resident memory (RssAnon: the process's own data) at chunks 200, 600,
1000 and 1400 and the growth from chunk 200 on (or, for ``writer`` and ``small-nest``, every 1000
chunks):

``simulate``: ``microcircuit.simulate`` in this process (any options of ``python -m microcircuit.run``;
``--no-record``: no spike recorder and no file)::

    python benchmarks/memory_sources.py simulate --scale 0.05 --t-sim 14000 --chunk 10 --threads 1 --t-presim 100 --no-record

``nest``: the network ``network.build`` makes, without its spike recorder, then only NEST:
``nest.Prepare()`` and 1 400 calls of ``nest.Run(chunk)``; prints how often NEST resized its spike
buffer::

    python benchmarks/memory_sources.py nest --scale 0.05 --threads 1 --neuron builtin --chunk 10

``--spike-buffer-shrink-limit X`` (``simulate`` and ``nest``) replaces the run's setting of NEST's
kernel parameter (``network.SPIKE_BUFFER_SHRINK_LIMIT``, 0); NEST's default is 0.2, with which its
log of buffer resizes grows with model time.

``small-nest``: 200 ``iaf_psc_exp`` driven by a Poisson generator, recorded; 6 000 ``nest.Simulate(100)``
with the recorder read and emptied after each, as the run loop does.

``writer``: the spike writer alone, 6 000 chunks of 2 100 random spikes of 7 717 neurons.
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import microcircuit as mc
from microcircuit import network
from microcircuit.commands import common

MARKS = (200, 600, 1000, 1400)


def anon_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def report(what: str, marks: dict[int, float]) -> None:
    first, last = min(marks), max(marks)
    print(what, {k: round(v, 1) for k, v in marks.items()},
          f"growth {marks[last] - marks[first]:+.1f} MB over {last - first} chunks")


def config_from(argv: list[str]) -> tuple[mc.Config, bool]:
    p = common.ArgumentParser(prog="python benchmarks/memory_sources.py MODE")
    common.add_run_options(p)
    p.add_argument("--no-record", action="store_true", help="simulate: no spike recorder, no file")
    p.add_argument("--spike-buffer-shrink-limit", type=float, metavar="X",
                   help=f"NEST's kernel parameter (the run's: {network.SPIKE_BUFFER_SHRINK_LIMIT}; NEST's default: 0.2)")
    args = p.parse_args(argv)
    if args.spike_buffer_shrink_limit is not None:
        network.SPIKE_BUFFER_SHRINK_LIMIT = args.spike_buffer_shrink_limit
    config, _ = common.config_from_args(args)
    return config, args.no_record


def simulate(argv: list[str]) -> None:
    config, no_record = config_from(argv)
    if no_record:
        config = dataclasses.replace(config, simulation=dataclasses.replace(config.simulation, record=False))
    marks, count = {}, [0]

    def progress(phase, done, total):
        if phase == "simulate":
            count[0] += 1
            if count[0] in MARKS:
                marks[count[0]] = anon_mb()

    with tempfile.TemporaryDirectory(prefix="memory-sources-") as tmp:
        mc.simulate(config, output_dir=tmp, progress=progress)
    report("simulate " + " ".join(argv), marks)


def nest_only(argv: list[str]) -> None:
    config, _ = config_from(argv)
    config = dataclasses.replace(config, simulation=dataclasses.replace(config.simulation, record=False))
    net = network.build(config, mc.derive(config, mc.load_table(config.network.connectivity)))
    import nest

    marks = {}
    nest.Prepare()
    for i in range(1, max(MARKS) + 1):
        nest.Run(config.simulation.chunk)
        if i in MARKS:
            marks[i] = anon_mb()
    resizes = len(nest.GetKernelStatus("spike_buffer_resize_log")["times"])
    nest.Cleanup()
    del net
    report("nest " + " ".join(argv), marks)
    print(f"NEST resized its spike buffer {resizes} times")


def small_nest() -> None:
    from microcircuit.network import _clear_events, reset_kernel

    nest = reset_kernel()
    nest.set(local_num_threads=1, print_time=False)
    neurons = nest.Create("iaf_psc_exp", 200)
    generator = nest.Create("poisson_generator", params={"rate": 20000.0})
    nest.Connect(generator, neurons, syn_spec={"weight": 40.0})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    marks = {}
    for i in range(1, 6001):
        nest.Simulate(100.0)
        np.asarray(recorder.events["times"])
        _clear_events(recorder)
        if i % 1000 == 0:
            marks[i] = anon_mb()
    report("small-nest", marks)


def writer() -> None:
    from microcircuit.output import SpikeWriter

    rng = np.random.default_rng(0)
    neurons = np.arange(1, 7718)
    marks = {}
    with tempfile.TemporaryDirectory(prefix="memory-sources-") as tmp:
        w = SpikeWriter(Path(tmp) / "spikes.nc", neurons, np.array(["L23E"] * neurons.size), {})
        for i in range(1, 6001):
            k = 2100
            w.append(rng.integers(1, 7718, k), np.sort(rng.uniform((i - 1) * 100, i * 100, k)).round(1), i * 100.0)
            if i % 1000 == 0:
                marks[i] = anon_mb()
        w.close()
    report("writer", marks)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("simulate", "nest", "small-nest", "writer"):
        print(__doc__)
        return 2
    common.setup(quiet=True)
    t0 = time.perf_counter()
    {"simulate": lambda: simulate(argv[1:]), "nest": lambda: nest_only(argv[1:]),
     "small-nest": small_nest, "writer": writer}[argv[0]]()
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
