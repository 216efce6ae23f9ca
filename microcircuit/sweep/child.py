"""A sweep's worker process: ``python -m microcircuit.sweep.child IN_FD OUT_FD PARENT_PID [--log-level LEVEL] [--early]``.

Started by :class:`microcircuit.sweep.workers.Child`, never by hand. It imports NEST once,
then runs the points it receives on file descriptor IN_FD one after another
(:func:`microcircuit.sweep.point.run_point`) and sends on OUT_FD: ``("ready", pid, seconds
to start)``, then per point ``("start", name)`` and ``("done", summary)`` or ``("failed",
status, traceback)``. A task's ``log`` (a file name) receives the process's stdout and stderr
from then on (with ``--early``, first what it wrote before into the temporary file on its
stderr). It ends when IN_FD closes, and (on Linux) when the thread of the parent that started
it ends, so that a killed sweep leaves no worker behind.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection

from .status import STATUS_FAILED, short

PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal this process gets when its parent (thread) ends


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the closed pipe ends the worker after its point
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _warm_up() -> None:
    """Import NEST and load the neuron module now, so that the first point's time is its own."""
    from .. import network

    try:
        network.install_neuron_module()
    except Exception:  # e.g. a sweep of the built-in neuron without a built module: the point reports it
        pass


def _log_to(path: str | None, current: list, early: bool) -> None:
    """Send this process's stdout and stderr (NEST's messages and the log's) to the file ``path`` from now on.

    A worker started early (``early``) has written so far into a temporary file on its stderr: that
    goes into the log first. OSError if the log cannot be opened.
    """
    if not path or current == [path]:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    if early and not current:
        try:
            os.lseek(2, 0, os.SEEK_SET)
            while chunk := os.read(2, 1 << 16):
                os.write(fd, chunk)
        except OSError:  # not the temporary file (run by hand): nothing to carry over
            pass
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    current[:] = [path]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    t0 = time.perf_counter()
    in_fd, out_fd, parent = (int(a) for a in argv[:3])
    level = argv[argv.index("--log-level") + 1] if "--log-level" in argv else "ERROR"
    early = "--early" in argv  # stderr is a temporary file until a point names the log
    _die_with_parent(parent)
    os.environ.setdefault("PYNEST_QUIET", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[worker {os.getpid()}] %(message)s"))
    root = logging.getLogger("microcircuit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    inbox, outbox = Connection(in_fd, writable=False), Connection(out_fd, readable=False)
    try:
        from .point import failure, run_point

        _warm_up()
        broken = None
    except BaseException:  # noqa: BLE001 - told to every point (this process may have no log file yet)
        broken = traceback.format_exc()
    outbox.send(("ready", os.getpid(), time.perf_counter() - t0))
    log_file: list = []
    while True:
        try:
            task = inbox.recv()
        except (EOFError, OSError):
            return 0
        try:
            _log_to(task.get("log"), log_file, early)
            cannot_log = None
        except OSError as exc:
            cannot_log = f"{STATUS_FAILED}: the worker process cannot write its log {task['log']} ({exc.strerror})"
        outbox.send(("start", task["name"]))
        if cannot_log is not None:
            message = ("failed", short(cannot_log), "")
        elif broken is not None:
            message = ("failed", short(f"{STATUS_FAILED}: the worker process could not start: "
                                       f"{broken.strip().splitlines()[-1]}"), broken)
        else:
            try:
                message = ("done", run_point(task))
            except BaseException as exc:  # noqa: BLE001 - every failure of a point is reported, the worker goes on
                message = ("failed", failure(exc), traceback.format_exc())
        if message[0] == "failed":
            root.error("point %s: %s\n%s", task["name"], message[1], message[2])
        outbox.send(message)


if __name__ == "__main__":
    sys.exit(main())
