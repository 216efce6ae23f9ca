"""The command-line layer shared by every command: parser, option table, configuration, logging, exit codes.

Options resolve in this order (later wins): defaults, ``--from spikes.nc`` (the configuration stored
in a spike file), ``--config FILE`` (TOML), command-line options. Library messages name options by
their Python spelling; :func:`main_wrapper` registers the flags (``errors.name_options``) so that
commands print the flags instead, and :func:`config_from_args` registers where each value came from
(``errors.name_origins``: the flag typed, or the key of the TOML file or stored configuration), so that
a refused value is named as the user set it.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tomllib
import traceback
from pathlib import Path
from typing import Callable

import tomli_w
import xarray as xr

from .. import parallel
from ..connectivity import load_table, table_from_json
from ..errors import ConfigError, SetupError, name_options, name_origins, options_named
from ..output import stored_config
from ..parameters import BACKGROUNDS, NEURON_CHOICES, POISSON_SOURCES, SYNAPSE_MODELS, V0_CHOICES, Config
from ..variations import K_EXT_PRESETS, TABLE, check_against_table, parse_k_ext, parse_pathway, pathway_name, upgrade_config_dict

log = logging.getLogger("microcircuit")

# option dest -> (section, field) of Config
OPTION_FIELDS = {
    "n_scale": ("network", "n_scaling"),
    "k_scale": ("network", "k_scaling"),
    "background": ("network", "background"),
    "poisson_source": ("network", "poisson_source"),
    "neuron": ("network", "neuron_model"),
    "synapse_model": ("network", "synapse_model"),
    "v0": ("network", "v0"),
    "connectivity": ("network", "connectivity"),
    "g": ("network", "g"),
    "bg_rate": ("network", "bg_rate"),
    "k_ext": ("network", "k_ext"),
    "thalamic": ("stimulus", "thalamic"),
    "thalamic_pulses": ("stimulus", "thalamic_pulses"),
    "thalamic_start": ("stimulus", "thalamic_start"),
    "thalamic_interval": ("stimulus", "thalamic_interval"),
    "dc_stimulus": ("stimulus", "dc"),
    "t_sim": ("simulation", "t_sim"),
    "t_presim": ("simulation", "t_presim"),
    "seed": ("simulation", "seed"),
    "threads": ("simulation", "threads"),
    "resolution": ("simulation", "resolution"),
    "chunk": ("simulation", "chunk"),
    "record_vm": ("simulation", "record_vm"),
    "vm_interval": ("simulation", "vm_interval"),
}

def _keys(data: dict, path: tuple[str, ...] = ()):
    """(option key, TOML key) of every value in a nested configuration: ("n_scaling", "network.n_scaling"),
    ("neuron.C_m", "network.neuron.C_m"); the option key is the TOML key without its section."""
    for name, value in data.items():
        here = (*path, str(name))
        if isinstance(value, dict):
            yield from _keys(value, here)
        else:
            yield ".".join(here[1:]) or here[0], ".".join(here)


# how the command line spells the options that library messages name (see microcircuit.errors): the flag
# where there is one, else the key in a TOML configuration (network.neuron.tau_m)
FLAGS = {
    **dict(_keys(Config().to_dict())),
    **{name: "--" + dest.replace("_", "-") for dest, (_, name) in OPTION_FIELDS.items()},
    "n_scaling": "--n-scale", "k_scaling": "--k-scale", "scale": "--scale", "background": "--background",
    "background_poisson": "--background poisson", "g": "--g", "bg_rate": "--bg-rate", "k_ext": "--k-ext",
    "pathways": "--pathway",
    "output_dir": "--output", "overwrite": "--overwrite", "check_memory": "--skip-memory-check",
    "recover": "`python -m microcircuit.run --recover --output DIR`",
    "record_vm": "--record-vm", "vm_interval": "--vm-interval", "chunk": "--chunk", "t_sim": "--t-sim",
    "thalamic_start": "--thalamic-start", "thalamic_pulses": "--thalamic-pulses",
    "thalamic_interval": "--thalamic-interval", "synapse_model": "--synapse-model", "threads": "--threads",
    "from_file": "--from",
}
ORDER = "defaults < --from < --config < command-line options"
"""How the sources of a configuration override each other (later wins)."""

# the first bytes of a NetCDF file: NetCDF-4 (HDF5) or classic
NETCDF_SIGNATURES = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02", b"CDF\x05")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written (line breaks kept); option help wrapped."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with exit status 2 and a one-line message for every usage error.

    Abbreviated options are not accepted (``--scal`` is an error, not ``--scale``): a typo in a
    script must not change its meaning when an option is added. Under an MPI launcher every rank
    parses the same command line; only rank 0 prints help, usage errors and the like.
    """

    def __init__(self, *args, examples: list[str] | None = None, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        if examples:
            kwargs["epilog"] = "examples:\n" + "\n".join(f"  {line}" for line in examples)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _print_message(self, message, file=None):
        if parallel.is_root():
            super()._print_message(message, file)


def add_run_options(p: argparse.ArgumentParser, defaults: Config | None = None) -> dict:
    """The network, stimulus, simulation and configuration options of every command that builds a network.

    ``defaults`` is the configuration the command starts from (its values are shown in the help).
    Returns the argument groups by name, for the command's own options.
    """
    groups = {}
    d = defaults or Config()
    net, stim, sim = d.network, d.stimulus, d.simulation
    g = groups["network"] = p.add_argument_group("network")
    g.add_argument("--scale", type=float, metavar="S",
                   help=f"set both n_scaling and k_scaling to S, in (0, 1] (default {net.n_scaling:g})")
    g.add_argument("--n-scale", type=float, metavar="S", help="fraction of neurons, in (0, 1]")
    g.add_argument("--k-scale", type=float, metavar="S",
                   help="fraction of in-degrees, in (0, 1]; weights and a DC compensate")
    g.add_argument("--background", choices=BACKGROUNDS,
                   help=f"Poisson inputs, or their mean as a constant current (default {net.background})")
    g.add_argument("--poisson-source", choices=POISSON_SOURCES,
                   help="Poisson background from poisson_generators, or drawn inside the NESTML neuron "
                        f"(faster, same statistics) (default {net.poisson_source})")
    g.add_argument("--neuron", choices=NEURON_CHOICES,
                   help=f"nestml: the compiled NESTML neuron; builtin: NEST's iaf_psc_exp (default {net.neuron_model})")
    g.add_argument("--synapse-model", choices=SYNAPSE_MODELS,
                   help="NEST synapse of the recurrent and thalamic connections: the compact static_synapse_hpc "
                        "(16 bytes each; NEST allows it up to 65534 nodes per thread) or static_synapse (32 "
                        "bytes, faster); auto takes the compact one only when the other does not fit in memory; same spikes (default "
                        f"{net.synapse_model})")
    g.add_argument("--v0", choices=V0_CHOICES,
                   help=f"initial membrane potentials: per-population fit or N(-58, 10) mV (default {net.v0})")
    g.add_argument("--connectivity", metavar="PATH", help="connectivity table (default: the PD14 table)")
    g.add_argument("--g", type=_table_or_float, metavar="G",
                   help="relative inhibition, PD14's g: inhibitory PSP = G x excitatory PSP, <= 0 (PD14: -4; "
                        f"'table': the table's own; default {net.g})")
    g.add_argument("--bg-rate", type=_table_or_float, metavar="R",
                   help=f"rate of every background input, spikes/s (PD14: 8; 'table': the table's; default {net.bg_rate})")
    g.add_argument("--k-ext", type=_k_ext, metavar="K",
                   help=f"external in-degrees: {' or '.join(K_EXT_PRESETS)} (PD14 Fig. 7B: 2000 for every E, "
                        f"1850 for every I population), or POP=N[,POP=N...] in place of the table's (default {net.k_ext})")
    g.add_argument("--pathway", type=_pathway, action="append", metavar="SRC->TGT:F=X",
                   help="scale one projection's connection probability and/or PSP, e.g. 'L23E->L4I:probability=0' "
                        "(removes it) or 'L4E->L23E:psp=0.5,probability=2'; repeatable")
    g.add_argument("--inh-psp-scale", type=float, help=argparse.SUPPRESS)  # replaced by --g: refused with a hint
    g = groups["stimulus"] = p.add_argument_group("stimulus")
    g.add_argument("--thalamic", action="store_true", default=None,
                   help=f"thalamic pulse at {stim.thalamic_start:g} ms ({stim.thalamic_duration:g} ms, "
                        f"{stim.thalamic_rate:g} spikes/s per thalamic neuron)")
    g.add_argument("--thalamic-pulses", type=int, metavar="N",
                   help=f"N thalamic pulses, each a fresh Poisson draw, for trial averages (implies --thalamic; "
                        f"default {stim.thalamic_pulses})")
    g.add_argument("--thalamic-start", type=float, metavar="MS",
                   help=f"start of the first pulse, absolute time (default {stim.thalamic_start:g})")
    g.add_argument("--thalamic-interval", type=float, metavar="MS",
                   help=f"from one pulse's start to the next's (default {stim.thalamic_interval:g})")
    g.add_argument("--dc-stimulus", action="store_true", default=None,
                   help=f"transient DC input, {stim.dc_start:g}-{stim.dc_start + stim.dc_duration:g} ms")
    g = groups["simulation"] = p.add_argument_group("simulation")
    g.add_argument("--t-sim", type=float, metavar="MS", help=f"simulated time after the warm-up (default {sim.t_sim:g})")
    g.add_argument("--t-presim", type=float, metavar="MS", help=f"warm-up, at most 10000 (default {sim.t_presim:g})")
    g.add_argument("--seed", type=int, help=f"random seed (default {sim.seed})")
    g.add_argument("--threads", type=int,
                   help=f"threads (default {sim.threads}); the same seed and threads give the same spikes")
    g.add_argument("--resolution", type=float, metavar="MS", help=f"time step (default {sim.resolution:g})")
    g.add_argument("--chunk", type=float, metavar="MS",
                   help=f"model time per run-loop step (default {sim.chunk:g}); does not change results")
    g.add_argument("--record-vm", type=int, metavar="N",
                   help="record V_m and the synaptic current of N neurons per population (the same neurons for the "
                        f"same table, scale and seed; default {sim.record_vm})")
    g.add_argument("--vm-interval", type=float, metavar="MS",
                   help=f"sampling interval of --record-vm, a multiple of the time step (default {sim.vm_interval:g})")
    g = groups["configuration"] = p.add_argument_group("configuration")
    g.add_argument("--config", type=Path, metavar="FILE",
                   help=f"TOML file with any parameters (with --from: changes to the stored configuration; order: {ORDER})")
    g.add_argument("--from", dest="from_file", type=Path, metavar="SPIKES_NC",
                   help="re-use the configuration (and connectivity table) stored in a spike file; --config and "
                        "the other options change it")
    g.add_argument("--print-config", nargs="?", const="-", metavar="FILE",
                   help="print the fully resolved configuration as TOML and exit; with FILE write it there "
                        "(creating its folder; an existing FILE is kept)")
    return groups


def _table_or_float(text: str) -> str | float:
    if text == TABLE:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give a number or {TABLE!r}") from None


def _k_ext(text: str):
    try:
        return parse_k_ext(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pathway(text: str):
    try:
        return parse_pathway(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_message_options(p: argparse.ArgumentParser, quiet: str = "only warnings and errors") -> None:
    g = p.add_argument_group("messages")
    g.add_argument("--quiet", "-q", action="store_true", help=quiet)
    g.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def run_command(prog: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
                argv: list[str] | None = None) -> int:
    """Parse the command line, set up logging, run ``body(args)``; return the exit status (see :func:`main_wrapper`)."""
    args = parser.parse_args(argv)
    setup(args.quiet)
    return main_wrapper(prog, lambda: body(args), args.debug)


def print_config(args: argparse.Namespace, config: Config, table: xr.Dataset | None = None) -> bool:
    """With ``--print-config [FILE]``: print the resolved configuration as TOML, or write it to FILE (rank 0);
    return True (the command stops).

    Keys that name populations or need the table's g are checked against the table (``table``,
    else the one the configuration names) first, so that a printed configuration can run.
    """
    target = getattr(args, "print_config", None)
    if not target:
        return False
    net = config.network
    if net.g != TABLE or isinstance(net.k_ext, dict) or net.pathways:
        check_against_table(net, load_table(net.connectivity) if table is None else table)
    if parallel.is_root():
        if target == "-":
            sys.stdout.write(to_toml(config))
        else:
            _write_new_file(Path(target), to_toml(config))
            log.info("wrote %s", target)
    return True


def _write_new_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file ``path`` (creating its folder); an existing file is an error and is kept."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as fh:
            fh.write(text)
    except FileExistsError:
        raise ConfigError(f"--print-config {path}: the file exists; remove it or choose another name") from None
    except OSError as exc:
        raise ConfigError(f"--print-config {path}: cannot write it ({exc.strerror or exc})") from exc


def _load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            if fh.read(8).startswith(NETCDF_SIGNATURES):
                raise ConfigError(_netcdf_given_as_toml(path))
            fh.seek(0)
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--config {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"--config {path} is a folder, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--config {path} is not a TOML file (not UTF-8 text: byte {exc.start} is "
                          f"{exc.object[exc.start:exc.start + 1]!r})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path} is not valid TOML ({exc})") from exc


def _netcdf_given_as_toml(path: Path) -> str:
    """What to say about a NetCDF file given to --config: a spike file belongs to --from."""
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            spikes = "spike_time" in ds.variables
    except Exception:  # noqa: BLE001 (an unreadable NetCDF file is still not TOML)
        spikes = False
    if spikes:
        return f"--config {path} is a spike file, not a TOML file: to repeat its run use --from {path}"
    return f"--config {path} is a NetCDF file, not a TOML file (a connectivity table goes to --connectivity)"


def _merge(base: dict, override: dict, sections=None) -> dict:
    """``base`` with ``override``'s values; the sections of a configuration are merged key by key.

    A value that is itself a table (``network.k_ext``, ``network.pathways``) is replaced as a
    whole, so that a spike file's stored configuration (``--from``) is repeated as it was.
    """
    sections = _config_sections(Config()) if sections is None else sections
    out = dict(base)
    for k, v in override.items():
        sub = sections.get(k)
        out[k] = _merge(out[k], v, sub) if sub is not None and isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _config_sections(config) -> dict:
    """The nested sections of a configuration (dataclasses inside dataclasses), as {name: {subsections}}."""
    import dataclasses

    return {f.name: _config_sections(getattr(config, f.name)) for f in dataclasses.fields(config)
            if dataclasses.is_dataclass(getattr(config, f.name))}


def _read_from_file(path: Path) -> tuple[dict, xr.Dataset | None]:
    """``--from``: the configuration dict and connectivity table (None if absent) stored in a spike file."""
    if not Path(path).is_file():
        raise ConfigError(f"--from {path} does not exist")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
    except Exception as exc:  # netCDF4 raises OSError, xarray ValueError, ...
        raise ConfigError(f"--from {path} is not a readable NetCDF spike file") from exc
    if "config" not in attrs:
        raise ConfigError(f"--from {path} holds no stored configuration (attribute 'config')")
    try:
        stored = stored_config(attrs)
    except ConfigError as exc:
        raise ConfigError(f"--from {path}: {exc}") from exc
    table = table_from_json(attrs["connectivity_table"]) if "connectivity_table" in attrs else None
    return stored, table


def option_settings(args: argparse.Namespace) -> list[tuple[str, str, object, str]]:
    """What the command line's run options set, as (section, name, value, flag): ``--scale`` as both scalings,
    then every option of :data:`OPTION_FIELDS` given (``--pathway`` is not among them: it adds to a table)."""
    settings = []
    if getattr(args, "scale", None) is not None:
        settings += [("network", name, args.scale, "--scale") for name in ("n_scaling", "k_scaling")]
    for dest, (section, name) in OPTION_FIELDS.items():
        value = getattr(args, dest, None)
        if value is not None:
            settings.append((section, name, value, "--" + dest.replace("_", "-")))
    return settings


def config_from_args(args: argparse.Namespace, defaults: Config | None = None) -> tuple[Config, xr.Dataset | None]:
    """Resolve the configuration (and a stored connectivity table, with --from).

    Later sources override earlier ones: defaults, the configuration stored in ``--from``, the TOML
    file of ``--config``, the command-line options (:data:`ORDER`). Messages about a refused value
    name it as the user set it (for the rest of the command): by its flag, or by its TOML key.
    """
    data = (defaults or Config()).to_dict()
    table = None
    origins: dict[str, str] = {}
    if getattr(args, "inh_psp_scale", None) is not None:
        f = args.inh_psp_scale
        raise ConfigError(f"--inh-psp-scale was replaced by --g, PD14's relative inhibition (inhibitory PSP = g x "
                          f"excitatory PSP, -4 in the PD14 table): --inh-psp-scale {f:g} is --g {-4 * f:g} there")
    if getattr(args, "from_file", None):
        stored, table = _read_from_file(args.from_file)
        stored = upgrade_config_dict(stored, table, f"--from {args.from_file}")
        data = _merge(data, stored)
        origins.update(_keys(stored))
    if getattr(args, "config", None):
        toml = _upgraded(_load_toml(args.config), None, f"--config {args.config}")
        data = _merge(data, toml)
        origins.update(_keys(toml))
        for name in ("k_ext", "pathways"):  # table-valued keys are named as a whole
            if isinstance(toml.get("network"), dict) and name in toml["network"]:
                origins[name] = f"network.{name}"
        named = toml.get("network", {}) if isinstance(toml.get("network"), dict) else {}
        if table is not None and "connectivity" in named and named["connectivity"] != stored["network"].get("connectivity"):
            table = None  # the file names another table than the stored run's
    if any(not isinstance(data.get(section), dict) for section in ("network", "stimulus", "simulation")):
        Config.from_dict(data)  # names the section that is not a table
    if getattr(args, "scale", None) is not None and (args.n_scale is not None or args.k_scale is not None):
        raise ConfigError("--scale sets both scalings; do not combine it with --n-scale or --k-scale")
    for section, name, value, flag in option_settings(args):
        data[section][name] = value
        origins[name] = flag
    if getattr(args, "pathway", None):  # added to the file's pathways, or changing factors of one of them
        pathways = {pathway_name(k): v for k, v in data["network"].get("pathways", {}).items()}
        for key, factors in args.pathway:
            pathways[key] = {**pathways.get(key, {}), **factors}
        data["network"]["pathways"] = pathways
        origins["pathways"] = "--pathway"
    if getattr(args, "thalamic_pulses", None) is not None and getattr(args, "thalamic", None) is None:
        data["stimulus"]["thalamic"] = True  # asking for pulses switches them on
    if getattr(args, "connectivity", None):
        table = None  # an explicit table wins over the stored one
    name_origins(origins)
    return Config.from_dict(data), table


def _upgraded(data: dict, table, source: str) -> dict:
    """A configuration file's dict with obsolete keys translated; says so, so that the file can be updated."""
    new = upgrade_config_dict(data, table, source)
    if new is not data:
        log.warning("%s: network.inh_psp_scale = %r is read as network.g = %r (inh_psp_scale was replaced by g; "
                    "write g)", source, data["network"]["inh_psp_scale"], new["network"]["g"])
    return new


def to_toml(config: Config) -> str:
    return tomli_w.dumps(config.to_dict())


def setup(quiet: bool = False) -> None:
    """Log messages to stderr (on several MPI processes rank 0 logs, the others only errors)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(parallel.RankFilter())
    root = logging.getLogger("microcircuit")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def setup_worker() -> None:
    """For a process that runs a command's work (the benchmark's measured runs): quiet, flags in messages."""
    setup(quiet=True)
    name_options(FLAGS)


def main_wrapper(prog: str, body: Callable[[], int], debug: bool) -> int:
    """Run ``body``; turn expected errors into one line and exit status 2 (130 for Ctrl-C).

    On several MPI processes no error may leave the other ranks waiting: errors met before the
    network is built are agreed on by all ranks and printed once by rank 0 (status 2); any error
    after that (also an unexpected one, status 1) prints its one-line message with the rank and
    ends all ranks at once (see ``parallel.fail``).
    """
    try:
        with options_named(FLAGS):  # library messages name the command's flags
            return body()
    except parallel.AgreedError as exc:
        if debug:
            traceback.print_exc()
        return parallel.report_failure(prog, exc.failure)
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
