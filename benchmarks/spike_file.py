"""Writing and reading the spike file: time, memory and size, measured on the spikes of a real run.

``partial SPIKES_NC PARTIAL``: turn a spike file back into the unfinished-data file a run streams
during the simulation (chunks of 100 ms model time, spikes in time order within each), so that
the end of a run can be timed on its own, with any version of the package::

    python benchmarks/spike_file.py partial runs/full_dc_10s/spikes.nc /tmp/bench/.spikes.nc.partial

``finish PARTIAL``: write ``spikes.nc`` from a copy of such a file (``microcircuit.output.recover``,
the code path of every run's end) in this process; print wall time, peak memory (VmHWM) and the
size of the file written. Run it in a fresh process per measurement, alternating versions
(``PYTHONPATH=OLD_CHECKOUT python benchmarks/spike_file.py finish ...``)::

    python benchmarks/spike_file.py finish /tmp/bench/.spikes.nc.partial

``idioms SPIKES_NC``: the time and added memory of the idioms of the README's "Loading results" on a
file, each in a fresh process (``python benchmarks/spike_file.py idiom NAME SPIKES_NC`` runs one), after
the imports and a first ``open_dataset`` of the file (xarray finds its backends then)::

    python benchmarks/spike_file.py idioms runs/full_dc_10s/spikes.nc
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _kb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return float("nan")


def partial(spikes_nc: Path, out: Path, chunk_ms: float = 100.0) -> None:
    import netCDF4
    import xarray as xr

    with xr.open_dataset(spikes_nc) as ds:
        neurons = ds["neuron"].values.astype(np.int64)
        pops = ds["population"].values.astype(str)
        times = ds["spike_time"].values
        senders = np.repeat(neurons, ds["spike_count"].values)
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in ds.attrs.items()
                 if k not in ("status", "t_simulated", "wall_time_s")}
        t_end = float(ds.attrs["t_simulated"])
    chunk = np.floor(np.maximum(times - 1e-9, 0) / chunk_ms)
    order = np.lexsort((times, chunk))  # chunk by chunk, each in time order (the recorder's order differs by thread)
    with netCDF4.Dataset(out, "w", format="NETCDF4") as nc:
        nc.createDimension("neuron", neurons.size)
        nc.createVariable("neuron", "i8", ("neuron",))[:] = neurons
        nc.createVariable("population", str, ("neuron",))[:] = pops.astype(object)
        nc.createDimension("event", None)
        nc.createVariable("sender", "i8", ("event",), chunksizes=(1 << 16,))[:] = senders[order]
        nc.createVariable("time", "f8", ("event",), chunksizes=(1 << 16,))[:] = times[order]
        nc.setncattr("attrs_json", json.dumps(attrs))
        nc.setncattr("t_reached", t_end)
    print(f"wrote {out}: {senders.size} spikes of {neurons.size} neurons up to {t_end:g} ms")


def finish(partial_file: Path) -> None:
    from microcircuit import output

    with tempfile.TemporaryDirectory(prefix="finish-", dir=partial_file.parent) as tmp:
        target = Path(tmp) / "spikes.nc"
        shutil.copyfile(partial_file, Path(tmp) / ".spikes.nc.partial")
        base = _kb("VmHWM") / 1024
        t0 = time.perf_counter()
        output.recover(target)
        wall = time.perf_counter() - t0
        print(json.dumps({"wall_s": round(wall, 3), "peak_mb": round(_kb("VmHWM") / 1024, 1),
                          "peak_before_mb": round(base, 1), "file_mb": round(target.stat().st_size / 2**20, 2),
                          "version": getattr(output, "CONVENTIONS", "CF-1.8")}))


IDIOMS = {
    "open": "ds = xr.open_dataset(PATH)",
    "where_population": "ds = xr.open_dataset(PATH); r = ds.spike_time.where(ds.spike_population == 'L4E', drop=True).values",
    "groupby_population": "ds = xr.open_dataset(PATH); r = ds.spike_time.groupby('spike_population').count().values",
    "to_dataframe": "ds = xr.open_dataset(PATH); r = ds[['spike_time', 'spike_neuron']].to_dataframe()",
    "dask_where": ("ds = xr.open_dataset(PATH, chunks={}); ds.spike_population.load(); "
                   "r = ds.spike_time.where(ds.spike_population == 'L4E', drop=True).values"),
    "dask_groupby": ("ds = xr.open_dataset(PATH, chunks={}); ds.spike_population.load(); "
                     "r = ds.spike_time.groupby('spike_population').count().values"),
    "load_spikes": "import microcircuit as mc; ds = mc.load_spikes(PATH, vm=False)",
    "accessor_to_dataframe": "import microcircuit as mc; r = mc.load_spikes(PATH, vm=False).spikes.to_dataframe()",
    "accessor_select": "import microcircuit as mc; r = mc.load_spikes(PATH, vm=False).spikes.select(population='L4E')",
    "firing_rates": ("import microcircuit as mc; from microcircuit import analysis; ds = mc.load_spikes(PATH, vm=False); "
                     "r = analysis.firing_rates(ds, *analysis.window(ds))"),
}


def idiom(name: str, path: Path) -> None:
    import xarray as xr  # noqa: F401  (the idioms use it)

    import microcircuit  # noqa: F401  (imports and xarray's backend discovery are not part of the idiom)

    xr.open_dataset(path).close()
    code = IDIOMS[name].replace("PATH", repr(str(path)))
    base, hwm0 = _kb("VmRSS") / 1024, _kb("VmHWM") / 1024
    t0 = time.perf_counter()
    exec(code, {"xr": xr})
    wall = time.perf_counter() - t0
    print(json.dumps({"idiom": name, "wall_s": round(wall, 3), "added_peak_mb": round(_kb("VmHWM") / 1024 - max(base, hwm0), 1)}))


def idioms(path: Path) -> None:
    import xarray as xr

    with xr.open_dataset(path) as ds:
        print(f"{path}: {ds.sizes['spike']} spikes of {ds.sizes['neuron']} neurons, "
              f"{path.stat().st_size / 2**20:.1f} MB")
    print(f"{'idiom':<24} {'time (s)':>9} {'memory (MB)':>12}  code")
    for name in IDIOMS:
        out = subprocess.run([sys.executable, __file__, "idiom", name, str(path)], capture_output=True, text=True)
        if out.returncode:
            print(f"{name:<24} failed: {out.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<24} {r['wall_s']:9.2f} {r['added_peak_mb']:12.0f}  {IDIOMS[name]}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("partial", "finish", "idioms", "idiom"):
        print(__doc__)
        return 2
    what, *rest = argv
    if what == "partial":
        partial(Path(rest[0]), Path(rest[1]))
    elif what == "finish":
        finish(Path(rest[0]))
    elif what == "idioms":
        idioms(Path(rest[0]))
    else:
        idiom(rest[0], Path(rest[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
