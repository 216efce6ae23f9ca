"""``python build.py`` / ``python -m microcircuit.build``: compile the NESTML neuron into a NEST extension module."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..build import builder, manifest
from ..errors import BuildError, options_named

DESCRIPTION = """\
Compile the NESTML neuron (models/iaf_psc_exp_pd14.nestml) into a NEST extension module for the
NEST that this Python imports. Skipped in well under a second when nothing changed.

The module goes to the build folder: $MICROCIRCUIT_BUILD_DIR if set, else build/ in the source
checkout (pip install -e .), else share/microcircuit/build in this Python environment."""


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (exit status 2), as in the other commands."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                allow_abbrev=False)  # a typo in a script must not change its meaning
    p.add_argument("--build-dir", type=Path, metavar="DIR",
                   help=f"build folder (default here: {manifest.default_build_dir()})")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    return p


def main(argv: list[str] | None = None, prog: str = "build.py") -> int:
    args = parser(prog).parse_args(argv)
    try:
        with options_named({"build_dir": "--build-dir"}):
            builder.build(args.build_dir, force=args.force, log=print)
    except BuildError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0
