"""microcircuit.validation and its command on synthetic networks (no NEST): the rule, the reference files, the command.

A synthetic "network" has per-neuron rates drawn from a gamma distribution per population
and independent Poisson spike trains, so different seeds differ the way network
realisations do: in the neurons' rates and in the spikes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from microcircuit import analysis, validation
from microcircuit.commands import validate as validate_cmd
from microcircuit.output import ragged_dataset, write_atomic

POPS = ["AE", "AI", "BE", "BI"]
SIZES = [150, 50, 150, 50]
MEAN_RATES = [2.0, 5.0, 4.0, 8.0]
T_START, DURATION = 500.0, 2000.0
CC_SAMPLE = 30


def network(seed: int, rate_factor=(1.0, 1.0, 1.0, 1.0), t_stop: float = T_START + DURATION,
            n_scaling: float = 0.1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    trains, pops = [], []
    for pop, size, mean, factor in zip(POPS, SIZES, MEAN_RATES, rate_factor):
        for rate in rng.gamma(2.0, mean * factor / 2.0, size):
            trains.append(np.sort(rng.uniform(0.0, t_stop, rng.poisson(rate * t_stop / 1000.0))))
        pops += [pop] * size
    neurons = np.arange(1, len(trains) + 1)
    senders = np.concatenate([np.full(len(t), n) for n, t in zip(neurons, trains)])
    config = {"network": {"n_scaling": n_scaling, "inh_psp_scale": 1.0, "neuron_model": "nestml"},
              "simulation": {"seed": seed, "t_sim": t_stop - T_START}}
    attrs = {"t_start": T_START, "t_stop": t_stop, "seed": seed, "n_scaling": n_scaling, "k_scaling": n_scaling,
             "background": "poisson", "neuron_model": "nestml", "status": "complete", "config": json.dumps(config)}
    return ragged_dataset(neurons, pops, senders, np.concatenate(trains), attrs)


def network_stats(seed: int, **kw) -> xr.Dataset:
    return analysis.statistics(network(seed, **kw), T_START, T_START + DURATION, sample_size=CC_SAMPLE)


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory):
    """A reference set of 8 synthetic seeds, stored like reference_data/*.nc."""
    seeds = list(range(100, 108))
    ens = validation.ensemble([network_stats(s) for s in seeds], seeds)
    ks = validation.reference_ks(ens)
    folder = tmp_path_factory.mktemp("reference")
    config = {"network": {"n_scaling": 0.1, "inh_psp_scale": 1.0, "neuron_model": "builtin"},
              "simulation": {"seed": 100, "t_sim": DURATION}}
    attrs = {"name": "synthetic_T2s", "t_start": T_START, "t_stop": T_START + DURATION, "n_scaling": 0.1,
             "k_scaling": 0.1, "background": "poisson", "neuron_model": "builtin", "bin_size": 2.0,
             "cc_sample_size": CC_SAMPLE, "cc_sample_seed": analysis.CC_SAMPLE_SEED, "config": json.dumps(config)}
    validation.write_reference(folder / "synthetic_T2s.nc", ens, ks, attrs)
    return folder


@pytest.fixture(scope="module")
def reference(reference_dir):
    return validation.load_reference(reference_dir / "synthetic_T2s.nc")


def write_run(folder, ds) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(ds, folder / "spikes.nc")


# ---------------------------------------------------------------- the rule

def test_doctests():
    import doctest

    result = doctest.testmod(validation.rule)
    assert result.attempted >= 3 and result.failed == 0


def test_leave_one_out_compares_each_seed_with_the_others_pooled():
    stats = validation.ensemble([network_stats(s) for s in range(4)], [10, 11, 12, 13])
    loo = validation.leave_one_out(stats)
    members = [stats.isel(seed=k) for k in range(4)]
    rates_others = np.concatenate([analysis.observable_values(m, "rate", "AE") for m in members[1:]])
    expected = analysis.ks_distance(analysis.observable_values(members[0], "rate", "AE"), rates_others)
    assert float(loo.sel(seed=10, observable="rate", population="AE")) == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least 4 seeds"):
        validation.leave_one_out(stats.isel(seed=[0, 1, 2]))


def test_calibration_is_the_t_prediction_bound():
    """Known log-normal distances: the threshold is exp(mean log D + q s sqrt(1 + 1/n)) per cell."""
    rng = np.random.default_rng(3)
    n, pops = 6, 4
    d = xr.DataArray(np.exp(rng.normal(np.log([[0.01, 0.02, 0.03, 0.04]]), 0.25, (n, 1, pops))),
                     dims=("seed", "observable", "population"))
    cal = validation.calibrate(d, alpha=0.01)
    logs = np.log(d.values[:, 0, :])
    s = np.sqrt(((logs - logs.mean(0)) ** 2).sum() / (pops * (n - 1)))
    q = scipy.stats.t.isf(0.01 / pops, pops * (n - 1))
    np.testing.assert_allclose(cal["threshold"].values[0], np.exp(logs.mean(0) + q * s * np.sqrt(1 + 1 / n)))
    assert cal.attrs["dof"] == 20 and cal.attrs["n_cells"] == 4


def test_reference_round_trip(reference_dir, reference):
    assert reference.name == "synthetic_T2s" and reference.duration == DURATION
    assert reference.stats.sizes["seed"] == 8 and reference.ks.sizes["seed_pair"] == 28
    assert reference.stats["rate"].dtype == np.float32
    # the stored distances and thresholds are what the stored (float32, rounded) statistics give
    recomputed = analysis.pairwise_ks_distances(reference.stats)
    np.testing.assert_allclose(reference.ks["pairwise"].values, recomputed.values)
    rule = validation.calibrate(validation.leave_one_out(reference.stats))
    np.testing.assert_array_equal(reference.ks["threshold"].values, rule["threshold"].values)


def test_shipped_thresholds_follow_from_the_shipped_statistics():
    """The thresholds stored in reference_data/scale0.1_poisson_T1s.nc are what the current rule computes from
    the statistics stored beside them (fails when the rule's code changes without remaking the sets)."""
    ref = validation.load_reference(validation.REFERENCE_DIR / "scale0.1_poisson_T1s.nc")
    loo = validation.leave_one_out(ref.stats)
    np.testing.assert_array_equal(loo.values, ref.ks["loo"].values)
    np.testing.assert_array_equal(validation.calibrate(loo)["threshold"].values, ref.ks["threshold"].values)


def test_held_out_seeds_pass_a_rule_fitted_without_them(reference):
    """Out of sample: each of the 8 seeds against the rule calibrated on the other 7 alone.

    A correct rule fails a held-out seed with probability <= 1 %, so two or more failures of 8 have
    probability <= 0.27 % (binomial 8, 0.01). (The rule's own ``rule_loo_failures`` is in-sample: each
    held-out distance is one of the values its threshold is fitted to; see the next test.)
    """
    passed = validation.held_out(reference.stats)
    assert dict(passed.sizes) == {"seed": 8, "observable": 3, "population": 4}
    assert int((~passed).any(("observable", "population")).sum()) <= 1


def test_a_wrong_seed_fails_when_held_out_but_not_in_sample():
    """An ensemble of 7 correct seeds and one with population AE's rates doubled.

    Held out of the fit, the wrong seed fails its AE rate cell (and only it; no correct seed fails).
    In sample the same seed passes (``rule_loo_failures`` 0): its own large distance inflates the
    spread the thresholds are fitted to. That is why the in-sample count is no evidence for the rule.
    """
    seeds = list(range(100, 108))
    stats = [network_stats(s) for s in seeds[:7]] + [network_stats(seeds[7], rate_factor=(2, 1, 1, 1))]
    ens = validation.ensemble(stats, seeds)
    passed = validation.held_out(ens)
    failed = np.argwhere(~passed.values)
    assert [(int(ens["seed"][k]), str(passed["observable"][o].values), str(passed["population"][p].values))
            for k, o, p in failed] == [(107, "rate", "AE")]
    assert int(validation.reference_ks(ens).attrs["rule_loo_failures"]) == 0


def test_false_failure_rate_of_new_seeds_is_small(reference):
    """40 new seeds of the same synthetic network: the rule claims P(fail) <= 1 % per run, so
    more than 2 failures would have probability 0.8 % (binomial 40, 0.01) if the claim held."""
    fails = sum(not bool(validation.compare(validation.storage_precision(network_stats(s)), reference)["passed"].all())
                for s in range(1000, 1040))
    assert fails <= 2


def test_a_changed_network_fails(reference):
    """Rates of population AE doubled: its rate cell must fail (D_KS ~0.4 against leave-one-out
    distances ~0.05-0.1), while the untouched populations' rate cells pass."""
    result = validation.compare(validation.storage_precision(network_stats(2000, rate_factor=(2, 1, 1, 1))), reference)
    passed = result["passed"].sel(observable="rate")
    assert not bool(passed.sel(population="AE"))
    assert bool(passed.sel(population=["AI", "BE", "BI"]).all())


# ---------------------------------------------------------------- the command

def verdicts(report: str) -> dict[tuple[str, str], str]:
    """(population, observable) -> "pass"/"FAIL" from the table lines of a report."""
    out = {}
    for line in report.splitlines():
        tokens = line.split()
        if len(tokens) > 7 and tokens[7] in ("pass", "FAIL"):
            out[(tokens[0], tokens[1])] = tokens[7]
    return out


def run_cli(capsys, *argv):
    code = validate_cmd.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_new_seed_passes_and_writes_table_and_figure(tmp_path, reference_dir, capsys):
    write_run(tmp_path / "run", network(55))
    code, out, err = run_cli(capsys, tmp_path / "run", "--reference-dir", reference_dir)
    assert code == 0, out + err
    assert "PASS" in out.splitlines()[-1] and "synthetic_T2s" in out
    assert list(verdicts(out).values()) == ["pass"] * 12
    assert (tmp_path / "run" / validate_cmd.TABLE_FILE).read_text().strip() == out.strip()
    assert (tmp_path / "run" / validate_cmd.FIGURE_FILE).read_bytes()[:4] == b"\x89PNG"


def test_a_broken_run_fails_with_status_1(tmp_path, reference_dir, capsys):
    write_run(tmp_path / "run", network(56, rate_factor=(3, 3, 1, 1)))
    code, out, _ = run_cli(capsys, tmp_path / "run", "--reference-dir", reference_dir, "--no-plots")
    assert code == 1
    assert out.splitlines()[-1].startswith("FAIL")
    v = verdicts(out)
    assert len(v) == 12 and v[("AE", "rate")] == v[("AI", "rate")] == "FAIL"
    assert not (tmp_path / "run" / validate_cmd.FIGURE_FILE).exists()


def test_a_longer_run_is_analysed_over_the_reference_window(tmp_path, reference_dir, capsys):
    write_run(tmp_path / "run", network(57, t_stop=T_START + 3 * DURATION))
    code, out, _ = run_cli(capsys, tmp_path / "run", "--reference-dir", reference_dir, "--no-plots")
    assert code == 0
    assert f"window:    [{T_START:g}, {T_START + DURATION:g}] ms" in out
    assert "analysed the first 2000 ms" in out


@pytest.mark.parametrize("network_keys, expected", [
    # a file written before g replaced inh_psp_scale (the reference stores inh_psp_scale = 1, i.e. the table's g)
    ({"inh_psp_scale": 0.5}, ["network.g = -2.0 (reference 'table')"]),
    # today's keys, which the reference (written before them) lacks: it ran with the table's values
    ({"g": -2.0}, ["network.g = -2.0 (reference 'table')"]),
    ({"g": "table", "bg_rate": 10.0, "k_ext": "layer_independent"},
     ["network.bg_rate = 10.0 (reference 'table')", "network.k_ext = 'layer_independent' (reference 'table')"]),
    ({"g": "table", "pathways": {"L23E->L4I": {"probability": 0.0, "psp": 1.0}}},
     ["network.pathways = {'L23E->L4I': {'probability': 0.0, 'psp': 1.0}} (reference {})"]),
    ({"g": "table", "bg_rate": "table", "k_ext": "table", "pathways": {}}, []),  # the defaults: no difference
])
def test_configuration_differences_are_reported(tmp_path, reference_dir, capsys, network_keys, expected):
    ds = network(58)
    cfg = json.loads(ds.attrs["config"])
    cfg["network"] = {k: v for k, v in cfg["network"].items() if k != "inh_psp_scale"} | network_keys
    ds.attrs["config"] = json.dumps(cfg)
    write_run(tmp_path / "run", ds)
    _, out, _ = run_cli(capsys, tmp_path / "run", "--reference-dir", reference_dir, "--no-plots")
    differs = [line for line in out.splitlines() if "differs from the reference" in line]
    assert len(differs) == len(expected), differs
    for line, text in zip(differs, expected):
        assert line.endswith(f"differs from the reference in {text}"), (line, text)


def test_list_reference_sets(reference_dir, capsys):
    code, out, _ = run_cli(capsys, "--list", "--reference-dir", reference_dir)
    assert code == 0 and out.startswith("synthetic_T2s")


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("no_run_dir", "give RUN_DIR"),
    ("empty", "no spikes.nc in"),
    ("garbage", "not a readable spike file"),
    ("other_scale", "no reference set for n_scaling 0.2"),
    ("too_short", "the run's analysis window is 1000 ms; the matching reference sets need at least 2000 ms"),
    ("unknown_reference", "no reference set 'nope'"),
    ("named_too_short", "shorter than the 2000 ms of reference synthetic_T2s"),
])
def test_bad_input_gives_one_line_and_status_2(tmp_path, reference_dir, capsys, case, message):
    run = tmp_path / "run"
    extra = []
    if case == "empty":
        run.mkdir()
    elif case == "garbage":
        run.mkdir()
        (run / "spikes.nc").write_text("not netcdf")
    elif case == "other_scale":
        write_run(run, network(1, n_scaling=0.2))
    elif case in ("too_short", "named_too_short"):
        write_run(run, network(1, t_stop=T_START + 1000.0))
        extra = ["--reference", "synthetic_T2s"] if case == "named_too_short" else []
    elif case == "unknown_reference":
        write_run(run, network(1))
        extra = ["--reference", "nope"]
    args = [] if case == "no_run_dir" else [run]
    code, out, err = run_cli(capsys, *args, "--reference-dir", reference_dir, *extra)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert err.startswith("python -m microcircuit.validate: error:")


def test_default_reference_dir_holds_the_shipped_sets():
    names = {r.name for r in validation.available_references()}
    assert {"scale0.1_poisson_T10s", "scale0.1_poisson_T1s", "scale1_dc_T5s"} <= names
