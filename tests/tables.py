"""Connectivity tables for tests (not PD14)."""
from __future__ import annotations

import numpy as np
import xarray as xr


def small_table(n_pops: int = 3, size: int = 200, seed: int = 1) -> xr.Dataset:
    """A valid table with ``n_pops`` populations, alternating E and I, in a balanced regime."""
    rng = np.random.default_rng(seed)
    names = [f"P{i}" for i in range(n_pops)]
    types = np.array(["E" if i % 2 == 0 else "I" for i in range(n_pops)], dtype=object)
    prob = rng.uniform(0.05, 0.15, (n_pops, n_pops))
    is_e = types == "E"
    psp = np.where(is_e, 0.15, -0.6)[np.newaxis, :].repeat(n_pops, axis=0)
    delay = np.where(is_e, 1.5, 0.75)[np.newaxis, :].repeat(n_pops, axis=0)
    pop, pair = ("population",), ("target", "source")
    return xr.Dataset(
        {
            "population_type": (pop, types),
            "population_size": (pop, np.full(n_pops, size, dtype=np.int64)),
            "connection_probability": (pair, prob),
            "psp_mean": (pair, psp, {"units": "mV"}),
            "delay_mean": (pair, delay, {"units": "ms"}),
            "k_ext": (pop, np.full(n_pops, 2000, dtype=np.int64)),
            "thalamic_probability": (pop, np.full(n_pops, 0.05)),
            "v0_mean": (pop, np.full(n_pops, -60.0), {"units": "mV"}),
            "v0_sd": (pop, np.full(n_pops, 4.0), {"units": "mV"}),
            "full_mean_rate": (pop, np.full(n_pops, 5.0), {"units": "spikes/s"}),
            "bg_rate": ((), 8.0),
            "psp_ext": ((), 0.15),
            "delay_ext": ((), 1.5),
            "thalamus_size": ((), np.int64(100)),
            "psp_thalamic": ((), 0.15),
            "delay_thalamic": ((), 1.5),
        },
        coords={"population": names, "target": names, "source": names},
        attrs={"title": "test table"},
    )
