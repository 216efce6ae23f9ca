"""Bad input: one clear line naming the problem and the allowed range, exit status 2, nothing written.

These run the command in-process (``microcircuit.commands.run.main``); every case stops before NEST builds
anything, so none of them simulates.
"""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importlib

run_cmd = importlib.import_module("microcircuit.commands.run")
from microcircuit.connectivity import VARIABLES, check_table, load_table
from microcircuit.errors import ConfigError

from ..tables import small_table


def invoke(argv, capsys):
    """Run the command; return (exit status, stderr lines)."""
    try:
        code = run_cmd.main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])


OPTION_CASES = [
    (["--scale", "0"], ["--scale 0 is not allowed", "(0, 1]"]),
    (["--scale", "1.5"], ["--scale 1.5 is not allowed", "(0, 1]"]),
    (["--k-scale", "-0.2"], ["--k-scale -0.2 is not allowed", "(0, 1]"]),
    (["--scale", "0.1", "--n-scale", "0.2"], ["--scale sets both scalings"]),
    (["--t-sim", "0"], ["--t-sim 0 is not allowed", "> 0"]),
    (["--t-sim", "-100"], ["--t-sim -100 is not allowed"]),
    (["--t-sim", "100.05"], ["--t-sim 100.05 ms must be a multiple of the resolution"]),
    (["--t-presim", "-1"], ["--t-presim -1 is not allowed", "[0, 10000]"]),
    (["--t-presim", "20000"], ["--t-presim 20000 is not allowed", "[0, 10000]"]),
    (["--threads", "0"], ["--threads 0 is not allowed", ">= 1"]),
    (["--seed", "0"], ["--seed 0 is not allowed", "[1, 2**31 - 1]"]),
    (["--resolution", "0"], ["--resolution 0 is not allowed", "(0, 1]"]),
    (["--background", "noise"], ["argument --background: invalid choice: 'noise'", "poisson"]),
    (["--neuron", "hh"], ["argument --neuron: invalid choice: 'hh'", "nestml"]),
    (["--v0", "random"], ["argument --v0: invalid choice: 'random'"]),
    (["--threads", "two"], ["argument --threads: invalid int value: 'two'"]),
    (["--inh-psp-scale", "0.5"], ["--inh-psp-scale was replaced by --g", "--inh-psp-scale 0.5 is --g -2"]),
    (["--g", "1"], ["--g 1 is not allowed", "'table'", "a number <= 0"]),
    (["--g", "strong"], ["argument --g: invalid value 'strong'", "a number or 'table'"]),
    (["--bg-rate", "-1"], ["--bg-rate -1 is not allowed", "a number >= 0"]),
    (["--bg-rate", "nan"], ["--bg-rate nan is not allowed"]),
    (["--k-ext", "layer_dependent"], ["argument --k-ext: 'layer_dependent'", "table or layer_independent or POP=N"]),
    (["--k-ext", "L23E=1800.5"], ["argument --k-ext: 'L23E=1800.5'"]),
    (["--k-ext", "L23E=-5"], ["--k-ext L23E = -5 is not allowed", "whole numbers >= 0"]),
    (["--k-ext", "L2E=1800"], ["--k-ext L2E = 1800: unknown population 'L2E'", "L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I"]),
    (["--pathway", "L23E->L4I"], ["argument --pathway: 'L23E->L4I'", "SOURCE->TARGET:FACTOR=F"]),
    (["--pathway", "L23E-L4I:probability=0"], ["argument --pathway", "SOURCE->TARGET:FACTOR=F"]),
    (["--pathway", "L23E->L4I:weight=0"], ["--pathway 'L23E->L4I': unknown factor 'weight'", "probability, psp"]),
    (["--pathway", "L23E->L4I:psp=-1"], ["--pathway 'L23E->L4I': psp = -1.0 is not allowed", ">= 0"]),
    (["--pathway", "L23E->L4X:probability=0"], ["--pathway 'L23E->L4X': unknown population 'L4X'", "L23E, L23I"]),
    (["--pathway", "X->L4I:probability=0"], ["--pathway 'X->L4I': unknown population 'X'"]),
    (["--pathway", "L23E->L4I:probability=15"],
     ["--pathway 'L23E->L4I': probability factor 15", "connection probability 1.0365", "below 14.47"]),
    (["--pathway", "L23E->L4X:probability=0", "--print-config"], ["unknown population 'L4X'"]),
    (["--connectivity", "/nonexistent/table.nc"], ["/nonexistent/table.nc does not exist"]),
    (["--config", "/nonexistent/run.toml"], ["--config /nonexistent/run.toml does not exist"]),
    (["--from", "/nonexistent/spikes.nc"], ["--from /nonexistent/spikes.nc does not exist"]),
    (["--recover"], ["--recover: no unfinished run data"]),
    (["--record-vm", "-1"], ["--record-vm -1 is not allowed", ">= 0"]),
    (["--vm-interval", "0.05"], ["--vm-interval 0.05 ms must be a multiple of the resolution"]),
    (["--vm-interval", "0"], ["--vm-interval 0 is not allowed", "> 0"]),
    (["--thalamic-pulses", "0"], ["--thalamic-pulses 0 is not allowed", ">= 1"]),
    (["--thalamic-pulses", "4", "--thalamic-interval", "10"], ["--thalamic-interval 10 is not allowed", "longer than"]),
    (["--thalamic", "--t-sim", "100"], ["the thalamic pulse starts at 700 ms", "end of the run at 600 ms", "--t-sim"]),
]


@pytest.mark.parametrize("args, fragments", OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES])
def test_bad_option(tmp_path, capsys, args, fragments):
    out = tmp_path / "out"
    code, err = invoke(args + ["--output", str(out)], capsys)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


@pytest.mark.parametrize("text, fragment", [
    ("[simulation\nt_sim = 1", "is not valid TOML"),
    ("[simulation]\nt_simm = 100.0\n", "unknown option simulation.t_simm"),
    ("[network]\nn_scaling = 'big'\n", "network.n_scaling must be a number"),
    ("[simulation]\nseed = 1.5\n", "simulation.seed must be a whole number"),
    ("[network]\nbackground = 'noise'\n", "network.background = 'noise' is not allowed; choose one of poisson, dc"),
    ("[network]\nn_scaling = 0.0\n", "network.n_scaling = 0.0 is not allowed; must be in (0, 1]"),
    ("[simulation]\nt_sim = 100.05\n", "simulation.t_sim = 100.05 ms must be a multiple of the resolution"),
    ("[network.neuron]\ntau_syn = 10.0\n", "network.neuron.tau_syn must differ from network.neuron.tau_m"),
    ("network = 5\n", "network must be a table of options"),
    ("[nonsense]\nx = 1\n", "unknown option nonsense"),
    ("[network]\ng = 'strong'\n", "network.g = 'strong' is not allowed; must be 'table' (the table's value) or a number <= 0"),
    ("[network]\ng = true\n", "network.g = True is not allowed"),
    ("[network]\nbg_rate = -8.0\n", "network.bg_rate = -8.0 is not allowed; must be 'table' (the table's value) or a number >= 0"),
    ("[network]\ninh_psp_scale = 0.5\ng = -2.0\n", "network.inh_psp_scale was replaced by network.g; give only g"),
    ("[network]\ninh_psp_scale = -0.5\n", "network.inh_psp_scale = -0.5 is not allowed (it was replaced by network.g"),
    ("[network]\nk_ext = 'layer'\n", "network.k_ext = 'layer' is not allowed; choose 'table', 'layer_independent'"),
    ("[network.k_ext]\nL23E = 'many'\n", "network.k_ext L23E = 'many' is not allowed; in-degrees must be whole numbers >= 0"),
    ("[network.k_ext]\nL23X = 1800\n", "network.k_ext L23X = 1800: unknown population 'L23X'"),
    ("[network.pathways]\n'L23E->L4X' = {probability = 0.5}\n", "network.pathways 'L23E->L4X': unknown population 'L4X'"),
    ("[network]\npathways = 3\n", "network.pathways = 3 is not allowed; give a table of pathways"),
    ("[network.pathways]\n'L23E->L4I' = 0.0\n", "network.pathways 'L23E->L4I' = 0.0 is not allowed; give factors"),
    ("[network.pathways]\n'L23E->L4I' = {probability = 0.0}\n'L23E -> L4I' = {psp = 2.0}\n",
     "network.pathways 'L23E->L4I' is given twice"),
    ("[network.pathways]\n'L23E->L4I' = {probability = true}\n", "probability = True is not allowed"),
])
def test_bad_config_file(tmp_path, capsys, text, fragment):
    cfg = tmp_path / "run.toml"
    cfg.write_text(text)
    out = tmp_path / "out"
    code, err = invoke(["--config", str(cfg), "--output", str(out)], capsys)
    assert_one_line_error(code, err, fragment)
    assert not out.exists()


def test_existing_output_is_kept(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    spikes = out / "spikes.nc"
    spikes.write_bytes(b"previous results")
    code, err = invoke(["--output", str(out)], capsys)
    assert_one_line_error(code, err, "exists; choose another --output or pass --overwrite")
    assert spikes.read_bytes() == b"previous results"
    assert sorted(p.name for p in out.iterdir()) == ["spikes.nc"]


def test_debug_shows_the_traceback(tmp_path, capsys):
    try:
        run_cmd.main(["--scale", "0", "--debug", "--output", str(tmp_path / "o")])
    except SystemExit:
        pass
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("must be in (0, 1]")


def test_memory_check_refuses_oversized_networks(tmp_path, capsys, monkeypatch):
    from microcircuit import resources

    monkeypatch.setattr(resources, "available_mb", lambda: 100.0)
    code, err = invoke(["--output", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "needs about", "GB are available", "--skip-memory-check")
    assert not (tmp_path / "o").exists()


def test_memory_check_counts_the_vm_recording(tmp_path, capsys, monkeypatch):
    """V_m of every neuron every step, in 10 s chunks: ~1.2e7 samples of 160 B per chunk (1.8 GB). Refused when
    only the network fits, with a remedy that names the recording."""
    from microcircuit import resources

    from microcircuit import Config, derive, load_table

    plain = Config().replace(simulation={"t_sim": 10000.0})
    with_vm = plain.replace(simulation={"record_vm": 3000, "vm_interval": 0.1, "chunk": 10000.0})
    need = [resources.estimate_run_mb(c, derive(c, load_table())) for c in (plain, with_vm)]
    assert need[0] < 1500.0 < need[1]  # the network alone fits, with the recording it does not
    monkeypatch.setattr(resources, "available_mb", lambda: 1500.0)
    code, err = invoke(["--output", str(tmp_path / "o"), "--record-vm", "3000", "--vm-interval", "0.1",
                        "--chunk", "10000", "--t-sim", "10000"], capsys)
    assert_one_line_error(code, err, "needs about", "record fewer neurons (--record-vm)", "--vm-interval")
    assert not (tmp_path / "o").exists()


def test_disk_check_refuses_a_recording_that_does_not_fit(tmp_path, capsys, monkeypatch):
    from microcircuit import resources

    monkeypatch.setattr(resources, "free_disk_mb", lambda folder: 10.0)
    code, err = invoke(["--output", str(tmp_path / "o"), "--record-vm", "100", "--vm-interval", "0.1"], capsys)
    assert_one_line_error(code, err, "GB of disk in", "record fewer neurons (--record-vm)")
    assert not (tmp_path / "o").exists()


# ---- connectivity tables -----------------------------------------------------------------

def _broken(edit):
    t = small_table(3).copy(deep=True)
    return edit(t)


def _set(var, index, value):
    def edit(t):
        values = t[var].values.astype(float if not isinstance(value, str) else object).copy()
        values[index] = value
        return t.assign({var: (t[var].dims, values)})
    return edit


TABLE_CASES = {
    "missing variable": (lambda t: t.drop_vars("k_ext"), "missing variable 'k_ext'"),
    "misnamed variable": (lambda t: t.rename({"psp_mean": "psp"}), "missing variable 'psp_mean'"),
    "wrong dims": (lambda t: t.assign(k_ext=(("target",), t["k_ext"].values)), "'k_ext' has dims ('target',)"),
    "wrong shape": (lambda t: t.isel(source=[0, 1]), "coordinate 'source' must list the populations"),
    "probability > 1": (_set("connection_probability", (0, 1), 1.2),
                        "connection_probability[P0, P1] = 1.2 is outside the allowed range [0.0, 1.0)"),
    "probability < 0": (_set("connection_probability", (2, 0), -0.1), "connection_probability[P2, P0] = -0.1"),
    "probability NaN": (_set("connection_probability", (1, 1), np.nan), "connection_probability[P1, P1] = nan"),
    "psp inf": (_set("psp_mean", (0, 0), np.inf), "psp_mean[P0, P0] = inf"),
    "size zero": (_set("population_size", 1, 0), "population_size[P1] = 0 is outside the allowed range "
                                                 "whole numbers in [1, inf]"),
    "size not whole": (_set("population_size", 0, 10.5), "population_size[P0] = 10.5"),
    "negative in-degree": (_set("k_ext", 2, -5), "k_ext[P2] = -5 is"),
    "negative delay": (_set("delay_mean", (0, 2), -1.0), "delay_mean[P0, P2] = -1 is"),
    "zero delay": (_set("delay_mean", (0, 2), 0.0), "delay_mean[P0, P2] = 0 is outside the allowed range (0.0, inf)"),
    "unknown type": (_set("population_type", 1, "X"), "unknown population_type P1='X'; allowed: 'E' or 'I'"),
    "wrong sign": (_set("psp_mean", (0, 1), 0.5), "psp_mean[P0, P1] = 0.5 mV has the wrong sign for an inhibitory"),
    "duplicate names": (lambda t: t.assign_coords(population=["A", "A", "B"], target=["A", "A", "B"],
                                                  source=["A", "A", "B"]), "population names must be unique"),
}


@pytest.mark.parametrize("case", sorted(TABLE_CASES))
def test_bad_table(tmp_path, capsys, case):
    edit, fragment = TABLE_CASES[case]
    path = tmp_path / "table.nc"
    _broken(edit).to_netcdf(path)
    out = tmp_path / "out"
    code, err = invoke(["--connectivity", str(path), "--output", str(out)], capsys)
    assert_one_line_error(code, err, fragment)
    assert not out.exists()


def test_table_that_is_not_netcdf(tmp_path, capsys):
    path = tmp_path / "table.nc"
    path.write_text("population,size\nL23E,20683\n")
    code, err = invoke(["--connectivity", str(path), "--output", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "is not a readable NetCDF file")


def test_delay_below_resolution(tmp_path, capsys):
    path = tmp_path / "table.nc"
    _broken(_set("delay_mean", (1, 1), 0.01)).to_netcdf(path)
    code, err = invoke(["--connectivity", str(path), "--output", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "delay_mean[P1, P1] = 0.01 ms is shorter than half the resolution")


# ---- property-based: random corruptions of a valid table ---------------------------------

BAD_VALUES = {
    # values outside each variable's allowed range
    "population_size": [0, -3, 2.5, np.nan],
    "connection_probability": [-0.01, 1.0, 7.0, np.nan, np.inf],
    "psp_mean": [np.nan, np.inf, -np.inf],
    "delay_mean": [0.0, -0.5, np.nan, np.inf],
    "k_ext": [-1, 0.5, np.nan],
    "thalamic_probability": [-0.5, 1.0, np.nan],
    "v0_mean": [np.nan, np.inf],
    "v0_sd": [-1.0, np.nan],
    "full_mean_rate": [-2.0, np.inf],
    "bg_rate": [-8.0, np.nan],
    "psp_ext": [-0.15, np.nan],
    "delay_ext": [0.0, -1.5],
    "thalamus_size": [0, 1.5],
    "psp_thalamic": [-0.1],
    "delay_thalamic": [0.0],
}
assert set(BAD_VALUES) == set(VARIABLES)  # every checked variable is exercised


@st.composite
def corrupted_tables(draw):
    n = draw(st.integers(1, 5))
    table = small_table(n, seed=draw(st.integers(0, 1000)))
    var = draw(st.sampled_from(sorted(BAD_VALUES)))
    value = draw(st.sampled_from(BAD_VALUES[var]))
    da = table[var]
    index = tuple(draw(st.integers(0, s - 1)) for s in da.shape)
    values = da.values.astype(float).copy()
    values[index] = value
    return table.assign({var: (da.dims, values)}), var


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_tables())
def test_any_single_bad_value_is_named(case):
    table, var = case
    with pytest.raises(ConfigError, match=rf"{var}(\[[^\]]*\])? = .* is outside the allowed range"):
        check_table(table)


GOOD_EDGE_VALUES = {
    # values at or next to the edges of each variable's allowed range, all allowed
    "population_size": [1, 10**7],
    "connection_probability": [0.0, np.nextafter(1.0, 0.0)],
    "psp_mean": [0.0],  # the sign rule allows 0 for both source types
    "delay_mean": [np.nextafter(0.0, 1.0), 1e6],
    "k_ext": [0, 10**6],
    "thalamic_probability": [0.0, np.nextafter(1.0, 0.0)],
    "v0_mean": [-1e6, 1e6],
    "v0_sd": [0.0, 1e3],
    "full_mean_rate": [0.0, 1e3],
    "bg_rate": [0.0, 1e6],
    "psp_ext": [0.0, 1e3],
    "delay_ext": [np.nextafter(0.0, 1.0), 1e6],
    "thalamus_size": [1, 10**7],
    "psp_thalamic": [0.0, 1e3],
    "delay_thalamic": [np.nextafter(0.0, 1.0), 1e6],
}
assert set(GOOD_EDGE_VALUES) == set(VARIABLES)


@st.composite
def edge_valued_tables(draw):
    n = draw(st.integers(1, 6))
    table = small_table(n, seed=draw(st.integers(0, 10_000)))
    var = draw(st.sampled_from(sorted(GOOD_EDGE_VALUES)))
    da = table[var]
    values = da.values.copy()
    index = tuple(draw(st.integers(0, s - 1)) for s in da.shape)
    values[index] = draw(st.sampled_from(GOOD_EDGE_VALUES[var]))
    return table.assign({var: (da.dims, values, da.attrs)})


@settings(max_examples=100, deadline=None)
@given(edge_valued_tables())
def test_valid_tables_pass_unchanged(table):
    """A valid table, with one value at an edge of its allowed range, is returned as it is: no error, no copy,
    nothing changed (the run simulates the table it was given)."""
    reference = table.copy(deep=True)
    assert check_table(table) is table
    xr.testing.assert_identical(table, reference)


def test_committed_table_passes():
    assert isinstance(load_table(), xr.Dataset)


def test_auto_takes_the_compact_synapse_when_memory_is_short(monkeypatch):
    """Between the two estimates of the available memory, "auto" becomes the 16-byte synapse; with plenty
    of memory it stays the 32-byte one, whose spike delivery is faster."""
    from microcircuit import Config, derive, load_table, preflight, resources

    c = Config()
    d = derive(c, load_table())
    std, hpc = (resources.estimate_run_mb(c, d, 2, model) for model in ("static_synapse", "static_synapse_hpc"))
    assert hpc < 0.9 * std
    monkeypatch.setattr(resources, "available_mb", lambda: (std + hpc) / 2)
    need, synapse = preflight._memory(c, d, check_memory=True)
    assert synapse == "static_synapse_hpc" and need == pytest.approx(hpc)
    monkeypatch.setattr(resources, "available_mb", lambda: 2 * std)
    assert preflight._memory(c, d, check_memory=True) == (pytest.approx(std), "static_synapse")


def test_full_scale_on_one_thread_is_told_that_two_threads_fit(tmp_path, capsys, monkeypatch):
    """Full scale on one thread needs the 32-byte synapse (NEST allows its compact synapse only up to 65 534
    nodes per thread): with 10 GB available the run is refused with the remedy --threads 2, for which the
    estimate is below 10 GB (measured peak with the compact synapse, 2 threads: 7.5 GB)."""
    from microcircuit import resources

    monkeypatch.setattr(resources, "available_mb", lambda: 10_000.0)
    code, err = invoke(["--scale", "1", "--background", "dc", "--threads", "1", "--output", str(tmp_path / "o")],
                       capsys)
    assert_one_line_error(code, err, "needs about", "use --threads 2 (NEST's 16-byte synapse; same spikes; about ")
    assert not (tmp_path / "o").exists()
