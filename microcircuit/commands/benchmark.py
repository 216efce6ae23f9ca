"""``python -m microcircuit.benchmark``: construction time, real-time factor and memory.

Defaults follow the PD14 benchmarking recipe (Senk et al. 2026; docs/benchmarks.md): full
scale, DC background, optimized initial potentials, 500 ms warm-up, 10 s model time, no
recording. Every measured run is a fresh process; under ``mpirun``/``srun`` the job itself is
the measured run.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .. import parallel
from ..errors import ConfigError
from ..measurement import measure, measure_in_fresh_process
from ..parameters import Config
from . import common

log = logging.getLogger("microcircuit")

PROG = "python -m microcircuit.benchmark"
RECIPE = Config().replace(network={"n_scaling": 1.0, "k_scaling": 1.0, "background": "dc", "v0": "optimized"},
                          simulation={"t_presim": 500.0, "t_sim": 10_000.0})
"""The benchmark's defaults: the PD14 benchmarking recipe."""
DESCRIPTION = """\
Measure the construction time, real-time factor (simulation wall-clock time per model time after the
warm-up), spikes and peak memory of a run without recording. The defaults follow the PD14 benchmark
recipe (Senk et al. 2026): full scale, DC background, optimized initial potentials, 500 ms warm-up,
10 s model time. Every run option of python -m microcircuit.run is accepted.

Each measured run is a fresh process; with --compare the two variants (NESTML or built-in neuron,
compact or standard synapse, with or without V_m) alternate (A B, B A, A B, ...), --repeat times
each, and mean ± sd of each and the ratio of the means with a bootstrap interval over the rounds are
printed. --ratios prints the same for two files of records, e.g. of two commits run alternately.
Under mpirun/srun the job itself is the measured run: rank 0 reports the peak memory of each rank, their maximum and sum."""
EXAMPLES = [
    "python -m microcircuit.benchmark --scale 0.1 --t-sim 1000 --json runs/bench.json",
    "python -m microcircuit.benchmark --threads 2 --compare builtin --repeat 4",
    "python -m microcircuit.benchmark --scale 0.5 --threads 2 --t-sim 2000 --compare static_synapse_hpc --repeat 6",
    "python -m microcircuit.benchmark --ratios runs/new.json runs/old.json",
    "python -m microcircuit.benchmark --scale 0.1 --background poisson --record --record-vm 10 --compare no-vm --repeat 6",
    "mpirun -n 2 python -m microcircuit.benchmark --threads 1 --json runs/full_dc_2x1.json",
]


def parser() -> common.ArgumentParser:
    p = common.ArgumentParser(prog=PROG, description=DESCRIPTION, examples=EXAMPLES)
    groups = common.add_run_options(p, defaults=RECIPE)
    groups["simulation"].add_argument("--skip-memory-check", action="store_true",
                                      help="run even when memory looks insufficient")
    g = p.add_argument_group("benchmark")
    g.add_argument("--compare", choices=list(COMPARISONS),
                   help="also run NEST's built-in neuron, or the compact (16-byte) static_synapse_hpc against "
                        "static_synapse, or the same run without --record-vm, alternating")
    g.add_argument("--ratios", type=Path, nargs=2, metavar=("FIRST", "SECOND"),
                   help="print the ratios of the runs in two --json files (rounds paired in order) and exit")
    g.add_argument("--record", action="store_true",
                   help="record and write what the run command does (spikes, V_m with --record-vm) to a temporary "
                        "folder, in chunks (default: record nothing, one chunk, as the recipe says)")
    g.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds; with --compare each round runs both variants (default 1; the ratio's "
                   "interval needs 2 rounds, a claim 6 or more)")
    g.add_argument("--json", type=Path, metavar="PATH", help="write one JSON record per run to PATH (a list)")
    g.add_argument("--memory-calibration", type=float, nargs="+", metavar="SCALE",
                   help="measure peak memory of short runs at these scales (no recording) and print rows for "
                        "microcircuit.resources.CALIBRATION")
    common.add_message_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return common.run_command(PROG, parser(), _main, argv)


def _main(args) -> int:
    if args.ratios:
        return _ratios_of_files(*args.ratios)
    config, _ = common.config_from_args(args, defaults=RECIPE)
    if common.print_config(args, config):
        return 0
    check_memory = not args.skip_memory_check
    if parallel.launched():
        return _measure_this_job(args, config, check_memory)
    if args.memory_calibration:
        return _memory_calibration(config, args.memory_calibration)
    if args.repeat < 1:
        raise ConfigError(f"--repeat {args.repeat} is not allowed; must be >= 1")
    variants = [config]
    if args.compare == "builtin":
        if config.network.neuron_model == "builtin":
            raise ConfigError("--compare builtin needs --neuron nestml (the default)")
        variants.append(config.replace(network={"neuron_model": "builtin", "poisson_source": "generator"}))
    if args.compare == "static_synapse_hpc":
        if config.network.synapse_model == "static_synapse_hpc":
            raise ConfigError("--compare static_synapse_hpc needs --synapse-model auto (the default) or static_synapse")
        variants = [config.replace(network={"synapse_model": "static_synapse_hpc"}),
                    config.replace(network={"synapse_model": "static_synapse"})]
    if args.compare == "no-vm":
        if not args.record or config.simulation.record_vm == 0:
            raise ConfigError("--compare no-vm needs --record and --record-vm N")
        variants.append(config.replace(simulation={"record_vm": 0}))
    records = []
    for i in range(args.repeat):
        # alternate, in the order A B, B A, A B, ...: a slow drift of the machine's speed hits both alike
        for variant in (variants if i % 2 == 0 else variants[::-1]):
            log.info("run %d/%d: %s neuron, %s%s ...", i + 1, args.repeat, variant.network.neuron_model,
                     variant.network.synapse_model,
                     f", V_m of {variant.simulation.record_vm} neurons per population" if args.record and
                     variant.simulation.record_vm else "")
            records.append(_fresh(variant, check_memory, args.record))
            log.info("  construction %.1f s, simulation %.1f s (real-time factor %.2f), peak RSS %.0f MB",
                     records[-1]["t_construct_s"], records[-1]["t_sim_s"], records[-1]["real_time_factor"],
                     records[-1]["peak_rss_mb"])
    print(format_records(records))
    if args.compare:
        first, second = COMPARISONS[args.compare][1:]
        print(format_ratios([r for r in records if first(r)], [r for r in records if second(r)],
                            COMPARISONS[args.compare][0].format(**records[0])))
    _write_json(args.json, records)
    return 0


def _fresh(config: Config, check_memory: bool, record: bool = False) -> dict:
    """One measured run in a new process, whose messages are quiet and name options as flags."""
    return measure_in_fresh_process(config, check_memory, record, initializer=common.setup_worker)


def _write_json(path: Path | None, records: list[dict]) -> None:
    if path:
        path.write_text(json.dumps(records, indent=2))
        log.info("wrote %s", path)


def _measure_this_job(args, config: Config, check_memory: bool) -> int:
    """Under mpirun/srun: this job is the one measured run; rank 0 prints and writes the record."""
    if args.memory_calibration or args.compare or args.repeat != 1 or args.record:
        raise ConfigError("under mpirun/srun each job measures one run without recording: drop --repeat, --compare, "
                          "--record and --memory-calibration (start one job per run)")
    record = measure(config, check_memory=check_memory)
    if record is None:  # not rank 0
        return 0
    log.info("construction %.1f s, simulation %.1f s (real-time factor %.2f), peak RSS per rank %s MB",
             record["t_construct_s"], record["t_sim_s"], record["real_time_factor"],
             ", ".join(f"{x:.0f}" for x in record["peak_rss_mb_per_rank"]))
    print(format_records([record]))
    _write_json(args.json, [record])
    return 0


def _memory_calibration(config: Config, scales: list[float]) -> int:
    print("# scale, synapses, neurons, peak RSS (MB)   | estimate (MB), error")
    for s in scales:
        variant = config.replace(network={"n_scaling": s, "k_scaling": s},
                                 simulation={"t_presim": 100.0, "t_sim": 100.0})
        r = _fresh(variant, check_memory=False)
        err = (r["peak_rss_mb"] - r["estimated_mb"]) / r["estimated_mb"]
        print(f"({s}, {r['num_synapses']:_}, {r['num_neurons']:_}, {r['peak_rss_mb']:.1f}),"
              f"   # estimate {r['estimated_mb']:.1f}, error {100 * err:+.1f} %", flush=True)
    return 0


def format_records(records: list[dict]) -> str:
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


# --compare: (what the ratio is, the first variant's records, the second's)
COMPARISONS = {
    "builtin": ("NESTML / built-in", lambda r: r["neuron"] == "nestml", lambda r: r["neuron"] == "builtin"),
    "static_synapse_hpc": ("static_synapse_hpc / static_synapse",
                       lambda r: r["nest_synapse_model"] == "static_synapse_hpc",
                       lambda r: r["nest_synapse_model"] == "static_synapse"),
    "no-vm": ("with / without recording V_m of {record_vm} neurons per population every {vm_interval_ms:g} ms",
              lambda r: r["record_vm"], lambda r: not r["record_vm"]),
}


def format_ratios(first: list[dict], second: list[dict], what: str) -> str:
    """Means over repeats of the first variant's records divided by those of the second's.

    Each line gives mean ± sd of both variants, the ratio of the means with a 95 % bootstrap interval
    over the alternating rounds (resampling whole rounds, so that slow and fast periods of the machine
    stay paired; the i-th records of both lists form a round), and the range of the single rounds' ratios.
    """
    lines = [f"{what}: mean ± sd of each, ratio of the means [95 % bootstrap interval over rounds] "
             "(range of the single rounds' ratios):"]
    keys = [("t_construct_s", "construction time"), ("real_time_factor", "real-time factor"),
            ("peak_rss_mb", "peak memory")]
    if "t_total_s" in first[0]:
        keys.append(("t_total_s", "whole run"))
    for key, label in keys:
        a, b = np.array([r[key] for r in first], float), np.array([r[key] for r in second], float)
        line = f"  {label:18} {_mean_sd(a)} / {_mean_sd(b)} = {a.mean() / b.mean():.3f}"
        if a.size > 1 and a.size == b.size:
            lo, hi = ratio_interval(a, b)
            pairs = a / b
            line += f"  [{lo:.3f}, {hi:.3f}]  ({pairs.min():.3f}-{pairs.max():.3f})"
        lines.append(line)
    return "\n".join(lines)


def _ratios_of_files(first: Path, second: Path) -> int:
    """``--ratios``: the records of two --json files and the ratios of their means."""
    try:
        a, b = (json.loads(Path(f).read_text()) for f in (first, second))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--ratios needs two files written by --json: {exc}") from exc
    if not a or not b:
        raise ConfigError("--ratios needs two files with at least one record each")
    print(format_records(a + b))
    print(format_ratios(a, b, f"{first} / {second}"))
    return 0


def _mean_sd(x: np.ndarray) -> str:
    m = x.mean()  # 4 significant digits ("5.000", "58.81"), whole numbers from 1000 on ("2158", "12121")
    mean = f"{m:.0f}" if abs(m) >= 1000 else f"{m:#.4g}"
    return f"{mean} ± {x.std(ddof=1):.2g}" if x.size > 1 else mean


def ratio_interval(a, b, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(a) / mean(b)`` for paired rounds ``(a[i], b[i])``.

    Rounds are resampled whole (Efron & Tibshirani 1993, ch. 13), which keeps the pairing of the
    alternating runs. With few rounds the interval is too narrow rather than too wide (3 rounds
    have only 10 distinct resamples); take it as a guide, not a test.

    >>> lo, hi = ratio_interval([1.0, 1.1, 0.9, 1.05], [1.0, 1.0, 0.95, 1.0])
    >>> bool(lo <= (1.0 + 1.1 + 0.9 + 1.05) / 3.95 <= hi)
    True
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    ratios = a[idx].mean(axis=1) / b[idx].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(ratios, tail)), float(np.percentile(ratios, 100 - tail))
