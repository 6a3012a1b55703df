"""simulacra: synthetic data that is as useful as the original for training models, and safe to share.

The pipeline is ``read_table`` → ``Metadata.detect`` → ``make(name).fit`` → ``sample`` → ``evaluate`` →
``Report`` for tables, and ``ImageSet.read`` → ``make("cgan").fit`` → ``sample`` → ``evaluate_images`` →
``ImageReport`` for images, and ``TextSet.read`` → ``make("textgpt").fit`` → ``sample`` →
``evaluate_texts`` for texts. See docs/architecture.md for the architecture.
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
from simulacra.io import ImageSet, TextSet, read_table, write_table
from simulacra.metadata import Metadata

__all__ = [
    "ConditionError",
    "ConfigError",
    "DataError",
    "ImageSet",
    "Metadata",
    "MetadataError",
    "SimulacraError",
    "TextSet",
    "__version__",
    "read_table",
    "write_table",
]
