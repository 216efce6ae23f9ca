"""Reading, checking and serialising connectivity tables (NetCDF, see ``connectivity/make_pd14_table.py``).

A table describes any number of populations; nothing here assumes PD14's eight. The PD14
table ships with the package (``connectivity/pd14.nc`` in the source tree).
"""
from __future__ import annotations

import importlib.resources
import json
from collections import Counter
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ConfigError, option, shorten

DEFAULT_TABLE = Path(str(importlib.resources.files("microcircuit") / "data" / "pd14.nc"))
"""The PD14 connectivity table installed with the package."""

POP = ("population",)
PAIR = ("target", "source")
SCALAR = ()

# name: (dimensions, kind, allowed range as text, check)
_finite = np.isfinite


def _in(lo, hi, lo_open=False, hi_open=False):
    def check(a):
        ok = _finite(a)
        ok &= (a > lo) if lo_open else (a >= lo)
        ok &= (a < hi) if hi_open else (a <= hi)
        return ok
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    text = f"{left}{lo}, {'inf' if hi == np.inf else hi}{right}"
    return check, text


def _integer(check_text):
    check, text = check_text

    def both(a):
        return check(a) & (np.mod(a, 1) == 0)
    return both, f"whole numbers in {text}"


VARIABLES: dict[str, tuple[tuple[str, ...], tuple]] = {
    "population_size": (POP, _integer(_in(1, np.inf))),
    "connection_probability": (PAIR, _in(0.0, 1.0, hi_open=True)),
    "psp_mean": (PAIR, _in(-np.inf, np.inf, True, True)),
    "delay_mean": (PAIR, _in(0.0, np.inf, lo_open=True, hi_open=True)),
    "k_ext": (POP, _integer(_in(0, np.inf, hi_open=True))),
    "thalamic_probability": (POP, _in(0.0, 1.0, hi_open=True)),
    "v0_mean": (POP, _in(-np.inf, np.inf, True, True)),
    "v0_sd": (POP, _in(0.0, np.inf, hi_open=True)),
    "full_mean_rate": (POP, _in(0.0, np.inf, hi_open=True)),
    "bg_rate": (SCALAR, _in(0.0, np.inf, hi_open=True)),
    "psp_ext": (SCALAR, _in(0.0, np.inf, hi_open=True)),
    "delay_ext": (SCALAR, _in(0.0, np.inf, lo_open=True, hi_open=True)),
    "thalamus_size": (SCALAR, _integer(_in(1, np.inf, hi_open=True))),
    "psp_thalamic": (SCALAR, _in(0.0, np.inf, hi_open=True)),
    "delay_thalamic": (SCALAR, _in(0.0, np.inf, lo_open=True, hi_open=True)),
}
POPULATION_TYPES = ("E", "I")


def load_table(path: str | Path | None = None) -> xr.Dataset:
    """Read a connectivity table and check it; raise ConfigError with a one-line message if it is bad.

    ``path`` None or "" (the default of ``NetworkParams.connectivity``) reads the PD14 table.
    """
    path = Path(path) if path else DEFAULT_TABLE
    if not path.exists():
        raise ConfigError(f"connectivity table {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"connectivity table {path} is not a file")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            table = ds.load()
    except Exception as exc:  # netCDF4 raises OSError, xarray ValueError, ...
        raise ConfigError(f"connectivity table {path} is not a readable NetCDF file ({type(exc).__name__})") from exc
    if "spike_time" in table.variables:
        raise ConfigError(f"connectivity table {path} is a spike file, not a connectivity table: to repeat the run "
                          f"it stores (with its table), use {option('from_file')} {path}")
    return check_table(table, name=str(path))


def check_table(table: xr.Dataset, name: str = "connectivity table") -> xr.Dataset:
    """Return ``table`` if it is a valid connectivity table, else raise ConfigError."""
    if "population" not in table.coords:
        raise ConfigError(f"{name}: missing coordinate 'population' (the population names)")
    names = [str(p) for p in table["population"].values]
    if table["population"].ndim != 1 or len(names) == 0:
        raise ConfigError(f"{name}: 'population' must be a non-empty 1-d list of names")
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        repeated = sorted(n for n, k in Counter(names).items() if k > 1)
        what = f"repeated: {shorten(repeated)}" if repeated else "some are empty"
        raise ConfigError(f"{name}: population names must be unique and non-empty ({what}; names: {shorten(names)})")
    for axis in ("target", "source"):
        if axis not in table.coords or [str(p) for p in table[axis].values] != names:
            raise ConfigError(f"{name}: coordinate '{axis}' must list the populations in the order of 'population'")

    if "population_type" not in table:
        raise ConfigError(f"{name}: missing variable 'population_type' (dims ('population',))")
    ptype = table["population_type"]
    if ptype.dims != POP:
        raise ConfigError(f"{name}: 'population_type' has dims {ptype.dims}, expected ('population',)")
    bad = [f"{p}={str(t)!r}" for p, t in zip(names, ptype.values) if str(t) not in POPULATION_TYPES]
    if bad:
        raise ConfigError(f"{name}: unknown population_type {shorten(bad)}; allowed: 'E' or 'I'")

    for var, (dims, (check, allowed)) in VARIABLES.items():
        if var not in table:
            raise ConfigError(f"{name}: missing variable '{var}' (dims {dims})")
        da = table[var]
        if da.dims != dims:
            raise ConfigError(f"{name}: '{var}' has dims {da.dims}, expected {dims}")
        if not np.issubdtype(da.dtype, np.number):
            raise ConfigError(f"{name}: '{var}' must be numeric, got dtype {da.dtype}")
        values = np.asarray(da.values, dtype=float)
        ok = check(values)
        if not np.all(ok):
            where = np.argwhere(~ok)[0] if values.ndim else ()
            label = _label(var, dims, where, names)
            raise ConfigError(f"{name}: {label} = {_fmt(values[tuple(where)])} is outside the allowed range {allowed}")

    # synaptic sign follows the source population's type
    psp = np.asarray(table["psp_mean"].values, dtype=float)
    is_exc = np.array([str(t) == "E" for t in ptype.values])
    wrong = (is_exc[np.newaxis, :] & (psp < 0)) | (~is_exc[np.newaxis, :] & (psp > 0))
    if wrong.any():
        t, s = np.argwhere(wrong)[0]
        kind = "excitatory (>= 0)" if is_exc[s] else "inhibitory (<= 0)"
        raise ConfigError(f"{name}: psp_mean[{names[t]}, {names[s]}] = {psp[t, s]} mV has the wrong sign for an {kind} source")
    return table


def table_to_json(table: xr.Dataset) -> str:
    """The table as JSON text (``xarray.Dataset.to_dict``), as stored in spike files."""
    return json.dumps(table.to_dict(data="list"), sort_keys=True)


def table_from_json(text: str, name: str = "connectivity table stored in the spike file") -> xr.Dataset:
    """A checked table from the JSON text of :func:`table_to_json`."""
    return check_table(xr.Dataset.from_dict(json.loads(text)), name=name)


def _fmt(value) -> str:
    value = float(value)
    if np.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(value)


def _label(var, dims, where, names):
    if not dims:
        return var
    return f"{var}[{', '.join(names[i] for i in where)}]"
