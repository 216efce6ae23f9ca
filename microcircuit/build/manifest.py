"""Where the compiled neuron module lives and what was built: shared by the builder and the loader.

The builder (:mod:`microcircuit.build.builder`) writes ``manifest.json`` next to the module;
:func:`check_module` reads it, without importing NEST, before a run loads the module.

The build folder is, in this order: ``$MICROCIRCUIT_BUILD_DIR``; ``build/`` in the source
checkout the package is imported from (``pip install -e .``); else ``share/microcircuit/build``
in the Python environment (``sys.prefix``), so that every environment keeps a module made for
its own NEST.
"""
from __future__ import annotations

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
        If the module has not been built or was built for another NEST; the message names the
        command that builds it.
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
    return module, manifest
