"""Memory: estimate a network's peak need before building it, and measure what a run used.

The estimate is linear in the number of synapses and neurons, with coefficients fitted to
peak resident memory measured on runs of the PD14 network with NEST 3.10 (the calibration
points are in ``CALIBRATION``; ``python -m microcircuit.benchmark`` reports the same
measurement for any run). Synapses dominate: NEST stores each static synapse with its
weight, delay and target (16 bytes in ``static_synapse_hpc``, 32 in ``static_synapse``); during
construction it also holds the connection's source (8 bytes) in a table until ``Prepare`` builds
the presynaptic infrastructure, which sets the peak.
"""
from __future__ import annotations

import os
import resource

import numpy as np

from .parameters import nest_synapse_model

# Measured peak RSS (MB) of short runs without recording (2 threads, NESTML neuron, Poisson
# background; construction sets the peak), each in a fresh process on the development machine:
# `python -m microcircuit.benchmark --memory-calibration 0.05 0.1 0.2 0.3 0.5 1.0 --background poisson
# --threads 2 --synapse-model static_synapse[_hpc]` prints these rows, one table per synapse model.
# static_synapse's full-scale row: 2026-12-04, twice (12 110.5 and 12 110.8 MB).
# columns: scale (n = k), synapses, neurons, peak RSS (MB)
CALIBRATION = {
    "static_synapse_hpc": np.array([  # 16 bytes per connection
        (0.05, 747_205, 3_858, 247.0),
        (0.1, 2_988_807, 7_717, 322.0),
        (0.2, 11_955_239, 15_435, 577.0),
        (0.3, 26_899_282, 23_150, 965.9),
        (0.5, 74_720_239, 38_586, 2158.9),
        (1.0, 298_880_968, 77_169, 7548.7),
    ]),
    "static_synapse": np.array([  # 32 bytes per connection
        (0.05, 747_205, 3_858, 293.1),
        (0.1, 2_988_807, 7_717, 403.3),
        (0.2, 11_955_239, 15_435, 795.5),
        (0.3, 26_899_282, 23_150, 1415.8),
        (0.5, 74_720_239, 38_586, 3339.8),
        (1.0, 298_880_968, 77_169, 12110.5),
    ]),
}
# Relative error the estimate is held to (tests/integration/test_reliability.py checks scale 0.1).
RELATIVE_ERROR = 0.15


def _fit(rows: np.ndarray) -> np.ndarray:
    """Least-squares coefficients (MB, MB per synapse, MB per neuron), each point weighted by 1/peak
    so that the relative error is what is minimised at every scale."""
    x = np.column_stack([np.ones(len(rows)), rows[:, 1], rows[:, 2]])
    w = 1.0 / rows[:, 3]
    coef, *_ = np.linalg.lstsq(x * w[:, None], rows[:, 3] * w, rcond=None)
    return coef


_COEF = {model: _fit(rows) for model, rows in CALIBRATION.items()}


# Writing the spike file happens after the network is released (network.release), in blocks of
# neurons of at most output.SORT_BLOCK_SPIKES spikes, so it adds nothing to the network's peak; its own
# peak is the process without a network (FINISH_BASE_MB: Python, NumPy, NEST's and netCDF's libraries,
# measured after a run's release) plus one block (output.FINISH_PEAK_MB at most).
FINISH_BASE_MB = 200.0
# Connecting a neuron to the spike recorder costs NEST 3.10 a connector to devices per neuron, whose
# first block holds 1 024 connections. Measured (VmHWM slope between 10 000 and 30 000 recorded
# neurons of 40 000, 2 threads, a fresh process per point: `python benchmarks/recorder_memory.py`):
# 24.7 kB per neuron with the recorder's static_synapse_hom_w (24-byte connections) and 8.3 kB with
# static_synapse_hom_w_hpc (8 bytes); keyed by the network's synapse model (parameters.RECORDER_SYNAPSE_MODELS).
BYTES_PER_RECORDED_NEURON = {"static_synapse": 24.7e3, "static_synapse_hpc": 8.3e3}


def estimate_peak_mb(n_synapses: int, n_neurons: int, recorded_neurons: int = 0,
                     expected_spikes: float = 0.0, synapse_model: str = "static_synapse_hpc") -> float:
    """Estimated peak resident memory (MB) of a run with this many synapses, neurons and recorded spikes.

    The larger of the network's peak (construction and simulation) and that of writing the spike
    file, which does not grow with the length of the run (see ``FINISH_BASE_MB``).
    """
    a, per_synapse, per_neuron = _COEF[synapse_model]
    network = float(a + per_synapse * n_synapses + per_neuron * n_neurons
                    + BYTES_PER_RECORDED_NEURON[synapse_model] * recorded_neurons / 2**20)
    return max(network, finish_mb(expected_spikes) if recorded_neurons else 0.0)


def finish_mb(expected_spikes: float) -> float:
    """Peak memory (MB) of writing the spike file of a run with this many spikes (after the network is released)."""
    from . import output

    block = min(float(expected_spikes), output.SORT_BLOCK_SPIKES)
    read = min(float(expected_spikes), output.READ_BLOCK)
    return FINISH_BASE_MB + (block * output.BYTES_PER_SORTED_SPIKE + read * 3 * 8) / 2**20 + 16


# Recording V_m and I_syn: NEST's memory backend holds a chunk's samples (sender, time and the recorded
# variables, up to three doubles), Python copies them into arrays and sorts them: about 160 bytes per
# neuron and sample of a chunk. Writing the final file copies the samples in blocks of 32 MB.
BYTES_PER_VM_SAMPLE = 160
VM_COPY_BLOCK_MB = 2 * 32
# Disk: the unfinished-data file holds 16 bytes per spike and per V_m/I_syn sample pair; the final file is
# written beside it before the unfinished data is removed (it holds the same, compressed; counted in full).
DISK_BYTES_PER_SPIKE = 2 * 16
DISK_BYTES_PER_VM_SAMPLE = 2 * 16


def expected_spikes(config, derived) -> float:
    """Spikes a run is expected to record, from the table's full-scale rates."""
    sim = config.simulation
    rates = np.asarray(derived.full_mean_rate, dtype=float)
    return float(np.sum(derived.sizes * rates)) * (sim.t_presim + sim.t_sim) / 1000.0


def vm_samples(config, derived) -> tuple[float, float]:
    """(neuron-samples per chunk, neuron-samples of the whole run) of the V_m recording."""
    sim = config.simulation
    if not sim.record or derived.n_vm_recorded == 0:
        return 0.0, 0.0
    n = derived.n_vm_recorded
    return n * sim.chunk / sim.vm_interval, n * (sim.t_presim + sim.t_sim) / sim.vm_interval


def estimate_run_mb(config, derived, virtual_processes: int | None = None, synapse_model: str | None = None) -> float:
    """Estimated peak memory (MB) of running ``config``: network, spike recording, V_m recording.

    ``synapse_model`` is the NEST synapse model; by default the one ``config`` takes on
    ``virtual_processes`` (default: the configured threads) when memory suffices."""
    sim = config.simulation
    vps = sim.threads if virtual_processes is None else virtual_processes
    synapse = synapse_model or nest_synapse_model(config, derived, vps)
    spikes = 0.0
    recorded = 0
    if sim.record:
        recorded = derived.n_neurons
        spikes = expected_spikes(config, derived)
    vm_mb = 0.0
    per_chunk, _ = vm_samples(config, derived)
    if per_chunk:
        vm_mb = BYTES_PER_VM_SAMPLE * per_chunk / 2**20 + VM_COPY_BLOCK_MB
    return estimate_peak_mb(derived.n_synapses, derived.n_neurons, recorded, spikes, synapse) + vm_mb


def estimate_disk_mb(config, derived) -> float:
    """Disk space (MB) a recording run needs at its peak, while the final file is written."""
    if not config.simulation.record:
        return 0.0
    _, samples = vm_samples(config, derived)
    return (DISK_BYTES_PER_SPIKE * expected_spikes(config, derived) + DISK_BYTES_PER_VM_SAMPLE * samples) / 2**20


def free_disk_mb(folder) -> float:
    """Free space (MB) on the file system of ``folder`` (or of its nearest existing parent)."""
    import shutil
    from pathlib import Path

    folder = Path(folder).resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free / 2**20


def _proc_mb(path: str, key: str) -> float | None:
    """The ``key:  N kB`` line of a Linux /proc file in MB; None where the file or the line is missing."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def available_mb() -> float:
    """Memory available to a new process (MB): MemAvailable from /proc/meminfo, else physical memory."""
    mb = _proc_mb("/proc/meminfo", "MemAvailable")
    if mb is not None:
        return mb
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB).

    Linux's ``VmHWM`` (the peak of this program's address space) where available: ``getrusage``'s
    ``ru_maxrss`` also counts the parent's memory at the ``fork`` before this program started, so a
    run started from a large process (e.g. a test session) would report the parent's size.
    """
    mb = _proc_mb("/proc/self/status", "VmHWM")
    if mb is not None:
        return mb
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

