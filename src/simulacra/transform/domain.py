"""The public domain of a table under differential privacy: every column's range or category set, either
declared by the user (public knowledge) or estimated with a differentially private mechanism — never
read from the data silently.

A differentially private synthesizer must not let its *preprocessing* leak: a column's observed
minimum is a real person's value, and a category seen once is a real person's category. So a DP model
takes each column's domain from:

* the **metadata the user declared**: ``min`` and ``max`` of a numerical or datetime column, or the
  ``categories`` of a categorical or boolean one, written by hand as keys of a metadata file
  (``simulacra inspect … -o meta.json`` writes the data's own extremes as ``observed``, which are never
  taken as declared; add ``min``/``max`` from outside knowledge, e.g. age 0–120, and pass the file with
  ``--metadata``; :attr:`~simulacra.metadata.ColumnMetadata.declared` records which fields the user
  set). A declared bound equal to the data's own extreme draws a
  :class:`~simulacra.errors.PrivacyWarning`; or
* a **DP estimate**, paid from the privacy budget (:func:`estimate_domain`):

  - *numerical range*: the column's values are counted in :data:`LOG_BINS` fixed bins on a log scale
    (``±2^(k/4)``, four per octave, from 2⁻²⁰ to 2⁶⁴, and one bin around zero); every count gets
    Gaussian noise of scale σ (one record changes one count by 1: ρ = 1/(2σ²)-zCDP, the Gaussian
    mechanism, Bun & Steinke 2016); the range runs from the lowest to the highest bin whose noisy count
    exceeds 4σ. The bins are fixed in advance, so this is ρ-zCDP with no δ; values outside the range
    are clipped to it (a value in a bin of few records is, as DP requires).
  - *category set*: the observed categories' counts get Gaussian noise of scale σ and those above
    ``1 + σ·Φ⁻¹(1 − δ_c)`` are released, the Gaussian version of the stability-based histogram
    (Korolova et al. 2009; Wilson et al. 2020, "Differentially Private SQL with Bounded User
    Contribution"): a category one record adds is released with probability at most ``δ_c``, so the
    column costs ρ = 1/(2σ²) and δ_c. Rows of unreleased categories fall into an ``other`` bucket,
    decoded as :data:`OTHER` (text columns) or as missing (others).

  The estimate splits its share of ρ equally over the columns it estimates.

What is treated as the public *schema*, as in every DP synthesizer (MST, AIM, DP-CTGAN): the column
names, their sdtypes, whether a number is an integer (``representation``), the date format, and that
any column may hold missing values (every domain has a missing slot).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from simulacra.errors import ConfigError, PrivacyWarning
from simulacra.metadata import ColumnMetadata, Metadata, datetime_seconds, parse_datetimes
from simulacra.transform.secret import secret_rng

#: the label of categories the DP estimate did not release, in text columns
OTHER = "(other)"
#: the fixed log-scale bins of the range estimate: four per octave from 2^-20 to 2^64, on both signs
_OCTAVES = (-20, 64)
LOG_BINS = 2 * 4 * (_OCTAVES[1] - _OCTAVES[0]) + 1
#: noisy counts above this many σ count as holding records (false alarms ≈ 3e-5 per bin)
RANGE_SIGMAS = 4.0


def _log_bin(x: np.ndarray) -> np.ndarray:
    """The fixed log-scale bin of each value: 0 for ``|x| < 2^-20``, ``±(1 + k)`` for
    ``2^(lo + k/4) ≤ |x| < 2^(lo + (k+1)/4)``."""
    lo, hi = _OCTAVES
    mag = np.abs(x)
    k = np.floor(4 * (np.log2(np.maximum(mag, 2.0**lo)) - lo)).astype(np.int64)
    k = np.clip(k, 0, 4 * (hi - lo) - 1) + 1
    return np.where(mag < 2.0**lo, 0, np.sign(x).astype(np.int64) * k)


def _log_edge(b: int, upper: bool) -> float:
    """The lower (or upper) edge of log-scale bin ``b``."""
    lo = _OCTAVES[0]
    if b == 0:
        return 2.0**lo if upper else -(2.0**lo)
    k = abs(b) - 1 + (1 if upper == (b > 0) else 0)
    mag = 2.0 ** (lo + k / 4)
    return mag if b > 0 else -mag


@dataclass
class ColumnDomain:
    """The public domain of one column.

    ``kind`` ``"numeric"`` (numerical, datetime: ``lo``/``hi`` in the column's units, datetimes in
    seconds since 1970) or ``"categorical"`` (categorical, boolean: ``categories``, most frequent first
    when estimated, and ``other``: whether an other-bucket exists). ``source`` is ``"declared"`` or
    ``"dp"``; ``integer``: whole numbers; ``dtype``/``format``: how values are written back.
    """

    name: str
    sdtype: str
    kind: str
    source: str
    dtype: str
    format: str | None = None
    integer: bool = False
    lo: float = 0.0
    hi: float = 0.0
    categories: list[Any] = field(default_factory=list)
    other: bool = False

    def to_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ColumnDomain:
        return cls(**state)


@dataclass
class Domain:
    """Every learned column's :class:`ColumnDomain` and what estimating them cost: ``rho`` (zCDP) and
    ``delta`` (the category releases' δ)."""

    columns: dict[str, ColumnDomain]
    rho: float = 0.0
    delta: float = 0.0

    @property
    def estimated(self) -> list[str]:
        """The columns whose domain was estimated with DP (the others were declared)."""
        return [c for c, d in self.columns.items() if d.source == "dp"]

    @property
    def with_other_bucket(self) -> list[str]:
        """Categorical columns whose category set was estimated: their samples can hold the other
        bucket (categories too rare to release) and missing values, even where the data has none."""
        return [c for c, d in self.columns.items() if d.kind == "categorical" and d.source == "dp"]

    def to_state(self) -> dict[str, Any]:
        return {
            "columns": {c: d.to_state() for c, d in self.columns.items()},
            "rho": self.rho,
            "delta": self.delta,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Domain:
        cols = {c: ColumnDomain.from_state(d) for c, d in state["columns"].items()}
        return cls(cols, float(state["rho"]), float(state["delta"]))

    # ------------------------------------------------------------------ values
    def numbers(self, column: str, values: pd.Series, *, clip: bool = True) -> np.ndarray:
        """A numeric column as float64 in its domain's units (datetimes in seconds), clipped to
        ``[lo, hi]`` (unless ``clip`` is false); missing and unreadable values are NaN."""
        d = self.columns[column]
        if d.sdtype == "datetime":
            x = datetime_seconds(values, d.format)
        else:
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if not clip:
            return x
        return np.where(np.isfinite(x), np.clip(x, d.lo, d.hi), np.nan)

    def category_codes(self, column: str, values: pd.Series) -> np.ndarray:
        """``(N,)`` int64 positions of a categorical column's values among its categories;
        ``len(categories)`` for the other-bucket and ``len(categories) + 1`` for missing."""
        d = self.columns[column]
        index = {_key(c): i for i, c in enumerate(d.categories)}
        k = len(d.categories)
        return np.array(
            [k + 1 if _missing(v) else index.get(_key(v), k) for v in values.tolist()], dtype=np.int64
        )

    def category_values(self, column: str, codes: np.ndarray) -> pd.Series:
        """The values of category positions (see :meth:`category_codes`), in the column's dtype."""
        d = self.columns[column]
        text = d.dtype in ("object", "str", "string") or d.dtype.startswith("string")
        table = np.empty(len(d.categories) + 2, dtype=object)
        table[: len(d.categories)] = d.categories
        table[len(d.categories)] = OTHER if text else None
        table[len(d.categories) + 1] = None
        return _restore(pd.Series(table[np.asarray(codes)], dtype=object), d.dtype)

    def numeric_values(self, column: str, x: np.ndarray) -> pd.Series:
        """Numbers of the domain's units (NaN: missing) written back as the column: clipped to the
        range, rounded for integers, datetimes formatted."""
        d = self.columns[column]
        x = np.clip(np.asarray(x, dtype=float), d.lo, d.hi)
        missing = ~np.isfinite(x)
        if d.integer:
            x = np.round(x)
        if d.sdtype == "datetime":
            dt = pd.Series(pd.to_datetime(np.round(np.nan_to_num(x) * 1e9).astype("int64"), unit="ns"))
            dt[missing] = pd.NaT
            if d.dtype.startswith("datetime64"):
                return dt
            fmt = d.format if d.format not in (None, "mixed") else "%Y-%m-%d %H:%M:%S"
            return dt.dt.strftime(fmt).astype(object).where(~missing, None)
        s = pd.Series(x)
        s[missing] = np.nan
        dtype = "int64" if d.integer else "float64"
        return _restore(s, "float64" if missing.any() else dtype)

    def public_metadata(self, meta: Metadata) -> Metadata:
        """The metadata a DP model may store: the schema (sdtypes, representations, formats, identifier
        kinds) with the domain's ranges and categories instead of the data's, every column nullable, and no
        detection reasons (they quote the data)."""
        out = {}
        for name, col in meta.columns.items():
            d = self.columns.get(name)
            fields: dict[str, Any] = {
                "sdtype": col.sdtype,
                "representation": col.representation,
                "format": col.format,
                "nullable": True,
                "pii": col.pii,
                "locale": col.locale,
                "reason": "public schema of a differentially private model",
            }
            if d is not None and d.kind == "numeric" and col.sdtype == "numerical":
                fields |= {"min": d.lo, "max": d.hi, "declared": ["max", "min"]}  # released, so public
            elif d is not None and d.kind == "categorical":
                fields |= {"categories": list(d.categories), "declared": ["categories"]}
            out[name] = ColumnMetadata(**fields)
        return Metadata(out)


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def _key(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return (type(v).__name__ if isinstance(v, bool) else "", v)


def _restore(values: pd.Series, dtype: str) -> pd.Series:
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values


def _public(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def estimate_domain(
    df: pd.DataFrame,
    metadata: Metadata,
    columns: list[str],
    *,
    rho: float,
    delta: float,
) -> Domain:
    """The domain of ``columns`` of ``df``: declared where the metadata declares it, estimated with
    the mechanisms of the module docstring where it does not, spending at most ``rho`` (zCDP) and
    ``delta`` split equally over the estimated columns. The noise is secret
    (:func:`~simulacra.transform.secret.secret_rng`): there is no seed, so two calls differ.

    Each column's ``dtype`` (how sampled values are written back) comes from the public schema, never
    from the data's dtype, which would tell whether a column holds a missing value (an integer column
    with one is read as float64): every column is treated as nullable.

    Raises
    ------
    ConfigError
        A column's range cannot be estimated (no bin stands out of the noise: too few rows for the
        budget); the message asks to declare ``min`` and ``max``.
    """
    rng = secret_rng()
    todo = [c for c in columns if not is_declared(metadata, c)]
    sigma = math.sqrt(len(todo) / (2 * rho)) if todo else 0.0
    cats = [c for c in todo if metadata[c].sdtype in ("categorical", "boolean")]
    delta_c = delta / len(cats) if cats else 0.0
    out: dict[str, ColumnDomain] = {}
    for c in columns:
        m = metadata[c]
        base = {
            "name": c,
            "sdtype": m.sdtype,
            "dtype": "",  # from the schema and the released categories, below
            "format": m.format,
            "integer": m.representation == "int" or m.sdtype == "datetime",
        }
        numeric = m.sdtype in ("numerical", "datetime")
        if c not in todo:
            if numeric:
                lo, hi = (_declared_number(m, v) for v in (m.min, m.max))
                _warn_if_observed(c, m, df[c], lo, hi)
                out[c] = ColumnDomain(**base, kind="numeric", source="declared", lo=lo, hi=hi)
            else:
                out[c] = ColumnDomain(
                    **base,
                    kind="categorical",
                    source="declared",
                    categories=[_public(v) for v in m.categories],
                )
            continue
        if numeric:
            x = (
                datetime_seconds(df[c], m.format)
                if m.sdtype == "datetime"
                else pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            )
            bins, counts = np.unique(_log_bin(x[np.isfinite(x)]), return_counts=True)
            half = (LOG_BINS - 1) // 2
            noisy = rng.normal(0.0, sigma, LOG_BINS)  # every fixed bin gets noise, empty or not
            noisy[bins + half] += counts
            held = np.flatnonzero(noisy > RANGE_SIGMAS * sigma) - half
            if held.size == 0:
                raise ConfigError(
                    f"column {c!r}: too few rows to estimate its range under this privacy budget; declare "
                    f"min and max from outside knowledge in a metadata file (`metadata`) or raise epsilon"
                )
            lo, hi = _log_edge(int(held.min()), upper=False), _log_edge(int(held.max()), upper=True)
            lo, hi = (0.0 if held.min() == 0 else lo), (0.0 if held.max() == 0 else hi)  # the bin around 0
            if base["integer"]:
                lo, hi = math.floor(lo), math.ceil(hi)
            out[c] = ColumnDomain(**base, kind="numeric", source="dp", lo=float(lo), hi=float(hi))
        else:
            values = df[c][df[c].notna()]
            counts = values.map(_key).value_counts()
            firsts = {k: v for v, k in zip(values.tolist(), values.map(_key).tolist(), strict=True)}
            noisy = counts.to_numpy(dtype=float) + rng.normal(0.0, sigma, len(counts))
            threshold = 1.0 + sigma * float(norm.isf(delta_c))
            keep = np.argsort(-noisy, kind="stable")
            keep = keep[noisy[keep] > threshold]
            released = [_public(firsts[counts.index[i]]) for i in keep]
            out[c] = ColumnDomain(**base, kind="categorical", source="dp", categories=released, other=True)
    for c, d in out.items():
        d.dtype = schema_dtype(metadata[c], d.categories)
    spent_delta = delta_c * len(cats)
    return Domain(out, rho=rho if todo else 0.0, delta=spent_delta)


def schema_dtype(column: ColumnMetadata, categories: list[Any]) -> str:
    """The pandas dtype a DP model writes a column back in, from public facts only: the sdtype, the
    representation, the date format and the released (or declared) categories; always one that holds
    missing values. Native datetimes (no ``format``) are ``datetime64[ns]``; date strings, text and
    mixed categories ``object``; booleans ``boolean``; whole-number categories ``Int64``; other
    numbers ``float64`` (numerical columns: ``int64`` for whole numbers, float64 where a sample holds a
    missing value)."""
    if column.sdtype == "datetime":
        return "datetime64[ns]" if column.format is None else "object"
    if column.sdtype == "numerical":  # a sample with missing values is written as float64 anyway
        return "int64" if column.representation == "int" else "float64"
    values = [v for v in categories if not _missing(v)]
    if column.sdtype == "boolean" or (values and all(isinstance(v, bool | np.bool_) for v in values)):
        return "boolean"
    if values and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        return "Int64"
    if values and all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
        return "float64"
    return "object"


def _warn_if_observed(name: str, m: ColumnMetadata, values: pd.Series, lo: float, hi: float) -> None:
    """A :class:`~simulacra.errors.PrivacyWarning` when a declared bound equals the column's own minimum
    or maximum: a bound copied from the data is a real person's value, released for free. (The data's
    owner alone sees the warning; nothing of it is stored.)"""
    x = (
        datetime_seconds(values, m.format)
        if m.sdtype == "datetime"
        else pd.to_numeric(values, errors="coerce")
    )
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not x.size:
        return
    same = [w for w, b, e in (("min", lo, x.min()), ("max", hi, x.max())) if b == e]
    if same:
        warnings.warn(
            f"column {name!r}: the declared {' and '.join(same)} "
            f"{'equals the data’s own extreme' if len(same) == 1 else 'equal the data’s own extremes'}; a DP model takes declared bounds as public knowledge, so declare them "
            "from outside the data (e.g. age 0–120), or drop them to have them estimated with DP",
            PrivacyWarning,
            stacklevel=3,
        )


def is_declared(metadata: Metadata, column: str) -> bool:
    """Whether ``column``'s domain is public: its ``min`` and ``max`` (numbers, dates) or its
    ``categories`` were set by the user (:attr:`~simulacra.metadata.ColumnMetadata.declared`)."""
    m = metadata[column]
    if m.sdtype in ("numerical", "datetime"):
        return {"min", "max"} <= set(m.declared or ())
    return "categories" in set(m.declared or ())


def _declared_number(m, value: Any) -> float:
    if m.sdtype == "datetime":
        return (
            float(
                parse_datetimes(pd.Series([value]), m.format if m.format != "mixed" else None)
                .astype("datetime64[ns]")
                .astype("int64")
                .iloc[0]
            )
            / 1e9
        )
    return float(value)


__all__ = ["OTHER", "ColumnDomain", "Domain", "estimate_domain"]
