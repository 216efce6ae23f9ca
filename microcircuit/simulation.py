"""One run of the microcircuit: check, build, simulate, write the spike file.

:func:`simulate` is the function the command line, the benchmark and the tests call. It
loads the connectivity table once and derives the network once, and hands both to whoever
needs them: the checks (:mod:`.preflight`), the theory, NEST (:mod:`.network`), the run loop
(:mod:`.runloop`) and the spike file (:mod:`.output`, :mod:`.provenance`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from . import analysis, network, output, parallel, preflight, provenance, resources, runloop, theory
from .connectivity import load_table
from .errors import ConfigError, SetupError
from .output import STATUS_COMPLETE, SpikeWriter, merge_partials
from .parameters import Config, Derived, derive

log = logging.getLogger("microcircuit")


@dataclass
class RunResult:
    """What a run produced."""

    config: Config
    derived: Derived
    spikes_path: Path | None
    t_reached: float                     # model time simulated (ms)
    status: str                          # "complete", or why and when the run stopped early
    timings: network.Timings = field(default_factory=network.Timings)
    spikes: dict = field(default_factory=dict)   # spikes of this process's neurons per phase ("presim", "sim")
    kernel: dict = field(default_factory=dict)
    mean_rates: xr.DataArray | None = None   # per population, over the simulated part of the analysis window
    prediction: xr.Dataset | None = None     # mean-field theory (microcircuit.theory.predict)
    peak_rss_mb: float = 0.0
    estimated_mb: float = 0.0

    @property
    def complete(self) -> bool:
        return self.status == STATUS_COMPLETE


def simulate(config: Config, output_dir: str | Path | None = "output", overwrite: bool = False,
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
        config = config.replace(simulation={"record": False})
    try:
        table = load_table(config.network.connectivity) if table is None else table
        derived = derive(config, table)
        plan = preflight.check(config, derived, output_dir, overwrite, check_memory)
    except (ConfigError, SetupError) as exc:
        if not parallel.several():
            raise
        # on several MPI processes, every rank learns about every rank's error before NEST builds anything
        raise parallel.AgreedError(parallel.checkpoint((str(exc), 2))) from None
    failure = parallel.checkpoint()  # one process: imports NEST and returns at once
    if failure is not None:
        raise parallel.AgreedError(failure)
    # the synapse model the memory allows ("auto" resolved), the compact one if any process needs it;
    # the spike file stores it, so that a rerun from the file builds the same
    synapses = parallel.allgather(plan.synapse_model)
    synapse = "static_synapse_hpc" if "static_synapse_hpc" in synapses else plan.synapse_model
    config = config.replace(network={"synapse_model": synapse})
    prediction = _predict(config, derived, table) if parallel.is_root() else None  # rank 0 logs and reports
    if not parallel.is_root():
        progress = None  # progress is reported by rank 0
    n_procs = parallel.size()
    if n_procs > 1:
        log.info("running on %d MPI processes x %d threads", n_procs, config.simulation.threads)

    log.info("building %d neurons and %d synapses (%s neuron, %s background, n_scaling %g, k_scaling %g)",
             derived.n_neurons, derived.n_synapses, config.network.neuron_model, config.network.background,
             config.network.n_scaling, config.network.k_scaling)
    net = network.build(config, derived, progress)
    kernel = network.kernel_info()
    kernel["num_connections"] = int(parallel.total(kernel["num_connections"]))  # NEST counts each rank's own
    log.info("network built in %.1f s", net.timings.construction)

    writer = None
    if plan.spikes_path is not None:
        plan.spikes_path.parent.mkdir(parents=True, exist_ok=True)
        ids = net.node_ids()
        pops = np.repeat(np.array(derived.populations), derived.sizes)
        # each rank streams the spikes of its own neurons to its own partial file
        writer = SpikeWriter(plan.spikes_path, ids, pops,
                             provenance.spike_file_attributes(config, derived, kernel, table),
                             rank=parallel.rank(), size=n_procs, vm_neurons=net.local_vm_neurons(),
                             onsets=config.stimulus.thalamic_onsets())
    t_reached, status = runloop.run(net, config, writer, progress)
    network.release()  # the spike file is written without the network in memory (see network.release)

    result = RunResult(config=config, derived=derived, spikes_path=None, t_reached=t_reached, status=status,
                       timings=net.timings, spikes=dict(net.spikes), kernel=kernel, estimated_mb=plan.memory_mb,
                       prediction=prediction)
    if writer is not None:
        extra = {"wall_time_s": json.dumps({k: round(v, 3) for k, v in net.timings.as_dict().items()})}
        if n_procs == 1:
            writer.finish(status, extra)
        else:  # gather: every rank closes its file, rank 0 merges them into spikes.nc
            writer.close()
            parallel.barrier()
            if parallel.is_root():
                merge_partials(plan.spikes_path, n_procs, status, extra)
            parallel.barrier()  # spikes.nc exists when simulate() returns on any rank
        result.spikes_path = plan.spikes_path
        if parallel.is_root() and t_reached > config.simulation.t_presim:
            result.mean_rates = _mean_rates(plan.spikes_path)
    result.peak_rss_mb = resources.peak_rss_mb()
    return result


def _mean_rates(path: Path) -> xr.DataArray:
    """Population mean rates in the run's window (``analysis.population_mean_rates``), read in blocks from
    the spike file: the end of a run must not load every spike (output.population_mean_rates)."""
    with xr.open_dataset(path, drop_variables=["spike_time", "spike_neuron", "spike_population"]) as ds:
        t_start, t_stop = analysis.window(ds, warn=False)
    rates = output.population_mean_rates(path, t_start, t_stop)
    return xr.DataArray(list(rates.values()), dims="population", coords={"population": list(rates)},
                        name="mean_rate", attrs={"units": "spikes/s"})


# the last prediction, for a process that runs the same network again with another seed (a sweep's
# worker over seeds): (table, configuration without the seed) -> (prediction, warnings)
_last_prediction: dict = {}


def _predict(config: Config, derived: Derived, table: xr.Dataset) -> xr.Dataset | None:
    """Mean-field prediction of the stationary rates, and its warnings (silent or runaway populations).

    The theory does not depend on the seed (it sets only NEST's random numbers and the sample of
    recorded membrane potentials), so a run of the configuration just predicted with another seed
    reuses that prediction (0.1 s at any scale; a sweep over seeds runs many).
    """
    key = json.dumps(config.replace(simulation={"seed": 1}).to_dict(), sort_keys=True, default=str)
    cached = _last_prediction.get("value") if _last_prediction.get("key") == key else None
    if cached is not None and _last_prediction.get("table") is table:
        prediction, warnings = cached[0].copy(deep=True), cached[1]
    else:
        try:
            prediction = theory.predict(config, derived)
            warnings = theory.check(config, derived, prediction, table=table)
        except Exception as exc:  # the theory must never stop a simulation
            log.warning("theory: no prediction (%s: %s)", type(exc).__name__, exc)
            return None
        _last_prediction.update(key=key, table=table, value=(prediction.copy(deep=True), warnings))
    for line in warnings:
        log.warning("theory: %s", line)
    return prediction
