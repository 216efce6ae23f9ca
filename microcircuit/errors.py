"""Exceptions with one-line messages meant for users, and how those messages name options.

Library code names an option by its Python spelling (a parameter field such as ``n_scaling``
or a keyword argument such as ``overwrite=True``); the command-line layer registers its flags
(``--n-scale``, ``--overwrite``) with :func:`name_options`, so that the same message tells each
kind of user about the options they actually have.
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
}
_names: dict[str, str] = {}


def option(key: str) -> str:
    """How messages name the option ``key``: as registered by the command line, else its Python spelling."""
    return _names.get(key, _PYTHON_NAMES.get(key, key))


def name_options(names: Mapping[str, str]) -> None:
    """Spell the options in ``names`` (key -> text, e.g. ``{"overwrite": "--overwrite"}``) in all later messages."""
    _names.update(names)


@contextlib.contextmanager
def options_named(names: Mapping[str, str]) -> Iterator[None]:
    """Spell the options in ``names`` in the messages made within this block (a command's lifetime)."""
    saved = dict(_names)
    _names.update(names)
    try:
        yield
    finally:
        _names.clear()
        _names.update(saved)


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
