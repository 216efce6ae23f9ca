"""Careless input, as a new user types it: one line naming what they typed, exit status 2, nothing built or lost.

Every case stops before NEST builds anything (most before NEST is imported), so none simulates a network.
The spike files here are made without NEST: the attributes of a scale-0.1 run and random spikes.
"""
from __future__ import annotations

import ctypes
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from microcircuit import Config, derive, load_table, preflight
from microcircuit.commands import common
from microcircuit.connectivity import DEFAULT_TABLE, check_table, table_to_json
from microcircuit.errors import ConfigError, options_named
from microcircuit.output import ragged_dataset, write_atomic

COMMANDS = {name: importlib.import_module(f"microcircuit.commands.{name}")
            for name in ("run", "theory", "benchmark", "analyse", "validate", "build")}
RUN = "python -m microcircuit.run: error: "


def invoke(command: str, argv: list[str], capsys) -> tuple[int, list[str], str]:
    """Run a command in this process; return (exit status, stderr lines, stdout)."""
    try:
        code = COMMANDS[command].main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.err.strip().splitlines(), out.out


def one_line(code, err, *fragments) -> str:
    assert code == 2, err
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    return err[0]


def write_spike_file(path: Path, run: Config | None = None, **attrs) -> Path:
    """A spike file as the run command writes it (PD14 at scale 0.1, 1.5 s), with random spikes; ``attrs`` replace
    the attributes of ``run``'s configuration."""
    config = run or Config()
    table = load_table()
    sizes = derive(config, table).sizes
    pops = np.repeat(np.array([str(p) for p in table["population"].values]), sizes)
    rng = np.random.default_rng(1)
    counts = rng.poisson(3.0, size=pops.size)
    senders = np.repeat(np.arange(1, pops.size + 1), counts)
    times = np.round(rng.uniform(0.1, 1500.0, size=senders.size), 1)
    base = {"t_start": 500.0, "t_stop": 1500.0, "seed": config.simulation.seed, "n_scaling": config.network.n_scaling,
            "k_scaling": config.network.k_scaling, "background": config.network.background,
            "neuron_model": config.network.neuron_model, "status": "complete", "t_simulated": 1500.0,
            "config": json.dumps(config.to_dict()), "connectivity_table": table_to_json(table)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(ragged_dataset(np.arange(1, pops.size + 1), pops, senders, times, {**base, **attrs}), path)
    return path


@pytest.fixture(scope="module")
def spikes(tmp_path_factory) -> Path:
    return write_spike_file(tmp_path_factory.mktemp("run") / "spikes.nc")


# ---- a read-only output folder -----------------------------------------------------------

def _drop_root_override():
    """In the child: give up root's right to write where the permission bits say no (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER), so that a read-only folder is read-only for it as for any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_unprivileged(args, **kwargs) -> subprocess.CompletedProcess:
    preexec = _drop_root_override if os.geteuid() == 0 else None
    return subprocess.run([sys.executable, *args], preexec_fn=preexec, capture_output=True, text=True, **kwargs)


@pytest.fixture
def read_only(tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    probe = run_unprivileged(["-c", f"open({str(folder / 'probe')!r}, 'w')"])
    if probe.returncode == 0:
        pytest.skip("cannot make a folder read-only for a child process here (root without CAP_SETPCAP?)")
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("below", ["", "new/deeper"], ids=["the folder", "a folder to be made in it"])
def test_a_read_only_output_folder_is_refused_before_the_build(read_only, below):
    """Before: the network was built, then writing failed with a PermissionError traceback (exit 1)."""
    out = read_only / below if below else read_only
    res = run_unprivileged(["-m", "microcircuit.run", "--output", str(out)])
    line = one_line(res.returncode, res.stderr.strip().splitlines(), RUN + f"cannot write to --output {out}",
                    "Permission denied; choose another --output")
    if below:
        assert f"(it would be made in {read_only}, which cannot be written)" in line
    assert list(read_only.iterdir()) == []


def test_an_output_below_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("keep me")
    code, err, _ = invoke("run", ["--output", str(tmp_path / "file" / "out")], capsys)
    one_line(code, err, f"--output {tmp_path / 'file' / 'out'} cannot be made: {tmp_path / 'file'} is not a folder")
    assert (tmp_path / "file").read_text() == "keep me"


# ---- files given to the wrong option -----------------------------------------------------

def test_config_given_a_spike_file_says_use_from(spikes, tmp_path, capsys):
    """Before: UnicodeDecodeError traceback, exit 1."""
    code, err, _ = invoke("run", ["--config", str(spikes), "--output", str(tmp_path / "o")], capsys)
    one_line(code, err, RUN + f"--config {spikes} is a spike file, not a TOML file: to repeat its run use --from {spikes}")
    assert not (tmp_path / "o").exists()


def test_config_given_a_table_or_a_binary_file(tmp_path, capsys):
    code, err, _ = invoke("run", ["--config", str(DEFAULT_TABLE)], capsys)
    one_line(code, err, f"--config {DEFAULT_TABLE} is a NetCDF file, not a TOML file (a connectivity table goes to "
                        "--connectivity)")
    png = tmp_path / "figure.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code, err, _ = invoke("run", ["--config", str(png)], capsys)
    one_line(code, err, f"--config {png} is not a TOML file (not UTF-8 text: byte 0 is b'\\x89')")
    code, err, _ = invoke("run", ["--config", str(tmp_path)], capsys)
    one_line(code, err, f"--config {tmp_path} is a folder, not a TOML file")


def test_connectivity_given_a_spike_file_says_use_from(spikes, tmp_path, capsys):
    """Before: a 'one-line' error of 56 775 characters listing the 7 717 neurons' population names."""
    code, err, _ = invoke("run", ["--connectivity", str(spikes), "--output", str(tmp_path / "o")], capsys)
    line = one_line(code, err, f"connectivity table {spikes} is a spike file, not a connectivity table: to repeat "
                               f"the run it stores (with its table), use --from {spikes}")
    assert len(line) < 300
    assert not (tmp_path / "o").exists()


def test_long_lists_in_table_errors_are_cut(spikes):
    """A table with thousands of repeated population names: the message names a few and how many there are."""
    with xr.open_dataset(spikes) as ds:
        with pytest.raises(ConfigError) as info:
            check_table(ds.load())
    message = str(info.value)
    assert len(message) < 300, message
    assert "repeated: L23E, L23I, L4E, L4I, L5E, ... (8 in all)" in message and "(7717 in all)" in message


# ---- --from and --config together --------------------------------------------------------

def resolved(argv, capsys) -> dict:
    import tomllib

    code, err, out = invoke("run", [*argv, "--print-config"], capsys)
    assert code == 0, err
    return tomllib.loads(out)


def test_config_applies_on_top_of_from_and_options_on_top_of_both(tmp_path, capsys):
    """Before: with --from the --config file was silently ignored. Order: defaults < --from < --config < options."""
    stored = Config().replace(network={"n_scaling": 0.05, "k_scaling": 0.05}, simulation={"seed": 7, "t_sim": 700.0})
    spikes = write_spike_file(tmp_path / "run" / "spikes.nc", stored)
    toml = tmp_path / "seed2.toml"
    toml.write_text("[simulation]\nseed = 2\nt_sim = 2000.0\n")
    cfg = resolved(["--from", str(spikes), "--config", str(toml), "--t-sim", "3000"], capsys)
    assert cfg["simulation"]["seed"] == 2                                           # the file over the stored run
    assert cfg["simulation"]["t_sim"] == 3000.0                                     # the option over the file
    assert cfg["network"]["n_scaling"] == 0.05 and cfg["network"]["k_scaling"] == 0.05  # the stored run elsewhere
    assert resolved(["--from", str(spikes)], capsys)["simulation"]["seed"] == 7


def test_the_stored_table_is_kept_unless_the_file_names_another(tmp_path):
    spikes = write_spike_file(tmp_path / "run" / "spikes.nc")
    toml = tmp_path / "c.toml"
    parser = COMMANDS["run"].parser()
    with options_named({}):
        toml.write_text("[simulation]\nseed = 2\n")
        _, table = common.config_from_args(parser.parse_args(["--from", str(spikes), "--config", str(toml)]))
        assert table is not None and table.equals(load_table())
        toml.write_text(f"[network]\nconnectivity = {str(tmp_path / 'other.nc')!r}\n")
        cfg, table = common.config_from_args(parser.parse_args(["--from", str(spikes), "--config", str(toml)]))
        assert table is None and cfg.network.connectivity == str(tmp_path / "other.nc")


# ---- refusals name the option as the user set it -----------------------------------------

@pytest.mark.parametrize("argv, toml, expected", [
    (["--scale", "0"], None, "--scale 0 is not allowed; must be in (0, 1]"),
    (["--n-scale", "0"], "[network]\nn_scaling = 0.5\n", "--n-scale 0 is not allowed; must be in (0, 1]"),
    ([], "[network]\nn_scaling = 0.0\n", "network.n_scaling = 0.0 is not allowed; must be in (0, 1]"),
    ([], "[network]\nn_scaling = 0.0001\nk_scaling = 0.1\n", "network.n_scaling = 0.0001 leaves population"),
    (["--scale", "0.0001"], None, "--scale 0.0001 leaves population L5E without neurons; increase --scale"),
    (["--neuron", "builtin", "--poisson-source", "neuron"], None,
     "--poisson-source neuron needs --neuron nestml"),
    (["--thalamic-pulses", "3", "--thalamic-interval", "5"], None, "--thalamic-interval 5 is not allowed"),
], ids=["flag", "flag over file", "file", "file, derived", "flag, derived", "two flags", "flag with a rule"])
def test_refusals_name_the_flag_or_key_the_user_typed(tmp_path, capsys, argv, toml, expected):
    """Before: --scale 0 said "n_scaling = 0.0 is not allowed", naming neither the flag nor the TOML key."""
    if toml is not None:
        (tmp_path / "c.toml").write_text(toml)
        argv = [*argv, "--config", str(tmp_path / "c.toml")]
    code, err, _ = invoke("run", [*argv, "--output", str(tmp_path / "o")], capsys)
    one_line(code, err, RUN + expected)
    assert not (tmp_path / "o").exists()


def test_a_stored_value_is_named_by_its_key(tmp_path, capsys):
    spikes = write_spike_file(tmp_path / "run" / "spikes.nc")
    with xr.open_dataset(spikes) as ds:
        ds = ds.load()
    stored = json.loads(ds.attrs["config"])
    stored["simulation"]["t_sim"] = -5.0
    ds.attrs["config"] = json.dumps(stored)
    write_atomic(ds, spikes)
    code, err, _ = invoke("run", ["--from", str(spikes), "--output", str(tmp_path / "o")], capsys)
    one_line(code, err, RUN + "simulation.t_sim = -5.0 is not allowed; must be > 0")


# ---- --record-vm beyond the population sizes -----------------------------------------------

def test_record_vm_beyond_every_population_says_how_many_are_recorded(tmp_path, caplog):
    """Before: --record-vm 100000 silently recorded all 7 717 neurons (a 64 MB file at scale 0.1, 1.5 s).

    Said, not refused: recording every neuron is a legitimate choice and this is how to ask for it; the
    disk and memory checks refuse what does not fit."""
    config = Config().replace(simulation={"record_vm": 100_000})
    derived = derive(config, load_table())
    with options_named({"record_vm": "--record-vm"}), caplog.at_level("WARNING", logger="microcircuit"):
        preflight.check(config, derived, tmp_path / "o", overwrite=False, check_memory=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["--record-vm 100000 is more than any population has, so every neuron is recorded: 7717 "
                        "neurons in all (V_m and I_syn every 1 ms, 11.6 million samples, 177 MB before compression)"]
    assert not (tmp_path / "o").exists()


def test_record_vm_beyond_some_populations_names_them(tmp_path, caplog):
    """Scale 0.1: L5I has 106 neurons, L6I 289 (2 201 recorded in all with 300 of each of the 6 larger ones)."""
    config = Config().replace(simulation={"record_vm": 300})
    derived = derive(config, load_table())
    with caplog.at_level("WARNING", logger="microcircuit"):
        preflight.check(config, derived, tmp_path / "o", overwrite=False, check_memory=False)
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert message.startswith("record_vm = 300 is more than L5I, L6I have, so they are recorded whole: 2201 neurons")


def test_record_vm_within_the_populations_says_nothing(tmp_path, caplog):
    config = Config().replace(simulation={"record_vm": 10})
    with caplog.at_level("WARNING", logger="microcircuit"):
        preflight.check(config, derive(config, load_table()), tmp_path / "o", overwrite=False, check_memory=False)
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


# ---- no abbreviated options -----------------------------------------------------------------

@pytest.mark.parametrize("command, argv, typo", [
    ("run", ["--scal", "0.05", "--print-config"], "--scal"),
    ("theory", ["--back", "dc", "--print-config"], "--back"),
    ("benchmark", ["--rep", "3", "--print-config"], "--rep"),
    ("analyse", ["{tmp}/none", "--no-theo"], "--no-theo"),
    ("validate", ["{tmp}/none", "--refer", "x"], "--refer"),
    ("build", ["--forc", "--build-dir", "/proc/no/build"], "--forc"),
])
def test_abbreviated_options_are_refused(tmp_path, capsys, command, argv, typo):
    """Before: --scal 0.05 meant --scale 0.05, so a typo changed a script's meaning once an option was added.
    (The other arguments make each command stop at once should the abbreviation be accepted.)"""
    code, err, _ = invoke(command, [a.format(tmp=tmp_path) for a in argv], capsys)
    one_line(code, err, "error: unrecognized arguments: ", typo)


# ---- damaged files: the cause kept for --debug; a damaged configuration is an error --------------

@pytest.fixture
def damaged(tmp_path) -> Path:
    path = tmp_path / "run" / "spikes.nc"
    path.parent.mkdir()
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)  # a NetCDF-4 signature, then garbage
    return path


@pytest.mark.parametrize("command, argv, message", [
    ("analyse", ["{path}"], "{path} is not a readable spike file"),
    ("validate", ["{path}"], "{path} is not a readable spike file"),
    ("run", ["--from", "{path}", "--print-config"], "--from {path} is not a readable NetCDF spike file"),
])
def test_debug_shows_the_cause_of_an_unreadable_file(damaged, capsys, command, argv, message):
    """Before: ``raise ConfigError(...) from None`` hid the reader's error even with --debug."""
    argv = [a.format(path=damaged) for a in argv]
    code, err, _ = invoke(command, argv, capsys)
    one_line(code, err, message.format(path=damaged))
    code, err, _ = invoke(command, [*argv, "--debug"], capsys)
    text = "\n".join(err)
    assert code == 2 and err[-1].endswith(message.format(path=damaged))
    assert "The above exception was the direct cause of the following exception" in text
    assert "OSError" in text  # netCDF4's own error, the cause


@pytest.fixture
def damaged_config(tmp_path) -> Path:
    return write_spike_file(tmp_path / "run" / "spikes.nc", config="{\"network\": {\"n_scaling\": 0.1,")


@pytest.mark.parametrize("command, argv", [
    ("validate", ["{path}"]), ("analyse", ["{path}", "--no-theory"]), ("run", ["--from", "{path}", "--print-config"]),
])
def test_a_damaged_stored_configuration_is_an_error(damaged_config, capsys, command, argv):
    """Before: output.stored_config returned {} for it, so validate found no configuration differences."""
    before = sorted(p.name for p in damaged_config.parent.iterdir())
    code, err, _ = invoke(command, [a.format(path=damaged_config) for a in argv], capsys)
    one_line(code, err, "the stored configuration (attribute 'config') is damaged: not JSON")
    assert str(damaged_config) in err[0]
    assert sorted(p.name for p in damaged_config.parent.iterdir()) == before  # no report, no figure


# ---- --print-config FILE ---------------------------------------------------------------------

def test_print_config_to_a_file_makes_its_folder_and_keeps_an_existing_file(tmp_path, capsys, monkeypatch):
    """Before: the README's `--print-config > runs/run.toml` failed in a fresh folder (no runs/ yet)."""
    monkeypatch.chdir(tmp_path)
    code, err, out = invoke("run", ["--seed", "2", "--print-config", "runs/run.toml"], capsys)
    assert code == 0 and out == "", err
    code, _, printed = invoke("run", ["--seed", "2", "--print-config"], capsys)
    assert code == 0 and (tmp_path / "runs" / "run.toml").read_text() == printed
    code, err, _ = invoke("run", ["--seed", "3", "--print-config", "runs/run.toml"], capsys)
    one_line(code, err, RUN + "--print-config runs/run.toml: the file exists; remove it or choose another name")
    assert (tmp_path / "runs" / "run.toml").read_text() == printed
    code, err, _ = invoke("run", ["--config", "runs/run.toml", "--print-config"], capsys)
    assert code == 0, err
