"""Model, stimulus and simulation parameters, and the one function that derives everything else.

The parameter classes are frozen dataclasses holding only what a user chooses
(units in each field's comment, NEST's native units: ms, mV, pA, pF, spikes/s).
``derive(config, table)`` turns them and a connectivity table into every number
the network needs (population sizes, synapse counts, weights, delays, DC, rates).
It is pure: no NEST, no files.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import xarray as xr

from . import physics, variations
from .errors import ConfigError, named, option, setting

BACKGROUNDS = ("poisson", "dc")
V0_CHOICES = ("optimized", "original")
NEURON_CHOICES = ("nestml", "builtin")
BUILTIN_MODEL = "iaf_psc_exp"  # NEST's model for neuron_model = "builtin"
POISSON_SOURCES = ("generator", "neuron")
# NEST's static synapse in its compact form (16 bytes per connection: the target as a thread-local index,
# not a pointer) or its standard form (32 bytes); both deliver the same events in the same order, hence
# the same spikes. "auto" takes the compact one only when the standard one does not fit in memory
# (see nest_synapse_model): the compact one costs time, as NEST finds each target through a lookup.
SYNAPSE_MODELS = ("auto", "static_synapse_hpc", "static_synapse")
# NEST refuses static_synapse_hpc connections to a thread that holds more nodes than this (its target
# index has 16 bits; Kunkel et al. 2014, Front Neuroinform 8:78, Sec 3.3.2).
HPC_MAX_NODES_PER_THREAD = 65_534
# The spike recorder's connections carry no weight: NEST's homogeneous-weight form of each synapse
# model stores one weight for all of them (8 instead of 16 bytes per connection in the compact form,
# 24 instead of 32 in the standard one), which matters because NEST gives every recorded neuron a
# connector of 1 024 connections (docs/benchmarks.md).
RECORDER_SYNAPSE_MODELS = {"static_synapse": "static_synapse_hom_w", "static_synapse_hpc": "static_synapse_hom_w_hpc"}
MAX_PRESIM_MS = 10_000.0  # a warm-up beyond 10 s model time serves no purpose in PD14


@dataclass(frozen=True)
class NeuronParams:
    """Leaky integrate-and-fire neuron with exponential current (Potjans & Diesmann 2014, Table 5)."""

    C_m: float = 250.0      # membrane capacitance (pF)
    tau_m: float = 10.0     # membrane time constant (ms)
    tau_syn: float = 0.5    # synaptic time constant, excitatory and inhibitory (ms)
    t_ref: float = 2.0      # absolute refractory period (ms)
    E_L: float = -65.0      # resting potential (mV)
    V_reset: float = -65.0  # reset potential (mV)
    V_th: float = -50.0     # threshold (mV)

    def __post_init__(self):
        for name in ("C_m", "tau_m", "tau_syn"):
            _require(f"neuron.{name}", getattr(self, name), "> 0", getattr(self, name) > 0)
        _require("neuron.t_ref", self.t_ref, ">= 0", self.t_ref >= 0)
        _require("neuron.V_reset", self.V_reset, "< V_th", self.V_reset < self.V_th)
        if math.isclose(self.tau_m, self.tau_syn):
            raise ConfigError(f"{named('neuron.tau_syn')} must differ from {named('neuron.tau_m')} (the PSP-to-PSC "
                              "conversion is singular)")


@dataclass(frozen=True)
class NetworkParams:
    """The network: scalings, background, initial conditions, synapse distributions."""

    connectivity: str = ""          # path of the connectivity table; "" = connectivity/pd14.nc
    n_scaling: float = 0.1          # fraction of neurons, in (0, 1]
    k_scaling: float = 0.1          # fraction of in-degrees, in (0, 1]; weights and DC compensate
    background: str = "poisson"     # "poisson" (Poisson input) or "dc" (its mean as a constant current)
    poisson_source: str = "generator"  # Poisson background from NEST poisson_generators, or drawn "neuron"-side
    v0: str = "optimized"           # initial V_m: "optimized" (per population, from the table) or "original"
    v0_original_mean: float = -58.0  # mean of the "original" initial V_m (mV)
    v0_original_sd: float = 10.0     # sd of the "original" initial V_m (mV)
    weight_rel_sd: float = 0.1      # sd of the weights relative to their mean (1)
    delay_rel_sd: float = 0.5       # sd of the delays relative to their mean (1)
    # what PD14's experiments vary (docs/model.md §13; "table" = the table's own value):
    g: float | str = "table"        # relative inhibition: inhibitory PSP = g x excitatory PSP (<= 0; PD14: -4)
    bg_rate: float | str = "table"  # rate of every external (background) input, nu_bg (spikes/s, >= 0)
    k_ext: str | dict = "table"     # external in-degrees: "table", "layer_independent" or {population: K_ext}
    pathways: dict = field(default_factory=dict)  # {"SOURCE->TARGET": {"probability": f, "psp": f}}, factors >= 0
    neuron_model: str = "nestml"    # "nestml" (compiled from models/) or "builtin" (NEST's iaf_psc_exp)
    synapse_model: str = "auto"     # NEST model of the recurrent and thalamic synapses (SYNAPSE_MODELS)
    neuron: NeuronParams = field(default_factory=NeuronParams)

    def __post_init__(self):
        for name in ("n_scaling", "k_scaling"):
            v = getattr(self, name)
            _require(name, v, "in (0, 1]", 0 < v <= 1)
        _choice("background", self.background, BACKGROUNDS)
        _choice("v0", self.v0, V0_CHOICES)
        _choice("neuron_model", self.neuron_model, NEURON_CHOICES)
        _choice("poisson_source", self.poisson_source, POISSON_SOURCES)
        _choice("synapse_model", self.synapse_model, SYNAPSE_MODELS)
        if self.poisson_source == "neuron" and self.neuron_model != "nestml":
            raise ConfigError(f"{setting('poisson_source', 'neuron')} needs {setting('neuron_model', 'nestml')} "
                              "(NEST's iaf_psc_exp cannot draw its own background)")
        _require("v0_original_sd", self.v0_original_sd, ">= 0", self.v0_original_sd >= 0)
        _require("weight_rel_sd", self.weight_rel_sd, "in [0, 1]", 0 <= self.weight_rel_sd <= 1)
        _require("delay_rel_sd", self.delay_rel_sd, "in [0, 2]", 0 <= self.delay_rel_sd <= 2)
        object.__setattr__(self, "g", variations.table_or_number(
            "g", self.g, "a number <= 0 (inhibitory PSP = g x excitatory PSP; PD14: -4)", lambda v: v <= 0))
        object.__setattr__(self, "bg_rate", variations.table_or_number(
            "bg_rate", self.bg_rate, "a number >= 0 (spikes/s)", lambda v: v >= 0))
        object.__setattr__(self, "k_ext", variations.check_k_ext(self.k_ext))
        object.__setattr__(self, "pathways", variations.check_pathways(self.pathways))
        _require("v0_original_mean", self.v0_original_mean, "finite", math.isfinite(self.v0_original_mean))


@dataclass(frozen=True)
class StimulusParams:
    """Optional stimuli, both off by default (Potjans & Diesmann 2014)."""

    thalamic: bool = False            # thalamic pulse: Poisson spikes of all thalamic neurons
    thalamic_rate: float = 120.0      # rate of each thalamic neuron during the pulse (spikes/s)
    thalamic_start: float = 700.0     # start of the first pulse, absolute time (ms)
    thalamic_duration: float = 10.0   # pulse duration (ms)
    thalamic_pulses: int = 1          # number of pulses (each a fresh Poisson draw), for trial averages
    thalamic_interval: float = 500.0  # time from one pulse's start to the next's (ms)
    dc: bool = False                  # transient DC input to every population
    dc_amplitude_per_input: float = 0.3  # DC per external input (pA); a population gets this x K_ext
    dc_start: float = 650.0           # DC start, absolute time (ms)
    dc_duration: float = 100.0        # DC duration (ms)

    def thalamic_onsets(self) -> np.ndarray:
        """Start times of the thalamic pulses (ms, absolute time); empty when the thalamic stimulus is off."""
        if not self.thalamic:
            return np.empty(0)
        return self.thalamic_start + self.thalamic_interval * np.arange(self.thalamic_pulses)

    def __post_init__(self):
        _require("thalamic_rate", self.thalamic_rate, ">= 0", self.thalamic_rate >= 0)
        _require("thalamic_pulses", self.thalamic_pulses, "a whole number >= 1",
                 isinstance(self.thalamic_pulses, (int, np.integer)) and self.thalamic_pulses >= 1)
        if self.thalamic_pulses > 1:
            _require("thalamic_interval", self.thalamic_interval,
                     f"longer than thalamic_duration ({self.thalamic_duration:g} ms), so that pulses do not overlap",
                     self.thalamic_interval > self.thalamic_duration)
        for name in ("thalamic_start", "dc_start"):
            _require(name, getattr(self, name), ">= 0", getattr(self, name) >= 0)
        for name in ("thalamic_duration", "dc_duration"):
            _require(name, getattr(self, name), "> 0", getattr(self, name) > 0)
        _require("dc_amplitude_per_input", self.dc_amplitude_per_input, "finite",
                 math.isfinite(self.dc_amplitude_per_input))


@dataclass(frozen=True)
class SimulationParams:
    """How the network is simulated."""

    t_presim: float = 500.0    # warm-up before the analysis window (ms); its spikes are kept
    t_sim: float = 1000.0      # simulated time after the warm-up (ms)
    resolution: float = 0.1    # time step (ms)
    seed: int = 55             # NEST rng_seed
    threads: int = 2           # threads per process (virtual processes = threads x MPI ranks)
    record: bool = True        # record spikes of all neurons
    chunk: float = 100.0       # model time simulated per step of the run loop (ms); results do not depend on it
    record_vm: int = 0         # record V_m and I_syn of this many neurons per population (0: none)
    vm_interval: float = 1.0   # sampling interval of V_m and I_syn (ms), a multiple of the resolution

    def __post_init__(self):
        _require("t_sim", self.t_sim, "> 0", self.t_sim > 0)
        _require("t_presim", self.t_presim, f"in [0, {MAX_PRESIM_MS:g}]", 0 <= self.t_presim <= MAX_PRESIM_MS)
        _require("resolution", self.resolution, "in (0, 1]", 0 < self.resolution <= 1)
        _require("seed", self.seed, "a whole number in [1, 2**31 - 1]",
                 isinstance(self.seed, (int, np.integer)) and 1 <= self.seed < 2**31)
        _require("threads", self.threads, "a whole number >= 1",
                 isinstance(self.threads, (int, np.integer)) and self.threads >= 1)
        _require("chunk", self.chunk, "> 0", self.chunk > 0)
        _require("record_vm", self.record_vm, "a whole number >= 0",
                 isinstance(self.record_vm, (int, np.integer)) and self.record_vm >= 0)
        _require("vm_interval", self.vm_interval, "> 0", self.vm_interval > 0)
        for name in ("t_sim", "t_presim", "chunk", "vm_interval"):
            steps = getattr(self, name) / self.resolution
            if not math.isclose(steps, round(steps), abs_tol=1e-9):
                raise ConfigError(f"{setting(name, getattr(self, name))} ms must be a multiple of the resolution "
                                  f"({self.resolution:g} ms)")


@dataclass(frozen=True)
class Config:
    """Everything that determines a run."""

    network: NetworkParams = field(default_factory=NetworkParams)
    stimulus: StimulusParams = field(default_factory=StimulusParams)
    simulation: SimulationParams = field(default_factory=SimulationParams)

    def __post_init__(self):
        stim, sim = self.stimulus, self.simulation
        end = sim.t_presim + sim.t_sim
        if stim.thalamic and stim.thalamic_onsets()[-1] >= end:
            last = stim.thalamic_onsets()[-1]
            what = (f"the thalamic pulse starts at {last:g} ms" if stim.thalamic_pulses == 1 else
                    f"the last of {stim.thalamic_pulses} thalamic pulses starts at {last:g} ms")
            remedy = (f"simulate longer ({option('t_sim')}) or start earlier ({option('thalamic_start')})"
                      if stim.thalamic_pulses == 1 else
                      f"simulate longer ({option('t_sim')}), or use fewer pulses ({option('thalamic_pulses')}) or a "
                      f"shorter interval ({option('thalamic_interval')})")
            raise ConfigError(f"{what}, not before the end of the run at {end:g} ms: it would never be delivered; "
                              f"{remedy}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], table: xr.Dataset | None = None) -> "Config":
        """Build a Config from nested dicts (as in a TOML file or ``to_dict``); unknown keys are errors.

        Obsolete keys of older files are translated (``variations.upgrade_config_dict``; ``table``
        is the connectivity table they refer to, by default the one ``network.connectivity`` names).
        """
        return _from_dict(cls, variations.upgrade_config_dict(data, table), "")

    def replace(self, **sections) -> "Config":
        """A copy with some sections replaced: by a section object, or by a dict of the fields to change.

        ``config.replace(simulation={"record": False})`` changes one field of one section.
        """
        changes = {name: dataclasses.replace(getattr(self, name), **value) if isinstance(value, dict) else value
                   for name, value in sections.items()}
        return dataclasses.replace(self, **changes)


def _from_dict(cls, data, prefix):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'configuration'} must be a table of options")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown option {prefix}{unknown[0]}; allowed in [{prefix.rstrip('.') or 'top level'}]: "
                          f"{', '.join(known)}")
    kwargs = {}
    for name, value in data.items():
        sub = _SECTIONS.get((cls, name))
        if sub is not None:
            kwargs[name] = _from_dict(sub, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, known[name], f"{prefix}{name}")
    return cls(**kwargs)


def _coerce(value, f, label):
    if f.name in _CHECKED_BY_THE_CLASS:
        return value
    default = f.default if f.default is not dataclasses.MISSING else None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{label} must be a whole number, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ConfigError(f"{label} must be a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{label} must be a string, got {value!r}")
        return value
    return value


# fields of more than one type (a number or "table", a name or a table of values), which the class checks
_CHECKED_BY_THE_CLASS = set(variations.VARIED_KEYS)

_SECTIONS = {
    (Config, "network"): NetworkParams,
    (Config, "stimulus"): StimulusParams,
    (Config, "simulation"): SimulationParams,
    (NetworkParams, "neuron"): NeuronParams,
}


def _require(name, value, allowed, ok):
    """Refuse ``value`` of the option ``name``, named as the user set it (:func:`microcircuit.errors.setting`)."""
    if not ok:
        raise ConfigError(f"{setting(name, value)} is not allowed; must be {allowed}")


def _choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{setting(name, value)} is not allowed; choose one of {', '.join(choices)}")


# ----------------------------------------------------------------------------------------------
# derived quantities


@dataclass(frozen=True)
class Derived:
    """Every number the network needs, derived from a Config and a connectivity table.

    Arrays over populations follow the table's population order; matrices are [target, source].
    """

    populations: tuple[str, ...]
    types: tuple[str, ...]                # "E" / "I"
    sizes_full: np.ndarray                # neurons at full scale
    sizes: np.ndarray                     # neurons in this network (round half to even)
    synapses: np.ndarray                  # [t, s] number of synapses (fixed total number)
    indegree_full: np.ndarray             # [t, s] mean in-degree at full scale
    psc_over_psp: float                   # pA per mV of PSP peak
    weight: np.ndarray                    # [t, s] mean PSC amplitude (pA), K-scaling compensated
    weight_sd: np.ndarray                 # [t, s] (pA)
    delay: np.ndarray                     # [t, s] mean delay (ms)
    delay_sd: np.ndarray                  # [t, s] (ms)
    k_ext: np.ndarray                     # external in-degree in this network
    poisson_rate: np.ndarray              # rate of the Poisson background per neuron (spikes/s); 0 in DC mode
    weight_ext: float                     # PSC of a background input (pA)
    delay_ext: float                      # (ms)
    i_e: np.ndarray                       # constant current per population (pA): DC background and/or compensation
    i_dc_full: np.ndarray                 # DC equivalent of the full background (pA)
    mu_recurrent_full: np.ndarray         # mean recurrent input at full scale (pA)
    full_mean_rate: np.ndarray            # the table's full-scale rates (spikes/s), basis of the K-scaling DC
    v0_mean: np.ndarray                   # (mV)
    v0_sd: np.ndarray                     # (mV)
    thalamus_size: int
    thalamic_synapses: np.ndarray         # number of thalamic synapses per target population
    weight_thalamic: float                # (pA)
    weight_thalamic_sd: float             # (pA)
    delay_thalamic: float                 # (ms)
    delay_thalamic_sd: float              # (ms)
    dc_amplitude: np.ndarray              # transient DC per population (pA)
    vm_positions: tuple[np.ndarray, ...] = ()  # per population: positions (0-based) of the neurons whose V_m is recorded
    k_ext_full: np.ndarray | None = None  # external in-degree at full scale (the table's or network.k_ext)
    bg_rate: float = math.nan             # rate of every background input, nu_bg (spikes/s)
    g: float = math.nan                   # relative inhibition (NaN if the table defines none)

    @property
    def n_vm_recorded(self) -> int:
        return int(sum(len(p) for p in self.vm_positions))

    @property
    def n_neurons(self) -> int:
        return int(self.sizes.sum())

    @property
    def n_synapses(self) -> int:
        return int(self.synapses.sum())

    def as_dataset(self) -> xr.Dataset:
        """The derived per-population and per-pathway quantities as a labelled Dataset."""
        pop = ("population",)
        pair = ("target", "source")
        p = list(self.populations)
        return xr.Dataset(
            {
                "size": (pop, self.sizes),
                "synapses": (pair, self.synapses),
                "weight": (pair, self.weight, {"units": "pA"}),
                "delay": (pair, self.delay, {"units": "ms"}),
                "k_ext": (pop, self.k_ext),
                "poisson_rate": (pop, self.poisson_rate, {"units": "spikes/s"}),
                "I_e": (pop, self.i_e, {"units": "pA"}),
                "thalamic_synapses": (pop, self.thalamic_synapses),
            },
            coords={"population": p, "target": p, "source": p},
        )


def derive(config: Config, table: xr.Dataset) -> Derived:
    """Derive every network quantity from the parameters and a (checked) connectivity table.

    Follows Potjans & Diesmann (2014) and the PD14 reference implementation's scaling rules:
    sizes ``round(N * n_scaling)``; synapse numbers ``round(Q_full * n_scaling * k_scaling)``;
    weights ``/ sqrt(k_scaling)`` with a DC that restores the mean input; external
    in-degrees ``round(K_ext * k_scaling)``. Thalamic synapse numbers scale like the
    recurrent ones (``n_scaling * k_scaling``, so the thalamic in-degree per neuron is
    ``K_th * k_scaling``), unlike the reference code, which omits ``n_scaling`` there.

    What experiments vary (``g``, ``bg_rate``, ``k_ext``, ``pathways``; :mod:`.variations`)
    replaces the table's values before anything is derived from them, so the K-scaling DC is
    computed with the changed in-degrees, weights and ν_bg, at the table's ``full_mean_rate``
    (docs/model.md §13).
    """
    net, stim, sim = config.network, config.stimulus, config.simulation
    nrn = net.neuron
    pops = tuple(str(p) for p in table["population"].values)
    types = tuple(str(t) for t in table["population_type"].values)
    is_inh = np.array([t == "I" for t in types])
    f_n, f_k = net.n_scaling, net.k_scaling
    sqrt_fk = math.sqrt(f_k)

    sizes_full = np.asarray(table["population_size"].values, dtype=np.int64)
    sizes = np.round(sizes_full * f_n).astype(np.int64)  # numpy rounds half to even
    if np.any(sizes < 1):
        small = [p for p, s in zip(pops, sizes) if s < 1]
        raise ConfigError(f"{setting('n_scaling', f_n)} leaves population {small[0]} without neurons; "
                          f"increase {named('n_scaling')} (allowed: (0, 1])")

    # pathway factors (docs/model.md §13) act on the table's probabilities and PSPs before anything is derived
    # from them, so that synapse numbers, weights and the K-scaling compensation all see the changed values
    prob_factor, psp_factor = variations.pathway_factors(net.pathways, table)
    conn_table = np.asarray(table["connection_probability"].values, dtype=float)
    conn = conn_table * prob_factor
    variations.check_scaled_probabilities(conn, conn_table, table)
    q_full = physics.synapse_numbers(conn, sizes_full, sizes_full)
    synapses = np.round(q_full * f_n * f_k).astype(np.int64)
    indegree_full = q_full / sizes_full[:, np.newaxis]

    k_unit = physics.psc_over_psp(nrn.tau_m, nrn.tau_syn, nrn.C_m)
    psp = np.asarray(table["psp_mean"].values, dtype=float).copy()
    inh_factor = variations.inhibition_factor(net.g, table)
    psp[:, is_inh] *= inh_factor
    psp *= psp_factor
    weight_full = psp * k_unit
    weight = weight_full / sqrt_fk
    weight_sd = np.abs(weight) * net.weight_rel_sd
    delay = np.asarray(table["delay_mean"].values, dtype=float)
    delay_sd = delay * net.delay_rel_sd
    h = sim.resolution
    too_short = (delay < h / 2) & (synapses > 0)
    if too_short.any():
        t, s = np.argwhere(too_short)[0]
        raise ConfigError(f"delay_mean[{pops[t]}, {pops[s]}] = {delay[t, s]} ms is shorter than half the resolution "
                          f"({h} ms); NEST needs delays >= one time step")
    for name in ("delay_ext", "delay_thalamic"):
        if float(table[name]) < h / 2:
            raise ConfigError(f"{name} = {float(table[name])} ms is shorter than half the resolution ({h} ms)")

    k_ext_full = variations.external_indegrees(net.k_ext, table)
    k_ext = np.round(k_ext_full * f_k).astype(np.int64)
    bg_rate = variations.background_rate(net.bg_rate, table)
    weight_ext_full = float(table["psp_ext"]) * k_unit
    weight_ext = weight_ext_full / sqrt_fk
    rates_full = np.asarray(table["full_mean_rate"].values, dtype=float)

    mu_rec = physics.mean_input_current(nrn.tau_syn, indegree_full, weight_full, rates_full)
    i_dc_full = physics.mean_input_current(nrn.tau_syn, k_ext_full, weight_ext_full, bg_rate)
    if net.background == "dc":
        i_e = i_dc_full + (1.0 - sqrt_fk) * mu_rec
        poisson_rate = np.zeros(len(pops))
    else:
        i_e = (1.0 - sqrt_fk) * (mu_rec + i_dc_full)
        poisson_rate = bg_rate * k_ext

    if net.v0 == "optimized":
        v0_mean = np.asarray(table["v0_mean"].values, dtype=float)
        v0_sd = np.asarray(table["v0_sd"].values, dtype=float)
    else:
        v0_mean = np.full(len(pops), net.v0_original_mean)
        v0_sd = np.full(len(pops), net.v0_original_sd)

    th_size = int(table["thalamus_size"])
    th_prob = np.asarray(table["thalamic_probability"].values, dtype=float)
    q_th_full = physics.synapse_numbers(th_prob[:, np.newaxis], sizes_full, [th_size])[:, 0]
    thalamic_synapses = np.round(q_th_full * f_n * f_k).astype(np.int64)
    weight_th = float(table["psp_thalamic"]) * k_unit / sqrt_fk
    delay_th = float(table["delay_thalamic"])

    return Derived(
        populations=pops,
        types=types,
        sizes_full=sizes_full,
        sizes=sizes,
        synapses=synapses,
        indegree_full=indegree_full,
        psc_over_psp=k_unit,
        weight=weight,
        weight_sd=weight_sd,
        delay=delay,
        delay_sd=delay_sd,
        k_ext=k_ext,
        poisson_rate=poisson_rate,
        weight_ext=weight_ext,
        delay_ext=float(table["delay_ext"]),
        i_e=i_e,
        i_dc_full=i_dc_full,
        mu_recurrent_full=mu_rec,
        full_mean_rate=rates_full,
        v0_mean=v0_mean,
        v0_sd=v0_sd,
        thalamus_size=th_size,
        thalamic_synapses=thalamic_synapses,
        weight_thalamic=weight_th,
        weight_thalamic_sd=weight_th * net.weight_rel_sd,
        delay_thalamic=delay_th,
        delay_thalamic_sd=delay_th * net.delay_rel_sd,
        dc_amplitude=stim.dc_amplitude_per_input * k_ext_full,
        vm_positions=vm_sample(sizes, sim.record_vm, sim.seed),
        k_ext_full=k_ext_full,
        bg_rate=bg_rate,
        g=variations.table_g(table) * inh_factor,
    )


VM_SAMPLE_STREAM = 0x566D  # "Vm": keeps the V_m sample's random stream apart from any other use of the seed


def vm_sample(sizes, per_population: int, seed: int) -> tuple[np.ndarray, ...]:
    """Which neurons' membrane potentials are recorded: ``per_population`` of each population, drawn at random.

    The choice depends only on the population sizes, the number and the seed (a NumPy generator
    seeded with ``[seed, VM_SAMPLE_STREAM]``), so the same table, scale and seed record the same
    neurons, whatever the number of threads or processes. A population smaller than
    ``per_population`` is recorded whole.

    Returns
    -------
    tuple of numpy.ndarray
        Per population, the sorted positions (0-based) within the population.
    """
    if per_population <= 0:
        return tuple(np.empty(0, dtype=np.int64) for _ in sizes)
    rng = np.random.default_rng([int(seed), VM_SAMPLE_STREAM])
    return tuple(np.sort(rng.choice(int(n), size=min(per_population, int(n)), replace=False)).astype(np.int64)
                 for n in sizes)


def below_rheobase(config: Config, derived: Derived) -> np.ndarray:
    """Populations that cannot fire on their own: no Poisson input and a constant current at most rheobase.

    With ``I_e <= C_m (V_th - E_L) / tau_m`` the membrane potential relaxes to at most ``V_th``
    and never reaches it, so such a population fires only through recurrent excitation (and
    its initial potentials). This happens with DC background below a critical k-scaling
    (docs/model.md, "Scaling"); the reference implementation warns about it.

    Returns
    -------
    numpy.ndarray of bool, shape (n_populations,)
    """
    nrn = config.network.neuron
    i_rh = physics.rheobase(nrn.C_m, nrn.tau_m, nrn.V_th, nrn.E_L)
    return (np.asarray(derived.poisson_rate) <= 0) & (np.asarray(derived.i_e) <= i_rh)


def nodes_per_thread(config: Config, derived: Derived, virtual_processes: int) -> int:
    """At most how many NEST nodes one thread holds: its share of the neurons (and thalamic parrot
    neurons), which NEST deals out round-robin over the virtual processes, plus one copy of every
    device (spike recorder, multimeter, generators), which NEST keeps on every thread."""
    stim = config.stimulus
    n_pops = len(derived.populations)
    distributed = derived.n_neurons + (derived.thalamus_size if stim.thalamic else 0)
    devices = 2 + 2 * n_pops + (stim.thalamic_pulses if stim.thalamic else 0)
    return -(-distributed // max(1, int(virtual_processes))) + devices


def compact_synapse_allowed(config: Config, derived: Derived, virtual_processes: int) -> bool:
    """Whether NEST accepts ``static_synapse_hpc`` connections on this many virtual processes."""
    return nodes_per_thread(config, derived, virtual_processes) <= HPC_MAX_NODES_PER_THREAD


def nest_synapse_model(config: Config, derived: Derived, virtual_processes: int, fits: bool = True) -> str:
    """The NEST synapse model of the recurrent and thalamic connections and of the spike recorder's.

    ``synapse_model = "auto"`` takes ``static_synapse`` (32 bytes per connection, the faster one to
    deliver) when it ``fits`` in the available memory (the run's pre-flight check decides), else
    ``static_synapse_hpc`` (16 bytes) where NEST allows it: at most ``HPC_MAX_NODES_PER_THREAD``
    nodes per thread, so not at full scale on one virtual process (77 169 neurons). Both give the
    same spikes.

    Raises
    ------
    ConfigError
        ``synapse_model = "static_synapse_hpc"`` with more nodes per thread than NEST allows.
    """
    choice = config.network.synapse_model
    allowed = compact_synapse_allowed(config, derived, virtual_processes)
    if choice == "auto":
        return "static_synapse" if fits or not allowed else "static_synapse_hpc"
    if choice == "static_synapse_hpc" and not allowed:
        raise ConfigError(f"{option('synapse_model')} static_synapse_hpc allows at most {HPC_MAX_NODES_PER_THREAD} "
                          f"nodes per thread but this run puts up to {nodes_per_thread(config, derived, virtual_processes)} "
                          f"on one of its {virtual_processes} virtual processes: use more {option('threads')} or "
                          f"{option('synapse_model')} static_synapse")
    return choice
