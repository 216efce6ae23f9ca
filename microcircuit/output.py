"""The spike file: one NetCDF file, a CF contiguous ragged array, written safely and in bounded memory.

During a run, spikes are appended chunk by chunk to a partial file next to the
output (``.spikes.nc.partial``, a list of (sender, time) with an unlimited dimension),
so nothing simulated is lost. At the end, or when the run is interrupted, the partial
file is turned into ``spikes.nc``:

* dimensions ``neuron`` and ``spike``;
* coordinates ``neuron`` (NEST node id) and ``population(neuron)``, so that
  ``ds.spike_count.groupby("population")`` works;
* ``spike_count(neuron)`` with ``sample_dimension = "spike"`` (CF's count variable);
* ``spike_time(spike)`` in ms, grouped by neuron in ``neuron`` order, sorted in time, with the
  per-spike coordinates ``spike_neuron(spike)`` (node id of the neuron that fired) and
  ``spike_population(spike)``, so that plain xarray selects, groups and tabulates spikes:
  ``ds.spike_time.where(ds.spike_population == "L4E", drop=True)``,
  ``ds[["spike_time", "spike_neuron"]].to_dataframe()``.

Why the counts and the per-spike node ids both: the counts make the file a CF contiguous
ragged array (each neuron's spikes are one slice, which :class:`SpikesAccessor` and the Neo
converter read without a search); CF's other form, the indexed ragged array, would store
each spike's zero-based position along ``neuron`` instead of its NEST node id, which is what
users (and NEST's ``senders``) call a neuron. So the node id is an auxiliary coordinate beside
the counts (CF allows both in one file only in this form).

The final file is written to a temporary name and renamed, so a file named ``spikes.nc`` is
always complete as written; an interrupted run says so in its ``status`` attribute. It is
written in blocks of neurons whose spikes fit in ``SORT_BLOCK_SPIKES`` (each block needs one
pass over the partial file), so the memory the end of a run needs does not grow with its
length; the partial file is written through a small HDF5 chunk cache for the same reason.

On several MPI processes every rank streams the spikes of its own neurons to its own
partial file (``.spikes.nc.partial-rank{r}of{n}``); after the run, rank 0 merges them
(``merge_partials``). The merged file is the same whatever the split of the neurons over
processes, because the ragged array is ordered by neuron and time, not by arrival.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from .connectivity import load_table, table_from_json
from .errors import ConfigError
from .parameters import Config

SPIKES_FILE = "spikes.nc"
STATUS_COMPLETE = "complete"
CONVENTIONS = "CF-1.11"
"""The CF version the spike file follows (64-bit integers, which it stores, arrived in CF-1.9)."""

# Memory bounds of writing and finishing (see the module docstring). The partial file's spikes are
# appended in HDF5 chunks of PARTIAL_CHUNK events; netCDF's default cache of 64 MiB per variable
# would hold every chunk written until it is full (resident memory grew by ~20 bytes per spike), so
# each variable gets a cache of two chunks. The final file is written neuron block by neuron block,
# each holding at most SORT_BLOCK_SPIKES spikes (about 50 bytes each while they are sorted), reading
# the partial files READ_BLOCK events at a time.
PARTIAL_CHUNK = 1 << 16
CACHE_BYTES = 2 * 8 * PARTIAL_CHUNK
SORT_BLOCK_SPIKES = 1 << 22
READ_BLOCK = 1 << 21
SPIKE_CHUNK = 1 << 18  # HDF5 chunk of the final file's per-spike variables (dask reads one chunk per task)
# Measured (tests/unit/test_memory_bounds.py's script with blocks of 0.5 and 1.5 million spikes): a block
# adds 59 bytes per spike (index, time, sort order, sorted copies, node id, population) to about 20 MB
# of read buffers and chunk caches.
BYTES_PER_SORTED_SPIKE = 60
FINISH_PEAK_MB = (SORT_BLOCK_SPIKES * BYTES_PER_SORTED_SPIKE + READ_BLOCK * 3 * 8) / 2**20 + 16


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
            self._sender = ds.createVariable("sender", "i8", ("event",), chunksizes=(PARTIAL_CHUNK,))
            self._time = ds.createVariable("time", "f8", ("event",), chunksizes=(PARTIAL_CHUNK,))
            _small_cache(self._sender, self._time)
            vm_neurons = np.empty(0, np.int64) if vm_neurons is None else np.asarray(vm_neurons, dtype=np.int64)
            self._n_vm = vm_neurons.size
            if vm_neurons.size:
                ds.createDimension("vm_neuron", vm_neurons.size)
                ds.createVariable("vm_neuron", "i8", ("vm_neuron",))[:] = vm_neurons
                ds.createDimension("vm_sample", None)
                self._vm_time = ds.createVariable("vm_time", "f8", ("vm_sample",), chunksizes=(4096,))
                rows = max(1, min(4096, PARTIAL_CHUNK // vm_neurons.size))
                self._vm = {name: ds.createVariable(name, "f8", ("vm_sample", "vm_neuron"),
                                                    chunksizes=(rows, vm_neurons.size)) for name in VM_VARIABLES}
                _small_cache(self._vm_time, *self._vm.values())
            if onsets is not None and len(onsets):
                ds.createDimension("pulse", len(onsets))
                ds.createVariable("stimulus_onset", "f8", ("pulse",))[:] = np.asarray(onsets, dtype=float)
            ds.setncattr("partial_note", "unfinished spike data of a microcircuit run; "
                                         "python -m microcircuit.run --recover --output DIR writes spikes.nc from it")
            self.attrs.setdefault("history", f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}: {command_line()}")
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


def _small_cache(*variables) -> None:
    """Give each netCDF variable an HDF5 chunk cache of two partial-file chunks (see ``CACHE_BYTES``)."""
    for v in variables:
        v.set_var_chunk_cache(size=CACHE_BYTES, nelems=61, preemption=1.0)


def command_line() -> str:
    """This process's command line as a user would type it (``python -m microcircuit.run ...``)."""
    args = list(sys.argv)
    main = Path(args[0]).resolve() if args and args[0] not in ("", "-c") else None
    package = Path(__file__).resolve().parent
    if main is not None and package in main.parents:
        module = ".".join(main.relative_to(package.parent).with_suffix("").parts)
        words = ["python", "-m", module.removesuffix(".__main__")]
    else:
        words = ["python", *args[:1]] if args and args[0] not in ("", "-c") else ["python (microcircuit library)"]
        return " ".join(words) if len(args) <= 1 else " ".join([*words, *map(shlex.quote, args[1:])])
    return " ".join([*words, *map(shlex.quote, args[1:])])


def _finish_from_partials(partials: list[Path], path: Path, status: str, extra_attrs: dict | None = None) -> Path:
    """Merge partial files (rank order; the first one's attributes) into ``path``; remove them.

    Memory stays bounded whatever the number of spikes: a first pass counts every neuron's
    spikes, then the neurons are split into blocks of at most ``SORT_BLOCK_SPIKES`` spikes, and
    each block is collected from all partial files (one pass over them per block), sorted by
    (neuron, time) and written to its place in the ragged array.
    """
    sources = []
    try:
        for partial in partials:
            src = netCDF4.Dataset(partial, "r")
            sources.append(src)
            _small_cache(src["sender"], src["time"])
        first = sources[0]
        neurons = np.asarray(first["neuron"][:], dtype=np.int64)
        populations = np.asarray(first["population"][:]).astype(str)
        attrs = json.loads(first.getncattr("attrs_json"))
        onsets = np.asarray(first["stimulus_onset"][:], dtype=float) if "stimulus_onset" in first.variables else None
        for partial, src in zip(partials[1:], sources[1:]):
            if not np.array_equal(np.asarray(src["neuron"][:], dtype=np.int64), neurons):
                raise ValueError(f"{partial.name} and {partials[0].name} list different neurons: not from one run")
        # spikes are appended whole chunks at a time, so those of each file lie within [0, its t_reached];
        # files of a killed multi-process run may end at different chunks: keep what all of them cover
        t_reached = min(float(src.getncattr("t_reached")) for src in sources)
        counts = np.zeros(neurons.size, dtype=np.int64)
        for index, _ in _events(sources, neurons, t_reached):
            counts += np.bincount(index, minlength=neurons.size)
        attrs.update(extra_attrs or {})
        attrs["status"] = status
        attrs["t_simulated"] = t_reached
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
                spikes = _create_spike_file(nc, neurons, populations, counts, attrs, onsets)
                bounds = np.concatenate([[0], np.cumsum(counts)])
                for lo, hi in _neuron_blocks(counts, SORT_BLOCK_SPIKES):
                    _write_block(sources, neurons, populations, t_reached, lo, hi, bounds, spikes)
                _copy_vm(sources, nc, neurons, populations)
            _replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        for src in sources:
            src.close()
    for partial in partials:
        partial.unlink(missing_ok=True)
    return path


def _events(sources, neurons: np.ndarray, t_reached: float, lo: int = 0, hi: int | None = None):
    """Yield (position along ``neurons``, time) of the spikes in the partial files, ``READ_BLOCK`` at a time.

    Only spikes up to ``t_reached`` and of the neurons at positions ``[lo, hi)`` are yielded.
    """
    hi = neurons.size if hi is None else hi
    contiguous = neurons.size == 0 or neurons[-1] - neurons[0] + 1 == neurons.size
    for src in sources:
        n = src.dimensions["event"].size
        for a in range(0, n, READ_BLOCK):
            b = min(n, a + READ_BLOCK)
            senders = np.asarray(src["sender"][a:b], dtype=np.int64)
            times = np.asarray(src["time"][a:b], dtype=np.float64)
            index = senders - neurons[0] if contiguous else np.searchsorted(neurons, senders)
            bad = (index < 0) | (index >= neurons.size)
            if not contiguous:
                bad |= neurons[np.clip(index, 0, neurons.size - 1)] != senders
            if bad.any():
                raise ValueError(f"spikes from senders that are not recorded neurons (node id {senders[bad][0]})")
            keep = (times <= t_reached) & (index >= lo) & (index < hi)
            yield index[keep], times[keep]


def _neuron_blocks(counts: np.ndarray, max_spikes: int) -> list[tuple[int, int]]:
    """Split the neurons into consecutive blocks of at most ``max_spikes`` spikes (or a single neuron)."""
    blocks, lo, total = [], 0, 0
    for i, c in enumerate(counts):
        if total and total + c > max_spikes:
            blocks.append((lo, i))
            lo, total = i, 0
        total += int(c)
    if lo < counts.size:
        blocks.append((lo, counts.size))
    return blocks


def _name_width(populations: np.ndarray) -> int:
    return max(1, max((len(p.encode("utf-8")) for p in populations), default=1))


def _create_spike_file(nc: netCDF4.Dataset, neurons, populations, counts, attrs: dict, onsets) -> dict:
    """Dimensions, coordinates, counts and attributes of a spike file; returns its per-spike variables."""
    n_spikes = int(counts.sum())
    nc.createDimension("neuron", neurons.size)
    nc.createDimension("spike", n_spikes)
    v = nc.createVariable("neuron", "i8", ("neuron",))
    v[:] = neurons
    v.setncatts(NEURON_ATTRS)
    v = nc.createVariable("population", str, ("neuron",))
    v[:] = populations.astype(object)
    v.setncatts(POPULATION_ATTRS)
    v = nc.createVariable("spike_count", "i8", ("neuron",))
    v[:] = counts
    v.setncatts({**SPIKE_COUNT_ATTRS, "coordinates": "population"})
    chunk = (max(1, min(SPIKE_CHUNK, n_spikes)),)
    packed = dict(zlib=True, complevel=1, shuffle=True, chunksizes=chunk)
    out = {"spike_time": nc.createVariable("spike_time", "f8", ("spike",), **packed),
           "spike_neuron": nc.createVariable("spike_neuron", "i4", ("spike",), **packed)}
    width = _name_width(populations)
    nc.createDimension("name_strlen", width)
    out["spike_population"] = nc.createVariable("spike_population", "S1", ("spike", "name_strlen"),
                                                zlib=True, complevel=1, shuffle=True,
                                                chunksizes=(chunk[0], width))
    out["spike_time"].setncatts({**SPIKE_TIME_ATTRS, "coordinates": "spike_neuron spike_population"})
    out["spike_neuron"].setncatts(SPIKE_NEURON_ATTRS)
    out["spike_population"].setncatts({**SPIKE_POPULATION_ATTRS, "_Encoding": "utf-8"})
    for v in out.values():
        v.set_auto_chartostring(False)
        # two chunks of cache each: written once, front to back (netCDF's default is 64 MiB per variable)
        v.set_var_chunk_cache(size=2 * chunk[0] * 8 * (width if v.dtype == "S1" else 1), nelems=61, preemption=1.0)
    if onsets is not None:
        nc.createDimension("stimulus_onset", len(onsets))  # a coordinate variable: the onsets index the pulses
        v = nc.createVariable("stimulus_onset", "f8", ("stimulus_onset",))
        v[:] = np.asarray(onsets, dtype=float)
        v.setncatts(ONSET_ATTRS)
    nc.setncatts(file_attributes(attrs))
    return out


def _write_block(sources, neurons, populations, t_reached, lo, hi, bounds, spikes: dict) -> None:
    """Collect the spikes of the neurons at positions [lo, hi), sort them by (neuron, time), write them."""
    parts = list(_events(sources, neurons, t_reached, lo, hi))
    index = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    times = np.concatenate([p[1] for p in parts]) if parts else np.empty(0)
    del parts
    a, b = int(bounds[lo]), int(bounds[hi])
    if index.size != b - a:
        raise RuntimeError(f"the partial files changed while the spike file was written ({index.size} != {b - a})")
    if not index.size:
        return
    order = np.lexsort((times, index))
    index, times = index[order], times[order]
    del order
    spikes["spike_time"][a:b] = times
    del times
    spikes["spike_neuron"][a:b] = neurons[index].astype(np.int32)
    width = spikes["spike_population"].shape[1]
    names = np.asarray(populations[index], dtype=f"S{width}")
    spikes["spike_population"][a:b, :] = names.view("S1").reshape(index.size, width)


def _replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def file_attributes(attrs: dict) -> dict:
    """The global attributes of a spike file: CF's, then the run's (``attrs``), in a fixed order."""
    return {"Conventions": CONVENTIONS, "featureType": "timeSeries", **attrs}


NEURON_ATTRS = {"long_name": "NEST node id", "cf_role": "timeseries_id"}
POPULATION_ATTRS = {"long_name": "population of the neuron"}
SPIKE_COUNT_ATTRS = {"long_name": "number of spikes of the neuron", "sample_dimension": "spike"}
SPIKE_TIME_ATTRS = {"long_name": "spike time", "units": "ms",
                    "comment": "grouped by neuron in neuron order, sorted in time; "
                               "absolute model time including the warm-up"}
SPIKE_NEURON_ATTRS = {"long_name": "NEST node id of the neuron that fired the spike"}
SPIKE_POPULATION_ATTRS = {"long_name": "population of the neuron that fired the spike"}
ONSET_ATTRS = {"long_name": "onset of a stimulus pulse", "units": "ms"}


VM_VARIABLES = ("V_m", "I_syn")
_VM_ATTRS = {
    "V_m": {"long_name": "membrane potential", "units": "mV"},
    "I_syn": {"long_name": "total synaptic current (excitatory + inhibitory)", "units": "pA"},
}
_VM_BLOCK_BYTES = 32 << 20  # copy samples in blocks of this size: memory stays bounded for long runs


def _copy_vm(all_sources, nc: netCDF4.Dataset, neurons: np.ndarray, populations: np.ndarray) -> None:
    """Add ``V_m(vm_time, vm_neuron)`` and ``I_syn`` from the open partial files to the final file, block by block.

    Each partial file holds the samples of its process's recorded neurons; the final file holds
    all of them, in node-id order, at the sample times that every process reached.
    """
    sources = [src for src in all_sources if "vm_neuron" in src.variables]
    if not sources:
        return
    ids = [np.asarray(src["vm_neuron"][:], dtype=np.int64) for src in sources]
    vm_neurons = np.concatenate(ids)
    order = np.argsort(vm_neurons)
    vm_neurons = vm_neurons[order]
    columns = np.argsort(order)  # column of each source's neurons in the final array, in source order
    n_times = min(src.dimensions["vm_sample"].size for src in sources)
    vm_times = np.asarray(sources[0]["vm_time"][:n_times], dtype=np.float64)
    nc.createDimension("vm_time", n_times)
    nc.createDimension("vm_neuron", vm_neurons.size)
    t = nc.createVariable("vm_time", "f8", ("vm_time",))
    t[:] = vm_times
    t.setncatts(VM_TIME_ATTRS)
    v = nc.createVariable("vm_neuron", "i8", ("vm_neuron",))
    v[:] = vm_neurons
    v.setncatts({"long_name": "NEST node id of a neuron whose V_m and I_syn are recorded"})
    p = nc.createVariable("vm_population", str, ("vm_neuron",))
    p[:] = populations[np.searchsorted(neurons, vm_neurons)].astype(object)
    p.setncatts({"long_name": "population of the recorded neuron"})
    rows = max(1, min(n_times, 4096, (1 << 18) // max(1, vm_neurons.size)))
    out = {name: nc.createVariable(name, "f8", ("vm_time", "vm_neuron"), zlib=True, complevel=1,
                                   chunksizes=(max(1, rows), vm_neurons.size)) for name in VM_VARIABLES}
    for name in VM_VARIABLES:
        out[name].setncatts({**_VM_ATTRS[name], "coordinates": "vm_population"})
    _small_cache(*out.values(), *(src[name] for src in sources for name in VM_VARIABLES))
    block = max(1, _VM_BLOCK_BYTES // (8 * max(1, vm_neurons.size)))
    starts = np.cumsum([0] + [len(i) for i in ids])
    for a in range(0, n_times, block):
        b = min(n_times, a + block)
        for name in VM_VARIABLES:
            values = np.empty((b - a, vm_neurons.size))
            for k, src in enumerate(sources):
                values[:, columns[starts[k]:starts[k + 1]]] = src[name][a:b, :]
            out[name][a:b, :] = values


VM_TIME_ATTRS = {"long_name": "time of the V_m and I_syn samples", "units": "ms",
                 "comment": "absolute model time including the warm-up"}


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


def population_mean_rates(path: str | Path, t_start: float, t_stop: float) -> dict[str, float]:
    """Mean firing rate (spikes/s) of every population in ``[t_start, t_stop]`` (ms, both ends inclusive).

    The same numbers as ``analysis.population_mean_rates`` on the loaded file, but read from the
    file ``READ_BLOCK`` spike times at a time: the memory needed does not grow with the number of
    spikes (loading a file with 19 million spikes, each with its population name, takes 2.8 GB).
    The window is taken as given; clip it first (``analysis.window``).
    """
    with netCDF4.Dataset(path, "r") as nc:
        populations = np.asarray(nc["population"][:]).astype(str)
        counts = np.asarray(nc["spike_count"][:], dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        times = nc["spike_time"]
        in_window = np.zeros(counts.size, dtype=np.int64)
        for a in range(0, int(bounds[-1]), READ_BLOCK):
            b = min(int(bounds[-1]), a + READ_BLOCK)
            t = np.asarray(times[a:b], dtype=np.float64)
            keep = np.flatnonzero((t >= t_start) & (t <= t_stop)) + a
            owner = np.searchsorted(bounds, keep, side="right") - 1
            in_window += np.bincount(owner, minlength=counts.size)
    duration_s = (t_stop - t_start) / 1000.0
    names, first = np.unique(populations, return_index=True)
    out = {}
    for name in names[np.argsort(first)]:
        mask = populations == name
        out[str(name)] = float(in_window[mask].sum() / mask.sum() / duration_s)
    return out


def ragged_dataset(neurons, populations, senders, times, attrs) -> xr.Dataset:
    """Build a spike Dataset (the layout of ``spikes.nc``, see the module docstring) from unordered (sender, time) pairs."""
    neurons = np.asarray(neurons, dtype=np.int64)
    populations = np.asarray(populations).astype(str)
    senders = np.asarray(senders, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    index = np.searchsorted(neurons, senders)
    if senders.size and (np.any(index >= neurons.size) or np.any(neurons[np.minimum(index, neurons.size - 1)] != senders)):
        raise ValueError("spikes from senders that are not recorded neurons")
    order = np.lexsort((times, index))
    index = index[order]
    counts = np.bincount(index, minlength=neurons.size).astype(np.int64)
    return xr.Dataset(
        {
            "spike_count": ("neuron", counts, dict(SPIKE_COUNT_ATTRS)),
            "spike_time": ("spike", times[order], dict(SPIKE_TIME_ATTRS)),
        },
        coords={"neuron": ("neuron", neurons, dict(NEURON_ATTRS)),
                "population": ("neuron", populations, dict(POPULATION_ATTRS)),
                "spike_neuron": ("spike", neurons[index].astype(np.int32), dict(SPIKE_NEURON_ATTRS)),
                "spike_population": ("spike", populations[index], dict(SPIKE_POPULATION_ATTRS))},
        attrs=file_attributes(dict(attrs)),
    )


def netcdf_encoding(ds: xr.Dataset) -> dict:
    """How :func:`write_atomic` stores a spike Dataset's variables: compressed per-spike variables,
    populations as characters (which plain xarray reads back as strings), no fill value on coordinates."""
    encoding = {}
    packed = {"zlib": True, "complevel": 1, "shuffle": True}
    for name in ("spike_time", "spike_neuron"):
        if name in ds.variables and ds.sizes.get("spike", 0):
            encoding[name] = dict(packed)
    if "spike_population" in ds.variables:
        encoding["spike_population"] = {"dtype": "S1", **(packed if ds.sizes.get("spike", 0) else {})}
    for name, var in ds.coords.items():
        if var.dtype.kind == "f":
            encoding.setdefault(name, {})["_FillValue"] = None
    return encoding


def write_atomic(ds: xr.Dataset, path: Path, append=None) -> None:
    """Write ``ds`` to a temporary file in the same folder and rename it to ``path``.

    ``append(nc)``, if given, adds more to the file (an open ``netCDF4.Dataset``) before the rename.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=netcdf_encoding(ds))
        if append is not None:
            with netCDF4.Dataset(tmp, "a") as nc:
                append(nc)
        _replace(tmp, path)
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
    Files written before the per-spike coordinates existed (microcircuit before 2026-12-05) get
    them here, and their V_m sample times are renamed from ``time`` to ``vm_time``, so that old
    and new files look the same.
    """
    drop = [] if vm else list(VM_VARIABLES)
    with xr.open_dataset(path, engine="netcdf4", drop_variables=drop) as ds:
        ds = ds.load()
    return upgrade(ds)


def upgrade(ds: xr.Dataset) -> xr.Dataset:
    """A spike Dataset in today's layout: add what files of earlier versions lack (see :func:`load_spikes`)."""
    # population: files written before it became a coordinate; vm_population: a coordinate only
    # through the ``coordinates`` attribute of V_m and I_syn, which vm=False leaves out
    stray = [name for name in ("population", "vm_population") if name in ds.data_vars]
    if stray:
        ds = ds.set_coords(stray)
    if "time" in ds.dims and "vm_neuron" in ds.dims and "vm_time" not in ds.dims:
        ds = ds.rename({"time": "vm_time"})
    if "spike_time" in ds and "spike_neuron" not in ds.variables and "neuron" in ds.dims:
        counts = ds["spike_count"].values
        if int(counts.sum()) == ds.sizes["spike"]:
            ds = ds.assign_coords(
                spike_neuron=("spike", np.repeat(ds["neuron"].values, counts).astype(np.int32), dict(SPIKE_NEURON_ATTRS)),
                spike_population=("spike", np.repeat(ds["population"].values.astype(str), counts),
                                  dict(SPIKE_POPULATION_ATTRS)))
    return ds


class SpikeSelectionError(ValueError):
    """The spikes of a Dataset do not belong to its neurons (a selection along ``neuron`` left them all)."""


def neuron_ids(ds: xr.Dataset) -> np.ndarray:
    """The node ids of the neurons of a spike Dataset, as a 1-d array (also after ``ds.sel(neuron=42)``)."""
    return np.atleast_1d(np.asarray(ds["neuron"].values, dtype=np.int64))


def spike_positions(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Which neuron of ``ds`` fired each spike: ``(positions along neuron, indices along spike)``.

    With the per-spike node ids (``spike_neuron``, every file since 2026-12-05) a Dataset
    selected along ``neuron`` (``ds.isel(neuron=...)``, ``ds.sel(neuron=[...])``) still knows
    whose spikes are whose: the spikes of neurons it no longer holds are left out. Without them
    (a file of an earlier version opened with plain xarray) the counts must cover the spikes.

    Raises
    ------
    SpikeSelectionError
        The Dataset has no per-spike node ids and its counts do not match its spikes.
    """
    ids = neuron_ids(ds)
    n_spikes = ds.sizes.get("spike", 0)
    if "spike_neuron" in ds.variables:
        senders = np.asarray(ds["spike_neuron"].values, dtype=np.int64)
        if ids.size and np.all(np.diff(ids) > 0) and ids[-1] - ids[0] + 1 == ids.size:
            pos = senders - ids[0]  # contiguous ids, as NEST creates them
            keep = (pos >= 0) & (pos < ids.size)
        else:
            order = np.argsort(ids, kind="stable")
            found = np.searchsorted(ids[order], senders)
            found = np.minimum(found, max(ids.size - 1, 0))
            keep = (ids[order][found] == senders) if ids.size else np.zeros(senders.size, bool)
            pos = order[found] if ids.size else found
        index = np.flatnonzero(keep)
        return pos[index], index
    counts = np.atleast_1d(np.asarray(ds["spike_count"].values, dtype=np.int64))
    if int(counts.sum()) != n_spikes:
        raise SpikeSelectionError(
            f"the {n_spikes} spikes of this Dataset do not belong to its {ids.size} neurons (their counts add up to "
            f"{int(counts.sum())}): a selection along `neuron` does not select spikes; use "
            "ds.spikes.select(neuron=...) or ds.spikes.select(population=...) on the whole file")
    return np.repeat(np.arange(ids.size), counts), np.arange(n_spikes)


def spike_times_by_neuron(ds: xr.Dataset) -> list[np.ndarray]:
    """Split ``spike_time`` into one array per neuron (in ``neuron`` order), each sorted in time."""
    pos, index = spike_positions(ds)
    times = np.asarray(ds["spike_time"].values)[index]
    order = np.lexsort((times, pos))
    pos, times = pos[order], times[order]
    bounds = np.searchsorted(pos, np.arange(neuron_ids(ds).size + 1))
    return [times[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


@xr.register_dataset_accessor("spikes")
class SpikesAccessor:
    """``ds.spikes``: the spikes of one neuron or one population of a spike file, in one line.

    The file stores all spike times in one array grouped by neuron (a CF contiguous ragged
    array) with the node id and population of every spike; these methods do the bookkeeping,
    and also work on a Dataset selected along ``neuron``.

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
    >>> ds.spikes.to_dataframe()
       time  neuron population
    0   5.0       1          A
    1   6.0       1          A
    2   9.0       2          A
    3   7.5       3          B
    """

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def _positions(self, neuron=None, population=None) -> np.ndarray:
        ds = self._ds
        ids = neuron_ids(ds)
        if neuron is not None and population is not None:
            raise ValueError("give neuron or population, not both")
        if neuron is not None:
            wanted = np.atleast_1d(neuron)
            order = np.argsort(ids, kind="stable")
            pos = np.searchsorted(ids[order], wanted)
            ok = (pos < ids.size) & (ids[order][np.minimum(pos, ids.size - 1)] == wanted)
            if not ok.all():
                raise KeyError(f"no neuron {wanted[~ok][0]} in this Dataset (node ids {ids.min()}-{ids.max()})")
            return np.unique(order[pos])
        if population is not None:
            names = np.atleast_1d(population).astype(str)
            pops = np.atleast_1d(ds["population"].values).astype(str)
            unknown = [str(p) for p in names if p not in set(pops)]
            if unknown:
                raise KeyError(f"no population {unknown[0]!r} in this Dataset ({', '.join(dict.fromkeys(pops))})")
            return np.flatnonzero(np.isin(pops, names))
        return np.arange(ids.size)

    def _spikes_of(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices along spike, positions along neuron) of the spikes of the neurons at ``pos``, grouped
        by neuron in the order of ``pos`` and sorted in time within each."""
        owner, index = spike_positions(self._ds)
        chosen = np.zeros(neuron_ids(self._ds).size, dtype=bool)
        chosen[pos] = True
        mine = chosen[owner]
        owner, index = owner[mine], index[mine]
        rank = np.empty(chosen.size, dtype=np.int64)
        rank[pos] = np.arange(pos.size)
        order = np.lexsort((np.asarray(self._ds["spike_time"].values)[index], rank[owner]))
        return index[order], owner[order]

    def times(self, neuron=None, population=None) -> xr.DataArray:
        """Spike times (ms) of one or more neurons (node ids), of one or more populations, or of all.

        Returns
        -------
        xarray.DataArray
            Dimension ``spike``, grouped by neuron and sorted in time within each, with the
            coordinate ``neuron``: the node id that fired each spike.
        """
        pos = self._positions(neuron, population)
        index, owner = self._spikes_of(pos)
        return xr.DataArray(np.asarray(self._ds["spike_time"].values)[index], dims="spike", name="spike_time",
                            coords={"neuron": ("spike", neuron_ids(self._ds)[owner])},
                            attrs=dict(self._ds["spike_time"].attrs))

    def select(self, neuron=None, population=None) -> xr.Dataset:
        """A spike Dataset of only these neurons or populations, spikes included (every analysis function takes it)."""
        pos = self._positions(neuron, population)
        index, owner = self._spikes_of(pos)
        ds = self._ds
        if "neuron" not in ds.dims:  # after ds.sel(neuron=42): one neuron, already selected
            return ds.isel(spike=index)
        out = ds.isel(neuron=pos, spike=index)
        if "spike_neuron" not in out.variables:  # an old file opened with plain xarray: counts describe the spikes
            return out
        counts = np.bincount(np.searchsorted(pos, owner), minlength=pos.size).astype(np.int64)  # pos is sorted
        return out.assign(spike_count=("neuron", counts, dict(ds["spike_count"].attrs)))

    def sender(self) -> xr.DataArray:
        """The node id of every entry of ``spike_time`` (dimension ``spike``)."""
        if "spike_neuron" in self._ds.variables:
            values = np.asarray(self._ds["spike_neuron"].values, dtype=np.int64)
        else:
            values = neuron_ids(self._ds)[spike_positions(self._ds)[0]]
        return xr.DataArray(values, dims="spike", name="sender",
                            attrs={"long_name": "NEST node id of the neuron that fired"})

    def to_dataframe(self):
        """The spikes as a pandas DataFrame, one row per spike: ``time`` (ms), ``neuron`` (node id), ``population``.

        Rows are in the file's order (grouped by neuron, sorted in time); ``population`` is a
        categorical column (one byte per spike instead of a string).
        """
        import pandas as pd

        owner, index = spike_positions(self._ds)
        pops = np.atleast_1d(self._ds["population"].values).astype(str)
        names = list(dict.fromkeys(pops))
        code = {name: i for i, name in enumerate(names)}
        codes = np.array([code[p] for p in pops], dtype=np.int64)
        return pd.DataFrame({
            "time": np.asarray(self._ds["spike_time"].values)[index],
            "neuron": neuron_ids(self._ds)[owner],
            "population": pd.Categorical.from_codes(codes[owner], categories=names),
        })
