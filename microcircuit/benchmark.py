"""``python -m microcircuit.benchmark``: construction time, real-time factor and memory.

Defaults follow the PD14 benchmarking recipe (Senk et al. 2026; MODEL_FACTS §7): full scale,
DC background, optimized initial potentials, 500 ms warm-up, 10 s model time, no recording.
Every run option of ``python -m microcircuit.run`` is accepted. Each measured run is a fresh
process (so peak memory and timings are its own); with ``--compare builtin`` the NESTML and
the built-in neuron alternate, ``--repeat`` times each, and the ratios are printed.

Under ``mpirun``/``srun`` the job itself is the measured run (one per job: an MPI process
cannot start fresh worker processes that join MPI): every rank measures itself, and rank 0
reports the peak memory of each rank, their maximum and their sum, and the slowest rank's times.

Examples::

    python -m microcircuit.benchmark --scale 0.1 --t-sim 1000 --json bench.json
    python -m microcircuit.benchmark --threads 2 --compare builtin --json full_dc.json
    mpirun -n 2 python -m microcircuit.benchmark --threads 1 --json full_dc_2x1.json
"""
from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import cli, parallel

log = logging.getLogger("microcircuit")

RECIPE = {"scale": 1.0, "background": "dc", "v0": "optimized", "t_presim": 500.0, "t_sim": 10_000.0}
KEYS = ("neuron", "scale", "threads", "mpi_processes", "background", "poisson_source", "t_setup_s", "t_create_s",
        "t_connect_s", "t_construct_s", "t_presim_s", "t_sim_s", "real_time_factor", "num_synapses",
        "num_connections", "num_spikes", "peak_rss_mb", "peak_rss_mb_sum", "peak_rss_mb_per_rank", "nest_memory_mb",
        "estimated_mb")


def parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m microcircuit.benchmark", description=__doc__.splitlines()[0])
    cli.add_run_options(p)
    p.set_defaults(**{k: v for k, v in RECIPE.items() if k != "scale"})
    p.add_argument("--compare", choices=["builtin"], help="also run NEST's built-in neuron, alternating")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="runs per neuron model (default 1)")
    p.add_argument("--json", type=Path, metavar="PATH", help="write one JSON record per run to PATH (a list)")
    p.add_argument("--skip-memory-check", action="store_true", help="run even when memory looks insufficient")
    p.add_argument("--memory-calibration", type=float, nargs="+", metavar="SCALE",
                   help="measure peak memory of short runs at these scales (no recording) and print rows for "
                        "microcircuit.resources.CALIBRATION")
    p.add_argument("--worker", help=__import__("argparse").SUPPRESS)  # internal: one measured run
    return p


def measure(config, check_memory: bool = True) -> dict | None:
    """Build and simulate ``config`` in this process without recording; return the measurements.

    On several MPI processes (collective: every rank calls it) each rank measures itself and
    rank 0 returns the record of the job (None on the other ranks): times of the slowest rank,
    peak memory per rank (``peak_rss_mb_per_rank``), its maximum (``peak_rss_mb``) and sum
    (``peak_rss_mb_sum``), NEST's memory summed over ranks, spikes summed over ranks.
    """
    import dataclasses

    from . import network, resources, simulation

    config = dataclasses.replace(config, simulation=dataclasses.replace(
        config.simulation, record=False, chunk=max(config.simulation.t_presim, config.simulation.t_sim)))
    result = simulation.run(config, output_dir=None, check_memory=check_memory)
    t = result.timings
    mine = {"timings": {k: t.get(k, 0.0) for k in ("setup", "create", "connect", "presim", "sim")},
            "num_spikes": network.local_spike_count(), "peak_rss_mb": resources.peak_rss_mb(),
            "nest_memory_mb": network.kernel_info()["memory_size_mb"]}
    ranks = parallel.gather(mine)
    if ranks is None:
        return None
    t = {k: max(r["timings"][k] for r in ranks) for k in mine["timings"]}  # the slowest rank sets the pace
    rss = [r["peak_rss_mb"] for r in ranks]
    nest_mb = [r["nest_memory_mb"] for r in ranks]
    sim = config.simulation
    construct = t["setup"] + t["create"] + t["connect"]
    return {
        "neuron": config.network.neuron_model,
        "scale": config.network.n_scaling if config.network.n_scaling == config.network.k_scaling
        else [config.network.n_scaling, config.network.k_scaling],
        "threads": sim.threads,
        "mpi_processes": len(ranks),
        "background": config.network.background,
        "poisson_source": config.network.poisson_source if config.network.background == "poisson" else None,
        "t_setup_s": t["setup"],
        "t_create_s": t["create"],
        "t_connect_s": t["connect"],
        "t_construct_s": construct,
        "t_presim_s": t["presim"],
        "t_sim_s": t["sim"],
        "real_time_factor": t["sim"] / (sim.t_sim / 1000.0),
        "num_synapses": result.derived.n_synapses,
        "num_neurons": result.derived.n_neurons,
        "num_connections": result.kernel["num_connections"],
        "num_spikes": sum(r["num_spikes"] for r in ranks),
        "peak_rss_mb": max(rss),
        "peak_rss_mb_sum": sum(rss),
        "peak_rss_mb_per_rank": rss,
        "nest_memory_mb": None if None in nest_mb else sum(nest_mb),
        "estimated_mb": result.estimated_mb,
        "t_presim_ms": sim.t_presim,
        "t_sim_ms": sim.t_sim,
        "seed": sim.seed,
        "virtual_processes": result.kernel["virtual_processes"],
        "nest_version": result.kernel["nest_version"],
        "microcircuit_version": simulation.package_version(),
        "host": platform.node(),
        "cpu": _cpu_name(),
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _run_worker(config_dict: dict, check_memory: bool) -> dict:
    cmd = [sys.executable, "-m", "microcircuit.benchmark", "--worker", json.dumps(config_dict)]
    if not check_memory:
        cmd.append("--skip-memory-check")
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise cli.ConfigError(f"benchmark run failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(records: list[dict]) -> str:
    """One row per run; ``peak RSS MB`` is per process (the largest rank's), ``sum`` over all ranks."""
    head = (f"{'neuron':8} {'scale':>5} {'procs':>5} {'thr':>3} {'background':>10} {'construct s':>11} {'sim s':>8} "
            f"{'RTF':>7} {'spikes':>10} {'peak RSS MB':>11} {'sum MB':>8} {'NEST MB':>8}")
    rows = [head]
    for r in records:
        bg = r["background"] + ("/neuron" if r.get("poisson_source") == "neuron" else "")
        nest_mb = r["nest_memory_mb"] if r["nest_memory_mb"] is not None else float("nan")
        rows.append(f"{r['neuron']:8} {r['scale']!s:>5} {r.get('mpi_processes', 1):>5} {r['threads']:>3} {bg:>10} "
                    f"{r['t_construct_s']:>11.1f} {r['t_sim_s']:>8.1f} {r['real_time_factor']:>7.2f} "
                    f"{r['num_spikes']:>10} {r['peak_rss_mb']:>11.0f} {r.get('peak_rss_mb_sum', r['peak_rss_mb']):>8.0f} "
                    f"{nest_mb:>8.0f}")
        if r.get("mpi_processes", 1) > 1:
            rows.append("    peak RSS MB per rank: " + ", ".join(f"{x:.0f}" for x in r["peak_rss_mb_per_rank"]))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cli.setup_logging(args.quiet or bool(args.worker))
    return cli.main_wrapper("python -m microcircuit.benchmark", lambda: _main(args), args.debug)


def _main(args) -> int:
    from .parameters import Config

    if args.worker:
        record = measure(Config.from_dict(json.loads(args.worker)), check_memory=not args.skip_memory_check)
        print(json.dumps(record))
        return 0
    if args.scale is None and args.n_scale is None and args.k_scale is None:
        args.scale = RECIPE["scale"]
    config, _ = cli.config_from_args(args)
    if args.print_config:
        if parallel.is_root():
            sys.stdout.write(cli.to_toml(config))
        return 0
    if parallel.launched():
        return _measure_this_job(args, config)
    if args.memory_calibration:
        return _memory_calibration(config, args.memory_calibration)
    if args.repeat < 1:
        raise cli.ConfigError(f"--repeat {args.repeat} is not allowed; must be >= 1")
    variants = [config]
    if args.compare == "builtin":
        if config.network.neuron_model == "builtin":
            raise cli.ConfigError("--compare builtin needs --neuron nestml (the default)")
        builtin_net = __import__("dataclasses").replace(config.network, neuron_model="builtin",
                                                         poisson_source="generator")
        variants.append(config.replace(network=builtin_net))
    records = []
    for i in range(args.repeat):
        for variant in variants:  # alternate, so that slow drifts of the machine hit both alike
            log.info("run %d/%d: %s neuron ...", i + 1, args.repeat, variant.network.neuron_model)
            records.append(_run_worker(variant.to_dict(), not args.skip_memory_check))
            log.info("  construction %.1f s, simulation %.1f s (real-time factor %.2f), peak RSS %.0f MB",
                     records[-1]["t_construct_s"], records[-1]["t_sim_s"], records[-1]["real_time_factor"],
                     records[-1]["peak_rss_mb"])
    print(_table(records))
    if args.compare == "builtin":
        print(_ratios(records))
    if args.json:
        args.json.write_text(json.dumps(records, indent=2))
        log.info("wrote %s", args.json)
    return 0


def _measure_this_job(args, config) -> int:
    """Under mpirun/srun: this job is the one measured run; rank 0 prints and writes the record."""
    if args.memory_calibration or args.compare or args.repeat != 1:
        raise cli.ConfigError("under mpirun/srun each job measures one run: drop --repeat, --compare and "
                              "--memory-calibration (start one job per run)")
    record = measure(config, check_memory=not args.skip_memory_check)
    if record is None:  # not rank 0
        return 0
    log.info("construction %.1f s, simulation %.1f s (real-time factor %.2f), peak RSS per rank %s MB",
             record["t_construct_s"], record["t_sim_s"], record["real_time_factor"],
             ", ".join(f"{x:.0f}" for x in record["peak_rss_mb_per_rank"]))
    print(_table([record]))
    if args.json:
        args.json.write_text(json.dumps([record], indent=2))
        log.info("wrote %s", args.json)
    return 0


def _memory_calibration(config, scales) -> int:
    import dataclasses

    print("# scale, synapses, neurons, peak RSS (MB)   | estimate (MB), error")
    for s in scales:
        net = dataclasses.replace(config.network, n_scaling=s, k_scaling=s)
        sim = dataclasses.replace(config.simulation, t_presim=100.0, t_sim=100.0)
        r = _run_worker(config.replace(network=net, simulation=sim).to_dict(), check_memory=False)
        err = (r["peak_rss_mb"] - r["estimated_mb"]) / r["estimated_mb"]
        print(f"({s}, {r['num_synapses']:_}, {r['num_neurons']:_}, {r['peak_rss_mb']:.1f}),"
              f"   # estimate {r['estimated_mb']:.1f}, error {100 * err:+.1f} %", flush=True)
    return 0


def _ratios(records: list[dict]) -> str:
    import statistics

    def mean(neuron, key):
        return statistics.mean(r[key] for r in records if r["neuron"] == neuron)

    lines = ["ratios NESTML / built-in (means over repeats):"]
    for key, label in (("t_construct_s", "construction time"), ("real_time_factor", "real-time factor"),
                       ("peak_rss_mb", "peak memory")):
        lines.append(f"  {label:18} {mean('nestml', key) / mean('builtin', key):.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
