"""One run of the microcircuit: derive, build, simulate, write the spike file.

This is the function the command line, the benchmark and the tests call.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from . import analysis, network, parallel, resources
from .connectivity import DEFAULT_TABLE, check_table, load_table
from .errors import ConfigError, SetupError
from .output import SPIKES_FILE, STATUS_COMPLETE, SpikeWriter, load_spikes, merge_partials
from .parameters import Config, Derived, derive, subthreshold_populations

log = logging.getLogger("microcircuit")


@dataclass
class RunResult:
    """What a run produced."""

    config: Config
    derived: Derived
    spikes_path: Path | None
    t_reached: float
    status: str
    timings: dict[str, float] = field(default_factory=dict)
    kernel: dict = field(default_factory=dict)
    mean_rates: xr.DataArray | None = None
    prediction: xr.Dataset | None = None   # mean-field theory (microcircuit.theory.predict)
    peak_rss_mb: float = 0.0
    estimated_mb: float = 0.0

    @property
    def complete(self) -> bool:
        return self.status == STATUS_COMPLETE


def package_version() -> str:
    try:
        return importlib.metadata.version("microcircuit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _nestml_version(config: Config) -> str:
    if config.network.neuron_model != "nestml":
        return "not used"
    manifest = network.build_dir() / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text()).get("nestml_version", "unknown")
    return "unknown"


def table_for(config: Config) -> xr.Dataset:
    """The connectivity table a config names (the PD14 table by default)."""
    return load_table(config.network.connectivity or DEFAULT_TABLE)


def table_to_json(table: xr.Dataset) -> str:
    return json.dumps(table.to_dict(data="list"), sort_keys=True)


def table_from_json(text: str) -> xr.Dataset:
    return check_table(xr.Dataset.from_dict(json.loads(text)), name="connectivity table stored in the spike file")


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag that the run loop checks after every chunk.

    On several MPI processes the check is collective (every rank calls it once per chunk):
    the ranks agree to stop when any of them got a signal, so that all stop after the same
    chunk; ``signal_name`` is then the first rank's signal on every rank.
    """

    def __init__(self):
        self.signal_name: str | None = None
        self.stopped = False
        self._saved = {}

    def __call__(self) -> bool:
        if not self.stopped:
            names = [n for n in parallel.allgather(self.signal_name) if n is not None]
            if names:
                self.signal_name = names[0]
                self.stopped = True
        return self.stopped

    def _handler(self, signum, frame):
        if self.signal_name is not None:  # second signal: give up immediately
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: stopping after the current chunk and writing what was simulated",
                    self.signal_name)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        return False


def run(config: Config, output_dir: str | Path | None = "output", overwrite: bool = False,
        table: xr.Dataset | None = None, progress=None, check_memory: bool = True) -> RunResult:
    """Build and simulate the network of ``config``; write ``output_dir/spikes.nc`` when recording.

    Parameters
    ----------
    config : Config
        All parameters of the run.
    output_dir : path or None
        Folder for ``spikes.nc``; None (or ``config.simulation.record = False``) writes nothing.
    overwrite : bool
        Replace an existing ``spikes.nc``. Without it an existing file is an error,
        raised before anything is built.
    table : xarray.Dataset, optional
        A checked connectivity table; by default the one ``config.network.connectivity`` names.
    progress : callable, optional
        ``progress(phase, done, total)``: phase "connect" during construction (steps), then
        "simulate" after every simulated chunk (model time in ms).
    check_memory : bool
        Refuse to build a network whose estimated memory need exceeds the available memory.

    Returns
    -------
    RunResult
    """
    if output_dir is None and config.simulation.record:
        config = dataclasses.replace(config, simulation=dataclasses.replace(config.simulation, record=False))
    sim = config.simulation
    try:
        table, derived, out_path, need = _prepare(config, output_dir, overwrite, table, check_memory)
    except (ConfigError, SetupError) as exc:
        if not parallel.several():
            raise
        # on several MPI processes, every rank learns about every rank's error before NEST builds anything
        raise parallel.AgreedError(parallel.checkpoint((str(exc), 2))) from None
    failure = parallel.checkpoint()  # one process: imports NEST and returns at once
    if failure is not None:
        raise parallel.AgreedError(failure)
    prediction = _predict(config, table) if parallel.is_root() else None  # only rank 0 logs and reports
    record = sim.record
    n_procs = parallel.size()
    if not parallel.is_root():
        progress = None  # progress is reported by rank 0
    if n_procs > 1:
        log.info("running on %d MPI processes x %d threads", n_procs, sim.threads)

    log.info("building %d neurons and %d synapses (%s neuron, %s background, n_scaling %g, k_scaling %g)",
             derived.n_neurons, derived.n_synapses, config.network.neuron_model, config.network.background,
             config.network.n_scaling, config.network.k_scaling)
    net = network.build(config, derived, progress)
    kernel = network.kernel_info()
    log.info("network built in %.1f s", net.timings["setup"] + net.timings["create"] + net.timings["connect"])

    t_total = sim.t_presim + sim.t_sim
    writer = None
    if record:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        ids = np.concatenate([np.asarray(p.tolist(), dtype=np.int64) for p in net.populations])
        pops = np.repeat(np.array(derived.populations), derived.sizes)
        # each rank streams the spikes of its own neurons to its own partial file
        writer = SpikeWriter(out_path, ids, pops, _attributes(config, derived, kernel, table),
                             rank=parallel.rank(), size=n_procs)

    reached = [0.0]  # model time whose spikes are on disk

    def on_chunk(t, senders, times):
        if writer is not None:
            writer.append(senders, times, t)
        reached[0] = t
        if progress is not None:
            progress("simulate", t, t_total)

    status = STATUS_COMPLETE
    if progress is not None:
        progress("simulate", 0.0, t_total)
    with StopRequest() as stop:
        try:
            t_reached = network.run(net, config, on_chunk, stop)
        except BaseException as exc:
            if writer is not None:
                if n_procs == 1:
                    _finish_partial(writer, f"incomplete: run ended by {type(exc).__name__} at t = {reached[0]:g} ms")
                else:  # the other ranks are ended, not asked: keep this rank's data for --recover
                    _close_partial(writer, out_path)
            raise
        if stop.stopped:
            status = f"incomplete: interrupted by {stop.signal_name} at t = {t_reached:g} ms"

    result = RunResult(config=config, derived=derived, spikes_path=None, t_reached=t_reached, status=status,
                       timings=dict(net.timings), kernel=kernel, estimated_mb=need, prediction=prediction)
    if writer is not None:
        extra = {"wall_time_s": json.dumps({k: round(v, 3) for k, v in net.timings.items()})}
        if n_procs == 1:
            writer.finish(status, extra)
        else:  # gather: every rank closes its file, rank 0 merges them into spikes.nc
            writer.close()
            parallel.barrier()
            if parallel.is_root():
                merge_partials(out_path, n_procs, status, extra)
            parallel.barrier()  # spikes.nc exists when run() returns on any rank
        result.spikes_path = out_path
        t_start = sim.t_presim
        t_stop = min(t_total, t_reached)
        if t_stop > t_start and parallel.is_root():
            result.mean_rates = analysis.population_mean_rates(load_spikes(out_path), t_start, t_stop)
    result.peak_rss_mb = resources.peak_rss_mb()
    return result


def _prepare(config: Config, output_dir, overwrite: bool, table: xr.Dataset | None, check_memory: bool):
    """Everything checked before NEST builds anything; return (table, derived, spikes path, MB per process).

    Raises ConfigError or SetupError with a one-line message.
    """
    sim = config.simulation
    table = table_for(config) if table is None else table
    derived = derive(config, table)
    out_path = None
    if sim.record:
        out_dir = Path(output_dir)
        out_path = out_dir / SPIKES_FILE
        if out_path.exists() and not overwrite:
            raise ConfigError(f"{out_path} exists; choose another --output or pass --overwrite")
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"--output {out_dir} is not a folder")
    if config.network.neuron_model == "nestml":
        network.check_neuron_module()
    need = resources.estimate_run_mb(config, derived, table)
    n_procs, on_node = parallel.size(), parallel.processes_on_this_node()
    if n_procs > 1:  # each process holds its share of the synapses and neurons, plus a fixed part
        fixed = resources.estimate_peak_mb(0, 0)
        need = fixed + (need - fixed) / n_procs
    have = resources.available_mb()
    if check_memory and need * on_node > have:
        what = (f"{need / 1024:.1f} GB" if on_node == 1 else
                f"{need / 1024:.1f} GB per process, {need * on_node / 1024:.1f} GB for the {on_node} on this machine")
        raise ConfigError(f"this network needs about {what} (estimate, +-"
                          f"{100 * resources.RELATIVE_ERROR:.0f} %) but only {have / 1024:.1f} GB are available; "
                          "use a smaller --scale, or --skip-memory-check to try anyway")
    if on_node == 1:
        log.info("estimated peak memory %.0f MB (%.0f MB available)", need, have)
    else:
        log.info("estimated peak memory %.0f MB per process, %.0f MB for the %d processes on this machine "
                 "(%.0f MB available)", need, need * on_node, on_node, have)
    below = subthreshold_populations(config, derived)
    if below:
        log.warning("%s get%s less than rheobase from the DC input at k_scaling %g and fire only through "
                    "recurrent input (as in the reference implementation; --background poisson avoids it)",
                    ", ".join(below), "s" if len(below) == 1 else "", config.network.k_scaling)
    return table, derived, out_path, need


def _predict(config: Config, table: xr.Dataset) -> xr.Dataset | None:
    """Mean-field prediction of the stationary rates, and its warnings (silent or runaway populations)."""
    from . import theory

    try:
        prediction = theory.predict(config, table)
    except Exception as exc:  # the theory must never stop a simulation
        log.warning("theory: no prediction (%s: %s)", type(exc).__name__, exc)
        return None
    for line in theory.check(config, table, prediction):
        log.warning("theory: %s", line)
    return prediction


def _close_partial(writer: SpikeWriter, out_path: Path) -> None:
    try:
        writer.close()
    except Exception:  # never hide the original error
        log.exception("could not close the partial spike file")
    log.error("the spikes simulated so far stay in %s; after the job, `python -m microcircuit.run --recover "
              "--output %s` writes spikes.nc from the files of all ranks", writer.partial, out_path.parent)


def _finish_partial(writer: SpikeWriter, status: str) -> None:
    try:
        writer.finish(status)
    except Exception:  # never hide the original error
        log.exception("could not write the partial spike file")


def _attributes(config: Config, derived: Derived, kernel: dict, table: xr.Dataset) -> dict:
    sim, net = config.simulation, config.network
    table_json = table_to_json(table)
    return {
        "title": "Spikes of the Potjans & Diesmann (2014) cortical microcircuit",
        "source": f"microcircuit {package_version()} (python -m microcircuit.run)",
        "t_start": float(sim.t_presim),
        "t_stop": float(sim.t_presim + sim.t_sim),
        "t_start_comment": "analysis window [t_start, t_stop] in ms: end of the warm-up to end of the run",
        "seed": int(sim.seed),
        "n_scaling": float(net.n_scaling),
        "k_scaling": float(net.k_scaling),
        "background": net.background,
        "neuron_model": net.neuron_model,
        "nest_neuron_model": network.NESTML_MODEL if net.neuron_model == "nestml" else network.BUILTIN_MODEL,
        "virtual_processes": int(kernel["virtual_processes"]),
        "mpi_processes": int(kernel["mpi_processes"]),
        "threads": int(sim.threads),
        "resolution": float(sim.resolution),
        "populations": ",".join(derived.populations),
        "num_synapses": int(derived.n_synapses),
        "num_connections_nest": int(kernel["num_connections"]),
        "microcircuit_version": package_version(),
        "nest_version": kernel["nest_version"],
        "nestml_version": _nestml_version(config),
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "connectivity_table": table_json,
        "connectivity_sha256": hashlib.sha256(table_json.encode()).hexdigest(),
        "date_created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
