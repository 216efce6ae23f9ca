"""Derived quantities against the numbers of the PD14 model (Potjans & Diesmann 2014; docs/model.md §§1-6).

Expected values are the published/derived tables; tolerances are the rounding of those tables.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from microcircuit import physics
from microcircuit.errors import ConfigError
from microcircuit.parameters import Config, NetworkParams, NeuronParams, SimulationParams, below_rheobase, derive


def config(scale=1.0, background="dc", **net):
    return Config(network=NetworkParams(n_scaling=scale, k_scaling=scale, background=background, **net))


SIZES = {
    0.1: [2068, 583, 2192, 548, 485, 106, 1440, 295],
    0.2: [4137, 1167, 4383, 1096, 970, 213, 2879, 590],
    0.5: [10342, 2917, 10958, 2740, 2425, 532, 7198, 1474],
    1.0: [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948],
}


@pytest.mark.parametrize("scale", sorted(SIZES))
def test_population_sizes_round_half_to_even(pd14_table, scale):
    # at 0.1, 2191.5 -> 2192, 106.5 -> 106 and 1439.5 -> 1440: floor(x + 0.5) would give 107 for L5I
    d = derive(config(scale), pd14_table)
    assert d.sizes.tolist() == SIZES[scale]


def test_full_scale_synapse_total(pd14_table):
    assert derive(config(1.0), pd14_table).n_synapses == 298_880_968


@pytest.mark.parametrize("scale, total", [(0.1, 2_988_807), (0.2, 11_955_239), (0.5, 74_720_239)])
def test_scaled_synapse_totals(pd14_table, scale, total):
    assert derive(config(scale), pd14_table).n_synapses == total


def test_full_scale_synapse_matrix_rows(pd14_table):
    d = derive(config(1.0), pd14_table)
    # docs/model.md §2, rows L23E and L6E (round(Q), [target, source])
    assert d.synapses[0].tolist() == [45499805, 22323577, 20253647, 9670918, 3293578, 0, 2271404, 0]
    assert d.synapses[6].tolist() == [4681225, 556108, 6727570, 1320234, 4112225, 305029, 8372649, 10827677]


def test_scaled_matrix_at_0_2(pd14_table):
    d = derive(config(0.2), pd14_table)
    # docs/model.md §3, rows L4E and L6I
    assert d.synapses[2].tolist() == [140147, 30262, 979314, 696543, 28581, 280, 584977, 0]
    assert d.synapses[7].tolist() == [90433, 688, 8801, 323, 16066, 1009, 115537, 54173]


def test_indegrees(pd14_table):
    d = derive(config(1.0), pd14_table)
    # L23E <- L23E: 2199.86 (multapses make it larger than C * N = 2086.9)
    assert d.indegree_full[0, 0] == pytest.approx(2199.86, abs=0.005)
    assert d.indegree_full.sum(axis=1)[3] == pytest.approx(5888.42, abs=0.01)


def test_psc_per_psp():
    k = physics.psc_over_psp(tau_m=10.0, tau_syn=0.5, C_m=250.0)
    assert k == pytest.approx(585.38996, abs=1e-5)


def test_psc_per_psp_against_numerical_psp_peak():
    """A PSC of k pA convolved with the membrane kernel peaks at 1 mV (numerical, fine grid)."""
    tau_m, tau_s, C_m = 10.0, 0.5, 250.0
    k = physics.psc_over_psp(tau_m, tau_s, C_m)
    t = np.linspace(0, 10, 200_001)
    v = k / C_m * tau_s * tau_m / (tau_m - tau_s) * (np.exp(-t / tau_m) - np.exp(-t / tau_s))
    assert v.max() == pytest.approx(1.0, rel=1e-8)
    assert t[v.argmax()] == pytest.approx(physics.psp_peak_time(tau_m, tau_s), abs=1e-4)
    assert physics.psp_peak_time(tau_m, tau_s) == pytest.approx(1.5767, abs=1e-4)


def test_weight_matrix(pd14_table):
    d = derive(config(1.0), pd14_table)
    assert d.weight[0, 2] == pytest.approx(175.616987, abs=1e-5)  # L4E -> L23E doubled
    assert d.weight[1, 2] == pytest.approx(87.808494, abs=1e-5)
    assert d.weight[4, 5] == pytest.approx(-351.233974, abs=1e-5)
    assert np.allclose(d.weight_sd, 0.1 * np.abs(d.weight))


@pytest.mark.parametrize("scale, w", [(0.2, 196.3458), (0.1, 277.6748)])
def test_weights_compensate_k_scaling(pd14_table, scale, w):
    assert derive(config(scale), pd14_table).weight[0, 2] / 2 == pytest.approx(w, abs=1e-4)


def test_weaker_g_changes_only_inhibitory_weights(pd14_table):
    d1 = derive(config(1.0), pd14_table)
    d2 = derive(config(1.0, g=-2.0), pd14_table)  # half of PD14's g = -4
    inh = np.array([t == "I" for t in d1.types])
    assert np.allclose(d2.weight[:, inh], 0.5 * d1.weight[:, inh])
    assert np.array_equal(d2.weight[:, ~inh], d1.weight[:, ~inh])


def test_dc_background_full_scale(pd14_table):
    d = derive(config(1.0), pd14_table)
    expected = [561.9744, 526.8510, 737.5913, 667.3446, 702.4679, 667.3446, 1018.5785, 737.5913]
    assert d.i_e == pytest.approx(expected, abs=1e-4)
    assert d.poisson_rate.tolist() == [0.0] * 8


def test_mean_recurrent_input(pd14_table):
    d = derive(config(1.0), pd14_table)
    expected = [-519.511, -362.511, -572.376, -499.174, -519.047, -445.510, -954.454, -512.795]
    assert d.mu_recurrent_full == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("scale, background, expected", [
    (0.5, "dc", [409.813, 420.674, 569.946, 521.140, 550.443, 536.858, 739.026, 587.397]),
    (0.2, "dc", [274.796, 326.460, 421.190, 391.408, 415.546, 421.073, 490.970, 454.125]),
    (0.1, "dc", [206.747, 278.976, 346.217, 326.023, 347.558, 362.717, 365.950, 386.957]),
    (0.2, "poisson", [23.473, 90.845, 91.329, 92.962, 101.393, 122.627, 35.447, 124.265]),
    (0.1, "poisson", [29.035, 112.371, 112.970, 114.990, 125.418, 151.684, 43.847, 153.710]),
])
def test_k_scaling_compensation(pd14_table, scale, background, expected):
    assert derive(config(scale, background), pd14_table).i_e == pytest.approx(expected, abs=1e-3)


def test_poisson_rates_and_external_indegrees(pd14_table):
    d = derive(config(0.1, "poisson"), pd14_table)
    assert d.k_ext.tolist() == [160, 150, 210, 190, 200, 190, 290, 210]
    assert d.poisson_rate.tolist() == [8.0 * k for k in d.k_ext]
    d1 = derive(config(1.0, "poisson"), pd14_table)
    assert d1.poisson_rate.tolist() == [12800, 12000, 16800, 15200, 16000, 15200, 23200, 16800]
    assert d1.i_e.tolist() == [0.0] * 8


def test_critical_k_scaling(pd14_table):
    d = derive(config(1.0), pd14_table)
    n = NeuronParams()
    crit = physics.critical_k_scaling(physics.rheobase(n.C_m, n.tau_m, n.V_th, n.E_L), d.i_dc_full, d.mu_recurrent_full)
    assert crit == pytest.approx([0.4097, 0.3377, 0.1343, 0.1717, 0.1362, 0.1182, 0.1061, 0.0858], abs=1e-4)


@pytest.mark.parametrize("scale, expected", [(0.2, ["L23E", "L23I"]), (1.0, []), (0.05, None)])
def test_subthreshold_warning_list(pd14_table, scale, expected):
    def below(cfg):
        d = derive(cfg, pd14_table)
        return [p for p, b in zip(d.populations, below_rheobase(cfg, d)) if b]

    found = below(config(scale))
    assert found == (list(derive(config(scale), pd14_table).populations) if expected is None else expected)
    assert below(config(scale, "poisson")) == []


def test_thalamic_synapses(pd14_table):
    d = derive(config(1.0), pd14_table)
    assert d.thalamic_synapses.tolist() == [0, 0, 2045393, 315791, 0, 0, 682419, 52636]
    # in-degree per neuron is K_th * k_scaling: the count scales with n_scaling * k_scaling
    d2 = derive(config(0.1), pd14_table)
    k_full = d.thalamic_synapses / d.sizes
    k_scaled = d2.thalamic_synapses / d2.sizes
    assert k_scaled[2] == pytest.approx(0.1 * k_full[2], rel=2e-3)


def test_transient_dc_amplitudes(pd14_table):
    d = derive(config(0.1), pd14_table)
    assert d.dc_amplitude == pytest.approx([480, 450, 630, 570, 600, 570, 870, 630])


def test_delays(pd14_table):
    d = derive(config(1.0), pd14_table)
    exc = np.array([t == "E" for t in d.types])
    assert np.all(d.delay[:, exc] == 1.5) and np.all(d.delay[:, ~exc] == 0.75)
    assert np.allclose(d.delay_sd, 0.5 * d.delay)


@pytest.mark.parametrize("cls, kwargs, message", [
    (NetworkParams, dict(n_scaling=0.0), r"n_scaling = 0.0 .* in \(0, 1\]"),
    (NetworkParams, dict(k_scaling=1.5), r"k_scaling = 1.5 .* in \(0, 1\]"),
    (SimulationParams, dict(threads=0), "threads = 0"),
    (SimulationParams, dict(t_sim=-1.0), "t_sim = -1.0"),
])
def test_invalid_parameters_raise(cls, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        cls(**kwargs)


def test_config_is_frozen_and_round_trips():
    cfg = config(0.3, "poisson")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.network.n_scaling = 1.0  # type: ignore[misc]
    assert Config.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(("scale", "vps", "allowed"), [
    (1.0, 1, False),   # 77 169 neurons on one thread: more than NEST's 65 534
    (1.0, 2, True),    # 38 585 per thread
    (0.8, 1, True),    # 61 735 neurons plus the devices
])
def test_auto_takes_the_compact_synapse_only_when_the_standard_one_does_not_fit(pd14_table, scale, vps, allowed):
    from microcircuit.parameters import compact_synapse_allowed, nest_synapse_model

    c = Config(network=NetworkParams(n_scaling=scale, k_scaling=0.1))
    d = derive(c, pd14_table)
    assert compact_synapse_allowed(c, d, vps) == allowed
    assert nest_synapse_model(c, d, vps) == "static_synapse"  # the faster one, when it fits
    assert nest_synapse_model(c, d, vps, fits=False) == ("static_synapse_hpc" if allowed else "static_synapse")


def test_the_compact_synapse_where_nest_refuses_it_is_a_config_error(pd14_table):
    from microcircuit.parameters import nest_synapse_model

    c = Config(network=NetworkParams(n_scaling=1.0, k_scaling=0.1, synapse_model="static_synapse_hpc"))
    with pytest.raises(ConfigError, match=r"at most 65534 nodes per thread .* up to 77\d{3} "):
        nest_synapse_model(c, derive(c, pd14_table), 1)
