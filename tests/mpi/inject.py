"""``python -m microcircuit.run`` with one rank made to fail: a helper the MPI tests start with mpirun.

Usage::

    python inject.py MODE RANK [options of python -m microcircuit.run]

MODE is one of

* ``config``: rank RANK meets an input error before NEST is touched (the others do not);
* ``raise``: rank RANK fails with an OSError while the others simulate (at the first chunk
  that ends at or after 200 ms model time), as a full disk would;
* ``signal``: rank RANK alone gets SIGTERM at that point (as from a scheduler that signals one task).
"""
from __future__ import annotations

import os
import signal
import sys

from microcircuit import output, parallel, simulation
from microcircuit.commands.run import main
from microcircuit.errors import ConfigError

mode, bad_rank = sys.argv[1], int(sys.argv[2])
if mode == "config":
    derive = simulation.derive

    def failing_derive(config, table):
        if parallel.rank() == bad_rank:
            raise ConfigError("injected input error")
        return derive(config, table)

    simulation.derive = failing_derive
elif mode in ("raise", "signal"):
    append = output.SpikeWriter.append
    done = []

    def failing_append(self, senders, times, t_reached, *vm):
        append(self, senders, times, t_reached, *vm)
        if parallel.rank() == bad_rank and t_reached >= 200.0 and not done:
            done.append(t_reached)
            if mode == "raise":
                raise OSError("injected write error")
            os.kill(os.getpid(), signal.SIGTERM)

    output.SpikeWriter.append = failing_append
else:
    sys.exit(f"inject.py: unknown mode {mode}")
sys.exit(main(sys.argv[3:]))
