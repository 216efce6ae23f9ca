"""Runs over several MPI processes (ranks): who is who, agreeing, and ending all ranks on an error.

NEST starts MPI when it is imported (if it was built with MPI; see docs/mpi.md) and distributes
the neurons over ``ranks x threads`` virtual processes; it gives every rank the same results as
one process with as many threads. This module adds what a run needs around that:

* the rank and the number of processes: from NEST (``nest.Rank()``, ``nest.NumProcesses()``)
  once it is imported, and before that from the launcher's environment (``mpirun``, ``srun``),
  so that only rank 0 logs and reports input errors from the first line on;
* a barrier: NEST's own (``nest.SyncProcesses()``); spikes are gathered through files
  (see ``output.py``: every rank streams its own partial file, rank 0 merges them);
* agreeing on small values across ranks (did any rank get an error before the network was
  built, or a signal during the run?) and ``MPI_Abort``, which NEST does not offer: these come
  from mpi4py, which a run on more than one process needs.

A rank that fails after the ranks have agreed to build the network prints its one-line message
and calls ``MPI_Abort``, which ends every rank at once (with ``mpirun`` as with ``srun``),
instead of leaving the others waiting in NEST's next collective communication. Errors found
before that point (bad input, missing files, too little memory) are gathered at one
synchronisation point, ``checkpoint``: rank 0 prints them once and every rank exits with the
same status.

With a single process (the usual case, and any NEST without MPI) everything here is a no-op:
no mpi4py is needed and nothing changes.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from .errors import SetupError

log = logging.getLogger("microcircuit")

# Environment variables in which launchers pass the rank / number of processes / processes on
# this node to every process: Open MPI's mpirun, MPICH/Intel MPI (Hydra, PMI), PMIx (srun
# --mpi=pmix, Open MPI 5). Only read before NEST is imported; NEST's answer is authoritative.
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE")


@dataclass
class _State:
    known: bool = False  # rank and size come from NEST
    started: bool = False  # ... and, on several processes, mpi4py is ready
    rank: int = 0
    size: int = 1
    comm: object = None  # mpi4py.MPI.COMM_WORLD when size > 1
    agreed: bool = False  # a checkpoint was passed: later errors are one rank's own


_state = _State()


def _env_int(names) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return None


def launched() -> bool:
    """True when an MPI launcher (mpirun, mpiexec, srun) started this process."""
    return _env_int(_RANK_VARS) is not None or _env_int(_SIZE_VARS) is not None


def rank() -> int:
    """This process's rank: NEST's once started, else the launcher's (0 without a launcher)."""
    if _state.known:
        return _state.rank
    return _env_int(_RANK_VARS) or 0


def size() -> int:
    """Number of MPI processes: NEST's once started, else the launcher's (1 without a launcher)."""
    if _state.known:
        return _state.size
    return _env_int(_SIZE_VARS) or 1


def processes_on_this_node() -> int:
    """Processes of this job on this machine, as the launcher says (all of them if it does not)."""
    return _env_int(_LOCAL_SIZE_VARS) or size()


def is_root() -> bool:
    return rank() == 0


def several() -> bool:
    """True when this run has (or, before NEST is imported, will have) more than one process."""
    return size() > 1


def start() -> None:
    """Import NEST (which starts MPI if NEST has it), learn rank and size; idempotent.

    Raises
    ------
    SetupError
        On more than one process without mpi4py.
    """
    if _state.started:
        return
    from . import network

    nest_rank, nest_size = network.process_info()
    launcher_size = _env_int(_SIZE_VARS)
    if nest_size == 1 and launcher_size is not None and launcher_size > 1:
        raise SetupError(f"mpirun/srun started {launcher_size} processes, but this NEST has no MPI, so each would "
                         "simulate the whole network on its own: install a NEST built with MPI (docs/mpi.md)")
    _state.rank, _state.size = nest_rank, nest_size
    _state.known = True
    if _state.size > 1:
        try:  # after NEST: NEST has initialised MPI, mpi4py uses it as is
            from mpi4py import MPI
        except ImportError:
            raise SetupError(f"running on {_state.size} MPI processes needs mpi4py, which is not installed: "
                             "pip install mpi4py") from None
        _state.comm = MPI.COMM_WORLD
    _state.started = True


def barrier() -> None:
    """Wait until every rank got here (NEST's barrier); no-op on one process."""
    if _state.started and _state.size > 1:
        from . import network

        network.sync_processes()


def allgather(value):
    """The values of all ranks, in rank order, on every rank (``[value]`` on one process)."""
    if _state.started and _state.size > 1:
        return _state.comm.allgather(value)
    return [value]


def gather(value):
    """The values of all ranks in rank order on rank 0; None on the other ranks."""
    if _state.started and _state.size > 1:
        return _state.comm.gather(value, root=0)
    return [value]


def total(value: float) -> int | float:
    """Sum of ``value`` over all ranks, on every rank."""
    return sum(allgather(value))


@dataclass
class Failure:
    """Errors that some ranks met before the network was built, agreed on by all ranks."""

    status: int
    messages: list[tuple[str, list[int]]]  # (message, ranks that had it)
    n_ranks: int

    def lines(self) -> list[str]:
        if len(self.messages) == 1 and len(self.messages[0][1]) == self.n_ranks:
            return [self.messages[0][0]]  # the same error everywhere, e.g. bad input
        out = []
        for message, ranks in self.messages:
            which = f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))}"
            out.append(f"{message} (on {which} of {self.n_ranks})")
        return out


class AgreedError(SetupError):
    """Raised on every rank when a checkpoint found errors on some ranks; rank 0 reports them."""

    def __init__(self, failure: Failure):
        super().__init__("; ".join(failure.lines()))
        self.failure = failure


def checkpoint(error: tuple[str, int] | None = None) -> Failure | None:
    """Collective: tell every rank whether any rank met an error before this point.

    Called with ``error=None`` by ``simulation.simulate`` right before NEST builds the network, and
    with ``(message, exit status)`` by the command-line error handler on a rank that failed
    before getting there, so that both meet in the same collective call. Returns the errors of
    all ranks (None when there were none). With one process it returns at once.
    """
    start()
    _state.agreed = True
    if _state.size == 1:
        return None if error is None else Failure(error[1], [(error[0], [0])], 1)
    errors = _state.comm.allgather(error)
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if not failed:
        return None
    grouped: dict[str, list[int]] = {}
    for r, (message, _) in failed:
        grouped.setdefault(message, []).append(r)
    return Failure(max(e[1] for _, e in failed), list(grouped.items()), _state.size)


def fail(prog: str, message: str, status: int) -> int:
    """Report an error of this rank and end the run; return the exit status (or never return).

    One process: print the message, return ``status``. Several processes, before the ranks
    agreed to build the network: agree on the errors of all ranks (``checkpoint``); rank 0
    prints them once; every rank returns the same status. Several processes after that: print
    the message with this rank's number and end all ranks with ``MPI_Abort``.
    """
    if not several():
        print(f"{prog}: error: {message}", file=sys.stderr)
        return status
    if not _state.agreed:
        try:
            failure = checkpoint((message, status))
        except SetupError:  # the ranks cannot agree (no mpi4py): every rank meets that alike
            if is_root():
                print(f"{prog}: error: {message}", file=sys.stderr)
            return status
        return report_failure(prog, failure)
    print(f"{prog}: error: rank {rank()} of {size()}: {message}", file=sys.stderr, flush=True)
    abort(status)
    return status  # not reached with mpi4py


def report_failure(prog: str, failure: Failure) -> int:
    """Print an agreed failure on rank 0 (once for all ranks); return its exit status."""
    if is_root():
        for line in failure.lines():
            print(f"{prog}: error: {line}", file=sys.stderr)
    return failure.status


def abort(status: int) -> None:
    """End every rank now (MPI_Abort); without mpi4py, end this process (the launcher ends the rest)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    if _state.comm is not None:
        _state.comm.Abort(status)
    os._exit(status)


class RankFilter(logging.Filter):
    """Lets rank 0 log everything and the other ranks only errors, which name their rank."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not several():
            return True
        if not is_root():
            if record.levelno < logging.ERROR:
                return False
            record.msg = f"rank {rank()}: {record.msg}"
        return True
