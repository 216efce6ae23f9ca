"""Everything checked before NEST builds anything: output folder, neuron module, memory, inputs below rheobase.

A run that cannot work stops here with one line (``ConfigError`` or ``SetupError``), before
it spends minutes building a network.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from . import parallel, resources
from .build import manifest
from .errors import ConfigError, option
from .output import SPIKES_FILE
from .parameters import Config, Derived, below_rheobase, nest_synapse_model

log = logging.getLogger("microcircuit")


@dataclass(frozen=True)
class Plan:
    """What the checks found: where the spikes go and how much memory each process needs."""

    spikes_path: Path | None   # None when nothing is recorded
    memory_mb: float           # estimated peak memory per process (MB)


def check(config: Config, derived: Derived, output_dir: str | Path | None, overwrite: bool,
          check_memory: bool) -> Plan:
    """Check that ``config`` can run here; log the memory estimate and populations below rheobase.

    Raises
    ------
    ConfigError
        The output exists (and ``overwrite`` is False) or is not a folder; the recording needs more
        disk than is free there; the network needs more memory than is available (and
        ``check_memory`` is True).
    SetupError
        The NESTML neuron module is not built for the installed NEST.
    """
    spikes_path = None
    if config.simulation.record:
        out_dir = Path(output_dir)
        spikes_path = out_dir / SPIKES_FILE
        if spikes_path.exists() and not overwrite:
            raise ConfigError(f"{spikes_path} exists; choose another {option('output_dir')} or pass "
                              f"{option('overwrite')}")
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"{option('output_dir')} {out_dir} is not a folder")
        _disk(config, derived, out_dir)
    if config.network.neuron_model == "nestml":
        manifest.check_module()
    need = _memory(config, derived, check_memory)
    below = [p for p, b in zip(derived.populations, below_rheobase(config, derived)) if b]
    if below:
        log.warning("%s get%s at most rheobase from the DC input at k_scaling %g and fire only through "
                    "recurrent input (as in the reference implementation; %s avoids it)",
                    ", ".join(below), "s" if len(below) == 1 else "", config.network.k_scaling,
                    option("background_poisson"))
    return Plan(spikes_path=spikes_path, memory_mb=need)


def _disk(config: Config, derived: Derived, out_dir: Path) -> None:
    """Refuse a recording that would not fit on the disk of the output folder."""
    need = resources.estimate_disk_mb(config, derived)
    free = resources.free_disk_mb(out_dir)
    if need > free:
        sim = config.simulation
        what = (f"; V_m of {derived.n_vm_recorded} neurons every {sim.vm_interval:g} ms is "
                f"{resources.DISK_BYTES_PER_VM_SAMPLE * resources.vm_samples(config, derived)[1] / 2**30:.1f} GB of it: "
                f"record fewer neurons ({option('record_vm')}) or sample less often ({option('vm_interval')})"
                if derived.n_vm_recorded else "")
        raise ConfigError(f"the recording needs about {need / 1024:.1f} GB of disk in {out_dir} but only "
                          f"{free / 1024:.1f} GB are free{what}")


def _threads_for_compact_synapses(config: Config, derived: Derived, n_procs: int) -> tuple[int, float] | None:
    """(threads, MB) of the fewest threads with which ``synapse_model = "auto"`` becomes the compact
    synapse, where it is the standard one now; None otherwise."""
    threads = config.simulation.threads
    if config.network.synapse_model != "auto" or nest_synapse_model(config, derived, n_procs * threads) != "static_synapse":
        return None
    while nest_synapse_model(config, derived, n_procs * threads) == "static_synapse":
        threads += 1
    more = config.replace(simulation={"threads": threads})
    return threads, resources.estimate_run_mb(more, derived, n_procs * threads)


def _memory(config: Config, derived: Derived, check_memory: bool) -> float:
    """Estimated peak memory per process (MB); refuse a run that needs more than is available."""
    n_procs, on_node = parallel.size(), parallel.processes_on_this_node()
    vps = n_procs * config.simulation.threads
    need = resources.estimate_run_mb(config, derived, vps)
    if n_procs > 1:  # each process holds its share of the synapses and neurons, plus a fixed part
        fixed = resources.estimate_peak_mb(0, 0, synapse_model=nest_synapse_model(config, derived, vps))
        need = fixed + (need - fixed) / n_procs
    have = resources.available_mb()
    if check_memory and need * on_node > have:
        what = (f"{need / 1024:.1f} GB" if on_node == 1 else
                f"{need / 1024:.1f} GB per process, {need * on_node / 1024:.1f} GB for the {on_node} on this machine")
        vm = resources.BYTES_PER_VM_SAMPLE * resources.vm_samples(config, derived)[0] / 2**20
        remedy = (f"record fewer neurons ({option('record_vm')}), sample less often ({option('vm_interval')}) or "
                  f"simulate shorter chunks ({option('chunk')})" if vm > need / 2 else f"use a smaller {option('scale')}")
        more = _threads_for_compact_synapses(config, derived, n_procs)
        if more is not None and n_procs == 1 and more[1] <= have:
            threads, mb = more
            remedy = (f"use {option('threads')} {threads} (NEST then takes its 16-byte synapse: about "
                      f"{mb / 1024:.1f} GB; threads may outnumber cores) or {remedy}")
        raise ConfigError(f"this network needs about {what} (estimate, +-{100 * resources.RELATIVE_ERROR:.0f} %) "
                          f"but only {have / 1024:.1f} GB are available; {remedy}, or "
                          f"{option('check_memory')} to try anyway")
    if on_node == 1:
        log.info("estimated peak memory %.0f MB (%.0f MB available)", need, have)
    else:
        log.info("estimated peak memory %.0f MB per process, %.0f MB for the %d processes on this machine "
                 "(%.0f MB available)", need, need * on_node, on_node, have)
    return need
