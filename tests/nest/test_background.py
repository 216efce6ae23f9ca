"""The Poisson background drawn inside the NESTML neuron (``--poisson-source neuron``)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from microcircuit import install_neuron_module

H = 0.1          # ms
W = 87.808494    # pA


# PD14's L4E background at full scale (2100 inputs x 8 spikes/s: 1.68 spikes per step), where
# the sampler's table covers almost every draw, and a mean of 12 per step, where most draws
# need the sampler's tail search beyond 7 spikes.
RATES = [16_800.0, 120_000.0]  # spikes/s


@pytest.fixture(scope="module", params=RATES, ids=lambda r: f"{r * H / 1000:g} per step")
def background_counts(request):
    """Number of background spikes per step, recovered exactly from I_syn of a neuron that never fires."""
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.rng_seed = 12
    model = install_neuron_module()
    n = nest.Create(model, params={"V_th": 1e9, "bg_rate": request.param, "bg_weight": W})
    mm = nest.Create("multimeter", params={"record_from": ["I_syn"], "interval": H})
    nest.Connect(mm, n)
    nest.Simulate(20_000.0)
    i_syn = mm.events["I_syn"]
    p11 = np.exp(-H / 0.5)
    counts = (i_syn[1:] - p11 * i_syn[:-1]) / W
    nest.ResetKernel()
    return request.param * H / 1000.0, counts


def test_counts_are_whole_numbers(background_counts):
    # I_syn = P11 I_syn + W n exactly, so n comes back up to rounding of ~1e-13 relative
    _, counts = background_counts
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)


def test_counts_follow_the_poisson_distribution(background_counts):
    """Chi-square goodness of fit to Poisson(rate h) over 200 000 steps.

    Counts below the 1e-4 quantile and above the 1 - 1e-4 quantile are pooled, so that every
    class expects at least ~20 draws. A correct sampler fails this with probability 1e-4 (the
    threshold on the p value); a sampler off by 1 % in its mean gives p ~ 1e-20 at this sample size.
    """
    lam, counts = background_counts
    n = np.round(counts).astype(int)
    k_lo, k_hi = (int(k) for k in stats.poisson.ppf([1e-4, 1 - 1e-4], lam))
    observed = np.bincount(np.clip(n, k_lo, k_hi) - k_lo, minlength=k_hi - k_lo + 1)
    k = np.arange(k_lo, k_hi + 1)
    expected_p = stats.poisson.pmf(k, lam)
    expected_p[0] = stats.poisson.cdf(k_lo, lam)
    expected_p[-1] = stats.poisson.sf(k_hi - 1, lam)
    chi2, p = stats.chisquare(observed, expected_p * n.size)
    assert p > 1e-4, (observed, expected_p * n.size)
    assert abs(n.mean() - lam) < 4 * np.sqrt(lam / n.size)  # 4 standard errors
