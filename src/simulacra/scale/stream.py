"""Streaming a sample to a file, a database or a folder of Parquet parts, with bounded memory.

* :func:`stream_sample` writes a request's rows (:mod:`simulacra.scale.blocks`) chunk by chunk through
  :class:`~simulacra.io.tables.TableWriter`: Parquet row groups, CSV/JSONL appends, SQL inserts inside
  one transaction. Nothing is in place until the last chunk is written.
* :func:`part_ranges` cuts a request into parts of ``part_rows`` rows; :func:`write_part` writes one
  part as ``part-NNNNN.parquet``. A folder of parts is a Parquet dataset
  (``pandas.read_parquet(folder)``, ``pyarrow.dataset``, Spark, DuckDB read it as one table), and the
  parts depend on ``(rows, seed, part_rows)`` only, so the same folder comes out whether one process
  writes all parts or Ray tasks write them (:mod:`simulacra.scale.distributed`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from simulacra.io.tables import TableWriter
from simulacra.scale.blocks import CHUNK_ROWS, BlockPlan, iter_chunks, iter_rows
from simulacra.validation import Integer, check_value

#: Default rows per part of a folder output (one Parquet file, one Ray task).
PART_ROWS = 1_000_000


@dataclass
class SampleOptions:
    """What a request draws, apart from its size: the arguments of
    :func:`~simulacra.scale.blocks.iter_rows`, kept together so that they travel to Ray tasks."""

    seed: int = 0
    conditions: dict[str, Any] | None = None
    column: str | None = None
    counts: dict[Any, int] | None = None
    temperature: float = 1.0

    def as_kwargs(self) -> dict[str, Any]:
        """The fields as keyword arguments of :func:`~simulacra.scale.blocks.iter_rows`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Written:
    """What a stream wrote: ``rows``, where, and (with a ``count_column``) rows per class."""

    rows: int = 0
    where: str = ""
    classes: dict[Any, int] = field(default_factory=dict)

    def add(self, other: Written) -> None:
        self.rows += other.rows
        for c, k in other.classes.items():
            self.classes[c] = self.classes.get(c, 0) + k


def _count(written: Written, chunk: pd.DataFrame, column: str | None) -> None:
    written.rows += len(chunk)
    if column is not None and len(chunk):
        for c, k in chunk[column].value_counts(sort=False, dropna=False).items():
            written.classes[c] = written.classes.get(c, 0) + int(k)


def stream_sample(
    model: Any,
    rows: int,
    target: str | os.PathLike[str],
    options: SampleOptions,
    *,
    start: int = 0,
    stop: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    force: bool = False,
    count_column: str | None = None,
    on_rows: Callable[[int], None] | None = None,
    escape: bool = True,
) -> Written:
    """Write rows ``[start, stop)`` of a ``rows``-row request to ``target`` in chunks of ``chunk_rows``.

    Parameters
    ----------
    model : fitted table synthesizer
    rows : int
        Rows of the whole request (with ``options.counts``: their sum).
    target : str or path-like
        A table file or SQL URL (:class:`~simulacra.io.tables.TableWriter`).
    options : SampleOptions
    start, stop : int
        The part of the request to write (default: all of it).
    chunk_rows : int
        Rows per write (a Parquet row group, one insert batch); memory holds one chunk and one block.
        The rows do not depend on it.
    force : bool
        Replace an existing output simulacra may replace.
    count_column : str, optional
        Count the written rows per class of this column (``Written.classes``).
    on_rows : callable ``(rows_written) -> None``, optional
        Called after every chunk with the number of rows it held (progress bars).
    escape : bool
        Escape spreadsheet formulas in CSV/TSV text (:func:`~simulacra.io.tables.escape_formulas`).

    Returns
    -------
    Written

    Raises
    ------
    ConfigError, OutputExistsError, DataError, ConditionError
        Bad target or options (before any row is drawn), or a write error; nothing is left in place.
    """
    total = BlockPlan.make(rows, options.counts).rows
    stop = total if stop is None else stop
    written = Written()
    with TableWriter(target, rows=stop - start, force=force, escape=escape) as out:
        pieces = iter_rows(model, rows, start=start, stop=stop, **options.as_kwargs())
        for chunk in iter_chunks(pieces, chunk_rows):
            out.write(chunk)
            _count(written, chunk, count_column)
            if on_rows is not None and len(chunk):
                on_rows(len(chunk))
    written.where = out.where
    return written


def check_part_rows(part_rows: Any) -> int:
    """``part_rows`` checked: an integer in ``[1, 2,000,000,000]``.

    Raises
    ------
    ConfigError
        Anything else.
    """
    return check_value("sample", "`part_rows`", part_rows, Integer(ge=1, le=2_000_000_000))


def part_ranges(total: int, part_rows: int = PART_ROWS) -> list[tuple[int, int]]:
    """``[(start, stop), …]``: the row ranges of the parts of a ``total``-row request (at least one part,
    possibly empty)."""
    part_rows = check_part_rows(part_rows)
    if total == 0:
        return [(0, 0)]
    return [(s, min(s + part_rows, total)) for s in range(0, total, part_rows)]


def part_name(index: int) -> str:
    """The file name of part ``index``: ``part-00000.parquet`` (sorted names are row order)."""
    return f"part-{index:05d}.parquet"


def write_part(
    model: Any,
    rows: int,
    folder: str | os.PathLike[str],
    index: int,
    start: int,
    stop: int,
    options: SampleOptions,
    *,
    chunk_rows: int = CHUNK_ROWS,
    count_column: str | None = None,
    on_rows: Callable[[int], None] | None = None,
    escape: bool = True,
) -> Written:
    """Write part ``index`` (rows ``[start, stop)``) of a request to ``folder/part-NNNNN.parquet``
    (see :func:`stream_sample`)."""
    target = Path(folder) / part_name(index)
    return stream_sample(
        model,
        rows,
        target,
        options,
        start=start,
        stop=stop,
        chunk_rows=chunk_rows,
        count_column=count_column,
        on_rows=on_rows,
    )


#: Rows drawn to estimate the bytes a row takes in the output format (:func:`check_disk_space`).
PROBE_ROWS = 2_000


def estimate_bytes_per_row(probe: pd.DataFrame, fmt: str, compressed: bool) -> float:
    """Bytes one row of ``probe`` takes when written as ``fmt`` (``csv``, ``tsv``, ``jsonl``, ``json``,
    ``parquet``), gzip-compressed when ``compressed``; 0 for other formats (Excel, SQL)."""
    import gzip
    import io

    if len(probe) == 0 or fmt not in ("csv", "tsv", "jsonl", "json", "parquet"):
        return 0.0
    if fmt == "parquet":
        buf = io.BytesIO()
        probe.to_parquet(buf, index=False)
        return len(buf.getvalue()) / len(probe)
    if fmt in ("csv", "tsv"):
        text = probe.to_csv(index=False, sep="\t" if fmt == "tsv" else ",")
    else:
        text = probe.to_json(orient="records", lines=fmt == "jsonl", date_format="iso")
    data = text.encode("utf-8")
    return len(gzip.compress(data, compresslevel=6) if compressed else data) / len(probe)


def check_disk_space(
    model: Any, rows: int, target: str | os.PathLike[str], options: SampleOptions, *, fmt: str
) -> float:
    """Refuse, before any work, a stream that cannot fit on the target's file system: ``rows`` times
    the bytes a row takes (measured on :data:`PROBE_ROWS` rows drawn as the request draws them, which
    also checks the conditions) against the free space there. Returns the bytes needed (0 for SQL and
    Excel, which are not estimated).

    Raises
    ------
    ConfigError
        More bytes needed than are free (the message gives both, in GiB).
    ConditionError
        Conditions the model cannot meet.
    """
    import shutil

    from simulacra.errors import ConfigError

    probe_options = {"conditions": options.conditions, "temperature": options.temperature}
    probe = model.sample(min(rows, PROBE_ROWS), seed=options.seed, **probe_options)
    target = Path(target)
    per_row = estimate_bytes_per_row(probe, fmt, compressed=target.suffix.lower() == ".gz")
    need = per_row * rows
    place = target.parent
    while not place.exists():
        place = place.parent
    free = shutil.disk_usage(place).free
    if need > free:
        raise ConfigError(
            f"{rows:,} rows as {fmt} need about {need / 2**30:,.1f} GiB of disk and {free / 2**30:,.1f} GiB "
            f"is free under {place}; write fewer rows, a compressed format (.parquet, .csv.gz), or elsewhere"
        )
    return need
