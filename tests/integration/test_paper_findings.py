"""PD14's findings across parameters (Potjans & Diesmann 2014, Figs. 7 and 8), where a small network shows them.

Simulated (one sweep, the command a user types): PD14 Fig. 7B, layer-independent external in-degrees
silence L6E. The network has n_scaling 0.05 but k_scaling 1: every neuron keeps PD14's in-degrees, so
the operating point is PD14's (reduced in-degrees would move it: van Albada et al. 2015). Measured with
this sweep (seeds 55, 56; 200 ms warm-up, 500 ms window): L6E fires at 1.12 and 1.08 spikes/s with the
table's in-degrees and at 0.003 and 0.011 spikes/s with layer-independent ones; the mean-field theory
predicts 1.20 and 0.004. The paper's criterion, below a tenth of the layer-specific rate, is asserted
for every seed (the largest measured ratio is 0.01, ten times below it).

Mean field (``microcircuit.theory.predict``, full scale, Poisson background): the sensitivities PD14
reads off Fig. 8A/C, L4E the excitatory population most sensitive to the background rate and L5E to
the relative inhibition g. A network of this size cannot show them in a test's time: in the same
sweep at ν_bg 8 -> 9 and g -4 -> -4.5 (500 ms), the seed-to-seed spread of L5E (about 1 spikes/s,
its synchrony is high at n_scaling 0.05) is as large as the effects. docs/sweeps.md ("The paper's
experiments") says which findings need full scale and gives the commands.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from microcircuit import Config
from microcircuit.parameters import NetworkParams
from microcircuit.theory.prediction import predict

EXCITATORY = ["L23E", "L4E", "L5E", "L6E"]


@pytest.mark.slow
def test_layer_independent_external_input_silences_L6E(tmp_path):
    """PD14 Fig. 7B: with 2000/1850 external inputs in every layer L6E falls silent (per seed: < 1/10 of its rate)."""
    out = tmp_path / "fig7b"
    done = subprocess.run([sys.executable, "-m", "microcircuit.sweep", "--n-scale", "0.05", "--k-scale", "1",
                           "--t-presim", "200", "--t-sim", "500", "--threads", "1", "--workers", "2",
                           "--vary", "k_ext=table,layer_independent", "--seeds", "2", "--no-plots",
                           "--quiet", "--output", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with xr.open_dataset(out / "sweep.nc") as ds:
        assert (ds.status == "ok").all()
        l6e = ds.rate.sel(population="L6E")
        specific, independent = l6e.sel(k_ext="table"), l6e.sel(k_ext="layer_independent")
        # layer-specific input keeps L6E active (measured 1.08-1.12 spikes/s; theory 1.20)
        assert (specific > 0.5).all(), specific.values
        assert (independent < 0.1 * specific).all(), (independent.values, specific.values)
        # the other populations stay active: it is L6E's input, not the network, that is lost
        others = ds.rate.sel(k_ext="layer_independent").drop_sel(population="L6E")
        assert (others > 0.5).all(), others.values


def _rates(pd14_table, **network) -> xr.DataArray:
    config = Config(network=NetworkParams(n_scaling=1.0, k_scaling=1.0, **network))
    return predict(config, table=pd14_table)["rate"].sel(population=EXCITATORY)


def test_mean_field_l4e_is_the_excitatory_population_most_sensitive_to_the_background_rate(pd14_table):
    """PD14 Fig. 8A: the steepest excitatory rate against nu_bg (g = -4) is L4E's.

    Predicted changes from nu_bg 8 to 10 spikes/s: L2/3E +0.43, L4E +1.87, L5E +0.61, L6E -0.38 spikes/s;
    the next largest is a third of L4E's, so a change of the model that moved this would be a real one.
    """
    change = _rates(pd14_table, g=-4.0, bg_rate=10.0) - _rates(pd14_table, g=-4.0, bg_rate=8.0)
    order = np.argsort(-np.abs(change.values))
    assert EXCITATORY[order[0]] == "L4E", change.values
    assert abs(change.values[order[1]]) < 0.5 * abs(change.values[order[0]]), change.values


def test_mean_field_l5e_is_the_excitatory_population_most_sensitive_to_inhibition(pd14_table):
    """PD14 Fig. 8C: the steepest excitatory rate against g (nu_bg = 8) is L5E's, and it falls as inhibition grows.

    Predicted changes from g = -4 to -5: L2/3E +0.08, L4E -0.20, L5E -2.21, L6E -0.30 spikes/s.
    """
    change = _rates(pd14_table, g=-5.0, bg_rate=8.0) - _rates(pd14_table, g=-4.0, bg_rate=8.0)
    order = np.argsort(-np.abs(change.values))
    assert EXCITATORY[order[0]] == "L5E", change.values
    assert change.sel(population="L5E") < 0
    assert abs(change.values[order[1]]) < 0.5 * abs(change.values[order[0]]), change.values


def test_mean_field_excitatory_rate_order_at_pd14s_operating_point(pd14_table):
    """PD14 Fig. 6/8: L5E fires most of the excitatory populations, L2/3E and L6E least (g = -4, nu_bg = 8).

    Predicted: L2/3E 0.76, L4E 4.44, L5E 7.15, L6E 1.16 spikes/s. (Across the whole Fig. 8 grid the
    mean field does not keep this order: at g <= -6 and nu_bg >= 6 it puts L4E above L5E; docs/sweeps.md.)
    """
    r = _rates(pd14_table, g=-4.0, bg_rate=8.0)
    assert r.idxmax().item() == "L5E"
    lowest = set(r.sortby(r).population.values[:2].tolist())
    assert lowest == {"L23E", "L6E"}, r.values
