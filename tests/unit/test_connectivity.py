"""The connectivity table: the written file round-trips, and tables of other sizes work."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from microcircuit.connectivity import DEFAULT_TABLE, check_table, load_table
from microcircuit.parameters import Config, NetworkParams, derive

from ..conftest import ROOT
from ..tables import small_table


def test_script_writes_the_committed_table(tmp_path):
    """make_pd14_table.py reproduces connectivity/pd14.nc exactly (data and attributes)."""
    out = tmp_path / "pd14.nc"
    subprocess.run([sys.executable, str(ROOT / "connectivity" / "make_pd14_table.py"), str(out)], check=True,
                   capture_output=True)
    xr.testing.assert_identical(load_table(out), load_table(DEFAULT_TABLE))


def test_table_round_trip(tmp_path, pd14_table):
    path = tmp_path / "copy.nc"
    pd14_table.to_netcdf(path)
    xr.testing.assert_identical(load_table(path), pd14_table)


def test_table_has_units_and_sources(pd14_table):
    assert "Potjans" in pd14_table.attrs["references"]
    for name in ("psp_mean", "delay_mean", "v0_mean", "full_mean_rate", "bg_rate"):
        assert pd14_table[name].attrs["units"] in {"mV", "ms", "spikes/s"}


def test_doubled_l4e_to_l23e_is_data(pd14_table):
    psp = pd14_table["psp_mean"]
    assert float(psp.sel(target="L23E", source="L4E")) == pytest.approx(0.30)
    assert float(psp.sel(target="L4E", source="L23E")) == pytest.approx(0.15)
    assert float(psp.sel(target="L23E", source="L23I")) == pytest.approx(-0.60)


@pytest.mark.parametrize("n_pops", [1, 3, 11])
def test_other_population_counts_derive(n_pops):
    table = check_table(small_table(n_pops))
    d = derive(Config(network=NetworkParams(n_scaling=1.0, k_scaling=1.0)), table)
    assert d.synapses.shape == (n_pops, n_pops)
    assert len(d.i_e) == n_pops and d.sizes.tolist() == table["population_size"].values.tolist()
    assert np.all(d.synapses >= 0)
