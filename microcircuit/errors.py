"""Exceptions with one-line messages meant for users."""


class ConfigError(ValueError):
    """An invalid option, parameter or connectivity table.

    The message names the offending item and its allowed range in one line; the
    command-line tools print it and exit with status 2.
    """


class SetupError(RuntimeError):
    """Something outside the configuration is missing (NEST, the compiled module, ...).

    The message says how to fix it.
    """
