"""The exception hierarchy.

Every error that simulacra raises on purpose derives from :class:`SimulacraError`. Its message is a single
line that names the file, column or value at fault and says what to do; the CLI prints that line and
exits with code 2.

A message names a parameter in backticks, by the name a Python caller passes it under (the request
field or function argument: ```class_counts``` needs the column it counts; add ```balance```). That
is how ``str(error)`` shows it; the CLI shows each such name as the option that sets it
(``--class-counts``, ``--balance``) through :meth:`SimulacraError.render`, and a ``run`` config's
errors as the YAML key. So the library never speaks of command-line flags it does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: a parameter named in a message: a Python identifier in backticks
PARAMETER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


class SimulacraError(Exception):
    """Root of simulacra's errors; the message is one line that names the problem and the fix, and
    names parameters in backticks (see the module docstring)."""

    def render(self, name: Callable[[str], str | None] = lambda parameter: None) -> str:
        """The message with every backticked parameter replaced by ``name(parameter)``, or by the bare
        parameter name where that gives ``None`` (the CLI passes its option names)."""
        return PARAMETER.sub(lambda m: name(m.group(1)) or m.group(1), str(self))


class DataError(SimulacraError):
    """The input data cannot be read or used (missing file, unknown format, empty table, ...)."""


class MetadataError(SimulacraError):
    """Metadata is inconsistent with the data or malformed (unknown column, bad sdtype, ...)."""


class ConfigError(SimulacraError):
    """A configuration, hyper-parameter or command-line option is invalid."""


class ConditionError(SimulacraError):
    """A sampling condition cannot be met (unknown column, unseen category, impossible combination)."""


class NotFittedError(SimulacraError):
    """A model or transformer was used before ``fit``."""


class OutputExistsError(SimulacraError):
    """An output path already exists and ``force`` was not given."""


class PrivacyWarning(UserWarning):
    """Something the user gave weakens a privacy guarantee without breaking the run (e.g. a declared
    bound equal to the data's own extreme); the CLI prints it as one ``warning:`` line."""


class DataWarning(UserWarning):
    """A value was read in a way the user should know about, though nothing is lost (a text file that
    is not all valid UTF-8, decoded byte by byte where it is not); the CLI prints it as one ``warning:``
    line, and the preparation record lists it."""
