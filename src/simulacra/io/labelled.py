"""What labelled sets (:class:`~simulacra.io.ImageSet`, :class:`~simulacra.io.TextSet`,
:class:`~simulacra.io.AudioSet`) share: joining their class labels by class name, and reading the list
of their files from a table with a path column."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulacra.errors import DataError


def merged_labels(sets: Sequence[Any]) -> tuple[np.ndarray | None, list[str]]:
    """The labels of ``sets`` one after the other, as indices into the union of their class names.

    Classes keep the first set's order; a class only a later set holds is appended. A subset that lacks
    a class (a stratified 1 % subset, a model's samples of one class) so joins its full set correctly.

    Parameters
    ----------
    sets : sequence of ImageSet or TextSet
        Each with ``labels`` (int64 ``(N_i,)`` or ``None``) and ``class_names``.

    Returns
    -------
    (labels, class_names)
        ``labels`` int64 ``(sum N_i,)``, or ``None`` when no set is labelled.

    Raises
    ------
    DataError
        Some sets are labelled and others are not.
    """
    labelled = [s.labels is not None for s in sets]
    if not any(labelled):
        return None, list(sets[0].class_names) if sets else []
    if not all(labelled):
        raise DataError("cannot join labelled and unlabelled sets; label every part, or drop the labels")
    names: list[str] = []
    for s in sets:
        names += [c for c in s.class_names if c not in names]
    index = {c: i for i, c in enumerate(names)}
    parts = [np.array([index[c] for c in s.class_names], dtype=np.int64)[s.labels] for s in sets]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64), names


def listed_files(
    source: str | os.PathLike[str], path_column: str, *columns: str | None
) -> tuple[list[Path], dict[str, list[str]]]:
    """The files a table lists, one per row, with the values of its other ``columns`` as text.

    Parameters
    ----------
    source : str or PathLike
        A table file or SQL URL (:func:`~simulacra.io.read_table`).
    path_column : str
        The column of file paths: relative to the table file's folder (the working folder for an SQL
        URL), or absolute.
    *columns : str or None
        Further columns to return (a label, a speaker); ``None`` is skipped.

    Returns
    -------
    (files, values)
        The paths in row order, and ``{column: [value as str, …]}`` for each given column.

    Raises
    ------
    DataError
        A column the table lacks, a row without a path, or a path that is not a file (the line names
        the row).
    """
    from simulacra.io.tables import is_sql_url, read_table

    table = read_table(source)
    wanted = [c for c in (path_column, *columns) if c is not None]
    for column in wanted:
        if column not in table.columns:
            raise DataError(
                f"{source}: no column {column!r}; its columns are: {', '.join(map(str, table.columns))}"
            )
    base = Path.cwd() if is_sql_url(str(source)) else Path(source).parent
    files = []
    for row, value in enumerate(table[path_column]):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{source}: row {row + 1} has no path in {path_column!r}; give every item's file")
        path = Path(value) if Path(value).is_absolute() else base / value
        if not path.is_file():
            raise DataError(f"{source}: row {row + 1}: {value}: file not found; check the path")
        files.append(path)
    return files, {c: table[c].astype(str).tolist() for c in wanted[1:]}


def listed_suffix(source: str | os.PathLike[str], path_column: str) -> str:
    """The lower-case suffix of the first file a table lists in ``path_column`` (``".png"``,
    ``".wav"``), or ``""`` when the table cannot be read or lists nothing: enough to tell a table of
    pictures from one of recordings before anything is loaded (the loader reports what is wrong)."""
    from simulacra.errors import SimulacraError
    from simulacra.io.tables import read_table

    try:
        table = read_table(source)
    except (SimulacraError, OSError, ValueError):
        return ""
    if path_column not in table.columns:
        return ""
    first = next((v for v in table[path_column] if isinstance(v, str) and v.strip()), "")
    return Path(first).suffix.lower()
