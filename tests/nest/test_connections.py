"""The connections NEST creates follow the PD14 rules (docs/model.md §§2, 5).

One scale-0.1 network is built (no simulation); each check compares what NEST realised
with the distribution the rule implies, with tolerances of 5 standard errors (a correct
network fails one of these checks with probability well below 1e-5).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import microcircuit as mc
from microcircuit import network
from microcircuit.parameters import Config, NetworkParams, SimulationParams, derive

H = 0.1


@pytest.fixture(scope="module")
def built():
    import nest

    cfg = Config(network=NetworkParams(neuron_model="builtin"), simulation=SimulationParams(record=False))
    d = derive(cfg, mc.load_table())
    net = network.build(cfg, d)
    pops = dict(zip(d.populations, net.populations))
    yield nest, d, pops
    nest.ResetKernel()


def pathway(nest, pops, source, target):
    conns = nest.GetConnections(pops[source], pops[target])
    return (np.asarray(conns.get("weight")), np.asarray(conns.get("delay")), np.asarray(conns.get("target")),
            np.asarray(conns.get("source")))


def test_connection_total(built):
    nest, d, pops = built
    # recurrent synapses plus one connection per neuron from its population's Poisson generator
    assert nest.num_connections == d.n_synapses + d.n_neurons


@pytest.mark.parametrize("source, target", [("L23E", "L23E"), ("L4E", "L23E"), ("L23I", "L4E"), ("L6I", "L6E")])
def test_pathway_count_weights_and_signs(built, source, target):
    nest, d, pops = built
    s, t = d.populations.index(source), d.populations.index(target)
    w, _, _, _ = pathway(nest, pops, source, target)
    assert w.size == d.synapses[t, s]  # fixed total number
    mean, sd = d.weight[t, s], d.weight_sd[t, s]
    assert (np.all(w > 0) if mean > 0 else np.all(w < 0))  # never sign-flipped
    # Normal(mean, 0.1 |mean|); truncation at 0 is 10 sd away and irrelevant
    assert abs(w.mean() - mean) < 5 * sd / np.sqrt(w.size)
    assert abs(w.std() / sd - 1) < 5 * np.sqrt(1 / (2 * w.size))


@pytest.mark.parametrize("source", ["L23E", "L23I"])
def test_delays_redrawn_and_rounded(built, source):
    """Normal(mean, mean/2) redrawn below h/2, then rounded to the nearest step (the reference's rule)."""
    nest, d, pops = built
    _, delay, _, _ = pathway(nest, pops, source, "L23E")
    s = d.populations.index(source)
    mean, sd = d.delay[0, s], d.delay_sd[0, s]
    np.testing.assert_allclose(delay / H, np.round(delay / H), atol=1e-9)  # on the grid
    assert delay.min() == pytest.approx(H)
    # probability of the smallest delay, h: raw value in [h/2, 3h/2) given it is >= h/2
    below = stats.norm.cdf(H / 2, mean, sd)
    p_min = (stats.norm.cdf(1.5 * H, mean, sd) - below) / (1 - below)
    frac = np.mean(np.isclose(delay, H))
    assert abs(frac - p_min) < 5 * np.sqrt(p_min * (1 - p_min) / delay.size), (frac, p_min)
    # mean of the truncated normal (rounding to the grid is unbiased to within h^2/12 effects)
    a = (H / 2 - mean) / sd
    t_mean = stats.truncnorm.mean(a, np.inf, loc=mean, scale=sd)
    t_sd = stats.truncnorm.std(a, np.inf, loc=mean, scale=sd)
    assert abs(delay.mean() - t_mean) < 5 * np.hypot(t_sd, H / np.sqrt(12)) / np.sqrt(delay.size) + 1e-3


def test_indegrees_are_multinomial(built):
    """Fixed total number with multapses: each target's in-degree is Binomial(N, 1/N_target).

    The chi-square test over in-degree bins rejects a correct network with probability 1e-4.
    """
    nest, d, pops = built
    _, _, targets, sources = pathway(nest, pops, "L4E", "L4I")
    t = d.populations.index("L4I")
    n_syn, n_target = int(d.synapses[t, 2]), int(d.sizes[t])
    ids = np.asarray(pops["L4I"].tolist())
    indeg = np.bincount(np.searchsorted(ids, targets), minlength=n_target)
    assert indeg.sum() == n_syn
    binom = stats.binom(n_syn, 1 / n_target)
    edges = np.unique(np.round(binom.ppf(np.linspace(0.0, 1.0, 11)[1:-1])).astype(int))
    observed = np.bincount(np.searchsorted(edges, indeg, side="right"), minlength=edges.size + 1)
    cdf = np.concatenate([[0.0], binom.cdf(edges - 1), [1.0]])
    expected = np.diff(cdf) * n_target
    _, p = stats.chisquare(observed, expected)
    assert p > 1e-4, (observed, expected.round(1))
    # multapses occur (about N^2/(2 N_s N_t) repeated pairs), autapses are allowed in general
    pairs = targets.astype(np.int64) * 10**6 + sources
    assert np.unique(pairs).size < pairs.size
