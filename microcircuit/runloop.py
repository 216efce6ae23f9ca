"""The run loop: warm-up and simulation in chunks, each chunk's spikes to disk, stopping on a signal.

Simulating in chunks keeps memory bounded (the recorder is emptied after every chunk) and lets
a run stop cleanly: SIGINT or SIGTERM ends the loop after the current chunk, with everything
simulated so far on disk. If the loop fails, what was written stays recoverable.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable

from . import network, parallel
from .errors import option
from .output import STATUS_COMPLETE, SpikeWriter
from .parameters import Config

log = logging.getLogger("microcircuit")


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag that the run loop checks after every chunk.

    On several MPI processes the check is collective (every rank calls it once per chunk):
    the ranks agree to stop when any of them got a signal, so that all stop after the same
    chunk; ``signal_name`` is then the first rank's signal on every rank.
    """

    def __init__(self):
        self.signal_name: str | None = None
        self.stopped = False
        self._saved = {}

    def __call__(self) -> bool:
        if not self.stopped:
            names = [n for n in parallel.allgather(self.signal_name) if n is not None]
            if names:
                self.signal_name = names[0]
                self.stopped = True
        return self.stopped

    def _handler(self, signum, frame):
        if self.signal_name is not None:  # second signal: give up immediately
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: stopping after the current chunk and writing what was simulated",
                    self.signal_name)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        return False


def run(net: network.Network, config: Config, writer: SpikeWriter | None = None,
        progress: Callable[[str, float, float], None] | None = None) -> tuple[float, str]:
    """Simulate warm-up and simulation chunk by chunk; return the model time reached (ms) and the status.

    After every chunk its spikes (and membrane-potential samples) go to ``writer`` and ``progress("simulate", t, t_total)`` is
    called. The status is ``"complete"``, or says at what time which signal stopped the run.
    The times of the phases are added to ``net.timings``. If anything fails, the spikes written
    so far are kept (see :func:`_keep_partial`) and the exception propagates.
    """
    sim = config.simulation
    t_total = sim.t_presim + sim.t_sim
    t = written = 0.0
    if progress is not None:
        progress("simulate", 0.0, t_total)
    with StopRequest() as stop:
        try:
            local_vm = net.local_vm_neurons() if writer is not None else None
            for phase, duration in (("presim", sim.t_presim), ("sim", sim.t_sim)):
                t_end = t + duration
                t0 = time.perf_counter()
                try:
                    while t < t_end - 1e-9:
                        step = min(sim.chunk, t_end - t)
                        chunk = network.simulate_chunk(net, step, config.network.neuron_model, local_vm)
                        net.spikes[phase] += network.local_spike_count()
                        t = round(t + step, 10)
                        if writer is not None:
                            writer.append(chunk.senders, chunk.times, t, chunk.vm_times, chunk.V_m, chunk.I_syn)
                        written = t
                        if progress is not None:
                            progress("simulate", t, t_total)
                        if stop():
                            return t, f"incomplete: interrupted by {stop.signal_name} at t = {t:g} ms"
                finally:
                    setattr(net.timings, phase, getattr(net.timings, phase) + time.perf_counter() - t0)
        except BaseException as exc:
            if writer is not None:
                _keep_partial(writer, f"incomplete: run ended by {type(exc).__name__} at t = {written:g} ms")
            raise
    return t, STATUS_COMPLETE


def _keep_partial(writer: SpikeWriter, status: str) -> None:
    """After a failure: on one process write spikes.nc with what was simulated; on several, keep this rank's file.

    The other ranks of a failed multi-process run are ended, not asked, so rank 0 cannot merge;
    ``--recover`` merges the files of all ranks afterwards.
    """
    try:
        if writer.size == 1:
            writer.finish(status)
            return
        writer.close()
    except Exception:  # never hide the original error
        log.exception("could not write the partial spike file")
        return
    log.error("the spikes simulated so far stay in %s; after the job, %s (DIR = %s) writes spikes.nc from the "
              "files of all ranks", writer.partial, option("recover"), writer.path.parent)
