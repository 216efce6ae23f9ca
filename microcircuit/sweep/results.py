"""The result file of a sweep, ``DIR/sweep.nc``: one xarray Dataset over the sweep's dimensions and ``population``.

Dimensions: the varied keys by their readable names (``g``, ``bg_rate``, ``L23E->L4I_probability``;
a paired axis is one dimension, named after its group, with one coordinate per key), then
``trial`` (with a draw rule) and ``population``. Variables (docs/sweeps.md):

* over the points and ``population``: ``rate`` (spikes/s), ``cv`` (PD14's irregularity),
  ``synchrony``, ``ai`` (1 if asynchronous-irregular, 0 if not), ``predicted_rate``
  (mean-field theory, spikes/s);
* over the points: ``ainess`` (%), ``status`` ("ok", "failed: <why>", "timeout",
  "out of memory", "pending"), ``wall_time`` (s), ``peak_memory`` (MB), ``finished`` (date),
  ``spike_file`` (the kept spike file, relative to DIR; "" when not kept);
* with ``--draw k_ext=pd14_random``: ``k_ext`` over ``trial`` and ``population`` (the drawn
  full-scale external in-degrees).

Attributes store the sweep: ``sweep_spec`` (the points, as JSON; a resumed sweep must match
it), ``sweep_toml`` (a sweep file that runs the same points), ``sweep_file`` (the text of the
file given, if any), ``base_config`` (TOML, as ``--config`` reads it), the connectivity table,
the ``command`` that started the sweep and the ``later_commands`` that resumed or collected it
(one per line). Values of points not yet run are NaN (status "pending").

The file is rewritten after every point, into a temporary file that is then renamed over the
old one, so that a crash at any moment leaves the last complete version.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from ..connectivity import table_to_json
from ..errors import ConfigError
from .status import STATUS_OK, STATUS_PENDING
from .spec import POPULATION_DIM, SEED_KEY, SWEEP_TABLE, TRIAL_DIM, Point, Spec, _flatten

RESULT_FILE = "sweep.nc"
PER_POPULATION = {
    "rate": {"units": "spikes/s", "long_name": "mean firing rate in the analysis window"},
    "cv": {"units": "1", "long_name": "irregularity: mean ISI CV of PD14's sample of 1000 neurons"},
    "synchrony": {"units": "1", "long_name": "synchrony: variance / mean of the sample's spike counts in 3 ms bins"},
    "ai": {"units": "1", "long_name": "asynchronous-irregular (1) or not (0): rate < 30 spikes/s, "
                                      "0.7 <= cv <= 1.2, synchrony < 8 (Potjans & Diesmann 2014)"},
    "predicted_rate": {"units": "spikes/s", "long_name": "stationary rate predicted by mean-field theory"},
}
PER_POINT = {
    "ainess": {"units": "%", "long_name": "share of asynchronous-irregular populations"},
    "wall_time": {"units": "s", "long_name": "wall-clock time of the point: build, simulate, write, summarise"},
    "peak_memory": {"units": "MB", "long_name": "peak resident memory of the point's worker process during it"},
}
STATUS_ATTRS = {"long_name": "outcome of the point: ok, failed: <why>, timeout, out of memory, or pending"}
FINISHED_ATTRS = {"long_name": "when the point's result was recorded (UTC)"}
SPIKE_FILE_ATTRS = {"long_name": "the point's spike file, relative to the sweep's folder (\"\": not kept)"}
TIMING_VARIABLES = ("wall_time", "peak_memory", "finished")  # what differs between runs of the same sweep


def sweep_toml(spec: Spec) -> str:
    """A sweep file that runs the same points as ``spec``: the base configuration and a [sweep] table.

    Exact for every spec that :func:`.spec.build` makes (grid axes before paired ones, the
    seeds of ``seeds = N`` last).
    """
    axes = list(spec.axes)
    sweep: dict = {}
    seeds = None
    first = spec.base.simulation.seed
    if axes and axes[-1].keys[0].path == SEED_KEY and not axes[-1].paired \
            and list(axes[-1].values[0]) == list(range(first, first + axes[-1].size)):
        seeds = axes.pop().size
    vary = {a.keys[0].path: list(a.values[0]) for a in axes if not a.paired}
    paired = {a.dim: {k.path: list(v) for k, v in zip(a.keys, a.values)} for a in axes if a.paired}
    if vary:
        sweep["vary"] = vary
    if paired:
        sweep["paired"] = paired
    if seeds:
        sweep["seeds"] = seeds
    if spec.trials:
        sweep["trials"] = spec.trials
        sweep["draw"] = {path.rsplit(".", 1)[-1]: rule for path, rule in spec.draw}
    text = tomli_w.dumps(spec.base.to_dict())
    return text + "\n" + tomli_w.dumps({SWEEP_TABLE: sweep})


class Results:
    """The values of every point, in memory; :meth:`write` stores them as ``sweep.nc``."""

    def __init__(self, spec: Spec, populations: list[str], attrs: dict, draws: dict | None = None):
        self.spec = spec
        self.populations = list(populations)
        self.attrs = dict(attrs)
        self.draws = draws or {}  # {name: array over (trial, population)}
        shape = spec.shape
        self.data = {name: np.full(shape + (len(populations),), np.nan) for name in PER_POPULATION}
        self.data.update({name: np.full(shape, np.nan) for name in PER_POINT})
        self.status = np.full(shape, STATUS_PENDING, dtype=object)
        self.spike_file = np.full(shape, "", dtype=object)
        self.finished = np.full(shape, np.datetime64("NaT"), dtype="datetime64[ns]")

    def record(self, point: Point, outcome: dict, folder: Path | None = None) -> None:
        """Store a point's outcome (a summary from ``run_point``, or a failure with only ``status``)."""
        i = point.index
        status = outcome["status"]
        self.status[i] = status
        self.finished[i] = np.datetime64(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None), "ns")
        for name in PER_POINT:
            self.data[name][i] = outcome.get(name, np.nan)
        if status != STATUS_OK:  # how long the point ran before it failed, as its worker's driver saw it
            self.data["wall_time"][i] = outcome.get("occupied_s", np.nan)
        for name in PER_POPULATION:
            self.data[name][i] = np.nan
        if status == STATUS_OK:
            if list(outcome["populations"]) != self.populations:
                raise ValueError(f"point {point.name} has populations {outcome['populations']}, the sweep {self.populations}")
            for name in PER_POPULATION:
                self.data[name][i] = np.asarray(outcome[name], dtype=float)
        path = outcome.get("spike_file") or ""
        if path and folder is not None:
            try:
                path = os.path.relpath(path, folder)
            except ValueError:
                pass
        self.spike_file[i] = path

    def done(self, point: Point, retry_failed: bool = False) -> bool:
        """Whether ``point`` has a result (with ``retry_failed``: a successful one)."""
        status = self.status[point.index]
        return status == STATUS_OK if retry_failed else status != STATUS_PENDING

    def counts(self) -> dict[str, int]:
        flat = [str(s) for s in self.status.ravel()]
        return {"ok": flat.count(STATUS_OK), "pending": flat.count(STATUS_PENDING),
                "failed": len(flat) - flat.count(STATUS_OK) - flat.count(STATUS_PENDING)}

    def dataset(self) -> xr.Dataset:
        spec = self.spec
        dims = spec.dims
        coords = {}
        for axis in spec.axes:
            for key, values in zip(axis.keys, axis.values):
                coords[key.name] = xr.Variable((axis.dim,), _array(values), coordinate_attrs(key))
        if spec.trials:
            coords[TRIAL_DIM] = xr.Variable((TRIAL_DIM,), np.arange(spec.trials), {"long_name": "trial of the draw rule"})
        coords[POPULATION_DIM] = xr.Variable((POPULATION_DIM,), np.array(self.populations, dtype=object))
        variables = {}
        for name, attrs in PER_POPULATION.items():
            variables[name] = xr.Variable(dims + (POPULATION_DIM,), self.data[name], attrs)
        for name, attrs in PER_POINT.items():
            variables[name] = xr.Variable(dims, self.data[name], attrs)
        variables["status"] = xr.Variable(dims, self.status, STATUS_ATTRS)
        variables["finished"] = xr.Variable(dims, self.finished, FINISHED_ATTRS)
        variables["spike_file"] = xr.Variable(dims, self.spike_file, SPIKE_FILE_ATTRS)
        for name, (values, attrs) in self.draws.items():
            variables[name] = xr.Variable((TRIAL_DIM, POPULATION_DIM), values, attrs)
        counts = self.counts()
        attrs = {**self.attrs, "points": spec.size, "points_ok": counts["ok"], "points_failed": counts["failed"],
                 "points_pending": counts["pending"]}
        return xr.Dataset(variables, coords=coords, attrs=attrs)

    def write(self, path: Path) -> None:
        """Write ``sweep.nc`` atomically: a temporary file in the same folder, flushed to disk, renamed over ``path``."""
        path = Path(path)
        ds = self.dataset()
        encoding = {name: {"_FillValue": None} for name, var in ds.coords.items() if var.dtype.kind == "f"}
        encoding["finished"] = {"units": "seconds since 1970-01-01 00:00:00", "dtype": "float64"}
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def load(self, path: Path) -> None:
        """Take the results of an earlier run of the same sweep from ``path`` (``--resume``)."""
        with xr.open_dataset(path, engine="netcdf4") as ds:
            stored = ds.attrs.get("sweep_spec")
            if stored != self.attrs["sweep_spec"]:
                raise ConfigError(f"{path} holds another sweep ({spec_difference(stored, self.attrs['sweep_spec'])}): "
                                  "resume it with the same sweep file and options, or choose another --output")
            if ds.attrs.get("command"):  # the command that started the sweep stays; resumes and collects are listed
                resumes = [c for c in str(ds.attrs.get("later_commands", "")).splitlines() if c]
                self.attrs["later_commands"] = "\n".join(resumes + [self.attrs["command"]])
                self.attrs["command"] = ds.attrs["command"]
            if [str(p) for p in ds[POPULATION_DIM].values] != self.populations:
                raise ConfigError(f"{path} has other populations than this sweep's table")
            for name in self.data:
                self.data[name] = ds[name].values.astype(float).copy()
            self.status = ds["status"].values.astype(object).copy()
            self.spike_file = ds["spike_file"].values.astype(object).copy()
            self.finished = ds["finished"].values.astype("datetime64[ns]").copy()


def spec_difference(stored: str | None, current: str) -> str:
    """What differs between two sweeps given as :meth:`Spec.canonical` JSON, in a few words (the first three differences).

    >>> a = '{"axes": [], "base": {"simulation": {"t_sim": 300.0}}, "draw": {}, "trials": 0}'
    >>> spec_difference(a, a.replace("300.0", "200.0"))
    'base configuration simulation.t_sim: 300.0 in the file, 200.0 now'
    """
    try:
        old, new = json.loads(stored), json.loads(current)
    except (TypeError, ValueError):
        return "the file's sweep cannot be read"
    old_base, new_base = _flatten(old.get("base") or {}), _flatten(new.get("base") or {})
    lines = [f"base configuration {k}: {_text(old_base.get(k))} in the file, {_text(new_base.get(k))} now"
             for k in sorted(old_base.keys() | new_base.keys()) if old_base.get(k) != new_base.get(k)]
    for name in ("axes", "trials", "draw"):
        if old.get(name) != new.get(name):
            lines.append(f"{name}: {_text(old.get(name))} in the file, {_text(new.get(name))} now")
    return "; ".join(lines[:3]) + ("; ..." if len(lines) > 3 else "") if lines else "its points differ"


def _text(value, limit: int = 80) -> str:
    text = "not set" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."  # a long list of axes stays one short line


# what the well-known keys are, for the axis labels of plots (xarray labels an axis "long_name [units]")
KEY_LABELS = {
    "network.g": ("relative inhibition g", "1"),
    "network.bg_rate": ("background rate", "spikes/s"),
    "network.n_scaling": ("fraction of neurons", "1"),
    "network.k_scaling": ("fraction of in-degrees", "1"),
    "simulation.seed": ("seed", None),
    "simulation.t_sim": ("simulated time after the warm-up", "ms"),
}


def coordinate_attrs(key) -> dict:
    """``long_name`` (and ``units``) of a varied key's coordinate, and the configuration key it is."""
    if key.path in KEY_LABELS:
        label, units = KEY_LABELS[key.path]
    elif key.kind == "factor":
        name, factor = key.path.rsplit(".", 1)
        label, units = f"{factor} factor of {name.split('.', 2)[-1]}", "1"
    elif key.kind == "indegree":
        label, units = f"external in-degree of {key.path.rsplit('.', 1)[-1]} (full scale)", None
    else:
        label, units = key.name, None
    attrs = {"long_name": label, "configuration_key": key.path}
    if units:
        attrs["units"] = units
    return attrs


def _array(values) -> np.ndarray:
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        return np.array(values, dtype=float)
    return np.array([str(v) for v in values], dtype=object)  # numbers and "table" on one axis


def table_attributes(table: xr.Dataset) -> dict:
    text = table_to_json(table)
    return {"connectivity_table": text, "connectivity_sha256": hashlib.sha256(text.encode()).hexdigest()}


def window_ms(spec: Spec, point: Point) -> float:
    """The length (ms) of the analysis window of ``point`` when it ran to its end: its ``t_sim``."""
    for key, value in point.values:
        if key.path == "simulation.t_sim":
            return float(value)
    return float(spec.base.simulation.t_sim)


def irregularity_note(ds: xr.Dataset) -> str | None:
    """One line when populations of ok points fired too few spikes in their window for PD14's CV criterion.

    Below :data:`microcircuit.analysis.regime.IRREGULARITY_MIN_COUNT` spikes per neuron even
    Poisson neurons get an irregularity under 0.7, so PD14's CV criterion cannot be applied there
    (docs/sweeps.md). None when every ok point's populations fired enough, or when the file's
    sweep cannot be read back.
    """
    from ..analysis.regime import AI_IRREGULARITY, IRREGULARITY_MIN_COUNT, too_few_spikes_for_irregularity

    try:
        spec = Spec.from_canonical(ds.attrs["sweep_spec"])
    except (ConfigError, KeyError, ValueError):  # a file of another version: its windows are not known
        return None
    points = spec.points()
    status = np.asarray(ds["status"].values, dtype=str).ravel()
    rates = ds["rate"].transpose(*ds["status"].dims, POPULATION_DIM).values.reshape(len(points), -1)
    populations = [str(p) for p in ds[POPULATION_DIM].values]
    ok = short = 0
    flagged = dict.fromkeys(populations, 0)  # population -> points where it fired too few spikes
    for point, st, rate in zip(points, status, rates):
        if st != STATUS_OK:
            continue
        ok += 1
        unresolved = too_few_spikes_for_irregularity(rate, window_ms(spec, point))
        short += bool(unresolved.any())
        for i in np.flatnonzero(unresolved):
            flagged[populations[i]] += 1
    if not short:
        return None
    which = ", ".join(f"{pop} at {n} point{'s' if n != 1 else ''}" for pop, n in sorted(flagged.items(), key=lambda kv: -kv[1]) if n)
    return (f"irregularity: at {short} of {ok} ok points populations fire fewer than {IRREGULARITY_MIN_COUNT:g} spikes "
            f"per neuron in the window ({which}), where even Poisson neurons get a CV under {AI_IRREGULARITY[0]:g}: "
            "the CV criterion of AIness cannot be applied there; simulate longer (--t-sim) (docs/sweeps.md)")
