"""What PD14's experiments vary (g, bg_rate, k_ext, pathways): derive, theory, configuration, command line.

Expected numbers follow from the PD14 table by hand (docs/model.md §§2-6 and §13): g = -4 is the
table's own, so g = -8 doubles every inhibitory PSP; the layer-independent in-degrees are 2000 (E)
and 1850 (I) (Potjans & Diesmann 2014, Fig. 7B); the background input is proportional to ν_bg and
K_ext. No NEST.
"""
from __future__ import annotations

import importlib
import json
import math
import tomllib

import numpy as np
import pytest
import tomli_w
import xarray as xr

from microcircuit import physics, theory, variations
from microcircuit.errors import ConfigError
from microcircuit.parameters import Config, NetworkParams, derive

from ..conftest import ROOT
from ..tables import small_table

run_cmd = importlib.import_module("microcircuit.commands.run")

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
K_EXT_PD14 = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
E = np.array([p.endswith("E") for p in POPS])


def config(scale=1.0, background="poisson", **net):
    return Config(network=NetworkParams(n_scaling=scale, k_scaling=scale, background=background, **net))


def entry(pathway):
    source, target = pathway.split("->")
    return POPS.index(target), POPS.index(source)


# ----------------------------------------------------------------------------------------------
# g


def test_the_pd14_tables_g_is_minus_4(pd14_table):
    # inhibitory PSP -0.6 mV over excitatory 0.15 mV; the doubled L4E -> L23E PSP does not move the median
    assert variations.table_g(pd14_table) == -4.0
    assert derive(config(), pd14_table).g == -4.0


def test_g_minus_8_doubles_every_inhibitory_weight_and_nothing_else(pd14_table):
    d4, d8 = derive(config(1.0, "dc"), pd14_table), derive(config(1.0, "dc", g=-8.0), pd14_table)
    assert d8.g == -8.0
    np.testing.assert_array_equal(d8.weight[:, ~E], 2 * d4.weight[:, ~E])  # x2 is exact in binary
    np.testing.assert_array_equal(d8.weight[:, E], d4.weight[:, E])
    assert d8.weight[4, 5] == pytest.approx(-702.467948, abs=1e-5)  # L5I -> L5E: -1.2 mV x 585.39 pA/mV
    np.testing.assert_array_equal(d8.synapses, d4.synapses)
    np.testing.assert_array_equal(d8.weight_sd, 0.1 * np.abs(d8.weight))


def test_g_equal_to_the_tables_is_the_table(pd14_table):
    """g = -4 given as a number builds exactly the default network (weights equal bit for bit)."""
    a, b = derive(config(0.1), pd14_table), derive(config(0.1, g=-4.0), pd14_table)
    for name in ("weight", "weight_sd", "i_e", "mu_recurrent_full", "poisson_rate"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_g_zero_removes_inhibition(pd14_table):
    d = derive(config(1.0, g=0.0), pd14_table)
    assert np.all(d.weight[:, ~E] == 0) and np.all(d.weight[:, E] > 0)


def test_g_of_another_table_is_relative_to_that_tables_own():
    """A table whose inhibitory PSPs are -0.9 mV against 0.15 mV has g = -6; g = -3 halves them."""
    table = small_table(4)
    table["psp_mean"] = table["psp_mean"].where(table["psp_mean"] > 0, -0.9)
    assert variations.table_g(table) == pytest.approx(-6.0, rel=1e-12)
    d, d3 = derive(config(1.0), table), derive(config(1.0, g=-3.0), table)
    np.testing.assert_allclose(d3.weight[:, 1::2], 0.5 * d.weight[:, 1::2], rtol=1e-12)
    assert d3.g == pytest.approx(-3.0, rel=1e-12)


def test_g_needs_a_table_that_has_inhibition():
    table = small_table(1)  # one excitatory population
    assert math.isnan(variations.table_g(table))
    derive(config(1.0), table)  # the default, "table", needs no g
    with pytest.raises(ConfigError, match=r"g = -4(\.0)? needs a table with connected excitatory and inhibitory"):
        derive(config(1.0, g=-4.0), table)


@pytest.mark.parametrize("value", [0.5, math.inf, math.nan, "strong", True, None])
def test_g_must_be_table_or_a_finite_number_at_most_0(value):
    with pytest.raises(ConfigError, match=r"^g = .* is not allowed; must be 'table' \(the table's value\) or a "
                                          r"number <= 0"):
        NetworkParams(g=value)


# ----------------------------------------------------------------------------------------------
# bg_rate


def test_bg_rate_scales_the_poisson_rates(pd14_table):
    d8, d4 = derive(config(0.1), pd14_table), derive(config(0.1, bg_rate=4.0), pd14_table)
    assert d4.bg_rate == 4.0 and d8.bg_rate == 8.0  # 8: the table's
    assert d4.poisson_rate.tolist() == [4.0 * k for k in [160, 150, 210, 190, 200, 190, 290, 210]]


def test_bg_rate_scales_the_dc_background(pd14_table):
    """DC mode at full scale: I_e is the background's mean, tau_s K_ext w_ext nu_bg, so half the rate halves it."""
    d8, d4 = derive(config(1.0, "dc"), pd14_table), derive(config(1.0, "dc", bg_rate=4.0), pd14_table)
    np.testing.assert_allclose(d4.i_e, d8.i_e / 2, rtol=1e-12)
    # L23E: 0.5 ms x 1600 x 87.8085 pA x 4 spikes/s = 280.99 pA
    assert d4.i_e[0] == pytest.approx(0.5e-3 * 1600 * 87.808494 * 4.0, rel=1e-7)


def test_bg_rate_enters_the_k_scaling_compensation(pd14_table):
    """At k_scaling 0.1 (Poisson) the DC restores (1 - sqrt 0.1) of the mean input, background part at nu_bg."""
    f = 0.1
    d8, d12 = derive(config(f), pd14_table), derive(config(f, bg_rate=12.0), pd14_table)
    np.testing.assert_allclose(d12.i_e - d8.i_e, (1 - math.sqrt(f)) * 0.5 * d8.i_dc_full, rtol=1e-12)


@pytest.mark.parametrize("value", [-1.0, math.inf, "8", False])
def test_bg_rate_must_be_table_or_a_finite_number_at_least_0(value):
    with pytest.raises(ConfigError, match=r"^bg_rate = .* is not allowed; must be 'table' .* or a number >= 0"):
        NetworkParams(bg_rate=value)


# ----------------------------------------------------------------------------------------------
# k_ext


def test_layer_independent_in_degrees_are_pd14s(pd14_table):
    full = derive(config(1.0, "dc", k_ext="layer_independent"), pd14_table)
    assert full.k_ext.tolist() == [2000, 1850] * 4
    assert derive(config(0.1, k_ext="layer_independent"), pd14_table).k_ext.tolist() == [200, 185] * 4
    # the DC background is proportional to K_ext
    table = derive(config(1.0, "dc"), pd14_table)
    np.testing.assert_allclose(full.i_dc_full, table.i_dc_full * np.array([2000, 1850] * 4) / K_EXT_PD14, rtol=1e-12)
    # and so is the transient DC stimulus (0.3 pA per external input)
    np.testing.assert_allclose(full.dc_amplitude, 0.3 * np.array([2000, 1850] * 4), rtol=1e-12)


def test_per_population_in_degrees_replace_only_those_named(pd14_table):
    d = derive(config(1.0, k_ext={"L6E": 2000, "L23I": 0}), pd14_table)
    expected = list(K_EXT_PD14)
    expected[6], expected[1] = 2000, 0
    assert d.k_ext.tolist() == expected
    assert d.k_ext_full.tolist() == expected


def test_unknown_population_in_k_ext(pd14_table):
    with pytest.raises(ConfigError, match=r"^k_ext L2E = 1: unknown population 'L2E'; the table's populations are "
                                          r"L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I$"):
        derive(config(1.0, k_ext={"L2E": 1}), pd14_table)


def test_long_lists_of_allowed_names_are_cut_short():
    table = small_table(30)
    with pytest.raises(ConfigError) as err:
        derive(config(1.0, k_ext={"Q1": 1}), table)
    assert str(err.value).endswith("P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, ... (30 in all)")


@pytest.mark.parametrize("value", ["layer", 5, {"L23E": 1800.5}, {"L23E": -1}, {"L23E": True}])
def test_bad_k_ext(value):
    with pytest.raises(ConfigError, match=r"^k_ext"):
        NetworkParams(k_ext=value)


def test_k_ext_accepts_whole_floats_and_an_empty_table_is_the_table():
    assert NetworkParams(k_ext={"L23E": 1800.0}).k_ext == {"L23E": 1800}
    assert NetworkParams(k_ext={}).k_ext == "table"


# ----------------------------------------------------------------------------------------------
# pathways


def test_removing_a_pathway_zeroes_exactly_that_entry(pd14_table):
    base = derive(config(0.1), pd14_table)
    d = derive(config(0.1, pathways={"L23E->L4I": {"probability": 0.0}}), pd14_table)
    t, s = entry("L23E->L4I")
    assert (t, s) == (3, 0) and base.synapses[t, s] == 81143  # round(8114254 x 0.1 x 0.1)
    assert d.synapses[t, s] == 0
    mask = np.ones_like(d.synapses, dtype=bool)
    mask[t, s] = False
    np.testing.assert_array_equal(d.synapses[mask], base.synapses[mask])
    np.testing.assert_array_equal(d.weight, base.weight)  # the PSP factor stays 1


def test_a_probability_factor_changes_the_synapse_number_through_eq_1(pd14_table):
    """Doubling L4E -> L23I's probability: Q = ln(1 - 2C) / ln(1 - 1/(N_s N_t)) (docs/model.md §2), a bit more
    than twice the synapses because of multapses."""
    t, s = entry("L4E->L23I")
    d = derive(config(1.0, pathways={"L4E->L23I": {"probability": 2.0}}), pd14_table)
    n_s, n_t = 21915, 5834
    q = math.log(1 - 2 * 0.0316) / math.log(1 - 1 / (n_s * n_t))
    assert d.synapses[t, s] == round(q)
    assert 2.0 < d.synapses[t, s] / 4105338 < 2.0 * 1.04  # the table's count: docs/model.md §2


def test_a_psp_factor_scales_exactly_that_weight(pd14_table):
    base = derive(config(0.1), pd14_table)
    d = derive(config(0.1, pathways={"L4E->L23E": {"psp": 0.5}}), pd14_table)
    t, s = entry("L4E->L23E")
    assert d.weight[t, s] == pytest.approx(base.weight[t, s] / 2, rel=1e-15)  # the doubled PSP back to 0.15 mV
    mask = np.ones_like(d.weight, dtype=bool)
    mask[t, s] = False
    np.testing.assert_array_equal(d.weight[mask], base.weight[mask])
    np.testing.assert_array_equal(d.synapses, base.synapses)


def test_pathway_factors_combine_with_g(pd14_table):
    """A PSP factor on an inhibitory pathway multiplies the PSP that g gives."""
    t, s = entry("L6I->L6E")
    d = derive(config(1.0, g=-8.0, pathways={"L6I->L6E": {"psp": 0.25}}), pd14_table)
    assert d.weight[t, s] == pytest.approx(-0.6 * 2 * 0.25 * physics.psc_over_psp(10.0, 0.5, 250.0), rel=1e-12)


def test_the_k_scaling_compensation_uses_the_changed_network(pd14_table):
    """The recurrent mean input at full scale, mu_rec, is linear in the inhibitory weights: with g = 0 it is the
    excitatory part alone, and g = -8 doubles the inhibitory part; the DC at k_scaling 0.1 follows it."""
    mu = {g: derive(config(0.1, g=g), pd14_table).mu_recurrent_full for g in (0.0, -4.0, -8.0)}
    np.testing.assert_allclose(mu[-8.0], mu[0.0] + 2 * (mu[-4.0] - mu[0.0]), rtol=1e-12)
    d = derive(config(0.1, g=-8.0, pathways={"L23E->L4I": {"probability": 0.0}}), pd14_table)
    expected = physics.mean_input_current(0.5, d.indegree_full, d.weight * math.sqrt(0.1), d.full_mean_rate)
    np.testing.assert_allclose(d.mu_recurrent_full, expected, rtol=1e-12)
    np.testing.assert_allclose(d.i_e, (1 - math.sqrt(0.1)) * (d.mu_recurrent_full + d.i_dc_full), rtol=1e-12)
    # removing L23E -> L4I removes its excitation from L4I's mean input (in-degree 1480.97, w 87.81 pA, 0.903 /s)
    base = derive(config(0.1, g=-8.0), pd14_table)
    assert base.mu_recurrent_full[3] - d.mu_recurrent_full[3] == pytest.approx(
        0.5e-3 * 1480.97 * 87.808494 * 0.903, rel=1e-5)


def test_a_probability_pushed_to_1_is_refused(pd14_table):
    with pytest.raises(ConfigError, match=r"^pathways 'L5I->L5E': probability factor 3 makes the connection "
                                          r"probability 1.1178 \(table 0.3726\); it must stay below 1 .* use a "
                                          r"factor below 2.68384$"):
        derive(config(1.0, pathways={"L5I->L5E": {"probability": 3.0}}), pd14_table)


@pytest.mark.parametrize("pathway, unknown", [("L23E->L4X", "L4X"), ("L4->L23E", "L4")])
def test_unknown_population_in_a_pathway(pd14_table, pathway, unknown):
    with pytest.raises(ConfigError, match=rf"^pathways '{pathway}': unknown population '{unknown}'; the table's "
                                          r"populations are L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I$"):
        derive(config(1.0, pathways={pathway: {"probability": 0.0}}), pd14_table)


@pytest.mark.parametrize("value, message", [
    ({"L23E>L4I": {"probability": 0.0}}, "name a pathway as 'SOURCE->TARGET'"),
    ({"->L4I": {"probability": 0.0}}, "name a pathway as 'SOURCE->TARGET'"),
    ({"L23E->L4I": {"probability": -0.1}}, "probability = -0.1 is not allowed; must be a number >= 0"),
    ({"L23E->L4I": {"psp": math.nan}}, "psp = nan is not allowed"),
    ({"L23E->L4I": {"delay": 2.0}}, "unknown factor 'delay'; allowed: probability, psp"),
    ({"L23E->L4I": {}}, "give factors"),
    ({"L23E->L4I": {"psp": 2.0}, " L23E -> L4I ": {"psp": 1.0}}, "'L23E->L4I' is given twice"),
    (["L23E->L4I"], "give a table of pathways"),
])
def test_bad_pathways(value, message):
    with pytest.raises(ConfigError, match=r"^pathways") as err:
        NetworkParams(pathways=value)
    assert message in str(err.value)


def test_pathway_names_and_factors_are_normalised():
    net = NetworkParams(pathways={" L23E -> L4I ": {"probability": 0}})
    assert net.pathways == {"L23E->L4I": {"probability": 0.0, "psp": 1.0}}


# ----------------------------------------------------------------------------------------------
# the theory sees all of it (it works from derive's output)


def predicted(table, **net):
    return theory.predict(config(1.0, **net), table=table)["rate"].values


def test_theory_with_a_removed_pathway_equals_theory_on_a_table_without_it(pd14_table):
    t, s = entry("L23E->L4I")
    table = pd14_table.copy(deep=True)
    table["connection_probability"][t, s] = 0.0
    removed = predicted(pd14_table, pathways={"L23E->L4I": {"probability": 0.0}})
    np.testing.assert_array_equal(removed, predicted(table))
    # and it changes the prediction: L4I loses excitation
    assert removed[3] != predicted(pd14_table)[3]


def test_theory_layer_independent_input_silences_l6e(pd14_table):
    """PD14 Fig. 7B: with layer-independent external in-degrees L6E falls silent (theory at full scale: 1.16 ->
    0.004 spikes/s); the other populations keep firing (measured >= 0.9 spikes/s)."""
    table_rates = predicted(pd14_table)
    rates = predicted(pd14_table, k_ext="layer_independent")
    assert rates[6] < 0.1 * table_rates[6]
    assert np.all(np.delete(rates, 6) > 0.5)


def test_theory_l4e_is_the_most_sensitive_to_the_background_rate(pd14_table):
    """PD14 Fig. 8A: raising nu_bg from 8 to 9 spikes/s raises L2/3E, L4E and L5E, L4E the most (theory at full
    scale: +0.22, +0.95, +0.30 spikes/s); the network's total rate rises."""
    sizes = pd14_table["population_size"].values
    r8, r9 = predicted(pd14_table), predicted(pd14_table, bg_rate=9.0)
    change = r9 - r8
    assert np.all(change[[0, 2, 4]] > 0)
    assert np.argmax(np.where(E, change, -np.inf)) == 2
    assert np.sum(sizes * change) > 0


def test_theory_l5e_is_the_most_sensitive_to_g(pd14_table):
    """PD14 Fig. 8C: stronger inhibition (g from -4 to -5) lowers L4E, L5E, L6E and every inhibitory population,
    L5E the most among the excitatory ones (theory at full scale: -2.2 spikes/s); the total rate falls."""
    sizes = pd14_table["population_size"].values
    change = predicted(pd14_table, g=-5.0) - predicted(pd14_table)
    assert np.all(change[[2, 4, 6]] < 0) and np.all(change[~E] < 0)
    assert np.argmax(np.where(E, np.abs(change), -np.inf)) == 4
    assert np.sum(sizes * change) < 0


# ----------------------------------------------------------------------------------------------
# PD14 Fig. 7C: random external in-degrees


def draws(table, n=400, seed=3):
    return [variations.random_k_ext(table, seed, trial) for trial in range(n)]


def test_random_in_degrees_stay_within_pd14s_bounds(pd14_table):
    """Every excitatory C_e between its layer-specific and layer-independent value; the inhibitory one of the
    same layer between C_e (1 - T)/(1 + T) and C_e (T = 0.1, 0.2 for L6I), up to rounding to whole numbers."""
    for d in draws(pd14_table):
        assert list(d) == POPS and all(isinstance(v, int) for v in d.values())
        for i in range(0, 8, 2):
            e, inh = POPS[i], POPS[i + 1]
            lo, hi = sorted((K_EXT_PD14[i], 2000))
            assert lo <= d[e] <= hi
            t = 0.2 if inh == "L6I" else 0.1
            assert round(d[e] * (1 - t) / (1 + t)) <= d[inh] <= d[e]


def test_random_in_degrees_fill_their_ranges(pd14_table):
    """Uniform draws: the mean is the middle of the range (400 trials: sd of the mean = range / sqrt(12 x 400),
    4 sd allowed) and the extremes come within 3 % of the range of its ends (a miss has probability 0.97^400)."""
    d = draws(pd14_table)
    for i, pop in ((0, "L23E"), (6, "L6E")):
        lo, hi = sorted((K_EXT_PD14[i], 2000))
        x = np.array([t[pop] for t in d], dtype=float)
        assert abs(x.mean() - (lo + hi) / 2) < 4 * (hi - lo) / math.sqrt(12 * len(x))
        assert x.min() < lo + 0.03 * (hi - lo) and x.max() > hi - 0.03 * (hi - lo)
    assert {t["L5E"] for t in d} == {2000}  # L5E's layer-specific value is the layer-independent one
    # the inhibitory/excitatory ratio reaches down to (1 - T)/(1 + T): 0.818 for L2/3, 0.667 for L6I
    ratio = {pop: np.array([t[pop] / t[pop[:-1] + "E"] for t in d]) for pop in ("L23I", "L6I")}
    assert 0.818 - 0.01 < ratio["L23I"].min() < 0.818 + 0.01
    assert 0.667 - 0.01 < ratio["L6I"].min() < 0.667 + 0.01


def test_random_in_degrees_are_reproducible_from_the_seed(pd14_table):
    assert variations.random_k_ext(pd14_table, 7, 5) == variations.random_k_ext(pd14_table, 7, 5)
    assert variations.random_k_ext(pd14_table, 7, 5) != variations.random_k_ext(pd14_table, 7, 6)
    assert variations.random_k_ext(pd14_table, 7, 5) != variations.random_k_ext(pd14_table, 8, 5)


def test_random_in_degrees_are_a_k_ext_override(pd14_table):
    draw = variations.random_k_ext(pd14_table, 1, 0)
    d = derive(config(1.0, k_ext=draw), pd14_table)
    assert d.k_ext_full.tolist() == [draw[p] for p in POPS]


def test_random_in_degrees_need_layer_partners():
    with pytest.raises(ConfigError, match="pair every inhibitory population with the excitatory one of its layer"):
        variations.random_k_ext(small_table(2), 1)  # P0 (E), P1 (I): no "P1" -> "P0"-style partner by name


# ----------------------------------------------------------------------------------------------
# configuration: round trips, stored files, files of earlier versions


VARIED = dict(g=-5.5, bg_rate=9.25, k_ext={"L23E": 1800, "L6E": 2000},
              pathways={"L23E->L4I": {"probability": 0.0}, "L4E->L23E": {"psp": 0.5, "probability": 1.5}})


def test_config_round_trips_through_toml_and_json():
    cfg = config(0.2, **VARIED)
    assert Config.from_dict(tomllib.loads(tomli_w.dumps(cfg.to_dict()))) == cfg
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict(), sort_keys=True))) == cfg  # as spike files store it
    for preset in ("table", "layer_independent"):
        c = config(0.2, k_ext=preset, g="table", bg_rate="table")
        assert Config.from_dict(tomllib.loads(tomli_w.dumps(c.to_dict()))) == c


def test_the_defaults_print_as_table(capsys):
    """The table's values are written "table" (TOML has no null): a printed configuration never names a number
    that could disagree with the table it runs with."""
    assert run_cmd.main(["--print-config"]) == 0
    net = tomllib.loads(capsys.readouterr().out)["network"]
    assert (net["g"], net["bg_rate"], net["k_ext"], net["pathways"]) == ("table", "table", "table", {})


def test_flags_print_and_reload_identically(tmp_path, capsys):
    argv = ["--g", "-5.5", "--bg-rate", "9.25", "--k-ext", "L23E=1800,L6E=2000", "--pathway", "L23E->L4I:probability=0",
            "--pathway", "L4E -> L23E:psp=0.5", "--pathway", "L4E->L23E:probability=1.5", "--scale", "0.2"]
    assert run_cmd.main(argv + ["--print-config"]) == 0
    text = capsys.readouterr().out
    assert Config.from_dict(tomllib.loads(text)) == config(0.2, **VARIED)
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert run_cmd.main(["--config", str(path), "--print-config"]) == 0
    assert capsys.readouterr().out == text
    # a flag adds to the file's pathways, or changes one factor of one of them
    assert run_cmd.main(["--config", str(path), "--pathway", "L23E->L4I:psp=3", "--print-config"]) == 0
    paths = tomllib.loads(capsys.readouterr().out)["network"]["pathways"]
    assert paths["L23E->L4I"] == {"probability": 0.0, "psp": 3.0} and paths["L4E->L23E"]["psp"] == 0.5


def test_table_valued_keys_are_replaced_whole_not_merged(tmp_path, capsys, monkeypatch):
    """--config on top of --from: a k_ext or pathways table in the file replaces the stored one as a whole
    (no mix of the two runs' in-degrees); what the file does not set is repeated as it was run."""
    from microcircuit.commands import common

    stored = config(0.2, k_ext={"L4E": 2000}, pathways={"L4E->L23E": {"psp": 2.0}}).to_dict()
    monkeypatch.setattr(common, "_read_from_file", lambda path: (stored, None))
    path = tmp_path / "run.toml"
    path.write_text("[network.k_ext]\nL23E = 1800\n")
    assert run_cmd.main(["--config", str(path), "--from", "x.nc", "--print-config"]) == 0
    net = tomllib.loads(capsys.readouterr().out)["network"]
    assert net["k_ext"] == {"L23E": 1800} and net["pathways"] == {"L4E->L23E": {"probability": 1.0, "psp": 2.0}}


def test_an_old_spike_files_configuration_loads():
    """The reference files, written before g replaced inh_psp_scale, store inh_psp_scale = 1: the table's g."""
    with xr.open_dataset(ROOT / "microcircuit" / "data" / "reference" / "scale1_dc_T5s.nc") as ds:
        stored = json.loads(ds.attrs["config"])
    assert stored["network"]["inh_psp_scale"] == 1.0
    cfg = Config.from_dict(stored)
    assert cfg.network.g == "table" and cfg.network.bg_rate == "table" and cfg.network.pathways == {}


def test_inh_psp_scale_translates_to_the_same_network(pd14_table):
    """inh_psp_scale = f of earlier versions is g = f x the table's g: the same inhibitory weights as f x the
    table's PSPs, which is what inh_psp_scale gave."""
    cfg = Config.from_dict({"network": {"inh_psp_scale": 0.9, "n_scaling": 1.0, "k_scaling": 1.0}})
    assert cfg.network.g == pytest.approx(-3.6, rel=1e-15)
    d = derive(cfg, pd14_table)
    old = np.asarray(pd14_table["psp_mean"].values)[:, ~E] * 0.9 * physics.psc_over_psp(10.0, 0.5, 250.0)
    np.testing.assert_array_equal(d.weight[:, ~E], old)
    other = small_table(4)
    other["psp_mean"] = other["psp_mean"].where(other["psp_mean"] > 0, -0.3)  # g = -2
    assert Config.from_dict({"network": {"inh_psp_scale": 0.5}}, table=other).network.g == pytest.approx(-1.0)


def test_a_configuration_file_with_inh_psp_scale_is_read_and_the_user_told(tmp_path, capsys):
    path = tmp_path / "old.toml"
    path.write_text("[network]\ninh_psp_scale = 0.5\n")
    assert run_cmd.main(["--config", str(path), "--print-config"]) == 0
    out = capsys.readouterr()
    assert tomllib.loads(out.out)["network"]["g"] == -2.0
    assert f"--config {path}: network.inh_psp_scale = 0.5 is read as network.g = -2.0" in out.err
