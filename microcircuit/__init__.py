"""PD14: the Potjans & Diesmann (2014) cortical microcircuit on NEST, with the neuron in NESTML.

Main entry points::

    python -m microcircuit.run --help      # build and simulate, write spikes.nc

    import microcircuit
    result = microcircuit.simulate(microcircuit.Config())    # build, simulate, write output/spikes.nc
    ds = microcircuit.load_spikes("output/spikes.nc")       # xarray Dataset
    model = microcircuit.install_neuron_module()             # NEST model name
"""
from .connectivity import DEFAULT_TABLE, load_table
from .errors import ConfigError, SetupError
from .network import install_neuron_module
from .output import load_spikes
from .parameters import Config, NetworkParams, NeuronParams, SimulationParams, StimulusParams, derive
from .simulation import RunResult
from .simulation import run as simulate  # not "run": that name is the submodule of `python -m microcircuit.run`

__all__ = [
    "Config", "ConfigError", "DEFAULT_TABLE", "NetworkParams", "NeuronParams", "RunResult", "SetupError",
    "SimulationParams", "StimulusParams", "derive", "install_neuron_module", "load_spikes", "load_table", "simulate",
]
