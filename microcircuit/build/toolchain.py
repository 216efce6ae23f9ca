"""What it takes to compile a module for the installed NEST, detected without importing NEST.

The module is built for the NEST that ``python`` imports: the PyPI binary wheel (whose
``nest-config`` names paths of the machine it was built on) or a NEST built from source (for
example with MPI). Everything is detected from the installed NEST and written into a private
``nest-config`` for NESTML's build:

* headers: ``site-packages/nest/include/nest``, plus those include folders named by the
  installed ``nest-config --includes`` that exist on this machine (an MPI build names
  the MPI headers there; the temporary build paths of a wheel are dropped), plus the
  Boost headers of the ``boost-headers`` package;
* a stand-in ``ltdl.h`` only when no real one is found (NEST's headers use only the
  type ``lt_dlhandle`` from it);
* the C++ string ABI of the installed kernel, detected from its symbol names
  (the manylinux wheel uses the old ABI, a source build the new one);
* the compiler: ``$CXX``, else the one ``nest-config --compiler`` names if it exists
  here, else ``g++``; the compiler flags of ``nest-config --cflags``.

Nothing but a C++ compiler, cmake and make is needed from the system (and, for a NEST
built with MPI, the MPI development headers, e.g. Debian's ``libopenmpi-dev``).
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import NamedTuple

from ..errors import BuildError
from .manifest import installed_nest_dir, installed_nest_version

# Symbol of the NEST kernel whose mangled name shows the std::string ABI.
_ABI_PROBE_OLD = b"21get_synaptic_elementsESs"
_ABI_PROBE_NEW = b"21get_synaptic_elementsENSt7__cxx11"

# NEST's module_manager.h includes <ltdl.h> only for this type. Same declaration as libltdl.
_LTDL_STANDIN = """\
/* Stand-in for libltdl's ltdl.h, written by microcircuit's build.py.
   NEST's module_manager.h needs only the handle type, declared as in libltdl. */
#if !defined LTDL_H
#define LTDL_H 1
typedef struct lt__handle *lt_dlhandle;
#endif
"""


# Compiler flags used when the installed NEST has no usable nest-config (those of NEST 3.10's wheel).
DEFAULT_CFLAGS = "-Wall -fopenmp -O2 -O3 -DNDEBUG -std=c++20"
# Folders the compiler searches anyway; naming them with -I is redundant (and gcc ignores it).
SYSTEM_INCLUDE_DIRS = (Path("/usr/include"), Path("/usr/local/include"))


def installed_nest_config() -> Path | None:
    """The ``nest-config`` script installed with the NEST that this Python imports, if any."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / "nest-config"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def query_nest_config(nest_config: Path | None, option: str) -> str:
    """The answer of ``nest-config option`` ("" when there is no nest-config or it fails)."""
    if nest_config is None:
        return ""
    try:
        out = subprocess.run([str(nest_config), option], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def check_tools(nest_config: Path | None = None) -> str:
    """Return the C++ compiler to use; raise BuildError naming any missing tool.

    ``$CXX`` wins; otherwise the compiler NEST was built with (``nest-config --compiler``)
    when it exists on this machine (the PyPI wheel names one of its build container);
    otherwise ``g++``.
    """
    cxx = os.environ.get("CXX")
    if not cxx:
        nest_cxx = query_nest_config(nest_config, "--compiler")
        cxx = nest_cxx if nest_cxx and shutil.which(nest_cxx) else "g++"
    missing = [tool for tool in (cxx, "cmake", "make") if shutil.which(tool) is None]
    if missing:
        hint = "install them (Debian/Ubuntu: apt-get install g++ cmake make)"
        raise BuildError(f"{', '.join(missing)} not found on PATH: {hint}")
    return cxx


def nest_package_dir() -> Path:
    """Folder of the installed ``nest`` package (found without importing it: an MPI build would start MPI)."""
    nest_dir = installed_nest_dir()
    if nest_dir is None:
        raise BuildError("NEST is not importable: run `pip install .` (installs nest-simulator 3.10)")
    return nest_dir


def nest_version() -> str:
    return installed_nest_version() or "unknown"


def nestml_version() -> str:
    try:
        return importlib.metadata.version("nestml")
    except importlib.metadata.PackageNotFoundError:
        raise BuildError("NESTML is not installed: run `pip install .` (installs nestml 9)") from None


def detect_cxx11_abi(kernel_library: Path) -> int:
    """Return the ``_GLIBCXX_USE_CXX11_ABI`` value the NEST kernel was compiled with.

    The mangled name of a kernel function taking a ``std::string`` contains
    ``Ss`` under the old ABI and ``NSt7__cxx11...`` under the new one.
    """
    data = kernel_library.read_bytes()
    if _ABI_PROBE_NEW in data:
        return 1
    if _ABI_PROBE_OLD in data:
        return 0
    raise BuildError(f"cannot tell the C++ ABI of {kernel_library}: is this NEST 3.x?")


def kernel_library(nest_dir: Path) -> Path:
    candidates = sorted(nest_dir.glob("nestkernel_api*.so"))
    if not candidates:
        raise BuildError(f"no nestkernel_api*.so in {nest_dir}: the NEST installation looks broken")
    return candidates[0]


def nest_config_h(nest_dir: Path) -> dict[str, str]:
    """The ``#define NAME VALUE`` lines of the installed NEST's ``config.h``."""
    path = nest_dir / "include" / "nest" / "config.h"
    if not path.exists():
        raise BuildError(f"{path} is missing: this NEST installation has no headers to build a module against")
    return dict(re.findall(r"^#define\s+(\w+)\s+(.*?)\s*$", path.read_text(), flags=re.MULTILINE))


def usable_include_dirs(includes: str, build_prefix: str) -> list[Path]:
    """Include folders of ``nest-config --includes`` that exist here, without NEST's build prefix.

    A wheel's nest-config names the temporary folder it was built in (``build_prefix``) and
    folders of its build machine; those are dropped, as are the compiler's system folders.
    """
    out: list[Path] = []
    for token in shlex.split(includes):
        if not token.startswith("-I") or len(token) == 2:
            continue
        folder = Path(token[2:])
        if build_prefix and (folder == Path(build_prefix) or Path(build_prefix) in folder.parents):
            continue
        if folder in SYSTEM_INCLUDE_DIRS or not folder.is_dir() or folder in out:
            continue
        out.append(folder)
    return out


def find_header(name: str, folders: list[Path]) -> Path | None:
    """The first ``folder/name`` that exists, searching ``folders`` and then the system folders."""
    for folder in [*folders, *SYSTEM_INCLUDE_DIRS]:
        if (folder / name).is_file():
            return folder / name
    return None


def module_cflags(nest_cflags: str, abi: int) -> str:
    """NEST's compiler flags with the kernel's string ABI (colour codes dropped: output goes to a log)."""
    flags = [f for f in shlex.split(nest_cflags or DEFAULT_CFLAGS)
             if not f.startswith(("-D_GLIBCXX_USE_CXX11_ABI", "-fdiagnostics-color"))]
    return " ".join([*flags, f"-D_GLIBCXX_USE_CXX11_ABI={abi}"])


class Toolchain(NamedTuple):
    """How to compile a module for the installed NEST (all of it detected, nothing imported)."""

    cxx: str
    abi: int
    cflags: str
    include_dirs: tuple[str, ...]  # besides NEST's own headers and Boost
    ltdl_standin: bool
    have_mpi: bool

    def describe(self) -> str:
        return "|".join([self.cxx, str(self.abi), self.cflags, *self.include_dirs, str(self.ltdl_standin)])


def detect_toolchain(nest_dir: Path, nest_config: Path | None, cxx: str) -> Toolchain:
    """Read the installed NEST (kernel symbols, config.h, nest-config) and decide how to compile.

    Raises
    ------
    BuildError
        When NEST was built with MPI and ``mpi.h`` is in none of the include folders.
    """
    abi = detect_cxx11_abi(kernel_library(nest_dir))
    defines = nest_config_h(nest_dir)
    folders = usable_include_dirs(query_nest_config(nest_config, "--includes"),
                                  query_nest_config(nest_config, "--prefix"))
    have_mpi = defines.get("HAVE_MPI") == "1"
    if have_mpi and find_header("mpi.h", folders) is None:
        raise BuildError("this NEST was built with MPI and its headers include <mpi.h>, which is not installed: "
                         "install the MPI development headers (Debian/Ubuntu: apt-get install libopenmpi-dev)")
    return Toolchain(cxx=cxx, abi=abi, cflags=module_cflags(query_nest_config(nest_config, "--cflags"), abi),
                     include_dirs=tuple(str(f) for f in folders),
                     ltdl_standin=find_header("ltdl.h", folders) is None, have_mpi=have_mpi)


def write_nest_config(prefix: Path, nest_dir: Path, toolchain: Toolchain) -> None:
    """Write the private nest-config (and, when needed, the ltdl.h stand-in) under ``prefix``."""
    import boost_headers  # provided by the PyPI package boost-headers

    include = prefix / "include"
    shutil.rmtree(include, ignore_errors=True)
    folders = [nest_dir / "include" / "nest", *map(Path, toolchain.include_dirs), Path(boost_headers.get_include())]
    if toolchain.ltdl_standin:
        include.mkdir(parents=True)
        (include / "ltdl.h").write_text(_LTDL_STANDIN)
        folders.append(include)
    includes = " ".join(f"-I{p}" for p in folders)
    cxx, cflags = toolchain.cxx, toolchain.cflags
    answers = {
        "--prefix": str(prefix),
        "--exec-prefix": str(prefix),
        "--includes": includes,
        "--cflags": cflags,
        "--libs": "",  # `import nest` loads the kernel with RTLD_GLOBAL: no link step needed
        "--compiler": cxx,
        "--static-libraries": "OFF",
        "--libdir": "lib",
        "--version": nest_version(),
    }
    cases = "\n".join(f'  {k}) echo "{v}" ;;' for k, v in answers.items())
    script = f'#!/bin/sh\n# private nest-config written by build.py\ncase "$1" in\n{cases}\n  *) exit 1 ;;\nesac\n'
    config = prefix / "bin" / "nest-config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(script)
    config.chmod(config.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
