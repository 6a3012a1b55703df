"""Large inputs: a table read in chunks, summarised exactly, and fitted on a bounded stratified sample.

A table with more than ``max_rows`` rows is read twice, in chunks of ``chunk_rows``
(:func:`simulacra.io.iter_table`: CSV/TSV/JSONL lines, Parquet record batches, an SQL server-side cursor),
so memory holds one chunk plus the sample, never the table:

1. **Scan** (:func:`scan`): exact streaming statistics of every column — rows, missing values, the
   minimum and maximum of numeric columns with the row holding each, and for other columns the set of
   values with their counts and first row (up to :data:`CATEGORY_CAP` distinct values; beyond that a
   column is free text or an identifier, and its values are not tracked) — and the row count of every
   stratum (the values of ``stratify``; missing is a stratum of its own).
2. **Sample** (:func:`select_rows`): each stratum gets its proportional share of ``max_rows`` (largest
   remainders, at least one row), and that many of its rows are drawn uniformly without replacement
   (``numpy.random.Generator.choice`` over the stratum's positions, seeded by ``seed``) — a stratified
   sample of exactly known size, as a reservoir sample would give, without the reservoir's per-row
   bookkeeping, because the scan already counted the strata. The draws depend only on the positions,
   so the sample is the same for every ``chunk_rows`` and for every format holding the same rows.
3. **Coverage**: the rows the sample lacks to reach the exact statistics are added — the row holding
   a numeric column's minimum or maximum when the sample misses it, and the first row of every tracked
   value that no sampled row holds — so the model sees every bound and every category of the full
   table. These are at most ``2 × numeric columns + tracked values`` rows, usually a few dozen.

Missing rates are not forced: the sample's rate of each column is an unbiased estimate of the exact one,
which :class:`InputStats` keeps and :meth:`InputStats.missing_gap` compares.

Tables of at most ``max_rows`` rows are read whole, as before (:func:`simulacra.io.read_table`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import DataError
from simulacra.validation import Integer, check_value

#: rows a fit reads at most by default; larger tables are sampled (``simulacra fit --max-rows``)
MAX_FIT_ROWS = 1_000_000
#: distinct values tracked per non-numeric column (categories; beyond: identifiers, free text)
CATEGORY_CAP = 1_000
#: files at least this large are scanned in chunks before anything is loaded (smaller ones are read
#: whole first: they fit in memory, and the sample is then drawn from the loaded table)
LARGE_FILE_BYTES = 256 * 1024**2
#: rows per chunk of a scan
SCAN_CHUNK_ROWS = 100_000
#: most classes of a ``stratify`` column (each gets at least one row of the sample)
MAX_STRATA = 1_000
_MISSING = "<missing>"


@dataclass
class ColumnStats:
    """Exact statistics of one column over every row (see the module docstring)."""

    missing: int = 0
    min: float = math.inf
    max: float = -math.inf
    min_row: int = -1
    max_row: int = -1
    #: value → [count, first row]; ``None`` once more than :data:`CATEGORY_CAP` values were seen
    values: dict[Any, list[int]] | None = field(default_factory=dict)


@dataclass
class InputStats:
    """What :func:`scan` measured: ``rows``, per-column :class:`ColumnStats`, and the rows of every
    stratum of ``stratify`` (``{value: rows}``, text keys; one ``"<all>"`` stratum without it)."""

    rows: int = 0
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    strata: dict[str, int] = field(default_factory=dict)
    stratify: str | None = None

    def missing_rate(self, column: str) -> float:
        """The exact share of missing values in ``column``."""
        return self.columns[column].missing / max(self.rows, 1)

    def missing_gap(self, sample: pd.DataFrame) -> float:
        """The largest absolute difference between a column's missing share in ``sample`` and its exact
        share (a sampling error, not a bias)."""
        gaps = [
            abs(float(sample[c].isna().mean()) - self.missing_rate(c)) for c in self.columns if c in sample
        ]
        return max(gaps, default=0.0)


@dataclass
class FitSample:
    """A sampled input: ``stats`` of the whole table, the ``sampled`` rows drawn per stratum and the
    ``coverage`` rows added for bounds and categories."""

    stats: InputStats
    sampled: int
    coverage: int

    def describe(self) -> str:
        """One line for the user."""
        by = f", stratified by {self.stats.stratify}" if self.stats.stratify else ""
        if not self.coverage:
            return f"{self.stats.rows:,} rows; fitting on a sample of {self.sampled:,}{by} (it holds every bound and category)"
        return (
            f"{self.stats.rows:,} rows; fitting on a sample of {self.sampled:,}{by}, plus "
            f"{self.coverage:,} rows that hold the bounds and categories the sample missed"
        )


def _strata_keys(chunk: pd.DataFrame, stratify: str | None) -> np.ndarray:
    if stratify is None:
        return np.full(len(chunk), "<all>", dtype=object)
    values = chunk[stratify]
    return np.where(values.isna().to_numpy(), _MISSING, values.astype(str).to_numpy()).astype(object)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def scan(chunks: Iterable[pd.DataFrame], stratify: str | None = None) -> InputStats:
    """Exact statistics of a table given as chunks (pass 1 of the module docstring).

    Raises
    ------
    DataError
        No rows, or ``stratify`` is not a column.
    """
    stats = InputStats(stratify=stratify)
    for chunk in chunks:
        if stratify is not None and stratify not in chunk.columns:
            raise DataError(
                f"`stratify` {stratify!r} is not a column; choose one of {', '.join(map(str, chunk.columns))}"
            )
        offset = stats.rows
        keys, counts = np.unique(_strata_keys(chunk, stratify), return_counts=True)
        for k, c in zip(keys, counts, strict=True):
            stats.strata[k] = stats.strata.get(k, 0) + int(c)
        if len(stats.strata) > MAX_STRATA:
            raise DataError(
                f"`stratify` {stratify!r} has more than {MAX_STRATA:,} values; stratify on a categorical "
                "column such as the target's classes, or leave it out"
            )
        for name in chunk.columns:
            col = stats.columns.setdefault(name, ColumnStats())
            series = chunk[name]
            present = series.notna().to_numpy()
            col.missing += int((~present).sum())
            if not present.any():
                continue
            if _is_numeric(series):
                x = series.to_numpy(dtype=float, na_value=np.nan)
                lo, hi = int(np.nanargmin(x)), int(np.nanargmax(x))
                if x[lo] < col.min:
                    col.min, col.min_row = float(x[lo]), offset + lo
                if x[hi] > col.max:
                    col.max, col.max_row = float(x[hi]), offset + hi
            elif col.values is not None:
                firsts = np.flatnonzero(present & ~series.duplicated().to_numpy())
                new = [(_key(series.iat[i]), offset + int(i)) for i in firsts]
                new = [(v, r) for v, r in new if v not in col.values]
                if len(col.values) + len(new) > CATEGORY_CAP:
                    col.values = None  # an identifier or free text: not tracked
                    continue
                for value, row in new:
                    col.values[value] = [0, row]
                for value, c in series.value_counts(dropna=True).items():
                    col.values[_key(value)][0] += int(c)
        stats.rows += len(chunk)
    if stats.rows == 0:
        raise DataError("the table has no rows; point to a file or table that holds data")
    return stats


def _key(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def quotas(strata: dict[str, int], rows: int, max_rows: int) -> dict[str, int]:
    """Rows drawn per stratum: ``max_rows`` shared in proportion to the strata's rows by largest
    remainders, at least one per stratum, never more than it holds."""
    exact = {k: max_rows * n / rows for k, n in strata.items()}
    out = {k: min(strata[k], max(1, math.floor(v))) for k, v in exact.items()}
    left = max_rows - sum(out.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - math.floor(exact[k])), k)):
        if left <= 0:
            break
        if out[k] < strata[k]:
            out[k] += 1
            left -= 1
    return out


def select_rows(
    chunks: Iterable[pd.DataFrame], stats: InputStats, max_rows: int, seed: int = 0
) -> tuple[pd.DataFrame, int, int]:
    """Pass 2 and 3 of the module docstring over the same chunks as :func:`scan`: ``(rows, sampled,
    coverage)`` with the rows in table order (not yet tidied)."""
    rng = np.random.default_rng(seed)
    share = quotas(stats.strata, stats.rows, max_rows)
    chosen = {k: np.sort(rng.choice(stats.strata[k], share[k], replace=False)) for k in sorted(share)}
    wanted = _coverage_rows(stats)
    seen = dict.fromkeys(stats.strata, 0)
    kept, extra, offset = [], [], 0
    for chunk in chunks:
        keys = _strata_keys(chunk, stats.stratify)
        mask = np.zeros(len(chunk), dtype=bool)
        for k in np.unique(keys):
            where = np.flatnonzero(keys == k)
            positions = seen[k] + np.arange(where.size)
            picks = chosen[k]
            hit = np.searchsorted(picks, positions)
            mask[where] = (hit < picks.size) & (picks[np.minimum(hit, picks.size - 1)] == positions)
            seen[k] += where.size
        kept.append(chunk[mask])
        rows_here = offset + np.arange(len(chunk))
        cover = np.isin(rows_here, wanted) & ~mask
        if cover.any():
            extra.append(chunk[cover].assign(_row=rows_here[cover]))
        offset += len(chunk)
    sample = pd.concat(kept, ignore_index=True)
    sampled = len(sample)
    added = _missing_coverage(sample, pd.concat(extra) if extra else None, stats)
    if len(added):
        sample = pd.concat([sample, added], ignore_index=True)
    return sample, sampled, len(added)


def _coverage_rows(stats: InputStats) -> np.ndarray:
    rows = set()
    for col in stats.columns.values():
        rows.update(r for r in (col.min_row, col.max_row) if r >= 0)
        if col.values is not None:
            rows.update(first for _, first in col.values.values())
    return np.array(sorted(rows), dtype=np.int64)


def _missing_coverage(sample: pd.DataFrame, candidates: pd.DataFrame | None, stats: InputStats):
    """The candidate rows that hold a bound or a tracked value the sample lacks (each row once)."""
    if candidates is None:
        return sample.iloc[:0]
    need: set[int] = set()
    for name, col in stats.columns.items():
        if col.min_row >= 0:
            x = pd.to_numeric(sample[name], errors="coerce")
            if not (x == col.min).any():
                need.add(col.min_row)
            if not (x == col.max).any():
                need.add(col.max_row)
        if col.values is not None:
            present = {_key(v) for v in sample[name].dropna().unique()}
            need.update(first for value, (_, first) in col.values.items() if value not in present)
    rows = candidates[candidates["_row"].isin(need)].drop_duplicates("_row").sort_values("_row")
    return rows.drop(columns="_row")


def read_for_fit(
    source: str | os.PathLike[str],
    *,
    max_rows: int = MAX_FIT_ROWS,
    stratify: str | None = None,
    seed: int = 0,
    chunk_rows: int = SCAN_CHUNK_ROWS,
    large_bytes: int = LARGE_FILE_BYTES,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, FitSample | None]:
    """The rows a fit reads from ``source`` (a table file or an SQL URL): all of them when there are
    at most ``max_rows``, else the sample of the module docstring.

    Parameters
    ----------
    source : path or str
    max_rows : int
        Rows a fit holds at most (≥ 100), coverage rows aside.
    stratify : str, optional
        The column whose values' shares the sample keeps exactly (e.g. the target).
    seed : int
        Seed of the draws.
    chunk_rows : int
        Rows per chunk of the scans.
    large_bytes : int
        Files smaller than this are read whole first (they fit in memory); larger ones, Parquet files
        with more than ``max_rows`` rows and SQL tables are scanned in chunks.
    on_chunk : callable, optional
        Progress: called with the rows of each chunk scanned.

    Returns
    -------
    (DataFrame, FitSample or None)
        The rows (tidied as :func:`~simulacra.io.read_table` does) and, for a sample, what was done.

    Raises
    ------
    DataError
        Unreadable source, no rows, unknown ``stratify`` column.
    ConfigError
        ``max_rows`` or ``chunk_rows`` out of range.
    """
    from simulacra.io import is_sql_url, iter_table, read_table, tidy_table

    max_rows = check_value("fit", "`max_rows`", max_rows, Integer(ge=100, le=10**10))
    chunk_rows = check_value("fit", "`chunk_rows`", chunk_rows, Integer(ge=1, le=10**8))
    streamed = is_sql_url(source) or _large_file(Path(source), max_rows, large_bytes)
    if not streamed:
        df = read_table(source)
        if len(df) <= max_rows:
            return df, None
        if stratify is not None and stratify not in df.columns:
            raise DataError(
                f"`stratify` {stratify!r} is not a column; choose one of {', '.join(map(str, df.columns))}"
            )

        def chunks() -> Iterator[pd.DataFrame]:
            for start in range(0, len(df), chunk_rows):
                yield df.iloc[start : start + chunk_rows]

    else:

        def chunks() -> Iterator[pd.DataFrame]:
            for chunk in iter_table(source, chunk_rows=chunk_rows):
                if on_chunk is not None:
                    on_chunk(len(chunk))
                yield chunk

    stats = scan(chunks(), stratify)
    if stats.rows <= max_rows:
        return read_table(source), None
    rows, sampled, coverage = select_rows(chunks(), stats, max_rows, seed)
    return tidy_table(rows, str(source)), FitSample(stats, sampled, coverage)


def _large_file(path: Path, max_rows: int, large_bytes: int) -> bool:
    """Whether a file is scanned in chunks before anything is loaded (see :func:`read_for_fit`)."""
    from simulacra.io.tables import _file_format

    if not path.is_file():
        return False  # read_table names the problem
    try:
        fmt = _file_format(path)
    except DataError:
        return False  # read_table names the problem
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows > max_rows
        except Exception:  # not Parquet after all: read_table names the problem
            return False
    return fmt in ("csv", "tsv", "jsonl") and path.stat().st_size >= large_bytes
