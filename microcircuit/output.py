"""The spike file: one NetCDF file, CF contiguous ragged array, written safely.

During a run, spikes are appended chunk by chunk to a partial file next to the
output (``.spikes.nc.partial``, an indexed list of (sender, time) with an unlimited
dimension), so memory stays bounded and nothing simulated is lost. At the end, or
when the run is interrupted, the partial file is turned into ``spikes.nc``:

* dimensions ``neuron`` and ``spike``;
* coordinate ``neuron`` (NEST node id) and ``population(neuron)``;
* ``spike_count(neuron)`` with ``sample_dimension = "spike"``;
* ``spike_time(spike)`` in ms, grouped by neuron in ``neuron`` order, sorted in time.

The final file is written to a temporary name and renamed, so a file named
``spikes.nc`` is always complete as written; an interrupted run says so in its
``status`` attribute.

On several MPI processes every rank streams the spikes of its own neurons to its own
partial file (``.spikes.nc.partial-rank{r}of{n}``); after the run, rank 0 merges them
(``merge_partials``). The merged file is the same whatever the split of the neurons over
processes, because the ragged array is ordered by neuron and time, not by arrival.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

SPIKES_FILE = "spikes.nc"
STATUS_COMPLETE = "complete"


def partial_path(path: Path, rank: int = 0, size: int = 1) -> Path:
    """The partial file of ``rank`` of ``size`` processes for the spike file ``path``."""
    path = Path(path)
    if size == 1:
        return path.with_name(f".{path.name}.partial")
    return path.with_name(f".{path.name}.partial-rank{rank}of{size}")


def _partial_sets(path: Path) -> dict[int, dict[int, Path]]:
    """Partial files next to ``path``, by number of processes and rank."""
    sets: dict[int, dict[int, Path]] = {}
    if partial_path(path).exists():
        sets[1] = {0: partial_path(path)}
    pattern = re.compile(re.escape(f".{path.name}.partial-rank") + r"(\d+)of(\d+)$")
    for candidate in path.parent.glob(f".{path.name}.partial-rank*"):
        m = pattern.fullmatch(candidate.name)
        if m:
            sets.setdefault(int(m.group(2)), {})[int(m.group(1))] = candidate
    return sets


class SpikeWriter:
    """Streams spikes to disk during a run and writes the final ragged-array file.

    The partial file holds everything needed to write the final file: the neuron ids,
    their populations, the attributes, the spikes so far and the model time they cover
    (``t_reached``, updated after every chunk). If the process dies without a chance to
    finish (SIGKILL, power loss), ``recover(path)`` turns it into ``spikes.nc``.
    """

    def __init__(self, path: str | Path, neurons: np.ndarray, populations: np.ndarray, attrs: dict,
                 rank: int = 0, size: int = 1):
        self.path = Path(path)
        self.neurons = np.asarray(neurons, dtype=np.int64)
        if np.any(np.diff(self.neurons) <= 0):
            raise ValueError("neuron ids must be strictly increasing")
        self.populations = np.asarray(populations).astype(str)
        self.attrs = dict(attrs)
        self.size = size
        self._partial = partial_path(self.path, rank, size)
        if rank == 0:  # unfinished data of an earlier run in this folder with another number of processes
            for n, files in _partial_sets(self.path).items():
                if n != size:
                    for f in files.values():
                        f.unlink(missing_ok=True)
        ds = netCDF4.Dataset(self._partial, "w", format="NETCDF4")
        ds.createDimension("neuron", self.neurons.size)
        ds.createVariable("neuron", "i8", ("neuron",))[:] = self.neurons
        pop = ds.createVariable("population", str, ("neuron",))
        pop[:] = self.populations.astype(object)
        ds.createDimension("event", None)
        self._sender = ds.createVariable("sender", "i8", ("event",), chunksizes=(1 << 16,))
        self._time = ds.createVariable("time", "f8", ("event",), chunksizes=(1 << 16,))
        ds.setncattr("partial_note", "unfinished spike data of a microcircuit run; "
                                     "python -m microcircuit.run --recover DIR writes spikes.nc from it")
        ds.setncattr("attrs_json", json.dumps(self.attrs))
        ds.setncattr("t_reached", 0.0)
        self._ds = ds
        self._n = 0

    def append(self, senders: np.ndarray, times: np.ndarray, t_reached: float) -> None:
        """Add the spikes of one chunk; ``t_reached`` is the model time simulated so far (ms)."""
        k = len(senders)
        if k:
            self._sender[self._n:self._n + k] = np.asarray(senders, dtype=np.int64)
            self._time[self._n:self._n + k] = np.asarray(times, dtype=np.float64)
            self._n += k
        self._ds.setncattr("t_reached", float(t_reached))
        self._ds.sync()

    @property
    def partial(self) -> Path:
        """This process's partial file."""
        return self._partial

    def close(self) -> None:
        """Close the partial file (it stays on disk, complete up to the last chunk); idempotent."""
        if self._ds.isopen():
            self._ds.close()

    def finish(self, status: str = STATUS_COMPLETE, extra_attrs: dict | None = None) -> Path:
        """Write ``spikes.nc`` from the partial data and remove the partial file (one process)."""
        self.close()
        return _finish_from_partials([self._partial], self.path, status, extra_attrs)


def merge_partials(path: str | Path, size: int, status: str = STATUS_COMPLETE,
                   extra_attrs: dict | None = None) -> Path:
    """Write ``path`` (spikes.nc) from the closed partial files of ``size`` processes; remove them."""
    path = Path(path)
    files = [partial_path(path, r, size) for r in range(size)]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"the spikes of {len(missing)} of {size} processes are missing ({', '.join(missing)} "
                                f"not in {path.parent}): --output must be a folder that all processes share")
    return _finish_from_partials(files, path, status, extra_attrs)


def _finish_from_partials(partials: list[Path], path: Path, status: str, extra_attrs: dict | None = None) -> Path:
    """Merge partial files (rank order; the first one's attributes) into ``path``; remove them."""
    senders, times, reached = [], [], []
    for i, partial in enumerate(partials):
        with netCDF4.Dataset(partial, "r") as src:
            file_neurons = np.asarray(src["neuron"][:], dtype=np.int64)
            if i == 0:
                neurons = file_neurons
                populations = np.asarray(src["population"][:]).astype(str)
                attrs = json.loads(src.getncattr("attrs_json"))
            elif not np.array_equal(file_neurons, neurons):
                raise ValueError(f"{partial.name} and {partials[0].name} list different neurons: not from one run")
            senders.append(np.asarray(src["sender"][:], dtype=np.int64))
            times.append(np.asarray(src["time"][:], dtype=np.float64))
            reached.append(float(src.getncattr("t_reached")))
    senders, times = np.concatenate(senders), np.concatenate(times)
    # spikes are appended whole chunks at a time, so those of each file lie within [0, its t_reached];
    # files of a killed multi-process run may end at different chunks: keep what all of them cover
    t_reached = min(reached)
    if max(reached) > t_reached:
        keep = times <= t_reached
        senders, times = senders[keep], times[keep]
    attrs.update(extra_attrs or {})
    attrs["status"] = status
    attrs["t_simulated"] = t_reached
    write_atomic(ragged_dataset(neurons, populations, senders, times, attrs), path)
    for partial in partials:
        partial.unlink(missing_ok=True)
    return path


def recover(path: str | Path) -> Path:
    """Write ``path`` (spikes.nc) from the partial file(s) a killed run left behind.

    A run on several MPI processes leaves one partial file per rank; they are merged, up to the
    model time that all of them reached.

    Raises FileNotFoundError when there is no (complete set of) partial files, FileExistsError
    when ``path`` exists or the partial files of several runs are there.
    """
    path = Path(path)
    sets = _partial_sets(path)
    if not sets:
        raise FileNotFoundError(f"no unfinished run data ({partial_path(path).name}) in {path.parent}")
    if path.exists():
        raise FileExistsError(f"{path} exists")
    if len(sets) > 1:
        raise FileExistsError(f"unfinished data of runs on {' and '.join(map(str, sorted(sets)))} processes are in "
                              f"{path.parent}: remove those of the run you do not want")
    (size, files), = sets.items()
    if sorted(files) != list(range(size)):
        missing = [partial_path(path, r, size).name for r in range(size) if r not in files]
        raise FileNotFoundError(f"unfinished data of a run on {size} processes is incomplete: "
                                f"{', '.join(missing)} missing in {path.parent}")
    partials = [files[r] for r in range(size)]
    t = []
    for partial in partials:
        with netCDF4.Dataset(partial, "r") as src:
            t.append(float(src.getncattr("t_reached")))
    what = "unfinished run data" if size == 1 else f"unfinished run data of {size} processes"
    return _finish_from_partials(partials, path, f"incomplete: recovered from {what} at t = {min(t):g} ms")


def ragged_dataset(neurons, populations, senders, times, attrs) -> xr.Dataset:
    """Build the CF contiguous ragged array Dataset from unordered (sender, time) pairs."""
    neurons = np.asarray(neurons, dtype=np.int64)
    senders = np.asarray(senders, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    index = np.searchsorted(neurons, senders)
    if senders.size and (np.any(index >= neurons.size) or np.any(neurons[np.minimum(index, neurons.size - 1)] != senders)):
        raise ValueError("spikes from senders that are not recorded neurons")
    order = np.lexsort((times, index))
    counts = np.bincount(index, minlength=neurons.size).astype(np.int64)
    ds = xr.Dataset(
        {
            "population": ("neuron", np.asarray(populations).astype(str),
                           {"long_name": "population of the neuron"}),
            "spike_count": ("neuron", counts,
                            {"long_name": "number of spikes of the neuron", "sample_dimension": "spike"}),
            "spike_time": ("spike", times[order],
                           {"long_name": "spike time", "units": "ms",
                            "comment": "grouped by neuron in neuron order, sorted in time; "
                                       "absolute model time including the warm-up"}),
        },
        coords={"neuron": ("neuron", neurons, {"long_name": "NEST node id", "cf_role": "timeseries_id"})},
        attrs={"Conventions": "CF-1.8", "featureType": "timeSeries", **attrs},
    )
    return ds


def write_atomic(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to a temporary file in the same folder and rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        encoding = {"spike_time": {"zlib": True, "complevel": 1, "shuffle": True}} if "spike_time" in ds else {}
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_spikes(path: str | Path) -> xr.Dataset:
    """Open a spike file written by ``python -m microcircuit.run`` (loaded into memory)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def spike_times_by_neuron(ds: xr.Dataset) -> list[np.ndarray]:
    """Split the ragged ``spike_time`` into one array per neuron (in ``neuron`` order)."""
    bounds = np.concatenate([[0], np.cumsum(ds["spike_count"].values)])
    times = ds["spike_time"].values
    return [times[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def config_from_file(ds: xr.Dataset) -> dict:
    """The resolved configuration stored in a spike file."""
    return json.loads(ds.attrs["config"])
