"""``python -m microcircuit.sweep``: run the microcircuit over a grid of parameters, summarise every point in DIR/sweep.nc."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import xarray as xr

from ..errors import ConfigError, options_named
from ..parameters import Config
from ..sweep import RESULT_FILE, Spec, build, check_fixed, collect, plan, read_file, run, write_configs
from ..plots.sweep_axes import figures_note
from ..sweep.results import irregularity_note
from . import common

log = logging.getLogger("microcircuit")

PROG = "python -m microcircuit.sweep"
DESCRIPTION = """\
Run the microcircuit at every point of a parameter grid and summarise each point as soon as it ends:
per population the rate, PD14's irregularity (cv) and synchrony, whether it is asynchronous-irregular
(ai), the mean-field prediction; per point the AIness, status, wall time and peak memory. All go to one
file, DIR/sweep.nc, which plain xarray reads (dimensions: the varied keys, seed/trial, population).
Every point is an ordinary run (the same spikes as python -m microcircuit.run with the same options);
its spike file is deleted unless --keep-spikes.

What varies comes from a sweep file (TOML: a base configuration, as --config reads it, plus a [sweep]
table) and/or --vary. KEY is a configuration key (network.g, simulation.seed,
network.pathways.L23E->L4I.probability, network.k_ext.L6E) or its short name (g, bg_rate, seed);
VALUES are V1,V2,... or START:STOP:N (N values, both ends included). Axes form a grid, or go together
with --paired. Every run option below sets the base configuration.

DIR/sweep.nc is rewritten after every point; --resume continues a killed or interrupted sweep. A point
that fails, times out (--timeout) or runs out of memory is recorded and the sweep goes on; the exit
status is then 1. At the end the sweep's figures go to DIR (sweep_rates.png over one parameter,
sweep_ainess.png and sweep_rate_maps.png over two, sweep_trials.png over trials; not with --no-plots);
python -m microcircuit.analyse DIR draws them again. See docs/sweeps.md."""
EXAMPLES = [
    "python -m microcircuit.sweep --scale 0.05 --t-sim 500 --vary g=-8:-4:5 --vary bg_rate=6,8 --seeds 2",
    "python -m microcircuit.sweep fig8.toml --workers 2 --threads 1 --output runs/fig8   # your sweep file "
    "(docs/sweeps.md shows one)",
    "python -m microcircuit.sweep --n-scale 0.1 --k-scale 1 --trials 100 --draw k_ext=pd14_random -o runs/fig7c",
    "python -m microcircuit.sweep --vary 'L23E->L4I.probability=1,0' --seeds 5 --keep-spikes -o runs/bos",
    "python -m microcircuit.sweep --resume --output runs/fig8     # continue a killed sweep",
    "python -m microcircuit.sweep fig8.toml --scheduler tcp://head:8786    # on a Dask cluster",
    "python -m microcircuit.sweep full.toml -o runs/full --write-configs   # points run as MPI jobs, then --collect",
]
# how messages name the sweep's own options
FLAGS = {"workers": "--workers", "timeout": "--timeout", "resume": "--resume", "scheduler": "--scheduler"}


def parser() -> common.ArgumentParser:
    p = common.ArgumentParser(prog=PROG, description=DESCRIPTION, examples=EXAMPLES)
    p.add_argument("sweep_file", nargs="?", type=Path, metavar="SWEEP_FILE",
                   help="TOML file: a base configuration and a [sweep] table (docs/sweeps.md)")
    g = p.add_argument_group("what varies")
    g.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                   help="an axis: KEY=V1,V2,... or KEY=START:STOP:N (inclusive); repeatable")
    g.add_argument("--paired", action="store_true",
                   help="the --vary keys go together (the i-th values of all form one point) instead of a grid")
    g.add_argument("--seeds", type=int, metavar="N", help="N seeds from the base seed on, as an axis 'seed'")
    g.add_argument("--trials", type=int, metavar="N", help="N trials of the --draw rule, as an axis 'trial'")
    g.add_argument("--draw", action="append", default=[], metavar="KEY=RULE",
                   help="draw KEY anew for every trial, reproducibly from the base seed: k_ext=pd14_random "
                        "(PD14 Fig. 7C: random external in-degrees)")
    g.add_argument("--print-points", action="store_true", help="list the points (and their memory estimates) and exit")
    common.add_run_options(p)
    g = p.add_argument_group("where the points run")
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine, each running one point at a time with --threads "
                        "threads (default 1)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on the Dask cluster of this scheduler (e.g. tcp://head:8786) instead")
    g.add_argument("--timeout", type=float, metavar="S", help="seconds a point may run before it is stopped and "
                                                              "recorded as 'timeout'")
    g.add_argument("--fresh-workers", action="store_true",
                   help="a new worker process for every point instead of reusing them (slower; docs/sweeps.md)")
    g.add_argument("--skip-memory-check", action="store_true",
                   help="run even when the points at once need more memory than is available")
    g = p.add_argument_group("output")
    g.add_argument("--output", "-o", type=Path, default=Path("sweep"), metavar="DIR",
                   help="folder of sweep.nc (default: sweep)")
    g.add_argument("--resume", action="store_true",
                   help="continue the sweep in DIR (the same sweep; without a sweep file or --vary, the one "
                        "stored in DIR/sweep.nc): points with a result are skipped")
    g.add_argument("--retry-failed", action="store_true", help="with --resume: run failed points again too")
    g.add_argument("--overwrite", action="store_true", help="start again although DIR/sweep.nc exists")
    g.add_argument("--keep-spikes", action="store_true", help="keep every point's spike file, in DIR/points/pNNNNN/")
    g.add_argument("--no-plots", action="store_true", help="do not write the sweep's figures (DIR/sweep_*.png)")
    g = p.add_argument_group("points run elsewhere (e.g. each an MPI job; docs/sweeps.md)")
    g.add_argument("--write-configs", action="store_true",
                   help="write every point's configuration to DIR/points/pNNNNN/config.toml and exit")
    g.add_argument("--collect", action="store_true",
                   help="summarise the spike files DIR/points/pNNNNN/spikes.nc of points run elsewhere into "
                        "DIR/sweep.nc, and exit")
    common.add_message_options(p, quiet="only warnings and errors, no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    return common.run_command(PROG, parser(), _main, argv)


def _gives_a_sweep(args) -> bool:
    return bool(args.sweep_file or args.vary or args.seeds is not None or args.trials is not None or args.draw)


def _gives_run_options(args) -> bool:
    dests = list(common.OPTION_FIELDS) + ["scale", "config", "from_file", "pathway", "inh_psp_scale"]
    return any(getattr(args, d, None) not in (None, False) for d in dests)


def spec_from_args(args) -> Spec:
    """The sweep the command line describes (or, for --resume alone, the one stored in DIR/sweep.nc)."""
    path = args.output / RESULT_FILE
    if args.resume and not _gives_a_sweep(args):
        if not path.exists():
            raise ConfigError(f"--resume: {path} does not exist; give the sweep (a sweep file or --vary) to start it")
        if _gives_run_options(args):
            raise ConfigError(f"--resume without a sweep file or --vary continues the sweep stored in {path}, "
                              "whose configuration is stored too: give no run options, or give the whole sweep again")
        with xr.open_dataset(path, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
        if "sweep_spec" not in attrs:
            raise ConfigError(f"{path} is not a sweep's result file (no attribute sweep_spec)")
        return Spec.from_canonical(attrs["sweep_spec"], attrs.get("sweep_file", ""))
    base, sweep, text = ({}, {}, "") if args.sweep_file is None else read_file(args.sweep_file)
    if not (sweep or args.vary or args.seeds is not None or args.trials is not None or args.draw):
        raise ConfigError("nothing varies: give a sweep file with a [sweep] table, or --vary KEY=V1,V2,... "
                          "(or --seeds N, --trials N)")
    config, table = common.config_from_args(args, defaults=Config.from_dict(base))
    if table is not None:  # --from a spike file: its stored table must be the one its configuration names
        from ..connectivity import load_table, table_to_json

        if table_to_json(table) != table_to_json(load_table(config.network.connectivity)):
            raise ConfigError(f"--from {args.from_file}: its stored connectivity table differs from the table its "
                              f"configuration names ({config.network.connectivity or 'the PD14 table'}); the sweep's "
                              "workers read tables from files: give --connectivity PATH of the stored table")
    if not config.simulation.record:
        raise ConfigError("a sweep records every point (its summary is computed from the spikes): "
                          "simulation.record must be true")
    spec = build(config, sweep=sweep, vary=args.vary, paired=args.paired, seeds=args.seeds, trials=args.trials,
                 draw=args.draw, text=text)
    check_fixed(spec, _flag_keys(args))
    return spec


def _flag_keys(args) -> dict[str, str]:
    """The keys the command line's run options set, as {key path: the option and its value}.

    ``--seed`` with ``--seeds N`` is the first of the N seeds, not a second setting of the seed.
    """
    keys = {}
    for section, name, value, flag in common.option_settings(args):
        if name == "seed" and args.seeds is not None:
            continue
        if name == "k_ext" and isinstance(value, dict):  # in-degrees of single populations
            keys.update({f"network.k_ext.{pop}": f"{flag} {pop}={n}" for pop, n in value.items()})
            continue
        keys[f"{section}.{name}"] = flag if value is True else f"{flag} {_text(value)}"
    for name, factors in args.pathway or []:
        for factor, value in factors.items():
            keys[f"network.pathways.{name}.{factor}"] = f"--pathway '{name}:{factor}={value:g}'"
    return keys


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def print_points(spec: Spec) -> None:
    found = plan(spec)
    names = [k.name for a in spec.axes for k in a.keys] + (["trial"] if spec.trials else [])
    widths = [max(len(n), 8) for n in names]
    out = sys.stdout
    point, mb = found.largest
    out.write(f"# {spec.size} points ({' x '.join(f'{d} {n}' for d, n in zip(spec.dims, spec.shape))}); "
              f"largest memory estimate {mb:.0f} MB ({point.name})\n")
    out.write("point   " + " ".join(f"{n:>{w}}" for n, w in zip(names, widths)) + "  memory MB\n")
    for p in found.points:
        values = [v for _, v in p.values] + ([p.trial] if p.trial is not None else [])
        cells = [f"{v:>{w}g}" if isinstance(v, float) else f"{v!s:>{w}}" for v, w in zip(values, widths)]
        out.write(f"{p.name}  " + " ".join(cells) + f"  {found.memory_mb[p.number]:9.0f}\n")


def _main(args) -> int:
    with options_named(FLAGS):
        spec = spec_from_args(args)
        if common.print_config(args, spec.base):
            return 0
        if args.print_points:
            print_points(spec)
            return 0
        if args.write_configs:
            for path in write_configs(spec, args.output):
                log.info("wrote %s", path)
            return 0
        if args.collect:
            ds = collect(spec, args.output, retry_failed=args.retry_failed)
            if not args.no_plots:
                write_figures(ds, args.output)
            _note_short_windows(ds)
            return 1 if int(ds.attrs["points_failed"]) else 0
        if args.retry_failed and not args.resume:
            raise ConfigError("--retry-failed runs the failed points of a sweep again: use it with --resume")
        try:
            ds = run(spec, args.output, workers=args.workers, scheduler=args.scheduler, timeout=args.timeout,
                     keep_spikes=args.keep_spikes, resume=args.resume, overwrite=args.overwrite,
                     retry_failed=args.retry_failed, check_memory=not args.skip_memory_check,
                     fresh_workers=args.fresh_workers, progress=not args.quiet, debug=args.debug)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; every finished point is in {args.output / RESULT_FILE}: continue with "
                  f"{PROG} --resume --output {args.output}", file=sys.stderr)
            return 130
    if not args.no_plots:
        write_figures(ds, args.output)
    _note_short_windows(ds)
    failed = int(ds.attrs["points_failed"])
    if failed:
        log.warning("%d of %d points failed (see the variable 'status' in %s)", failed, int(ds.attrs["points"]),
                    args.output / RESULT_FILE)
        return 1
    return 0


def _note_short_windows(ds: xr.Dataset) -> None:
    note = irregularity_note(ds)
    if note:
        log.warning("%s", note)


def write_figures(ds: xr.Dataset, folder: Path) -> list[Path] | None:
    """Write the sweep's figures into ``folder`` (:func:`microcircuit.plots.save_sweep_figures`), naming each.

    Sweeps over more than two parameters get none, and one line says so. A figure that cannot
    be drawn is a warning, not an error: ``sweep.nc`` is written before and stays as it is.
    Returns the files written, or None when drawing failed.
    """
    note = figures_note(ds)  # decided before importing matplotlib (half a second), which a sweep without figures skips
    if note:
        log.info("%s", note)
        return []
    try:
        from .. import plots

        written = plots.save_sweep_figures(ds, folder)
    except Exception as exc:  # noqa: BLE001 (the results are safe in sweep.nc; the figures are a view of them)
        log.warning("the sweep's figures could not be drawn (%s: %s); %s is complete: python -m microcircuit.analyse "
                    "%s draws them again", type(exc).__name__, exc, Path(folder) / RESULT_FILE, folder)
        return None
    for path in written:
        log.info("wrote %s", path)
    return written
