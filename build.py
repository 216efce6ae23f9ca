#!/usr/bin/env python3
"""Compile the NESTML neuron in ``models/`` into a NEST extension module.

Usage::

    python build.py            # build into ./build (skipped when nothing changed)
    python build.py --force    # rebuild even when up to date

The module is built for the NEST that ``python`` imports: the PyPI binary wheel
(whose ``nest-config`` names paths of the machine it was built on) or a NEST built
from source (for example with MPI). Everything is detected from the installed NEST and
written into a private ``nest-config`` for NESTML's build:

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
Before compiling, the generated C++ gets the edits listed in ``CODE_EDITS`` (they remove
work NESTML's templates do for features the model does not use). A fingerprint of the
model sources, this script and the NEST and NESTML versions is stored next to the module; when it matches, the build is
skipped in well under a second, without importing NEST or NESTML.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent
MODELS_DIR = ROOT / "models"
DEFAULT_BUILD_DIR = ROOT / "build"
MODULE_NAME = "pd14module"
MANIFEST = "manifest.json"

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


class BuildError(RuntimeError):
    """A build failure with a one-line explanation for the user."""


# Edits of the C++ that NESTML 9.0 generates, applied before it is compiled. NESTML's templates
# give every spike input port a second ring buffer of "spike received" flags, written for every
# incoming spike and read every step, for the benefit of ``onReceive`` blocks. Our model has no
# ``onReceive`` block, so the flags are never used: dropping them halves the ring-buffer writes
# on the hottest path of a network simulation (spike delivery) and saves a buffer per neuron.
# The unit edit removes a conversion that NESTML emits as two multiplications
# (0.001 * weights * 1000, "1/s" times "pA s"), which is exactly the identity.
# The remaining edits cut the memory touched per neuron and time step, which is what limits the
# neuron update (perf: most of its time is spent waiting for the ring-buffer and vector cache lines
# of ~10^4 neurons per step): the one spike port's summed weights are read straight into a local
# instead of through a heap-allocated vector, and the current port (used only by the transient DC
# stimulus) is read only by neurons that a current source is connected to; the others skip its
# ring buffer and vector entirely (flag and value sit in the state, beside V_m). The current
# arriving in step k still enters V_m in step k + 1, as in NEST's iaf_psc_exp.
# The spike port's ring buffer is a member of the neuron (as in NEST's built-in models) instead of
# the one element of a heap-allocated vector: every delivered spike and every step then follow one
# pointer fewer (measured in docs/benchmarks.md).
# The in-neuron background's uniform number is made from the top 53 of 64 random bits of the
# neuron's NEST generator (its raw output through uniform_int_distribution's full range, the
# standard construction of a double in [0, 1)), instead of drand(), whose libstdc++
# std::generate_canonical computes in long double (about twice the time per draw in isolation).
# u differs from drand()'s only in rounding below 2^-53, so the spikes are those of drand()
# (the same spike counts in every benchmark configuration of docs/benchmarks.md).
# Each edit must match exactly as often as stated, or the build stops: a NESTML version that
# generates different code needs these edits reviewed, not silently skipped.
_FLAG_BUFFER = re.escape("spike_input_received_( std::vector< nest::RingBuffer >( NUM_SPIKE_RECEPTORS ) )")
CODE_EDITS = [
    ("flag buffers are not allocated (constructors)",
     _FLAG_BUFFER, "spike_input_received_()", 2),
    ("flag buffers are not resized before a run",
     r"\n\s*B_\.spike_input_received_\.resize\(NUM_SPIKE_RECEPTORS\);", "", 1),
    ("no flag is written per incoming spike",
     r"\n\s*B_\.spike_input_received_\[ nestml_buffer_idx - MIN_SPIKE_RECEPTOR \]\.add_value\(\s*"
     r"e\.get_rel_delivery_steps\( nest::kernel\(\)\.simulation_manager\.get_slice_origin\(\) \),\s*1\. \);",
     "", 1),
    ("no flag is read per step",
     r"\n\s*get_spike_input_received_grid_sum_\(\)\[i\] = get_spike_input_received_\(\)\[i\]\.get_value\(lag\);",
     "", 1),
    ("summed spike weights enter I_syn without the 0.001 * ... * 1000 unit round trip",
     re.escape("(0.001 * B_.spike_inputs_grid_sum_[SPIKES - MIN_SPIKE_RECEPTOR]) * V_.psc_unit"),
     "spike_input_sum", 1),
    ("the one spike port is read into a local, not through a vector",
     r"for \(long i = 0; i < NUM_SPIKE_RECEPTORS; \+\+i\)\s*\{\s*"
     r"get_spike_inputs_grid_sum_\(\)\[i\] = get_spike_inputs_\(\)\[i\]\.get_value\(lag\);\s*\}",
     "const double spike_input_sum = B_.spike_input_.get_value(lag);", 1),
    ("the spike port's ring buffer is a member, not the element of a heap-allocated vector (constructors)",
     re.escape("spike_inputs_( std::vector< nest::RingBuffer >( NUM_SPIKE_RECEPTORS ) )"), "spike_inputs_()", 2),
    ("the spike port's ring buffer is cleared (and sized) with the other buffers",
     re.escape("get_spike_inputs_().clear();"), "B_.spike_input_.clear();", 1),
    ("the empty vector is not resized before a run",
     r"\n\s*B_\.spike_inputs_\.resize\(NUM_SPIKE_RECEPTORS\);", "", 1),
    ("incoming spikes are added to the member ring buffer",
     r"\n\s*assert\(e\.get_rport\(\) < B_\.spike_inputs_\.size\(\)\);(.*?)"
     r"B_\.spike_inputs_\[ nestml_buffer_idx - MIN_SPIKE_RECEPTOR \]\.add_value\(",
     "\\1B_.spike_input_.add_value(", 1),
    ("the current port is read only by neurons with a current source",
     r"for \(long i = 0; i < NUM_CONTINUOUS_INPUT_PORTS; \+\+i\)\s*\{\s*"
     r"get_continuous_inputs_grid_sum_\(\)\[i\] = get_continuous_inputs_\(\)\[i\]\.get_value\(lag\);\s*\}",
     "if (S_.has_current_input_)\n    {\n      S_.I_stim_ = B_.continuous_inputs_[I_STIM].get_value(lag);\n    }", 1),
    ("a uniform number in [0, 1) is made from 53 random bits of the same NEST generator, without "
     "std::generate_canonical",
     re.escape("((0) + (1) * nest::get_vp_specific_rng( get_thread() )->drand())"),
     "( [this] { std::uniform_int_distribution< unsigned long > all_bits;"
     " return static_cast< double >( ( *nest::get_vp_specific_rng( get_thread() ) )( all_bits ) >> 11 ) * 0x1.0p-53; }() )", 1),
    ("V_m reads the current port's value from a member",
     re.escape("B_.continuous_inputs_grid_sum_[I_STIM]"), "S_.I_stim_", 1),
    ("the current port's value is reset with the other buffers",
     re.escape("get_continuous_inputs_grid_sum_().clear();"),
     "get_continuous_inputs_grid_sum_().clear();\n  S_.I_stim_ = 0.;", 1),
]
# Edits of the generated header, for the current-port edits above.
HEADER_EDITS = [
    ("the state gets the current-port flag and value, next to V_m and I_syn",
     re.escape("long refr_count;\n\n    State_();"),
     "long refr_count;\n"
     "    bool has_current_input_ = false;  // microcircuit build.py: a current source is connected\n"
     "    double I_stim_ = 0.;  // microcircuit build.py: current-port value of the last step (pA)\n\n"
     "    State_();", 1),
    ("the buffers get the spike port's ring buffer as a member",
     re.escape("    std::vector< nest::RingBuffer > spike_inputs_;\n"),
     "    std::vector< nest::RingBuffer > spike_inputs_;  // microcircuit build.py: left empty\n"
     "    nest::RingBuffer spike_input_;  // microcircuit build.py: the one spike port's ring buffer\n", 1),
    ("connecting a current source sets the flag",
     r"(handles_test_event\(nest::CurrentEvent&, nest_port_t receptor_type\)\n\{.*?)"
     r"(\n  return receptor_type;)",
     "\\1\n  S_.has_current_input_ = true;  // microcircuit build.py\\2", 1),
]


def _apply(source: Path, edits) -> None:
    text = source.read_text()
    for what, pattern, replacement, count in edits:
        text, n = re.subn(pattern, replacement, text, flags=re.S)
        if n != count:
            raise BuildError(f"{source.name}: edit '{what}' matched {n} times, expected {count}; "
                             "the generated code changed (another NESTML version?)")
    source.write_text(text)


def edit_generated_code(source: Path) -> None:
    """Apply CODE_EDITS to a generated .cpp file and HEADER_EDITS to its header.

    Raises BuildError if the code is not as the edits expect.
    """
    text = source.read_text()
    header = source.with_suffix(".h")
    if "spike_input_received_grid_sum_[" in text:
        raise BuildError(f"{source.name} reads spike flags (an onReceive block?): the flag-buffer edits do not apply")
    if "V_.psc_unit = 1000.;" not in text:
        raise BuildError(f"{source.name}: psc_unit is not 1000 (pA s): the unit edit does not apply")
    if not re.search(r"NUM_CONTINUOUS_INPUT_PORTS = 1\b", header.read_text()):
        raise BuildError(f"{header.name}: the model must have exactly one current port for the current-port edits")
    _apply(source, CODE_EDITS)
    _apply(header, HEADER_EDITS)


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


def _check_tools(nest_config: Path | None = None) -> str:
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


def _nest_package_dir() -> Path:
    # find_spec locates the package without importing it (an MPI build would start MPI)
    spec = importlib.util.find_spec("nest")
    if spec is None or spec.origin is None:
        raise BuildError("NEST is not importable: run `pip install -e .` (installs nest-simulator 3.10)")
    return Path(spec.origin).parent


def _nest_version() -> str:
    try:
        return importlib.metadata.version("nest-simulator")
    except importlib.metadata.PackageNotFoundError:  # NEST installed without pip metadata
        return "unknown"


def _nestml_version() -> str:
    try:
        return importlib.metadata.version("nestml")
    except importlib.metadata.PackageNotFoundError:
        raise BuildError("NESTML is not installed: run `pip install -e .` (installs nestml 9)") from None


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


def _kernel_library(nest_dir: Path) -> Path:
    candidates = sorted(nest_dir.glob("nestkernel_api*.so"))
    if not candidates:
        raise BuildError(f"no nestkernel_api*.so in {nest_dir}: the NEST installation looks broken")
    return candidates[0]


def _model_files() -> list[Path]:
    files = sorted(MODELS_DIR.glob("*.nestml"))
    if not files:
        raise BuildError(f"no .nestml files in {MODELS_DIR}")
    return files


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
    abi = detect_cxx11_abi(_kernel_library(nest_dir))
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


def fingerprint(toolchain: Toolchain, nest_version: str, nestml_version: str) -> str:
    """Hash of everything the compiled module depends on."""
    h = hashlib.sha256()
    for path in [Path(__file__).resolve(), *_model_files()]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    h.update(f"{toolchain.describe()}|{nest_version}|{nestml_version}|{sys.version_info[:2]}".encode())
    return h.hexdigest()


def _write_nest_config(prefix: Path, nest_dir: Path, toolchain: Toolchain) -> None:
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
        "--version": _nest_version(),
    }
    cases = "\n".join(f'  {k}) echo "{v}" ;;' for k, v in answers.items())
    script = f'#!/bin/sh\n# private nest-config written by build.py\ncase "$1" in\n{cases}\n  *) exit 1 ;;\nesac\n'
    config = prefix / "bin" / "nest-config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(script)
    config.chmod(config.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _generate_and_compile(build_dir: Path, prefix: Path, log) -> None:
    from pynestml.codegeneration import nest_builder
    from pynestml.frontend.pynestml_frontend import generate_nest_target

    target = build_dir / "target"
    # compile into a fresh folder and swap it in at the end: a NEST that loads the module
    # meanwhile (another process, using the same build folder) still finds the previous one
    install = build_dir / "install.new"
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(install, ignore_errors=True)
    log_path = build_dir / "build.log"

    class EditingBuilder(nest_builder.NESTBuilder):
        """NESTML's builder, with CODE_EDITS applied to the generated sources before compiling."""

        def build(self):
            for model in _model_files():
                edit_generated_code(target / f"{model.stem}.cpp")
            super().build()

    # NESTML's builder prints the compiler output to stdout/stderr: keep it in a log file.
    original_builder = nest_builder.NESTBuilder
    nest_builder.NESTBuilder = EditingBuilder  # looked up by name when generate_nest_target builds
    with open(log_path, "w") as log_file:
        saved = os.dup(1), os.dup(2)
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        try:
            generate_nest_target(
                input_path=str(MODELS_DIR),
                target_path=str(target),
                install_path=str(install),
                module_name=MODULE_NAME,
                logging_level="WARNING",
                codegen_opts={"nest_path": str(prefix)},
            )
        except BuildError:
            raise
        except Exception as exc:  # NESTML raises several exception types
            raise BuildError(f"NESTML generation or compilation failed ({exc}); see {log_path}") from exc
        finally:
            nest_builder.NESTBuilder = original_builder
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    if not (install / f"{MODULE_NAME}.so").exists():
        raise BuildError(f"the build produced no {MODULE_NAME}.so; see {log_path}")
    current, previous = build_dir / "install", build_dir / "install.old"
    shutil.rmtree(previous, ignore_errors=True)
    if current.exists():
        current.rename(previous)
    install.rename(current)
    shutil.rmtree(previous, ignore_errors=True)
    log(f"compiler output in {log_path}")


def build(build_dir: Path = DEFAULT_BUILD_DIR, force: bool = False, log=print) -> Path:
    """Build the module into ``build_dir`` unless it is up to date; return the module path.

    Raises
    ------
    BuildError
        With a one-line message (missing tool, missing NEST/NESTML, failed compilation).
    """
    nest_config = installed_nest_config()
    cxx = _check_tools(nest_config)
    build_dir = Path(build_dir).resolve()
    nest_dir = _nest_package_dir()
    toolchain = detect_toolchain(nest_dir, nest_config, cxx)
    abi = toolchain.abi
    versions = {"nest": _nest_version(), "nestml": _nestml_version()}
    stamp = fingerprint(toolchain, versions["nest"], versions["nestml"])
    module = build_dir / "install" / f"{MODULE_NAME}.so"
    manifest_path = build_dir / MANIFEST
    if not force and module.exists() and manifest_path.exists():
        if json.loads(manifest_path.read_text()).get("fingerprint") == stamp:
            log(f"{MODULE_NAME} is up to date ({module})")
            return module

    t0 = time.perf_counter()
    log(f"building {MODULE_NAME} for NEST {versions['nest']}{' with MPI' if toolchain.have_mpi else ''} "
        f"(C++11 ABI={abi}, {cxx}) with NESTML {versions['nestml']} ...")
    build_dir.mkdir(parents=True, exist_ok=True)
    # An interrupted build leaves the previous module and manifest in place (complete, but with
    # the old fingerprint, so the next run rebuilds); the manifest is written after the swap.
    prefix = build_dir / "nest_prefix"
    _write_nest_config(prefix, nest_dir, toolchain)
    _generate_and_compile(build_dir, prefix, log)
    manifest = {
        "fingerprint": stamp,
        "module_name": MODULE_NAME,
        "module_path": str(module),
        "models": [p.stem for p in _model_files()],
        "nest_version": versions["nest"],
        "nestml_version": versions["nestml"],
        "cxx11_abi": abi,
        "nest_have_mpi": toolchain.have_mpi,
        "compiler": cxx,
        "cflags": toolchain.cflags,
        "include_dirs": list(toolchain.include_dirs),
        "ltdl_standin": toolchain.ltdl_standin,
        "nest_kernel": str(_kernel_library(nest_dir)),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    log(f"built {module} in {time.perf_counter() - t0:.1f} s")
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR, help="output folder (default: ./build)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        build(args.build_dir, force=args.force)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
