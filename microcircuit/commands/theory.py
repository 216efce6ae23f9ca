"""``python -m microcircuit.theory``: the mean-field prediction for the network a run with the same options builds."""
from __future__ import annotations

import logging

from .. import theory
from ..connectivity import load_table
from ..parameters import derive
from . import common

log = logging.getLogger("microcircuit")

PROG = "python -m microcircuit.theory"
DESCRIPTION = """\
Predict, by mean-field theory, the stationary rate of every population, and the mean and fluctuation
of its input, for exactly the network that python -m microcircuit.run with the same options builds
(diffusion approximation with the Fourcaud & Brunel (2002) correction for synaptic filtering, solved
self-consistently across populations). Warns when populations are predicted silent or runaway."""
EXAMPLES = [
    "python -m microcircuit.theory                      # the default network (scale 0.1, Poisson)",
    "python -m microcircuit.theory --scale 1 --background dc",
    "python -m microcircuit.theory --from output/spikes.nc",
]


def parser() -> common.ArgumentParser:
    p = common.ArgumentParser(prog=PROG, description=DESCRIPTION, examples=EXAMPLES)
    common.add_run_options(p)
    common.add_message_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return common.run_command(PROG, parser(), _main, argv)


def _main(args) -> int:
    config, table = common.config_from_args(args)
    if common.print_config(args, config, table):
        return 0
    table = load_table(config.network.connectivity) if table is None else table
    derived = derive(config, table)
    prediction = theory.predict(config, derived)
    print(theory.format_prediction(prediction))
    for line in theory.check(config, derived, prediction, table=table):
        log.warning("warning: %s", line)
    return 0
