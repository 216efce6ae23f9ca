"""Statistical validation: compare a run's statistics with a reference ensemble (``python -m microcircuit.validate``).

For every population and observable (per-neuron firing rates, ISI CVs, spike-count
correlation coefficients; :mod:`microcircuit.analysis`) -- a *cell* of the table -- the
run's distribution is compared with the reference ensemble (``reference_data/*.nc``, made
with NEST's built-in ``iaf_psc_exp`` by ``reference_data/make_reference.py``) by the
two-sample Kolmogorov-Smirnov distance D.

Pass rule (calibrated on the reference ensemble itself, by leave-one-seed-out):

* ``D_run`` = D(run, all reference seeds pooled);
* every reference seed k in turn plays the new run: ``D_k`` = D(seed k, the other n-1
  seeds pooled), n values per cell;
* on a log scale, each cell's ``log D_k`` are centred on their mean ``l_cell``, and the
  spread ``s`` is pooled over the populations of an observable (one-way ANOVA pooled sd,
  ``P (n - 1)`` degrees of freedom for P populations);
* a cell passes when ``log D_run <= l_cell + q s sqrt(1 + 1/n)``, with ``q`` the
  ``1 - alpha / n_cells`` quantile of Student's t with ``P (n - 1)`` degrees of freedom:
  the one-sided normal prediction bound for a new value, Bonferroni-corrected, so that a
  correct run fails any of the ``n_cells`` cells with probability at most ``alpha``
  (:data:`FAMILY_ALPHA` = 1 %), whatever the correlation between cells.

Why the pooled reference and not the mean of the run's distances to the single seeds: the
mean seed-to-seed distance of a finite ensemble is itself uncertain, and leave-one-out
values cannot see that uncertainty (they average to that very mean by construction);
against the pooled ensemble, a reference's own deviation from the truth is n times smaller
than a run's, so the leave-one-out values predict new runs. Synthetic ensembles with
seed-to-seed variability (``python reference_data/check_rule.py``: references of 5 and 10
seeds, 400 new runs) gave 1 failing correct run in 400 at alpha = 1 % and 10 in 400 at
alpha = 5 %. The classic
seed-to-seed distances (mean and sd over all pairs, docs/model.md §10) are reported too.

The run is analysed over ``[t_start, t_start + T]`` with the reference's T, bin size and
CC neuron sample: correlation statistics depend strongly on T (docs/model.md §10), so a run
shorter than the reference is refused.

Modules: :mod:`.rule` (ensembles, distances, the calibrated thresholds), :mod:`.references`
(reference sets on disk), :mod:`.verdict` (a run against its reference: table and report).
"""
from .references import REFERENCE_DIR, Reference, available_references, choose_reference, load_reference, write_reference
from .rule import (FAMILY_ALPHA, MIN_SEEDS, STORAGE_DECIMALS, STORAGE_DTYPE, calibrate, ensemble, held_out,
                   ks_to_pool, leave_one_out, reference_ks, storage_precision)
from .verdict import Validation, compare, format_table, report, run_statistics, validate

__all__ = ["FAMILY_ALPHA", "MIN_SEEDS", "REFERENCE_DIR", "Reference", "STORAGE_DECIMALS", "STORAGE_DTYPE", "Validation",
           "available_references", "calibrate", "choose_reference", "compare", "ensemble", "format_table",
           "held_out", "ks_to_pool", "leave_one_out", "load_reference", "reference_ks", "report", "run_statistics",
           "storage_precision", "validate", "write_reference"]
