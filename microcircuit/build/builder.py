"""Compile the NESTML neuron into a NEST extension module for the installed NEST.

Three explicit steps, each with NESTML's own API: generate the C++ code (NESTML's front end,
without its build step), apply the documented edits (:mod:`.edits`), compile and install with
NESTML's ``NESTBuilder`` (its ``redirect_build_output`` and ``build_output_dir`` options keep the
compiler output in ``build.log.d/`` of the build folder). A fingerprint of the model sources, the
build code and the NEST and NESTML versions is stored in the manifest; when it matches, the
build is skipped in well under a second, without importing NEST or NESTML. The manifest also
keeps the hash of every source file, which every run compares with the installed sources.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from ..errors import BuildError, option
from . import edits, manifest, toolchain

GENERATED_SUFFIX = ".generated"
"""A copy of each generated source before the edits is kept next to it (tests check the edits on it)."""
HERE = Path(__file__).resolve().parent
"""The build package's folder: its C++ header is copied into the build (its sources are ``manifest.source_files()``)."""


def fingerprint(tc: toolchain.Toolchain, nest_version: str, nestml_version: str,
                sources: dict[str, str] | None = None) -> str:
    """Hash of everything the compiled module depends on: its sources (``manifest.source_hashes()``,
    given or computed), the compiler and its flags, NEST, NESTML and Python."""
    sources = manifest.source_hashes() if sources is None else sources
    h = hashlib.sha256(manifest.combined_hash(sources).encode())
    h.update(f"{tc.describe()}|{nest_version}|{nestml_version}|{sys.version_info[:2]}".encode())
    return h.hexdigest()


def generate(models: list[Path], target: Path, install: Path, prefix: Path, log_dir: Path) -> dict:
    """Generate the C++ code of ``models`` into ``target`` with NESTML's front end; return the codegen options.

    These are the steps of ``pynestml.frontend.pynestml_frontend.process`` up to code
    generation; its build step is :func:`compile_and_install`.
    """
    from pynestml.cocos.co_cos_manager import CoCosManager
    from pynestml.frontend import pynestml_frontend as frontend
    from pynestml.utils.logger import Logger

    os.environ.setdefault("PYNEST_QUIET", "1")  # NESTML asks NEST for its version: no banner on stdout
    options = {"nest_path": str(prefix), "redirect_build_output": True, "build_output_dir": str(log_dir)}
    try:
        frontend.configure_front_end([str(m) for m in models], "NEST", target_path=str(target),
                                     install_path=str(install), logging_level="ERROR",
                                     module_name=manifest.MODULE_NAME, codegen_opts=options)
        transformers, _ = frontend.transformers_from_target_name("NEST", options=options)
        generator = frontend.code_generator_from_target_name("NEST")
        generator.set_options(options)
        parsed = frontend.get_parsed_models()
        for model in parsed:
            if not Logger.has_errors(model):
                CoCosManager.check_cocos(model)
        bad = [m.get_name() for m in parsed if Logger.has_errors(m)]
        if bad or not parsed:
            raise BuildError(f"NESTML found errors in the model {', '.join(bad) or '(none parsed)'}")
        models_ast, metadata = frontend.transform_models(transformers, parsed)
        frontend.generate_code(generator, models_ast, metadata)
    except BuildError:
        raise
    except Exception as exc:  # NESTML raises several exception types
        raise BuildError(f"NESTML could not generate the code ({type(exc).__name__}: {exc})") from None
    missing = [m.stem for m in models if not (target / f"{m.stem}.cpp").exists()]
    if missing:
        raise BuildError(f"NESTML generated no code for {', '.join(missing)} (in {target})")
    return options


def compile_and_install(options: dict, log_dir: Path) -> None:
    """Compile and install the generated code with NESTML's builder (cmake, make, make install)."""
    from pynestml.codegeneration.nest_builder import NESTBuilder

    try:
        NESTBuilder(options).build()
    except Exception as exc:  # NESTML raises its own exception types
        raise BuildError(f"compiling the generated code failed ({exc}); see {log_dir}") from None


def build(build_dir: Path | None = None, force: bool = False, log=None) -> Path:
    """Build the module into ``build_dir`` (default :func:`manifest.default_build_dir`) unless it is up to date.

    Returns
    -------
    pathlib.Path
        The module file.

    Raises
    ------
    BuildError
        With a one-line message (missing tool, missing NEST or NESTML, failed compilation).

    ``log(message)`` receives the progress messages (default: the "microcircuit" logger).
    """
    log = log or logging.getLogger("microcircuit").info
    models = manifest.model_files()
    if not models:
        raise BuildError("no .nestml model files in the package (microcircuit/data)")
    nest_config = toolchain.installed_nest_config()
    cxx = toolchain.check_tools(nest_config)
    build_dir = Path(build_dir if build_dir is not None else manifest.default_build_dir()).resolve()
    nest_dir = toolchain.nest_package_dir()
    tc = toolchain.detect_toolchain(nest_dir, nest_config, cxx)
    versions = {"nest": toolchain.nest_version(), "nestml": toolchain.nestml_version()}
    sources = manifest.source_hashes()
    stamp = fingerprint(tc, versions["nest"], versions["nestml"], sources)
    module = manifest.module_path(build_dir)
    previous = manifest.read_manifest(build_dir)
    if (not force and module.exists() and previous is not None and previous.get("fingerprint") == stamp
            and previous.get("sources") == sources):
        log(f"{manifest.MODULE_NAME} is up to date ({module})")
        return module

    t0 = time.perf_counter()
    log(f"building {manifest.MODULE_NAME} for NEST {versions['nest']}{' with MPI' if tc.have_mpi else ''} "
        f"(C++11 ABI={tc.abi}, {tc.cxx}) with NESTML {versions['nestml']} into {build_dir} ...")
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the build folder {build_dir} ({exc.strerror}); choose another with "
                         f"{option('build_dir')} or MICROCIRCUIT_BUILD_DIR") from None
    # An interrupted build leaves the previous module and manifest in place (complete, but with
    # the old fingerprint, so the next run rebuilds); the manifest is written after the swap.
    prefix = build_dir / "nest_prefix"
    toolchain.write_nest_config(prefix, nest_dir, tc)
    target = build_dir / "target"
    # compile into a fresh folder and swap it in at the end: a NEST that loads the module
    # meanwhile (another process, using the same build folder) still finds the previous one
    install = build_dir / "install.new"
    log_dir = build_dir / "build.log.d"
    for folder in (target, install, log_dir):
        shutil.rmtree(folder, ignore_errors=True)
    log_dir.mkdir()
    options = generate(models, target, install, prefix, log_dir)
    for model in models:
        source = target / f"{model.stem}.cpp"
        for generated in (source, source.with_suffix(".h")):
            shutil.copyfile(generated, generated.with_name(generated.name + GENERATED_SUFFIX))
        edits.edit_generated_code(source)
    shutil.copyfile(HERE / edits.INLINE_RING_BUFFER, target / edits.INLINE_RING_BUFFER)
    compile_and_install(options, log_dir)
    if not (install / module.name).exists():
        raise BuildError(f"the build produced no {module.name}; see {log_dir}")
    current, old = build_dir / "install", build_dir / "install.old"
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    install.rename(current)
    shutil.rmtree(old, ignore_errors=True)
    manifest.write_manifest(build_dir, {
        "fingerprint": stamp,
        "sources": sources,  # compared with the installed sources before every run (manifest.check_module)
        "module_name": manifest.MODULE_NAME,
        "module_path": str(module),
        "models": [p.stem for p in models],
        "nest_version": versions["nest"],
        "nestml_version": versions["nestml"],
        "cxx11_abi": tc.abi,
        "nest_have_mpi": tc.have_mpi,
        "compiler": tc.cxx,
        "cflags": tc.cflags,
        "include_dirs": list(tc.include_dirs),
        "ltdl_standin": tc.ltdl_standin,
        "nest_kernel": str(toolchain.kernel_library(nest_dir)),
    })
    log(f"built {module} in {time.perf_counter() - t0:.1f} s (compiler output in {log_dir})")
    return module
