"""The Poisson background drawn inside the NESTML neuron (``--poisson-source neuron``)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from microcircuit import install_neuron_module

H = 0.1          # ms
RATE = 16_000.0  # spikes/s, PD14's L4E background at full scale (2100 inputs x 8 spikes/s)
W = 87.808494    # pA


@pytest.fixture(scope="module")
def background_counts():
    """Number of background spikes per step, recovered exactly from I_syn of a neuron that never fires."""
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.rng_seed = 12
    model = install_neuron_module()
    n = nest.Create(model, params={"V_th": 1e9, "bg_rate": RATE, "bg_weight": W})
    mm = nest.Create("multimeter", params={"record_from": ["I_syn"], "interval": H})
    nest.Connect(mm, n)
    nest.Simulate(20_000.0)
    i_syn = mm.events["I_syn"]
    p11 = np.exp(-H / 0.5)
    counts = (i_syn[1:] - p11 * i_syn[:-1]) / W
    nest.ResetKernel()
    return counts


def test_counts_are_whole_numbers(background_counts):
    # I_syn = P11 I_syn + W n exactly, so n comes back up to rounding of ~1e-13 relative
    np.testing.assert_allclose(background_counts, np.round(background_counts), atol=1e-6)


def test_counts_follow_the_poisson_distribution(background_counts):
    """Chi-square goodness of fit to Poisson(RATE h) over 200 000 steps.

    A correct sampler fails this with probability 1e-4 (the threshold on the p value);
    a sampler off by 1 % in its mean gives p ~ 1e-20 at this sample size.
    """
    n = np.round(background_counts).astype(int)
    lam = RATE * H / 1000.0
    k_max = 8
    observed = np.bincount(np.minimum(n, k_max), minlength=k_max + 1)
    expected_p = stats.poisson.pmf(np.arange(k_max), lam)
    expected_p = np.append(expected_p, 1 - expected_p.sum())
    chi2, p = stats.chisquare(observed, expected_p * n.size)
    assert p > 1e-4, (observed, expected_p * n.size)
    assert abs(n.mean() - lam) < 4 * np.sqrt(lam / n.size)  # 4 standard errors
