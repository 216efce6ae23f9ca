"""Make the figures of the README and docs/ from a run folder (PNG, each < 250 kB).

    python docs/figures/make_figures.py RUN_DIR [--reference NAME] [--prefix PREFIX] [--only NAME ...]

writes into docs/figures/ ``<PREFIX>raster_plot.png``, ``<PREFIX>box_plot.png``, and, when the run
allows them, ``<PREFIX>distributions.png`` (a reference set for its scale and background),
``<PREFIX>vm_traces.png`` (membrane potentials recorded), ``<PREFIX>power_spectra.png`` (at least
500 ms analysed; with the mean-field prediction) and ``<PREFIX>stimulus_response.png`` (thalamic
pulses): the figures ``python -m microcircuit.run``, ``.validate`` and ``.analyse`` write, at a
lower resolution. ``--only stimulus_response`` (for example) makes only the figures named.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from microcircuit import analysis, plots, theory, validation  # noqa: E402
from microcircuit.errors import ConfigError  # noqa: E402
from microcircuit.output import load_spikes, stored_run  # noqa: E402
from microcircuit.parameters import derive  # noqa: E402
from microcircuit.plots.files import response_figure  # noqa: E402


NAMES = ("raster_plot", "box_plot", "distributions", "vm_traces", "power_spectra", "stimulus_response")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--reference", help="reference set (default: chosen as validate does)")
    p.add_argument("--prefix", default="", help="file name prefix")
    p.add_argument("--raster-ms", type=float, default=plots.RASTER_WINDOW_MS, help="raster window length (ms)")
    p.add_argument("--vm-ms", type=float, default=200.0, help="window of the membrane-potential figure (ms)")
    p.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME",
                   help=f"make only these figures (of {', '.join(NAMES)})")
    args = p.parse_args(argv)
    wanted = set(args.only or NAMES)
    ds = load_spikes(args.run_dir / "spikes.nc")
    t_start, t_stop = analysis.window(ds)
    written = []

    def save(fig, name, dpi):
        written.append(HERE / f"{args.prefix}{name}")
        fig.savefig(written[-1], dpi=dpi)

    if "raster_plot" in wanted:
        save(plots.raster_plot(ds, t_start, min(t_stop, t_start + args.raster_ms)), "raster_plot.png", 130)
    if "box_plot" in wanted:
        box = plots.rate_box_plot(analysis.firing_rates(ds, t_start, t_stop),
                                  types=plots.population_types(ds, analysis.population_names(ds)),
                                  title=f"{plots.run_title(ds.attrs)}\nper-neuron firing rates in "
                                        f"[{t_start:g}, {t_stop:g}] ms")
        save(box, "box_plot.png", 110)
    if "distributions" in wanted:
        try:
            v = validation.validate(ds, args.reference)
        except ConfigError as exc:
            print(f"no validation figure: {exc}")
        else:
            fig = plots.distributions(v.stats, v.reference.stats, ks=v.result["d_run"], passed=v.result["passed"],
                                      label=f"NESTML run (seed {ds.attrs['seed']})",
                                      reference_label=f"reference {v.reference.name} ({v.reference.stats.sizes['seed']} "
                                                      "seeds, min-max)", title=plots.validation_title(v, ds.attrs))
            save(fig, "distributions.png", 70)
    if "V_m" in ds and "vm_traces" in wanted:
        save(plots.vm_traces(ds, t_start, min(t_stop, t_start + args.vm_ms)), "vm_traces.png", 90)
    if t_stop - t_start >= 500.0 and "power_spectra" in wanted:
        spectrum = analysis.power_spectrum(ds, t_start, t_stop)
        config, table = stored_run(ds.attrs)
        d = derive(config, table)
        f = spectrum["frequency"].values
        predicted = theory.power_spectra(config, d, frequencies=f[f > 0])
        title = (f"{plots.run_title(ds.attrs)}\npower spectra of the population spike counts (1 ms bins) in "
                 f"[{t_start:g}, {t_stop:g}] ms, {spectrum.attrs['n_segments']} segments of 500 ms")
        save(plots.spectra_plot(spectrum, predicted, title=title), "power_spectra.png", 90)
    figure = response_figure(ds) if "stimulus_response" in wanted else None
    if figure is not None:
        save(figure, "stimulus_response.png", 100)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
