"""Make the figures of docs/validation.md from a run folder (PNG, each < 200 kB).

    python docs/figures/make_figures.py RUN_DIR [--reference NAME] [--prefix PREFIX]

writes ``<PREFIX>raster_plot.png``, ``<PREFIX>box_plot.png`` and ``<PREFIX>distributions.png``
into docs/figures/ (the same figures as ``python -m microcircuit.run`` and
``python -m microcircuit.validate`` write, at a lower resolution).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from microcircuit import analysis, plots, validate  # noqa: E402
from microcircuit.output import load_spikes  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--reference", help="reference set (default: chosen as validate does)")
    p.add_argument("--prefix", default="", help="file name prefix")
    p.add_argument("--raster-ms", type=float, default=plots.RASTER_WINDOW_MS, help="raster window length (ms)")
    args = p.parse_args(argv)
    ds = load_spikes(args.run_dir / "spikes.nc")
    t_start, t_stop = analysis.window(ds)
    written = []
    fig = plots.raster_plot(ds, t_start, min(t_stop, t_start + args.raster_ms))
    written.append(HERE / f"{args.prefix}raster_plot.png")
    fig.savefig(written[-1], dpi=130)
    fig = plots.rate_box_plot(analysis.firing_rates(ds, t_start, t_stop),
                              types=plots.population_types(ds, analysis.population_names(ds)))
    written.append(HERE / f"{args.prefix}box_plot.png")
    fig.savefig(written[-1], dpi=100)
    v = validate.validate(ds, args.reference)
    fig = plots.distributions(v.stats, v.reference.stats, ks=v.result["d_run"], passed=v.result["passed"],
                              label=f"NESTML run (seed {ds.attrs['seed']})",
                              reference_label=f"reference {v.reference.name} ({v.reference.stats.sizes['seed']} "
                                              "seeds, min-max)")
    written.append(HERE / f"{args.prefix}distributions.png")
    fig.savefig(written[-1], dpi=70)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
