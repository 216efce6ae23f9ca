"""``python -m microcircuit.validate RUN_DIR``: compare a run's statistics with the reference ensemble.

For every population and observable (per-neuron firing rates, ISI CVs, spike-count
correlation coefficients; :mod:`microcircuit.analysis`) -- a *cell* of the table -- the
run's distribution is compared with the reference ensemble (``reference_data/*.nc``, made
with NEST's built-in ``iaf_psc_exp`` by ``reference_data/make_reference.py``) by the
two-sample Kolmogorov-Smirnov distance D.

Pass rule (calibrated on the reference ensemble itself, by leave-one-seed-out):

* ``D_run`` = D(run, all reference seeds pooled);
* every reference seed k in turn plays the new run: ``D_k`` = D(seed k, the other n-1
  seeds pooled), n values per cell;
* on a log scale, each cell's ``log D_k`` are centred on their mean ``l_cell``, and the
  spread ``s`` is pooled over the populations of an observable (one-way ANOVA pooled sd,
  ``P (n - 1)`` degrees of freedom for P populations);
* a cell passes when ``log D_run <= l_cell + q s sqrt(1 + 1/n)``, with ``q`` the
  ``1 - alpha / n_cells`` quantile of Student's t with ``P (n - 1)`` degrees of freedom:
  the one-sided normal prediction bound for a new value, Bonferroni-corrected, so that a
  correct run fails any of the ``n_cells`` cells with probability at most ``alpha``
  (:data:`FAMILY_ALPHA` = 1 %), whatever the correlation between cells.

Why the pooled reference and not the mean of the run's distances to the single seeds: the
mean seed-to-seed distance of a finite ensemble is itself uncertain, and leave-one-out
values cannot see that uncertainty (they average to that very mean by construction);
against the pooled ensemble, a reference's own deviation from the truth is n times smaller
than a run's, so the leave-one-out values predict new runs. Synthetic ensembles with
seed-to-seed variability (``python reference_data/check_rule.py``: references of 5 and 10
seeds, 400 new runs) gave 1 failing correct run in 400 at alpha = 1 % and 10 in 400 at
alpha = 5 %. The classic
seed-to-seed distances (mean and sd over all pairs, MODEL_FACTS §8.5) are reported too.

The run is analysed over ``[t_start, t_start + T]`` with the reference's T, bin size and
CC neuron sample: correlation statistics depend strongly on T (MODEL_FACTS §8.6), so a run
shorter than the reference is refused.

Exit status: 0 all cells pass, 1 some fail, 2 bad input (one-line message).
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats
import xarray as xr

from . import analysis
from .errors import ConfigError

log = logging.getLogger("microcircuit")

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference_data"
"""Folder of the reference sets (``<name>.nc``) in a source checkout."""

FAMILY_ALPHA = 0.01
"""Default bound on the probability that a correct run fails any cell of the table."""

MIN_SEEDS = 4
"""Leave-one-seed-out needs an sd of the remaining seeds' distances: at least 3 remain."""

STORAGE_DTYPE = np.float32
"""Precision of the stored per-neuron statistics; the run's are cast alike before comparing,
so tied values (e.g. rates k/T) stay tied."""

STORAGE_DECIMALS = {"cv": 5, "cc": 5}
"""CVs and CCs are stored rounded to 1e-5 (they compress 2-3 times better than full float32).
That is < 0.1 % of the width of their distributions (sd >= 0.01), far below anything a KS
distance resolves; the run's values are rounded alike before comparing."""

FIGURE_FILE = "validation_distributions.png"
TABLE_FILE = "validation.txt"


# --------------------------------------------------------------------------- ensemble and rule

def storage_precision(stats: xr.Dataset) -> xr.Dataset:
    """The observables of a :func:`microcircuit.analysis.statistics` Dataset as stored in a reference set.

    Rounded to :data:`STORAGE_DECIMALS` and cast to :data:`STORAGE_DTYPE`; applied to the run
    too, so that equal values compare equal.
    """
    out = stats.copy()
    for name in analysis.OBSERVABLES:
        da = stats[name]
        if name in STORAGE_DECIMALS:
            da = da.round(STORAGE_DECIMALS[name])
        out[name] = da.astype(STORAGE_DTYPE)
    return out


def ensemble(stats: list[xr.Dataset], seeds: list[int]) -> xr.Dataset:
    """Concatenate per-seed statistics (same neurons and CC sample) along a new ``seed`` dimension."""
    if len(stats) != len(seeds):
        raise ValueError("one statistics Dataset per seed")
    first = stats[0]
    for s in stats[1:]:
        for coord in ("neuron", "population", "pair_population", "neuron_a", "neuron_b"):
            if not np.array_equal(s[coord].values, first[coord].values):
                raise ValueError(f"members differ in {coord!r}; same network size and CC sample required")
    out = xr.concat([storage_precision(s) for s in stats], dim="seed", coords="minimal", compat="override",
                    combine_attrs="drop_conflicts")
    return out.assign_coords(seed=("seed", np.asarray(seeds, dtype=np.int64)))


def _pooled(members: list[xr.Dataset], observable: str, population: str) -> np.ndarray:
    return np.concatenate([analysis.observable_values(m, observable, population) for m in members])


def ks_to_pool(stats: xr.Dataset, members: list[xr.Dataset]) -> xr.DataArray:
    """KS distance between a run and the pooled values of several runs, per observable and population.

    Parameters
    ----------
    stats : xarray.Dataset
        :func:`microcircuit.analysis.statistics` of one run.
    members : list of xarray.Dataset
        Statistics of the runs to pool (same populations).

    Returns
    -------
    xarray.DataArray
        ``(observable, population)``.
    """
    pops = analysis.population_names(stats)
    d = [[analysis.ks_distance(analysis.observable_values(stats, obs, p), _pooled(members, obs, p)) for p in pops]
         for obs in analysis.OBSERVABLES]
    return xr.DataArray(np.array(d), dims=("observable", "population"),
                        coords={"observable": list(analysis.OBSERVABLES), "population": pops})


def leave_one_out(stats: xr.Dataset) -> xr.DataArray:
    """KS distance of every member of an ensemble to the other members pooled.

    Parameters
    ----------
    stats : xarray.Dataset
        Output of :func:`ensemble` (dimension ``seed``).

    Returns
    -------
    xarray.DataArray
        ``(seed, observable, population)``.
    """
    n = stats.sizes["seed"]
    if n < MIN_SEEDS:
        raise ValueError(f"leave-one-seed-out needs at least {MIN_SEEDS} seeds, got {n}")
    members = [stats.isel(seed=k) for k in range(n)]
    d = [ks_to_pool(members[k], members[:k] + members[k + 1:]) for k in range(n)]
    return xr.concat(d, dim="seed").assign_coords(seed=stats["seed"].values)


def calibrate(loo: xr.DataArray, alpha: float = FAMILY_ALPHA) -> xr.Dataset:
    """Per-cell thresholds on D_run from the leave-one-out distances (see the module docstring).

    Parameters
    ----------
    loo : xarray.DataArray
        ``(seed, observable, population)`` from :func:`leave_one_out`; all values > 0.
    alpha : float
        Bound on the probability that a correct run fails any cell.

    Returns
    -------
    xarray.Dataset
        ``center`` (observable, population): exp of the mean of log D_k (geometric mean);
        ``log_sd`` (observable): pooled sd of log D_k; ``factor`` (observable):
        ``exp(q log_sd sqrt(1 + 1/n))``; ``threshold = center * factor``. Attributes
        ``alpha``, ``n_cells``, ``quantile`` (q), ``dof``, ``loo_failures`` (held-out seeds
        above some threshold).

    Examples
    --------
    Eight populations with log-normal distances of log-sd 0.2, ten seeds (the estimated
    log-sd is 0.19):

    >>> import numpy as np, xarray as xr
    >>> d = np.exp(np.log(0.02) + np.random.default_rng(0).normal(0, 0.2, (10, 1, 8)))
    >>> cal = calibrate(xr.DataArray(d, dims=("seed", "observable", "population")), alpha=0.01)
    >>> cal.attrs["dof"], round(cal.attrs["quantile"], 2)  # t with 8 x 9 dof at 1 - 0.01 / 8
    (72, 3.13)
    >>> round(float(cal["log_sd"][0]), 3), round(float(cal["factor"][0]), 2)  # exp(3.13 x 0.193 x sqrt(1.1))
    (0.193, 1.89)
    """
    n, n_pop = loo.sizes["seed"], loo.sizes["population"]
    cells = loo.sizes["observable"] * n_pop
    if not bool((loo > 0).all()):
        raise ValueError("leave-one-out distances must be positive (identical seeds?)")
    logs = np.log(loo)
    center = logs.mean("seed")
    dof = n_pop * (n - 1)
    log_sd = np.sqrt(((logs - center) ** 2).sum(("seed", "population")) / dof)
    quantile = float(scipy.stats.t.isf(alpha / cells, dof))
    factor = np.exp(quantile * log_sd * np.sqrt(1 + 1 / n))
    threshold = np.exp(center) * factor
    fails = int((loo > threshold).any(dim=("observable", "population")).sum())
    return xr.Dataset({"center": np.exp(center), "log_sd": log_sd, "factor": factor, "threshold": threshold},
                      attrs={"alpha": float(alpha), "n_cells": int(cells), "quantile": quantile, "dof": int(dof),
                             "loo_failures": fails})


def reference_ks(stats: xr.Dataset, alpha: float = FAMILY_ALPHA) -> xr.Dataset:
    """Seed-to-seed KS distances of an ensemble and the calibrated pass rule.

    Parameters
    ----------
    stats : xarray.Dataset
        Output of :func:`ensemble`.
    alpha : float
        Bound on the table-level false-failure probability.

    Returns
    -------
    xarray.Dataset
        ``pairwise`` (seed_pair, observable, population) with their ``mu`` and ``sd``;
        ``loo`` (loo_seed, observable, population), D(seed, other seeds pooled); the rule
        (:func:`calibrate`): ``center``, ``log_sd``, ``factor``, ``threshold``; attributes
        ``rule_*``.
    """
    pairwise = analysis.pairwise_ks_distances(stats)
    loo = leave_one_out(stats)
    rule = calibrate(loo, alpha)
    out = xr.Dataset({
        "pairwise": pairwise, "mu": pairwise.mean("seed_pair"), "sd": pairwise.std("seed_pair", ddof=1),
        "loo": loo.rename(seed="loo_seed"), **rule.data_vars,
    }, attrs={f"rule_{k}": v for k, v in rule.attrs.items()})
    descriptions = {
        "pairwise": "KS distance between two reference seeds",
        "mu": "mean seed-to-seed KS distance", "sd": "sd (ddof 1) of the seed-to-seed KS distances",
        "loo": "KS distance of a reference seed to the other seeds pooled",
        "center": "geometric mean of loo over seeds", "log_sd": "pooled sd of log(loo) over seeds and populations",
        "factor": "exp(quantile log_sd sqrt(1 + 1/n))",
        "threshold": "pass if KS(run, all seeds pooled) <= center factor",
    }
    for k, text in descriptions.items():
        out[k].attrs.update(long_name=text, units="1")
    return out


# --------------------------------------------------------------------------- reference files

@dataclass
class Reference:
    """A stored reference set: per-seed statistics and the calibrated seed-to-seed distances."""

    name: str
    path: Path
    stats: xr.Dataset   # rate/cv (seed, neuron), cc (seed, pair)
    ks: xr.Dataset      # output of reference_ks
    attrs: dict

    @property
    def duration(self) -> float:
        """Analysis window length T (ms)."""
        return float(self.attrs["t_stop"]) - float(self.attrs["t_start"])

    @property
    def members(self) -> list[xr.Dataset]:
        """The statistics of each reference seed."""
        return [self.stats.isel(seed=k) for k in range(self.stats.sizes["seed"])]


def write_reference(path: str | Path, stats: xr.Dataset, ks: xr.Dataset, attrs: dict) -> Path:
    """Write a reference set: statistics in the root group, KS distances in group ``ks`` (zlib)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    stats = stats.assign_attrs(attrs)
    enc = {v: {"zlib": True, "complevel": 9, "shuffle": True} for v in stats.data_vars}
    # string coordinates as compressible character arrays, ids as int32 (node ids < 2^31)
    for name in ("population", "pair_population"):
        enc[name] = {"dtype": "S1", "zlib": True, "complevel": 9}
    for name in ("neuron", "neuron_a", "neuron_b"):
        enc[name] = {"dtype": "int32", "zlib": True, "complevel": 9, "shuffle": True}
    stats.to_netcdf(tmp, mode="w", engine="netcdf4", encoding=enc)
    ks.to_netcdf(tmp, mode="a", group="ks", engine="netcdf4",
                 encoding={v: {"zlib": True, "complevel": 9} for v in ks.data_vars})
    tmp.replace(path)
    return path


def load_reference(path: str | Path) -> Reference:
    """Open a reference set written by :func:`write_reference`."""
    path = Path(path)
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            stats = ds.load()
        with xr.open_dataset(path, engine="netcdf4", group="ks") as ds:
            ks = ds.load()
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path} is not a readable reference set ({exc})") from None
    return Reference(name=stats.attrs.get("name", path.stem), path=path, stats=stats, ks=ks, attrs=dict(stats.attrs))


def available_references(directory: str | Path = REFERENCE_DIR) -> list[Reference]:
    """Every reference set in ``directory``, sorted by name."""
    return [load_reference(p) for p in sorted(Path(directory).glob("*.nc"))]


def _same(a, b) -> bool:
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return str(a) == str(b)


def choose_reference(run_attrs: dict, run_duration: float, name: str | None = None,
                     directory: str | Path = REFERENCE_DIR) -> Reference:
    """The reference set for a run: by ``name`` (a set name or a path), else by scale and background.

    Among the sets with the run's ``n_scaling``, ``k_scaling`` and ``background`` the one with
    the longest window T that the run covers is chosen. Raises ConfigError when none fits.
    """
    if name is not None:
        candidate = Path(name)
        if candidate.suffix == ".nc" and candidate.is_file():
            ref = load_reference(candidate)
        else:
            refs = {r.name: r for r in available_references(directory)}
            if name not in refs:
                raise ConfigError(f"no reference set {name!r} (available: {', '.join(sorted(refs)) or 'none'})")
            ref = refs[name]
        if ref.duration > run_duration + 1e-9:
            raise ConfigError(f"the run's analysis window is {run_duration:g} ms, shorter than the "
                              f"{ref.duration:g} ms of reference {ref.name}; CC statistics depend on the window "
                              "length, so compare only at equal length")
        return ref
    keys = ("n_scaling", "k_scaling", "background")
    missing = [k for k in keys if k not in run_attrs]
    if missing:
        raise ConfigError(f"the spike file lacks {', '.join(missing)}; choose a reference with --reference")
    refs = available_references(directory)
    matching = [r for r in refs if all(_same(r.attrs.get(k), run_attrs[k]) for k in keys)]
    if not matching:
        have = ", ".join(f"{r.name}" for r in refs) or "none"
        raise ConfigError(f"no reference set for n_scaling {run_attrs['n_scaling']:g}, k_scaling "
                          f"{run_attrs['k_scaling']:g}, {run_attrs['background']} background (available: {have})")
    covered = [r for r in matching if r.duration <= run_duration + 1e-9]
    if not covered:
        shortest = min(matching, key=lambda r: r.duration)
        raise ConfigError(f"the run's analysis window is {run_duration:g} ms; the matching reference sets need at "
                          f"least {shortest.duration:g} ms ({', '.join(r.name for r in matching)}): "
                          "simulate longer (--t-sim)")
    return max(covered, key=lambda r: r.duration)


# --------------------------------------------------------------------------- comparison

def run_statistics(ds: xr.Dataset, reference: Reference) -> xr.Dataset:
    """Statistics of a run over the reference's window length, bin size and CC neuron sample."""
    t_start = float(ds.attrs["t_start"])
    a = reference.attrs
    stats = analysis.statistics(ds, t_start, t_start + reference.duration, bin_size=float(a["bin_size"]),
                                sample_size=int(a["cc_sample_size"]), rng=int(a["cc_sample_seed"]))
    return storage_precision(stats)


def compare(stats: xr.Dataset, reference: Reference) -> xr.Dataset:
    """KS distances of a run to the reference, and the verdict per cell.

    Returns
    -------
    xarray.Dataset
        ``(observable, population)``: ``d_run`` (to all reference seeds pooled) and the
        reference's ``loo_mean``, ``loo_sd`` (leave-one-out distances), ``threshold`` and
        ``passed``; for information ``d_seed_mean`` (mean distance to the single seeds) and
        the seed-to-seed ``mu``, ``sd``; ``d_seed`` (seed, observable, population).
    """
    ref = reference.stats
    names = analysis.population_names(ref)
    if analysis.population_names(stats) != names:
        raise ConfigError(f"the run's populations {analysis.population_names(stats)} differ from the "
                          f"reference's {names}")
    for dim, coord in (("neuron", "population"), ("pair", "pair_population")):
        if stats.sizes.get(dim) != ref.sizes.get(dim) or not np.array_equal(
                stats[coord].values.astype(str), ref[coord].values.astype(str)):
            raise ConfigError("the run's population sizes differ from the reference's")
    members = reference.members
    d_seed = xr.concat([analysis.ks_distances(stats, m) for m in members], dim="seed")
    ks = reference.ks
    out = xr.Dataset({
        "d_run": ks_to_pool(stats, members),
        "loo_mean": ks["loo"].mean("loo_seed"), "loo_sd": ks["loo"].std("loo_seed", ddof=1),
        "threshold": ks["threshold"],
        "d_seed_mean": d_seed.mean("seed"), "mu": ks["mu"], "sd": ks["sd"],
        "d_seed": d_seed.assign_coords(seed=ref["seed"].values),
    })
    out["passed"] = out["d_run"] <= out["threshold"]
    out.attrs.update(reference=reference.name)
    return out


def format_table(result: xr.Dataset) -> str:
    """The verdict table, one line per population and observable.

    Columns: D(run, ref) -- distance to the reference seeds pooled; D(seed, rest) -- the
    reference's leave-one-out distances (mean ± sd); threshold; verdict; then for
    information D(run, seed) -- mean distance to the single seeds, and D(seed, seed) -- the
    seed-to-seed distances (mean ± sd over pairs, as in MODEL_FACTS §8.6).
    """
    lines = [f"{'population':<10} {'observable':<10} {'D(run,ref)':>10} {'D(seed,rest)':>17} {'threshold':>9} "
             f"{'verdict':>7} {'D(run,seed)':>11} {'D(seed,seed)':>17}"]
    for pop in result["population"].values:
        for obs in result["observable"].values:
            r = result.sel(population=pop, observable=obs)
            lines.append(f"{pop:<10} {obs:<10} {float(r.d_run):10.4f} {float(r.loo_mean):8.4f} ± {float(r.loo_sd):6.4f} "
                         f"{float(r.threshold):9.4f} {'pass' if bool(r.passed) else 'FAIL':>7} "
                         f"{float(r.d_seed_mean):11.4f} {float(r.mu):8.4f} ± {float(r.sd):6.4f}")
    return "\n".join(lines)


def _config_differences(run_attrs: dict, reference: Reference) -> list[str]:
    """Configuration entries in which the run differs from the reference (neuron model excluded)."""
    try:
        run_cfg = json.loads(run_attrs["config"])
        ref_cfg = json.loads(reference.attrs["config"])
    except (KeyError, ValueError):
        return []
    diffs = []

    def walk(a, b, prefix):
        for key in sorted(set(a) & set(b)):  # a key only one side has: made by another package version
            va, vb = a[key], b[key]
            name = f"{prefix}{key}"
            if isinstance(va, dict) and isinstance(vb, dict):
                walk(va, vb, name + ".")
            elif va != vb and name not in _EXPECTED_DIFFERENCES:
                diffs.append(f"{name} = {va!r} (reference {vb!r})")

    walk(run_cfg, ref_cfg, "")
    return diffs


# differences that do not change the statistics being tested
_EXPECTED_DIFFERENCES = {"network.neuron_model", "simulation.seed", "simulation.t_sim", "simulation.threads",
                         "simulation.chunk", "simulation.record"}


@dataclass
class Validation:
    """Everything ``validate`` computed for one run."""

    reference: Reference
    stats: xr.Dataset
    result: xr.Dataset
    window: tuple[float, float]
    notes: list[str]

    @property
    def passed(self) -> bool:
        return bool(self.result["passed"].all())


def validate(spikes: xr.Dataset, reference: str | None = None,
             directory: str | Path = REFERENCE_DIR) -> Validation:
    """Compare a loaded spike Dataset with its reference set (see the module docstring)."""
    for key in ("t_start", "t_stop"):
        if key not in spikes.attrs:
            raise ConfigError(f"the spike file lacks the attribute {key!r}")
    t_start, t_stop = analysis.window(spikes)
    t_stop = min(t_stop, float(spikes.attrs.get("t_simulated", t_stop)))
    ref = choose_reference(spikes.attrs, t_stop - t_start, reference, directory)
    notes = []
    if not _same(ref.attrs.get("t_start"), t_start):
        notes.append(f"the run's warm-up ends at {t_start:g} ms, the reference's at {float(ref.attrs['t_start']):g} ms")
    if t_stop - t_start > ref.duration + 1e-9:
        notes.append(f"analysed the first {ref.duration:g} ms of the run's {t_stop - t_start:g} ms window "
                     "(the reference's window length)")
    status = spikes.attrs.get("status", "complete")
    if status != "complete":
        notes.append(f"run status: {status}")
    notes += [f"differs from the reference in {d}" for d in _config_differences(spikes.attrs, ref)]
    stats = run_statistics(spikes, ref)
    return Validation(reference=ref, stats=stats, result=compare(stats, ref),
                      window=(t_start, t_start + ref.duration), notes=notes)


def report(v: Validation, run_label: str, run_attrs: dict) -> str:
    """Human-readable report: header, notes, table, summary."""
    ref = v.reference
    a = ref.attrs
    seeds = ref.stats["seed"].values
    k = ref.ks.attrs
    head = [
        f"run:       {run_label} (neuron {run_attrs.get('neuron_model', '?')}, seed {run_attrs.get('seed', '?')}, "
        f"n_scaling {run_attrs.get('n_scaling', '?')}, k_scaling {run_attrs.get('k_scaling', '?')}, "
        f"{run_attrs.get('background', '?')} background)",
        f"window:    [{v.window[0]:g}, {v.window[1]:g}] ms (T = {ref.duration:g} ms)",
        f"reference: {ref.name} ({a.get('neuron_model', '?')} neuron, {seeds.size} seeds {seeds.min()}-{seeds.max()}, "
        f"CC: {int(a['cc_sample_size'])} neurons/population, {float(a['bin_size']):g} ms bins)",
        "rule:      pass if D(run, ref) <= threshold, from leave-one-seed-out on the reference (pooled log-sd "
        + ", ".join(f"{o} {float(x):.2f}" for o, x in zip(ref.ks["log_sd"]["observable"].values, ref.ks["log_sd"].values))
        + f"; t quantile {float(k['rule_quantile']):.2f}); a correct run fails the table with probability "
        f"<= {100 * float(k['rule_alpha']):g} % (reference seeds held out: {int(k['rule_loo_failures'])} of "
        f"{seeds.size} fail)",
    ]
    head += [f"note:      {n}" for n in v.notes]
    failed = int((~v.result["passed"]).sum())
    cells = int(v.result["passed"].size)
    summary = f"PASS: all {cells} cells within the reference's seed-to-seed spread" if v.passed else \
        f"FAIL: {failed} of {cells} cells outside the reference's seed-to-seed spread"
    return "\n".join(head + ["", format_table(v.result), "", summary])


# --------------------------------------------------------------------------- command line

def parser():
    from . import cli

    p = cli.ArgumentParser(prog="python -m microcircuit.validate",
                           description="Compare a run's rates, ISI CVs and spike-count correlations with the "
                                       "reference ensemble (two-sample KS distances, population by population).")
    p.add_argument("run_dir", type=Path, nargs="?", metavar="RUN_DIR",
                   help="folder with spikes.nc (or the spike file itself)")
    p.add_argument("--reference", metavar="NAME",
                   help="reference set name (e.g. scale0.1_poisson_T1s) or path of a reference .nc file; "
                        "default: the set matching the run's scale and background with the longest window it covers")
    p.add_argument("--reference-dir", type=Path, default=REFERENCE_DIR, metavar="DIR",
                   help="folder of the reference sets (default: reference_data/ of this checkout)")
    p.add_argument("--list", action="store_true", help="list the reference sets and exit")
    p.add_argument("--no-plots", action="store_true", help="do not write the distribution figure")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary line")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return p


def main(argv: list[str] | None = None) -> int:
    from . import cli

    args = parser().parse_args(argv)
    cli.setup_logging(args.quiet)
    return cli.main_wrapper("python -m microcircuit.validate", lambda: _main(args), args.debug)


def _theory(spikes: xr.Dataset, v: Validation) -> tuple[str | None, xr.DataArray | None]:
    """Mean-field rates for the configuration and table stored in the spike file, beside the simulated ones.

    Returns the text block and the predicted rates, or (None, None) when the file does not allow a
    prediction (no stored configuration, a table whose populations differ from the file's, ...).
    """
    import json

    from . import theory
    from .parameters import Config
    from .simulation import table_for, table_from_json

    try:
        config = Config.from_dict(json.loads(spikes.attrs["config"]))
        table = (table_from_json(spikes.attrs["connectivity_table"]) if "connectivity_table" in spikes.attrs
                 else table_for(config))
        prediction = theory.predict(config, table)
        rates = analysis.population_mean_rates(spikes, *v.window)
        text = ("mean rates (spikes/s) in the window, simulated and predicted by mean-field theory "
                "(information, not part of the verdict):\n" + theory.format_comparison(prediction, rates))
        return text, prediction["rate"].sel(population=rates["population"].values)
    except Exception as exc:  # the verdict does not depend on the theory
        log.info("no mean-field prediction for this run (%s: %s)", type(exc).__name__, exc)
        return None, None


def _list(directory: Path) -> int:
    for r in available_references(directory):
        a = r.attrs
        print(f"{r.name:<24} n_scaling {float(a['n_scaling']):g}, k_scaling {float(a['k_scaling']):g}, "
              f"{a['background']}, T = {r.duration:g} ms, {r.stats.sizes['seed']} seeds")
    return 0


def _main(args) -> int:
    from .output import SPIKES_FILE, load_spikes

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
    except Exception:
        raise ConfigError(f"{path} is not a readable spike file") from None
    if "spike_time" not in spikes or "spike_count" not in spikes:
        raise ConfigError(f"{path} is not a spike file written by python -m microcircuit.run")
    v = validate(spikes, args.reference, args.reference_dir)
    text = report(v, str(args.run_dir), spikes.attrs)
    theory_text, predicted = _theory(spikes, v)
    if theory_text is not None:  # theory beside the simulation; not part of the verdict
        body, summary = text.rsplit("\n", 1)  # the verdict stays the last line
        text = body + "\n" + theory_text + "\n\n" + summary
    (path.parent / TABLE_FILE).write_text(text + "\n")
    if not args.no_plots:
        from . import plots

        fig = plots.distributions(v.stats, v.reference.stats, ks=v.result["d_run"], passed=v.result["passed"],
                                  label=f"run (seed {spikes.attrs.get('seed', '?')})",
                                  reference_label=f"reference ({v.reference.stats.sizes['seed']} seeds, min-max)",
                                  predicted_rates=predicted)
        fig.savefig(path.parent / FIGURE_FILE, dpi=110)
    if args.quiet:
        print(text.splitlines()[-1])
    else:
        print(text)
    return 0 if v.passed else 1


if __name__ == "__main__":
    sys.exit(main())
