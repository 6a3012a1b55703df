"""``SeriesSet``: sequential data — one long multivariate series, or many sequences keyed by an entity.

The three forms of the time-series modality are one object:

* **one long series** (a sensor, a price history): rows in time order, with an optional
  ``sequence_index`` (a timestamp or number column; without one, the row order is the time);
* **many sequences keyed by an entity** (``sequence_key``), each ordered by ``sequence_index``, of
  variable length, with **context columns** that are constant within an entity (a customer's country,
  a day's weekday);
* inside the sequences, any mix of numerical, categorical and datetime columns, with missing values.

Rows are kept sorted (by key, then index) and checked once, here: the index must be times or numbers
and never repeat within a sequence (SDV's PARSynthesizer accepts duplicated and decreasing timestamps
and returns them), and a context column must hold one value per entity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import DataError


def seconds(values: pd.Series) -> np.ndarray:
    """``(N,)`` float64 seconds since 1970 of a datetime column, whatever its unit; NaN where missing."""
    out = values.astype("datetime64[ns]").astype("int64").to_numpy(np.float64) / 1e9
    out[values.isna().to_numpy()] = np.nan
    return out


def from_seconds(numbers: np.ndarray) -> pd.Series:
    """Datetimes of float seconds since 1970, rounded to the microsecond (float64 seconds of this
    century hold about a tenth of one)."""
    return pd.Series(
        pd.to_datetime(np.round(np.asarray(numbers, dtype=np.float64) * 1e6).astype("int64"), unit="us")
    )


def join_parent(
    frame: pd.DataFrame, parent: pd.DataFrame, key: str | None, where: str = "parent table"
) -> tuple[pd.DataFrame, list[str]]:
    """The sequences' rows ``frame`` with their entity's row of ``parent`` joined on ``key``
    (many-to-one, as SDV's multi-table metadata links a child table to its parent), and the joined
    columns, which are constant within each sequence: its context.

    A parent row without any sequence is left out (it has nothing to learn a sequence from).

    Raises
    ------
    DataError
        No ``key``; the key missing from either table, missing or repeated in the parent; a column in
        both tables besides the key; a parent without other columns; a sequence whose key has no
        parent row; keys of types that cannot be compared.
    """
    if key is None:
        raise DataError("a parent table is joined on the entity column; give it as `sequence_key`")
    for table, name in ((frame, "the series"), (parent, where)):
        if key not in table.columns:
            raise DataError(
                f"{name} has no column {key!r} (`sequence_key`); its columns are: "
                f"{', '.join(map(str, table.columns))}"
            )
    keys = parent[key]
    if keys.isna().any():
        raise DataError(f"{where}: {int(keys.isna().sum())} rows have no {key!r}; give every row its entity")
    repeated = keys[keys.duplicated(keep=False)]
    if len(repeated):
        raise DataError(
            f"{where}: {key!r} {repeated.iloc[0]!r} has {int((keys == repeated.iloc[0]).sum())} rows; "
            "the parent table holds one row per entity"
        )
    both = [c for c in parent.columns if c != key and c in frame.columns]
    if both:
        raise DataError(f"{where}: column {both[0]!r} is in both tables; rename it or drop it from one")
    joined = [c for c in parent.columns if c != key]
    if not joined:
        raise DataError(f"{where}: no column besides {key!r}; the parent table holds each entity's context")
    if parent[key].dtype != frame[key].dtype:
        try:
            parent = parent.assign(**{key: parent[key].astype(frame[key].dtype)})
        except (TypeError, ValueError):
            raise DataError(
                f"{where}: {key!r} holds {parent[key].dtype} values and the series {frame[key].dtype} ones; "
                "give the same keys in both tables"
            ) from None
    orphans = pd.Index(frame[key].dropna().unique()).difference(pd.Index(parent[key]))
    if len(orphans):
        raise DataError(
            f"{where}: the sequence {orphans[0]!r} has no parent row ({len(orphans)} sequences in all); "
            "add their rows to the parent table or drop those sequences"
        )
    merged = frame.merge(parent, on=key, how="left", validate="many_to_one", sort=False)
    merged.attrs = dict(frame.attrs)
    return merged, joined


def split_parent(series: SeriesSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The inverse of :func:`join_parent`: keyed ``series`` as its rows without the context columns,
    and its parent table, one row per entity (the key and its context), in the rows' order.

    Raises
    ------
    DataError
        One series, or keyed sequences without context columns (no parent table to write).
    """
    key, context = series.sequence_key, list(series.context_columns)
    if key is None or not context:
        raise DataError(
            "a parent table holds each entity's context columns, and these sequences have none; "
            "drop `context_output`"
        )
    parent = series.frame[[key, *context]].drop_duplicates(subset=key).reset_index(drop=True)
    return series.frame.drop(columns=context), parent


def _as_index(values: pd.Series, name: str) -> pd.Series:
    """``values`` as datetimes or numbers (text is parsed as dates)."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(values):
        if pd.api.types.is_bool_dtype(values):
            raise DataError(
                f"`sequence_index` {name!r} holds true/false values; give a time or number column"
            )
        return values
    try:
        return pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError):
        raise DataError(
            f"`sequence_index` {name!r} holds values that are neither times nor numbers (e.g. "
            f"{str(values.dropna().iloc[0])[:40]!r}); give a time or number column"
        ) from None


@dataclass
class SeriesSet:
    """Sequential data: a table whose rows are ordered in time, one series or many.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows, ``(N, columns)``, sorted by ``sequence_key`` (when given) then ``sequence_index``
        (when given; otherwise in the order read).
    sequence_index : str or None
        The column that orders rows in time: datetimes or numbers, never repeated within a sequence.
    sequence_key : str or None
        The column naming the entity each row belongs to; ``None`` for one long series.
    context_columns : tuple of str
        Keyed sequences: columns constant within each entity, modelled once per sequence.

    Raises
    ------
    DataError
        A named column is missing; the index is not times or numbers, or repeats within a sequence;
        a context column varies within an entity; context columns without a key.
    """

    frame: pd.DataFrame
    sequence_index: str | None = None
    sequence_key: str | None = None
    context_columns: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.context_columns = tuple(self.context_columns)
        df = self.frame
        named = [c for c in (self.sequence_index, self.sequence_key, *self.context_columns) if c is not None]
        missing = [c for c in named if c not in df.columns]
        if missing:
            raise DataError(
                f"no column {missing[0]!r} in the series; its columns are: {', '.join(map(str, df.columns))}"
            )
        if len(set(named)) < len(named):
            raise DataError(
                "`sequence_index`, `sequence_key` and `context_columns` must name different columns"
            )
        if self.context_columns and self.sequence_key is None:
            raise DataError(
                "`context_columns` are constant per entity; give the entity column as `sequence_key`"
            )
        if not self.value_columns:
            raise DataError("the series has no column besides its index, key and context; give value columns")
        df = df.copy()
        if self.sequence_index is not None:
            df[self.sequence_index] = _as_index(df[self.sequence_index], self.sequence_index)
            if df[self.sequence_index].isna().any():
                raise DataError(
                    f"`sequence_index` {self.sequence_index!r} has missing values; fill or drop those rows"
                )
        order = [c for c in (self.sequence_key, self.sequence_index) if c is not None]
        if order:
            df = df.sort_values(order, kind="stable").reset_index(drop=True)
        if self.sequence_index is not None:
            dup = df.duplicated([c for c in order], keep=False)
            if dup.any():
                first = df.loc[dup, self.sequence_index].iloc[0]
                where = "one series" if self.sequence_key is None else "one sequence"
                raise DataError(
                    f"`sequence_index` {self.sequence_index!r} repeats the value {first} within {where} ({int(dup.sum())} rows); "
                    "drop the duplicate rows, or give the entity column as `sequence_key`"
                )
        if self.context_columns:
            varying = df.groupby(self.sequence_key, sort=False)[list(self.context_columns)].nunique(
                dropna=False
            )
            bad = [c for c in self.context_columns if (varying[c] > 1).any()]
            if bad:
                raise DataError(
                    f"context column {bad[0]!r} changes within an entity of {self.sequence_key!r}; "
                    "context columns hold one value per sequence (leave it out of `context_columns`)"
                )
        self.frame = df

    # ------------------------------------------------------------------ reading
    @classmethod
    def read(
        cls,
        source: str | os.PathLike[str],
        *,
        sequence_index: str | None = None,
        sequence_key: str | None = None,
        context_columns: tuple[str, ...] | list[str] = (),
        parent_table: str | os.PathLike[str] | None = None,
    ) -> SeriesSet:
        """A table file or SQL URL read with :func:`~simulacra.io.read_table`, as a series.

        ``parent_table`` (a file or SQL URL) holds one row per entity: its ``sequence_key`` column and
        the entity's context (a customer's age for their transactions, a patient's diagnosis for their
        readings), as in a multi-table schema; every column of it but the key becomes a context column
        (:func:`join_parent`).

        Raises
        ------
        DataError
            Unreadable source, one of the checks of :class:`SeriesSet`, or of :func:`join_parent`.
        """
        from simulacra.io.tables import read_table

        frame = read_table(source)
        if len(frame) == 0:
            raise DataError(f"{source}: the series has no rows; give at least one")
        context = tuple(context_columns)
        if parent_table is not None:
            frame, joined = join_parent(frame, read_table(parent_table), sequence_key, str(parent_table))
            context += tuple(c for c in joined if c not in context)
        return cls(frame, sequence_index, sequence_key, context)

    # ------------------------------------------------------------------ views
    @property
    def keyed(self) -> bool:
        """Whether this is many sequences (a ``sequence_key``) rather than one long series."""
        return self.sequence_key is not None

    @property
    def value_columns(self) -> list[str]:
        """The columns that change along a sequence (not the key, the index or the context)."""
        skip = {self.sequence_index, self.sequence_key, *self.context_columns}
        return [c for c in self.frame.columns if c not in skip]

    def __len__(self) -> int:
        """Rows (time steps over all sequences)."""
        return len(self.frame)

    def sequences(self) -> list[pd.DataFrame]:
        """Each sequence's rows in time order (one item for a single series)."""
        if not self.keyed:
            return [self.frame]
        return [g.reset_index(drop=True) for _, g in self.frame.groupby(self.sequence_key, sort=False)]

    def lengths(self) -> np.ndarray:
        """``(S,)`` int64: rows per sequence."""
        if not self.keyed:
            return np.array([len(self.frame)], dtype=np.int64)
        return self.frame.groupby(self.sequence_key, sort=False).size().to_numpy(np.int64)

    def index_kind(self) -> str | None:
        """``"datetime"`` or ``"number"``: how ``sequence_index`` counts time; ``None`` without one."""
        if self.sequence_index is None:
            return None
        return (
            "datetime" if pd.api.types.is_datetime64_any_dtype(self.frame[self.sequence_index]) else "number"
        )

    def index_numbers(self, values: pd.Series) -> np.ndarray:
        """``(n,)`` float64: index values as numbers (seconds since the epoch for times)."""
        return seconds(values) if self.index_kind() == "datetime" else values.to_numpy(np.float64)

    def index_step(self) -> float | None:
        """The one gap between consecutive index values within every sequence (1.0 when no sequence has
        two rows), or ``None`` when the gaps differ (an irregular index) or there is no index."""
        if self.sequence_index is None:
            return None
        gaps = np.concatenate([np.diff(self.index_numbers(s[self.sequence_index])) for s in self.sequences()])
        if not gaps.size:
            return 1.0
        return float(gaps[0]) if np.allclose(gaps, gaps[0], rtol=0, atol=1e-9) else None

    def context(self) -> pd.DataFrame:
        """Keyed sequences: one row per entity, the context columns (``(S, len(context_columns))``)."""
        if not self.keyed:
            return pd.DataFrame(index=range(1))
        first = self.frame.groupby(self.sequence_key, sort=False).head(1)
        return first[list(self.context_columns)].reset_index(drop=True)

    def subset(self, index: Any) -> SeriesSet:
        """Items ``index`` in time order: rows of one series, or whole sequences of keyed ones (the
        ``index``-th entities)."""
        index = np.sort(np.asarray(index, dtype=np.int64))
        if not self.keyed:
            return self.like(self.frame.iloc[index].reset_index(drop=True))
        keys = self.frame[self.sequence_key].drop_duplicates().to_numpy()[index]
        return self.like(self.frame[self.frame[self.sequence_key].isin(keys)].reset_index(drop=True))

    def like(self, frame: pd.DataFrame) -> SeriesSet:
        """Another series with this one's index, key and context columns."""
        return SeriesSet(frame, self.sequence_index, self.sequence_key, self.context_columns)

    def split(self, test_size: float = 0.2, seed: int = 0) -> tuple[SeriesSet, SeriesSet]:
        """``(train, test)``: keyed sequences split by entity (an entity is never on both sides,
        drawn with ``seed``); one series split in time (the last ``test_size`` share is the test part,
        so no test row precedes a training row)."""
        if not 0 < test_size < 1:
            raise DataError(f"test_size must be in (0, 1), got {test_size}")
        if not self.keyed:
            cut = len(self.frame) - max(1, round(test_size * len(self.frame)))
            if cut < 1:
                raise DataError("the series is too short to split; give at least two rows")
            return self.like(self.frame.iloc[:cut]), self.like(self.frame.iloc[cut:].reset_index(drop=True))
        keys = self.frame[self.sequence_key].drop_duplicates().to_numpy()
        if len(keys) < 2:
            raise DataError("one sequence cannot be split by entity; give at least two sequences")
        rng = np.random.default_rng(seed)
        held = set(rng.choice(keys, size=max(1, round(test_size * len(keys))), replace=False).tolist())
        mask = self.frame[self.sequence_key].isin(held).to_numpy()
        return self.like(self.frame[~mask].reset_index(drop=True)), self.like(
            self.frame[mask].reset_index(drop=True)
        )

    def describe(self) -> str:
        """``"3,685 rows, 6 columns, one series"`` or ``"… in 120 sequences"``."""
        shape = f"{len(self):,} rows, {len(self.value_columns)} columns"
        return f"{shape}, one series" if not self.keyed else f"{shape} in {len(self.lengths()):,} sequences"
