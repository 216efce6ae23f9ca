"""Progress of network construction and simulation.

A bar with elapsed time and ETA on a terminal, a log line every 10 % otherwise, nothing when quiet.
"""
from __future__ import annotations

import logging
import shutil
import sys
import time

from . import parallel

log = logging.getLogger("microcircuit")

PHASES = {"connect": ("connecting", "pathways"), "simulate": ("simulating", "ms")}


class Progress:
    """Callable ``progress(phase, done, total)`` for ``simulation.run``.

    ``phase`` is "connect" (done/total = connection steps) or "simulate" (model time in ms).
    On a terminal (the stream is a TTY) it draws a tqdm bar per phase; otherwise it logs a
    line at every ``log_every`` fraction of each phase; with ``enabled=False`` it is silent.
    """

    def __init__(self, enabled: bool = True, stream=None, log_every: float = 0.1, force_tty: bool | None = None):
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        tty = self.stream.isatty() if force_tty is None else force_tty
        self.tty = enabled and tty
        self.log_every = log_every
        self._phase = None
        self._bar = None

    def __call__(self, phase: str, done: float, total: float) -> None:
        if not self.enabled or not parallel.is_root():  # on several MPI processes, rank 0 reports
            return
        if phase != self._phase:
            self.close()
            self._phase = phase
            self._t0 = time.perf_counter()
            self._next_log = self.log_every
        desc, unit = PHASES.get(phase, (phase, ""))
        if self.tty:
            if self._bar is None:
                from tqdm import tqdm

                # a terminal that reports no size (e.g. a fresh pseudo-terminal) gets 80 x 24; tqdm
                # would otherwise take its size as -1 and draw nothing
                size = shutil.get_terminal_size()
                self._bar = tqdm(total=round(total, 6), desc=desc, file=self.stream, leave=False,
                                 ncols=size.columns, nrows=size.lines,
                                 bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} " + unit
                                            + " [{elapsed}<{remaining}]")
            self._bar.update(round(done - self._bar.n, 6))
            if done >= total - 1e-9:
                self.close()
        else:
            frac = done / total if total > 0 else 1.0
            if frac >= self._next_log - 1e-9:
                elapsed = time.perf_counter() - self._t0
                eta = elapsed / frac * (1 - frac) if frac > 0 else float("nan")
                log.info("%s: %.0f of %.0f %s (%3.0f%%), elapsed %.1f s, ETA %.1f s", desc, done, total, unit,
                         100 * frac, elapsed, eta)
                while self._next_log <= frac + 1e-9:
                    self._next_log += self.log_every

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
