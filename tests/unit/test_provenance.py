"""Which neuron a run simulated: a module built from other sources is refused, and the run records its sources.

No network is simulated: the refusals happen before NEST is imported. The spike file's attributes and what
``validate`` and ``analyse`` print about them are checked on the runs of tests/integration (test_run.py,
test_validate.py, test_responses.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from microcircuit import Config, provenance
from microcircuit.build import manifest
from microcircuit.errors import SetupError

from ..conftest import ROOT

BUILD = ROOT / "build"
TINY = ["--scale", "0.05", "--t-presim", "10", "--t-sim", "10", "--no-plots"]  # should a refusal fail to come
MODEL = "iaf_psc_exp_pd14.nestml"


@pytest.fixture
def built():
    """The checkout's build folder (CI runs build.py before the tests)."""
    if manifest.read_manifest(BUILD) is None or not manifest.module_path(BUILD).exists():
        pytest.fail("run `python build.py` before the tests")
    return BUILD


def copy_checkout(dest: Path) -> Path:
    """The parts of the checkout that a run imports and reads, copied (links to models/ and connectivity/ kept)."""
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("microcircuit", "models", "connectivity"):
        shutil.copytree(ROOT / folder, dest / folder, symlinks=True, ignore=ignore)
    for file in ("build.py", "pyproject.toml"):
        shutil.copy(ROOT / file, dest / file)
    return dest


def run_in(checkout: Path, *args, build_dir: Path = BUILD) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(checkout), MICROCIRCUIT_BUILD_DIR=str(build_dir))
    return subprocess.run([sys.executable, *args], cwd=checkout, env=env, capture_output=True, text=True)


def check_module_in(checkout: Path) -> subprocess.CompletedProcess:
    return run_in(checkout, "-c", "from microcircuit.build import manifest; manifest.check_module()")


@pytest.mark.parametrize("edited", [f"models/{MODEL}", "microcircuit/build/edits.py",
                                    "microcircuit/build/inline_ring_buffer.h"])
def test_a_run_refuses_a_module_built_from_other_sources(built, tmp_path, edited):
    """Editing the NESTML model, a code edit or the ring-buffer header without rebuilding: the run stops with
    one line naming the changed file and the command that rebuilds, before it builds or writes anything.
    The copy of the checkout is the control: unedited, the same module is accepted."""
    checkout = copy_checkout(tmp_path / "checkout")
    assert check_module_in(checkout).returncode == 0, check_module_in(checkout).stderr
    path = checkout / edited
    comment = "\n# an edit\n" if path.suffix == ".nestml" or path.suffix == ".py" else "\n// an edit\n"
    path.write_text(path.read_text() + comment)
    out = tmp_path / "out"
    res = run_in(checkout, "-m", "microcircuit.run", "--output", str(out), *TINY)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("python -m microcircuit.run: error: ")
    assert f"{path.name} changed since" in lines[0] and "run `python build.py` again" in lines[0]
    assert not out.exists()


def test_the_builtin_neuron_does_not_need_the_module(built, tmp_path):
    """An edited model concerns only the NESTML neuron: the checks of a --neuron builtin run pass."""
    checkout = copy_checkout(tmp_path / "checkout")
    (checkout / "models" / MODEL).write_text((checkout / "models" / MODEL).read_text() + "\n# an edit\n")
    code = ("from microcircuit import Config, derive, load_table, preflight\n"
            "c = Config().replace(network={'neuron_model': 'builtin'}, simulation={'record': False})\n"
            "preflight.check(c, derive(c, load_table()), None, False, True)\n")
    res = run_in(checkout, "-c", code)
    assert res.returncode == 0, res.stderr


def copy_build(src: Path, dest: Path, edit) -> Path:
    (dest / "install").mkdir(parents=True)
    shutil.copy(manifest.module_path(src), manifest.module_path(dest))
    data = manifest.read_manifest(src)
    edit(data)
    manifest.write_manifest(dest, data)
    return dest


def test_a_manifest_with_another_source_hash_is_refused(built, tmp_path):
    folder = copy_build(built, tmp_path / "b", lambda m: m["sources"].update({MODEL: "0" * 64}))
    with pytest.raises(SetupError, match=rf"built from other sources than the installed ones \({MODEL} changed "
                                         r"since\): run `python build.py` again"):
        manifest.check_module(folder)
    manifest.check_module(copy_build(built, tmp_path / "same", lambda m: None))  # the control passes


def test_a_source_added_to_the_package_is_named(built, tmp_path):
    folder = copy_build(built, tmp_path / "b", lambda m: m["sources"].pop("edits.py"))
    with pytest.raises(SetupError, match=r"\(edits\.py is new since\)"):
        manifest.check_module(folder)


def test_a_manifest_of_an_older_version_is_refused(built, tmp_path):
    folder = copy_build(built, tmp_path / "b", lambda m: m.pop("sources"))
    with pytest.raises(SetupError, match=r"built by an older version of this package, which did not record its "
                                         r"sources: run `python build.py` again"):
        manifest.check_module(folder)


def test_sources_are_the_model_the_build_code_and_the_header():
    names = set(manifest.source_hashes())
    assert {MODEL, "builder.py", "edits.py", "manifest.py", "toolchain.py", "inline_ring_buffer.h"} <= names
    # the models are read through the package data (microcircuit/data links to models/ in a checkout)
    assert manifest.source_hashes()[MODEL] == __import__("hashlib").sha256((ROOT / "models" / MODEL).read_bytes()).hexdigest()


# ---- what a run records ------------------------------------------------------------------

def test_built_module_names_the_models_as_sha256sum_does(built):
    recorded = provenance.built_module(Config())
    stored = manifest.read_manifest(built)
    assert recorded["nestml_source_sha256"] == f"{stored['sources'][MODEL]}  {MODEL}"
    assert recorded["build_fingerprint"] == stored["fingerprint"]
    builtin = provenance.built_module(Config().replace(network={"neuron_model": "builtin"}))
    assert builtin == {"nestml_source_sha256": "not used", "build_fingerprint": "not used"}


@pytest.fixture
def fresh_revision():
    provenance.source_revision.cache_clear()
    yield
    provenance.source_revision.cache_clear()


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_a_checkout_records_its_commit(fresh_revision):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    rev = provenance.source_revision()
    assert rev["git_commit"] == head.stdout.strip() and rev["git_dirty"] in (0, 1)


def test_without_git_the_commit_is_left_out(fresh_revision, monkeypatch):
    monkeypatch.setattr(provenance.shutil, "which", lambda name: None)
    assert provenance.source_revision() == {}


def test_a_failing_git_is_left_out(fresh_revision, monkeypatch, tmp_path):
    fake = tmp_path / "git"
    fake.write_text("#!/bin/sh\necho 'fatal: broken' >&2\nexit 128\n")
    fake.chmod(0o755)
    monkeypatch.setattr(provenance.shutil, "which", lambda name: str(fake))
    assert provenance.source_revision() == {}


def test_a_copy_outside_any_repository_records_no_commit(fresh_revision, monkeypatch, tmp_path):
    """A checkout without .git (an unpacked release) inside no repository: no commit, no error."""
    monkeypatch.setattr(manifest, "source_checkout", lambda: tmp_path)
    assert provenance.source_revision() == {}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_copy_inside_another_repository_records_no_commit(fresh_revision, monkeypatch, tmp_path):
    """A checkout unpacked inside some other repository (a home folder under git): not that repository's commit."""
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "outer"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, env=env, capture_output=True)
    (tmp_path / "checkout").mkdir()
    monkeypatch.setattr(manifest, "source_checkout", lambda: tmp_path / "checkout")
    assert provenance.source_revision() == {}


def test_a_run_description_holds_the_provenance():
    """What goes into the spike file and the benchmark record (provenance.describe) names the neuron's sources."""
    from microcircuit import derive, load_table

    config = Config()
    kernel = {"virtual_processes": 2, "mpi_processes": 1, "num_connections": 0, "nest_version": "3.10.0"}
    described = provenance.describe(config, derive(config, load_table()), kernel)
    assert {**provenance.built_module(config), **provenance.source_revision()}.items() <= described.items()
    assert described["nestml_source_sha256"].endswith(f"  {MODEL}")


def test_an_installed_package_records_no_commit(fresh_revision, monkeypatch):
    monkeypatch.setattr(manifest, "source_checkout", lambda: None)
    assert provenance.source_revision() == {}


ATTRS = {"microcircuit_version": "0.1.0", "nest_version": "3.10.0", "nestml_version": "9.0.0",
         "neuron_model": "nestml", "nest_neuron_model": "iaf_psc_exp_pd14",
         "nestml_source_sha256": f"{'ab' * 32}  {MODEL}", "build_fingerprint": "cd" * 32,
         "git_commit": "0123456789abcdef" * 2 + "01234567", "git_dirty": 1}


def test_summary_names_the_sources_and_the_commit():
    software, neuron = provenance.summary(ATTRS)
    assert software == ("microcircuit 0.1.0 (git 0123456789ab, with uncommitted changes), NEST 3.10.0, "
                        "NESTML 9.0.0")
    assert neuron == f"iaf_psc_exp_pd14 from {MODEL} sha256 {'ab' * 6}, build {'cd' * 6}"
    clean = provenance.summary({**ATTRS, "git_dirty": 0})[0]
    assert "(git 0123456789ab)" in clean


def test_summary_of_older_files_and_of_the_builtin_neuron():
    old = {k: v for k, v in ATTRS.items() if k not in ("nestml_source_sha256", "build_fingerprint", "git_commit",
                                                       "git_dirty")}
    software, neuron = provenance.summary(old)
    assert software == "microcircuit 0.1.0, NEST 3.10.0, NESTML 9.0.0"
    assert "does not record which sources" in neuron
    builtin = {**ATTRS, "neuron_model": "builtin", "nest_neuron_model": "iaf_psc_exp", "nestml_version": "not used",
               "nestml_source_sha256": "not used", "build_fingerprint": "not used"}
    assert provenance.summary(builtin)[1] == "NEST's built-in iaf_psc_exp"


def test_stored_attributes_are_netcdf_types():
    """The new attributes are strings and integers, which NetCDF stores (it has no booleans)."""
    attrs = {**provenance.built_module(Config()), **provenance.source_revision()}
    assert all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in attrs.values()), attrs
    json.dumps(attrs)
