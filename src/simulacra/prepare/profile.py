"""A data profile: per-column summary and a list of warnings worth reading before fitting a model."""

from __future__ import annotations

from typing import Any

import pandas as pd

from simulacra.metadata import Metadata

#: a category is shown among a column's top values only when at least this many rows hold it (a rarer
#: value can be one person's, and the profile goes into preparation.json and report.html)
MIN_SHOWN_COUNT = 10
#: sdtypes whose values are never shown: identifiers, ids and free text (kind, missing rate and distinct
#: count only)
HIDDEN_SDTYPES = ("pii", "id", "text")


def profile(df: pd.DataFrame, metadata: Metadata | None = None, target: str | None = None) -> dict[str, Any]:
    """Summarise ``df``: one entry per column (sdtype, missing rate, distinct count, min/max/mean for
    numerical columns or the top categories otherwise) and warnings. No real identifier is shown: the
    columns of :data:`HIDDEN_SDTYPES` get their sdtype, missing rate and distinct count only, and a top
    category is listed only when :data:`MIN_SHOWN_COUNT` rows or more hold it. Warnings:

    * constant columns (at most one distinct value);
    * ID-like columns (every non-missing value distinct);
    * high-cardinality text (over 100 categories and over half the rows distinct);
    * heavy skew (|sample skewness| > 5);
    * leakage suspects: columns whose value determines ``target`` (every value maps to a single target
      value) while taking fewer distinct values than half the rows — e.g. a copy of the target.

    Returns ``{"rows": N, "columns": [...], "warnings": [str, ...]}`` (JSON-able).
    """
    metadata = metadata if metadata is not None else Metadata.detect(df)
    n = len(df)
    columns, warnings = [], []
    for c in df.columns:
        s = df[c]
        meta = metadata[str(c)]
        distinct = int(s.nunique(dropna=True))
        entry: dict[str, Any] = {
            "column": str(c),
            "sdtype": meta.sdtype,
            "missing_rate": float(s.isna().mean()) if n else 0.0,
            "distinct": distinct,
        }
        numeric = meta.sdtype == "numerical" and pd.api.types.is_numeric_dtype(s)
        if meta.sdtype in HIDDEN_SDTYPES:
            pass
        elif numeric and s.notna().any():
            x = s.astype(float)
            entry.update(min=float(x.min()), max=float(x.max()), mean=float(x.mean()))
            skew = float(x.skew()) if distinct > 2 else 0.0
            if abs(skew) > 5:
                warnings.append(f"{c}: heavy skew ({skew:.1f}); consider a log transform or outlier handling")
        else:
            top = s.value_counts(dropna=True).head(3)
            entry["top"] = [[str(k), int(v)] for k, v in top.items() if v >= MIN_SHOWN_COUNT]
        columns.append(entry)
        if distinct <= 1:
            warnings.append(f"{c}: constant column ({distinct} distinct value); it carries no information")
        elif distinct == s.notna().sum() and n > 20:
            warnings.append(f"{c}: every value is distinct (ID-like); mark it as an id column")
        elif meta.sdtype == "categorical" and distinct > 100 and distinct > 0.5 * n:
            warnings.append(f"{c}: high-cardinality text ({distinct} categories); group rare categories")
        if target is not None and c != target and target in df.columns and 1 < distinct < 0.5 * n:
            pure = df[[c, target]].dropna().groupby(c, observed=True)[target].nunique().max()
            if pure == 1:
                warnings.append(f"{c}: determines the target {target!r} exactly (leakage suspect)")
    return {"rows": n, "columns": columns, "warnings": warnings}
