"""What a sweep varies: configuration keys, their values, how axes combine, and the points that follow.

A sweep is a base configuration (:class:`~microcircuit.parameters.Config`) and a list of
**axes**. An axis is one dimension of the result: one configuration key and its values (a grid
axis), or several keys whose values go together (a paired axis: the i-th value of every key
forms the i-th point along it). The points are the product of the axes (plus ``trial`` when a
draw rule is used). Seeds are an axis of ``simulation.seed``.

Keys are written as configuration keys (``network.g``, ``simulation.seed``,
``network.pathways.L23E->L4I.probability``, ``network.k_ext.L6E``) or as unambiguous short
names (``g``, ``bg_rate``, ``seed``, ``L23E->L4I.probability``, ``k_ext.L6E``). Values are
lists, or ``START:STOP:N`` (N values from START to STOP, both included).

Draw rules set a key anew for every trial: ``k_ext = "pd14_random"`` is PD14's Fig. 7C
(:func:`microcircuit.variations.random_k_ext` with the base configuration's seed and the trial
number), so a sweep's trials are reproducible from its seed.

Pure: no NEST; reads only the connectivity table(s) the configurations name.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from .. import variations
from ..connectivity import load_table
from ..errors import ConfigError
from ..parameters import Config

SEED_KEY = "simulation.seed"
TRIAL_DIM = "trial"
POPULATION_DIM = "population"
RESERVED_DIMS = (POPULATION_DIM, TRIAL_DIM)
PATHWAYS_KEY = "network.pathways"
K_EXT_KEY = "network.k_ext"
# keys a sweep does not vary, and why
NOT_VARIED = {
    "simulation.record": "a sweep records every point (its summary is computed from the spikes)",
    PATHWAYS_KEY: "vary one factor of one pathway: network.pathways.SOURCE->TARGET.probability (or .psp)",
}
RANGE_SEPARATOR = ":"
SIGNIFICANT_DIGITS = 12  # values of a START:STOP:N range are rounded to this many, so that -4 is -4.0, not -3.9999999999999996


def _draw_pd14_random(table: xr.Dataset, seed: int, trial: int) -> dict[str, int]:
    return variations.random_k_ext(table, seed, trial)


# draw rules: key -> {rule name: function(table, seed, trial) -> value of the key}
DRAW_RULES = {K_EXT_KEY: {"pd14_random": _draw_pd14_random}}
DRAW_RULE_HELP = "k_ext=pd14_random (PD14 Fig. 7C: random external in-degrees)"


# ----------------------------------------------------------------------------------------------
# keys


@dataclass(frozen=True)
class Key:
    """A configuration key a sweep can vary.

    ``path`` is the full key (``network.g``), ``name`` its readable name in the result file
    (``g``; ``L23E->L4I_probability``; ``k_ext_L6E``), ``kind`` how its values are read.
    """

    path: str
    name: str
    kind: str  # float, int, bool, str, table_or_float, k_ext, factor (pathway), indegree (k_ext of one population)

    @property
    def numeric(self) -> bool:
        return self.kind in ("float", "int", "table_or_float", "factor", "indegree")


def _leaves(obj, prefix: str = "") -> dict[str, Any]:
    """Every field of a configuration (dataclasses inside dataclasses) as {dotted path: default}."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_leaves(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


LEAVES = _leaves(Config())
_SHORT: dict[str, list[str]] = {}
for _path in LEAVES:
    _SHORT.setdefault(_path.rsplit(".", 1)[-1], []).append(_path)


def _leaf_kind(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if last in ("g", "bg_rate"):
        return "table_or_float"
    if path == K_EXT_KEY:
        return "k_ext"
    default = LEAVES[path]
    for kind in (bool, int, float, str):  # bool before int: True is an int
        if isinstance(default, kind):
            return kind.__name__
    return "other"


def _leaf_name(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    return last if len(_SHORT[last]) == 1 else path


def resolve_key(text: str, table: xr.Dataset | None = None) -> Key:
    """The key ``text`` names (a configuration key or a short name); ConfigError if unknown or ambiguous.

    With ``table``, population names in pathway and ``k_ext.POP`` keys are checked against it.
    """
    raw = text
    text = text.strip()
    if not text:
        raise ConfigError("an empty key cannot vary; name a configuration key, e.g. network.g or g")
    if variations.PATHWAY_ARROW in text:
        return _pathway_key(raw, text, table)
    for prefix in (K_EXT_KEY + ".", "k_ext.", "k_ext_"):
        if text.startswith(prefix) and text != K_EXT_KEY:
            pop = text[len(prefix):]
            _check_populations(raw, [pop], table)
            return Key(f"{K_EXT_KEY}.{pop}", f"k_ext_{pop}", "indegree")
    if text in NOT_VARIED:
        raise ConfigError(f"{text} cannot vary: {NOT_VARIED[text]}")
    if text in LEAVES:
        path = text
    elif text in _SHORT:
        paths = _SHORT[text]
        if len(paths) > 1:
            raise ConfigError(f"key {text!r} is ambiguous: write one of {', '.join(paths)}")
        path = paths[0]
    else:
        names = sorted(set(LEAVES) | set(_SHORT))
        close = difflib.get_close_matches(text, names, n=3)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown key {text!r}{hint}; vary a configuration key such as network.g, "
                          f"simulation.seed or network.pathways.L23E->L4I.probability, or its short name (g, seed)")
    if path in NOT_VARIED:
        raise ConfigError(f"{path} cannot vary: {NOT_VARIED[path]}")
    kind = _leaf_kind(path)
    if kind == "other":
        raise ConfigError(f"{path} cannot vary (its value is not a number, a name or true/false)")
    return Key(path, _leaf_name(path), kind)


def _check_populations(raw: str, names, table: xr.Dataset | None) -> None:
    if table is None:
        return
    known = [str(p) for p in table["population"].values]
    for name in names:
        if name not in known:
            raise ConfigError(f"key {raw!r}: unknown population {name!r}; the table's populations are {', '.join(known)}")


def _pathway_key(raw: str, text: str, table: xr.Dataset | None) -> Key:
    for prefix in (PATHWAYS_KEY + ".", "pathways."):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    factor = next((f for f in variations.PATHWAY_FACTORS for sep in "._" if text.endswith(sep + f)), None)
    if factor is None:
        raise ConfigError(f"key {raw!r}: name the factor of the pathway, e.g. network.pathways.L23E->L4I.probability "
                          f"(factors: {', '.join(variations.PATHWAY_FACTORS)})")
    try:
        name = variations.pathway_name(text[:-len(factor) - 1])
    except ConfigError:
        raise ConfigError(f"key {raw!r}: name a pathway as SOURCE->TARGET, e.g. L23E->L4I.probability") from None
    _check_populations(raw, variations.pathway_key(name), table)
    return Key(f"{PATHWAYS_KEY}.{name}.{factor}", f"{name}_{factor}", "factor")


# ----------------------------------------------------------------------------------------------
# values


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def parse_value(key: Key, value) -> Any:
    """One value of ``key``, from the command line (a string) or a sweep file (a TOML value); ConfigError if it cannot be."""
    kind = key.kind
    text = value.strip() if isinstance(value, str) else None
    if kind in ("float", "factor", "table_or_float"):
        if kind == "table_or_float" and text == variations.TABLE:
            return text
        number = _number(text if text is not None else value)
        if number is None or not math.isfinite(number):
            allowed = "a number" + (f" or {variations.TABLE!r}" if kind == "table_or_float" else "")
            raise ConfigError(f"{key.path}: value {value!r} is not allowed; give {allowed}")
        return number
    if kind in ("int", "indegree"):
        number = _number(text if text is not None else value)
        if number is None or not math.isfinite(number) or not float(number).is_integer():
            raise ConfigError(f"{key.path}: value {value!r} is not allowed; give a whole number")
        return int(number)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if text in ("true", "false"):
            return text == "true"
        raise ConfigError(f"{key.path}: value {value!r} is not allowed; give true or false")
    if kind == "k_ext":
        if text in variations.K_EXT_PRESETS:
            return text
        raise ConfigError(f"{key.path}: value {value!r} is not allowed; a sweep varies k_ext between "
                          f"{' and '.join(variations.K_EXT_PRESETS)}, or one population's in-degree (k_ext.L6E)")
    if kind == "str":
        if text:
            return text
        raise ConfigError(f"{key.path}: value {value!r} is not allowed; give a name")
    raise ConfigError(f"{key.path} cannot vary")


def _number(value) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_range(key: Key, text: str) -> list:
    """``START:STOP:N``: N values from START to STOP, both included (numpy.linspace)."""
    parts = text.split(RANGE_SEPARATOR)
    usage = f"give START:STOP:N (N values from START to STOP, both included), e.g. {key.name}=-8:-4:5"
    if len(parts) != 3:
        raise ConfigError(f"{key.path}: range {text!r} is not allowed; {usage}")
    if not key.numeric:
        raise ConfigError(f"{key.path}: range {text!r} is not allowed; {key.path} takes names, give them as a list")
    start, stop, num = (_number(p.strip()) for p in parts)
    if start is None or stop is None or num is None or not (math.isfinite(start) and math.isfinite(stop)):
        raise ConfigError(f"{key.path}: range {text!r} is not numeric; {usage}")
    if not float(num).is_integer() or num < 1:
        raise ConfigError(f"{key.path}: range {text!r} is empty or has no whole number of values; N must be a "
                          f"whole number >= 1 ({usage})")
    if num == 1 and start != stop:  # linspace would give START alone and drop STOP without a word
        raise ConfigError(f"{key.path}: range {text!r} has one value but two ends; N = 1 needs START = STOP "
                          f"({usage})")
    values = [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in np.linspace(start, stop, int(num))]
    return [parse_value(key, v) for v in values]


def parse_values(key: Key, spec, *, distinct: bool = True) -> list:
    """The values of an axis: a list (TOML) or a comma-separated text, or a ``START:STOP:N`` range.

    ``distinct``: refuse a value given twice (a grid axis). A key of a paired axis may repeat a value
    (``bg_rate=8,10,8`` with ``g=-4,-4,-5``: PD14's Fig. 8A row and 8C column through one point);
    :func:`paired_axis` refuses a repeated combination instead."""
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise ConfigError(f"{key.path}: no values; give V1,V2,... or START:STOP:N")
        if RANGE_SEPARATOR in text:
            values = parse_range(key, text)
        else:
            items = [item.strip() for item in text.split(",")]
            if any(not item for item in items):
                raise ConfigError(f"{key.path}: {text!r} has an empty value; give V1,V2,... or START:STOP:N")
            values = [parse_value(key, item) for item in items]
    elif isinstance(spec, (list, tuple)):
        if not spec:
            raise ConfigError(f"{key.path}: the list of values is empty")
        values = [parse_value(key, item) for item in spec]
    else:
        values = [parse_value(key, spec)]
    seen = set()
    for v in values if distinct else ():
        if v in seen:
            raise ConfigError(f"{key.path}: value {v!r} is given twice; every value of an axis must differ")
        seen.add(v)
    return values


def parse_vary(text: str) -> tuple[str, str]:
    """``--vary KEY=V1,V2,...`` or ``KEY=START:STOP:N`` as (key, values text)."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--vary {text!r}: give KEY=V1,V2,... or KEY=START:STOP:N, e.g. g=-8,-6,-4 or bg_rate=4:8:5")
    return key.strip(), values


# ----------------------------------------------------------------------------------------------
# axes and points


@dataclass(frozen=True)
class Axis:
    """One dimension of a sweep: ``dim`` and, per key, its values (all of the same length)."""

    dim: str
    keys: tuple[Key, ...]
    values: tuple[tuple, ...]

    @property
    def size(self) -> int:
        return len(self.values[0])

    @property
    def paired(self) -> bool:
        return len(self.keys) > 1


def grid_axis(key: Key, values: list) -> Axis:
    return Axis(key.name, (key,), (tuple(values),))


def paired_axis(keys: list[Key], values: list[list], dim: str | None = None) -> Axis:
    """Keys whose values go together (the i-th of each); ConfigError if the lists differ in length."""
    lengths = {k.path: len(v) for k, v in zip(keys, values)}
    if len(set(lengths.values())) > 1:
        raise ConfigError("paired keys need the same number of values, got "
                          + ", ".join(f"{n} for {k}" for k, n in lengths.items()))
    combos = list(zip(*values))
    if len(set(combos)) < len(combos):
        raise ConfigError(f"paired keys {', '.join(lengths)}: a combination of values is given twice")
    name = dim or "_and_".join(k.name for k in keys)
    return Axis(name, tuple(keys), tuple(tuple(v) for v in values))


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its position (an index per dimension), the values it sets, its trial."""

    number: int
    index: tuple[int, ...]
    values: tuple[tuple[Key, Any], ...]
    trial: int | None = None

    @property
    def name(self) -> str:
        return f"p{self.number:05d}"

    @property
    def label(self) -> str:
        """The point as ``g=-4 seed=55 trial=3``."""
        parts = [f"{k.name}={_format(v)}" for k, v in self.values]
        if self.trial is not None:
            parts.append(f"{TRIAL_DIM}={self.trial}")
        return " ".join(parts) or "base"


def _format(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Spec:
    """A sweep: base configuration, axes, trials and draw rules, and the sweep file's text.

    ``draw`` maps a key path to a rule name of ``DRAW_RULES``; with ``trials`` > 0 every
    trial draws the key anew from the base configuration's seed and the trial number.
    """

    base: Config
    axes: tuple[Axis, ...] = ()
    trials: int = 0
    draw: tuple[tuple[str, str], ...] = ()
    text: str = ""

    def __post_init__(self):
        check_axes(self.axes, self.trials, dict(self.draw), self.base)

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(a.dim for a in self.axes) + ((TRIAL_DIM,) if self.trials else ())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes) + ((self.trials,) if self.trials else ())

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def draw_seed(self) -> int:
        return int(self.base.simulation.seed)

    def points(self) -> list[Point]:
        out = []
        for number, index in enumerate(np.ndindex(*self.shape) if self.shape else [()]):
            values = tuple((k, axis.values[j][i]) for axis, i in zip(self.axes, index) for j, k in enumerate(axis.keys))
            trial = int(index[-1]) if self.trials else None
            out.append(Point(number, tuple(int(i) for i in index), values, trial))
        return out

    def config_dict(self, point: Point, table: xr.Dataset | None = None) -> dict:
        """The configuration of ``point`` as nested dicts (``Config.to_dict`` form); ``table`` is needed for draws."""
        data = json.loads(json.dumps(self.base.to_dict()))  # a deep copy
        for key, value in point.values:
            _set(data, key, value)
        if point.trial is not None:
            for path, rule in self.draw:
                if table is None:
                    table = load_table(data["network"]["connectivity"])
                _set(data, _key_for_path(path), DRAW_RULES[path][rule](table, self.draw_seed, point.trial))
        return data

    def config(self, point: Point, table: xr.Dataset | None = None) -> Config:
        """The configuration of ``point`` (ConfigError, naming the point, if it is invalid)."""
        try:
            return Config.from_dict(self.config_dict(point, table), table)
        except ConfigError as exc:
            raise ConfigError(f"point {point.name} ({point.label}): {exc}") from None

    def canonical(self) -> str:
        """The sweep as JSON with sorted keys: two specs run the same points if and only if these are equal."""
        return json.dumps({
            "base": self.base.to_dict(),
            "axes": [{"dim": a.dim, "keys": [k.path for k in a.keys], "values": [list(v) for v in a.values]}
                     for a in self.axes],
            "trials": self.trials,
            "draw": dict(self.draw),
        }, sort_keys=True)

    @classmethod
    def from_canonical(cls, text: str, sweep_file_text: str = "") -> "Spec":
        data = json.loads(text)
        base = Config.from_dict(data["base"])
        axes = []
        for a in data["axes"]:
            keys = [resolve_key(p) for p in a["keys"]]
            axes.append(Axis(a["dim"], tuple(keys), tuple(tuple(v) for v in a["values"])))
        return cls(base, tuple(axes), int(data["trials"]), tuple(sorted(data["draw"].items())), sweep_file_text)


def _key_for_path(path: str) -> Key:
    return resolve_key(path)


def _set(data: dict, key: Key, value) -> None:
    """Set ``key`` to ``value`` in a configuration dict."""
    net = data["network"]
    if key.kind == "factor":
        rest = key.path[len(PATHWAYS_KEY) + 1:]
        name, factor = rest.rsplit(".", 1)
        pathways = {variations.pathway_name(k): dict(v) for k, v in net.get("pathways", {}).items()}
        pathways[name] = {**pathways.get(name, {}), factor: float(value)}
        net["pathways"] = pathways
        return
    if key.kind == "indegree":
        pop = key.path[len(K_EXT_KEY) + 1:]
        k_ext = net.get("k_ext", variations.TABLE)
        if k_ext == variations.LAYER_INDEPENDENT:
            raise ConfigError(f"{key.path} changes one population's in-degree of the table's, but the base "
                              f"configuration has k_ext = {k_ext!r}: give the base's in-degrees per population instead")
        k_ext = {} if k_ext == variations.TABLE else dict(k_ext)
        k_ext[pop] = int(value)
        net["k_ext"] = k_ext
        return
    if key.path == K_EXT_KEY:
        net["k_ext"] = value
        return
    *sections, name = key.path.split(".")
    target = data
    for s in sections:
        target = target[s]
    target[name] = value


def _overlap(a: Key, b: Key) -> bool:
    """Whether two keys set the same thing (the same key, or k_ext and one population's k_ext)."""
    return _paths_overlap(a.path, b.path)


def _paths_overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    k = {a, b}
    return K_EXT_KEY in k and any(p.startswith(K_EXT_KEY + ".") for p in k)


def check_fixed(spec: "Spec", fixed: dict[str, str]) -> None:
    """ConfigError if a key set once for the whole sweep also varies on an axis or is drawn.

    ``fixed`` maps key paths (``network.g``) to how they were set (``--g -4``): two settings of
    the same key, one of which would silently win over the other.
    """
    for path, how in fixed.items():
        for axis in spec.axes:
            for key in axis.keys:
                if _paths_overlap(path, key.path):
                    raise ConfigError(f"{how} and the axis {key.name} both set {key.path}: give one of them "
                                      f"(the axis's values replace {how})")
        for drawn, rule in spec.draw:
            if _paths_overlap(path, drawn):
                raise ConfigError(f"{how} and the draw rule {drawn}={rule} both set {drawn}: give one of them")


def check_axes(axes, trials: int, draw: dict, base: Config) -> None:
    """ConfigError if two axes set the same key, dimension names clash, or trials and draws do not fit together."""
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 0:
        raise ConfigError(f"trials = {trials!r} is not allowed; must be a whole number >= 0")
    if trials and not draw:
        raise ConfigError(f"{trials} trials need a draw rule that differs between them, e.g. --draw {DRAW_RULE_HELP} "
                          f"(identical trials would give identical spikes)")
    if draw and not trials:
        raise ConfigError("a draw rule needs trials: give their number (--trials N, or trials = N in [sweep])")
    keys: list[Key] = []
    for axis in axes:
        for key in axis.keys:
            for other in keys:
                if _overlap(key, other):
                    same = key.path if key.path == other.path else f"{other.path} and {key.path}"
                    raise ConfigError(f"{same}: two axes set the same key; give each key once (pair keys that go "
                                      f"together with --paired)")
            keys.append(key)
    for path in draw:
        for key in keys:
            if _overlap(key, _key_for_path(path)):
                raise ConfigError(f"{key.path} varies on an axis and is drawn by a rule ({path}) at the same time; "
                                  "give one of them")
    dims = [a.dim for a in axes]
    for d in dims:
        if d in RESERVED_DIMS:
            raise ConfigError(f"dimension name {d!r} is reserved ({', '.join(RESERVED_DIMS)}); name the axis otherwise")
        if dims.count(d) > 1:
            raise ConfigError(f"two axes are named {d!r}; give paired groups distinct names")
    names = [k.name for k in keys]
    for a in axes:
        if a.paired and a.dim in names:
            raise ConfigError(f"the paired axis {a.dim!r} has the name of a key; name it otherwise")


# ----------------------------------------------------------------------------------------------
# building a spec from a sweep file and the command line


SWEEP_TABLE = "sweep"
SWEEP_FILE_KEYS = ("vary", "paired", "seeds", "trials", "draw")


def _flatten(values: Mapping, prefix: str = "") -> dict:
    """{"network": {"g": [...]}} -> {"network.g": [...]}: TOML's dotted keys become nested tables."""
    out = {}
    for k, v in values.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, path + "."))
        else:
            out[path] = v
    return out


def parse_draw(text: str) -> tuple[str, str]:
    """``KEY=RULE`` (``k_ext=pd14_random``) as (key path, rule)."""
    key, sep, rule = text.partition("=")
    if not sep:
        raise ConfigError(f"--draw {text!r}: give KEY=RULE, e.g. {DRAW_RULE_HELP}")
    try:
        path = resolve_key(key).path
    except ConfigError:
        path = key.strip()
    rules = DRAW_RULES.get(path)
    if rules is None:
        raise ConfigError(f"--draw {text!r}: no draw rule for {key.strip()!r}; available: {DRAW_RULE_HELP}")
    if rule.strip() not in rules:
        raise ConfigError(f"--draw {text!r}: unknown rule {rule.strip()!r} for {path}; available: {', '.join(rules)}")
    return path, rule.strip()


def build(base: Config, *, sweep: Mapping | None = None, vary: list[str] = (), paired: bool = False,
          seeds: int | None = None, trials: int | None = None, draw: list[str] = (), text: str = "",
          table: xr.Dataset | None = None) -> Spec:
    """A Spec from the ``[sweep]`` table of a sweep file and the command line's ``--vary`` etc.

    Axes come in this order: the grid axes (the file's ``vary``, then the command line's
    ``--vary``), the paired groups (the file's, then the command line's ``--vary`` with
    ``paired``), then ``seed`` (``seeds``), then ``trial``. ``seeds = N`` makes an axis of ``simulation.seed`` with N seeds from the base's.
    Command-line ``seeds``, ``trials`` and ``draw`` replace the file's.
    """
    sweep = dict(sweep or {})
    unknown = sorted(set(sweep) - set(SWEEP_FILE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [{SWEEP_TABLE}]; allowed: {', '.join(SWEEP_FILE_KEYS)}")
    table = load_table(base.network.connectivity) if table is None else table
    axes: list[Axis] = []
    file_vary = sweep.get("vary", {})
    if not isinstance(file_vary, Mapping):
        raise ConfigError(f"[{SWEEP_TABLE}] vary must be a table of KEY = [values] or KEY = \"START:STOP:N\"")
    for k, v in _flatten(file_vary).items():
        key = resolve_key(k, table)
        axes.append(grid_axis(key, parse_values(key, v)))
    groups = sweep.get("paired", {})
    if not isinstance(groups, Mapping) or not all(isinstance(g, Mapping) for g in groups.values()):
        raise ConfigError(f"[{SWEEP_TABLE}.paired] must hold named groups: [{SWEEP_TABLE}.paired.NAME] with "
                          "KEY = [values] for every key of the group")
    cli = []
    for item in vary:
        k, v = parse_vary(item)
        key = resolve_key(k, table)
        cli.append((key, parse_values(key, v, distinct=not paired)))
    if paired and len(cli) < 2:
        raise ConfigError("--paired pairs two or more --vary keys; give at least two")
    if not paired:
        axes.extend(grid_axis(k, v) for k, v in cli)
    for name, group in groups.items():
        flat = _flatten(group)
        if len(flat) < 2:
            raise ConfigError(f"[{SWEEP_TABLE}.paired.{name}] pairs at least two keys; a single key is a "
                              f"[{SWEEP_TABLE}.vary] axis")
        keys = [resolve_key(k, table) for k in flat]
        axes.append(paired_axis(keys, [parse_values(key, v, distinct=False) for key, v in zip(keys, flat.values())], name))
    if paired:
        axes.append(paired_axis([k for k, _ in cli], [v for _, v in cli]))
    n_seeds = seeds if seeds is not None else sweep.get("seeds")
    if n_seeds is not None:
        if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
            raise ConfigError(f"seeds = {n_seeds!r} is not allowed; must be a whole number >= 1")
        first = base.simulation.seed
        if first + n_seeds > 2**31:
            raise ConfigError(f"{n_seeds} seeds from {first} pass the largest seed 2**31 - 1")
        key = resolve_key(SEED_KEY)
        axes.append(grid_axis(key, [first + i for i in range(n_seeds)]))
    n_trials = trials if trials is not None else sweep.get("trials", 0)
    draws = draw if draw else [f"{k}={v}" for k, v in _flatten(sweep.get("draw", {})).items()]
    draw_rules = dict(parse_draw(d) for d in draws)
    return Spec(base, tuple(axes), n_trials, tuple(sorted(draw_rules.items())), text)
