"""The exception hierarchy.

Every error that simulacra raises on purpose derives from :class:`SimulacraError`. Its message is a single
line that names the file, column or value at fault and says what to do; the CLI prints exactly that line
and exits with code 2.
"""

from __future__ import annotations


class SimulacraError(Exception):
    """Root of simulacra's errors; the message is one line that names the problem and the fix."""


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
