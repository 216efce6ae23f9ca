"""Exceptions with one-line messages meant for users, and how those messages name options.

Library code names an option by its Python spelling (a parameter field such as ``n_scaling``
or a keyword argument such as ``overwrite=True``); the command-line layer registers its flags
(``--n-scale``, ``--overwrite``) with :func:`name_options`, so that the same message tells each
kind of user about the options they actually have. A value that came from a TOML file is named by
its key there (``network.n_scaling``), one typed on the command line by its flag (``--scale``):
:func:`setting` writes "what was set" in the user's own words.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

# option key -> how a Python caller sets it (keys without an entry are spelled as they are)
_PYTHON_NAMES = {
    "output_dir": "output_dir",
    "overwrite": "overwrite=True",
    "check_memory": "check_memory=False",
    "scale": "n_scaling and k_scaling",
    "background_poisson": "background = 'poisson'",
    "recover": "microcircuit.output.recover(DIR / 'spikes.nc')",
    "from_file": "microcircuit.output.stored_run() on the attributes of",
}
_names: dict[str, str] = {}
_origins: dict[str, str] = {}  # option key -> how the user set it in this command (flag or TOML key)


def option(key: str) -> str:
    """How messages name the option ``key``: as registered by the command line, else its Python spelling."""
    return _names.get(key, _PYTHON_NAMES.get(key, key))


def named(key: str) -> str:
    """How the user set the option ``key`` (registered with :func:`name_origins`), else :func:`option`.

    For what a message refuses; remedies name the option with :func:`option` (a flag on the command line).
    """
    return _origins.get(key) or option(key)


def setting(key: str, value) -> str:
    """The option ``key`` set to ``value``, as the user wrote it: ``--scale 0`` for a flag, else ``key = value``."""
    name = named(key)
    if name.startswith("-"):
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{name} {shown}"
    return f"{name} = {value!r}"


def shorten(items, limit: int = 5) -> str:
    """``items`` joined by ", ", at most ``limit`` of them, then how many more (a message stays one short line)."""
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])}, ... ({len(items)} in all)"


def name_options(names: Mapping[str, str]) -> None:
    """Spell the options in ``names`` (key -> text, e.g. ``{"overwrite": "--overwrite"}``) in all later messages."""
    _names.update(names)


def name_origins(origins: Mapping[str, str]) -> None:
    """Say in all later messages how the user set these options: ``{"n_scaling": "--scale"}`` (a flag typed),
    ``{"n_scaling": "network.n_scaling"}`` (a key of a TOML file or of a stored configuration)."""
    _origins.update(origins)


@contextlib.contextmanager
def options_named(names: Mapping[str, str]) -> Iterator[None]:
    """Spell the options in ``names`` in the messages made within this block (a command's lifetime).

    Origins registered within the block (:func:`name_origins`) are forgotten at its end.
    """
    saved, saved_origins = dict(_names), dict(_origins)
    _names.update(names)
    try:
        yield
    finally:
        _names.clear()
        _names.update(saved)
        _origins.clear()
        _origins.update(saved_origins)


class ConfigError(ValueError):
    """An invalid option, parameter or connectivity table.

    The message names the offending item and its allowed range in one line; the
    command-line tools print it and exit with status 2.
    """


class SetupError(RuntimeError):
    """Something outside the configuration is missing (NEST, the compiled module, ...).

    The message says how to fix it.
    """


class BuildError(SetupError):
    """The neuron module could not be built; the message says why in one line."""
