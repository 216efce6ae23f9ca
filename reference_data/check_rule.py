"""Check the false-failure rate of validate's pass rule on synthetic ensembles, or on the shipped sets.

    python reference_data/check_rule.py [--seeds 5 10] [--references 10] [--runs 20]
    python reference_data/check_rule.py --held-out

A synthetic "network" (4 populations of 150/50/150/50 neurons, 2 s) draws per-neuron rates
from a gamma distribution (shape 2) per population and independent Poisson spike trains, so
that seeds differ the way network realisations do. For every reference size n, it builds
``--references`` independent reference ensembles of n seeds, calibrates the rule
(:func:`microcircuit.validation.calibrate`) at alpha = 1 % and 5 %, and validates ``--runs``
new seeds of the same network against each. A correct rule fails at most a fraction alpha
of them. Nothing is written; the counts are printed.

``--held-out`` checks the shipped reference sets out of sample instead: every seed of a set
against the rule calibrated on the set's other seeds alone
(:func:`microcircuit.validation.held_out`), as a new run is judged by a reference of n - 1 seeds.
For a correct rule each seed fails with probability at most alpha. (The sets' stored
``rule_loo_failures`` is in sample: every seed is part of the thresholds it is compared with.)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from microcircuit import analysis, validation  # noqa: E402
from microcircuit.output import ragged_dataset  # noqa: E402

SIZES = (150, 50, 150, 50)
MEAN_RATES = (2.0, 5.0, 4.0, 8.0)
T_STOP = 2500.0
T_START = 500.0


def network_stats(seed: int) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    trains, pops = [], []
    for k, (size, mean) in enumerate(zip(SIZES, MEAN_RATES)):
        for rate in rng.gamma(2.0, mean / 2.0, size):
            trains.append(np.sort(rng.uniform(0.0, T_STOP, rng.poisson(rate * T_STOP / 1000.0))))
        pops += [f"P{k}"] * size
    neurons = np.arange(1, len(trains) + 1)
    senders = np.concatenate([np.full(len(t), n) for n, t in zip(neurons, trains)])
    ds = ragged_dataset(neurons, pops, senders, np.concatenate(trains), {"t_start": T_START, "t_stop": T_STOP})
    return validation.storage_precision(analysis.statistics(ds, T_START, T_STOP, sample_size=30))


def held_out() -> int:
    for ref in validation.available_references():
        passed = validation.held_out(ref.stats)
        failed = ~passed
        cells = ", ".join(f"seed {int(passed['seed'][k])} {passed['population'].values[p]} "
                          f"{passed['observable'].values[o]}" for k, o, p in np.argwhere(failed.values))
        n = ref.stats.sizes["seed"]
        print(f"{ref.name}: {int(failed.any(('observable', 'population')).sum())} of {n} seeds fail a rule fitted "
              f"on the other {n - 1} ({int(failed.sum())} of {failed.size} cells{': ' + cells if cells else ''})",
              flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--seeds", type=int, nargs="+", default=[5, 10], help="reference sizes n")
    p.add_argument("--references", type=int, default=10, help="reference ensembles per size")
    p.add_argument("--runs", type=int, default=20, help="new runs per reference")
    p.add_argument("--held-out", action="store_true", help="check the shipped reference sets out of sample")
    args = p.parse_args(argv)
    if args.held_out:
        return held_out()
    alphas = (0.01, 0.05)
    total = {a: 0 for a in alphas}
    count = 0
    for n in args.seeds:
        fails = {a: 0 for a in alphas}
        for r in range(args.references):
            base = 1_000_000 * n + 10_000 * r
            ens = validation.ensemble([network_stats(base + k) for k in range(n)], list(range(n)))
            members = [ens.isel(seed=k) for k in range(n)]
            loo = validation.leave_one_out(ens)
            thresholds = {a: validation.calibrate(loo, a)["threshold"] for a in alphas}
            for k in range(args.runs):
                d = validation.ks_to_pool(network_stats(base + 5_000 + k), members)
                for a in alphas:
                    fails[a] += bool((d > thresholds[a]).any())
        runs = args.references * args.runs
        count += runs
        for a in alphas:
            total[a] += fails[a]
        print(f"n = {n:2d} seeds: " + ", ".join(f"alpha {a:g}: {fails[a]} of {runs} correct runs fail"
                                                for a in alphas), flush=True)
    print("all: " + ", ".join(f"alpha {a:g}: {total[a]} of {count} ({100 * total[a] / count:.1f} %)" for a in alphas))
    return 0


if __name__ == "__main__":
    sys.exit(main())
