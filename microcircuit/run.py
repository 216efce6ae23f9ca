"""``python -m microcircuit.run``: build and simulate the microcircuit, write DIR/spikes.nc.

Examples::

    python -m microcircuit.run                               # scale 0.1, Poisson background, 1.5 s
    python -m microcircuit.run --scale 1 --background dc --threads 2 --output full
    python -m microcircuit.run --from output/spikes.nc --output rerun   # repeat a stored run
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from . import cli, parallel
from .progress import Progress

log = logging.getLogger("microcircuit")


def parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m microcircuit.run", description=__doc__.splitlines()[0])
    cli.add_run_options(p)
    p.add_argument("--output", "-o", type=Path, default=Path("output"), metavar="DIR",
                   help="folder for spikes.nc and figures (default ./output)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR/spikes.nc")
    p.add_argument("--no-record", action="store_true", help="record nothing, write nothing (for timing)")
    p.add_argument("--no-plots", action="store_true", help="do not save raster and box plots")
    p.add_argument("--skip-memory-check", action="store_true",
                   help="build even when the estimated memory need exceeds the available memory")
    p.add_argument("--recover", action="store_true",
                   help="write DIR/spikes.nc from the unfinished data of a killed run in --output DIR, and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cli.setup_logging(args.quiet)
    return cli.main_wrapper("python -m microcircuit.run", lambda: _main(args), args.debug)


def _main(args) -> int:
    from . import simulation

    if args.recover:
        from .output import SPIKES_FILE, recover

        if parallel.launched():
            raise cli.ConfigError("--recover merges the files of all ranks in one process: run it without mpirun/srun")
        try:
            path = recover(args.output / SPIKES_FILE)
        except (FileNotFoundError, FileExistsError, ValueError) as exc:
            raise cli.ConfigError(f"--recover: {exc}") from None
        log.info("wrote %s from the unfinished run data", path)
        return 0
    config, table = cli.config_from_args(args)
    if args.no_record:
        config = cli.with_section(config, "simulation", record=False)
    if args.print_config:
        if parallel.is_root():
            sys.stdout.write(cli.to_toml(config))
        return 0
    progress = Progress(enabled=not args.quiet)
    try:
        result = simulation.run(config, output_dir=None if args.no_record else args.output,
                                overwrite=args.overwrite, table=table, progress=progress,
                                check_memory=not args.skip_memory_check)
    finally:
        progress.close()
    t = result.timings
    log.info("construction %.1f s, warm-up %.1f s, simulation %.1f s; peak memory %.0f MB (estimated %.0f MB)",
             t.get("setup", 0) + t.get("create", 0) + t.get("connect", 0), t.get("presim", 0), t.get("sim", 0),
             result.peak_rss_mb, result.estimated_mb)
    if result.mean_rates is not None:
        sim = config.simulation
        window = (sim.t_presim, min(result.t_reached, sim.t_presim + sim.t_sim))
        if result.prediction is not None:
            from .theory import format_comparison

            log.info("mean rates (spikes/s) in [%g, %g] ms, simulated and predicted by mean-field theory:", *window)
            log.info("%s", format_comparison(result.prediction, result.mean_rates))
        else:
            log.info("mean rates (spikes/s) in [%g, %g] ms:", *window)
            for pop, rate in zip(result.mean_rates["population"].values, result.mean_rates.values):
                log.info("  %-6s %7.3f", pop, rate)
    if result.spikes_path is not None and parallel.is_root():
        if not args.no_plots:
            _save_plots(result)
        log.info("wrote %s", result.spikes_path)
    if not result.complete:
        if parallel.is_root():  # all ranks stopped together; one says so
            log.error("run %s; %s holds the spikes up to there", result.status, result.spikes_path)
        return 130 if "SIGINT" in result.status else 143
    return 0


def _save_plots(result) -> None:
    from . import plots

    for path in plots.save_run_figures(result.spikes_path):
        log.info("wrote %s", path)


if __name__ == "__main__":
    sys.exit(main())
