"""Everything that talks to NEST: installing the neuron module, building and running the network.

This is the only module (besides the benchmark's process wrapper) that imports ``nest``.
The import happens inside the functions so that the rest of the package works without NEST.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import SetupError
from .parameters import Config, Derived, NeuronParams

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MODULE_NAME = "pd14module"
NESTML_MODEL = "iaf_psc_exp_pd14"
BUILTIN_MODEL = "iaf_psc_exp"

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


def _nest():
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on stdout
    try:
        import nest  # noqa: F401
    except ImportError as exc:
        raise SetupError(f"NEST is not importable ({exc}); install it with `pip install -e .` "
                         "(nest-simulator 3.10 from PyPI)") from None
    return nest


def build_dir() -> Path:
    """Folder that build.py writes (``$MICROCIRCUIT_BUILD_DIR`` or ``build/`` in the checkout)."""
    return Path(os.environ.get("MICROCIRCUIT_BUILD_DIR", ROOT / "build"))


def _installed_nest_dir() -> Path | None:
    """Folder of the ``nest`` package this Python would import, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("nest")
    return Path(spec.origin).resolve().parent if spec is not None and spec.origin else None


def check_neuron_module(directory: str | Path | None = None) -> Path:
    """Check, without importing NEST, that the module is built for the installed NEST; return its path.

    Raises
    ------
    SetupError
        If the module has not been built (run ``python build.py``) or was built for another NEST.
    """
    import importlib.metadata

    directory = Path(directory) if directory is not None else build_dir()
    manifest_path = directory / "manifest.json"
    module = directory / "install" / f"{MODULE_NAME}.so"
    if not manifest_path.exists() or not module.exists():
        raise SetupError(f"the NESTML neuron module is not built ({module} missing): run `python build.py` first")
    manifest = json.loads(manifest_path.read_text())
    try:
        installed = importlib.metadata.version("nest-simulator")
    except importlib.metadata.PackageNotFoundError:  # a NEST without pip metadata: checked at install
        installed = manifest.get("nest_version")
    if manifest.get("nest_version") != installed:
        raise SetupError(f"{MODULE_NAME} was built for NEST {manifest.get('nest_version')} but NEST "
                         f"{installed} is installed: run `python build.py` again")
    built_for = manifest.get("nest_kernel")
    nest_dir = _installed_nest_dir()
    if built_for and nest_dir is not None and Path(built_for).resolve().parent != nest_dir:
        # e.g. a module built for the MPI-enabled NEST of another environment (other C++ ABI)
        raise SetupError(f"{module} was built for the NEST in {Path(built_for).parent}, but this Python uses "
                         f"the NEST in {nest_dir}: run `python build.py` with this Python (keep one build "
                         "folder per NEST with `python build.py --build-dir DIR` and MICROCIRCUIT_BUILD_DIR=DIR)")
    return module


def install_neuron_module(directory: str | Path | None = None) -> str:
    """Install the compiled NESTML module into the current NEST kernel; return the NEST model name.

    Call it before any ``nest.Create`` and again after every ``nest.ResetKernel()``.

    Raises
    ------
    SetupError
        If the module has not been built (run ``python build.py``) or was built for another NEST.
    """
    nest = _nest()
    module = check_neuron_module(directory)
    manifest = json.loads((module.parent.parent / "manifest.json").read_text())
    if manifest.get("nest_version") != nest.__version__:
        raise SetupError(f"{MODULE_NAME} was built for NEST {manifest.get('nest_version')} but NEST "
                         f"{nest.__version__} is installed: run `python build.py` again")
    if NESTML_MODEL in nest.node_models:
        return NESTML_MODEL  # already installed in this kernel
    try:
        nest.Install(str(module.with_suffix("")))
    except Exception as exc:
        raise SetupError(f"NEST could not load {module} ({exc}): run `python build.py --force`") from None
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
class Network:
    """Handles of a built network."""

    populations: list  # NodeCollection per population
    recorder: object | None
    timings: dict[str, float] = field(default_factory=dict)

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


def setup_kernel(config: Config) -> str:
    """Reset NEST, set resolution, threads and seed; return the NEST neuron model to use."""
    nest = _nest()
    sim = config.simulation
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(resolution=sim.resolution, local_num_threads=sim.threads, rng_seed=sim.seed,
             print_time=False)
    if config.network.neuron_model == "nestml":
        return install_neuron_module()
    return BUILTIN_MODEL


def build(config: Config, derived: Derived, progress: Callable[[str, float, float], None] | None = None) -> Network:
    """Create and connect the network in the order of the reference implementation.

    Order (it fixes the random streams): populations (V_m drawn here), recorder, background
    generators, transient DC generators, thalamus; then recurrent connections target-major,
    recorder, background, DC, thalamus; finally ``Prepare``/``Cleanup`` so that NEST builds
    its presynaptic connection infrastructure inside the construction time.
    """
    nest = _nest()
    net, stim, sim = config.network, config.stimulus, config.simulation
    d = derived
    timings = {}
    t0 = time.perf_counter()
    model = setup_kernel(config)
    timings["setup"] = time.perf_counter() - t0

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
        thalamic_drive = nest.Create("poisson_generator", params={
            "rate": stim.thalamic_rate, "start": stim.thalamic_start,
            "stop": stim.thalamic_start + stim.thalamic_duration})
    timings["create"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # One copy of static_synapse per source population keeps every (synapse model, VP)
    # below NEST's limit of 134 217 726 connections, so full scale runs on 1 or 2 threads.
    syn_models = []
    for name in d.populations:
        syn = f"static_synapse_{name}"
        if syn not in nest.synapse_models:
            nest.CopyModel("static_synapse", syn)
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
    if recorder is not None:
        for p in pops:
            nest.Connect(p, recorder)
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
                syn_spec={"weight": _normal(nest, d.weight_thalamic, d.weight_thalamic_sd, 0.0),
                          "delay": _normal(nest, d.delay_thalamic, d.delay_thalamic_sd, h / 2)})
            step()
    step()
    nest.Prepare()
    nest.Cleanup()
    step(prepare_weight)
    timings["connect"] = time.perf_counter() - t0
    return Network(populations=pops, recorder=recorder, timings=timings)


ChunkCallback = Callable[[float, np.ndarray, np.ndarray], None]


def run(network: Network, config: Config, on_chunk: ChunkCallback | None = None,
        should_stop: Callable[[], bool] = lambda: False) -> float:
    """Simulate warm-up and simulation in chunks; return the model time reached (ms).

    After each chunk, ``on_chunk(t_reached, senders, times)`` receives the spikes of that
    chunk and the recorder is emptied, so memory stays bounded. ``should_stop()`` is
    asked after each chunk; when it returns True the run ends early. Chunking does not
    change the results: NEST's simulation is invariant to splitting ``Simulate`` calls.
    """
    nest = _nest()
    sim = config.simulation
    rec = network.recorder
    t = 0.0
    timings = network.timings
    for phase, duration in (("presim", sim.t_presim), ("sim", sim.t_sim)):
        t_end = t + duration
        t0 = time.perf_counter()
        while t < t_end - 1e-9:
            step = min(sim.chunk, t_end - t)
            nest.Simulate(step)
            t = round(t + step, 10)
            if rec is not None:
                events = rec.events
                senders, times = np.asarray(events["senders"]), np.asarray(events["times"])
                rec.n_events = 0
            else:
                senders, times = np.empty(0, np.int64), np.empty(0)
            if on_chunk is not None:
                on_chunk(t, senders, times)
            if should_stop():
                timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - t0
                return t
        timings[phase] = time.perf_counter() - t0
    return t


def process_info() -> tuple[int, int]:
    """(rank, number of MPI processes) of this NEST; imports NEST, which starts MPI if it has it."""
    nest = _nest()
    return int(nest.Rank()), int(nest.NumProcesses())


def sync_processes() -> None:
    """NEST's barrier: returns when every MPI process has called it."""
    _nest().SyncProcesses()


def local_spike_count() -> int:
    """Spikes emitted by this process's neurons since the network was built (no recorder needed)."""
    return int(_nest().local_spike_counter)


def kernel_info() -> dict:
    """NEST facts worth storing with a run.

    Collective on several MPI processes (call it on every rank): ``num_connections`` is the
    total over all ranks (NEST reports each rank's own); ``memory_size_mb`` is this rank's.
    """
    from . import parallel

    nest = _nest()
    parallel.start()
    ks = nest.GetKernelStatus()
    return {
        "nest_version": nest.__version__,
        "virtual_processes": int(ks["total_num_virtual_procs"]),
        "mpi_processes": int(ks["num_processes"]),
        "threads": int(ks["local_num_threads"]),
        "num_connections": int(parallel.total(int(ks["num_connections"]))),
        "memory_size_mb": float(ks.get("memory_size", 0)) / 1024.0 if "memory_size" in ks else None,
    }
