"""Reversible transforms between DataFrames and float32 matrices that generators train on."""

from __future__ import annotations

from simulacra.transform.encoders import (
    CategoricalEncoder,
    ModeSpecificEncoder,
    NumericalEncoder,
    interval_of,
)
from simulacra.transform.table import ColumnSpan, TableTransformer

__all__ = [
    "CategoricalEncoder",
    "ColumnSpan",
    "ModeSpecificEncoder",
    "NumericalEncoder",
    "TableTransformer",
    "interval_of",
]
