"""NEST's ``keep_source_table = False``: what it frees, when, and why the run cannot use it.

During construction NEST keeps every connection's source (8 bytes) in a table; ``Prepare`` builds
the presynaptic infrastructure from it, which sets the peak memory of a run (docs/benchmarks.md,
"Memory"). With ``keep_source_table = False`` NEST drops the table at the end of ``Prepare``: after
the peak. The memory could only be reused by connecting something afterwards, and the run's spike
recorder would be that something; but connecting after ``Prepare`` with the table dropped breaks the
next ``Simulate`` in NEST 3.10. Two measurements, with NEST alone (no microcircuit code), of a random
network of ``iaf_psc_exp`` neurons with ``--indegree`` ``static_synapse`` inputs each, on ``--threads``
threads, every case in a fresh process:

``free``: the peak resident memory (``VmHWM``), the C heap in use after ``Prepare``/``Cleanup``
(glibc's ``mallinfo2``) and the resident memory after that and glibc's ``malloc_trim`` (``VmRSS``),
with the table kept and dropped. The difference of the heap per connection is what dropping the
table frees (8 bytes expected: 2.4·10⁹ bytes for the 2.99·10⁸ connections of the full-scale network);
the resident memory falls by less, because the table's blocks lie between the connections' blocks
and glibc can return only whole free pages. The peaks are equal: the table is dropped after the peak.
The scale does not matter for this per-connection number, so a small network shows it::

    python benchmarks/keep_source_table.py free --neurons 20000 --indegree 200

``reuse``: build, ``Prepare``/``Cleanup``, then connect all neurons to a spike recorder and
``Simulate(100 ms)``, as a run would, in a child process given ``--timeout`` seconds; with the table
kept (the control, which returns) and dropped (``--tries`` times, since the outcome varies). Prints
whether ``Simulate`` returned, did not return within the time (the child is then killed), or the child
died from a signal::

    python benchmarks/keep_source_table.py reuse --neurons 20000 --indegree 200 --timeout 60 --tries 5
    python benchmarks/keep_source_table.py reuse --neurons 2000 --indegree 20 --timeout 60 --tries 5

Without a mode both run with the defaults (20 000 neurons, 200 inputs each, 2 threads, 60 s, 3 tries).
MB = 2**20 bytes.
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import subprocess
import sys
import time


def _kb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return float("nan")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _heap_in_use() -> float:
    """Bytes the C heap has handed out and not taken back (glibc's ``mallinfo2``, all arenas, mmapped chunks
    included): what the program uses, whether or not the freed pages went back to the system."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return float(info.uordblks + info.hblkhd)


def _build(neurons: int, indegree: int, threads: int, keep: bool):
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(local_num_threads=threads, keep_source_table=keep, print_time=False, rng_seed=1)
    pop = nest.Create("iaf_psc_exp", neurons, params={"I_e": 500.0})  # above rheobase: every neuron fires
    nest.Connect(pop, pop, {"rule": "fixed_indegree", "indegree": indegree},
                 {"synapse_model": "static_synapse", "weight": 1.0, "delay": 1.5})
    return nest, pop


def child_free(neurons: int, indegree: int, threads: int, keep: bool) -> dict:
    nest, _ = _build(neurons, indegree, threads, keep)
    connected = _kb("VmRSS")
    nest.Prepare()
    nest.Cleanup()
    heap = _heap_in_use()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.malloc_trim(0)  # hand whole free pages back, so that VmRSS shows what glibc can return
    return {"keep": keep, "connections": int(nest.num_connections), "connected_kib": connected,
            "prepared_kib": _kb("VmRSS"), "peak_kib": _kb("VmHWM"), "heap_bytes": heap}


def child_reuse(neurons: int, indegree: int, threads: int, keep: bool) -> None:
    nest, pop = _build(neurons, indegree, threads, keep)
    nest.Prepare()
    nest.Cleanup()
    recorder = nest.Create("spike_recorder", params={"record_to": "memory"})
    nest.Connect(pop, recorder)
    print("connected", flush=True)
    t0 = time.perf_counter()
    nest.Simulate(100.0)
    print(json.dumps({"simulate_s": time.perf_counter() - t0, "spikes": int(recorder.n_events)}), flush=True)


def _child(args, mode: str, keep: bool) -> list[str]:
    return [sys.executable, __file__, f"child-{mode}", "--neurons", str(args.neurons), "--indegree",
            str(args.indegree), "--threads", str(args.threads), "--keep" if keep else "--drop"]


def free(args) -> None:
    records = {}
    for keep in (True, False):
        out = subprocess.run(_child(args, "free", keep), check=True, capture_output=True, text=True)
        records[keep] = json.loads(out.stdout.strip().splitlines()[-1])
    n = records[True]["connections"]
    print(f"{args.neurons} neurons, {n} connections, {args.threads} threads; resident memory (MB)")
    print(f"{'keep_source_table':18} {'after Connect':>14} {'peak':>8} {'after Prepare':>14} {'heap in use':>12}")
    for keep, r in records.items():
        print(f"{keep!s:18} {r['connected_kib'] / 1024:14.1f} {r['peak_kib'] / 1024:8.1f} "
              f"{r['prepared_kib'] / 1024:14.1f} {r['heap_bytes'] / 2**20:12.1f}")
    heap = records[True]["heap_bytes"] - records[False]["heap_bytes"]
    rss = (records[True]["prepared_kib"] - records[False]["prepared_kib"]) * 1024
    peak = (records[True]["peak_kib"] - records[False]["peak_kib"]) * 1024
    full = 298_880_968  # connections of the full-scale network
    print(f"dropping the table frees, after Prepare, {heap / n:.2f} bytes per connection of the heap "
          f"({heap / n * full / 1e9:.2f}·10⁹ bytes at full scale) and {rss / n:.2f} bytes per connection of "
          f"resident memory after malloc_trim ({rss / n * full / 1e9:.2f}·10⁹ bytes at full scale); "
          f"the peak differs by {peak / 2**20:+.1f} MB ({peak / n:+.2f} bytes per connection)")


def _reuse_once(args, keep: bool) -> str:
    """Run one 'reuse' child; say how it ended."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(_child(args, "reuse", keep), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return f"Simulate did not return within {args.timeout:g} s (child killed)"
    lines = out.strip().splitlines()
    if proc.returncode == 0:
        r = json.loads(lines[-1])
        return f"Simulate returned after {r['simulate_s']:.2f} s ({r['spikes']} spikes recorded)"
    where = "in Simulate" if "connected" in lines else "before Simulate"
    said = [line.strip() for line in err.strip().splitlines() if line.strip()]
    said = f"; last words: {said[-1][:160]!r}" if said else ""
    if proc.returncode < 0:
        return (f"the child died from signal {-proc.returncode} ({_signal_name(-proc.returncode)}) {where}, "
                f"{time.perf_counter() - t0:.1f} s after start{said}")
    return f"the child failed with exit status {proc.returncode} {where}{said}"


def reuse(args) -> None:
    print(f"{args.neurons} neurons, {args.neurons * args.indegree} connections, {args.threads} threads: Prepare, "
          f"Cleanup, connect every neuron to a spike recorder, Simulate(100 ms); {args.tries} tries with the table "
          f"dropped (the outcome varies from try to try)")
    print(f"  keep_source_table=True : {_reuse_once(args, True)}", flush=True)
    for i in range(args.tries):
        print(f"  keep_source_table=False, try {i + 1}: {_reuse_once(args, False)}", flush=True)


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("mode", nargs="?", choices=["all", "free", "reuse", "child-free", "child-reuse"], default="all")
    p.add_argument("--neurons", type=int, default=20_000)
    p.add_argument("--indegree", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds given to each 'reuse' child")
    p.add_argument("--tries", type=int, default=3, help="'reuse' children with the table dropped")
    keep = p.add_mutually_exclusive_group()
    keep.add_argument("--keep", dest="keep", action="store_true", default=True, help=argparse.SUPPRESS)
    keep.add_argument("--drop", dest="keep", action="store_false", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mode == "child-free":
        print(json.dumps(child_free(args.neurons, args.indegree, args.threads, args.keep)))
    elif args.mode == "child-reuse":
        child_reuse(args.neurons, args.indegree, args.threads, args.keep)
    else:
        if args.mode in ("all", "free"):
            free(args)
        if args.mode in ("all", "reuse"):
            reuse(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
