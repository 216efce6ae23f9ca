"""The spike file: one NetCDF file, CF contiguous ragged array, written safely.

During a run, spikes are appended chunk by chunk to a partial file next to the
output (``.spikes.nc.partial``, an indexed list of (sender, time) with an unlimited
dimension), so memory stays bounded and nothing simulated is lost. At the end, or
when the run is interrupted, the partial file is turned into ``spikes.nc``:

* dimensions ``neuron`` and ``spike``;
* coordinates ``neuron`` (NEST node id) and ``population(neuron)``, so that
  ``ds.spike_count.groupby("population")`` works;
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

from .connectivity import load_table, table_from_json
from .errors import ConfigError
from .parameters import Config

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
    """Streams a run's recordings to disk during the run and writes the final file.

    The partial file holds everything needed to write the final file: the neuron ids,
    their populations, the attributes, the spikes and membrane-potential samples so far and
    the model time they cover (``t_reached``, updated after every chunk). If the process dies
    without a chance to finish (SIGKILL, power loss), ``recover(path)`` turns it into ``spikes.nc``.

    Parameters
    ----------
    path : path
        The final file (``spikes.nc``).
    neurons, populations : array
        All neurons of the network (node ids, strictly increasing) and their populations.
    attrs : dict
        Global attributes of the final file.
    rank, size : int
        This MPI process and the number of processes.
    vm_neurons : array of int, optional
        Node ids (increasing) of the neurons whose V_m and I_syn this process records.
    onsets : array, optional
        Stimulus onsets (ms) to store as ``stimulus_onset``.
    """

    def __init__(self, path: str | Path, neurons: np.ndarray, populations: np.ndarray, attrs: dict,
                 rank: int = 0, size: int = 1, vm_neurons: np.ndarray | None = None,
                 onsets: np.ndarray | None = None):
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
        try:
            ds.createDimension("neuron", self.neurons.size)
            ds.createVariable("neuron", "i8", ("neuron",))[:] = self.neurons
            pop = ds.createVariable("population", str, ("neuron",))
            pop[:] = self.populations.astype(object)
            ds.createDimension("event", None)
            self._sender = ds.createVariable("sender", "i8", ("event",), chunksizes=(1 << 16,))
            self._time = ds.createVariable("time", "f8", ("event",), chunksizes=(1 << 16,))
            vm_neurons = np.empty(0, np.int64) if vm_neurons is None else np.asarray(vm_neurons, dtype=np.int64)
            self._n_vm = vm_neurons.size
            if vm_neurons.size:
                ds.createDimension("vm_neuron", vm_neurons.size)
                ds.createVariable("vm_neuron", "i8", ("vm_neuron",))[:] = vm_neurons
                ds.createDimension("vm_sample", None)
                self._vm_time = ds.createVariable("vm_time", "f8", ("vm_sample",))
                rows = max(1, min(4096, (1 << 16) // vm_neurons.size))
                self._vm = {name: ds.createVariable(name, "f8", ("vm_sample", "vm_neuron"),
                                                    chunksizes=(rows, vm_neurons.size)) for name in VM_VARIABLES}
            if onsets is not None and len(onsets):
                ds.createDimension("pulse", len(onsets))
                ds.createVariable("stimulus_onset", "f8", ("pulse",))[:] = np.asarray(onsets, dtype=float)
            ds.setncattr("partial_note", "unfinished spike data of a microcircuit run; "
                                         "python -m microcircuit.run --recover --output DIR writes spikes.nc from it")
            ds.setncattr("attrs_json", json.dumps(self.attrs))
            ds.setncattr("t_reached", 0.0)
        except BaseException:
            ds.close()
            raise
        self._ds = ds
        self._n = 0
        self._n_samples = 0

    def append(self, senders: np.ndarray, times: np.ndarray, t_reached: float, vm_times: np.ndarray | None = None,
               V_m: np.ndarray | None = None, I_syn: np.ndarray | None = None) -> None:
        """Add the recordings of one chunk; ``t_reached`` is the model time simulated so far (ms).

        ``vm_times`` (ms) and ``V_m``, ``I_syn`` (samples x this process's recorded neurons) are the
        membrane-potential samples of the chunk, if any.
        """
        k = len(senders)
        if k:
            self._sender[self._n:self._n + k] = np.asarray(senders, dtype=np.int64)
            self._time[self._n:self._n + k] = np.asarray(times, dtype=np.float64)
            self._n += k
        if self._n_vm and vm_times is not None and len(vm_times):
            m = len(vm_times)
            self._vm_time[self._n_samples:self._n_samples + m] = vm_times
            for name, values in (("V_m", V_m), ("I_syn", I_syn)):
                self._vm[name][self._n_samples:self._n_samples + m, :] = values
            self._n_samples += m
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
                onsets = np.asarray(src["stimulus_onset"][:], dtype=float) if "stimulus_onset" in src.variables else None
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
    ds = ragged_dataset(neurons, populations, senders, times, attrs)
    if onsets is not None:
        ds["stimulus_onset"] = ("pulse", onsets, {"long_name": "onset of a stimulus pulse", "units": "ms"})
    del senders, times
    write_atomic(ds, path, append=lambda nc: _copy_vm(partials, nc, neurons, populations))
    for partial in partials:
        partial.unlink(missing_ok=True)
    return path


VM_VARIABLES = ("V_m", "I_syn")
_VM_ATTRS = {
    "V_m": {"long_name": "membrane potential", "units": "mV"},
    "I_syn": {"long_name": "total synaptic current (excitatory + inhibitory)", "units": "pA"},
}
_VM_BLOCK_BYTES = 32 << 20  # copy samples in blocks of this size: memory stays bounded for long runs


def _copy_vm(partials: list[Path], nc: netCDF4.Dataset, neurons: np.ndarray, populations: np.ndarray) -> None:
    """Add ``V_m(time, vm_neuron)`` and ``I_syn`` from the partial files to the open final file, block by block.

    Each partial file holds the samples of its process's recorded neurons; the final file holds
    all of them, in node-id order, at the sample times that every process reached.
    """
    sources = []
    try:
        for partial in partials:
            src = netCDF4.Dataset(partial, "r")
            if "vm_neuron" in src.variables:
                sources.append(src)
            else:
                src.close()
        if not sources:
            return
        ids = [np.asarray(src["vm_neuron"][:], dtype=np.int64) for src in sources]
        vm_neurons = np.concatenate(ids)
        order = np.argsort(vm_neurons)
        vm_neurons = vm_neurons[order]
        columns = np.argsort(order)  # column of each source's neurons in the final array, in source order
        n_times = min(src.dimensions["vm_sample"].size for src in sources)
        vm_times = np.asarray(sources[0]["vm_time"][:n_times], dtype=np.float64)
        nc.createDimension("time", n_times)
        nc.createDimension("vm_neuron", vm_neurons.size)
        t = nc.createVariable("time", "f8", ("time",))
        t[:] = vm_times
        t.setncatts({"long_name": "time of the V_m and I_syn samples", "units": "ms"})
        v = nc.createVariable("vm_neuron", "i8", ("vm_neuron",))
        v[:] = vm_neurons
        v.setncatts({"long_name": "NEST node id of a neuron whose V_m and I_syn are recorded"})
        p = nc.createVariable("vm_population", str, ("vm_neuron",))
        p[:] = populations[np.searchsorted(neurons, vm_neurons)].astype(object)
        p.setncatts({"long_name": "population of the recorded neuron"})
        rows = max(1, min(n_times, 4096, (1 << 18) // max(1, vm_neurons.size)))
        out = {name: nc.createVariable(name, "f8", ("time", "vm_neuron"), zlib=True, complevel=1,
                                       chunksizes=(max(1, rows), vm_neurons.size)) for name in VM_VARIABLES}
        for name in VM_VARIABLES:
            out[name].setncatts({**_VM_ATTRS[name], "coordinates": "vm_population"})
        block = max(1, _VM_BLOCK_BYTES // (8 * max(1, vm_neurons.size)))
        starts = np.cumsum([0] + [len(i) for i in ids])
        for a in range(0, n_times, block):
            b = min(n_times, a + block)
            for name in VM_VARIABLES:
                values = np.empty((b - a, vm_neurons.size))
                for k, src in enumerate(sources):
                    values[:, columns[starts[k]:starts[k + 1]]] = src[name][a:b, :]
                out[name][a:b, :] = values
    finally:
        for src in sources:
            src.close()


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
            "spike_count": ("neuron", counts,
                            {"long_name": "number of spikes of the neuron", "sample_dimension": "spike"}),
            "spike_time": ("spike", times[order],
                           {"long_name": "spike time", "units": "ms",
                            "comment": "grouped by neuron in neuron order, sorted in time; "
                                       "absolute model time including the warm-up"}),
        },
        coords={"neuron": ("neuron", neurons, {"long_name": "NEST node id", "cf_role": "timeseries_id"}),
                "population": ("neuron", np.asarray(populations).astype(str),
                               {"long_name": "population of the neuron"})},
        attrs={"Conventions": "CF-1.8", "featureType": "timeSeries", **attrs},
    )
    return ds


def write_atomic(ds: xr.Dataset, path: Path, append=None) -> None:
    """Write ``ds`` to a temporary file in the same folder and rename it to ``path``.

    ``append(nc)``, if given, adds more to the file (an open ``netCDF4.Dataset``) before the rename.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        encoding = {"spike_time": {"zlib": True, "complevel": 1, "shuffle": True}} if "spike_time" in ds else {}
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
        if append is not None:
            with netCDF4.Dataset(tmp, "a") as nc:
                append(nc)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def stored_config(attrs: dict) -> dict:
    """The configuration a spike file stores (its ``config`` attribute) as nested dicts; {} if it has none.

    Raises
    ------
    ConfigError
        The attribute is there but is not the JSON of a configuration (a damaged file): reading on
        would take the file for one without a configuration and, e.g., compare nothing.
    """
    if "config" not in attrs:
        return {}
    try:
        config = json.loads(attrs["config"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the stored configuration (attribute 'config') is damaged: not JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ConfigError("the stored configuration (attribute 'config') is damaged: not a table of options")
    return config


def stored_run(attrs: dict) -> tuple[Config, xr.Dataset]:
    """The configuration and the connectivity table a spike file stores, to analyse or repeat its run.

    Files without a stored table (written before tables were stored) get the table their
    configuration names. Raises ConfigError if the file stores no valid configuration.
    """
    if "config" not in attrs:
        raise ConfigError("the spike file stores no configuration (attribute 'config')")
    config = Config.from_dict(stored_config(attrs))
    if "connectivity_table" in attrs:
        return config, table_from_json(attrs["connectivity_table"])
    return config, load_table(config.network.connectivity)


def load_spikes(path: str | Path, vm: bool = True) -> xr.Dataset:
    """Open a spike file written by ``python -m microcircuit.run`` (loaded into memory).

    The Dataset has the :class:`SpikesAccessor` as ``ds.spikes``. With ``vm=False`` the recorded
    membrane potentials and currents (which can be large) are left out; their coordinates stay.
    """
    drop = [] if vm else list(VM_VARIABLES)
    with xr.open_dataset(path, engine="netcdf4", drop_variables=drop) as ds:
        ds = ds.load()
    # population: files written before it became a coordinate; vm_population: a coordinate only
    # through the ``coordinates`` attribute of V_m and I_syn, which vm=False leaves out
    stray = [name for name in ("population", "vm_population") if name in ds.data_vars]
    return ds.set_coords(stray) if stray else ds


def spike_times_by_neuron(ds: xr.Dataset) -> list[np.ndarray]:
    """Split the ragged ``spike_time`` into one array per neuron (in ``neuron`` order)."""
    bounds = _bounds(ds)
    times = ds["spike_time"].values
    return [times[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _bounds(ds: xr.Dataset) -> np.ndarray:
    """Start of every neuron's spikes in ``spike_time``, and the end of the last."""
    return np.concatenate([[0], np.cumsum(ds["spike_count"].values)]).astype(np.int64)


@xr.register_dataset_accessor("spikes")
class SpikesAccessor:
    """``ds.spikes``: the spikes of one neuron or one population of a spike file, in one line.

    The file stores all spike times in one array grouped by neuron (a CF contiguous ragged
    array); these methods do the bookkeeping.

    Examples
    --------
    >>> ds = ragged_dataset([1, 2, 3], ["A", "A", "B"], [1, 3, 1, 2], [5.0, 7.5, 6.0, 9.0], {})
    >>> ds.spikes.times(neuron=1).values
    array([5., 6.])
    >>> t = ds.spikes.times(population="A")
    >>> t.values, t["neuron"].values
    (array([5., 6., 9.]), array([1, 1, 2]))
    >>> ds.spikes.select(population="B")["spike_time"].values
    array([7.5])
    >>> ds.spike_count.groupby("population").sum().values
    array([3, 1])
    """

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def _positions(self, neuron=None, population=None) -> np.ndarray:
        ds = self._ds
        if neuron is not None and population is not None:
            raise ValueError("give neuron or population, not both")
        if neuron is not None:
            ids = np.atleast_1d(neuron)
            pos = np.searchsorted(ds["neuron"].values, ids)
            ok = (pos < ds.sizes["neuron"]) & (ds["neuron"].values[np.minimum(pos, ds.sizes["neuron"] - 1)] == ids)
            if not ok.all():
                raise KeyError(f"no neuron {ids[~ok][0]} in this file (node ids {int(ds['neuron'][0])}-"
                               f"{int(ds['neuron'][-1])})")
            return pos
        if population is not None:
            names = np.atleast_1d(population).astype(str)
            pops = ds["population"].values.astype(str)
            unknown = [str(p) for p in names if p not in set(pops)]
            if unknown:
                raise KeyError(f"no population {unknown[0]!r} in this file ({', '.join(dict.fromkeys(pops))})")
            return np.flatnonzero(np.isin(pops, names))
        return np.arange(self._ds.sizes["neuron"])

    def times(self, neuron=None, population=None) -> xr.DataArray:
        """Spike times (ms) of one or more neurons (node ids), of one or more populations, or of all.

        Returns
        -------
        xarray.DataArray
            Dimension ``spike``, grouped by neuron and sorted in time within each, with the
            coordinate ``neuron``: the node id that fired each spike.
        """
        pos = self._positions(neuron, population)
        bounds = _bounds(self._ds)
        index = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in pos]) if pos.size else np.empty(0, int)
        counts = self._ds["spike_count"].values[pos]
        senders = np.repeat(self._ds["neuron"].values[pos], counts)
        return xr.DataArray(self._ds["spike_time"].values[index], dims="spike", name="spike_time",
                            coords={"neuron": ("spike", senders)}, attrs=dict(self._ds["spike_time"].attrs))

    def select(self, neuron=None, population=None) -> xr.Dataset:
        """A spike file Dataset of only these neurons or populations (every analysis function takes it)."""
        pos = self._positions(neuron, population)
        times = self.times(self._ds["neuron"].values[pos])
        return self._ds.isel(neuron=pos).drop_vars("spike_time").assign(spike_time=times.drop_vars("neuron"))

    def sender(self) -> xr.DataArray:
        """The node id of every entry of ``spike_time`` (dimension ``spike``)."""
        return xr.DataArray(np.repeat(self._ds["neuron"].values, self._ds["spike_count"].values), dims="spike",
                            name="sender", attrs={"long_name": "NEST node id of the neuron that fired"})
