"""The benchmark command runs and writes its JSON records (how fast is measured by the command, not here)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

REQUIRED = {"neuron", "scale", "threads", "background", "t_construct_s", "t_sim_s", "real_time_factor",
            "peak_rss_mb"}


def test_benchmark_compare_writes_json(tmp_path):
    path = tmp_path / "bench.json"
    out = subprocess.run([sys.executable, "-m", "microcircuit.benchmark", "--scale", "0.05", "--t-presim", "50",
                          "--t-sim", "200", "--background", "poisson", "--compare", "builtin", "--json", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    records = json.loads(path.read_text())
    assert [r["neuron"] for r in records] == ["nestml", "builtin"]
    for r in records:
        assert REQUIRED <= set(r)
        assert r["scale"] == 0.05 and r["threads"] == 2 and r["background"] == "poisson"
        assert r["t_sim_s"] > 0 and r["real_time_factor"] == pytest.approx(r["t_sim_s"] / 0.2)
        assert r["num_spikes"] > 0 and r["peak_rss_mb"] > 100
    # same network, same seed: the two neuron models emit the same number of spikes
    assert records[0]["num_spikes"] == records[1]["num_spikes"]
    # which neuron ran: the NESTML sources and build of the first, "not used" for the built-in one
    assert records[0]["nestml_source_sha256"].endswith("  iaf_psc_exp_pd14.nestml") and len(records[0]["build_fingerprint"]) == 64
    assert records[1]["nestml_source_sha256"] == records[1]["build_fingerprint"] == "not used"
    assert "real-time factor" in out.stdout and "NESTML / built-in: mean ± sd" in out.stdout


def test_benchmark_defaults_follow_the_recipe():
    out = subprocess.run([sys.executable, "-m", "microcircuit.benchmark", "--print-config"], capture_output=True,
                         text=True, check=True)
    import tomllib

    cfg = tomllib.loads(out.stdout)
    assert cfg["network"]["n_scaling"] == 1.0 and cfg["network"]["k_scaling"] == 1.0
    assert cfg["network"]["background"] == "dc" and cfg["network"]["v0"] == "optimized"
    assert cfg["simulation"]["t_presim"] == 500.0 and cfg["simulation"]["t_sim"] == 10_000.0
