"""Gathering the ranks' spikes into one file, and the rank bookkeeping (no MPI needed for these)."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from microcircuit import output, parallel
from microcircuit.output import SpikeWriter, merge_partials, partial_path, recover

NEURONS = np.arange(1, 11)
POPS = np.array(["E"] * 6 + ["I"] * 4)
ATTRS = {"seed": 1, "title": "test"}


def spikes(rng, t0, t1, n=40):
    return rng.choice(NEURONS, n), np.round(rng.uniform(t0, t1, n), 1)


def test_merged_ranks_equal_one_writer(tmp_path):
    """Spikes split over 2 ranks by neuron (as NEST places them), merged: the file one process writes."""
    rng = np.random.default_rng(3)
    chunks = [spikes(rng, 0, 100), spikes(rng, 100, 200)]
    (tmp_path / "one").mkdir()
    one = SpikeWriter(tmp_path / "one" / "spikes.nc", NEURONS, POPS, ATTRS)
    writers = [SpikeWriter(tmp_path / "spikes.nc", NEURONS, POPS, ATTRS, rank=r, size=2) for r in range(2)]
    for t, (senders, times) in zip((100.0, 200.0), chunks):
        one.append(senders, times, t)
        for r, w in enumerate(writers):
            mine = senders % 2 == r  # rank r holds these neurons
            w.append(senders[mine][::-1], times[mine][::-1], t)  # in any order
    one.finish()
    for w in writers:
        w.close()
    merge_partials(tmp_path / "spikes.nc", 2)
    merged, single = output.load_spikes(tmp_path / "spikes.nc"), output.load_spikes(tmp_path / "one" / "spikes.nc")
    xr.testing.assert_identical(merged, single)
    assert merged.sizes["spike"] == 80 and merged.attrs["t_simulated"] == 200.0
    assert not list(tmp_path.glob(".spikes.nc.partial*"))


def test_merge_names_missing_rank_files(tmp_path):
    SpikeWriter(tmp_path / "spikes.nc", NEURONS, POPS, ATTRS, rank=0, size=2).close()
    with pytest.raises(FileNotFoundError, match=r"1 of 2 processes are missing \(\.spikes\.nc\.partial-rank1of2"):
        merge_partials(tmp_path / "spikes.nc", 2)


def test_recover_merges_up_to_the_time_all_ranks_reached(tmp_path):
    """A killed job's ranks may have written different numbers of chunks: recover keeps what all cover."""
    path = tmp_path / "spikes.nc"
    w0, w1 = (SpikeWriter(path, NEURONS, POPS, ATTRS, rank=r, size=2) for r in range(2))
    w0.append(np.array([2, 4]), np.array([50.0, 150.0]), 100.0)
    w0.append(np.array([2]), np.array([180.0]), 200.0)
    w1.append(np.array([1, 3]), np.array([60.0, 99.9]), 100.0)
    w0.close()
    w1.close()
    recover(path)
    ds = output.load_spikes(path)
    assert ds.attrs["status"] == "incomplete: recovered from unfinished run data of 2 processes at t = 100 ms"
    assert ds.attrs["t_simulated"] == 100.0
    assert sorted(ds["spike_time"].values.tolist()) == [50.0, 60.0, 99.9]


def test_recover_refuses_incomplete_or_mixed_rank_files(tmp_path):
    path = tmp_path / "spikes.nc"
    SpikeWriter(path, NEURONS, POPS, ATTRS).close()  # a one-process run's data ...
    SpikeWriter(path, NEURONS, POPS, ATTRS, rank=1, size=3).close()  # ... and one rank's of a 3-process run
    with pytest.raises(FileExistsError, match="runs on 1 and 3 processes"):
        recover(path)
    partial_path(path).unlink()
    with pytest.raises(FileNotFoundError, match="run on 3 processes is incomplete: .*rank0of3.*rank2of3"):
        recover(path)


def test_a_new_run_removes_unfinished_data_of_other_process_counts(tmp_path):
    path = tmp_path / "spikes.nc"
    stale = [SpikeWriter(path, NEURONS, POPS, ATTRS, rank=r, size=3) for r in range(3)]
    for w in stale:
        w.close()
    SpikeWriter(path, NEURONS, POPS, ATTRS, rank=0, size=2).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [partial_path(path, 0, 2).name]


LAUNCHER_VARS = ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_RANK",
                 "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                 "MV2_COMM_WORLD_LOCAL_SIZE")


@pytest.fixture
def no_launcher(monkeypatch):
    for name in LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(parallel, "_state", parallel._State())
    return monkeypatch


def test_rank_and_size_from_the_launcher_before_nest(no_launcher):
    assert (parallel.launched(), parallel.rank(), parallel.size(), parallel.several()) == (False, 0, 1, False)
    no_launcher.setenv("OMPI_COMM_WORLD_RANK", "3")
    no_launcher.setenv("OMPI_COMM_WORLD_SIZE", "4")
    no_launcher.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
    assert (parallel.launched(), parallel.rank(), parallel.size(), parallel.processes_on_this_node()) == (True, 3, 4, 2)
    assert not parallel.is_root()


def test_one_process_errors_are_printed_and_returned(no_launcher, capsys):
    assert parallel.fail("prog", "bad input", 2) == 2
    assert capsys.readouterr().err == "prog: error: bad input\n"


def test_agreed_failures_read_as_one_line_per_message():
    same = parallel.Failure(2, [("bad input", [0, 1])], 2)
    assert same.lines() == ["bad input"]
    some = parallel.Failure(2, [("no file", [1]), ("no memory", [2, 3])], 4)
    assert some.lines() == ["no file (on rank 1 of 4)", "no memory (on ranks 2, 3 of 4)"]
