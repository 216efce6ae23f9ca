"""Measuring a run: construction time, real-time factor, spikes and peak memory (``python -m microcircuit.benchmark``).

:func:`measure` builds and simulates a configuration without recording in this process and
returns one record; :func:`measure_in_fresh_process` does the same in a new Python process,
so that peak memory and timings are the run's own.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

from . import network, parallel, provenance, resources
from .errors import ConfigError, SetupError
from .parameters import Config
from .simulation import simulate


def measure(config: Config, check_memory: bool = True, record: bool = False) -> dict | None:
    """Build and simulate ``config`` in this process; return the measurements.

    Without ``record`` nothing is recorded and the simulation runs in one chunk (the benchmark
    recipe). With ``record`` the run records and writes what the run command does (spikes, and
    V_m if ``config.simulation.record_vm``) into a temporary folder, chunk by chunk; the record
    then also holds ``t_write_s`` (writing the final file) and ``spike_file_mb``.

    On several MPI processes (collective: every rank calls it) each rank measures itself and
    rank 0 returns the record of the job (None on the other ranks): times of the slowest rank,
    peak memory per rank (``peak_rss_mb_per_rank``), its maximum (``peak_rss_mb``) and sum
    (``peak_rss_mb_sum``), NEST's memory summed over ranks, spikes summed over ranks.

    The record holds :func:`microcircuit.provenance.describe` of the run and the machine, and
    ``t_<phase>_s`` (s), ``real_time_factor`` (wall-clock time per model time of the simulation
    after the warm-up), ``num_spikes`` (spikes after the warm-up), ``peak_rss_mb``, ``nest_memory_mb``,
    ``estimated_mb`` (MB).
    """
    sim = config.simulation
    extra = {}
    if record:
        if parallel.launched():
            raise ConfigError("measuring a recording run needs one process: start it without mpirun/srun")
        config = config.replace(simulation={"record": True})
        with tempfile.TemporaryDirectory(prefix="microcircuit-benchmark-") as tmp:
            t0 = time.perf_counter()
            result = simulate(config, output_dir=tmp, check_memory=check_memory)
            total = time.perf_counter() - t0
            extra = {"t_total_s": total, "spike_file_mb": (Path(tmp) / "spikes.nc").stat().st_size / 2**20}
        # after the run loop: the theory's prediction (0.1-0.2 s), writing the final file, the mean rates
        extra["t_write_s"] = total - sum(result.timings.as_dict().values())
    else:
        config = config.replace(simulation={"record": False, "chunk": max(sim.t_presim, sim.t_sim)})
        result = simulate(config, output_dir=None, check_memory=check_memory)
    mine = {"timings": result.timings.as_dict(), "num_spikes": result.spikes["sim"],
            "peak_rss_mb": resources.peak_rss_mb(), "nest_memory_mb": result.kernel.get("memory_size_mb")}
    config = result.config  # as it ran: "auto" synapse resolved
    ranks = parallel.gather(mine)
    if ranks is None:
        return None
    t = {k: max(r["timings"][k] for r in ranks) for k in mine["timings"]}  # the slowest rank sets the pace
    rss = [r["peak_rss_mb"] for r in ranks]
    nest_mb = [r["nest_memory_mb"] for r in ranks]
    net = config.network
    return {
        "neuron": net.neuron_model,
        "scale": net.n_scaling if net.n_scaling == net.k_scaling else [net.n_scaling, net.k_scaling],
        "threads": sim.threads,
        "mpi_processes": len(ranks),
        "background": net.background,
        "poisson_source": net.poisson_source if net.background == "poisson" else None,
        "t_setup_s": t["setup"],
        "t_create_s": t["create"],
        "t_connect_s": t["connect"],
        "t_construct_s": network.Timings(**t).construction,
        "t_presim_s": t["presim"],
        "t_sim_s": t["sim"],
        "real_time_factor": t["sim"] / (sim.t_sim / 1000.0),
        "num_neurons": result.derived.n_neurons,
        "num_connections": result.kernel["num_connections"],
        "num_spikes": sum(r["num_spikes"] for r in ranks),
        "peak_rss_mb": max(rss),
        "peak_rss_mb_sum": sum(rss),
        "peak_rss_mb_per_rank": rss,
        "nest_memory_mb": None if None in nest_mb else sum(nest_mb),
        "estimated_mb": result.estimated_mb,
        "t_presim_ms": sim.t_presim,
        "t_sim_ms": sim.t_sim,
        "record": bool(record),
        "record_vm": int(sim.record_vm) if record else 0,
        "vm_interval_ms": float(sim.vm_interval),
        **extra,
        **provenance.describe(config, result.derived, result.kernel),
        **provenance.machine(),
    }


def measure_in_fresh_process(config: Config, check_memory: bool = True, record: bool = False,
                             initializer: Callable[[], None] | None = None) -> dict:
    """:func:`measure` in a new Python process (started, not forked); return its record.

    ``initializer`` runs first in the new process (e.g. to set up logging). Errors of the run
    (``ConfigError``, ``SetupError``) are raised here as they were there.
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=initializer) as pool:
        try:
            return pool.submit(measure, config, check_memory, record).result()
        except BrokenProcessPool:
            raise SetupError("the measured run's process died (out of memory?)") from None
