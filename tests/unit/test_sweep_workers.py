"""The sweep's worker processes: started early by the command, and a worker that cannot start.

``python -m microcircuit.sweep`` starts its workers before it reads its arguments properly, from
a guess (:func:`microcircuit.sweep.__main__.workers_to_start`); a worker whose imports fail
must say why for every point it is given instead of dying silently (its output goes nowhere
until a point names the log file).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

import psutil
import pytest

from microcircuit.sweep import child, workers
from microcircuit.sweep.__main__ import workers_to_start


@pytest.mark.parametrize("argv, expected", [
    ([], 1),
    (["--workers", "2"], 2),
    (["--workers=2", "--vary", "g=-4,-5"], 2),
    (["--workers", "two"], 0),  # argparse will refuse it: start nothing
    (["--help"], 0), (["-h"], 0), (["--print-points"], 0), (["--collect"], 0), (["--write-configs"], 0),
    (["--scheduler", "tcp://head:8786"], 0), (["--scheduler=tcp://head:8786"], 0),
    (["--workers", "2", "--debug"], 0),  # --debug workers write to the terminal from their start
])
def test_the_command_starts_the_workers_it_will_use(argv, expected):
    assert workers_to_start(argv) == min(expected, os.cpu_count())


def test_more_workers_than_cores_are_not_started_early():
    assert workers_to_start(["--workers", "500"]) == os.cpu_count()


def test_a_worker_that_cannot_start_fails_every_point_with_the_reason(monkeypatch):
    """The worker's program, in this process, with its imports failing: every point is answered 'failed' with the
    import's error, and the worker goes on listening."""
    def broken_import():
        raise ImportError("libnest.so: cannot open shared object file")

    for name, value in (("PYNEST_QUIET", "1"), ("MPLBACKEND", "Agg")):  # the worker's program sets them
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(child, "_warm_up", broken_import)
    monkeypatch.setattr(child, "_die_with_parent", lambda parent: None)
    log = logging.getLogger("microcircuit")  # the worker's program sets the package's logging up as its own
    for name in ("handlers", "level", "propagate"):
        monkeypatch.setattr(log, name, getattr(log, name) if name != "handlers" else [])
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    worker = threading.Thread(target=child.main, args=([str(to_child_r), str(from_child_w), str(os.getpid())],))
    worker.start()
    outbox, inbox = Connection(to_child_w, readable=False), Connection(from_child_r, writable=False)

    def answer():
        assert inbox.poll(30), "the worker did not answer"
        return inbox.recv()

    try:
        assert answer()[0] == "ready"
        for name in ("p00000", "p00001"):
            outbox.send({"name": name, "config": {}})
            assert answer() == ("start", name)
            kind, status, trace = answer()
            assert kind == "failed"
            assert status == ("failed: the worker process could not start: ImportError: libnest.so: cannot open "
                              "shared object file")
            assert "broken_import" in trace
    finally:
        outbox.close()  # the worker ends when its input closes
        worker.join(10)
        inbox.close()
    assert not worker.is_alive()


def test_workers_started_early_and_not_taken_are_ended(monkeypatch):
    monkeypatch.setattr(workers, "_early", [])
    workers.start_early(2)
    started = [c.proc.pid for c in workers._early]
    assert len(started) == 2 and all(psutil.pid_exists(p) for p in started)
    taken = workers._take_early("WARNING")
    assert taken is not None and taken.proc.pid == started[0]
    assert workers._take_early("INFO") is None  # a worker of another log level is not used: ended
    assert not psutil.pid_exists(started[1]) or psutil.Process(started[1]).status() == psutil.STATUS_ZOMBIE
    workers._early.append(taken)
    workers.end_early()
    assert workers._early == [] and taken.proc.poll() is not None


def test_a_sweep_ends_the_early_workers_it_does_not_need_and_counts_their_memory_as_available(monkeypatch):
    monkeypatch.setattr(workers, "_early", [])
    workers.start_early(2)
    first, second = workers._early
    assert workers.early_rss_mb() > 0  # two Python processes, importing NEST
    workers.trim_early(1)
    assert workers._early == [first] and second.proc.poll() is not None
    workers.end_early()
    assert first.proc.poll() is not None and workers.early_rss_mb() == 0


def test_a_worker_that_cannot_write_its_log_fails_the_point_with_the_reason(tmp_path):
    """The log named by the sweep is a folder: a worker started early says so for the point; one started for
    the sweep cannot be started at all, which the sweep records as the point's failure (engine._outcome)."""
    log = tmp_path / "workers.log"
    log.mkdir()
    early = workers.Child("WARNING", early=True)
    try:
        outcome = early.run({"name": "p00000", "config": {}, "log": str(log)}, timeout=120)
    finally:
        early.kill()
        early.close()
    assert outcome["status"].startswith("failed: the worker process cannot write its log ") and "directory" in \
        outcome["status"]
    with pytest.raises(IsADirectoryError):
        workers.Child("WARNING", log)


def test_what_a_worker_started_early_says_before_its_first_point_reaches_the_log(tmp_path, monkeypatch):
    """A worker started early writes into a temporary file until a point names the log, then copies it there.
    PYTHONVERBOSE makes its interpreter say something while it starts (every import, on stderr)."""
    monkeypatch.setenv("PYTHONVERBOSE", "1")
    log = tmp_path / "workers.log"
    early = workers.Child("WARNING", early=True)
    try:
        outcome = early.run({"name": "p00000", "config": {"simulation": {"threads": -1}}, "log": str(log)}, 120)
    finally:
        early.kill()
        early.close()
    assert outcome["status"].startswith("failed")
    text = log.read_text()
    started = text.find("import 'microcircuit.sweep.status'")
    failed = text.find(f"[worker {early.pid}] point p00000: failed")
    assert 0 <= started < failed  # what it said while starting, then the point's failure


def test_a_refused_command_line_ends_its_early_worker_and_writes_nothing(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "microcircuit.sweep", "--vary", "g=-4,x", "-o", str(tmp_path / "s")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "error: network.g" in err
    assert not (tmp_path / "s").exists()
    # the worker's command line names the sweep's process id
    left = [p for p in psutil.process_iter(["cmdline"])
            if "microcircuit.sweep.child" in (p.info["cmdline"] or []) and str(proc.pid) in p.info["cmdline"]]
    assert not [p for p in left if p.status() != psutil.STATUS_ZOMBIE]
