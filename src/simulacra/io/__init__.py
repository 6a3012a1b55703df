"""Reading and writing tables (files and SQL databases), image sets, text sets, series and audio sets, and
writing outputs safely.

``read_table(source, **opts)`` and ``write_table(df, target, **opts)`` are the only entry points the rest
of simulacra uses for tabular I/O; :mod:`simulacra.io.outputs` holds the rules every output follows
(atomic moves, ``--force`` only over simulacra's own outputs, one writer, the umask).
"""

from __future__ import annotations

from simulacra.io.audio import AudioSet
from simulacra.io.images import ImageSet, make_grid, png_bytes
from simulacra.io.outputs import (
    MARKER,
    atomic_write_bytes,
    atomic_write_text,
    check_not_input,
    check_writable,
    claim,
    output_lock,
    replace_dir,
    temporary_dir_for,
)
from simulacra.io.series import SeriesSet
from simulacra.io.tables import (
    DEFAULT_NA_VALUES,
    FILE_FORMATS,
    TableWriter,
    check_table_target,
    conform_chunk,
    file_not_found,
    is_sql_url,
    iter_table,
    read_table,
    read_yaml,
    redact_url,
    tidy_table,
    write_table,
)
from simulacra.io.text import TextSet

__all__ = [
    "DEFAULT_NA_VALUES",
    "FILE_FORMATS",
    "MARKER",
    "AudioSet",
    "ImageSet",
    "SeriesSet",
    "TableWriter",
    "TextSet",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_not_input",
    "check_table_target",
    "check_writable",
    "claim",
    "conform_chunk",
    "file_not_found",
    "is_sql_url",
    "iter_table",
    "make_grid",
    "output_lock",
    "png_bytes",
    "read_table",
    "read_yaml",
    "redact_url",
    "replace_dir",
    "temporary_dir_for",
    "tidy_table",
    "write_table",
]
