"""Every command in README.md runs.

The quick start's install and test lines are run by .ci/run (a fresh venv, ``pip install``,
``python build.py``, ``python -m pytest``); every other command of the README's ``bash`` blocks,
and every ``python`` block, runs here, in order, in one scratch folder. Full-scale commands
(``--scale 1``, ``--n-scale 1``) and the full-scale defaults of ``benchmark``/``theory`` without a scale are run with
``--print-config`` appended (a sweep with ``--print-points``): all options are parsed, resolved and checked
(a sweep's every point), nothing is simulated
(a full-scale run needs ~15 GB and many minutes). A full-scale sweep (the paper's experiments) then also
runs for real at a small scale (:func:`small_sweep`: scale 0.05, 100 + 200 ms, two values per axis, two
trials), into the same folder, so that the lines after it (``analyse`` of its points) run on its output.
``theory`` is cheap and always runs for real. ``py`` blocks (cluster recipes: SLURM, PBS) are shown, not run.
The MPI section's lines run in a test of their own, with the MPI-enabled Python of tests/mpi
(``MICROCIRCUIT_MPI_PYTHON``, set by .ci/run); without it that test is reported as skipped, with the
reason .ci/run gives (``MICROCIRCUIT_MPI_SKIP_REASON``).
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

RUN_BY_CI = ("pip install", "python3.11 -m venv", "python -m pytest")  # .ci/run runs exactly these


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(bash|python)\n(.*?)```", text, re.S)]


def bash_commands(block: str) -> list[str]:
    lines, current = [], ""
    for raw in block.splitlines():
        line = raw.split("  #")[0].rstrip() if "  #" in raw else raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        current += line.rstrip("\\") + " "
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return lines


def dry(words: list[str]) -> bool:
    """Full-scale commands are only resolved (--print-config), not simulated."""
    if "microcircuit.theory" in words:
        return False
    full = any(flag in words and float(words[words.index(flag) + 1]) >= 1 for flag in ("--scale", "--n-scale"))
    default_full = "microcircuit.benchmark" in words and "--scale" not in words
    return full or default_full


def small_sweep(words: list[str]) -> list[str]:
    """A full-scale sweep command at a small scale: scale 0.05, 100 ms warm-up + 200 ms, the first two
    values of every axis (``START:STOP:2`` of a range), two trials; everything else as given."""
    out, i = [], 0
    while i < len(words):
        w = words[i]
        if w in ("--scale", "--n-scale", "--k-scale", "--t-sim", "--t-presim", "--trials", "--vary"):
            value = words[i + 1]
            if w == "--vary":
                key, values = value.split("=", 1)
                parts = values.split(":")
                value = f"{key}={':'.join(parts[:2])}:2" if len(parts) == 3 else f"{key}={','.join(values.split(',')[:2])}"
                out += [w, value]
            elif w == "--trials":
                out += [w, "2"]
            i += 2
            continue
        out.append(w)
        i += 1
    return [*out, "--scale", "0.05", "--t-presim", "100", "--t-sim", "200", "--threads", "1"]


def is_mpi(cmd: str) -> bool:
    """A line of the MPI section: needs the MPI-enabled NEST."""
    return shlex.split(cmd)[0] == "mpirun" or "build/mpi" in cmd or " mpirun " in f" {cmd} "


def run_command(cmd: str, cwd, python: str = sys.executable) -> None:
    """Run one README line in ``cwd`` (full-scale runs only resolved, see the module docstring)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    prefix_env = {}
    words = shlex.split(cmd)
    while "=" in words[0] and not words[0].startswith("-"):  # VAR=value before the command
        k, v = words.pop(0).split("=", 1)
        prefix_env[k] = str(ROOT / v) if not os.path.isabs(v) and "/" in v else v
    if words[0] == "mpirun":
        words = ["mpirun", "--allow-run-as-root", "--oversubscribe", *words[1:]]
    assert "python" in words, cmd
    i = words.index("python")
    words[i] = python
    if words[i + 1].endswith(".py"):  # a script of the checkout
        words[i + 1] = str(ROOT / words[i + 1])
    stdout = None
    if ">" in words:  # output redirection
        j = words.index(">")
        stdout, words = cwd / words[j + 1], words[:j]
    if dry(words) and "microcircuit.sweep" in words:  # resolve and check every full-scale point, then run small
        out = subprocess.run([*words, "--print-points"], cwd=cwd, env=dict(env, **prefix_env), capture_output=True,
                             text=True)
        assert out.returncode == 0, f"{cmd} --print-points\n{out.stderr[-3000:]}"
        words = small_sweep(words)
    elif dry(words):
        words.append("--print-config")
    if words[i + 1] == str(ROOT / "build.py") and "--build-dir" in words:
        k = words.index("--build-dir")
        words[k + 1] = str(ROOT / words[k + 1])
    out = subprocess.run(words, cwd=cwd, env=dict(env, **prefix_env), capture_output=True, text=True)
    assert out.returncode == 0, f"{cmd}\n{out.stderr[-3000:]}"
    if stdout is not None:
        stdout.write_text(out.stdout)


def readme_commands() -> list[tuple[str, str]]:
    """("python", code) and ("bash", one command) in README order, without the lines .ci/run runs."""
    out = []
    for kind, block in readme_blocks():
        if kind == "python":
            out.append((kind, block))
        else:
            out += [(kind, cmd) for cmd in bash_commands(block) if not cmd.startswith(RUN_BY_CI)]
    return out


def test_every_readme_command_runs(tmp_path):
    """Every command but the MPI section's (test_readme_mpi_commands_run), in order, in one folder."""
    assert len(readme_blocks()) >= 8
    ran = []
    for kind, item in readme_commands():
        if kind == "python":
            code = compile(item, "README.md", "exec")
            cwd = os.getcwd()
            os.chdir(tmp_path)
            try:
                exec(code, {"__name__": "__readme__"})
            finally:
                os.chdir(cwd)
            ran.append("python block")
        elif not is_mpi(item):
            run_command(item, tmp_path)
            ran.append(item)
    # the quick start's own run made the files the later recipes read
    assert (tmp_path / "output" / "spikes.nc").exists()
    assert (tmp_path / "output" / "raster_plot.png").exists()
    assert any("microcircuit.validate" in c for c in ran) and any("--from" in c for c in ran)


def test_readme_mpi_commands_run(tmp_path):
    """The MPI section's lines, with the MPI-enabled Python (tests/mpi/conftest.py says how to get one)."""
    commands = [cmd for kind, cmd in readme_commands() if kind == "bash" and is_mpi(cmd)]
    assert any(shlex.split(c)[0] == "mpirun" or " mpirun " in f" {c} " for c in commands), \
        "the README's MPI section has no mpirun line"
    python = os.environ.get("MICROCIRCUIT_MPI_PYTHON")
    if not python:
        pytest.skip(os.environ.get("MICROCIRCUIT_MPI_SKIP_REASON")
                    or "MICROCIRCUIT_MPI_PYTHON is not set: no Python with an MPI-enabled NEST to run the README's "
                       "MPI commands with (.ci/run prepares one; see docs/mpi.md)")
    for cmd in commands:
        run_command(cmd, tmp_path, python)
    assert (tmp_path / "out_2x1" / "spikes.nc").exists()
