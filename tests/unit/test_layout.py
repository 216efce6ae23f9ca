"""The package's modules depend on each other in one direction only.

Every import of a ``microcircuit`` module (at module level or inside a function) is read from
the source with ``ast``. A module may import from its own layer and the layers above it in
``LAYERS``, never from a layer below, and no group of modules may import each other in a
cycle. The layers, from the bottom up, are those of the package docstring.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import microcircuit

PACKAGE = Path(microcircuit.__file__).resolve().parent

LAYERS = [
    {"errors"},
    {"parameters", "variations", "physics", "connectivity", "build"},
    {"analysis", "theory", "output", "provenance", "resources", "validation", "plots", "convert"},
    {"network"},
    {"parallel", "progress"},
    {"preflight", "runloop", "simulation", "measurement", "sweep"},
    {"commands"},
]
ENTRY_POINTS = {"microcircuit", "microcircuit.__main__", "microcircuit.run", "microcircuit.validate",
                "microcircuit.benchmark", "microcircuit.analyse", "microcircuit.theory.__main__",
                "microcircuit.build.__main__", "microcircuit.sweep.__main__"}


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["microcircuit", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = module_names()


def imports_of(name: str) -> set[str]:
    """The microcircuit modules that module ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            candidates = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:  # `from .x import y`: y may be a name in x
                candidate = candidate.rpartition(".")[0]
            # a package's own parents are imported with it anyway: not a dependency
            if candidate.startswith("microcircuit") and not (name == candidate or name.startswith(candidate + ".")):
                found.add(candidate)
    return found


def layer(name: str) -> int:
    top = name.split(".")[1]
    return next(i for i, group in enumerate(LAYERS) if top in group)


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if m not in ENTRY_POINTS and not any(m.split(".")[1] in g for g in LAYERS)]
    assert not unplaced, f"add these modules to LAYERS: {unplaced}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m not in ENTRY_POINTS))
def test_imports_go_only_to_the_same_or_lower_layers(name):
    upward = sorted(m for m in imports_of(name) if m in ENTRY_POINTS or layer(m) > layer(name))
    assert not upward, f"{name} (layer {layer(name)}) imports from higher layers: {upward}"


def test_no_import_cycles():
    graph = {m: imports_of(m) for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(m, path):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n):] + [n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


def test_the_check_sees_function_level_imports():
    """The cycles of the old layout were hidden in function-level imports; the reader finds those."""
    assert "microcircuit.network" in imports_of("microcircuit.parallel")  # imported inside start()
