"""What a run records about itself: versions, settings and the machine, for the spike file and the benchmark record.

:func:`describe` is the one description of a run; :func:`spike_file_attributes` adds what the
spike file needs to re-run it (the configuration and the connectivity table), and
:func:`machine` what a benchmark record needs to compare machines.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import time

import xarray as xr

from .build import manifest
from .connectivity import table_to_json
from .parameters import BUILTIN_MODEL, Config, Derived, nest_synapse_model


def package_version() -> str:
    try:
        return importlib.metadata.version("microcircuit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def nestml_version(config: Config) -> str:
    """The NESTML version the neuron module was built with ("not used" for NEST's built-in neuron)."""
    if config.network.neuron_model != "nestml":
        return "not used"
    built = manifest.read_manifest(manifest.default_build_dir())
    return built.get("nestml_version", "unknown") if built else "unknown"


def describe(config: Config, derived: Derived, kernel: dict) -> dict:
    """The settings, sizes and software versions of a run.

    Parameters
    ----------
    config : Config
    derived : Derived
        ``derive(config, table)``.
    kernel : dict
        NEST's facts about the run (``network.kernel_info``), with ``num_connections`` summed
        over all MPI processes.
    """
    sim, net = config.simulation, config.network
    return {
        "seed": int(sim.seed),
        "n_scaling": float(net.n_scaling),
        "k_scaling": float(net.k_scaling),
        "background": net.background,
        "neuron_model": net.neuron_model,
        "nest_neuron_model": manifest.NESTML_MODEL if net.neuron_model == "nestml" else BUILTIN_MODEL,
        "nest_synapse_model": nest_synapse_model(config, derived, int(kernel["virtual_processes"])),
        "virtual_processes": int(kernel["virtual_processes"]),
        "mpi_processes": int(kernel["mpi_processes"]),
        "threads": int(sim.threads),
        "resolution": float(sim.resolution),
        "populations": ",".join(derived.populations),
        "num_synapses": int(derived.n_synapses),
        "num_connections_nest": int(kernel["num_connections"]),
        "microcircuit_version": package_version(),
        "nest_version": kernel["nest_version"],
        "nestml_version": nestml_version(config),
        "date_created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def spike_file_attributes(config: Config, derived: Derived, kernel: dict, table: xr.Dataset) -> dict:
    """Global attributes of a spike file: :func:`describe`, the analysis window, the configuration and table."""
    sim = config.simulation
    table_json = table_to_json(table)
    return {
        "title": "Spikes of the Potjans & Diesmann (2014) cortical microcircuit",
        "source": f"microcircuit {package_version()} (python -m microcircuit.run)",
        "t_start": float(sim.t_presim),
        "t_stop": float(sim.t_presim + sim.t_sim),
        "t_start_comment": "analysis window [t_start, t_stop] in ms: end of the warm-up to end of the run",
        **describe(config, derived, kernel),
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "connectivity_table": table_json,
        "connectivity_sha256": hashlib.sha256(table_json.encode()).hexdigest(),
    }


def machine() -> dict:
    """The machine a benchmark ran on: host, CPU, load."""
    return {"host": platform.node(), "cpu": _cpu_name(), "load_average": os.getloadavg()}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
