"""``python -m microcircuit.validate RUN_DIR``: compare a run's statistics with the reference ensemble.

Exit status: 0 all cells pass, 1 some fail, 2 bad input (one-line message).
"""
from __future__ import annotations

import logging
from pathlib import Path

import xarray as xr

from .. import analysis, plots, provenance, theory
from ..errors import ConfigError
from ..output import SPIKES_FILE, load_spikes, stored_config, stored_run
from ..parameters import derive
from ..validation import REFERENCE_DIR, Validation, available_references, report, validate
from . import common

log = logging.getLogger("microcircuit")

PROG = "python -m microcircuit.validate"
FIGURE_FILE = "validation_distributions.png"
TABLE_FILE = "validation.txt"
DESCRIPTION = f"""\
Compare a run's per-neuron firing rates, ISI CVs and spike-count correlations, population by
population, with a reference ensemble made with NEST's built-in iaf_psc_exp: the two-sample
Kolmogorov-Smirnov distance of the run to the reference seeds against the reference's own
seed-to-seed spread. A correct run fails the table with probability at most 1 %.

Prints the table (and writes it to RUN_DIR/{TABLE_FILE}) and draws the distributions
(RUN_DIR/{FIGURE_FILE}). Exit status 0 when every cell passes, 1 when some fail, 2 for bad input."""
EXAMPLES = [
    "python -m microcircuit.validate output",
    "python -m microcircuit.validate runs/full_dc --reference scale1_dc_T5s",
    "python -m microcircuit.validate --list",
]


def parser() -> common.ArgumentParser:
    p = common.ArgumentParser(prog=PROG, description=DESCRIPTION, examples=EXAMPLES)
    p.add_argument("run_dir", type=Path, nargs="?", metavar="RUN_DIR",
                   help="folder with spikes.nc (or the spike file itself)")
    g = p.add_argument_group("reference")
    g.add_argument("--reference", metavar="NAME",
                   help="reference set name (e.g. scale0.1_poisson_T1s) or path of a reference .nc file "
                        "(default: the set matching the run's scale and background with the longest window it covers)")
    g.add_argument("--reference-dir", type=Path, default=REFERENCE_DIR, metavar="DIR",
                   help="folder of the reference sets (default: those installed with the package)")
    g.add_argument("--list", action="store_true", help="list the reference sets and exit")
    g = p.add_argument_group("output")
    g.add_argument("--no-plots", action="store_true", help=f"do not write {FIGURE_FILE}")
    common.add_message_options(p, quiet="print only the verdict line")
    return p


def main(argv: list[str] | None = None) -> int:
    return common.run_command(PROG, parser(), _main, argv)


def _main(args) -> int:
    if not args.reference_dir.is_dir():
        raise ConfigError(f"--reference-dir {args.reference_dir} is not a folder")
    if args.list:
        return _list(args.reference_dir)
    if args.run_dir is None:
        raise ConfigError("give RUN_DIR, the folder of a run (or --list)")
    path = args.run_dir
    if path.is_dir():
        path = path / SPIKES_FILE
    elif not path.exists():
        raise ConfigError(f"{args.run_dir} does not exist")
    if not path.is_file():
        raise ConfigError(f"no {SPIKES_FILE} in {args.run_dir}")
    try:
        spikes = load_spikes(path)
    except Exception as exc:  # netCDF4 raises OSError, xarray ValueError, ... (--debug shows which)
        raise ConfigError(f"{path} is not a readable spike file") from exc
    if "spike_time" not in spikes or "spike_count" not in spikes:
        raise ConfigError(f"{path} is not a spike file written by python -m microcircuit.run")
    try:
        stored_config(spikes.attrs)  # a damaged configuration would hide the run's differences from the reference
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    v = validate(spikes, args.reference, args.reference_dir)
    head, rest = report(v, str(args.run_dir), spikes.attrs).split("\n", 1)  # "run: ...", then the rest
    software, neuron = provenance.summary(spikes.attrs)
    text = "\n".join([head, f"software:  {software}", f"neuron:    {neuron}", rest])
    theory_text, predicted = _theory(spikes, v)
    if theory_text is not None:  # theory beside the simulation; not part of the verdict
        body, summary = text.rsplit("\n", 1)  # the verdict stays the last line
        text = body + "\n" + theory_text + "\n\n" + summary
    table_path = path.parent / TABLE_FILE
    table_path.write_text(text + "\n")
    written = [table_path]
    if not args.no_plots:
        fig = plots.distributions(v.stats, v.reference.stats, ks=v.result["d_run"], passed=v.result["passed"],
                                  label=f"run (seed {spikes.attrs.get('seed', '?')})",
                                  reference_label=f"reference ({v.reference.stats.sizes['seed']} seeds, min-max)",
                                  predicted_rates=predicted, title=plots.validation_title(v, spikes.attrs))
        fig.savefig(path.parent / FIGURE_FILE, dpi=110)
        written.append(path.parent / FIGURE_FILE)
    if args.quiet:
        print(text.splitlines()[-1])
    else:
        print(text)
    for p in written:
        log.info("wrote %s", p)
    return 0 if v.passed else 1


def _list(directory: Path) -> int:
    for r in available_references(directory):
        a = r.attrs
        print(f"{r.name:<24} n_scaling {float(a['n_scaling']):g}, k_scaling {float(a['k_scaling']):g}, "
              f"{a['background']}, T = {r.duration:g} ms, {r.stats.sizes['seed']} seeds")
    return 0


def _theory(spikes: xr.Dataset, v: Validation) -> tuple[str | None, xr.DataArray | None]:
    """Mean-field rates for the configuration and table stored in the spike file, beside the simulated ones.

    Returns the text block and the predicted rates, or (None, None) when the file does not allow a
    prediction (no stored configuration, a table whose populations differ from the file's, ...).
    """
    try:
        config, table = stored_run(spikes.attrs)
        prediction = theory.predict(config, derive(config, table))
        rates = analysis.population_mean_rates(spikes, *v.window)
        text = theory.comparison_report(prediction, rates, *v.window, config=config,
                                        note="information, not part of the verdict")
        return text, prediction["rate"].sel(population=rates["population"].values)
    except Exception as exc:  # the verdict does not depend on the theory
        log.info("no mean-field prediction for this run (%s: %s)", type(exc).__name__, exc)
        return None, None
