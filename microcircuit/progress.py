"""Progress of a simulation: a bar on a terminal, periodic log lines otherwise, nothing when quiet."""
from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("microcircuit")


class Progress:
    """Callable ``progress(t_reached_ms, t_total_ms)`` for ``simulation.run``.

    On a terminal (stderr is a TTY) it draws a tqdm bar with elapsed time and ETA; otherwise
    it logs a line at every ``log_every`` fraction of the run; with ``enabled=False`` it is silent.
    """

    def __init__(self, enabled: bool = True, stream=None, log_every: float = 0.1, force_tty: bool | None = None):
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        tty = self.stream.isatty() if force_tty is None else force_tty
        self.tty = enabled and tty
        self.log_every = log_every
        self._bar = None
        self._next_log = log_every
        self._t0 = None

    def __call__(self, t: float, total: float) -> None:
        if not self.enabled:
            return
        if self._t0 is None:
            self._t0 = time.perf_counter()
        if self.tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=round(total, 6), unit="ms", desc="simulating", file=self.stream,
                                 bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} ms "
                                            "[{elapsed}<{remaining}]")
            self._bar.update(round(t - self._bar.n, 6))
            if t >= total - 1e-9:
                self.close()
        else:
            frac = t / total if total > 0 else 1.0
            if frac >= self._next_log - 1e-9 or t >= total - 1e-9:
                elapsed = time.perf_counter() - self._t0
                eta = elapsed / frac * (1 - frac) if frac > 0 else float("nan")
                log.info("simulated %.0f of %.0f ms (%3.0f%%), elapsed %.1f s, ETA %.1f s", t, total, 100 * frac,
                         elapsed, eta)
                while self._next_log <= frac + 1e-9:
                    self._next_log += self.log_every

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
