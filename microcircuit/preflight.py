"""Everything checked before NEST builds anything: output folder, neuron module, memory, inputs below rheobase.

A run that cannot work stops here with one line (``ConfigError`` or ``SetupError``), before
it spends minutes building a network.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import parallel, resources
from .build import manifest
from .errors import ConfigError, option, setting, shorten
from .output import SPIKES_FILE
from .parameters import Config, Derived, below_rheobase, compact_synapse_allowed, nest_synapse_model

log = logging.getLogger("microcircuit")


@dataclass(frozen=True)
class Plan:
    """What the checks found: where the spikes go, how much memory each process needs, and with which synapse."""

    spikes_path: Path | None   # None when nothing is recorded
    memory_mb: float           # estimated peak memory per process (MB)
    synapse_model: str         # the NEST synapse model ("auto" resolved; see parameters.nest_synapse_model)


def check(config: Config, derived: Derived, output_dir: str | Path | None, overwrite: bool,
          check_memory: bool) -> Plan:
    """Check that ``config`` can run here; log the memory estimate and populations below rheobase.

    Raises
    ------
    ConfigError
        The output exists (and ``overwrite`` is False) or is not a folder, or cannot be written (or
        made); the recording needs more disk than is free there; the network needs more memory than
        is available (and ``check_memory`` is True).
    SetupError
        The NESTML neuron module is not built for the installed NEST, or not from the installed sources.
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
        _writable(out_dir)
        _disk(config, derived, out_dir)
    if config.network.neuron_model == "nestml":
        manifest.check_module()
    need, synapse = _memory(config, derived, check_memory)
    if config.simulation.record:  # warnings last: a refused run prints its one line only
        _vm_of_whole_populations(config, derived)
    below = [p for p, b in zip(derived.populations, below_rheobase(config, derived)) if b]
    if below:
        log.warning("%s get%s at most rheobase from the DC input at k_scaling %g and fire only through "
                    "recurrent input (as in the reference implementation; %s avoids it)",
                    ", ".join(below), "s" if len(below) == 1 else "", config.network.k_scaling,
                    option("background_poisson"))
    return Plan(spikes_path=spikes_path, memory_mb=need, synapse_model=synapse)


def _writable(out_dir: Path) -> None:
    """Refuse an output folder that cannot be written, or made (its nearest existing parent cannot be written).

    Tried, not inferred from permission bits: a file without a name is created there and dropped
    (the same for root, ACLs and read-only file systems as for the run's own files).
    """
    folder = out_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"{option('output_dir')} {out_dir} cannot be made: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        where = "" if folder == out_dir else f" (it would be made in {folder}, which cannot be written)"
        raise ConfigError(f"cannot write to {option('output_dir')} {out_dir}{where}: {exc.strerror or exc}; choose "
                          f"another {option('output_dir')}") from exc


def _vm_of_whole_populations(config: Config, derived: Derived) -> None:
    """Say so when ``record_vm`` asks for more neurons than a population has: it is then recorded whole.

    Not refused: recording every neuron of a small network is a legitimate choice, and this is the way to
    ask for it; but a number that was meant for a larger network (or a typo) must not silently record
    a hundred times more than intended.
    """
    sim = config.simulation
    whole = [p for p, size in zip(derived.populations, derived.sizes) if sim.record_vm > size]
    if not whole:
        return
    samples = resources.vm_samples(config, derived)[1]
    size = f"{2 * 8 * samples / 2**20:.0f} MB before compression"
    which = ("more than any population has, so every neuron is recorded" if len(whole) == len(derived.populations)
             else f"more than {shorten(whole)} ha{'s' if len(whole) == 1 else 've'}, so "
                  f"{'it is' if len(whole) == 1 else 'they are'} recorded whole")
    log.warning("%s is %s: %d neurons in all (V_m and I_syn every %g ms, %.3g million samples, %s)",
                setting("record_vm", sim.record_vm), which, derived.n_vm_recorded, sim.vm_interval, samples / 1e6,
                size)


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


def _threads_for_compact_synapses(config: Config, derived: Derived) -> tuple[int, float]:
    """(threads, MB): the fewest threads with which NEST accepts the compact synapse, and the estimate then."""
    threads = config.simulation.threads
    while not compact_synapse_allowed(config, derived, threads):
        threads += 1
    more = config.replace(simulation={"threads": threads})
    return threads, resources.estimate_run_mb(more, derived, threads, "static_synapse_hpc")


def _memory(config: Config, derived: Derived, check_memory: bool) -> tuple[float, str]:
    """Estimated peak memory per process (MB) and the synapse model; refuse a run that needs more than is available.

    ``synapse_model = "auto"`` becomes the compact synapse only when the standard one would not fit.
    """
    n_procs, on_node = parallel.size(), parallel.processes_on_this_node()
    vps = n_procs * config.simulation.threads
    have = resources.available_mb()

    def need_mb(synapse: str) -> float:
        need = resources.estimate_run_mb(config, derived, vps, synapse)
        if n_procs > 1:  # each process holds its share of the synapses and neurons, plus a fixed part
            fixed = resources.estimate_peak_mb(0, 0, synapse_model=synapse)
            need = fixed + (need - fixed) / n_procs
        return need

    synapse = nest_synapse_model(config, derived, vps)
    need = standard = need_mb(synapse)
    if need * on_node > have:
        compact = nest_synapse_model(config, derived, vps, fits=False)
        if compact != synapse:
            synapse, need = compact, need_mb(compact)
    if check_memory and need * on_node > have:
        what = (f"{need / 1024:.1f} GB" if on_node == 1 else
                f"{need / 1024:.1f} GB per process, {need * on_node / 1024:.1f} GB for the {on_node} on this machine")
        if synapse == "static_synapse_hpc" and config.network.synapse_model == "auto":
            what += " with NEST's 16-byte synapse"
        vm = resources.BYTES_PER_VM_SAMPLE * resources.vm_samples(config, derived)[0] / 2**20
        remedy = (f"record fewer neurons ({option('record_vm')}), sample less often ({option('vm_interval')}) or "
                  f"simulate shorter chunks ({option('chunk')})" if vm > need / 2 else f"use a smaller {option('scale')}")
        if synapse == "static_synapse" and n_procs == 1 and config.network.synapse_model != "static_synapse_hpc":
            threads, mb = _threads_for_compact_synapses(config, derived)
            if mb <= have:
                more_threads = threads != config.simulation.threads
                flags = ([f"{option('synapse_model')} static_synapse_hpc"] if config.network.synapse_model == "static_synapse"
                         else []) + ([f"{option('threads')} {threads}"] if more_threads else [])
                remedy = (f"use {' '.join(flags)} (NEST's 16-byte synapse; same spikes; about {mb / 1024:.1f} GB"
                          f"{'; threads may outnumber cores' if more_threads else ''}) or {remedy}")
        raise ConfigError(f"this network needs about {what} (estimate, +-{100 * resources.RELATIVE_ERROR:.0f} %) "
                          f"but only {have / 1024:.1f} GB are available; {remedy}, or "
                          f"{option('check_memory')} to try anyway")
    if need != standard:
        log.info("with NEST's static_synapse this network would need about %.1f GB, more than the %.1f GB "
                 "available: using static_synapse_hpc (16 instead of 32 bytes per connection, the same "
                 "spikes, a slower simulation)", standard * on_node / 1024, have / 1024)
    if on_node == 1:
        log.info("estimated peak memory %.0f MB (%.0f MB available)", need, have)
    else:
        log.info("estimated peak memory %.0f MB per process, %.0f MB for the %d processes on this machine "
                 "(%.0f MB available)", need, need * on_node, on_node, have)
    return need, synapse
