"""Refactoring guard: small runs give exactly the spikes they gave when this test was written.

Each case runs ``python -m microcircuit.run`` (the whole pipeline: options, derivation, network
construction, chunked simulation, spike file) and compares SHA-256 hashes of the bytes of
``spike_count`` (int64) and ``spike_time`` (float64) with the values stored in
``fingerprints.json`` next to this file. The hashes were recorded on main at commit f74c7c5,
before the package was reorganised, with NEST 3.10.0 and NESTML 9.0.0 on x86-64; NEST guarantees
identical spikes for the same seed and number of virtual processes, so a correct restructuring
cannot change them.

A deliberate change of the model or of the order of random draws changes them too: then
compare statistics first (``python -m microcircuit.validate``) and regenerate the file with
``python tests/integration/test_fingerprint.py --write``, saying why in the commit message.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

HERE = Path(__file__).resolve().parent
FINGERPRINTS = HERE / "fingerprints.json"

COMMON = ["--t-presim", "100", "--t-sim", "700", "--threads", "2", "--no-plots", "--quiet"]
# Every path through network construction: both neuron models, both background modes and both
# Poisson sources, both stimuli (the thalamic pulse at 700 ms and the DC pulse at 650-750 ms
# fall inside these 800 ms), and different seeds and scalings.
CASES = {
    "nestml_poisson_generator": ["--scale", "0.05", "--seed", "3"],
    "builtin_poisson_stimuli": ["--scale", "0.05", "--seed", "4", "--neuron", "builtin", "--thalamic",
                                "--dc-stimulus"],
    "nestml_poisson_in_neuron_stimuli": ["--scale", "0.05", "--seed", "5", "--poisson-source", "neuron",
                                         "--thalamic", "--dc-stimulus"],
    "nestml_dc_original_v0": ["--n-scale", "0.05", "--k-scale", "0.5", "--seed", "6", "--background", "dc",
                              "--v0", "original"],
}


def fingerprint(path: Path) -> dict:
    with xr.open_dataset(path, engine="netcdf4") as ds:
        counts = np.ascontiguousarray(ds["spike_count"].values, dtype="<i8")
        times = np.ascontiguousarray(ds["spike_time"].values, dtype="<f8")
    return {"spikes": int(times.size), "neurons": int(counts.size),
            "spike_count_sha256": hashlib.sha256(counts.tobytes()).hexdigest(),
            "spike_time_sha256": hashlib.sha256(times.tobytes()).hexdigest()}


def run_case(name: str, out: Path) -> dict:
    cmd = [sys.executable, "-m", "microcircuit.run", *CASES[name], *COMMON, "--output", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return fingerprint(out / "spikes.nc")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_spikes_are_byte_identical_to_the_stored_fingerprint(name, tmp_path):
    stored = json.loads(FINGERPRINTS.read_text())["cases"][name]
    got = run_case(name, tmp_path / name)
    assert got["spikes"] > 1000, "an active network: an empty file would match trivially"
    assert got == stored


if __name__ == "__main__":  # python tests/integration/test_fingerprint.py --write
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {name: run_case(name, Path(tmp) / name) for name in CASES}
    FINGERPRINTS.write_text(json.dumps({"common_options": COMMON, "options": CASES, "cases": cases}, indent=2) + "\n")
    print(f"wrote {FINGERPRINTS}")
