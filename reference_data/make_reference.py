"""Make the reference statistics in this folder (see README.md here).

Three steps, each resumable:

    # 1. simulate the reference seeds with NEST's built-in iaf_psc_exp (spike files go to RAW, not the repo)
    python reference_data/make_reference.py simulate scale0.1_poisson --raw RAW
    python reference_data/make_reference.py simulate scale1_dc --raw RAW           # ~12 GB, ~15 min per seed
    # 2. per-neuron statistics, seed-to-seed KS distances and the calibrated pass rule -> <SET>.nc
    python reference_data/make_reference.py analyse scale0.1_poisson_T10s --raw RAW
    python reference_data/make_reference.py analyse scale0.1_poisson_T1s --raw RAW
    python reference_data/make_reference.py analyse scale1_dc_T5s --raw RAW
    # 3. the former NEST example's data (1 s, seed 55) against scale0.1_poisson_T1s
    python reference_data/make_reference.py compare-nest-example

``simulate`` skips seeds whose spike file exists; ``analyse`` and ``compare-nest-example``
refuse to overwrite their output without ``--force``. The raw layout is
``RAW/<run set>/seed<SEED>/spikes.nc``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from microcircuit import analysis, plots, validation  # noqa: E402
from microcircuit.output import load_spikes, ragged_dataset  # noqa: E402

# The simulations: python -m microcircuit.run with these options, one run per seed.
RUN_SETS = {
    "scale0.1_poisson": {
        "options": ["--neuron", "builtin", "--scale", "0.1", "--background", "poisson",
                    "--t-presim", "500", "--t-sim", "10000", "--threads", "2"],
        "seeds": list(range(123450, 123460)),
    },
    "scale1_dc": {
        "options": ["--neuron", "builtin", "--scale", "1", "--background", "dc",
                    "--t-presim", "500", "--t-sim", "5000", "--threads", "2"],
        "seeds": list(range(123450, 123455)),
    },
}

# The reference sets: a run set analysed over [t_presim, t_presim + T].
SETS = {
    "scale0.1_poisson_T10s": {"runs": "scale0.1_poisson", "duration": 10000.0,
                              "description": "scale 0.1, Poisson background, 10 s after a 500 ms warm-up"},
    "scale0.1_poisson_T1s": {"runs": "scale0.1_poisson", "duration": 1000.0,
                             "description": "scale 0.1, Poisson background, the first 1 s after a 500 ms warm-up "
                                            "of the same runs (for short test runs)"},
    "scale1_dc_T5s": {"runs": "scale1_dc", "duration": 5000.0,
                      "description": "full scale, DC background, 5 s after a 500 ms warm-up"},
}

NEST_EXAMPLE = Path("/work/shared/reference_data/nest_example_scale0.1")
POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _refuse_overwrite(paths: list[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        sys.exit(f"make_reference.py: error: {', '.join(map(str, existing))} exists; pass --force to replace it")


def simulate(args) -> int:
    spec = RUN_SETS[args.run_set]
    seeds = args.seeds or spec["seeds"]
    for seed in seeds:
        out = args.raw / args.run_set / f"seed{seed}"
        if (out / "spikes.nc").exists():
            print(f"seed {seed}: {out / 'spikes.nc'} exists, skipped")
            continue
        cmd = [sys.executable, "-m", "microcircuit.run", *spec["options"], "--seed", str(seed), "--no-plots",
               "--output", str(out)]
        print("$", " ".join(cmd[1:]), flush=True)
        t0 = time.time()
        subprocess.run(cmd, check=True, cwd=ROOT)
        print(f"seed {seed}: {time.time() - t0:.0f} s", flush=True)
    return 0


def _run_command(run_set: str) -> str:
    return " ".join(["python -m microcircuit.run", *RUN_SETS[run_set]["options"], "--seed SEED", "--no-plots",
                     f"--output RAW/{run_set}/seedSEED"])


def analyse(args) -> int:
    spec = SETS[args.set]
    out = HERE / f"{args.set}.nc"
    summary_out = HERE / f"{args.set}.md"
    _refuse_overwrite([out, summary_out], args.force)
    folder = args.raw / spec["runs"]
    paths = sorted(folder.glob("seed*/spikes.nc"), key=lambda p: int(p.parent.name[4:]))
    if args.seeds:
        paths = [p for p in paths if int(p.parent.name[4:]) in args.seeds]
    if len(paths) < validation.MIN_SEEDS:
        sys.exit(f"make_reference.py: error: {len(paths)} spike files in {folder}; need at least {validation.MIN_SEEDS}")
    stats, seeds, configs, first = [], [], [], None
    for path in paths:
        ds = load_spikes(path)
        a = ds.attrs
        if a.get("status") != "complete" or a.get("neuron_model") != "builtin":
            sys.exit(f"make_reference.py: error: {path} is not a complete run with the built-in neuron")
        t_start = float(a["t_start"])
        if float(a["t_stop"]) < t_start + spec["duration"]:
            sys.exit(f"make_reference.py: error: {path} covers less than {spec['duration']:g} ms")
        st = analysis.statistics(ds, t_start, t_start + spec["duration"], bin_size=analysis.CC_BIN_SIZE,
                                 sample_size=analysis.CC_SAMPLE_SIZE, rng=analysis.CC_SAMPLE_SEED)
        stats.append(st)
        seeds.append(int(a["seed"]))
        cfg = json.loads(a["config"])
        cfg["simulation"].pop("seed")
        configs.append(cfg)
        first = first or a
        print(f"seed {a['seed']}: {ds.sizes['spike']} spikes, {time.strftime('%H:%M:%S')}", flush=True)
    # options added to the package while the runs were made appear in the later configs only;
    # the runs must agree on every option they all have (the added ones at their default)
    common = {sec: set.intersection(*(set(c[sec]) for c in configs)) for sec in configs[0]}
    if any({k: c[sec][k] for k in common[sec]} != {k: configs[0][sec][k] for k in common[sec]}
           for c in configs for sec in common):
        sys.exit("make_reference.py: error: the runs differ in more than the seed")
    added = sorted({f"{sec}.{k}" for c in configs for sec in c for k in set(c[sec]) - common[sec]})
    ens = validation.ensemble(stats, seeds)
    ks = validation.reference_ks(ens)
    attrs = {
        "name": args.set,
        "title": f"PD14 reference statistics: {spec['description']}",
        "description": spec["description"],
        "t_start": float(first["t_start"]),
        "t_stop": float(first["t_start"]) + spec["duration"],
        "window_comment": "per-neuron statistics over [t_start, t_stop] ms (absolute time, both ends inclusive)",
        "n_scaling": float(first["n_scaling"]), "k_scaling": float(first["k_scaling"]),
        "background": first["background"], "neuron_model": first["neuron_model"],
        "nest_neuron_model": first.get("nest_neuron_model", ""),
        "threads": int(first["threads"]), "virtual_processes": int(first["virtual_processes"]),
        "resolution": float(first["resolution"]),
        "seeds": ",".join(map(str, seeds)),
        "bin_size": analysis.CC_BIN_SIZE, "cc_sample_size": analysis.CC_SAMPLE_SIZE,
        "cc_sample_seed": analysis.CC_SAMPLE_SEED,
        "cv_min_spikes": 3,
        "simulation_command": _run_command(spec["runs"]),
        "analysis_command": f"python reference_data/make_reference.py analyse {args.set} --raw RAW",
        "config": json.dumps(dict(configs[0], simulation=dict(configs[0]["simulation"], seed=seeds[0])),
                             sort_keys=True),
        "config_options_added_during_the_runs": ", ".join(
            f"{name} = {configs[-1][name.split('.')[0]][name.split('.')[1]]!r}" for name in added) or "none",
        "microcircuit_version": first.get("microcircuit_version", ""),
        "nest_version": first.get("nest_version", ""),
        "git_commit_analysis": _git_commit(),
        "date_created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rule": "a run passes a cell (population, observable) when its mean KS distance to the reference seeds "
                "<= mu + c sd of the seed-to-seed distances; c from leave-one-seed-out, see group ks",
    }
    validation.write_reference(out, ens, ks, attrs)
    text = summary(validation.load_reference(out))
    summary_out.write_text(f"# {args.set}\n\n{spec['description']}; made by\n\n"
                           f"    {attrs['simulation_command']}\n    {attrs['analysis_command']}\n\n{text}\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {summary_out}")
    print(text)
    return 0


def summary(ref: validation.Reference) -> str:
    """Markdown tables: per-population statistics (mean ± sd over seeds) and seed-to-seed KS distances."""
    per_seed = [analysis.population_summary(ref.stats.isel(seed=k)) for k in range(ref.stats.sizes["seed"])]
    s = xr.concat(per_seed, dim="seed")
    pops = list(s["population"].values)
    lines = [f"**{ref.name}** ({ref.stats.sizes['seed']} seeds, T = {ref.duration / 1000:g} s): "
             "mean ± sd over seeds", "",
             "| | " + " | ".join(pops) + " |", "|---|" + "---|" * len(pops)]
    for var, fmt in (("rate_mean", "{:.3f} ± {:.3f}"), ("silent_fraction", "{:.3f} ± {:.3f}"),
                     ("cv_mean", "{:.3f} ± {:.3f}"), ("cc_mean", "{:.4f} ± {:.4f}")):
        m, sd = s[var].mean("seed"), s[var].std("seed", ddof=1)
        lines.append(f"| {var} | " + " | ".join(fmt.format(float(a), float(b)) for a, b in zip(m, sd)) + " |")
    lines += ["", f"seed-to-seed KS distance D(seed, seed), mean ± sd over {ref.ks.sizes['seed_pair']} pairs", "",
              "| | " + " | ".join(pops) + " |", "|---|" + "---|" * len(pops)]
    for obs in analysis.OBSERVABLES:
        mu, sd = ref.ks["mu"].sel(observable=obs), ref.ks["sd"].sel(observable=obs)
        lines.append(f"| {obs} | " + " | ".join(f"{float(a):.3f} ± {float(b):.3f}" for a, b in zip(mu, sd)) + " |")
    lines += ["", "leave-one-out distance D(seed, other seeds pooled), mean ± sd over seeds, and the threshold "
                  "on D(run, all seeds pooled)", "",
              "| | " + " | ".join(pops) + " |", "|---|" + "---|" * len(pops)]
    loo = ref.ks["loo"]
    for obs in analysis.OBSERVABLES:
        m, sd = loo.sel(observable=obs).mean("loo_seed"), loo.sel(observable=obs).std("loo_seed", ddof=1)
        lines.append(f"| {obs} D(seed, rest) | " + " | ".join(f"{float(a):.4f} ± {float(b):.4f}" for a, b in zip(m, sd))
                     + " |")
        lines.append(f"| {obs} threshold | " + " | ".join(f"{float(t):.4f}" for t in
                                                         ref.ks["threshold"].sel(observable=obs)) + " |")
    k = ref.ks.attrs
    lines += ["", "pooled log-sd of D(seed, rest): " + ", ".join(
        f"{o} {float(x):.3f}" for o, x in zip(ref.ks["log_sd"]["observable"].values, ref.ks["log_sd"].values))
        + f"; t quantile {float(k['rule_quantile']):.3f} ({int(k['rule_dof'])} dof, alpha {float(k['rule_alpha']):g} "
        f"over {int(k['rule_n_cells'])} cells); threshold factors " + ", ".join(
        f"{o} {float(x):.2f}" for o, x in zip(ref.ks["factor"]["observable"].values, ref.ks["factor"].values))
        + f"; in sample (every seed is part of the fit), seeds above a threshold: {int(k['rule_loo_failures'])} of "
        f"{ref.stats.sizes['seed']} (out of sample: `python reference_data/check_rule.py --held-out`)"]
    return "\n".join(lines)


def load_nest_example(folder: Path = NEST_EXAMPLE) -> xr.Dataset:
    """The former NEST example's spike files as a spike Dataset (format: docs/model.md §11)."""
    bounds = np.loadtxt(folder / "population_nodeids.dat", dtype=np.int64)
    neurons = np.arange(bounds[0, 0], bounds[-1, 1] + 1)
    populations = np.repeat(POPULATIONS, bounds[:, 1] - bounds[:, 0] + 1)
    senders, times = [], []
    for f in sorted(folder.glob("spike_recorder-*.dat")):
        data = np.loadtxt(f, skiprows=3, ndmin=2)
        senders.append(data[:, 0].astype(np.int64))
        times.append(data[:, 1])
    attrs = {"t_start": 500.0, "t_stop": 1500.0, "seed": 55, "n_scaling": 0.1, "k_scaling": 0.1,
             "background": "poisson", "neuron_model": "builtin (NEST master@7c40d9e9a, Dec 2022)",
             "source": str(folder)}
    ds = ragged_dataset(neurons, populations, np.concatenate(senders), np.concatenate(times), attrs)
    # the stored per-neuron rates must be reproduced exactly (docs/model.md §11)
    rates = analysis.firing_rates(ds, 500.0, 1500.0).values
    stored = np.concatenate([np.loadtxt(folder / f"rate{k}.dat") for k in range(len(POPULATIONS))])
    if not np.allclose(rates, stored):
        sys.exit("make_reference.py: error: rates recomputed from the NEST example's spikes differ from rate*.dat")
    return ds


def window_rates(folder: Path, theirs: xr.DataArray, window: float = 1000.0) -> list[str]:
    """Population mean rates of every whole 1 s window after the warm-up of every 10 s reference run."""
    rows = []
    paths = sorted(folder.glob("seed*/spikes.nc"))
    for path in paths:
        ds = load_spikes(path)
        t0, t1 = analysis.window(ds)
        for start in np.arange(t0, t1 - window + 1e-9, window):
            rows.append(analysis.population_mean_rates(ds, start, start + window))
    rates = xr.concat(rows, dim="window")
    lines = [f"population mean rate (spikes/s) in all {rates.sizes['window']} consecutive 1 s windows of the "
             f"{len(paths)} runs (10 per run):",
             f"{'population':<10} {'NEST example':>12} {'windows mean ± sd':>20} {'[min, max]':>16} "
             f"{'fraction below the example':>27}"]
    for pop in rates["population"].values:
        r = rates.sel(population=pop)
        t = float(theirs.sel(population=pop))
        lines.append(f"{pop:<10} {t:12.3f} {float(r.mean()):11.3f} ± {float(r.std(ddof=1)):6.3f} "
                     f"[{float(r.min()):6.3f}, {float(r.max()):6.3f}] {float((r < t).mean()):27.2f}")
    return lines


def compare_nest_example(args) -> int:
    text_out, fig_out = HERE / "nest_example_comparison.txt", HERE / "nest_example_comparison.png"
    _refuse_overwrite([text_out, fig_out], args.force)
    ref = validation.load_reference(HERE / "scale0.1_poisson_T1s.nc")
    ds = load_nest_example(args.nest_example)
    v = validation.validate(ds, reference=str(ref.path))
    lines = [validation.report(v, f"former NEST example data ({args.nest_example})", ds.attrs), ""]
    # population mean rates: the example against the spread of our seeds' first 1 s
    ours = xr.concat([analysis.population_summary(ref.stats.isel(seed=k))["rate_mean"]
                      for k in range(ref.stats.sizes["seed"])], dim="seed")
    theirs = analysis.population_summary(v.stats)["rate_mean"]
    lines += ["population mean rate (spikes/s), window [500, 1500] ms:",
              f"{'population':<10} {'NEST example':>12} {'our seeds mean ± sd':>20} {'[min, max]':>16} {'z':>6}"]
    for pop in ours["population"].values:
        o = ours.sel(population=pop)
        z = (float(theirs.sel(population=pop)) - float(o.mean())) / float(o.std(ddof=1))
        lines.append(f"{pop:<10} {float(theirs.sel(population=pop)):12.3f} {float(o.mean()):11.3f} ± "
                     f"{float(o.std(ddof=1)):6.3f} [{float(o.min()):6.3f}, {float(o.max()):6.3f}] {z:6.2f}")
    if args.raw is not None:
        lines += ["", *window_rates(args.raw / "scale0.1_poisson", theirs)]
    raw = " --raw RAW" if args.raw is not None else ""
    lines += ["", f"made by: python reference_data/make_reference.py compare-nest-example{raw}"]
    text_out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    fig = plots.distributions(v.stats, ref.stats, ks=v.result["d_run"], passed=v.result["passed"],
                              label="former NEST example (seed 55)",
                              reference_label=f"this package, builtin neuron ({ref.stats.sizes['seed']} seeds, min-max)")
    fig.savefig(fig_out, dpi=60)
    print(f"wrote {text_out} and {fig_out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python reference_data/make_reference.py", description=__doc__.splitlines()[0],
                                allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="run the reference simulations (skips seeds already done)")
    s.add_argument("run_set", choices=sorted(RUN_SETS))
    s.add_argument("--raw", type=Path, required=True, help="folder for the spike files (outside the repository)")
    s.add_argument("--seeds", type=int, nargs="+", help="only these seeds (default: the set's seeds)")
    s.set_defaults(func=simulate)
    a = sub.add_parser("analyse", help="statistics and KS distances of a set -> reference_data/<SET>.nc")
    a.add_argument("set", choices=sorted(SETS))
    a.add_argument("--raw", type=Path, required=True, help="folder with the spike files")
    a.add_argument("--seeds", type=int, nargs="+", help="only these seeds (default: all found)")
    a.add_argument("--force", action="store_true", help="replace an existing output file")
    a.set_defaults(func=analyse)
    c = sub.add_parser("compare-nest-example", help="the former NEST example's data against scale0.1_poisson_T1s")
    c.add_argument("--nest-example", type=Path, default=NEST_EXAMPLE, help="folder with its files")
    c.add_argument("--raw", type=Path, help="folder with the reference spike files: adds the rates of all 1 s windows")
    c.add_argument("--force", action="store_true", help="replace existing output files")
    c.set_defaults(func=compare_nest_example)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
