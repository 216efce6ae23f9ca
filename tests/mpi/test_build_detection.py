"""The build reads how to compile the module from the installed NEST (no MPI needed for these)."""
from __future__ import annotations

import os
import subprocess

import pytest

from microcircuit.build import toolchain
from microcircuit.errors import BuildError


def fake_nest(tmp_path, have_mpi: bool, prefix: str, includes: str, cflags: str = "", compiler: str = "g++",
              abi_symbol: bytes = b"_ZN4nest21get_synaptic_elementsENSt7__cxx11"):
    """A NEST installation as build.py sees it: kernel library, config.h and a nest-config script."""
    nest_dir = tmp_path / "site-packages" / "nest"
    (nest_dir / "include" / "nest").mkdir(parents=True)
    (nest_dir / "nestkernel_api.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\0ELF" + abi_symbol + b"\0")
    mpi_line = "#define HAVE_MPI 1" if have_mpi else "/* #undef HAVE_MPI */"
    (nest_dir / "include" / "nest" / "config.h").write_text(f"#define HAVE_BOOST 1\n{mpi_line}\n")
    config = tmp_path / "bin" / "nest-config"
    config.parent.mkdir()
    config.write_text(f'#!/bin/sh\ncase "$1" in\n  --prefix) echo "{prefix}" ;;\n  --includes) echo "{includes}" ;;\n'
                      f'  --cflags) echo "{cflags}" ;;\n  --compiler) echo "{compiler}" ;;\n  *) exit 1 ;;\nesac\n')
    config.chmod(0o755)
    return nest_dir, config


def test_wheel_build_paths_are_dropped_and_existing_folders_kept(tmp_path):
    mpi_inc = tmp_path / "openmpi" / "include"
    mpi_inc.mkdir(parents=True)
    prefix = "/tmp/tmpabc/wheel/platlib"
    includes = (f" -I{prefix}/include/nest -I/usr/include -I/usr/local/include -I{mpi_inc} -I{mpi_inc} "
                "-I/opt/rh/devtoolset-10/root/usr/include")
    assert toolchain.usable_include_dirs(includes, prefix) == [mpi_inc]


def test_mpi_build_without_mpi_headers_is_a_one_line_error(tmp_path):
    nest_dir, config = fake_nest(tmp_path, True, "/tmp/x", f"-I/tmp/x/include/nest -I{tmp_path / 'no-such-dir'}")
    with pytest.raises(BuildError, match="apt-get install libopenmpi-dev"):
        toolchain.detect_toolchain(nest_dir, config, "g++")


def test_mpi_build_takes_the_mpi_headers_abi_and_flags_from_nest(tmp_path):
    mpi_inc = tmp_path / "openmpi" / "include"
    mpi_inc.mkdir(parents=True)
    (mpi_inc / "mpi.h").write_text("/* mpi */\n")
    nest_dir, config = fake_nest(tmp_path, True, "/tmp/x", f"-I/tmp/x/include/nest -I{mpi_inc}",
                                 cflags=" -Wall -fopenmp  -O2 -fdiagnostics-color=auto -O3 -DNDEBUG -std=c++20")
    tc = toolchain.detect_toolchain(nest_dir, config, "g++")
    assert tc.have_mpi and tc.abi == 1 and tc.include_dirs == (str(mpi_inc),)
    assert tc.cflags == "-Wall -fopenmp -O2 -O3 -DNDEBUG -std=c++20 -D_GLIBCXX_USE_CXX11_ABI=1"


def test_pip_wheel_flags_are_unchanged(tmp_path):
    """The wheel's nest-config, as shipped: the module is compiled as before (old ABI, no extra folders)."""
    prefix = "/tmp/tmpvx6ujbl4/wheel/platlib"
    nest_dir, config = fake_nest(tmp_path, False, prefix,
                                 f" -I{prefix}/include/nest -I/usr/local/include -I/usr/include -I/usr/local/include ",
                                 cflags=" -Wall -fopenmp  -O2 -fdiagnostics-color=auto -O3 -DNDEBUG -std=c++20",
                                 compiler="/opt/rh/devtoolset-10/root/usr/bin/g++",
                                 abi_symbol=b"_ZN4nest21get_synaptic_elementsESs")
    tc = toolchain.detect_toolchain(nest_dir, config, "g++")
    assert (tc.abi, tc.have_mpi, tc.include_dirs) == (0, False, ())
    assert tc.cflags == "-Wall -fopenmp -O2 -O3 -DNDEBUG -std=c++20 -D_GLIBCXX_USE_CXX11_ABI=0"


def test_compiler_named_by_nest_is_used_when_it_exists(tmp_path, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    cxx = subprocess.run(["which", "g++"], capture_output=True, text=True).stdout.strip()
    if not cxx:
        pytest.skip("no g++ on this machine")
    _, config = fake_nest(tmp_path, False, "/tmp/x", "", compiler=cxx)
    assert toolchain.check_tools(config) == cxx
    _, config = fake_nest(tmp_path / "b", False, "/tmp/x", "", compiler="/opt/rh/devtoolset-10/root/usr/bin/g++")
    assert toolchain.check_tools(config) == "g++"  # the wheel's build-container compiler does not exist here
    monkeypatch.setenv("CXX", cxx)
    assert toolchain.check_tools(config) == cxx


def test_ltdl_stand_in_only_without_a_real_header(tmp_path, monkeypatch):
    """NEST's headers include <ltdl.h>; the build writes its stand-in only when no real one is found."""
    monkeypatch.setattr(toolchain, "SYSTEM_INCLUDE_DIRS", ())  # this machine may have /usr/include/ltdl.h
    folder = tmp_path / "ltdl-include"
    folder.mkdir()
    nest_dir, config = fake_nest(tmp_path, False, "/tmp/x", f"-I{folder}")

    def private_includes(tc, prefix):
        toolchain.write_nest_config(prefix, nest_dir, tc)
        out = subprocess.run([str(prefix / "bin" / "nest-config"), "--includes"], capture_output=True, text=True)
        return out.stdout.split()

    missing = toolchain.detect_toolchain(nest_dir, config, "g++")
    assert missing.ltdl_standin
    includes = private_includes(missing, tmp_path / "p1")
    assert f"-I{tmp_path / 'p1' / 'include'}" in includes and (tmp_path / "p1" / "include" / "ltdl.h").exists()

    (folder / "ltdl.h").write_text("typedef struct lt__handle *lt_dlhandle;\n")
    present = toolchain.detect_toolchain(nest_dir, config, "g++")
    assert not present.ltdl_standin and present.include_dirs == (str(folder),)
    includes = private_includes(present, tmp_path / "p2")
    assert f"-I{folder}" in includes and not (tmp_path / "p2" / "include").exists()


def test_up_to_date_check_does_not_import_nest():
    """The fast path only reads files and runs nest-config: no NEST (which would start MPI), no NESTML.

    (How long it takes is measured, not asserted: docs/benchmarks.md, "Timings of light commands".)
    """
    code = ("import sys; from microcircuit.build import build; build(log=lambda m: print(m));"
            "print('nest' in sys.modules, 'pynestml' in sys.modules)")
    out = subprocess.run([os.environ.get("PYTHON", __import__("sys").executable), "-c", code], capture_output=True,
                         text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert "up to date" in lines[0], "run `python build.py` before the tests"
    imported_nest, imported_nestml = lines[-1].split()
    assert imported_nest == "False" and imported_nestml == "False"
