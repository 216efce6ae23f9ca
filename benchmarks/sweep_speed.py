"""The sweep's speed, and what a point costs beyond building and simulating its network.

Two measurements (docs/benchmarks.md, "Sweeps"; docs/sweeps.md), each alternating its two
variants over ``--rounds`` rounds (A B, B A, A B, ...; every variant a fresh command) and
printing mean ± sd of each, the ratio of the means with a 95 % bootstrap interval over the
rounds (``microcircuit.commands.benchmark.ratio_interval``) and the single rounds::

    python benchmarks/sweep_speed.py speed --rounds 4
    python benchmarks/sweep_speed.py overhead --rounds 3

``speed``: ``--points`` (8) points of scale ``--scale`` (0.05) with ``--t-sim`` (1000) ms after
the default 500 ms warm-up, as one ``python -m microcircuit.sweep --workers 2 --threads 1``
(``--sweep-workers``, ``--sweep-threads``; the points are seeds) against the same points run one after another with
``python -m microcircuit.run --threads 2 --no-plots`` (``--run-threads``; wall time of each whole command).

``overhead``: the same points in one sweep with one worker (``--threads``, default 1), worker processes
reused (the default) against a fresh process per point (``--fresh-workers``). Per point, the
time from handing it to a worker to getting its summary back, minus the network's construction
and simulation (the run's own timings): process start, imports and module load (fresh workers
only), writing the spike file, and the summary. Also the whole sweep's wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from microcircuit.commands.benchmark import ratio_interval

RUN_TIMES = re.compile(r"construction ([\d.]+) s, warm-up ([\d.]+) s, simulation ([\d.]+) s")


def mean_sd(x) -> str:
    x = np.asarray(x, float)
    return f"{x.mean():.2f} ± {x.std(ddof=1):.2f}" if x.size > 1 else f"{x.mean():.2f}"


def ratio_line(label: str, a, b) -> str:
    a, b = np.asarray(a, float), np.asarray(b, float)
    line = f"{label}: {mean_sd(a)} / {mean_sd(b)} = {a.mean() / b.mean():.3f}"
    if a.size > 1:
        lo, hi = ratio_interval(a, b)
        line += f"  [{lo:.3f}, {hi:.3f}]  (rounds: {', '.join(f'{r:.3f}' for r in a / b)})"
    return line


def seeds(args) -> list[int]:
    return [args.first_seed + i for i in range(args.points)]


def common_options(args) -> list[str]:
    return ["--scale", str(args.scale), "--t-sim", str(args.t_sim)]


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return elapsed, out.stderr


def sweep_command(args, folder: Path, workers: int, threads: int, extra=()) -> list[str]:
    return [sys.executable, "-m", "microcircuit.sweep", *common_options(args), "--threads", str(threads),
            "--workers", str(workers), "--seed", str(args.first_seed), "--seeds", str(args.points),
            "--output", str(folder), "--quiet", *extra]


def speed(args, env) -> None:
    records = {"sweep": [], "run": []}
    for i in range(args.rounds):
        order = ["sweep", "run"] if i % 2 == 0 else ["run", "sweep"]
        for variant in order:
            with tempfile.TemporaryDirectory(prefix="sweep-speed-") as tmp:
                if variant == "sweep":
                    t, _ = timed(sweep_command(args, Path(tmp) / "sweep", args.sweep_workers, args.sweep_threads), env)
                else:
                    t = 0.0
                    for seed in seeds(args):
                        dt, _ = timed([sys.executable, "-m", "microcircuit.run", *common_options(args),
                                       "--threads", str(args.run_threads),
                                       "--seed", str(seed), "--no-plots", "--quiet", "--output", f"{tmp}/{seed}"], env)
                        t += dt
            records[variant].append(t)
            print(f"round {i + 1} {variant:5}: {t:7.2f} s  (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\n{args.points} points, scale {args.scale}, {args.t_sim:g} ms after the warm-up, wall time (s):")
    print(ratio_line(f"sweep ({args.sweep_workers} worker{'s' if args.sweep_workers != 1 else ''} x "
                     f"{args.sweep_threads} thread{'s' if args.sweep_threads != 1 else ''}) / run one after another ({args.run_threads} thread"
                     f"{'s' if args.run_threads != 1 else ''})",
                     records["sweep"], records["run"]))
    _json(args, records)


def overhead(args, env) -> None:
    records = {"reused": [], "fresh": []}
    per_point = {"reused": [], "fresh": []}
    for i in range(args.rounds):
        order = ["reused", "fresh"] if i % 2 == 0 else ["fresh", "reused"]
        for variant in order:
            with tempfile.TemporaryDirectory(prefix="sweep-overhead-") as tmp:
                out = Path(tmp) / "outcomes.json"
                code = OVERHEAD_SCRIPT.format(args=sweep_api_args(args, Path(tmp) / "sweep", variant == "fresh"),
                                              out=str(out))
                t, _ = timed([sys.executable, "-c", code], env)
                outcomes = json.loads(out.read_text())
            extra = [o["dispatched_s"] - o["build_and_simulate_s"] for o in outcomes]
            records[variant].append(t)
            per_point[variant].append(float(np.mean(extra)))
            detail = "; ".join(f"{k} {np.mean([o[k] for o in outcomes]):.2f}" for k in
                               ("dispatched_s", "build_and_simulate_s", "write_s", "summary_s"))
            print(f"round {i + 1} {variant:6}: sweep {t:6.2f} s, per point beyond building and simulating "
                  f"{np.mean(extra):.2f} s (mean of {len(outcomes)}: {detail})  (load {os.getloadavg()[0]:.1f})",
                  flush=True)
    print(f"\n{args.points} points, scale {args.scale}, {args.t_sim:g} ms, 1 worker x {args.threads} threads:")
    print(ratio_line("per-point cost beyond building and simulating (s), fresh / reused", per_point["fresh"],
                     per_point["reused"]))
    print(ratio_line("whole sweep (s), fresh / reused", records["fresh"], records["reused"]))
    _json(args, {"wall": records, "per_point": per_point})


def sweep_api_args(args, folder: Path, fresh: bool) -> str:
    return json.dumps({"scale": args.scale, "t_sim": args.t_sim, "seed": args.first_seed, "points": args.points,
                       "folder": str(folder), "fresh": fresh, "threads": args.threads})


# one sweep through the Python API, recording every outcome's timings (run in a fresh interpreter)
OVERHEAD_SCRIPT = """
import json
from microcircuit import Config, sweep
a = json.loads({args!r})
base = Config().replace(network={{"n_scaling": a["scale"], "k_scaling": a["scale"]}},
                        simulation={{"t_sim": a["t_sim"], "seed": a["seed"], "threads": a["threads"]}})
spec = sweep.build(base, seeds=a["points"])
outcomes = []
def keep(point, o):
    t = o["timings"]
    build_sim = t["setup"] + t["create"] + t["connect"] + t["presim"] + t["sim"]
    outcomes.append({{"dispatched_s": o["dispatched_s"], "build_and_simulate_s": build_sim,
                      "write_s": t["run"] - build_sim, "summary_s": o["wall_time"] - t["run"]}})
sweep.run(spec, a["folder"], workers=1, fresh_workers=a["fresh"], progress=False, on_result=keep)
open({out!r}, "w").write(json.dumps(outcomes))
"""


def _json(args, data) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["speed", "overhead"])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--points", type=int, default=8)
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--t-sim", type=float, default=1000.0)
    p.add_argument("--first-seed", type=int, default=55)
    p.add_argument("--threads", type=int, default=1, help="threads per point of the overhead measurement (default 1)")
    p.add_argument("--run-threads", type=int, default=2,
                   help="threads of each python -m microcircuit.run of the speed measurement (default 2)")
    p.add_argument("--sweep-workers", type=int, default=2, help="workers of the sweep in the speed measurement (default 2)")
    p.add_argument("--sweep-threads", type=int, default=1,
                   help="threads per worker of the sweep in the speed measurement (default 1)")
    p.add_argument("--json", help="write the measured times to this file")
    args = p.parse_args()
    env = dict(os.environ, PYNEST_QUIET="1", MPLBACKEND="Agg")
    speed(args, env) if args.what == "speed" else overhead(args, env)


if __name__ == "__main__":
    main()
