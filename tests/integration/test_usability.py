"""Progress output, configuration files and overrides (issue: usability)."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
import tomllib

import pytest

from microcircuit.parameters import Config

pytestmark = pytest.mark.slow

TINY = ["--t-presim", "50", "--t-sim", "100", "--no-plots"]


def run_on_pty(args, cwd, env=None):
    """Run the command with stderr (and stdout) on a pseudo-terminal; return everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "microcircuit.run", *args], stdout=slave, stderr=slave, cwd=cwd,
                            env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO once the child has exited and closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=600) == 0
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal(tmp_path):
    text = run_on_pty(TINY + ["--output", "o"], tmp_path)
    # tqdm bars for both phases, with percentage, elapsed time and ETA ([elapsed<remaining])
    assert "connecting:" in text and "simulating:" in text
    assert "%|" in text and "ms [" in text and "<" in text
    assert "\r" in text  # a bar redrawn in place, not log lines


@pytest.mark.parametrize("omp_num_threads", [None, "1"])
def test_quiet_prints_nothing_on_a_terminal(tmp_path, omp_num_threads):
    """Also with OMP_NUM_THREADS set (dask's LocalCluster sets it to 1 in the process that starts it), about
    which NEST warns at import, at every ResetKernel and when its threads (here 2) are set."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp_num_threads is not None:
        env["OMP_NUM_THREADS"] = omp_num_threads
    text = run_on_pty(TINY + ["--output", "o", "--quiet"], tmp_path, env)
    assert text.strip() == ""
    assert (tmp_path / "o" / "spikes.nc").exists()


def test_log_lines_without_a_terminal(tmp_path):
    out = subprocess.run([sys.executable, "-m", "microcircuit.run", *TINY, "--output", "o"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    lines = out.stderr.splitlines()
    assert any(line.startswith("simulating: 150 of 150 ms (100%)") for line in lines)
    assert any(line.startswith("connecting: ") for line in lines)
    assert "\r" not in out.stderr and "%|" not in out.stderr


def _print_config(*args, cwd=None):
    out = subprocess.run([sys.executable, "-m", "microcircuit.run", *args, "--print-config"], cwd=cwd,
                         capture_output=True, text=True, check=True)
    return out.stdout


def test_print_config_round_trips(tmp_path):
    text = _print_config("--scale", "0.2", "--background", "dc", "--seed", "9", "--thalamic")
    cfg = Config.from_dict(tomllib.loads(text))
    assert cfg.network.n_scaling == 0.2 and cfg.network.background == "dc" and cfg.stimulus.thalamic
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert _print_config("--config", str(path)) == text


def test_command_line_overrides_the_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[simulation]\nseed = 3\nt_sim = 200.0\n\n[network]\nbackground = 'dc'\n")
    cfg = Config.from_dict(tomllib.loads(_print_config("--config", str(path), "--seed", "4")))
    assert cfg.simulation.seed == 4          # command line wins
    assert cfg.simulation.t_sim == 200.0     # file value kept
    assert cfg.network.background == "dc"
    assert cfg.network.n_scaling == 0.1      # default where neither says anything


def test_stimulus_runs_say_the_prediction_ignores_the_stimulus(tmp_path):
    """The table of simulated vs predicted rates of a run with a stimulus in its window carries a caveat."""
    out = subprocess.run([sys.executable, "-m", "microcircuit.run", "--scale", "0.05", "--t-presim", "100",
                          "--t-sim", "700", "--thalamic", "--dc-stimulus", "--no-plots", "--output", "o"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = out.stderr.splitlines()
    i = next(k for k, line in enumerate(lines) if "predicted by mean-field theory" in line)
    caveat = [line for line in lines[i:] if line.startswith("note: the prediction is the stationary state without")]
    assert len(caveat) == 1
    assert "thalamic pulse (700-710 ms)" in caveat[0] and "transient DC (650-750 ms)" in caveat[0]
    # without a stimulus there is no caveat
    out = subprocess.run([sys.executable, "-m", "microcircuit.run", *TINY, "--output", "p"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert "predicted by mean-field theory" in out.stderr and "note: the prediction" not in out.stderr
