"""NEST kernel settings the run relies on for long runs (docs/benchmarks.md, "Memory of long runs").

NEST appends every resize of its spike-exchange buffer to ``spike_buffer_resize_log``, which only
``ResetKernel`` empties. With NEST's default shrink limit the buffer shrinks and regrows every few
communication rounds of the microcircuit (scale 0.05: ~5 000 resizes per model second), so memory
grows with model time. The run sets the limit to 0: the buffer only grows, and it needs ~log_1.5 of
the largest round's spike count resizes (NEST grows it by 1.5x from 2 entries).
"""
from __future__ import annotations

import math

import microcircuit as mc
from microcircuit import network
from microcircuit.parameters import Config, NetworkParams, SimulationParams, derive


def test_spike_buffer_resizes_do_not_grow_with_model_time():
    import nest

    cfg = Config(network=NetworkParams(neuron_model="builtin", n_scaling=0.05, k_scaling=0.05),
                 simulation=SimulationParams(record=False, t_presim=0.0, t_sim=1000.0, threads=1))
    net = network.build(cfg, derive(cfg, mc.load_table()))
    try:
        for _ in range(100):  # 1 s of model time in chunks of 10 ms (the run's default is 100 ms; more calls, same model time)
            network.simulate_chunk(net, 10.0, cfg.network.neuron_model)
        resizes = len(nest.GetKernelStatus("spike_buffer_resize_log")["times"])
        spikes_per_round = nest.GetKernelStatus("buffer_size_spike_data")
        # growing from 2 to the largest round in steps of 1.5x, plus slack for NEST's extra growth rules
        assert resizes <= math.log(max(spikes_per_round, 2) / 2, 1.5) + 5, (resizes, spikes_per_round)
    finally:
        network.reset_kernel()
