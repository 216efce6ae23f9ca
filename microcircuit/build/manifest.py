"""Where the compiled neuron module lives and what was built: shared by the builder and the loader.

The builder (:mod:`microcircuit.build.builder`) writes ``manifest.json`` next to the module;
:func:`check_module` reads it, without importing NEST, before a run loads the module. The manifest
records a SHA-256 hash of every source of the module (:func:`source_hashes`: the NESTML models, the
build package's Python files and its C++ header), so that a run refuses a module built from other
sources than the installed ones (an edited model, or edited build code, without a rebuild). Comparing
them takes a few milliseconds (3.5 ms measured); the builder's fingerprint (these hashes plus the compiler, NEST and NESTML
versions, which take NEST's files to detect) decides when to rebuild.

The build folder is, in this order: ``$MICROCIRCUIT_BUILD_DIR``; ``build/`` in the source
checkout the package is imported from (``pip install -e .``); else ``share/microcircuit/build``
in the Python environment (``sys.prefix``), so that every environment keeps a module made for
its own NEST.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import sys
from pathlib import Path

from ..errors import SetupError

MODULE_NAME = "pd14module"
"""Name of the NEST extension module (NESTML requires the suffix ``module``)."""

NESTML_MODEL = "iaf_psc_exp_pd14"
"""NEST name of the neuron model the module provides (the model's name in its ``.nestml`` file)."""

MANIFEST = "manifest.json"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
BUILD_PACKAGE_DIR = Path(__file__).resolve().parent
"""The build package: its Python files and its C++ header (``inline_ring_buffer.h``) are sources of the module."""


def source_checkout() -> Path | None:
    """The root of the source checkout the package is imported from, or None for an installed package."""
    root = PACKAGE_DIR.parent
    if (root / "build.py").is_file() and (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root
    return None


def default_build_dir() -> Path:
    """The build folder (see the module docstring)."""
    if os.environ.get("MICROCIRCUIT_BUILD_DIR"):
        return Path(os.environ["MICROCIRCUIT_BUILD_DIR"])
    root = source_checkout()
    if root is not None:
        return root / "build"
    return Path(sys.prefix) / "share" / "microcircuit" / "build"


def build_command() -> str:
    """The command that builds the module, as a user types it here."""
    return "python build.py" if source_checkout() is not None else "python -m microcircuit.build"


def model_files() -> list[Path]:
    """The NESTML sources of the module (package data; ``models/`` in the source checkout)."""
    data = importlib.resources.files("microcircuit") / "data"
    return sorted(Path(str(p)) for p in data.iterdir() if p.name.endswith(".nestml"))


def source_files() -> list[Path]:
    """Every file the compiled module is made from: the build package's ``*.py`` and ``*.h``, the NESTML models.

    In a source checkout the models are ``models/*.nestml`` (linked from ``microcircuit/data``); in an
    installed package, the copies installed with it.
    """
    return [*sorted([*BUILD_PACKAGE_DIR.glob("*.py"), *BUILD_PACKAGE_DIR.glob("*.h")]), *model_files()]


def source_hashes() -> dict[str, str]:
    """SHA-256 of every source of the module (:func:`source_files`), by file name."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in source_files()}


def combined_hash(hashes: dict[str, str]) -> str:
    """One SHA-256 of several files' hashes (name and hash of each, in name order)."""
    return hashlib.sha256("".join(f"{name}\0{h}\n" for name, h in sorted(hashes.items())).encode()).hexdigest()


def nestml_hashes(hashes: dict[str, str]) -> dict[str, str]:
    """The entries of :func:`source_hashes` that are NESTML models."""
    return {name: h for name, h in hashes.items() if name.endswith(".nestml")}


def _changed(built: dict[str, str], installed: dict[str, str], limit: int = 3) -> str:
    """Which sources differ between a build and the installed package, as a short phrase."""
    names = sorted(n for n in set(built) | set(installed) if built.get(n) != installed.get(n))
    words = [f"{n} {'is new' if n not in built else 'is gone' if n not in installed else 'changed'}"
             for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(words) + more


def module_path(build_dir: Path) -> Path:
    return Path(build_dir) / "install" / f"{MODULE_NAME}.so"


def read_manifest(build_dir: Path) -> dict | None:
    """The manifest of a build folder (None if there is none)."""
    path = Path(build_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def write_manifest(build_dir: Path, manifest: dict) -> None:
    (Path(build_dir) / MANIFEST).write_text(json.dumps(manifest, indent=2))


def installed_nest_dir() -> Path | None:
    """Folder of the ``nest`` package this Python would import, found without importing it.

    (Importing an MPI-enabled NEST starts MPI.)
    """
    spec = importlib.util.find_spec("nest")
    return Path(spec.origin).resolve().parent if spec is not None and spec.origin else None


def installed_nest_version() -> str | None:
    try:
        return importlib.metadata.version("nest-simulator")
    except importlib.metadata.PackageNotFoundError:  # a NEST without pip metadata
        return None


def check_module(build_dir: str | Path | None = None) -> tuple[Path, dict]:
    """Check, without importing NEST, that the module is built for the installed NEST.

    Returns
    -------
    (pathlib.Path, dict)
        The module file and its manifest.

    Raises
    ------
    SetupError
        If the module has not been built, was built for another NEST, or from other sources than
        the installed ones (:func:`source_hashes`); the message names the command that builds it.
    """
    build_dir = Path(build_dir) if build_dir is not None else default_build_dir()
    module = module_path(build_dir)
    manifest = read_manifest(build_dir)
    if manifest is None or not module.exists():
        raise SetupError(f"the NESTML neuron module is not built ({module} missing): run `{build_command()}` first")
    installed = installed_nest_version() or manifest.get("nest_version")  # without pip metadata: checked at install
    if manifest.get("nest_version") != installed:
        raise SetupError(f"{MODULE_NAME} was built for NEST {manifest.get('nest_version')} but NEST "
                         f"{installed} is installed: run `{build_command()}` again")
    built_for = manifest.get("nest_kernel")
    nest_dir = installed_nest_dir()
    if built_for and nest_dir is not None and Path(built_for).resolve().parent != nest_dir:
        # e.g. a module built for the MPI-enabled NEST of another environment (other C++ ABI)
        raise SetupError(f"{module} was built for the NEST in {Path(built_for).parent}, but this Python uses "
                         f"the NEST in {nest_dir}: run `{build_command()}` with this Python (keep one build "
                         "folder per NEST with `--build-dir DIR` and MICROCIRCUIT_BUILD_DIR=DIR)")
    built_from = manifest.get("sources")
    if not isinstance(built_from, dict):
        raise SetupError(f"{module} was built by an older version of this package, which did not record its "
                         f"sources: run `{build_command()}` again")
    installed_sources = source_hashes()
    if built_from != installed_sources:
        raise SetupError(f"{module} was built from other sources than the installed ones "
                         f"({_changed(built_from, installed_sources)} since): run `{build_command()}` again")
    return module, manifest
