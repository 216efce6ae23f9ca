"""Everything that talks to NEST: installing the neuron module, building the network, simulating a chunk.

This is the only module that imports ``nest`` (besides tests). The import happens inside the
functions so that the rest of the package works without NEST.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .build import manifest
from .build.manifest import NESTML_MODEL
from .errors import SetupError
from .parameters import BUILTIN_MODEL, RECORDER_SYNAPSE_MODELS, Config, Derived, NeuronParams, nest_synapse_model

log = logging.getLogger(__name__)

# The state variables that sum to the total synaptic current I_syn, per neuron model.
SYNAPTIC_CURRENTS = {"nestml": ("I_syn",), "builtin": ("I_syn_ex", "I_syn_in")}

# Translation of NeuronParams fields to each NEST model's parameter names.
PARAMETER_NAMES = {
    "nestml": {
        "C_m": ("C_m",), "tau_m": ("tau_m",), "tau_syn": ("tau_syn",), "t_ref": ("t_ref",),
        "E_L": ("E_L",), "V_reset": ("V_reset",), "V_th": ("V_th",),
    },
    "builtin": {
        "C_m": ("C_m",), "tau_m": ("tau_m",), "tau_syn": ("tau_syn_ex", "tau_syn_in"), "t_ref": ("t_ref",),
        "E_L": ("E_L",), "V_reset": ("V_reset",), "V_th": ("V_th",),
    },
}


@contextlib.contextmanager
def _omp_num_threads_hidden():
    """Hide ``OMP_NUM_THREADS`` from NEST while its kernel initialises or its threads are set.

    NEST sets its threads itself (``--threads``) and ignores the variable, but says so in a warning
    at import, at every ``ResetKernel`` and when ``local_num_threads`` is set to another number;
    the variable is restored at once for everything else.
    """
    value = os.environ.pop("OMP_NUM_THREADS", None)
    try:
        yield
    finally:
        if value is not None:
            os.environ["OMP_NUM_THREADS"] = value


def _nest():
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on stdout
    try:
        with _omp_num_threads_hidden():
            import nest  # noqa: F401
    except ImportError as exc:
        raise SetupError(f"NEST is not importable ({exc}); install it with `pip install .` "
                         "(nest-simulator 3.10 from PyPI)") from None
    return nest


def reset_kernel():
    """``nest.ResetKernel()`` without NEST's warning about ``OMP_NUM_THREADS``; returns the ``nest`` module."""
    nest = _nest()
    with _omp_num_threads_hidden():
        nest.ResetKernel()
    return nest


def install_neuron_module(directory: str | Path | None = None) -> str:
    """Install the compiled NESTML module into the current NEST kernel; return the NEST model name.

    Call it before any ``nest.Create`` and again after every ``nest.ResetKernel()``.
    ``directory`` is the build folder (default ``microcircuit.build.default_build_dir()``).

    Raises
    ------
    SetupError
        If the module has not been built (the message names the build command) or was built
        for another NEST.
    """
    nest = _nest()
    module, built = manifest.check_module(directory)
    if built.get("nest_version") != nest.__version__:
        raise SetupError(f"{manifest.MODULE_NAME} was built for NEST {built.get('nest_version')} but NEST "
                         f"{nest.__version__} is installed: run `{manifest.build_command()}` again")
    if NESTML_MODEL in nest.node_models:
        return NESTML_MODEL  # already installed in this kernel
    try:
        nest.Install(str(module.with_suffix("")))
    except Exception as exc:
        raise SetupError(f"NEST could not load {module} ({exc}): run `{manifest.build_command()} --force`") from None
    return NESTML_MODEL


def neuron_parameters(neuron_model: str, neuron: NeuronParams) -> dict[str, float]:
    """NEST parameter dictionary of the chosen model for the given neuron parameters."""
    names = PARAMETER_NAMES[neuron_model]
    out = {}
    for key, value in vars(neuron).items():
        for nest_name in names[key]:
            out[nest_name] = float(value)
    return out


@dataclass
class Timings:
    """Wall-clock times (s) of the phases of a run."""

    setup: float = 0.0      # kernel reset and settings, module installation
    create: float = 0.0     # neurons and devices
    connect: float = 0.0    # connections and NEST's connection infrastructure (Prepare)
    presim: float = 0.0     # simulation of the warm-up
    sim: float = 0.0        # simulation after the warm-up

    @property
    def construction(self) -> float:
        """Time to build the network: setup, creation and connection."""
        return self.setup + self.create + self.connect

    def as_dict(self) -> dict[str, float]:
        return {"setup": self.setup, "create": self.create, "connect": self.connect,
                "presim": self.presim, "sim": self.sim}


@dataclass
class Network:
    """Handles of a built network."""

    populations: list  # NodeCollection per population
    recorder: object | None
    timings: Timings = field(default_factory=Timings)
    multimeter: object | None = None   # records V_m and the synaptic current(s) of vm_neurons
    vm_neurons: object | None = None   # NodeCollection, sorted node ids
    spikes: dict = field(default_factory=lambda: {"presim": 0, "sim": 0})  # this process's spikes per phase

    def local_vm_neurons(self) -> np.ndarray:
        """Node ids of the recorded neurons that live on this MPI process (all of them on one process)."""
        if self.vm_neurons is None:
            return np.empty(0, dtype=np.int64)
        with warnings.catch_warnings():
            # NEST warns that the local part differs between processes (unsafe in collective calls); it is only read
            warnings.simplefilter("ignore", UserWarning)
            local = _nest().GetLocalNodeCollection(self.vm_neurons)
        return np.asarray(local.tolist() if len(local) else [], dtype=np.int64)

    def node_ids(self) -> np.ndarray:
        """Node ids of all neurons, population by population."""
        return np.concatenate([node_ids(p) for p in self.populations])

    @property
    def neurons(self):
        out = self.populations[0]
        for p in self.populations[1:]:
            out = out + p
        return out


def _normal(nest, mean: float, sd: float, lower: float = -math.inf, upper: float = math.inf):
    """A NEST random parameter Normal(mean, sd), redrawn outside [lower, upper]; a constant when sd = 0."""
    if sd == 0:
        return float(mean)
    value = nest.random.normal(mean=float(mean), std=float(sd))
    if math.isinf(lower) and math.isinf(upper):
        return value
    return nest.math.redraw(value, min=lower, max=upper)


#: NEST resizes its spike-exchange buffer to the spikes of each communication round: it grows it when
#: a round needs more room and shrinks it when a round uses less than this fraction of it. Every resize
#: is appended to the kernel's ``spike_buffer_resize_log``, which only ``ResetKernel`` empties. The
#: microcircuit's spike count per round fluctuates across the limit, so with NEST's default (0.2) the
#: buffer shrinks and regrows thousands of times per model second and the log grows without bound
#: (scale 0.05: 75 435 resizes and +2.7 MB in 12 s of model time; docs/benchmarks.md, "Memory of long
#: runs"). At 0 the buffer never shrinks: it stays at the busiest round's size (12 spikes at scale
#: 0.05 on 1 thread), NEST logs a handful of resizes, and the spikes are the same (the buffer's size
#: decides only how they travel).
SPIKE_BUFFER_SHRINK_LIMIT = 0.0


def setup_kernel(config: Config) -> str:
    """Reset NEST, set resolution, threads and seed; return the NEST neuron model to use."""
    nest = _nest()
    sim = config.simulation
    with _omp_num_threads_hidden():
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.WARNING
        nest.set(resolution=sim.resolution, local_num_threads=sim.threads, rng_seed=sim.seed,
                 print_time=False, spike_buffer_shrink_limit=SPIKE_BUFFER_SHRINK_LIMIT)
    if config.network.neuron_model == "nestml":
        return install_neuron_module()
    return BUILTIN_MODEL


def build(config: Config, derived: Derived, progress: Callable[[str, float, float], None] | None = None) -> Network:
    """Create and connect the network in the order of the reference implementation.

    Order (it fixes the random streams): populations (V_m drawn here), recorder, background
    generators, transient DC generators, thalamus, multimeter; then recurrent connections
    target-major, recorder, background, DC, thalamus, multimeter; finally ``Prepare``/``Cleanup``
    so that NEST builds its presynaptic connection infrastructure inside the construction time
    (docs/model.md §9). The multimeter comes last and draws no random numbers, so recording
    membrane potentials does not change the spikes.
    """
    nest = _nest()
    net, stim, sim = config.network, config.stimulus, config.simulation
    d = derived
    timings = Timings()
    t0 = time.perf_counter()
    model = setup_kernel(config)
    timings.setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    base = neuron_parameters(net.neuron_model, net.neuron)
    pops = []
    in_neuron = net.background == "poisson" and net.poisson_source == "neuron"
    for i, name in enumerate(d.populations):
        params = dict(base, I_e=float(d.i_e[i]), V_m=_normal(nest, d.v0_mean[i], d.v0_sd[i]))
        if in_neuron:  # the neuron draws the summed Poisson background itself
            params.update(bg_rate=float(d.poisson_rate[i]), bg_weight=float(d.weight_ext))
        pops.append(nest.Create(model, int(d.sizes[i]), params=params))
    recorder = nest.Create("spike_recorder", params={"record_to": "memory"}) if sim.record else None
    background = ([nest.Create("poisson_generator", params={"rate": float(r)}) for r in d.poisson_rate]
                  if net.background == "poisson" and not in_neuron else [])
    dc = ([nest.Create("dc_generator", params={"amplitude": float(a), "start": stim.dc_start,
                                                "stop": stim.dc_start + stim.dc_duration})
           for a in d.dc_amplitude] if stim.dc else [])
    if stim.thalamic:
        thalamus = nest.Create("parrot_neuron", d.thalamus_size)
        # one generator per pulse, each active on (onset, onset + duration]: a fresh Poisson draw per pulse
        pulses = [{"rate": stim.thalamic_rate, "start": float(onset), "stop": float(onset) + stim.thalamic_duration}
                  for onset in stim.thalamic_onsets()]
        thalamic_drive = nest.Create("poisson_generator", len(pulses), params=pulses if len(pulses) > 1 else pulses[0])
    vm_neurons = _vm_neurons(pops, d.vm_positions) if sim.record else None  # nothing to write them to otherwise
    multimeter = None
    if vm_neurons is not None:
        multimeter = nest.Create("multimeter", params={"interval": sim.vm_interval, "record_to": "memory",
                                                       "record_from": ["V_m", *SYNAPTIC_CURRENTS[net.neuron_model]]})
    timings.create = time.perf_counter() - t0

    t0 = time.perf_counter()
    synapse = nest_synapse_model(config, d, nest.total_num_virtual_procs)
    # One copy of the synapse model per source population keeps every (synapse model, VP)
    # below NEST's limit of 134 217 726 connections, so full scale runs on 1 or 2 threads.
    syn_models = []
    for name in d.populations:
        syn = f"{synapse}_{name}"
        if syn not in nest.synapse_models:
            nest.CopyModel(synapse, syn)
        syn_models.append(syn)
    h = sim.resolution
    # steps: each recurrent pathway, each thalamic pathway, the devices, and Prepare (weighted
    # like the pathways of one target population, a rough share of the construction time)
    n_steps = int(np.count_nonzero(d.synapses)) + (int(np.count_nonzero(d.thalamic_synapses)) if stim.thalamic else 0)
    prepare_weight = max(1, n_steps // max(1, len(pops)))
    total = n_steps + 1 + prepare_weight
    done = 0

    def step(k=1):
        nonlocal done
        done += k
        if progress is not None:
            progress("connect", done, total)

    step(0)

    for t, target in enumerate(pops):
        for s, source in enumerate(pops):
            n = int(d.synapses[t, s])
            if n == 0:
                continue
            w, w_sd = d.weight[t, s], d.weight_sd[t, s]
            lower, upper = (0.0, math.inf) if w >= 0 else (-math.inf, 0.0)
            nest.Connect(
                source, target,
                conn_spec={"rule": "fixed_total_number", "N": n, "allow_autapses": True, "allow_multapses": True},
                syn_spec={"synapse_model": syn_models[s],
                          "weight": _normal(nest, w, w_sd, lower, upper),
                          "delay": _normal(nest, d.delay[t, s], d.delay_sd[t, s], h / 2)})
            step()
    if recorder is not None:  # weightless connections: the smallest connector NEST keeps per recorded neuron
        for p in pops:
            nest.Connect(p, recorder, syn_spec={"synapse_model": RECORDER_SYNAPSE_MODELS[synapse]})
    for gen, p in zip(background, pops):
        nest.Connect(gen, p, syn_spec={"weight": d.weight_ext, "delay": d.delay_ext})
    for gen, p in zip(dc, pops):
        nest.Connect(gen, p)
    if stim.thalamic:
        nest.Connect(thalamic_drive, thalamus)
        for t, target in enumerate(pops):
            n = int(d.thalamic_synapses[t])
            if n == 0:
                continue
            nest.Connect(
                thalamus, target,
                conn_spec={"rule": "fixed_total_number", "N": n, "allow_autapses": True, "allow_multapses": True},
                syn_spec={"synapse_model": synapse,
                          "weight": _normal(nest, d.weight_thalamic, d.weight_thalamic_sd, 0.0),
                          "delay": _normal(nest, d.delay_thalamic, d.delay_thalamic_sd, h / 2)})
            step()
    if multimeter is not None:
        nest.Connect(multimeter, vm_neurons)
    step()
    nest.Prepare()
    nest.Cleanup()
    step(prepare_weight)
    timings.connect = time.perf_counter() - t0
    return Network(populations=pops, recorder=recorder, timings=timings, multimeter=multimeter,
                   vm_neurons=vm_neurons)


def node_ids(nodes) -> np.ndarray:
    """The node ids of a NodeCollection as an int64 array.

    ``NodeCollection.tolist()`` reads every node's full status (about 25 µs per neuron here, 2 s
    at full scale); the populations ``nest.Create`` makes are contiguous, so their first and last
    ids give the rest.
    """
    n = len(nodes)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    first, last = int(nodes[0].global_id), int(nodes[-1].global_id)
    if last - first + 1 == n:  # ids are sorted and unique, so this is the whole range
        return np.arange(first, last + 1, dtype=np.int64)
    return np.asarray(nodes.tolist(), dtype=np.int64)


def _vm_neurons(pops: list, positions: tuple[np.ndarray, ...]):
    """The NodeCollection of the neurons whose V_m is recorded (None when there are none)."""
    ids = [node_ids(p)[pos] for p, pos in zip(pops, positions) if len(pos)]
    if not ids:
        return None
    return _nest().NodeCollection(np.concatenate(ids).tolist())


@dataclass
class Chunk:
    """What one simulated chunk recorded."""

    senders: np.ndarray                 # spikes: node ids ...
    times: np.ndarray                   # ... and times (ms)
    vm_times: np.ndarray | None = None  # sample times (ms), shape (n_samples,)
    V_m: np.ndarray | None = None       # (n_samples, n_local_vm_neurons), mV, neurons in node-id order
    I_syn: np.ndarray | None = None     # the same for the total synaptic current (pA)


def simulate_chunk(network: Network, duration: float, neuron_model: str = "nestml",
                   local_vm_neurons: np.ndarray | None = None) -> Chunk:
    """Simulate ``duration`` ms; return what the recorders got in that chunk, and empty them.

    NEST's simulation is invariant to splitting ``Simulate`` calls, so chunking does not change
    the results (tests/nest/test_neuron.py checks it for the neuron). The multimeter delivers the
    sample at the very end of a ``Simulate`` call with the next call, so a chunk holds the samples
    from the end of the previous chunk up to one interval before its own end.
    """
    nest = _nest()
    nest.Simulate(duration)
    rec = network.recorder
    if rec is None:
        chunk = Chunk(np.empty(0, np.int64), np.empty(0))
    else:
        events = rec.events
        chunk = Chunk(np.asarray(events["senders"]), np.asarray(events["times"]))
        _clear_events(rec)
    if network.multimeter is not None and local_vm_neurons is not None and local_vm_neurons.size:
        events = network.multimeter.events
        senders, times = np.asarray(events["senders"]), np.asarray(events["times"])
        order = np.lexsort((senders, times))  # by time, then node id
        n = local_vm_neurons.size
        shape = (senders.size // n, n)
        if senders.size % n or not np.all(senders[order].reshape(shape) == local_vm_neurons):
            raise RuntimeError(f"the multimeter returned {senders.size} samples, not whole rows of {n} neurons")
        chunk.vm_times = times[order].reshape(shape)[:, 0]
        chunk.V_m = np.asarray(events["V_m"])[order].reshape(shape)
        chunk.I_syn = sum(np.asarray(events[name])[order] for name in SYNAPTIC_CURRENTS[neuron_model]).reshape(shape)
        _clear_events(network.multimeter)
    return chunk


def _clear_events(device) -> None:
    """Empty a recorder's memory (``n_events = 0``).

    ``NodeCollection.set`` (and attribute assignment) reads the device's whole status twice before
    it sets anything (to find local nodes and list-valued parameters), converting every recorded
    event each time: 2.3 ms per 100 ms chunk with V_m of 10 neurons per population at scale 0.1, against
    0.02 ms (``python benchmarks/clear_events.py``; docs/benchmarks.md).
    The kernel call ``set`` ends with does the job alone; NEST's version is checked at load.
    """
    try:
        from nest.lib.hl_api_types import nestkernel
        setter = nestkernel.llapi_set_nc_status
    except (ImportError, AttributeError):  # another PyNEST layout: the public, slower way
        device.n_events = 0
        return
    setter(device._datum, [{"n_events": 0}])


def release() -> None:
    """Free the network: reset NEST's kernel and hand the freed memory back to the operating system.

    ``ResetKernel`` deletes every node and connection, but glibc keeps most of what NEST frees
    (connections live in blocks of a few tens of kB, which glibc keeps for reuse; measured for a
    scale-0.3 network: 1 359 MB resident after the run, 1 314 MB after ``ResetKernel``, 193 MB after
    ``malloc_trim``). A run releases its network before writing the spike file, so that writing it
    does not add to the network's peak, and a process that runs many networks does not keep them.
    """
    reset_kernel()
    trim_memory()


def trim_memory() -> None:
    """Return the C heap's free memory to the operating system (glibc's ``malloc_trim``; elsewhere nothing)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def process_info() -> tuple[int, int]:
    """(rank, number of MPI processes) of this NEST; imports NEST, which starts MPI if it has it."""
    nest = _nest()
    return int(nest.Rank()), int(nest.NumProcesses())


def sync_processes() -> None:
    """NEST's barrier: returns when every MPI process has called it."""
    _nest().SyncProcesses()


def local_spike_count() -> int:
    """Spikes emitted by this process's neurons during the last ``Simulate`` call (no recorder needed)."""
    return int(_nest().local_spike_counter)


def kernel_info() -> dict:
    """NEST facts worth storing with a run, for this process.

    On several MPI processes ``num_connections`` and ``memory_size_mb`` are this rank's own.
    """
    nest = _nest()
    keys = ["total_num_virtual_procs", "num_processes", "local_num_threads", "num_connections", "memory_size"]
    ks = dict(zip(keys, nest.GetKernelStatus(keys)))  # not the whole status: it copies NEST's logs
    return {
        "nest_version": nest.__version__,
        "virtual_processes": int(ks["total_num_virtual_procs"]),
        "mpi_processes": int(ks["num_processes"]),
        "threads": int(ks["local_num_threads"]),
        "num_connections": int(ks["num_connections"]),
        "memory_size_mb": float(ks["memory_size"]) / 1024.0,
    }
