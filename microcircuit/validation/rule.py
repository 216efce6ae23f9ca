"""The pass rule: per-seed statistics of an ensemble, KS distances to pooled seeds, calibrated thresholds.

See :mod:`microcircuit.validation` for the rule and why it is built this way.
"""
from __future__ import annotations

import numpy as np
import scipy.stats
import xarray as xr

from .. import analysis

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


def _cells(stats: xr.Dataset, pops: list[str]) -> dict[tuple[str, str], np.ndarray]:
    """The finite values of every (observable, population) cell of one run's statistics."""
    return {(obs, p): analysis.observable_values(stats, obs, p) for obs in analysis.OBSERVABLES for p in pops}


def _ks_cells(run: dict, pool: list[dict], pops: list[str]) -> xr.DataArray:
    d = [[analysis.ks_distance(run[obs, p], np.concatenate([m[obs, p] for m in pool])) for p in pops]
         for obs in analysis.OBSERVABLES]
    return xr.DataArray(np.array(d), dims=("observable", "population"),
                        coords={"observable": list(analysis.OBSERVABLES), "population": pops})


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
    return _ks_cells(_cells(stats, pops), [_cells(m, pops) for m in members], pops)


def _members(stats: xr.Dataset) -> tuple[list[dict], list[str]]:
    """The cells of every seed of an ensemble, and the population names."""
    members = [stats.isel(seed=k) for k in range(stats.sizes["seed"])]
    pops = analysis.population_names(members[0])
    return [_cells(m, pops) for m in members], pops


def _leave_one_out(cells: list[dict], seeds, pops: list[str]) -> xr.DataArray:
    d = [_ks_cells(cells[k], cells[:k] + cells[k + 1:], pops) for k in range(len(cells))]
    return xr.concat(d, dim="seed").assign_coords(seed=np.asarray(seeds))


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
    cells, pops = _members(stats)
    return _leave_one_out(cells, stats["seed"].values, pops)


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
        ``alpha``, ``n_cells``, ``quantile`` (q), ``dof``, ``loo_failures`` (seeds whose
        leave-one-out distance exceeds some threshold: an in-sample count, since those distances
        are what the thresholds are fitted to; :func:`held_out` is the out-of-sample check).

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


def held_out(stats: xr.Dataset, alpha: float = FAMILY_ALPHA) -> xr.DataArray:
    """Out-of-sample check of the rule: every seed against a rule fitted without it.

    For each seed k, the rule is calibrated on the other n - 1 seeds alone (their own
    leave-one-out distances, :func:`calibrate`), and seed k is compared with those seeds pooled,
    exactly as a new run is compared with a reference of n - 1 seeds. Seed k plays no part in
    the thresholds it is judged by, unlike ``loo_failures`` of :func:`calibrate`. For a correct
    rule each seed fails the table (any cell) with probability at most ``alpha``.

    Parameters
    ----------
    stats : xarray.Dataset
        Output of :func:`ensemble`, at least ``MIN_SEEDS + 1`` seeds.
    alpha : float
        Bound on the table-level false-failure probability of the rules fitted.

    Returns
    -------
    xarray.DataArray
        ``passed`` (seed, observable, population), bool.
    """
    n = stats.sizes["seed"]
    if n < MIN_SEEDS + 1:
        raise ValueError(f"holding a seed out of the fit needs at least {MIN_SEEDS + 1} seeds, got {n}")
    cells, pops = _members(stats)
    seeds = stats["seed"].values
    passed = []
    for k in range(n):
        others = [cells[j] for j in range(n) if j != k]
        rule = calibrate(_leave_one_out(others, np.delete(seeds, k), pops), alpha)
        passed.append(_ks_cells(cells[k], others, pops) <= rule["threshold"])
    return xr.concat(passed, dim="seed").assign_coords(seed=seeds).rename("passed")


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
