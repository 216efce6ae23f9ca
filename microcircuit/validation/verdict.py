"""Comparing a run with its reference set: the statistics, the verdict per cell, the report."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import analysis
from ..errors import ConfigError
from ..output import stored_config
from ..parameters import NetworkParams
from ..variations import VARIED_KEYS, upgrade_config_dict
from .references import REFERENCE_DIR, Reference, choose_reference, same_value
from .rule import ks_to_pool, storage_precision

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
    seed-to-seed distances (mean ± sd over pairs, as in docs/model.md §10).
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
    run_cfg, ref_cfg = _comparable(stored_config(run_attrs)), _comparable(stored_config(reference.attrs))
    diffs = []

    def walk(a, b, prefix):
        for key in sorted(set(a) & set(b)):  # a key only one side has: made by another package version
            va, vb = a[key], b[key]
            name = f"{prefix}{key}"
            if isinstance(va, dict) and isinstance(vb, dict) and name not in _VALUE_TABLES:
                walk(va, vb, name + ".")
            elif va != vb and name not in _EXPECTED_DIFFERENCES:
                diffs.append(f"{name} = {va!r} (reference {vb!r})")

    walk(run_cfg, ref_cfg, "")
    return diffs


def _comparable(cfg: dict) -> dict:
    """A stored configuration ({} if absent: no differences) in today's keys: the obsolete ``inh_psp_scale``
    translated, and the varied keys (``g``, ``bg_rate``, ``k_ext``, ``pathways``) that files written before
    them lack set to their defaults, which are what those runs used (the table's values)."""
    if not isinstance(cfg.get("network"), dict):
        return cfg
    try:
        cfg = upgrade_config_dict(cfg)
    except ConfigError:
        return cfg  # compared as stored
    defaults = NetworkParams()
    return {**cfg, "network": {**{k: getattr(defaults, k) for k in VARIED_KEYS}, **cfg["network"]}}


# options whose value is a table: compared as a whole
_VALUE_TABLES = {f"network.{key}" for key in VARIED_KEYS}

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
    try:
        t_start, t_stop = analysis.window(spikes, warn=False)  # an incomplete run is named in the notes
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    ref = choose_reference(spikes.attrs, t_stop - t_start, reference, directory)
    notes = []
    if not same_value(ref.attrs.get("t_start"), t_start):
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
        f"<= {100 * float(k['rule_alpha']):g} %",
    ]
    head += [f"note:      {n}" for n in v.notes]
    failed = int((~v.result["passed"]).sum())
    cells = int(v.result["passed"].size)
    summary = f"PASS: all {cells} cells within the reference's seed-to-seed spread" if v.passed else \
        f"FAIL: {failed} of {cells} cells outside the reference's seed-to-seed spread"
    return "\n".join(head + ["", format_table(v.result), "", *COLUMNS, "", summary])


COLUMNS = [
    "columns: D(run,ref)    Kolmogorov-Smirnov distance of the run's distribution to all reference seeds pooled",
    "         D(seed,rest)  the same for each reference seed against the other seeds (mean ± sd): what a correct",
    "                       run shows",
    "         threshold     a correct run's D(run,ref) stays below it but with the small probability the rule states",
    "         verdict       pass if D(run,ref) <= threshold",
    "         D(run,seed)   for information: mean distance of the run to the single reference seeds",
    "         D(seed,seed)  for information: distances between reference seeds (mean ± sd over pairs)",
]
"""The legend of :func:`format_table`'s columns, printed below the table."""
