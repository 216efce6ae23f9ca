"""build.py: skips unchanged builds, names missing tools, detects the kernel's C++ ABI."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("build_script", ROOT / "build.py")
build_script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_script)


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

    nest_dir = build_script._nest_package_dir()
    abi = build_script.detect_cxx11_abi(build_script._kernel_library(nest_dir))
    expected = 1 if nest.build_info.get("have_mpi") else 0  # the MPI build in shared/wheels uses the new ABI
    assert abi == expected
