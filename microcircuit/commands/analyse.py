"""``python -m microcircuit.analyse RUN_DIR``: summarise a run: statistics, spectra, responses, figures.

Given a sweep's folder (``DIR/sweep.nc`` of ``python -m microcircuit.sweep``) instead, it prints a
table of the sweep's points and draws the sweep's figures (:mod:`microcircuit.plots.sweeps`).
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import analysis, plots, provenance, theory
from ..errors import ConfigError
from ..output import SPIKES_FILE, load_spikes, stored_config, stored_run, write_atomic
from ..parameters import derive
from ..sweep.results import RESULT_FILE as SWEEP_FILE
from ..sweep.results import irregularity_note
from . import common

log = logging.getLogger("microcircuit")

PROG = "python -m microcircuit.analyse"
TEXT_FILE = "analysis.txt"
DATA_FILE = "analysis.nc"
SPECTRA_FILE = "power_spectra.png"
DESCRIPTION = f"""\
Summarise a run from its spike file: per population the mean firing rate, the irregularity (ISI CV),
PD14's synchrony and whether the population is asynchronous-irregular (and the network's AIness),
the spike-count correlations and the largest peak of the power spectrum; for runs with thalamic
pulses, the trial-averaged response and its latencies. Writes the figures (raster, box plot, V_m
traces, response, power spectra with the mean-field prediction), the summary as text
(RUN_DIR/{TEXT_FILE}) and every result as one NetCDF file for xarray (RUN_DIR/{DATA_FILE}),
naming each file it writes.

Given a sweep's folder (with sweep.nc, of python -m microcircuit.sweep) or its sweep.nc instead, it
prints one line per point (status, AIness, rates, wall time, memory) and how many are ok, and writes
the sweep's figures into that folder (sweep_rates.png, sweep_ainess.png, sweep_rate_maps.png,
sweep_trials.png, whichever apply; docs/sweeps.md)."""
EXAMPLES = [
    "python -m microcircuit.analyse output",
    "python -m microcircuit.analyse runs/thalamic --response-window -20 80",
    "python -m microcircuit.analyse runs/full_dc --no-theory --t-stop 5500",
    "python -m microcircuit.analyse runs/fig8          # a sweep's folder: its points and figures",
]


def parser() -> common.ArgumentParser:
    p = common.ArgumentParser(prog=PROG, description=DESCRIPTION, examples=EXAMPLES)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                   help="a run's folder with spikes.nc (or the spike file itself), or a sweep's folder with sweep.nc "
                        "(or that file)")
    g = p.add_argument_group("analysis")
    g.add_argument("--t-start", type=float, metavar="MS", help="start of the window (default: end of the warm-up)")
    g.add_argument("--t-stop", type=float, metavar="MS", help="end of the window (default: end of what was simulated)")
    g.add_argument("--segment", type=float, default=500.0, metavar="MS",
                   help="segment length of the power spectra (default 500; resolution 1000/MS Hz)")
    g.add_argument("--response-window", type=float, nargs=2, default=(-50.0, 150.0), metavar=("FROM", "TO"),
                   help="lags around each pulse onset for the response (default -50 150 ms)")
    g.add_argument("--no-theory", action="store_true",
                   help="skip the mean-field prediction of the spectra (it takes 10-30 s)")
    g = p.add_argument_group("output")
    g.add_argument("--no-plots", action="store_true", help="write no figures")
    common.add_message_options(p, quiet="do not name the files written (the summary is still printed)")
    return p


def main(argv: list[str] | None = None) -> int:
    return common.run_command(PROG, parser(), _main, argv)


def _sweep_file(path: Path) -> Path | None:
    """The sweep result file RUN_DIR names (a folder with sweep.nc, or such a file), or None for a run."""
    if path.is_dir():
        spikes, sweep = (path / SPIKES_FILE).is_file(), (path / SWEEP_FILE).is_file()
        if spikes and sweep:
            raise ConfigError(f"{path} holds both a run's {SPIKES_FILE} and a sweep's {SWEEP_FILE}: give the file "
                              "to analyse")
        if not (spikes or sweep):
            raise ConfigError(f"no {SPIKES_FILE} (a run) or {SWEEP_FILE} (a sweep) in {path}")
        return path / SWEEP_FILE if sweep else None
    if path.is_file() and path.suffix == ".nc":
        try:
            with xr.open_dataset(path, engine="netcdf4") as ds:
                if "sweep_spec" in ds.attrs:
                    return path
        except Exception:  # noqa: BLE001 (an unreadable file is refused, with its cause, where it is read as a run's)
            pass
    return None


def _open(run_dir: Path) -> tuple[xr.Dataset, Path]:
    """The spike file of RUN_DIR (V_m left out: the figures read the part they draw) and its path."""
    path = run_dir / SPIKES_FILE if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise ConfigError(f"no {SPIKES_FILE} in {run_dir}" if run_dir.is_dir() else f"{run_dir} does not exist")
    try:
        ds = load_spikes(path, vm=False)
    except Exception as exc:  # netCDF4 raises OSError, xarray ValueError, ... (--debug shows which)
        raise ConfigError(f"{path} is not a readable spike file") from exc
    if "spike_time" not in ds or "t_start" not in ds.attrs:
        raise ConfigError(f"{path} is not a spike file written by python -m microcircuit.run")
    try:
        stored_config(ds.attrs)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return ds, path


def _main(args) -> int:
    sweep = _sweep_file(args.run_dir)
    if sweep is not None:
        return _analyse_sweep(args, sweep)
    if args.segment < 2.0:
        raise ConfigError(f"--segment {args.segment:g} is not allowed; must be >= 2 ms (two 1 ms bins)")
    ds, path = _open(args.run_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", analysis.IncompleteRunWarning)
        try:
            t_start, t_stop = analysis.window(ds)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    notes = [str(w.message) for w in caught]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.IncompleteRunWarning)  # said once, in the notes
        return _analyse(args, ds, path, (t_start, t_stop), notes)


def _analyse(args, ds: xr.Dataset, path: Path, window: tuple[float, float], notes: list[str]) -> int:
    folder = path.parent
    t_start, t_stop = window
    t_start = t_start if args.t_start is None else args.t_start
    t_stop = t_stop if args.t_stop is None else min(args.t_stop, t_stop)
    if not t_stop > t_start:
        raise ConfigError(f"empty window [{t_start:g}, {t_stop:g}] ms; --t-start must be before --t-stop and before "
                          f"the end of the simulated time")
    stats = analysis.statistics(ds, t_start, t_stop)
    summary = analysis.population_summary(stats)
    regime = analysis.ainess(ds, t_start, t_stop)
    for name in ("irregularity", "synchrony", "ai"):
        summary[name] = regime[name]
    summary["ainess"] = regime["ainess"]
    unresolved = analysis.too_few_spikes_for_irregularity(regime["rate"].values, t_stop - t_start)
    if unresolved.any():
        names = ", ".join(str(p) for p in regime["population"].values[unresolved])
        bound = analysis.AI_IRREGULARITY[0]
        notes.append(f"irregularity: {names} fire fewer than {analysis.IRREGULARITY_MIN_COUNT:g} spikes per neuron in "
                     f"the {t_stop - t_start:g} ms window, where even Poisson neurons get a CV under {bound:g}: a CV "
                     f"below {bound:g} there may be the window's, not the neurons' (PD14 measured 60 s; docs/sweeps.md)")
    spectrum = predicted = peaks = None
    if t_stop - t_start >= args.segment:
        spectrum = analysis.power_spectrum(ds, t_start, t_stop, segment=args.segment)
        peaks = analysis.spectral_peaks(spectrum)
        if not args.no_theory:
            predicted = _predicted_spectra(ds, spectrum)
    else:
        notes.append(f"no power spectra: the window ({t_stop - t_start:g} ms) is shorter than one {args.segment:g} ms "
                     "segment (--segment)")
    response = latency = None
    if analysis.stimulus_onsets(ds).size:
        try:
            response = analysis.stimulus_response(ds, window=tuple(args.response_window))
            latency = analysis.response_latency(response)
        except ValueError as exc:
            response = latency = None
            notes.append(f"no stimulus response: {exc}")
        else:
            if spectrum is not None:
                notes.append("the power spectra include the responses to the stimulus pulses")
    text = report(ds, (t_start, t_stop), summary, peaks, predicted, latency, response, notes)
    print(text)
    written = [_write_text(folder / TEXT_FILE, text),
               _write_data(folder / DATA_FILE, ds, (t_start, t_stop), summary, spectrum, predicted, response, latency)]
    if not args.no_plots:
        written += _figures(ds, path, (t_start, t_stop), spectrum, predicted, tuple(args.response_window))
    for file in written:
        log.info("wrote %s", file)
    return 0


def _analyse_sweep(args, path: Path) -> int:
    """A sweep's result file: the table of its points, then its figures next to it."""
    given = [flag for flag, value in (("--t-start", args.t_start), ("--t-stop", args.t_stop)) if value is not None]
    if given:
        raise ConfigError(f"{' and '.join(given)} set the window of a run; every point of the sweep in {path} was "
                          "summarised in its own window (end of the warm-up to the end)")
    try:
        ds = xr.load_dataset(path, engine="netcdf4")
    except Exception as exc:  # noqa: BLE001 (netCDF4 raises OSError, xarray ValueError, ...; --debug shows which)
        raise ConfigError(f"{path} is not a readable sweep result file") from exc
    missing = [name for name in ("status", "ainess", "rate") if name not in ds]
    if missing or "population" not in ds.dims:
        raise ConfigError(f"{path} is not a sweep result file written by python -m microcircuit.sweep (no "
                          f"{', '.join(missing) or 'population dimension'})")
    print(sweep_report(ds))
    if args.no_plots:
        return 0
    from .sweep import write_figures

    return 0 if write_figures(ds, path.parent) is not None else 1


def sweep_report(ds: xr.Dataset) -> str:
    """The text summary of a sweep: its points by outcome, the AIness range, then one line per point."""
    counts = plots.sweeps.missing_points(ds)
    ok = ds["status"].astype(str) == "ok"
    ainess = ds["ainess"].where(ok).values
    lines = [plots.sweeps.sweep_title(ds),
             f"points: {counts['ok']} ok, {counts['failed']} failed, {counts['pending']} not run"]
    if np.isfinite(ainess).any():
        low, high = np.nanmin(ainess), np.nanmax(ainess)
        lines[-1] += (f"; AIness {low:.0f} % at every ok point" if low == high else
                      f"; AIness {low:.0f} to {high:.0f} % (mean {np.nanmean(ainess):.0f} %) over the ok points")
    dims = list(ds["status"].dims)
    names = [c for d in dims for c in ([d] if d in ds.coords else []) +
             [c for c in ds.coords if ds[c].dims == (d,) and c != d]]
    names = names or ["point"]
    widths = [max(len(n), 7) for n in names]
    kinds = plots.population_types(ds, [str(p) for p in ds["population"].values])
    exc = np.array([k == "E" for k in kinds])
    lines += ["", "point   " + " ".join(f"{n:>{w}}" for n, w in zip(names, widths)) +
              f" {'AIness':>6} {'rate E':>7} {'rate I':>7} {'wall':>6} {'memory':>6}  status",
              "        " + " ".join(f"{'':>{w}}" for w in widths) +
              f" {'(%)':>6} {'(1/s)':>7} {'(1/s)':>7} {'(s)':>6} {'(MB)':>6}"]
    rate = ds["rate"].transpose(*dims, "population").values
    shape = tuple(ds.sizes[d] for d in dims)
    for number, index in enumerate(np.ndindex(*shape) if shape else [()]):
        at = dict(zip(dims, index))
        cells = []
        for name, w in zip(names, widths):
            value = ds[name].isel({d: i for d, i in at.items() if d in ds[name].dims}).values if name in ds else number
            value = value.item() if hasattr(value, "item") else value
            cells.append(f"{value:>{w}g}" if isinstance(value, float) else f"{value!s:>{w}}")
        r = rate[index]
        row = (f"p{number:05d}  " + " ".join(cells) + f" {_num(ds['ainess'].values[index], 6, 0)}"
               f" {_num(np.mean(r[exc]) if exc.any() else np.nan, 7, 2)}"
               f" {_num(np.mean(r[~exc]) if (~exc).any() else np.nan, 7, 2)}"
               f" {_num(ds['wall_time'].values[index] if 'wall_time' in ds else np.nan, 6, 1)}"
               f" {_num(ds['peak_memory'].values[index] if 'peak_memory' in ds else np.nan, 6, 0)}"
               f"  {ds['status'].values[index]}")
        lines.append(row)
    lines += ["", "rate E, rate I: the populations' rates averaged over the excitatory and over the inhibitory populations "
              "(each population counts once, whatever its size); AIness: share of "
              "populations asynchronous-irregular (Potjans & Diesmann 2014); wall: the point's build, simulation "
              "and summary; memory: its peak (\"-\": unknown, or the point did not run)"]
    note = irregularity_note(ds)
    if note:
        lines += ["", f"note: {note}"]
    return "\n".join(lines)


def _predicted_spectra(ds: xr.Dataset, spectrum: xr.DataArray) -> xr.DataArray | None:
    """The mean-field spectra for the configuration and table stored in the file (None if not possible)."""
    try:
        config, table = stored_run(ds.attrs)
        f = spectrum["frequency"].values
        return theory.power_spectra(config, derive(config, table), frequencies=f[f > 0],
                                    bin_size=float(spectrum.attrs["bin_size"]))
    except Exception as exc:  # the summary does not depend on the theory
        log.warning("no mean-field spectra for this run (%s: %s)", type(exc).__name__, exc)
        return None


def report(ds, window, summary, peaks, predicted, latency, response, notes) -> str:
    """The text summary: one line per population, then the stimulus response."""
    t0, t1 = window
    software, neuron = provenance.summary(ds.attrs)
    lines = [plots.run_title(ds.attrs) or "run", f"software: {software}", f"neuron: {neuron}",
             f"window [{t0:g}, {t1:g}] ms ({(t1 - t0) / 1000:g} s)"]
    lines += [f"note: {n}" for n in notes]
    head = (f"{'population':<10} {'neurons':>7} {'rate':>7} {'sd':>7} {'silent':>7} {'CV':>6} {'irreg.':>6} "
            f"{'sync':>6} {'AI':>3} {'CC mean':>9} {'CC sd':>8} {'peak':>6} {'peak/':>6} {'theory':>7}")
    unit = (f"{'':<10} {'':>7} {'(1/s)':>7} {'(1/s)':>7} {'(%)':>7} {'median':>6} {'':>6} {'':>6} {'':>3} "
            f"{'(1e-3)':>9} {'(1e-3)':>8} {'(Hz)':>6} {'median':>6} {'(Hz)':>7}")
    lines += ["", head, unit]
    theory_peaks = analysis.spectral_peaks(predicted) if predicted is not None else None
    for pop in summary["population"].values:
        s = summary.sel(population=pop)
        row = (f"{pop!s:<10} {int(s.n_neurons):>7} {float(s.rate_mean):>7.3f} {float(s.rate_sd):>7.3f} "
               f"{100 * float(s.silent_fraction):>7.1f} {_num(s.cv_median, 6, 2)} {_num(s.irregularity, 6, 2)} "
               f"{_num(s.synchrony, 6, 2)} {'yes' if bool(s.ai) else 'no':>3} {_num(s.cc_mean * 1e3, 9, 3)} "
               f"{_num(s.cc_sd * 1e3, 8, 3)}")
        if peaks is not None:
            p = peaks.sel(population=pop)
            row += f" {float(p.peak_frequency):>6.0f} {float(p.peak_ratio):>6.1f}"
            row += (f" {float(theory_peaks.sel(population=pop).peak_frequency):>7.0f}" if theory_peaks is not None
                    else f" {'-':>7}")
        lines.append(row)
    lines += ["", f"AIness {float(summary['ainess']):.0f} %: the share of populations in the asynchronous-irregular "
              "state (AI: rate < 30 spikes/s, 0.7 <= irregularity <= 1.2, synchrony < 8; Potjans & Diesmann 2014)",
              "", "rate: mean over neurons (sd over neurons, silent ones included); CV: median ISI CV of neurons with "
              ">= 3 spikes; irreg.: mean ISI CV and sync: variance / mean of the population's spike count in 3 ms "
              "bins, both of a sample of 1000 neurons per population (PD14); CC: Pearson correlation of 2 ms spike "
              "counts, pairs of a sample of 100 neurons; peak: largest peak of the power spectrum above 10 Hz, its "
              "height over the spectrum's median, and the peak of the mean-field prediction"]
    if latency is not None:
        r = response.attrs
        lines += ["", f"response to {r['n_trials']} thalamic pulses (trial average, {r['bin_size']:g} ms bins; "
                      f"a population responds when it rises {latency.attrs['threshold_sd']:g} sd of its baseline "
                      "above the baseline):",
                  f"{'population':<10} {'baseline':>9} {'onset':>7} {'peak':>7} {'amplitude':>10}",
                  f"{'':<10} {'(1/s)':>9} {'(ms)':>7} {'(ms)':>7} {'(1/s)':>10}"]
        for pop in latency["population"].values:
            x = latency.sel(population=pop)
            if bool(x.responds):
                lines.append(f"{pop!s:<10} {float(x.baseline):>9.2f} {float(x.onset_latency):>7.1f} "
                             f"{float(x.peak_latency):>7.1f} {float(x.peak_amplitude):>10.1f}")
            else:
                lines.append(f"{pop!s:<10} {float(x.baseline):>9.2f} {'no response':>26}")
    return "\n".join(lines)


def _num(value, width: int, digits: int) -> str:
    v = float(value)
    return f"{v:>{width}.{digits}f}" if np.isfinite(v) else f"{'-':>{width}}"


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    return path


def _write_data(path: Path, ds, window, summary, spectrum, predicted, response, latency) -> Path:
    """Every result in one NetCDF file: open it with ``xarray.open_dataset``."""
    out = summary.copy()
    if spectrum is not None:
        out["power"] = spectrum.drop_vars("n_neurons")
    if predicted is not None:
        out["power_predicted"] = predicted.drop_vars("n_neurons").rename(frequency="frequency_predicted")
    if response is not None:
        out["response"] = response.drop_vars(["n_neurons"]).rename(baseline="response_baseline",
                                                                   baseline_sd="response_baseline_sd",
                                                                   sem="response_sem")
        out["response"].attrs["onsets"] = json.dumps(response.attrs["onsets"])
        for name in ("responds", "onset_latency", "peak_latency", "peak_amplitude", "threshold"):
            out[name] = latency[name]
    out.attrs = {"title": "Summary of a microcircuit run (python -m microcircuit.analyse)",
                 "t_start": float(window[0]), "t_stop": float(window[1]),
                 "run": plots.run_title(ds.attrs), "run_status": str(ds.attrs.get("status", "complete"))}
    for var in out.data_vars:
        out[var].attrs = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in out[var].attrs.items()}
    if "responds" in out:  # NetCDF has no booleans
        out["responds"] = out["responds"].astype("i1").assign_attrs(long_name="1: the population responds")
    if "ai" in out:
        out["ai"] = out["ai"].astype("i1").assign_attrs(long_name="1: asynchronous-irregular (" +
                                                        out["ai"].attrs.get("long_name", "") + ")")
    write_atomic(out, path)
    return path


def _figures(ds, path: Path, window, spectrum, predicted, response_window) -> list[Path]:
    written = plots.save_run_figures(path, response_window=response_window)
    folder = path.parent
    if spectrum is not None or predicted is not None:
        t0, t1 = window
        title = "\n".join(filter(None, [
            plots.run_title(ds.attrs),
            f"power spectra of the population spike counts ({spectrum.attrs['bin_size']:g} ms bins) in "
            f"[{t0:g}, {t1:g}] ms, {spectrum.attrs['n_segments']} segments of {spectrum.attrs['segment']:g} ms",
            plots.incomplete_note(ds.attrs)]))
        fig = plots.spectra_plot(spectrum, predicted, title=title)
        fig.savefig(folder / SPECTRA_FILE, dpi=200)
        written.append(folder / SPECTRA_FILE)
    return written
