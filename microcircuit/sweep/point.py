"""One point of a sweep, in the process that runs it: the run, its summary, what it cost.

:func:`run_point` is what a worker process does with a point: the run command's own
:func:`microcircuit.simulate` on the point's configuration (so the same spikes as
``python -m microcircuit.run`` with the same options), then PD14's measures of the spike file
(:func:`microcircuit.analysis.ainess`, in the run's own window: end of the warm-up to the end)
and the mean-field prediction the run made. The spike file is removed afterwards unless it is
kept. Wall time and peak memory are the point's own: the peak (Linux's VmHWM) is reset when
the point starts, so that a worker that ran other points before reports this one's.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import analysis, resources
from ..connectivity import load_table
from ..output import load_spikes
from ..parameters import Config
from ..simulation import simulate
from .status import STATUS_FAILED, STATUS_OK, STATUS_OOM, STATUS_PENDING, STATUS_TIMEOUT, short  # noqa: F401 (re-exported)

log = logging.getLogger("microcircuit")

_tables: dict[str, object] = {}  # connectivity tables by path: a worker loads each once


def reset_peak_memory() -> bool:
    """Reset this process's peak resident memory (VmHWM) to its current size; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _table(path: str):
    if path not in _tables:
        _tables[path] = load_table(path)
    return _tables[path]


def run_point(task: dict) -> dict:
    """Run one point and summarise it.

    ``task`` holds ``config`` (a configuration dict), ``spike_dir`` (where the run writes
    spikes.nc; None: a temporary folder), ``keep_spikes`` and ``check_memory``. Returns the summary: per population
    ``rate``, ``cv``, ``synchrony``, ``ai`` and ``predicted_rate``, and ``ainess``,
    ``wall_time`` (s), ``peak_memory`` (MB), ``timings`` (of the run's phases) and
    ``spike_file`` (the kept file, else ""). Errors propagate (the worker turns them into a
    failed status).
    """
    reset_peak_memory()
    t0 = time.perf_counter()
    config = Config.from_dict(task["config"])
    table = _table(config.network.connectivity)
    if task.get("spike_dir"):
        spike_dir = Path(task["spike_dir"])
        shutil.rmtree(spike_dir, ignore_errors=True)  # what a killed earlier attempt left
    else:  # a Dask worker without a shared folder: the spike file lives only until the summary
        spike_dir = Path(tempfile.mkdtemp(prefix="microcircuit-sweep-"))
    try:
        result = simulate(config, output_dir=spike_dir, overwrite=True, table=table,
                          check_memory=task.get("check_memory", True))
        if not result.complete:
            raise RuntimeError(f"the run is {result.status}")
        t_run = time.perf_counter() - t0
        summary = summarise(result.spikes_path, result.prediction)
        summary["timings"] = {**result.timings.as_dict(), "run": t_run}
        summary["spike_file"] = str(result.spikes_path) if task.get("keep_spikes") else ""
    finally:
        if not task.get("keep_spikes"):
            shutil.rmtree(spike_dir, ignore_errors=True)
    summary["status"] = STATUS_OK
    summary["wall_time"] = time.perf_counter() - t0
    summary["peak_memory"] = resources.peak_rss_mb()
    return summary


def summarise(spikes_path: Path, prediction=None) -> dict:
    """PD14's measures of a spike file in its own window, and the predicted rates (NaN without a prediction)."""
    ds = load_spikes(spikes_path, vm=False)
    t_start, t_stop = analysis.window(ds, warn=False)
    regime = analysis.ainess(ds, t_start, t_stop)
    populations = [str(p) for p in regime["population"].values]
    if prediction is not None:
        predicted = prediction["rate"].sel(population=populations).values.astype(float)
    else:
        predicted = np.full(len(populations), np.nan)
    return {
        "populations": populations,
        "rate": regime["rate"].values.astype(float),
        "cv": regime["irregularity"].values.astype(float),
        "synchrony": regime["synchrony"].values.astype(float),
        "ai": regime["ai"].values.astype(float),
        "ainess": float(regime["ainess"]),
        "predicted_rate": predicted,
        "window": (float(t_start), float(t_stop)),
    }


def failure(exc: BaseException) -> str:
    """The status of a point whose run raised ``exc``: "out of memory" or "failed: <one line>"."""
    text = str(exc).strip()
    if isinstance(exc, MemoryError) or "bad_alloc" in text:
        return STATUS_OOM
    from ..errors import ConfigError, SetupError

    line = text.splitlines()[0] if text else ""
    if not isinstance(exc, (ConfigError, SetupError)):
        line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return f"{STATUS_FAILED}: {short(line)}"
