"""Cleaning steps. Each takes a DataFrame and options, returns a new DataFrame (the input is never
modified) and a list of :class:`Change` records, one per column or action that changed something.

Steps: :func:`drop_duplicates`, :func:`handle_missing`, :func:`handle_outliers`, :func:`coerce_types`,
:func:`normalize_categories`, :func:`group_rare`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from simulacra.errors import ConfigError
from simulacra.io.tables import LEADING_ZERO
from simulacra.metadata import parse_datetimes

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_PERCENT = re.compile(r"^[+-]?\d+(\.\d+)?\s*%$")


@dataclass(frozen=True)
class Change:
    """One thing a cleaning step did: ``step`` and ``action`` name it, ``column`` is ``None`` for
    whole-row actions, ``count`` is the number of rows or values affected, ``detail`` says it in words."""

    step: str
    action: str
    column: str | None
    count: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s) or s.dtype == object


def drop_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, list[Change]]:
    """Remove exact duplicate rows, keeping the first of each."""
    dup = df.duplicated(keep="first")
    n = int(dup.sum())
    if not n:
        return df.copy(), []
    return df.loc[~dup].reset_index(drop=True), [
        Change("duplicates", "dropped rows", None, n, f"{n} exact duplicate rows removed (first kept)")
    ]


def handle_missing(
    df: pd.DataFrame,
    strategy: str = "keep",
    *,
    fill_value: Any = None,
    columns: list[str] | None = None,
) -> tuple[pd.DataFrame, list[Change]]:
    """Report and treat missing values, per column.

    strategy: ``"keep"`` (default: leave them; the synthesizers model missingness), ``"drop"`` (drop
        rows with a missing value in ``columns``), ``"impute"`` (median for numerical columns, mode
        otherwise) or ``"constant"`` (``fill_value``).

    Raises
    ------
    ConfigError
        Unknown strategy, ``"constant"`` without ``fill_value``, or an unknown column.
    """
    if strategy not in ("keep", "drop", "impute", "constant"):
        raise ConfigError(f"missing-value strategy {strategy!r}: use keep, drop, impute or constant")
    if strategy == "constant" and fill_value is None:
        raise ConfigError("missing-value strategy 'constant' needs fill_value")
    cols = _columns(df, columns)
    out = df.copy()
    changes = []
    counts = {c: int(out[c].isna().sum()) for c in cols}
    if strategy == "drop":
        rows = out[cols].isna().any(axis=1)
        out = out.loc[~rows].reset_index(drop=True)
        if rows.any():
            changes.append(
                Change(
                    "missing",
                    "dropped rows",
                    None,
                    int(rows.sum()),
                    f"{int(rows.sum())} rows with a missing value removed",
                )
            )
        return out, changes
    for c, n in counts.items():
        if not n:
            continue
        rate = n / max(len(df), 1)
        if strategy == "keep":
            changes.append(
                Change("missing", "kept", c, n, f"{n} missing values ({rate:.1%}) kept and modelled")
            )
            continue
        if strategy == "constant":
            value = fill_value
        elif pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            value = out[c].median()
        else:
            mode = out[c].mode(dropna=True)
            value = mode.iloc[0] if len(mode) else fill_value
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            changes.append(
                Change(
                    "missing",
                    "kept",
                    c,
                    n,
                    f"{n} missing values kept: the column has no values to impute from",
                )
            )
            continue
        out[c] = out[c].fillna(value)
        how = (
            "constant"
            if strategy == "constant"
            else ("median" if pd.api.types.is_numeric_dtype(out[c]) else "mode")
        )
        changes.append(
            Change("missing", f"imputed {how}", c, n, f"{n} missing values ({rate:.1%}) set to {value!r}")
        )
    return out, changes


def handle_outliers(
    df: pd.DataFrame,
    method: str = "iqr",
    action: str = "report",
    *,
    factor: float = 1.5,
    threshold: float = 3.0,
    columns: list[str] | None = None,
) -> tuple[pd.DataFrame, list[Change]]:
    """Find outliers in numerical columns and report, clip or drop them.

    method: ``"iqr"`` — outside ``[Q1 − factor·IQR, Q3 + factor·IQR]`` (Tukey 1977), or ``"zscore"`` —
        ``|x − mean| > threshold·std``.
    action: ``"report"`` (default), ``"clip"`` (to the fences) or ``"drop"`` (rows).

    Raises
    ------
    ConfigError
        Unknown method/action or column.
    """
    if method not in ("iqr", "zscore") or action not in ("report", "clip", "drop"):
        raise ConfigError(
            f"outliers: method {method!r} / action {action!r}; use iqr|zscore and report|clip|drop"
        )
    cols = [
        c
        for c in _columns(df, columns)
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
    ]
    out = df.copy()
    changes = []
    drop = pd.Series(False, index=out.index)
    for c in cols:
        x = out[c].astype(float)
        if method == "iqr":
            q1, q3 = x.quantile(0.25), x.quantile(0.75)
            lo, hi = q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)
        else:
            lo, hi = x.mean() - threshold * x.std(), x.mean() + threshold * x.std()
        mask = (x < lo) | (x > hi)
        n = int(mask.sum())
        if not n:
            continue
        fences = f"outside [{lo:.6g}, {hi:.6g}] ({method})"
        if action == "report":
            changes.append(Change("outliers", "reported", c, n, f"{n} values {fences}; left unchanged"))
        elif action == "clip":
            clipped = x.clip(lo, hi)
            if pd.api.types.is_integer_dtype(out[c]):
                clipped = clipped.round()
            out[c] = clipped.astype(out[c].dtype)
            changes.append(Change("outliers", "clipped", c, n, f"{n} values {fences} clipped to the fences"))
        else:
            drop |= mask
            changes.append(Change("outliers", "flagged for dropping", c, n, f"{n} values {fences}"))
    if action == "drop" and drop.any():
        n = int(drop.sum())
        out = out.loc[~drop].reset_index(drop=True)
        changes.append(Change("outliers", "dropped rows", None, n, f"{n} rows with an outlier removed"))
    return out, changes


def coerce_types(df: pd.DataFrame, *, min_share: float = 0.95) -> tuple[pd.DataFrame, list[Change]]:
    """Convert text columns whose values (at least ``min_share`` of the non-missing ones) are numbers
    with thousands separators (``1,234.5``), plain numbers, percentages (``12.5%`` → 0.125), booleans
    in several spellings (true/false, yes/no, y/n, t/f, 1/0, on/off) or dates in several formats.
    Values that do not parse become missing, and the record says how many. A column with numbers written
    with leading zeros (``00123``: postcodes, account numbers) stays text, and the record says why."""
    out = df.copy()
    changes = []
    for c in out.columns:
        s = out[c]
        if not _is_text(s):
            continue
        text = s.dropna().astype(str).str.strip()
        if text.empty:
            continue
        coded = text.str.match(LEADING_ZERO)
        if coded.any():  # 00123 as a number would lose its zeros: a code, kept as text
            changes.append(
                Change(
                    "types",
                    "kept as text",
                    c,
                    0,
                    f"{int(coded.sum())} values written with leading zeros (e.g. {text[coded].iloc[0]!r}) "
                    "are codes; not converted to numbers",
                )
            )
            continue
        converted, kind = _coerce(s, text, min_share)
        if converted is None:
            continue
        lost = int(converted.isna().sum() - s.isna().sum())
        out[c] = converted
        extra = f"; {lost} values that did not parse are now missing" if lost else ""
        changes.append(
            Change("types", f"converted to {kind}", c, int(s.notna().sum()), f"text → {kind}{extra}")
        )
    return out, changes


def _coerce(s: pd.Series, text: pd.Series, min_share: float) -> tuple[pd.Series | None, str]:
    stripped = s.astype("string").str.strip()
    lower = text.str.lower()
    if lower.isin(_TRUE | _FALSE).mean() >= min_share:
        low = stripped.str.lower()
        return low.map(lambda v: True if v in _TRUE else False if v in _FALSE else pd.NA).astype(
            "boolean"
        ), "boolean"
    if text.str.match(_PERCENT).mean() >= min_share:
        return pd.to_numeric(
            stripped.str.rstrip("%").str.strip(), errors="coerce"
        ) / 100.0, "number (percent / 100)"
    if text.str.match(_THOUSANDS).mean() >= min_share or (
        text.str.match(_THOUSANDS).any()
        and pd.to_numeric(text.str.replace(",", ""), errors="coerce").notna().mean() >= min_share
    ):
        return pd.to_numeric(stripped.str.replace(",", ""), errors="coerce"), "number"
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().mean() >= min_share:
        return pd.to_numeric(stripped, errors="coerce"), "number"
    if text.str.contains(r"\d").mean() >= min_share:
        sample = text.sample(min(len(text), 1000), random_state=0)  # cheap test before the whole column
        if parse_datetimes(sample, "mixed").notna().mean() >= min_share:
            dates = parse_datetimes(stripped.astype(object), "mixed")
            if dates.notna().sum() >= min_share * len(text):
                return dates, "datetime"
    return None, ""


def normalize_categories(
    df: pd.DataFrame, *, strip: str | None = None, casefold: bool = False, columns: list[str] | None = None
) -> tuple[pd.DataFrame, list[Change]]:
    """Trim text categories (surrounding whitespace, plus the characters in ``strip``, e.g. ``" ."`` for
    the Adult test labels' trailing period) and optionally case-fold them; records how many values and
    how many distinct categories changed."""
    out = df.copy()
    changes = []
    for c in _columns(out, columns):
        s = out[c]
        if not _is_text(s):
            continue
        new = s.astype("string").str.strip()
        if strip:
            new = new.str.strip(strip)
        if casefold:
            new = new.str.casefold()
        changed = (new.fillna("\0") != s.astype("string").fillna("\0")).to_numpy()
        n = int(changed.sum())
        if not n:
            continue
        before, after = s.nunique(dropna=True), new.nunique(dropna=True)
        out[c] = new.astype(s.dtype) if s.dtype != object else new.astype(object)
        changes.append(
            Change(
                "categories",
                "normalized",
                c,
                n,
                f"{n} values trimmed/case-folded; {before} → {after} categories",
            )
        )
    return out, changes


def group_rare(
    df: pd.DataFrame, *, max_categories: int = 50, other: str = "Other", columns: list[str] | None = None
) -> tuple[pd.DataFrame, list[Change]]:
    """In text columns with more than ``max_categories`` categories, keep the ``max_categories − 1``
    most frequent and replace the rest by ``other``.

    Raises
    ------
    ConfigError
        ``max_categories`` < 2.
    """
    if max_categories < 2:
        raise ConfigError(f"max_categories must be ≥ 2, got {max_categories}")
    out = df.copy()
    changes = []
    for c in _columns(out, columns):
        s = out[c]
        if not _is_text(s):
            continue
        counts = s.value_counts(dropna=True)
        if len(counts) <= max_categories:
            continue
        keep = set(counts.index[: max_categories - 1])
        rare = s.notna() & ~s.isin(keep)
        out[c] = s.where(~rare, other)
        changes.append(
            Change(
                "rare categories",
                "grouped",
                c,
                int(rare.sum()),
                f"{len(counts) - len(keep)} rare categories ({int(rare.sum())} values) grouped as {other!r}",
            )
        )
    return out, changes


def _columns(df: pd.DataFrame, columns: list[str] | None) -> list[str]:
    if columns is None:
        return [str(c) for c in df.columns]
    unknown = [c for c in columns if c not in df.columns]
    if unknown:
        raise ConfigError(f"unknown column(s) {unknown}; the table has {list(df.columns)[:20]}")
    return list(columns)
