"""Reading and writing tables (files and SQL databases) and image sets.

``read_table(source, **opts)`` and ``write_table(df, target, **opts)`` are the only entry points the rest
of simulacra uses for tabular I/O.
"""

from __future__ import annotations

from simulacra.io.images import ImageSet, make_grid, png_bytes
from simulacra.io.tables import (
    DEFAULT_NA_VALUES,
    FILE_FORMATS,
    atomic_write_text,
    is_sql_url,
    read_table,
    read_yaml,
    replace_dir,
    temporary_dir_for,
    write_table,
)

__all__ = [
    "DEFAULT_NA_VALUES",
    "FILE_FORMATS",
    "ImageSet",
    "atomic_write_text",
    "is_sql_url",
    "make_grid",
    "png_bytes",
    "read_table",
    "read_yaml",
    "replace_dir",
    "temporary_dir_for",
    "write_table",
]
