"""Where a sweep's points run: worker processes on this machine, or on a Dask cluster.

NEST has one kernel per process, so every point runs in a worker process of its own
(:class:`Child`, ``python -m microcircuit.sweep.child``), which imports NEST once and then runs
point after point: ``simulate`` resets the kernel when it builds and releases the network's
memory when it ends (``network.release``), so a worker after a point is as it was before it
(docs/sweeps.md measures the alternative, a fresh process per point, and why it is not the
default). A worker is killed for a timeout, and a worker that dies (killed by the kernel's
out-of-memory killer, or crashed) is replaced; either way the point is recorded and the sweep
goes on.

* :class:`LocalExecutor`: ``N`` threads on this machine, each driving its own worker process.
* :class:`DaskExecutor`: one task per point on a ``dask.distributed`` cluster; the task drives
  a worker process on the Dask worker's machine (:func:`dask_point`), so that timeouts, crashes
  and out-of-memory kills stay the point's own and do not take the Dask worker down.

Both hand back one outcome dict per point: the summary of :func:`.point.run_point` (status
"ok"), or ``status`` "failed: ...", "timeout" or "out of memory".
"""
from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

from .status import STATUS_FAILED, STATUS_OOM, STATUS_TIMEOUT, short

POLL_S = 1.0  # how often a waiting thread looks at its worker


class Child:
    """One worker process and the two pipes to it.

    ``log_level`` is the level of the package's log messages in the worker. Its stdout and
    stderr go to the file ``log`` (opened here, so that a log that cannot be written is this
    process's error), or with ``early`` to a temporary file that the worker copies into the log
    its first point names, or else its stderr is this process's (its stdout goes nowhere).
    """

    def __init__(self, log_level: str = "ERROR", log: Path | None = None, early: bool = False):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.created = time.perf_counter()
        self.log_level = log_level
        err = open(log, "ab") if log is not None else tempfile.TemporaryFile() if early else None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "microcircuit.sweep.child", str(to_child_r), str(from_child_w),
                 str(os.getpid()), "--log-level", log_level, *(["--early"] if early else [])],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                stdout=err if err is not None else subprocess.DEVNULL, stderr=err,
                start_new_session=True)  # Ctrl-C on the terminal reaches the sweep, which ends its workers
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
            if err is not None:
                err.close()
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(from_child_r, writable=False)
        self.points = 0
        self.startup_s: float | None = None
        self._killed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """End the worker at once (SIGKILL); its point, if any, is lost."""
        self._killed = True
        try:
            self.proc.kill()
        except OSError:
            pass

    def close(self) -> None:
        """Let the worker end (it exits when its input closes), else kill it."""
        for conn in (self.outbox, self.inbox):
            try:
                conn.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()

    def run(self, task: dict, timeout: float | None = None) -> dict:
        """Send ``task`` to the worker and wait for its outcome; kill the worker after ``timeout`` seconds of the point.

        The time the worker needs to start (importing NEST) does not count towards the timeout.
        """
        t0 = time.perf_counter()
        self.points += 1
        try:
            self.outbox.send(task)
        except OSError:
            return self._died(t0)
        deadline = None
        while True:
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.perf_counter()))
            try:
                ready = self.inbox.poll(wait)
                message = self.inbox.recv() if ready else None
            except (EOFError, OSError):
                return self._died(t0)
            if message is None:
                if deadline is not None and time.perf_counter() >= deadline:
                    self.kill()
                    self.proc.wait()
                    return {"status": STATUS_TIMEOUT, "occupied_s": time.perf_counter() - t0}
                if not self.alive() and not self.inbox.poll(0):
                    return self._died(t0)
                continue
            kind = message[0]
            if kind == "ready":
                self.startup_s = message[2]
            elif kind == "start":
                if timeout is not None:
                    deadline = time.perf_counter() + timeout
            elif kind == "done":
                return {**message[1], "occupied_s": time.perf_counter() - t0, "worker": self.pid}
            elif kind == "failed":
                return {"status": message[1], "traceback": message[2], "occupied_s": time.perf_counter() - t0,
                        "worker": self.pid}

    def _died(self, t0: float) -> dict:
        """The outcome of a point whose worker ended without an answer."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        if code == -signal.SIGKILL and not self._killed:
            # nothing here kills a worker without saying so: it was the kernel's out-of-memory killer
            # (or another process); see docs/sweeps.md
            status = STATUS_OOM
        elif code < 0:
            status = f"{STATUS_FAILED}: the worker process died of {signal.Signals(-code).name}"
        else:
            status = f"{STATUS_FAILED}: the worker process ended with exit status {code}"
        return {"status": short(status), "occupied_s": time.perf_counter() - t0, "worker": self.pid}


class LocalExecutor:
    """``workers`` threads, each running points in its own worker process (reused, or fresh per point).

    ``log``: the file of the workers' messages (None: this process's stderr). With a file, the
    workers :func:`start_early` started are used first.
    """

    def __init__(self, workers: int, timeout: float | None = None, fresh: bool = False,
                 log: Path | None = None, log_level: str = "ERROR"):
        self.timeout, self.fresh, self.log, self.log_level = timeout, fresh, log, log_level
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sweep-worker")
        self._local = threading.local()
        self._children: set[Child] = set()
        self._lock = threading.Lock()
        self.stopping = False

    def submit(self, task: dict) -> concurrent.futures.Future:
        return self.pool.submit(self._run, task)

    def as_completed(self, futures):
        return concurrent.futures.as_completed(futures)

    def _child(self) -> Child:
        child = getattr(self._local, "child", None)
        if child is None or not child.alive():
            if child is not None:
                self._forget(child)
            if self.stopping:
                raise concurrent.futures.CancelledError()
            child = (_take_early(self.log_level) if self.log is not None else None) or \
                Child(self.log_level, self.log)
            with self._lock:
                self._children.add(child)
            self._local.child = child
        return child

    def _forget(self, child: Child) -> None:
        child.close()
        with self._lock:
            self._children.discard(child)
        if getattr(self._local, "child", None) is child:
            self._local.child = None

    def _run(self, task: dict) -> dict:
        t0 = time.perf_counter()
        child = self._child()
        outcome = child.run({**task, "log": str(self.log) if self.log is not None else None}, self.timeout)
        if self.fresh or not child.alive():
            self._forget(child)
        outcome["dispatched_s"] = time.perf_counter() - t0  # with starting a fresh worker
        return outcome

    def shutdown(self, kill: bool = False) -> None:
        """Stop: with ``kill``, cancel what has not started and kill the workers at once; else let the points
        that run end first."""
        self.stopping = kill
        if kill:
            self.pool.shutdown(wait=False, cancel_futures=True)
            with self._lock:
                children = list(self._children)
            for child in children:
                child.kill()
        self.pool.shutdown(wait=True)
        with self._lock:
            children = list(self._children)
            self._children.clear()
        for child in children:  # between points a worker holds nothing: end it at once
            child.kill()
            child.close()


_early: list[Child] = []          # started by start_early, not yet taken by a LocalExecutor
_early_lock = threading.Lock()


def start_early(n: int, log_level: str = "WARNING") -> None:
    """Start ``n`` worker processes now, for this process's next :class:`LocalExecutor` to take.

    ``python -m microcircuit.sweep`` calls it before it imports anything heavy: a worker needs
    about a second to import NEST and load the neuron module, and that second then overlaps the
    sweep's own start (imports, checks, memory estimates) instead of following it
    (docs/benchmarks.md). Workers not taken are ended by :func:`end_early`.
    """
    with _early_lock:
        _early.extend(Child(log_level, early=True) for _ in range(n))


def trim_early(n: int) -> None:
    """End the workers started early beyond the first ``n`` (a sweep that needs fewer)."""
    with _early_lock:
        surplus, _early[n:] = _early[n:], []
    for child in surplus:
        child.kill()
        child.close()


def early_rss_mb() -> float:
    """Memory (MB) the workers started early hold now: it is theirs to use for points, not taken from them."""
    total = 0.0
    with _early_lock:
        children = list(_early)
    for child in children:
        try:
            with open(f"/proc/{child.pid}/status") as fh:
                total += next((int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:")), 0.0)
        except (OSError, ValueError):  # ended, or not Linux
            pass
    return total


def _take_early(log_level: str) -> Child | None:
    with _early_lock:
        while _early:
            child = _early.pop(0)
            if child.alive() and child.log_level == log_level:
                return child
            child.kill()
            child.close()
    return None


def end_early() -> None:
    """End the workers :func:`start_early` started that no sweep took (at once: they hold nothing)."""
    with _early_lock:
        children, _early[:] = list(_early), []
    for child in children:
        child.kill()
        child.close()


# ----------------------------------------------------------------------------------------------
# Dask


_idle: list[Child] = []           # this Dask worker's worker processes between points
_idle_lock = threading.Lock()


def dask_point(task: dict, timeout: float | None = None, fresh: bool = False) -> dict:
    """A Dask task: run one point in a worker process of this Dask worker (reused between tasks unless ``fresh``).

    A Dask worker with several threads runs as many points at once, each in its own process.
    """
    t0 = time.perf_counter()
    child = None
    with _idle_lock:
        while _idle and child is None:
            candidate = _idle.pop()
            if candidate.alive():
                child = candidate
            else:
                candidate.close()
    if child is None:
        child = Child()  # its messages go to the Dask worker's stderr
    outcome = child.run(task, timeout)
    if fresh or not child.alive():
        child.close()
    else:
        with _idle_lock:
            _idle.append(child)
    outcome["dispatched_s"] = time.perf_counter() - t0
    return outcome


class DaskExecutor:
    """One Dask task per point on ``client``'s cluster."""

    def __init__(self, client, timeout: float | None = None, fresh: bool = False):
        self.client, self.timeout, self.fresh = client, timeout, fresh
        self._token = uuid.uuid4().hex[:8]
        self._futures = []

    def submit(self, task: dict):
        future = self.client.submit(dask_point, task, self.timeout, self.fresh, pure=False, retries=0,
                                    key=f"microcircuit-sweep-{task['name']}-{self._token}")
        self._futures.append(future)
        return future

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(futures)

    def shutdown(self, kill: bool = False) -> None:
        if kill:
            self.client.cancel(self._futures)  # points already running on a worker finish there, unrecorded

    def workers(self) -> dict:
        """{address: {"nthreads": n, "memory_limit": bytes or 0}} of the cluster's workers."""
        info = self.client.scheduler_info().get("workers", {})
        return {a: {"nthreads": int(w.get("nthreads", 1)), "memory_limit": int(w.get("memory_limit") or 0)}
                for a, w in info.items()}
