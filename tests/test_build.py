"""Building the neuron module: skipped when unchanged, missing tools named, the kernel's C++ ABI, the edits still apply.

What the code edits do is tested elsewhere: tests/nest/test_edits.py (the behaviour each edit exists
for) and tests/build_mutations.py (each edit undone in turn, and which test or the build then fails).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from microcircuit.build import builder, edits, manifest, toolchain

from .conftest import ROOT


def test_second_build_is_skipped():
    """With unchanged sources the module is not rebuilt (CI ran build.py before the tests)."""
    module = ROOT / "build" / "install" / "pd14module.so"
    assert module.exists(), "run `python build.py` before the tests"
    mtime = module.stat().st_mtime_ns
    out = subprocess.run([sys.executable, str(ROOT / "build.py")], capture_output=True, text=True, check=True)
    assert "up to date" in out.stdout
    assert module.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("missing", [("g++",), ("cmake",), ("g++", "cmake", "make")])
def test_missing_tool_is_named(tmp_path, missing):
    """Without a tool on PATH, build.py exits 2 with one line naming it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("g++", "cmake", "make"):
        real = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        if tool not in missing and real:
            (bin_dir / tool).symlink_to(real)
    env = dict(os.environ, PATH=str(bin_dir))
    env.pop("CXX", None)
    out = subprocess.run([sys.executable, str(ROOT / "build.py"), "--build-dir", str(tmp_path / "b")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("build.py: error: ")
    assert f"{', '.join(missing)} not found" in lines[0]
    assert not (tmp_path / "b").exists()


def test_pip_wheel_uses_the_old_cxx_abi():
    """The manylinux wheel's kernel has old-ABI std::string symbols; a module must match them."""
    import nest  # noqa: F401  (the installed NEST)

    nest_dir = toolchain.nest_package_dir()
    abi = toolchain.detect_cxx11_abi(toolchain.kernel_library(nest_dir))
    expected = 1 if nest.build_info.get("have_mpi") else 0  # the MPI build in shared/wheels uses the new ABI
    assert abi == expected


def test_build_folder_of_a_checkout_and_of_an_installed_package(monkeypatch, tmp_path):
    """In a source checkout the module goes to build/; installed elsewhere, into the Python environment."""
    monkeypatch.delenv("MICROCIRCUIT_BUILD_DIR", raising=False)
    assert manifest.source_checkout() == ROOT
    assert manifest.default_build_dir() == ROOT / "build"
    monkeypatch.setattr(manifest, "source_checkout", lambda: None)
    assert manifest.default_build_dir() == __import__("pathlib").Path(sys.prefix) / "share" / "microcircuit" / "build"
    assert manifest.build_command() == "python -m microcircuit.build"
    monkeypatch.setenv("MICROCIRCUIT_BUILD_DIR", str(tmp_path))
    assert manifest.default_build_dir() == tmp_path


# ---- the documented edits of the generated C++ (microcircuit/build/edits.py) --------------------
# These tests re-apply the edits' regular expressions to the code NESTML generated in the last build.
# After a successful build they cannot fail (the build makes the same checks): they are here to show,
# after a NESTML upgrade, which edit no longer finds its code. They say nothing about what the edits do.

TARGET = manifest.default_build_dir() / "target"


def generated(name: str) -> str:
    """The code NESTML generated in the last build, before the edits (kept by the builder)."""
    path = TARGET / f"{manifest.NESTML_MODEL}.{name}{builder.GENERATED_SUFFIX}"
    if not path.exists():
        pytest.skip(f"{path} missing: run `python build.py --force`")
    return path.read_text()


def compiled(name: str) -> str:
    """The code that was compiled, after the edits."""
    return (TARGET / f"{manifest.NESTML_MODEL}.{name}").read_text()


EDITS = {"cpp": edits.CODE_EDITS, "h": edits.HEADER_EDITS}
CASES = [(kind, k) for kind, table in EDITS.items() for k in range(len(table))]


def edited(kind: str, first_n: int) -> str:
    """The generated code with the first ``first_n`` edits of its list applied (they apply in order)."""
    text = generated(kind)
    for _, pattern, replacement, _ in EDITS[kind][:first_n]:
        text = re.sub(pattern, replacement, text, flags=re.S)
    return text


@pytest.mark.parametrize("kind, k", CASES, ids=[EDITS[kind][k][0] for kind, k in CASES])
def test_each_edit_matches_as_often_as_stated(kind, k):
    """Each edit finds its code exactly as often as it says, in NESTML's output after the edits before it.

    A NESTML version that generates different code makes this fail (and the build stop), which
    is the point: the edits must then be reviewed. (A check that the edits still match, not of what
    they do.)
    """
    what, pattern, replacement, count = EDITS[kind][k]
    before = edited(kind, k)
    assert len(re.findall(pattern, before, flags=re.S)) == count, what
    assert re.sub(pattern, replacement, before, flags=re.S) != before, f"{what}: changes nothing"


@pytest.mark.parametrize("kind", list(EDITS))
def test_the_compiled_code_is_the_generated_code_with_all_edits(kind):
    """The code that was compiled is NESTML's output with exactly the listed edits (nothing else changed it)."""
    assert edited(kind, len(EDITS[kind])) == compiled(kind)


def test_the_edits_remove_the_flag_buffers_entirely():
    """After all edits the flag buffers of the (unused) onReceive mechanism are neither written nor read."""
    after = compiled("cpp")
    assert "spike_input_received_[" not in after and "get_spike_input_received_grid_sum_()[" not in after
    assert "B_.spike_input_.add_value(" in after  # incoming spikes go to the member ring buffer
