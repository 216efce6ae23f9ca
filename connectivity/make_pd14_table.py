#!/usr/bin/env python3
"""Write ``pd14.nc``: the connectivity table of the Potjans & Diesmann (2014) microcircuit.

Usage::

    python connectivity/make_pd14_table.py [OUTPUT]     # default: connectivity/pd14.nc

Every number below is a published value of the model (sources in the file's
``references`` attribute); nothing is derived here. Synapse numbers, in-degrees,
weights in pA and all scalings are derived from this table by
``microcircuit.parameters.derive``. To simulate another circuit, write another
table with the same variables (any number of populations).

Conventions: populations in the order of the ``population`` dimension; matrices
indexed ``[target, source]`` (row = postsynaptic, column = presynaptic).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
TYPES = ["E", "I", "E", "I", "E", "I", "E", "I"]

# Potjans & Diesmann (2014), Table 5: neurons per population at full scale (1 mm^2).
SIZES = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]

# Potjans & Diesmann (2014), Table 5: connection probabilities [target, source].
CONN_PROB = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.1350, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.0600, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.0010, 0.0034, 0.0005, 0.0277, 0.0080, 0.0658, 0.1443],
]

# Potjans & Diesmann (2014), Table 5: external (cortico-cortical) in-degrees.
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]

# Thalamic projection (Potjans & Diesmann 2014, Table 5, column "Th").
THALAMUS_SIZE = 902
THALAMIC_PROB = [0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196]

# Synaptic strengths: PSP peak 0.15 mV for excitatory sources, g = -4 for inhibitory
# sources, and twice the excitatory PSP for L4E -> L23E (Potjans & Diesmann 2014, Table 5).
PSP_EXC = 0.15
G = -4.0
# Mean delays (ms) by source type (Potjans & Diesmann 2014, Table 5).
DELAY_EXC = 1.5
DELAY_INH = 0.75

# Initial membrane potentials optimised for a short transient (INM-6 PD14 model,
# "optimized" initial conditions; L6I mean as in the code, -61.43 mV).
V0_MEAN = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]
V0_SD = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48]

# Population rates (spikes/s) of one full-scale run (INM-6 PD14 model,
# "full_mean_rates", Dec 2022); used only to compensate K-scaling.
FULL_MEAN_RATES = [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829]

BG_RATE = 8.0  # spikes/s per external input (Potjans & Diesmann 2014)

REFERENCES = (
    "Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit: relating "
    "structure and activity in a full-scale spiking network model. Cereb Cortex 24(3):785-806, "
    "doi:10.1093/cercor/bhs358 (Table 5: sizes, probabilities, K_ext, PSPs, delays, thalamus); "
    "INM-6/microcircuit-PD14-model (optimized initial potentials, full_mean_rates)."
)


def make_table() -> xr.Dataset:
    """Return the PD14 connectivity table as an xarray Dataset."""
    n = len(POPULATIONS)
    types = np.array(TYPES)
    psp = np.where(types == "E", PSP_EXC, G * PSP_EXC)[np.newaxis, :].repeat(n, axis=0)
    psp[POPULATIONS.index("L23E"), POPULATIONS.index("L4E")] = 2 * PSP_EXC
    delay = np.where(types == "E", DELAY_EXC, DELAY_INH)[np.newaxis, :].repeat(n, axis=0)

    pair = ("target", "source")
    pop = ("population",)
    ds = xr.Dataset(
        {
            "population_type": (pop, types.astype(object), {"long_name": "E (excitatory) or I (inhibitory)"}),
            "population_size": (pop, np.array(SIZES, dtype=np.int64), {"long_name": "number of neurons at full scale", "units": "1"}),
            "connection_probability": (pair, np.array(CONN_PROB), {
                "long_name": "probability that a (source, target) neuron pair has at least one synapse",
                "units": "1"}),
            "psp_mean": (pair, psp, {"long_name": "mean peak postsynaptic potential", "units": "mV"}),
            "delay_mean": (pair, delay, {"long_name": "mean transmission delay", "units": "ms"}),
            "k_ext": (pop, np.array(K_EXT, dtype=np.int64), {"long_name": "external (cortico-cortical) in-degree at full scale", "units": "1"}),
            "thalamic_probability": (pop, np.array(THALAMIC_PROB), {
                "long_name": "connection probability from the thalamic population", "units": "1"}),
            "v0_mean": (pop, np.array(V0_MEAN), {"long_name": "mean of the optimized initial membrane potential", "units": "mV"}),
            "v0_sd": (pop, np.array(V0_SD), {"long_name": "standard deviation of the optimized initial membrane potential", "units": "mV"}),
            "full_mean_rate": (pop, np.array(FULL_MEAN_RATES), {
                "long_name": "population mean rate at full scale, used to compensate K-scaling", "units": "spikes/s"}),
            "bg_rate": ((), BG_RATE, {"long_name": "rate of each external (background) input", "units": "spikes/s"}),
            "psp_ext": ((), PSP_EXC, {"long_name": "peak PSP of external (background) inputs", "units": "mV"}),
            "delay_ext": ((), DELAY_EXC, {"long_name": "delay of external (background) inputs", "units": "ms"}),
            "thalamus_size": ((), np.int64(THALAMUS_SIZE), {"long_name": "number of thalamic neurons (never scaled)", "units": "1"}),
            "psp_thalamic": ((), PSP_EXC, {"long_name": "mean peak PSP of thalamic inputs", "units": "mV"}),
            "delay_thalamic": ((), DELAY_EXC, {"long_name": "mean delay of thalamic inputs", "units": "ms"}),
        },
        coords={"population": POPULATIONS, "target": POPULATIONS, "source": POPULATIONS},
        attrs={
            "title": "Potjans & Diesmann (2014) cortical microcircuit: populations and connectivity",
            "Conventions": "CF-1.8",
            "matrix_convention": "[target, source]: row = postsynaptic population, column = presynaptic population",
            "references": REFERENCES,
            "written_by": "connectivity/make_pd14_table.py",
        },
    )
    return ds


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "pd14.nc"
    table = make_table()
    tmp = out.with_suffix(".nc.tmp")
    table.to_netcdf(tmp)
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
