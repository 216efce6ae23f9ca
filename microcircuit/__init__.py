"""PD14: the Potjans & Diesmann (2014) cortical microcircuit on NEST, with the neuron in NESTML.

Main entry points::

    python -m microcircuit.run --help      # build and simulate, write spikes.nc
    python -m microcircuit.sweep --help    # many runs over a parameter grid, summarised in sweep.nc

    import microcircuit
    result = microcircuit.simulate(microcircuit.Config())    # build, simulate, write output/spikes.nc
    ds = microcircuit.load_spikes("output/spikes.nc")       # xarray Dataset
    model = microcircuit.install_neuron_module()             # NEST model name
    from microcircuit import sweep                            # many runs: g = -6 and -4, 2 workers
    ds = sweep.run(sweep.build(microcircuit.Config(), vary=["g=-6,-4"]), "runs/g", workers=2)

Layout (each layer imports only from the ones above it; tests/unit/test_layout.py keeps it so):

* ``errors``; ``parameters`` (parameters and the one ``derive`` step), ``variations`` (what experiments
  vary: g, background rate, external in-degrees, pathways), ``physics``, ``connectivity``,
  ``build`` (compiling the NESTML neuron);
* ``analysis``, ``theory``, ``output`` (the spike file), ``provenance``, ``resources``, ``validation``,
  ``plots``, ``convert``;
* ``network`` (everything that calls NEST); ``parallel`` (MPI), ``progress``;
* ``preflight``, ``runloop``, ``simulation`` (one run), ``measurement``, ``sweep`` (many runs, locally or
  on a Dask cluster);
* ``commands`` (the command-line tools; ``run``, ``validate``, ``benchmark``, ``theory``, ``sweep`` start them).
"""
from importlib import import_module

_EXPORTS = {
    "Config": "parameters", "NetworkParams": "parameters", "NeuronParams": "parameters",
    "SimulationParams": "parameters", "StimulusParams": "parameters", "derive": "parameters",
    "ConfigError": "errors", "SetupError": "errors",
    "DEFAULT_TABLE": "connectivity", "load_table": "connectivity",
    "install_neuron_module": "network",
    "load_spikes": "output",
    "RunResult": "simulation", "simulate": "simulation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    # imported on first use, so that `python build.py` and the light commands start fast
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
