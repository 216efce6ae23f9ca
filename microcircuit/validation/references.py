"""Reference sets on disk: the per-seed statistics of an ensemble and its calibrated distances.

The sets made by ``reference_data/make_reference.py`` ship with the package
(``reference_data/*.nc`` in the source tree).
"""
from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ConfigError

REFERENCE_DIR = Path(str(importlib.resources.files("microcircuit") / "data" / "reference"))
"""Folder of the reference sets (``<name>.nc``) installed with the package."""


@dataclass
class Reference:
    """A stored reference set: per-seed statistics and the calibrated seed-to-seed distances."""

    name: str
    path: Path
    stats: xr.Dataset   # rate/cv (seed, neuron), cc (seed, pair)
    ks: xr.Dataset      # output of reference_ks
    attrs: dict

    @property
    def duration(self) -> float:
        """Analysis window length T (ms)."""
        return float(self.attrs["t_stop"]) - float(self.attrs["t_start"])

    @property
    def members(self) -> list[xr.Dataset]:
        """The statistics of each reference seed."""
        return [self.stats.isel(seed=k) for k in range(self.stats.sizes["seed"])]


def write_reference(path: str | Path, stats: xr.Dataset, ks: xr.Dataset, attrs: dict) -> Path:
    """Write a reference set: statistics in the root group, KS distances in group ``ks`` (zlib)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    stats = stats.assign_attrs(attrs)
    enc = {v: {"zlib": True, "complevel": 9, "shuffle": True} for v in stats.data_vars}
    # string coordinates as compressible character arrays, ids as int32 (node ids < 2^31)
    for name in ("population", "pair_population"):
        enc[name] = {"dtype": "S1", "zlib": True, "complevel": 9}
    for name in ("neuron", "neuron_a", "neuron_b"):
        enc[name] = {"dtype": "int32", "zlib": True, "complevel": 9, "shuffle": True}
    stats.to_netcdf(tmp, mode="w", engine="netcdf4", encoding=enc)
    ks.to_netcdf(tmp, mode="a", group="ks", engine="netcdf4",
                 encoding={v: {"zlib": True, "complevel": 9} for v in ks.data_vars})
    tmp.replace(path)
    return path


def load_reference(path: str | Path) -> Reference:
    """Open a reference set written by :func:`write_reference`."""
    path = Path(path)
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            stats = ds.load()
        with xr.open_dataset(path, engine="netcdf4", group="ks") as ds:
            ks = ds.load()
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path} is not a readable reference set ({exc})") from None
    return Reference(name=stats.attrs.get("name", path.stem), path=path, stats=stats, ks=ks, attrs=dict(stats.attrs))


def available_references(directory: str | Path = REFERENCE_DIR) -> list[Reference]:
    """Every reference set in ``directory``, sorted by name."""
    return [load_reference(p) for p in sorted(Path(directory).glob("*.nc"))]


def same_value(a, b) -> bool:
    """Equal as numbers (to rounding), else as text."""
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return str(a) == str(b)


def choose_reference(run_attrs: dict, run_duration: float, name: str | None = None,
                     directory: str | Path = REFERENCE_DIR) -> Reference:
    """The reference set for a run: by ``name`` (a set name or a path), else by scale and background.

    Among the sets with the run's ``n_scaling``, ``k_scaling`` and ``background`` the one with
    the longest window T that the run covers is chosen. Raises ConfigError when none fits.
    """
    if name is not None:
        candidate = Path(name)
        if candidate.suffix == ".nc" and candidate.is_file():
            ref = load_reference(candidate)
        else:
            refs = {r.name: r for r in available_references(directory)}
            if name not in refs:
                raise ConfigError(f"no reference set {name!r} (available: {', '.join(sorted(refs)) or 'none'})")
            ref = refs[name]
        if ref.duration > run_duration + 1e-9:
            raise ConfigError(f"the run's analysis window is {run_duration:g} ms, shorter than the "
                              f"{ref.duration:g} ms of reference {ref.name}; CC statistics depend on the window "
                              "length, so compare only at equal length")
        return ref
    keys = ("n_scaling", "k_scaling", "background")
    missing = [k for k in keys if k not in run_attrs]
    if missing:
        raise ConfigError(f"the spike file lacks {', '.join(missing)}; choose a reference with --reference")
    refs = available_references(directory)
    matching = [r for r in refs if all(same_value(r.attrs.get(k), run_attrs[k]) for k in keys)]
    if not matching:
        have = ", ".join(f"{r.name}" for r in refs) or "none"
        raise ConfigError(f"no reference set for n_scaling {run_attrs['n_scaling']:g}, k_scaling "
                          f"{run_attrs['k_scaling']:g}, {run_attrs['background']} background (available: {have})")
    covered = [r for r in matching if r.duration <= run_duration + 1e-9]
    if not covered:
        shortest = min(matching, key=lambda r: r.duration)
        raise ConfigError(f"the run's analysis window is {run_duration:g} ms; the matching reference sets need at "
                          f"least {shortest.duration:g} ms ({', '.join(r.name for r in matching)}): "
                          "simulate longer (--t-sim)")
    return max(covered, key=lambda r: r.duration)
