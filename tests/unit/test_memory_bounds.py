"""Resident memory does not grow with the number of recorded spikes (no NEST: the run loop with a stand-in network).

A run streams every chunk's spikes to its partial file and, at the end, writes ``spikes.nc`` from
it. Both must stay within a fixed bound however long the run: netCDF's default HDF5 chunk cache
(64 MiB per variable) made resident memory grow by ~20 bytes per recorded spike until it was full,
and the end of a run used to sort all spikes at once (~40 bytes per spike). Here the real run loop
(``runloop.run``) and ``SpikeWriter`` record 3 million spikes from a stand-in for NEST's
``simulate_chunk``, in a fresh process, which reports its resident memory after the warm-up, at the
end of the simulation, and its peak while writing the file.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r"""
import json, sys
import numpy as np
from microcircuit import network, output, runloop
import microcircuit as mc

def kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])

N, PER_CHUNK = 80_000, 30_000           # neurons; spikes per 100 ms chunk (a full-scale network's rate)
rng = np.random.default_rng(0)
clock = [0.0]

def fake_chunk(net, duration, neuron_model="nestml", local_vm=None):
    t0 = clock[0]
    clock[0] += duration
    times = np.round(rng.uniform(t0, clock[0], PER_CHUNK), 1)
    return network.Chunk(rng.integers(1, N + 1, PER_CHUNK), times)

network.simulate_chunk = fake_chunk
network.local_spike_count = lambda: PER_CHUNK
output.SORT_BLOCK_SPIKES = 500_000     # a long run's file is written in many blocks
output.READ_BLOCK = 1 << 18

class Net:
    timings = network.Timings()
    spikes = {"presim": 0, "sim": 0}
    def local_vm_neurons(self):
        return np.empty(0, np.int64)

config = mc.Config(simulation=mc.SimulationParams(t_presim=1000.0, t_sim=9000.0))  # 100 chunks, 3e6 spikes
writer = output.SpikeWriter(sys.argv[1], np.arange(1, N + 1), np.repeat(["A", "B"], N // 2), {"t_start": 1000.0})
marks = {}
def progress(phase, t, total):
    if t == 1000.0:
        marks["warm"] = kb("VmRSS")
runloop.run(Net(), config, writer, progress)
marks["end"] = kb("VmRSS")
marks["peak_before_finish"] = kb("VmHWM")
writer.finish()
marks["peak_finish"] = kb("VmHWM")
print(json.dumps(marks))
"""


def test_memory_does_not_grow_with_recorded_spikes(tmp_path):
    """Growth after the warm-up: at most 2 MB per million spikes (the two-chunk caches of the partial file
    fill within the first ~0.1 million; without them: 41 MB over these 2.7 million spikes). Writing
    the file in blocks of 0.5 million spikes adds at most 60 MB to the peak (measured 49 MB: 0.5e6 x
    59 bytes while sorting, ~20 MB of buffers and caches; all 3 million at once: 193 MB)."""
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "spikes.nc")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    kb = json.loads(out.stdout.strip().splitlines()[-1])
    spikes_after_warmup = 2.7e6
    growth_mb = (kb["end"] - kb["warm"]) / 1024
    assert growth_mb <= 2.0 * spikes_after_warmup / 1e6, kb
    assert (kb["peak_finish"] - kb["peak_before_finish"]) / 1024 <= 60.0, kb
