"""Data preparation: cleaning steps that each return a record of what they changed, and splits.

Every step is a function ``step(df, ...) -> (df, [Change, ...])``; nothing is dropped or altered
without a :class:`Change` saying so, so the report can list exactly what happened to the data.
"""

from __future__ import annotations

from simulacra.prepare.cleaning import (
    Change,
    coerce_types,
    drop_duplicates,
    group_rare,
    handle_missing,
    handle_outliers,
    normalize_categories,
)
from simulacra.prepare.profile import profile
from simulacra.prepare.split import split
from simulacra.prepare.table import DEFAULTS, Preparation, load_prepare_config, prepare_table

__all__ = [
    "DEFAULTS",
    "Change",
    "Preparation",
    "coerce_types",
    "drop_duplicates",
    "group_rare",
    "handle_missing",
    "handle_outliers",
    "load_prepare_config",
    "normalize_categories",
    "prepare_table",
    "profile",
    "split",
]
