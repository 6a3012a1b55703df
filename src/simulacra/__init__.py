"""simulacra: synthetic data that is as useful as the original for training models, and safe to share.

The pipeline is ``read_table`` → ``Metadata.detect`` → ``make(name).fit`` → ``sample`` → ``evaluate`` →
``Report``. See the README for the architecture.
"""

from __future__ import annotations

__version__ = "0.1.0"

from simulacra.errors import (
    ConditionError,
    ConfigError,
    DataError,
    MetadataError,
    SimulacraError,
)
from simulacra.io import read_table, write_table
from simulacra.metadata import Metadata

__all__ = [
    "ConditionError",
    "ConfigError",
    "DataError",
    "Metadata",
    "MetadataError",
    "SimulacraError",
    "__version__",
    "read_table",
    "write_table",
]
