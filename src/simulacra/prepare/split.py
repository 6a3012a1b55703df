"""Train/validation/test splits: random, stratified by a column, grouped, or time-ordered."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from simulacra.errors import ConfigError
from simulacra.prepare.cleaning import Change

NAMES = ("train", "validation", "test")


def split(
    df: pd.DataFrame,
    method: str = "random",
    *,
    fractions: Sequence[float] = (0.8, 0.2),
    column: str | None = None,
    seed: int = 0,
) -> tuple[dict[str, pd.DataFrame], list[Change]]:
    """Split ``df`` into two (train, test) or three (train, validation, test) parts.

    method:
        ``"random"`` — a seeded permutation;
        ``"stratified"`` — every part keeps ``column``'s category shares (scikit-learn's
        ``train_test_split(stratify=…)``, applied twice for three parts);
        ``"group"`` — rows sharing a ``column`` value stay in one part (scikit-learn's
        ``GroupShuffleSplit``; fractions hold for groups, so row shares are approximate);
        ``"time"`` — ordered by ``column``; the earliest rows train, the latest test.
    fractions: two or three shares summing to 1.

    Returns the parts by name and one :class:`Change` per part (its row count).

    Raises
    ------
    ConfigError
        Unknown method, bad fractions, a method that needs ``column`` without one, an unknown column,
        or a part that would be empty.
    """
    if method not in ("random", "stratified", "group", "time"):
        raise ConfigError(f"split method {method!r}: use random, stratified, group or time")
    fr = [float(f) for f in fractions]
    if len(fr) not in (2, 3) or min(fr) <= 0 or abs(sum(fr) - 1) > 1e-6:
        raise ConfigError(f"split fractions {list(fractions)} must be 2 or 3 positive shares summing to 1")
    if method != "random":
        if column is None:
            raise ConfigError(f"split method {method!r} needs a column (e.g. `split_column` income)")
        if column not in df.columns:
            raise ConfigError(f"split column {column!r} is not in the table")
    names = ("train", "test") if len(fr) == 2 else NAMES
    n = len(df)
    if n < len(fr):
        raise ConfigError(
            f"a table of {n} row(s) cannot be split into {len(fr)} parts; give more rows or set split: null"
        )
    if method == "stratified":
        counts = df[column].astype("string").fillna("<missing>").value_counts()
        single = counts[counts < len(fr)]
        if len(single):
            raise ConfigError(
                f"split column {column!r} has {len(single):,} value(s) with fewer than {len(fr)} rows "
                f"(e.g. {single.index[0]!r}), so a stratified split cannot keep their shares; stratify on a "
                "categorical column with fewer, larger classes, or use `split` random"
            )
    if method == "time":
        key = df[column]
        if not pd.api.types.is_numeric_dtype(key) and not pd.api.types.is_datetime64_any_dtype(key):
            key = pd.to_datetime(key, errors="coerce", format="mixed")  # text dates order as dates
        order = np.argsort(key.to_numpy(), kind="stable")  # missing times sort last
        cuts = np.round(np.cumsum(fr)[:-1] * n).astype(int)
        index_parts = np.split(order, cuts)
    elif method == "group":
        index_parts = _group_parts(df[column], fr, seed)
    else:
        index_parts = _shuffle_parts(df, fr, seed, df[column] if method == "stratified" else None)
    parts = {}
    changes = []
    for name, idx in zip(names, index_parts, strict=True):
        if len(idx) == 0:
            raise ConfigError(
                f"the {name} part of a {method} split of {n} rows would be empty; change fractions"
            )
        parts[name] = df.iloc[np.sort(idx) if method != "time" else idx].reset_index(drop=True)
        changes.append(
            Change("split", name, column, len(idx), f"{len(idx)} rows ({len(idx) / n:.1%}), {method} split")
        )
    return parts, changes


def _shuffle_parts(
    df: pd.DataFrame, fr: list[float], seed: int, strata: pd.Series | None
) -> list[np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(df))
    labels = (
        strata.astype("string").fillna("<missing>").to_numpy(dtype=object) if strata is not None else None
    )
    rest, test = train_test_split(idx, test_size=fr[-1], random_state=seed, stratify=labels)
    if len(fr) == 2:
        return [rest, test]
    sub = labels[rest] if labels is not None else None
    train, val = train_test_split(rest, test_size=fr[1] / (fr[0] + fr[1]), random_state=seed, stratify=sub)
    return [train, val, test]


def _group_parts(groups: pd.Series, fr: list[float], seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import GroupShuffleSplit

    idx = np.arange(len(groups))
    g = groups.astype("string").fillna("<missing>").to_numpy(dtype=object)  # missing is one group
    rest, test = next(GroupShuffleSplit(1, test_size=fr[-1], random_state=seed).split(idx, groups=g))
    if len(fr) == 2:
        return [rest, test]
    inner = GroupShuffleSplit(1, test_size=fr[1] / (fr[0] + fr[1]), random_state=seed)
    train, val = next(inner.split(rest, groups=g[rest]))
    return [rest[train], rest[val], test]
