"""What PD14's experiments vary, and how ``derive`` applies it to a connectivity table.

Four configuration keys of :class:`~microcircuit.parameters.NetworkParams` change the circuit a
table describes (docs/model.md §13):

* ``bg_rate``: the rate of every external (background) input, ν_bg (spikes/s);
* ``g``: the relative inhibition, PD14's g (inhibitory PSP = g × excitatory PSP);
* ``k_ext``: the external in-degrees: the table's, PD14's layer-independent preset, or per population;
* ``pathways``: factors on the connection probability and the PSP of single projections.

``bg_rate`` and ``g`` take a number or ``"table"`` (the table's own value, the default), so that
a printed configuration names no number that could disagree with the table it runs with.
This module holds their checks (without a table), their resolution against a table (for
``derive``), the command-line syntax of ``k_ext`` and ``pathways``, and PD14's random draw of
external in-degrees (Fig. 7C), which a sweep calls trial by trial. Pure: no NEST, no files
(except :func:`upgrade_config_dict`, which may read the table an old configuration names).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping

import numpy as np
import xarray as xr

from .errors import ConfigError, named, option, setting

VARIED_KEYS = ("g", "bg_rate", "k_ext", "pathways")  # the NetworkParams fields this module checks and resolves
TABLE = "table"                          # "the table's value" of bg_rate, g and k_ext
LAYER_INDEPENDENT = "layer_independent"  # k_ext preset of PD14 Fig. 7B
K_EXT_PRESETS = (TABLE, LAYER_INDEPENDENT)
# PD14 Fig. 7B: the same external in-degree in every layer, by population type
LAYER_INDEPENDENT_K_EXT = {"E": 2000, "I": 1850}
# PD14 Fig. 7C: target specificity T = (C_e - C_i) / (C_e + C_i) of the external input to a layer;
# the inhibitory in-degree is drawn between C_e and C_e (1 - T) / (1 + T)
TARGET_SPECIFICITY = 0.1
TARGET_SPECIFICITY_BY_POPULATION = {"L6I": 0.2}
K_EXT_DRAW_STREAM = 0x4B65  # "Ke": keeps the draw's random stream apart from other uses of a seed
PATHWAY_FACTORS = ("probability", "psp")
PATHWAY_ARROW = "->"
MAX_LISTED_NAMES = 12  # an "allowed names" list longer than this is cut short in messages


# ----------------------------------------------------------------------------------------------
# checks without a table (NetworkParams.__post_init__): normalised values or a ConfigError


def table_or_number(name: str, value, allowed: str, ok: Callable[[float], bool]) -> str | float:
    """``"table"``, or ``value`` as a float if ``ok(value)``; else a ConfigError naming ``name``."""
    if isinstance(value, str):
        if value == TABLE:
            return value
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        if math.isfinite(value) and ok(float(value)):
            return float(value)
    raise ConfigError(f"{setting(name, value)} is not allowed; must be {TABLE!r} (the table's value) or {allowed}")


def _whole(value) -> int | None:
    """``value`` as an int if it is a whole number (an int, or a float without fraction), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def check_k_ext(value) -> str | dict[str, int]:
    """``k_ext``: a preset name, or {population: in-degree} (whole numbers >= 0; names checked by ``derive``)."""
    if isinstance(value, str) and value in K_EXT_PRESETS:
        return value
    if isinstance(value, Mapping):
        out = {}
        for pop, k in value.items():
            n = _whole(k)
            if not isinstance(pop, str) or n is None or n < 0:
                raise ConfigError(f"{named('k_ext')} {pop} = {k!r} is not allowed; in-degrees must be whole numbers >= 0")
            out[pop] = n
        return out if out else TABLE  # an empty override is the table's
    raise ConfigError(f"{setting('k_ext', value)} is not allowed; choose {', '.join(map(repr, K_EXT_PRESETS))} "
                      "or give in-degrees per population (e.g. {L23E = 1800})")


def pathway_key(text: str) -> tuple[str, str]:
    """``"SOURCE->TARGET"`` as (source, target); ConfigError if it is not of that form."""
    parts = text.split(PATHWAY_ARROW) if isinstance(text, str) else []
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ConfigError(f"{named('pathways')} {text!r} is not allowed; name a pathway as 'SOURCE->TARGET' "
                          "(e.g. 'L23E->L4I')")
    return parts[0].strip(), parts[1].strip()


def pathway_name(text: str) -> str:
    """A pathway's name as configurations store it, ``"SOURCE->TARGET"`` (spaces removed)."""
    source, target = pathway_key(text)
    return f"{source}{PATHWAY_ARROW}{target}"


def check_pathways(value) -> dict[str, dict[str, float]]:
    """``pathways``: {"SOURCE->TARGET": {"probability": f, "psp": f}}, factors finite and >= 0 (default 1)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{named('pathways')} = {value!r} is not allowed; give a table of pathways, "
                          "e.g. {\"L23E->L4I\" = {probability = 0.0}}")
    out = {}
    for key, factors in value.items():
        name = pathway_name(key)
        if name in out:
            raise ConfigError(f"{named('pathways')} {name!r} is given twice")
        if not isinstance(factors, Mapping) or not factors:
            raise ConfigError(f"{named('pathways')} {name!r} = {factors!r} is not allowed; give factors, "
                              f"e.g. {{probability = 0.0}} (allowed: {', '.join(PATHWAY_FACTORS)})")
        entry = dict.fromkeys(PATHWAY_FACTORS, 1.0)
        for factor, f in factors.items():
            if factor not in PATHWAY_FACTORS:
                raise ConfigError(f"{named('pathways')} {name!r}: unknown factor {factor!r}; allowed: "
                                  f"{', '.join(PATHWAY_FACTORS)}")
            ok = isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, (bool, np.bool_))
            if not ok or not math.isfinite(f) or f < 0:
                raise ConfigError(f"{named('pathways')} {name!r}: {factor} = {f!r} is not allowed; "
                                  "must be a number >= 0 (a factor on the table's value; 0 removes the pathway)")
            entry[factor] = float(f)
        out[name] = entry
    return out


# ----------------------------------------------------------------------------------------------
# command-line syntax


def parse_k_ext(text: str) -> str | dict[str, int]:
    """``--k-ext``: ``table``, ``layer_independent`` or ``POP=N[,POP=N...]``; ValueError with the reason."""
    text = text.strip()
    if text in K_EXT_PRESETS:
        return text
    out = {}
    for item in text.split(","):
        pop, sep, value = item.partition("=")
        try:
            n = int(value)
        except ValueError:
            n = None
        if not sep or not pop.strip() or n is None:
            raise ValueError(f"{text!r}: give {' or '.join(K_EXT_PRESETS)} or POP=N[,POP=N...], e.g. L23E=1800,L6E=2000")
        out[pop.strip()] = n
    return out


def parse_pathway(text: str) -> tuple[str, dict[str, float]]:
    """``--pathway``: ``SOURCE->TARGET:FACTOR=F[,FACTOR=F]``; ValueError with the reason."""
    usage = f"give SOURCE->TARGET:FACTOR=F[,FACTOR=F] with FACTOR one of {', '.join(PATHWAY_FACTORS)}, " \
            "e.g. 'L23E->L4I:probability=0'"
    key, sep, rest = text.partition(":")
    try:
        key = pathway_name(key)
    except ConfigError:
        raise ValueError(f"{text!r}: {usage}") from None
    if not sep:
        raise ValueError(f"{text!r}: {usage}")
    factors = {}
    for item in rest.split(","):
        factor, sep, value = item.partition("=")
        try:
            factors[factor.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{text!r}: {usage}") from None
        if not sep:
            raise ValueError(f"{text!r}: {usage}")
    return key, factors


# ----------------------------------------------------------------------------------------------
# resolution against a table (derive)


def _names(table: xr.Dataset) -> list[str]:
    return [str(p) for p in table["population"].values]


def _listing(names) -> str:
    names = list(names)
    if len(names) <= MAX_LISTED_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:MAX_LISTED_NAMES])}, ... ({len(names)} in all)"


def _unknown(what: str, name: str, table: xr.Dataset) -> ConfigError:
    return ConfigError(f"{what}: unknown population {name!r}; the table's populations are {_listing(_names(table))}")


def table_g(table: xr.Dataset) -> float:
    """The table's own g: its typical inhibitory PSP over its typical excitatory PSP.

    The median of ``psp_mean`` over the pathways (connection probability > 0) from inhibitory
    sources, over the same median from excitatory sources: -0.6 mV / 0.15 mV = -4 for PD14,
    whose one doubled excitatory PSP (L4E -> L2/3E) does not move the median. NaN if the table
    has no connected pathway of either kind or no excitatory PSP.
    """
    psp = np.asarray(table["psp_mean"].values, dtype=float)
    connected = np.asarray(table["connection_probability"].values, dtype=float) > 0
    is_inh = np.array([str(t) == "I" for t in table["population_type"].values])
    inh = psp[:, is_inh][connected[:, is_inh]]
    exc = psp[:, ~is_inh][connected[:, ~is_inh]]
    if inh.size == 0 or exc.size == 0:
        return math.nan
    e = statistics.median(exc.tolist())
    return statistics.median(inh.tolist()) / e if e > 0 else math.nan


def inhibition_factor(g, table: xr.Dataset) -> float:
    """The factor on every inhibitory PSP of the table that gives relative inhibition ``g``: ``g / table_g``."""
    if g == TABLE:
        return 1.0
    g_table = table_g(table)
    if not math.isfinite(g_table) or g_table == 0:
        raise ConfigError(f"{setting('g', g)} needs a table with connected excitatory and inhibitory pathways "
                          f"and a nonzero inhibitory PSP; this table's g is {g_table:g} (use {option('g')} {TABLE})")
    return g / g_table


def background_rate(bg_rate, table: xr.Dataset) -> float:
    """ν_bg (spikes/s): ``bg_rate``, or the table's ``bg_rate`` for ``"table"``."""
    return float(table["bg_rate"]) if bg_rate == TABLE else float(bg_rate)


def external_indegrees(k_ext, table: xr.Dataset) -> np.ndarray:
    """The full-scale external in-degree of every population (float array in the table's order).

    ``"table"``: the table's ``k_ext``; ``"layer_independent"``: PD14 Fig. 7B, 2000 for every
    excitatory and 1850 for every inhibitory population; a dict: the table's, with the named
    populations replaced.
    """
    k = np.asarray(table["k_ext"].values, dtype=float).copy()
    if k_ext == TABLE:
        return k
    types = [str(t) for t in table["population_type"].values]
    if k_ext == LAYER_INDEPENDENT:
        return np.array([float(LAYER_INDEPENDENT_K_EXT[t]) for t in types])
    names = _names(table)
    for pop, value in k_ext.items():
        if pop not in names:
            raise _unknown(f"{named('k_ext')} {pop} = {value}", pop, table)
        k[names.index(pop)] = float(value)
    return k


def pathway_factors(pathways: Mapping[str, Mapping[str, float]], table: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Factors on the connection probability and on the PSP of every [target, source] pair (1 where not named)."""
    names = _names(table)
    n = len(names)
    prob, psp = np.ones((n, n)), np.ones((n, n))
    for key, factors in pathways.items():
        source, target = pathway_key(key)
        for pop in (source, target):
            if pop not in names:
                raise _unknown(f"{named('pathways')} {key!r}", pop, table)
        t, s = names.index(target), names.index(source)
        prob[t, s] = factors.get("probability", 1.0)
        psp[t, s] = factors.get("psp", 1.0)
    return prob, psp


def check_scaled_probabilities(scaled: np.ndarray, original: np.ndarray, table: xr.Dataset) -> None:
    """ConfigError if a pathway factor pushed a connection probability to 1 or beyond."""
    bad = np.argwhere(scaled >= 1.0)
    if bad.size:
        t, s = bad[0]
        names = _names(table)
        key = f"{names[s]}{PATHWAY_ARROW}{names[t]}"
        raise ConfigError(f"{named('pathways')} {key!r}: probability factor {scaled[t, s] / original[t, s]:g} "
                          f"makes the connection probability {scaled[t, s]:g} (table {original[t, s]:g}); "
                          f"it must stay below 1 (the synapse number ln(1 - C) / ln(1 - 1/(N_s N_t)) is "
                          f"infinite at 1): use a factor below {1 / original[t, s]:g}")


def check_against_table(net, table: xr.Dataset) -> None:
    """ConfigError if the varied keys of ``net`` (a NetworkParams) do not fit ``table``: unknown population
    names, a probability pushed to 1, a ``g`` the table does not define. ``derive`` finds the same."""
    if net.g != TABLE:
        inhibition_factor(net.g, table)
    if isinstance(net.k_ext, Mapping):
        external_indegrees(net.k_ext, table)
    if net.pathways:
        prob, _ = pathway_factors(net.pathways, table)
        conn = np.asarray(table["connection_probability"].values, dtype=float)
        check_scaled_probabilities(conn * prob, conn, table)


# ----------------------------------------------------------------------------------------------
# PD14 Fig. 7C: random external in-degrees


def _layer_partner(pop: str, names: list[str], types: list[str]) -> str:
    """The excitatory population of an inhibitory population's layer: its name with the last 'I' -> 'E'."""
    partner = pop[:-1] + "E" if pop.endswith("I") else ""
    if partner not in names or types[names.index(partner)] != "E":
        raise ConfigError(f"the random external in-degrees pair every inhibitory population with the excitatory "
                          f"one of its layer by name (L23I -> L23E), but the table has no {partner or pop + '?'!r} "
                          f"for {pop!r}")
    return partner


def random_k_ext(table: xr.Dataset, seed: int, trial: int = 0,
                 specificity: Mapping[str, float] | None = None) -> dict[str, int]:
    """External in-degrees of one trial of PD14's Fig. 7C, drawn at random (reproducible from seed and trial).

    For every excitatory population, ``C_e`` uniformly between its layer-specific value (the
    table's ``k_ext``) and its layer-independent value (2000); for the inhibitory population of
    the same layer, ``C_i`` uniformly between that ``C_e`` and ``C_e (1 - T) / (1 + T)``, with
    target specificity ``T = 0.1`` (0.2 for L6I) (Potjans & Diesmann 2014, Cereb Cortex
    24:785, Fig. 7C and Methods). Both are rounded to whole numbers. The result is a valid
    ``k_ext`` override (``NetworkParams(k_ext=...)``).

    Parameters
    ----------
    table : xarray.Dataset
        Connectivity table; inhibitory populations pair with excitatory ones by name
        (``L23I`` with ``L23E``).
    seed : int
        Seed of the draw; trial ``trial`` uses NumPy's generator seeded with
        ``[seed, K_EXT_DRAW_STREAM, trial]``, so trials are independent of each other and of
        how many are drawn.
    trial : int
        Trial number, >= 0.
    specificity : mapping, optional
        Target specificity ``T`` per inhibitory population; unnamed ones get 0.1. Default:
        PD14's (0.2 for L6I).

    Returns
    -------
    dict
        {population: external in-degree at full scale}, every population of the table.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"random_k_ext: seed = {seed!r} is not allowed; must be a whole number >= 0")
    if isinstance(trial, bool) or not isinstance(trial, (int, np.integer)) or trial < 0:
        raise ConfigError(f"random_k_ext: trial = {trial!r} is not allowed; must be a whole number >= 0")
    spec = dict(TARGET_SPECIFICITY_BY_POPULATION if specificity is None else specificity)
    names = _names(table)
    types = [str(t) for t in table["population_type"].values]
    specific = dict(zip(names, np.asarray(table["k_ext"].values, dtype=float)))
    rng = np.random.default_rng([int(seed), K_EXT_DRAW_STREAM, int(trial)])
    out: dict[str, int] = {}
    for pop, kind in zip(names, types):  # excitatory first: the inhibitory draw depends on them
        if kind == "E":
            lo, hi = sorted((specific[pop], float(LAYER_INDEPENDENT_K_EXT["E"])))
            out[pop] = int(round(rng.uniform(lo, hi)))
    for pop, kind in zip(names, types):
        if kind == "I":
            t = spec.get(pop, TARGET_SPECIFICITY)
            if not 0 <= t < 1:
                raise ConfigError(f"random_k_ext: target specificity of {pop} = {t!r} is not allowed; must be in [0, 1)")
            c_e = out[_layer_partner(pop, names, types)]
            out[pop] = int(round(rng.uniform(c_e * (1 - t) / (1 + t), c_e)))
    return {pop: out[pop] for pop in names}


# ----------------------------------------------------------------------------------------------
# configurations written before these keys existed


LEGACY_INH_PSP_SCALE = "inh_psp_scale"


def upgrade_config_dict(data: dict, table: xr.Dataset | None = None, source: str = "configuration") -> dict:
    """A configuration dict (TOML, a spike file's stored JSON) with obsolete keys translated.

    ``network.inh_psp_scale = f`` (a factor on every inhibitory PSP, replaced by ``g``) becomes
    ``g = "table"`` for f = 1, else ``g = f × table_g``, with the table ``table`` or, if None,
    the one the configuration names (``network.connectivity``; the PD14 table by default).
    Both keys at once are an error. Returns a new dict; ``data`` is not changed.
    """
    net = data.get("network") if isinstance(data, dict) else None
    if not isinstance(net, dict) or LEGACY_INH_PSP_SCALE not in net:
        return data
    f = net[LEGACY_INH_PSP_SCALE]
    if "g" in net:
        raise ConfigError(f"{source}: network.{LEGACY_INH_PSP_SCALE} was replaced by network.g; give only g")
    ok = isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f) and f >= 0
    if not ok:
        raise ConfigError(f"{source}: network.{LEGACY_INH_PSP_SCALE} = {f!r} is not allowed (it was replaced by "
                          "network.g, PD14's relative inhibition: inhibitory PSP = g × excitatory PSP, -4 in PD14)")
    net = {k: v for k, v in net.items() if k != LEGACY_INH_PSP_SCALE}
    if f == 1:
        net["g"] = TABLE
    else:
        if table is None:
            from .connectivity import load_table  # only for old configurations that changed inhibition

            table = load_table(net.get("connectivity", ""))
        g_table = table_g(table)
        if not math.isfinite(g_table):
            raise ConfigError(f"{source}: network.{LEGACY_INH_PSP_SCALE} = {f:g} was replaced by network.g, which "
                              f"this table does not define (no connected excitatory and inhibitory pathways)")
        net["g"] = f * g_table
    return {**data, "network": net}
