"""Command-line plumbing shared by ``run``, ``benchmark`` and ``theory``.

Options resolve in this order (later wins): defaults, ``--config FILE`` (TOML),
``--from spikes.nc`` (the configuration stored in a spike file), command-line options.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tomllib
import traceback
from pathlib import Path
from typing import Callable

import tomli_w
import xarray as xr

from . import parallel
from .errors import ConfigError, SetupError
from .parameters import BACKGROUNDS, NEURON_CHOICES, POISSON_SOURCES, V0_CHOICES, Config

log = logging.getLogger("microcircuit")

# option dest -> (section, field)
_OPTION_FIELDS = {
    "n_scale": ("network", "n_scaling"),
    "k_scale": ("network", "k_scaling"),
    "background": ("network", "background"),
    "poisson_source": ("network", "poisson_source"),
    "neuron": ("network", "neuron_model"),
    "v0": ("network", "v0"),
    "connectivity": ("network", "connectivity"),
    "inh_psp_scale": ("network", "inh_psp_scale"),
    "thalamic": ("stimulus", "thalamic"),
    "dc_stimulus": ("stimulus", "dc"),
    "t_sim": ("simulation", "t_sim"),
    "t_presim": ("simulation", "t_presim"),
    "seed": ("simulation", "seed"),
    "threads": ("simulation", "threads"),
    "resolution": ("simulation", "resolution"),
    "chunk": ("simulation", "chunk"),
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse with exit status 2 and a one-line message for every usage error.

    Under an MPI launcher every rank parses the same command line; only rank 0 prints
    help, usage errors and the like.
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _print_message(self, message, file=None):
        if parallel.is_root():
            super()._print_message(message, file)


def add_run_options(p: argparse.ArgumentParser, record_options: bool = True) -> None:
    g = p.add_argument_group("network")
    g.add_argument("--scale", type=float, metavar="S",
                   help="set both n_scaling and k_scaling to S, in (0, 1] (default 0.1)")
    g.add_argument("--n-scale", type=float, metavar="S", help="fraction of neurons, in (0, 1]")
    g.add_argument("--k-scale", type=float, metavar="S", help="fraction of in-degrees, in (0, 1]")
    g.add_argument("--background", choices=BACKGROUNDS, help="background input (default poisson)")
    g.add_argument("--poisson-source", choices=POISSON_SOURCES,
                   help="Poisson background from poisson_generators (default) or drawn inside the NESTML neuron "
                        "(faster, same statistics)")
    g.add_argument("--neuron", choices=NEURON_CHOICES,
                   help="nestml: the compiled NESTML neuron (default); builtin: NEST's iaf_psc_exp")
    g.add_argument("--v0", choices=V0_CHOICES, help="initial membrane potentials (default optimized)")
    g.add_argument("--connectivity", metavar="PATH", help="connectivity table (default connectivity/pd14.nc)")
    g.add_argument("--inh-psp-scale", type=float, metavar="F",
                   help="multiply every inhibitory PSP by F (default 1; 0.5 halves inhibition)")
    g = p.add_argument_group("stimulus")
    g.add_argument("--thalamic", action="store_true", default=None, help="thalamic pulse at 700 ms")
    g.add_argument("--dc-stimulus", action="store_true", default=None, help="transient DC input, 650-750 ms")
    g = p.add_argument_group("simulation")
    g.add_argument("--t-sim", type=float, metavar="MS", help="simulated time after the warm-up (default 1000 ms)")
    g.add_argument("--t-presim", type=float, metavar="MS", help="warm-up (default 500 ms)")
    g.add_argument("--seed", type=int, help="random seed (default 55)")
    g.add_argument("--threads", type=int, help="threads (default 2); same seed and threads give the same spikes")
    g.add_argument("--resolution", type=float, metavar="MS", help="time step (default 0.1 ms)")
    g.add_argument("--chunk", type=float, metavar="MS",
                   help="model time per run-loop step (default 100 ms); does not change results")
    g = p.add_argument_group("configuration")
    g.add_argument("--config", type=Path, metavar="FILE", help="TOML file with any parameters")
    g.add_argument("--from", dest="from_file", type=Path, metavar="SPIKES_NC",
                   help="re-use the configuration (and connectivity table) stored in a spike file")
    g.add_argument("--print-config", action="store_true",
                   help="print the fully resolved configuration as TOML and exit")
    g = p.add_argument_group("output")
    g.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors")
    g.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--config {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path} is not valid TOML ({exc})") from None


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def stored_run(path: Path) -> tuple[dict, xr.Dataset | None]:
    """Configuration dict and connectivity table stored in a spike file."""
    import json

    from .simulation import table_from_json

    if not Path(path).is_file():
        raise ConfigError(f"--from {path} does not exist")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
    except Exception:
        raise ConfigError(f"--from {path} is not a readable NetCDF spike file") from None
    if "config" not in attrs:
        raise ConfigError(f"--from {path} holds no stored configuration (attribute 'config')")
    table = table_from_json(attrs["connectivity_table"]) if "connectivity_table" in attrs else None
    return json.loads(attrs["config"]), table


def config_from_args(args: argparse.Namespace) -> tuple[Config, xr.Dataset | None]:
    """Resolve the configuration (and a stored connectivity table, with --from)."""
    data = Config().to_dict()
    table = None
    if getattr(args, "config", None):
        data = _merge(data, _load_toml(args.config))
    if getattr(args, "from_file", None):
        stored, table = stored_run(args.from_file)
        data = _merge(data, stored)
    if getattr(args, "scale", None) is not None:
        if args.n_scale is not None or args.k_scale is not None:
            raise ConfigError("--scale sets both scalings; do not combine it with --n-scale or --k-scale")
        data["network"]["n_scaling"] = data["network"]["k_scaling"] = args.scale
    for dest, (section, name) in _OPTION_FIELDS.items():
        value = getattr(args, dest, None)
        if value is not None:
            data[section][name] = value
    if getattr(args, "connectivity", None):
        table = None  # an explicit table wins over the stored one
    return Config.from_dict(data), table


def to_toml(config: Config) -> str:
    return tomli_w.dumps(config.to_dict())


def setup_logging(quiet: bool = False) -> None:
    """Log messages to stderr; on several MPI processes rank 0 logs, the others only errors."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(parallel.RankFilter())
    root = logging.getLogger("microcircuit")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def main_wrapper(prog: str, body: Callable[[], int], debug: bool) -> int:
    """Run ``body``; turn expected errors into one line and exit status 2 (130 for Ctrl-C).

    On several MPI processes no error may leave the other ranks waiting: errors met before the
    network is built are agreed on by all ranks and printed once by rank 0 (status 2); any error
    after that (also an unexpected one, status 1) prints its one-line message with the rank and
    ends all ranks at once (see ``parallel.fail``).
    """
    try:
        return body()
    except parallel.AgreedError as exc:
        if debug:
            traceback.print_exc()
        return parallel.report(prog, exc.failure)
    except (ConfigError, SetupError) as exc:
        if debug:
            traceback.print_exc()
        return parallel.fail(prog, str(exc), 2)
    except KeyboardInterrupt:  # Ctrl-C outside the simulation loop (which handles it itself)
        if debug:
            traceback.print_exc()
        if parallel.several():
            return parallel.fail(prog, "interrupted", 130)
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not parallel.several():
            raise
        if debug:
            traceback.print_exc()
        return parallel.fail(prog, f"{type(exc).__name__}: {exc}", 1)


def with_section(config: Config, section: str, **changes) -> Config:
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **changes)})
