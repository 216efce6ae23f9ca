"""Parameter sweeps: many runs of the microcircuit, summarised in one xarray Dataset (``DIR/sweep.nc``).

``python -m microcircuit.sweep --help`` (docs/sweeps.md)::

    python -m microcircuit.sweep --scale 0.05 --vary g=-8:-4:3 --vary bg_rate=6,8 --seeds 2 --workers 2

From Python, with the same options (``build`` takes what the command line takes; ``load``
reads a sweep file) and optionally a ``dask.distributed.Client``::

    from microcircuit import Config, sweep
    spec = sweep.build(Config(), vary=["g=-8:-4:3", "bg_rate=6,8"], seeds=2)
    ds = sweep.run(spec, "runs/sweep", workers=2)          # or client=Client("tcp://...")
    ds.rate.sel(g=-4).plot.line(x="bg_rate")

Modules: :mod:`.spec` (keys, values, axes, points), :mod:`.point` (one point: run and
summary), :mod:`.workers` (worker processes, locally or on Dask), :mod:`.results` (the result
file), :mod:`.engine` (checks, then runs and records every point; or writes the points' configurations
and collects spike files of points run elsewhere, e.g. with MPI), :mod:`.child` (the worker
process's program).
"""
from __future__ import annotations

from importlib import import_module
from pathlib import Path

_EXPORTS = {
    "collect": "engine", "plan": "engine", "run": "engine", "write_configs": "engine",
    "run_point": "point", "summarise": "point",
    "RESULT_FILE": "results", "sweep_toml": "results",
    "SWEEP_TABLE": "spec", "Axis": "spec", "Key": "spec", "Point": "spec", "Spec": "spec", "build": "spec",
    "check_fixed": "spec", "resolve_key": "spec",
}

_SUBMODULES = {"child", "engine", "point", "results", "spec", "status", "workers"}

__all__ = sorted([*_EXPORTS, "load", "read_file"])


def __getattr__(name):
    # imported on first use, so that ``python -m microcircuit.sweep`` can start its worker processes
    # (microcircuit.sweep.__main__) before it imports xarray, SciPy and the rest
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)


def read_file(path: str | Path) -> tuple[dict, dict, str]:
    """A sweep file's (base configuration dict, [sweep] table, text); ConfigError if it cannot be read."""
    import tomllib

    from ..errors import ConfigError
    from .spec import SWEEP_TABLE

    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"sweep file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"sweep file {path} cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sweep file {path} is not valid TOML ({exc})") from None
    sweep = data.pop(SWEEP_TABLE, {})
    if not isinstance(sweep, dict):
        raise ConfigError(f"sweep file {path}: [{SWEEP_TABLE}] must be a table")
    return data, sweep, text


def load(path: str | Path, **options) -> Spec:
    """The sweep of a sweep file (its base configuration and its [sweep] table); ``options`` as for :func:`build`."""
    from ..parameters import Config
    from .spec import build

    base, sweep, text = read_file(path)
    return build(Config.from_dict(base), sweep=sweep, text=text, **options)
