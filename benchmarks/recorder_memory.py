"""Memory per neuron connected to a spike recorder, by the synapse model of the connection.

NEST 3.10 keeps, for every neuron with an outgoing connection of a synapse model, a connector of that
model whose first block holds 1 024 connections; a neuron connected to the spike recorder therefore
costs about 1 024 times the size of one connection, whatever its number of spikes. The run connects
its neurons to the recorder with the weightless ``static_synapse_hom_w`` (24-byte connections) or,
with the compact synapse, ``static_synapse_hom_w_hpc`` (8 bytes)
(``microcircuit.parameters.RECORDER_SYNAPSE_MODELS``); ``microcircuit.resources.BYTES_PER_RECORDED_NEURON``
holds the measured cost, and docs/benchmarks.md ("Memory") quotes it.

Measured here with NEST alone (no microcircuit code): ``--neurons`` ``iaf_psc_exp`` neurons on
``--threads`` threads, the first N of them connected to one spike recorder, 1 ms simulated; the peak
resident memory (``VmHWM``) of the process is read at the end. Every (synapse model, N) is a fresh
process, since ``VmHWM`` only grows. The cost per recorded neuron is the slope of the peak between the
smallest and the largest N (the neurons' own memory is the same in all runs and cancels)::

    python benchmarks/recorder_memory.py
    python benchmarks/recorder_memory.py --neurons 40000 --recorded 10000 20000 30000 --threads 2

``one MODEL N`` measures one such process and prints its JSON record (what the first command runs).
kB = 1000 bytes, MB = 2**20 bytes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

MODELS = ["static_synapse_hom_w", "static_synapse_hom_w_hpc", "static_synapse", "static_synapse_hpc"]


def _kb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return float("nan")


def one(model: str, recorded: int, neurons: int, threads: int) -> dict:
    """One process: ``neurons`` neurons, the first ``recorded`` connected to a spike recorder by ``model``."""
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(local_num_threads=threads, print_time=False)
    pop = nest.Create("iaf_psc_exp", neurons)
    recorder = nest.Create("spike_recorder", params={"record_to": "memory"})
    if recorded:
        nest.Connect(pop[:recorded], recorder, syn_spec={"synapse_model": model})
    nest.Simulate(1.0)
    return {"model": model, "recorded": recorded, "neurons": neurons, "threads": threads,
            "connections": int(nest.num_connections), "peak_kib": _kb("VmHWM")}


def _fresh(model: str, recorded: int, neurons: int, threads: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "one", model, str(recorded), "--neurons", str(neurons),
                          "--threads", str(threads)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("mode", nargs="?", choices=["all", "one"], default="all")
    p.add_argument("model", nargs="?", choices=MODELS, help="with 'one': the synapse model")
    p.add_argument("n", nargs="?", type=int, help="with 'one': neurons connected to the recorder")
    p.add_argument("--neurons", type=int, default=40_000)
    p.add_argument("--recorded", type=int, nargs="+", default=[10_000, 20_000, 30_000])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    args = p.parse_args(argv)
    if args.mode == "one":
        if args.model is None or args.n is None:
            p.error("'one' needs MODEL and N")
        print(json.dumps(one(args.model, args.n, args.neurons, args.threads)))
        return 0
    if max(args.recorded) > args.neurons or len(set(args.recorded)) < 2:
        p.error("--recorded needs two or more different counts, none above --neurons")
    recorded = sorted(set(args.recorded))
    print(f"{args.neurons} iaf_psc_exp neurons, {args.threads} threads, 1 ms simulated; peak resident memory "
          f"(VmHWM, MB) of a fresh process with N of them connected to one spike recorder")
    print(f"{'synapse model':26} " + " ".join(f"{'N=' + str(n):>9}" for n in recorded)
          + f" {'slope kB/neuron':>16} {'KiB/neuron':>11}")
    for model in args.models:
        records = [_fresh(model, n, args.neurons, args.threads) for n in recorded]
        for r, n in zip(records, recorded):
            if r["connections"] != n:
                raise RuntimeError(f"{model}: {r['connections']} connections, expected {n}")
        peaks = [r["peak_kib"] * 1024 for r in records]  # bytes
        slope = (peaks[-1] - peaks[0]) / (recorded[-1] - recorded[0])
        print(f"{model:26} " + " ".join(f"{b / 2**20:9.1f}" for b in peaks)
              + f" {slope / 1e3:16.1f} {slope / 1024:11.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
