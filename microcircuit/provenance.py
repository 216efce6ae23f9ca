"""What a run records about itself: versions, settings and the machine, for the spike file and the benchmark record.

:func:`describe` is the one description of a run; :func:`spike_file_attributes` adds what the
spike file needs to re-run it (the configuration and the connectivity table), and
:func:`machine` what a benchmark record needs to compare machines.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

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


def built_module(config: Config) -> dict:
    """Which NESTML sources and which build the neuron module of a run comes from.

    ``nestml_source_sha256``: the SHA-256 of each NESTML model the module was compiled from, in the
    form of ``sha256sum`` (``HASH  NAME``, several joined by "; "); a run has checked that they are
    those of the installed package (:func:`microcircuit.build.manifest.check_module`).
    ``build_fingerprint``: the build's fingerprint (sources, build code, compiler, NEST and NESTML
    versions). Both are "not used" with NEST's built-in neuron.
    """
    if config.network.neuron_model != "nestml":
        return {"nestml_source_sha256": "not used", "build_fingerprint": "not used"}
    built = manifest.read_manifest(manifest.default_build_dir()) or {}
    models = manifest.nestml_hashes(built.get("sources") or {})
    return {"nestml_source_sha256": "; ".join(f"{h}  {name}" for name, h in sorted(models.items())) or "unknown",
            "build_fingerprint": str(built.get("fingerprint", "unknown"))}


@functools.lru_cache(maxsize=1)
def source_revision() -> dict:
    """The git commit of the source checkout the package is imported from, and whether its tracked files differ.

    ``{"git_commit": "<sha>", "git_dirty": 0 or 1}``; empty for an installed package, without git, or
    when git cannot tell (a checkout that is no repository). Never raises: a run does not depend on git.
    """
    root = manifest.source_checkout()
    git = shutil.which("git")
    if root is None or git is None:
        return {}
    try:
        head = subprocess.run([git, "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        lines = head.stdout.split()
        if head.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root.resolve():
            return {}  # not a repository, or the checkout lies inside another one
        status = subprocess.run([git, "--no-optional-locks", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {}
    if status.returncode != 0:
        return {"git_commit": lines[1]}
    return {"git_commit": lines[1], "git_dirty": int(bool(status.stdout.strip()))}


def summary(attrs: dict) -> list[str]:
    """Two lines on what made a run (software, and the neuron's sources), from its spike file's attributes.

    Files written before these attributes existed say that they do not record them.
    """
    commit = attrs.get("git_commit")
    where = ""
    if commit:
        dirty = attrs.get("git_dirty")
        where = f" (git {str(commit)[:12]}{', with uncommitted changes' if dirty == 1 else ''})"
    software = (f"microcircuit {attrs.get('microcircuit_version', '?')}{where}, NEST {attrs.get('nest_version', '?')}, "
                f"NESTML {attrs.get('nestml_version', '?')}")
    if attrs.get("neuron_model") == "builtin":
        neuron = f"NEST's built-in {attrs.get('nest_neuron_model', BUILTIN_MODEL)}"
    elif "nestml_source_sha256" not in attrs:
        neuron = (f"{attrs.get('nest_neuron_model', manifest.NESTML_MODEL)} (NESTML); the file does not record "
                  "which sources (written before they were recorded)")
    else:
        sources = "; ".join(f"{name} sha256 {h[:12]}" for h, _, name in
                            (part.partition("  ") for part in str(attrs["nestml_source_sha256"]).split("; ")))
        neuron = (f"{attrs.get('nest_neuron_model', manifest.NESTML_MODEL)} from {sources}, build "
                  f"{str(attrs.get('build_fingerprint', '?'))[:12]}")
    return [software, neuron]


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
        **built_module(config),
        **source_revision(),
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
