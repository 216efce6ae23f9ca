"""Running a sweep: check every point, then run them on workers and record each as it ends.

:func:`run` is the one entry point (the command line calls it too). Everything that can be
checked is checked before any point runs: every point's configuration (``derive`` with its
table: keys, values, population and pathway names), that the neuron module is built, the
output folder, and memory (the largest point's estimate times the points that run at once).
Then the points run (:mod:`.workers`); each outcome is recorded in ``DIR/sweep.nc`` as soon as
it arrives (:mod:`.results`), so a sweep that is killed keeps every finished point and
``resume=True`` runs only the others.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from .. import resources
from ..build import manifest
from ..connectivity import load_table
from ..errors import ConfigError, option
from ..output import command_line
from ..parameters import derive
from ..provenance import package_version
from .status import STATUS_OK
from .results import RESULT_FILE, Results, sweep_toml, table_attributes
from .spec import K_EXT_KEY, Point, Spec
from .workers import DaskExecutor, LocalExecutor, early_rss_mb, trim_early

log = logging.getLogger("microcircuit")

POINTS_DIR = "points"
WORKER_LOG = "workers.log"
CONNECTIVITY_KEY = "network.connectivity"


@dataclass
class Plan:
    """What the checks found: the points with their configurations, and the largest memory estimate."""

    points: list[Point]
    configs: dict[int, dict]        # point number -> configuration dict
    memory_mb: dict[int, float]     # point number -> estimated peak memory (MB)
    populations: list[str]
    table: xr.Dataset               # the base configuration's table
    draws: dict                     # drawn values over trial and population, for the result file

    @property
    def largest(self) -> tuple[Point, float]:
        number = max(self.memory_mb, key=self.memory_mb.get)
        return self.points[number], self.memory_mb[number]


def plan(spec: Spec) -> Plan:
    """Resolve and check every point (ConfigError naming the point if one is invalid)."""
    tables: dict[str, xr.Dataset] = {}

    def table_for(path: str) -> xr.Dataset:
        if path not in tables:
            tables[path] = load_table(path)
        return tables[path]

    base_table = table_for(spec.base.network.connectivity)
    populations = [str(p) for p in base_table["population"].values]
    points = spec.points()
    configs, memory = {}, {}
    nestml = False
    for point in points:
        # the point's own table (the base's unless the sweep varies network.connectivity)
        table = table_for(dict((k.path, v) for k, v in point.values).get(CONNECTIVITY_KEY,
                                                                        spec.base.network.connectivity))
        config = spec.config(point, table)
        try:
            derived = derive(config, table)
        except ConfigError as exc:
            raise ConfigError(f"point {point.name} ({point.label}): {exc}") from None
        if list(derived.populations) != populations:
            raise ConfigError(f"point {point.name} ({point.label}): its table has the populations "
                              f"{', '.join(derived.populations)}, the base's {', '.join(populations)}; a sweep "
                              "compares one set of populations")
        configs[point.number] = config.to_dict()
        memory[point.number] = resources.estimate_run_mb(config, derived)
        nestml = nestml or config.network.neuron_model == "nestml"
    if nestml:
        manifest.check_module()  # SetupError (with the build command) before any point runs
    draws = {}
    if spec.trials and dict(spec.draw).get(K_EXT_KEY):
        values = np.zeros((spec.trials, len(populations)), dtype=np.int64)
        for point in points:
            if point.trial is not None:
                k_ext = configs[point.number]["network"]["k_ext"]
                values[point.trial] = [k_ext[p] for p in populations]
        draws["k_ext"] = (values, {"long_name": f"external in-degrees drawn for the trial ({dict(spec.draw)[K_EXT_KEY]}, "
                                                f"seed {spec.draw_seed}), full scale"})
    return Plan(points, configs, memory, populations, base_table, draws)


class PointProgress:
    """Points done and failed, and the time left: a tqdm bar on a terminal, a log line per point otherwise."""

    def __init__(self, total: int, enabled: bool = True, stream=None, force_tty: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        tty = self.stream.isatty() if force_tty is None else force_tty
        self.enabled, self.total, self.done, self.failed = enabled, total, 0, 0
        self.bar = None
        if enabled and tty and total:
            from tqdm import tqdm

            size = shutil.get_terminal_size()
            self.bar = tqdm(total=total, desc="0 failed", unit="point", file=self.stream, ncols=size.columns,
                            bar_format="sweep: {n}/{total} points, {desc} |{bar}| [{elapsed}<{remaining}]")

    def __call__(self, point: Point, outcome: dict) -> None:
        self.done += 1
        ok = outcome["status"] == STATUS_OK
        self.failed += not ok
        if not self.enabled:
            return
        line = f"[{self.done}/{self.total}] {point.name} {point.label}: {outcome['status']}"
        if ok:
            line += f", AIness {outcome['ainess']:.0f} %, {outcome['wall_time']:.1f} s, {outcome['peak_memory']:.0f} MB"
        if self.bar is not None:
            if not ok:
                self.bar.write(line, file=self.stream)
            self.bar.set_description_str(f"{self.failed} failed", refresh=False)
            self.bar.update(1)
            self.bar.refresh()
        elif ok:
            log.info("%s", line)
        else:
            log.warning("%s", line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(spec: Spec, output_dir: str | Path = "sweep", *, workers: int = 1, client=None, scheduler: str | None = None,
        timeout: float | None = None, keep_spikes: bool = False, resume: bool = False, overwrite: bool = False,
        retry_failed: bool = False, check_memory: bool = True, fresh_workers: bool = False,
        progress: bool = True, debug: bool = False,
        on_result: Callable[[Point, dict], None] | None = None) -> xr.Dataset:
    """Run every point of ``spec``; write ``output_dir/sweep.nc`` after every point; return its Dataset.

    Parameters
    ----------
    spec : Spec
        The sweep (:func:`microcircuit.sweep.build` or :func:`microcircuit.sweep.load`).
    output_dir : path
        Folder of ``sweep.nc`` (and, with ``keep_spikes``, ``points/pNNNNN/spikes.nc``).
    workers : int
        Worker processes on this machine (each runs points with ``spec.base.simulation.threads``
        threads); ignored with a Dask ``client`` or ``scheduler``.
    client : dask.distributed.Client, optional
        Run the points as tasks of this Dask cluster. ``scheduler``: the address of one.
    timeout : float, optional
        Seconds a point may run (from when its worker starts it); then its worker is killed
        and the point recorded as "timeout".
    keep_spikes : bool
        Keep every point's spike file (on Dask this needs ``output_dir`` on a shared file system).
    resume : bool
        Continue the sweep in ``output_dir`` (the same spec), running only points without a result
        (``retry_failed``: also the failed ones). Without a ``sweep.nc`` there, start it.
    overwrite : bool
        Start again even though ``output_dir/sweep.nc`` exists.
    check_memory : bool
        Refuse a sweep whose points at once need more memory than is available.
    fresh_workers : bool
        Start a new process for every point instead of reusing workers (docs/sweeps.md).
    progress : bool
        Show the progress bar (or per-point log lines without a terminal).
    on_result : callable, optional
        ``on_result(point, outcome)`` after every point (the outcome holds the summary and timings).

    Raises
    ------
    ConfigError
        Anything wrong with the sweep, found before a point runs.
    KeyboardInterrupt
        After Ctrl-C, once the workers are ended and ``sweep.nc`` holds every finished point.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{option('workers')} {workers!r} is not allowed; must be a whole number >= 1")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"{option('timeout')} {timeout!r} is not allowed; must be > 0 seconds")
    if resume and overwrite:
        raise ConfigError(f"{option('resume')} continues the sweep in the folder and {option('overwrite')} starts "
                          "it again: give one")
    folder = Path(output_dir)
    path = folder / RESULT_FILE
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option('output_dir')} {folder} is not a folder")
    if path.exists() and not (resume or overwrite):
        raise ConfigError(f"{path} exists: continue that sweep with {option('resume')}, start it again with "
                          f"{option('overwrite')}, or choose another {option('output_dir')}")
    found = plan(spec)
    results = Results(spec, found.populations, _attributes(spec, found), found.draws)
    if resume and path.exists():
        results.load(path)
    todo = [p for p in found.points if not results.done(p, retry_failed)]
    own_client = None
    if scheduler is not None and client is None:
        from distributed import Client

        try:
            client = own_client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"{option('scheduler')} {scheduler}: no Dask scheduler answers there ({exc})") from None
    try:
        return _run(spec, found, results, todo, folder, path, workers, client, timeout, keep_spikes, overwrite,
                    check_memory, fresh_workers, progress, debug, on_result)
    finally:
        if own_client is not None:
            own_client.close()


def _run(spec, found, results, todo, folder, path, workers, client, timeout, keep_spikes, overwrite, check_memory,
         fresh_workers, progress, debug, on_result) -> xr.Dataset:
    executor = DaskExecutor(client, timeout, fresh_workers) if client is not None else None
    n_local = min(workers, max(1, len(todo)))  # a finished sweep resumed still names one
    if executor is None:
        trim_early(n_local if todo and not debug else 0)  # workers started early beyond these would only wait
    _check_memory(found, todo, workers, executor, check_memory)

    folder.mkdir(parents=True, exist_ok=True)
    if overwrite and (folder / POINTS_DIR).is_dir():
        shutil.rmtree(folder / POINTS_DIR)
    done_before = len(found.points) - len(todo)
    if done_before:
        log.info("%s: %d of %d points have a result; running the other %d", path, done_before, len(found.points),
                 len(todo))
    where = (f"{len(executor.workers())} Dask workers" if executor is not None else
             f"{n_local} worker process{'es' if n_local != 1 else ''}")
    threads = spec.base.simulation.threads
    log.info("sweep of %d points (%s) on %s x %d thread%s; results in %s", len(found.points),
             " x ".join(f"{d} {n}" for d, n in zip(spec.dims, spec.shape)) or "base only", where,
             threads, "" if threads == 1 else "s", path)
    if executor is None:
        executor = LocalExecutor(n_local, timeout, fresh_workers,
                                 log=None if debug else folder / WORKER_LOG, log_level="INFO" if debug else "WARNING")
    bar = PointProgress(len(todo), enabled=progress)
    futures = {}
    try:
        for point in todo:
            task = {"name": point.name, "config": found.configs[point.number], "keep_spikes": keep_spikes,
                    "check_memory": check_memory, "spike_dir": _spike_dir(folder, point, keep_spikes, client)}
            futures[executor.submit(task)] = point
        # every point pending (or as resumed): written while the first points run (xarray's first write looks
        # for a Dask scheduler, importing dask.distributed: 0.2 s), before this thread records any result
        results.write(path)
        for future in executor.as_completed(list(futures)):
            point = futures[future]
            outcome = _outcome(future)
            if outcome.get("traceback") and debug:
                log.error("%s %s:\n%s", point.name, point.label, outcome["traceback"])
            results.record(point, outcome, folder)
            results.write(path)
            bar(point, outcome)
            if on_result is not None:
                on_result(point, outcome)
    except BaseException:
        bar.close()
        executor.shutdown(kill=True)
        results.write(path)
        raise
    bar.close()
    executor.shutdown()
    points_dir = folder / POINTS_DIR
    if points_dir.is_dir() and not any(points_dir.iterdir()):
        points_dir.rmdir()
    counts = results.counts()
    log.info("%d points ok, %d failed; wrote %s", counts["ok"], counts["failed"], path)
    return results.dataset()


def _outcome(future) -> dict:
    try:
        return future.result()
    except Exception as exc:  # the Dask worker died (KilledWorker), the task was lost, ...
        from .point import failure

        return {"status": failure(exc)}


def _spike_dir(folder: Path, point: Point, keep: bool, client) -> str | None:
    if client is not None and not keep:
        return None  # a temporary folder on the Dask worker's machine
    return str((folder / POINTS_DIR / point.name).resolve())


def _attributes(spec: Spec, found: Plan) -> dict:
    import tomli_w

    attrs = {
        "title": "Parameter sweep of the Potjans & Diesmann (2014) cortical microcircuit",
        "source": f"microcircuit {package_version()} (python -m microcircuit.sweep)",
        "command": command_line(),
        "sweep_spec": spec.canonical(),
        "sweep_toml": sweep_toml(spec),
        "sweep_file": spec.text,
        "base_config": tomli_w.dumps(spec.base.to_dict()),
        "window": "each point's own: end of the warm-up (t_presim) to the end of the run",
        **table_attributes(found.table),
    }
    if spec.trials:
        attrs["draw_seed"] = spec.draw_seed
    return attrs


def _check_memory(found: Plan, todo: list[Point], workers: int, executor, check: bool) -> None:
    """Refuse a sweep whose points at once need more memory than there is (locally: ``workers`` x the largest estimate)."""
    if not todo:
        return
    point, need = max(((p, found.memory_mb[p.number]) for p in todo), key=lambda x: x[1])
    if executor is not None:
        for address, w in executor.workers().items():
            limit = w["memory_limit"] / 2**20
            if check and limit and w["nthreads"] * need > limit:
                raise ConfigError(f"Dask worker {address} runs {w['nthreads']} points at once with a memory limit of "
                                  f"{limit / 1024:.1f} GB, but point {point.name} ({point.label}) alone needs about "
                                  f"{need / 1024:.1f} GB (estimate): start workers with fewer threads (--nthreads) or "
                                  f"more memory, or {option('check_memory')} to try anyway")
        return
    n = min(workers, len(todo))
    have = resources.available_mb() + early_rss_mb()  # workers started early will run the points in what they hold
    if check and n * need > have:
        fits = int(have // need)
        remedy = (f"use {option('workers')} {fits}" if fits >= 1 else f"use a smaller {option('scale')}")
        raise ConfigError(f"{n} workers x {need / 1024:.2f} GB (the largest point's estimate, {point.name} "
                          f"{point.label}) = {n * need / 1024:.1f} GB, but only {have / 1024:.1f} GB are available: "
                          f"{remedy}, or {option('check_memory')} to try anyway")
    log.info("largest memory estimate %.0f MB (point %s, %s); %d at once: %.0f MB of %.0f MB available",
             need, point.name, point.label, n, n * need, have)


# ----------------------------------------------------------------------------------------------
# points run elsewhere (e.g. as MPI jobs): their configurations out, their spike files in


CONFIG_FILE = "config.toml"


def write_configs(spec: Spec, output_dir: str | Path = "sweep") -> list[Path]:
    """Write every point's configuration to ``output_dir/points/pNNNNN/config.toml`` (as ``--config`` reads it).

    For points too big for one machine: run each with ``mpirun -n R python -m microcircuit.run
    --config .../config.toml --output .../pNNNNN``, then :func:`collect` (docs/sweeps.md).
    """
    import tomli_w

    found = plan(spec)
    paths = []
    for point in found.points:
        path = Path(output_dir) / POINTS_DIR / point.name / CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# point {point.name} of the sweep in {Path(output_dir) / RESULT_FILE}: {point.label}\n"
                        + tomli_w.dumps(found.configs[point.number]))
        paths.append(path)
    return paths


def collect(spec: Spec, output_dir: str | Path = "sweep", retry_failed: bool = False) -> xr.Dataset:
    """Summarise the spike files of points run elsewhere (``output_dir/points/pNNNNN/spikes.nc``) into ``sweep.nc``.

    Every point is summarised as a sweep's worker does it (:func:`.point.summarise`, the
    prediction of :func:`microcircuit.theory.predict`); a point without a spike file stays
    "pending", one whose run did not complete is "failed". An existing ``sweep.nc`` of the
    same sweep is continued (its points with a result are kept); its wall time is the run's
    construction and simulation time stored in the spike file; its peak memory is not known (NaN).
    """
    import json

    from .. import theory
    from ..output import SPIKES_FILE
    from ..parameters import Config
    from .point import summarise
    from .status import STATUS_FAILED

    folder = Path(output_dir)
    path = folder / RESULT_FILE
    found = plan(spec)
    results = Results(spec, found.populations, _attributes(spec, found), found.draws)
    if path.exists():
        results.load(path)
    for point in found.points:
        spikes = folder / POINTS_DIR / point.name / SPIKES_FILE
        if results.done(point, retry_failed) or not spikes.exists():
            continue
        with xr.open_dataset(spikes, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
        stored = Config.from_dict(json.loads(attrs["config"]))
        expected = Config.from_dict(found.configs[point.number])
        # how the point ran (threads, chunks, the synapse model "auto" chose) may differ; what it is may not
        same = {"network": {"synapse_model": expected.network.synapse_model},
                "simulation": {"threads": expected.simulation.threads, "chunk": expected.simulation.chunk}}
        if stored.replace(**same) != expected:
            raise ConfigError(f"{spikes} was not run with the configuration of point {point.name} ({point.label}); "
                              f"run it with --config {spikes.parent / CONFIG_FILE}")
        if attrs.get("status") != "complete":
            outcome = {"status": f"{STATUS_FAILED}: the run is {attrs.get('status')}"}
        else:
            prediction = theory.predict(expected, table=found.table)
            outcome = {**summarise(spikes, prediction), "status": STATUS_OK, "spike_file": str(spikes),
                       "wall_time": sum(json.loads(attrs.get("wall_time_s", "{}")).values()) or np.nan}
        results.record(point, outcome, folder)
        log.info("%s %s: %s", point.name, point.label, outcome["status"])
    folder.mkdir(parents=True, exist_ok=True)
    results.write(path)
    counts = results.counts()
    log.info("%d points ok, %d failed, %d without a spike file; wrote %s", counts["ok"], counts["failed"],
             counts["pending"], path)
    return results.dataset()
