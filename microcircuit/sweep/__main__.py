"""``python -m microcircuit.sweep``: see :mod:`microcircuit.commands.sweep`.

The sweep's worker processes are started first, while this process imports the rest (about a
second each, in parallel; docs/benchmarks.md). How many comes from a look at the arguments
(``--workers N``); the arguments are then read properly, and workers that are not needed (an
error, ``--help``, ``--print-points``, a Dask cluster, ``--debug``) are ended unused.
"""
import os
import sys

from .workers import end_early, start_early

# options after which no worker started here is used: no points run on this machine, or (--debug)
# the workers must write to the terminal from their start
NO_EARLY_WORKERS = ("-h", "--help", "--print-points", "--print-config", "--write-configs", "--collect",
                    "--scheduler", "--debug")


def workers_to_start(argv: list[str]) -> int:
    """How many worker processes the command line will use on this machine (0: none); a guess, capped at the cores."""
    if any(a.split("=", 1)[0] in NO_EARLY_WORKERS for a in argv):
        return 0
    n = 1
    for i, a in enumerate(argv):
        value = a.split("=", 1)[1] if a.startswith("--workers=") else (
            argv[i + 1] if a == "--workers" and i + 1 < len(argv) else None)
        if value is not None:
            n = int(value) if value.isdigit() else 0
    return max(0, min(n, os.cpu_count() or 1))


def main() -> int:
    start_early(workers_to_start(sys.argv[1:]))
    try:
        from ..commands.sweep import main as command

        return command()
    finally:
        end_early()


if __name__ == "__main__":
    sys.exit(main())
