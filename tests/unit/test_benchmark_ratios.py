"""The ratio summary of ``benchmark --compare``: mean ± sd, ratio of means and its bootstrap interval."""
from __future__ import annotations

import doctest

import numpy as np

from microcircuit.commands import benchmark


def test_doctests():
    assert doctest.testmod(benchmark).failed == 0


def test_interval_covers_a_true_ratio_and_excludes_none():
    """Six rounds whose second variant is 10 % faster, with ±3 % noise per run (this machine's noise
    between alternating neighbours is of that order): the 95 % interval contains 1.10 and not 1.0."""
    rng = np.random.default_rng(1)
    b = 5.0 * rng.uniform(0.9, 1.1, 6)          # slow and fast periods, shared by both runs of a round
    a = 1.10 * b * rng.normal(1.0, 0.03, 6)
    lo, hi = benchmark.ratio_interval(a, b)
    assert lo < 1.10 < hi and lo > 1.0
    assert lo < a.mean() / b.mean() < hi


def test_identical_variants_give_an_interval_around_one():
    rng = np.random.default_rng(2)
    b = rng.normal(5.0, 0.5, 8)
    lo, hi = benchmark.ratio_interval(b * rng.normal(1.0, 0.05, 8), b)
    assert lo < 1.0 < hi and hi - lo < 0.2


def test_summary_names_both_variants_and_the_interval():
    records = [{"neuron": n, "t_construct_s": 2.0, "real_time_factor": rtf, "peak_rss_mb": 600.0}
               for n, rtf in [("nestml", 5.0), ("builtin", 4.0), ("builtin", 4.2), ("nestml", 5.1),
                              ("nestml", 4.9), ("builtin", 4.1)]]
    what, first, second = benchmark.COMPARISONS["builtin"]
    text = benchmark.format_ratios([r for r in records if first(r)], [r for r in records if second(r)], what)
    assert text.startswith("NESTML / built-in")
    line = next(x for x in text.splitlines() if "real-time factor" in x)
    assert "5.000 ± 0.1 / 4.100 ± 0.1 = 1.220" in line and "[" in line


def test_ratios_of_two_record_files(tmp_path, capsys):
    """--ratios pairs the runs of two --json files (e.g. two commits run alternately) in order."""
    import json

    def records(rtfs):
        return [{"neuron": "nestml", "scale": 0.5, "threads": 2, "background": "dc", "t_construct_s": 30.0,
                 "t_sim_s": 2 * x, "real_time_factor": x, "num_spikes": 100, "peak_rss_mb": 2000.0,
                 "nest_memory_mb": None} for x in rtfs]
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(records([16.0, 18.0, 17.0])))
    old.write_text(json.dumps(records([20.0, 22.0, 21.0])))
    assert benchmark.main(["--ratios", str(new), str(old)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "real-time factor" in x)
    assert "17.00 ± 1 / 21.00 ± 1 = 0.810" in line
    assert benchmark.main(["--ratios", str(new), str(tmp_path / "missing.json")]) == 2
