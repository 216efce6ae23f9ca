"""``python -m microcircuit.run``: build and simulate the microcircuit, write DIR/spikes.nc and figures."""
from __future__ import annotations

import logging
from pathlib import Path

from .. import parallel, theory
from ..errors import ConfigError
from ..output import SPIKES_FILE, recover
from ..progress import Progress
from ..simulation import RunResult, simulate
from . import common

log = logging.getLogger("microcircuit")

PROG = "python -m microcircuit.run"
DESCRIPTION = """\
Build and simulate the Potjans & Diesmann (2014) cortical microcircuit with NEST; write the spikes of
all neurons to DIR/spikes.nc (with the full configuration), print the mean rate of every population
next to the mean-field prediction, and save a raster plot and a box plot of the rates.

Defaults: scale 0.1 (7 717 neurons, 3.0e6 synapses), Poisson background, 500 ms warm-up + 1000 ms."""
EXAMPLES = [
    "python -m microcircuit.run                                  # the default network",
    "python -m microcircuit.run --scale 1 --background dc --output runs/full_dc",
    "python -m microcircuit.run --thalamic-pulses 10 --thalamic-interval 300 --t-sim 3500 --record-vm 5 --output runs/pulses",
    "python -m microcircuit.run --from output/spikes.nc --output runs/rerun     # repeat a stored run",
]


def parser() -> common.ArgumentParser:
    p = common.ArgumentParser(prog=PROG, description=DESCRIPTION, examples=EXAMPLES)
    groups = common.add_run_options(p)
    groups["simulation"].add_argument(
        "--skip-memory-check", action="store_true",
        help="build even when the estimated memory need exceeds the available memory")
    g = p.add_argument_group("output")
    g.add_argument("--output", "-o", type=Path, default=Path("output"), metavar="DIR",
                   help="folder for spikes.nc and the figures (default: output)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing DIR/spikes.nc")
    g.add_argument("--no-plots", action="store_true", help="do not save the raster and box plots")
    g.add_argument("--no-record", action="store_true", help="record nothing, write nothing (for timing)")
    g.add_argument("--recover", action="store_true",
                   help="write DIR/spikes.nc from the unfinished data of a killed run in --output DIR, and exit")
    common.add_message_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return common.run_command(PROG, parser(), _main, argv)


def _main(args) -> int:
    if args.recover:
        if parallel.launched():
            raise ConfigError("--recover merges the files of all ranks in one process: run it without mpirun/srun")
        try:
            path = recover(args.output / SPIKES_FILE)
        except (FileNotFoundError, FileExistsError, ValueError) as exc:
            raise ConfigError(f"--recover: {exc}") from exc
        log.info("wrote %s from the unfinished run data", path)
        return 0
    config, table = common.config_from_args(args)
    if args.no_record:
        config = config.replace(simulation={"record": False})
    if common.print_config(args, config, table):
        return 0
    progress = Progress(enabled=not args.quiet)
    try:
        result = simulate(config, output_dir=None if args.no_record else args.output, overwrite=args.overwrite,
                          table=table, progress=progress, check_memory=not args.skip_memory_check)
    finally:
        progress.close()
    _report(result)
    if result.spikes_path is not None and parallel.is_root():
        if not args.no_plots:
            from .. import plots  # imported here: matplotlib is only needed for the figures

            for path in plots.save_run_figures(result.spikes_path):
                log.info("wrote %s", path)
        log.info("wrote %s", result.spikes_path)
    if not result.complete:
        if parallel.is_root():  # all ranks stopped together; one says so
            if result.spikes_path is not None:
                log.error("run %s; %s holds the spikes up to there", result.status, result.spikes_path)
            else:
                log.error("run %s (nothing was recorded)", result.status)
        return 130 if "SIGINT" in result.status else 143
    return 0


def _report(result: RunResult) -> None:
    t = result.timings
    log.info("construction %.1f s, warm-up %.1f s, simulation %.1f s; peak memory %.0f MB (estimated %.0f MB)",
             t.construction, t.presim, t.sim, result.peak_rss_mb, result.estimated_mb)
    if result.mean_rates is None:
        return
    sim = result.config.simulation
    window = (sim.t_presim, min(result.t_reached, sim.t_presim + sim.t_sim))
    if result.prediction is not None:
        log.info("%s", theory.comparison_report(result.prediction, result.mean_rates, *window, config=result.config))
    else:
        log.info("mean rates (spikes/s) in [%g, %g] ms:", *window)
        for pop, rate in zip(result.mean_rates["population"].values, result.mean_rates.values):
            log.info("  %-6s %7.3f", pop, rate)
