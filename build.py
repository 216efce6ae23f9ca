#!/usr/bin/env python3
"""Compile the NESTML neuron in ``models/`` into a NEST extension module.

Usage::

    python build.py            # build into ./build (skipped when nothing changed)
    python build.py --force    # rebuild even when up to date

The module is built for the NEST that ``python`` imports: the PyPI binary wheel
(whose ``nest-config`` names paths of the machine it was built on) or a NEST built
from source (for example with MPI). What the wheel lacks is supplied here:

* a private ``nest-config`` that points at the headers inside ``site-packages/nest``
  and at the Boost headers of the ``boost-headers`` package;
* a stand-in ``ltdl.h`` (NEST's headers use only the type ``lt_dlhandle`` from it);
* the C++ string ABI of the installed kernel, detected from its symbol names
  (the manylinux wheel uses the old ABI, a source build the new one).

Nothing but g++ (or ``$CXX``), cmake and make is needed from the system.
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
import shutil
import stat
import sys
import time
from pathlib import Path

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
# The last edit removes a unit conversion that NESTML emits as two multiplications
# (0.001 * weights * 1000, "1/s" times "pA s"), which is exactly the identity.
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
     "B_.spike_inputs_grid_sum_[SPIKES - MIN_SPIKE_RECEPTOR]", 1),
]


def edit_generated_code(source: Path) -> None:
    """Apply CODE_EDITS to one generated .cpp file; raise BuildError if the code is not as expected."""
    text = source.read_text()
    if "spike_input_received_grid_sum_[" in text:
        raise BuildError(f"{source.name} reads spike flags (an onReceive block?): the flag-buffer edits do not apply")
    if "V_.psc_unit = 1000.;" not in text:
        raise BuildError(f"{source.name}: psc_unit is not 1000 (pA s): the unit edit does not apply")
    for what, pattern, replacement, count in CODE_EDITS:
        text, n = re.subn(pattern, replacement, text)
        if n != count:
            raise BuildError(f"{source.name}: edit '{what}' matched {n} times, expected {count}; "
                             "the generated code changed (another NESTML version?)")
    source.write_text(text)


def _check_tools() -> str:
    """Return the C++ compiler to use; raise BuildError naming any missing tool."""
    cxx = os.environ.get("CXX", "g++")
    missing = [tool for tool in (cxx, "cmake", "make") if shutil.which(tool) is None]
    if missing:
        hint = "install them (Debian/Ubuntu: apt-get install g++ cmake make)"
        raise BuildError(f"{', '.join(missing)} not found on PATH: {hint}")
    return cxx


def _nest_package_dir() -> Path:
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


def fingerprint(abi: int, nest_version: str, nestml_version: str, cxx: str) -> str:
    """Hash of everything the compiled module depends on."""
    h = hashlib.sha256()
    for path in [Path(__file__).resolve(), *_model_files()]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    h.update(f"{abi}|{nest_version}|{nestml_version}|{cxx}|{sys.version_info[:2]}".encode())
    return h.hexdigest()


def _write_nest_config(prefix: Path, nest_dir: Path, abi: int, cxx: str) -> None:
    """Write the private nest-config (and the ltdl.h stand-in) under ``prefix``."""
    import boost_headers  # provided by the PyPI package boost-headers

    include = prefix / "include"
    include.mkdir(parents=True, exist_ok=True)
    (include / "ltdl.h").write_text(_LTDL_STANDIN)
    includes = " ".join(
        f"-I{p}" for p in (nest_dir / "include" / "nest", Path(boost_headers.get_include()), include)
    )
    # The wheel's own flags (nest-config --cflags) plus the kernel's string ABI.
    cflags = f"-Wall -fopenmp -O2 -O3 -DNDEBUG -std=c++20 -D_GLIBCXX_USE_CXX11_ABI={abi}"
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
    install = build_dir / "install"
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
    log(f"compiler output in {log_path}")


def build(build_dir: Path = DEFAULT_BUILD_DIR, force: bool = False, log=print) -> Path:
    """Build the module into ``build_dir`` unless it is up to date; return the module path.

    Raises
    ------
    BuildError
        With a one-line message (missing tool, missing NEST/NESTML, failed compilation).
    """
    cxx = _check_tools()
    build_dir = Path(build_dir).resolve()
    nest_dir = _nest_package_dir()
    abi = detect_cxx11_abi(_kernel_library(nest_dir))
    versions = {"nest": _nest_version(), "nestml": _nestml_version()}
    stamp = fingerprint(abi, versions["nest"], versions["nestml"], cxx)
    module = build_dir / "install" / f"{MODULE_NAME}.so"
    manifest_path = build_dir / MANIFEST
    if not force and module.exists() and manifest_path.exists():
        if json.loads(manifest_path.read_text()).get("fingerprint") == stamp:
            log(f"{MODULE_NAME} is up to date ({module})")
            return module

    t0 = time.perf_counter()
    log(f"building {MODULE_NAME} for NEST {versions['nest']} (C++11 ABI={abi}) with NESTML {versions['nestml']} ...")
    build_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)  # an interrupted build must not look complete
    prefix = build_dir / "nest_prefix"
    _write_nest_config(prefix, nest_dir, abi, cxx)
    _generate_and_compile(build_dir, prefix, log)
    manifest = {
        "fingerprint": stamp,
        "module_name": MODULE_NAME,
        "module_path": str(module),
        "models": [p.stem for p in _model_files()],
        "nest_version": versions["nest"],
        "nestml_version": versions["nestml"],
        "cxx11_abi": abi,
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
