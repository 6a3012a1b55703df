"""Encoding real and synthetic rows into the numeric matrices that metric models need."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulacra.metadata import NOT_LEARNED, Metadata, datetime_seconds

MAX_LEVELS = 50  # one-hot/ordinal levels kept per categorical column; rarer ones share an "other" level


def numeric_values(s: pd.Series, sdtype: str, fmt: str | None = None) -> np.ndarray:
    """A numerical or datetime column as float64 (datetimes in seconds); missing → NaN."""
    if sdtype == "datetime":
        return datetime_seconds(s, fmt)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def label_values(s: pd.Series) -> np.ndarray:
    """A categorical column as an object array of strings, missing → ``"<missing>"``."""
    return s.astype(object).where(s.notna(), "<missing>").astype(str).to_numpy()


class FeatureEncoder:
    """Column encodings fitted on a real reference table, applied identically to any other table.

    ``ordinal(df)``: ``(N, k)`` float64 — numerics as-is (NaN kept), categoricals as level codes — plus
    ``categorical_mask`` for scikit-learn's HistGradientBoosting. ``onehot(df)``: numerics standardised
    with NaN → 0 and a missing indicator, categoricals one-hot (for logistic regression).
    ``gower(df)``: numerics scaled by the real range, categoricals one-hot × 0.5, so that the L1
    distance between two encoded rows is the Gower distance summed over columns.
    """

    def __init__(self, metadata: Metadata, reference: pd.DataFrame, exclude: tuple[str, ...] = ()) -> None:
        self.metadata = metadata
        self.columns = [
            c for c in metadata.names if metadata[c].sdtype not in NOT_LEARNED and c not in exclude
        ]
        self.levels: dict[str, list[str]] = {}
        self.stats: dict[str, tuple[float, float, float, float]] = {}
        for c in self.columns:
            m = metadata[c]
            if self.is_numeric(c):
                x = numeric_values(reference[c], m.sdtype, m.format)
                x = x[np.isfinite(x)]
                if x.size == 0:
                    x = np.zeros(1)
                self.stats[c] = (
                    float(x.mean()),
                    float(x.std() or 1.0),
                    float(x.min()),
                    float(np.ptp(x) or 1.0),
                )
            else:
                counts = pd.Series(label_values(reference[c])).value_counts()
                self.levels[c] = counts.index[:MAX_LEVELS].tolist()

    def is_numeric(self, column: str) -> bool:
        return self.metadata[column].sdtype in ("numerical", "datetime")

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([not self.is_numeric(c) for c in self.columns], dtype=bool)

    def _codes(self, s: pd.Series, column: str) -> np.ndarray:
        index = {v: i for i, v in enumerate(self.levels[column])}
        other = len(index)
        return np.array([index.get(v, other) for v in label_values(s)], dtype=np.int64)

    def ordinal(self, df: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns:
            m = self.metadata[c]
            cols.append(
                numeric_values(df[c], m.sdtype, m.format) if self.is_numeric(c) else self._codes(df[c], c)
            )
        return np.column_stack(cols).astype(np.float64) if cols else np.zeros((len(df), 0))

    def _blocks(self, df: pd.DataFrame, gower: bool) -> np.ndarray:
        blocks = []
        for c in self.columns:
            m = self.metadata[c]
            if self.is_numeric(c):
                mean, std, lo, rng = self.stats[c]
                x = numeric_values(df[c], m.sdtype, m.format)
                miss = ~np.isfinite(x)
                x = (x - lo) / rng if gower else (x - mean) / std
                blocks.append(np.where(miss, 0.0, x)[:, None])
                blocks.append(miss[:, None].astype(float))
            else:
                codes = self._codes(df[c], c)
                onehot = np.zeros((len(df), len(self.levels[c]) + 1))
                onehot[np.arange(len(df)), codes] = 0.5 if gower else 1.0
                blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(df), 0))

    def gower_layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where :meth:`gower`'s columns are: ``(continuous, indicator, weight)`` — indices of the scaled
        numbers, indices of the 0/``w`` indicator columns (missing flags, one-hot levels) and each
        indicator's ``w``."""
        cont, ind, weight, j = [], [], [], 0
        for c in self.columns:
            if self.is_numeric(c):
                cont.append(j)
                ind.append(j + 1)
                weight.append(1.0)
                j += 2
            else:
                width = len(self.levels[c]) + 1
                ind.extend(range(j, j + width))
                weight.extend([0.5] * width)
                j += width
        return np.array(cont, dtype=int), np.array(ind, dtype=int), np.array(weight)

    def onehot(self, df: pd.DataFrame) -> np.ndarray:
        return self._blocks(df, gower=False)

    def gower(self, df: pd.DataFrame) -> np.ndarray:
        return self._blocks(df, gower=True)
