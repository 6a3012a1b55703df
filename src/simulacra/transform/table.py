"""``TableTransformer``: a reversible map between a DataFrame and a float32 matrix ``(N, D)``.

Each column becomes one or more *spans* of the matrix (:class:`ColumnSpan`):

* numerical → one continuous span (:class:`~simulacra.transform.encoders.NumericalEncoder`), or, with
  ``numerical="mode_specific"``, a continuous span ``α`` followed by a discrete ``"mode"`` span
  (:class:`~simulacra.transform.encoders.ModeSpecificEncoder`, CTGAN's mode-specific normalization);
* datetime → seconds since 1970-01-01 (float), then as numerical;
* categorical and boolean → a discrete span (:class:`~simulacra.transform.encoders.CategoricalEncoder`);
  missing values are a category of their own;
* a numerical/datetime column with missing values gets an extra discrete *missing indicator* span, and
  its missing entries are encoded as the median before the value encoder;
* id columns take no span: ``inverse_transform`` generates fresh keys (integers above the real
  maximum, or ``"<column>-000001"`` strings), never real ones;
* personal-identifier (``pii``) columns take no span and are never read: ``inverse_transform`` leaves
  them empty, and :class:`~simulacra.synthesizers.Synthesizer` fills them with
  :class:`~simulacra.transform.pii.IdentifierGenerator` values after sampling.

``inverse_transform(transform(df))`` restores column order, dtypes, integer representation (rounded),
value bounds (clipped to the real ``[min, max]``), category sets and missing-value rates.

**Value grids.** A numerical column with at most :data:`MAX_GRID` distinct values keeps them (its *value
grid*), and every decoded value is moved to the nearest of them: a column whose real values are 0, 0.2,
…, 1.0 never returns 0.37, whatever the model. A column with more distinct values keeps its number of
decimals (up to 6; SDV's learned rounding) and decoded values are rounded to it. Off-grid values are
what a tree detector sees first: rounding the integer columns of an adversarial random forest's output
alone lifted its XGBoost detection score on Adult from 0.014 to 0.148.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from simulacra.errors import ConditionError, NotFittedError
from simulacra.metadata import Metadata, datetime_seconds, parse_datetimes
from simulacra.transform.domain import OTHER, Domain
from simulacra.transform.encoders import (
    CategoricalEncoder,
    ModeSpecificEncoder,
    NumericalEncoder,
    _to_py,
)

_NS_PER_S = 1_000_000_000
#: a numerical column with at most this many distinct values decodes onto them (its value grid)
MAX_GRID = 1000
#: the most decimals a float column is rounded to after decoding
MAX_DECIMALS = 6


def value_grid(finite: np.ndarray) -> tuple[list[float] | None, int | None]:
    """``(grid, decimals)`` of a column's finite values: the sorted distinct values when there are at
    most :data:`MAX_GRID` of them (``decimals`` then ``None``), else ``(None, d)`` with ``d`` the fewest
    decimals (≤ :data:`MAX_DECIMALS`) that represent every value, or ``(None, None)``."""
    distinct = np.unique(finite)
    if 0 < distinct.size <= MAX_GRID:
        return distinct.tolist(), None
    for d in range(MAX_DECIMALS + 1):
        if np.allclose(np.round(finite, d), finite, rtol=0.0, atol=1e-9 * max(1.0, 10.0**-d)):
            return None, d
    return None, None


def snap(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each value of ``x`` moved to the nearest value of the sorted ``grid`` (ties to the lower one)."""
    if grid.size == 1:
        return np.full_like(x, grid[0])
    right = np.clip(np.searchsorted(grid, x), 1, grid.size - 1)
    left = right - 1
    pick = np.where(np.abs(x - grid[left]) <= np.abs(grid[right] - x), left, right)
    return grid[pick]


@dataclass(frozen=True)
class ColumnSpan:
    """Where one encoded block of a column lies in the matrix.

    ``role`` is ``"value"``, ``"mode"`` (the mode one-hot of a mode-specific normalized column) or
    ``"missing"`` (the null indicator of a numerical/datetime column);
    ``kind`` is ``"continuous"`` or ``"discrete"``; columns ``[start, end)`` of the matrix.
    """

    column: str
    role: str
    kind: str
    start: int
    end: int


def _categorical_codes(s: pd.Series) -> tuple[np.ndarray, list[Any]]:
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    cats = [None if (not isinstance(u, str) and pd.isna(u)) else _to_py(u) for u in uniques]
    return codes.astype(np.int64), cats


#: the other bucket of a non-text column built from a DP domain (decoded as missing, as the domain's is)
OTHER_CODE = "__other__"


def _restore_dtype(values: pd.Series, dtype: str) -> pd.Series:
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        if dtype.startswith(("int", "uint")):
            try:
                return values.astype("Int64")
            except (TypeError, ValueError):
                pass
        return values


class TableTransformer:
    """Reversible DataFrame ↔ float32 matrix transform (see the module docstring).

    Parameters
    ----------
    numerical: encoding of numerical/datetime values, ``"normal_score"``, ``"standard"`` or
        ``"mode_specific"``.
    categorical: encoding of categorical/boolean values and missing indicators, ``"frequency"`` or
        ``"onehot"``.
    max_quantiles: quantiles kept per numerical column for ``normal_score``.
    max_modes: mixture components per numerical column for ``mode_specific``.
    mixture_rows: subsample size of each column's mixture fit for ``mode_specific``.
    seed: seed of every random step (mixture fits, mode draws, uniform draws inside category intervals
        of the ``frequency`` encoding); the same seed gives the same matrix.

    Attributes (after ``fit``)
    --------------------------
    spans_: list of :class:`ColumnSpan`, in matrix order.
    output_dim_: ``D``, the number of matrix columns.
    """

    def __init__(
        self,
        numerical: str = "normal_score",
        categorical: str = "frequency",
        max_quantiles: int = 1000,
        seed: int = 0,
        max_modes: int = 10,
        mixture_rows: int = 5000,
    ) -> None:
        self.numerical = numerical
        self.categorical = categorical
        self.max_quantiles = max_quantiles
        self.seed = seed
        self.max_modes = max_modes
        self.mixture_rows = mixture_rows

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, metadata: Metadata) -> TableTransformer:
        """Learn every column's encoder from ``df`` (validated against ``metadata``)."""
        metadata.validate(df)
        self.columns_: dict[str, dict[str, Any]] = {}
        self.order_ = [str(c) for c in df.columns]
        # columns are independent; mixture fits release the GIL inside NumPy/BLAS, so threads help.
        # Warning filters are process-wide: set them here, around all the threads, not inside each one.
        with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = pool.map(
                lambda item: self._fit_column(df[item[1]], metadata[item[1]], item[0]),
                enumerate(self.order_),
            )
            for name, col in zip(self.order_, fitted, strict=True):
                self.columns_[name] = col
        self._build_spans()
        return self

    def _numeric_values(self, s: pd.Series, col: dict[str, Any]) -> np.ndarray:
        if col["sdtype"] == "datetime":
            return datetime_seconds(s, col.get("format"))
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)

    def _value_encoder(self, position: int):
        if self.numerical == "mode_specific":
            return ModeSpecificEncoder(self.max_modes, max_rows=self.mixture_rows, seed=self.seed + position)
        return NumericalEncoder(self.numerical, self.max_quantiles)

    def condition_value(self, column: str, value: Any) -> float:
        """The number a condition ``column == value`` on a numerical/datetime column stands for
        (datetimes in seconds since 1970-01-01).

        Raises
        ------
        ConditionError
            ``value`` is not a value of that type, lies outside the real ``[min, max]``, or is not on
            the column's value grid.
        """
        col = self.columns_[column]
        x = float(self._numeric_values(pd.Series([value]), col)[0])
        if not np.isfinite(x):
            raise ConditionError(f"column {column!r}: {value!r} is not a {col['sdtype']} value")
        if not col["min"] <= x <= col["max"]:
            lo, hi = self.inverse_value(column, col["min"]), self.inverse_value(column, col["max"])
            raise ConditionError(f"column {column!r}: {value!r} is outside the real range [{lo}, {hi}]")
        grid = col.get("grid")
        if grid is not None and not np.isclose(snap(np.array([x]), np.asarray(grid))[0], x, rtol=1e-12):
            near = snap(np.array([x]), np.asarray(grid))[0]
            raise ConditionError(
                f"column {column!r}: {value!r} is not one of its {len(grid)} values; the nearest is "
                f"{self.inverse_value(column, near)}"
            )
        return x

    def condition_targets(self, column: str, value: Any) -> dict[str, int | float]:
        """What a condition ``column == value`` fixes, per span role: ``{"value": category index}`` for
        a categorical/boolean column; ``{"value": x}`` (the number, datetimes in seconds) and, when the
        column has missing values, ``{"missing": index of the not-missing category}`` for a
        numerical/datetime one; ``{"missing": index of the missing category}`` for a missing value.

        Raises
        ------
        ConditionError
            An id column, an unseen category, a numerical value that is not of the type, outside the
            real range or off the value grid, or a missing value asked of a column that has none.
        """
        self._check()
        col = self.columns_[column]
        missing = value is None or (not isinstance(value, str) and pd.isna(value))
        if col["sdtype"] in ("id", "pii"):
            what = "an id" if col["sdtype"] == "id" else "a personal-identifier"
            raise ConditionError(f"column {column!r} is {what} column; its values are generated fresh")
        if col["sdtype"] not in ("numerical", "datetime"):
            return {"value": col["value"].require(None if missing else value, column)}
        if missing:
            if col.get("null") is None:
                raise ConditionError(f"column {column!r} has no missing values; cannot condition on one")
            return {"missing": col["null"].require(True, column)}
        out: dict[str, int | float] = {"value": self.condition_value(column, value)}
        if col.get("null") is not None:
            out["missing"] = col["null"].require(False, column)
        return out

    def inverse_value(self, column: str, x: float) -> Any:
        """A number of :meth:`condition_value`'s scale shown as the column's value (for messages)."""
        col = self.columns_[column]
        one = self._restore_numeric(col, np.array([x]), np.zeros(1, dtype=bool))
        return one.iloc[0]

    def _fit_column(self, s: pd.Series, meta, position: int) -> dict[str, Any]:
        col: dict[str, Any] = {"sdtype": meta.sdtype, "dtype": str(s.dtype), "format": meta.format}
        if meta.sdtype == "pii":
            return col
        if meta.sdtype == "id":
            numbers = pd.to_numeric(s, errors="coerce")
            if numbers.notna().all() and pd.api.types.is_numeric_dtype(s):
                col["id"] = {"kind": "int", "start": int(numbers.max()) + 1}
            else:
                col["id"] = {"kind": "str", "prefix": f"{s.name}-"}
            return col
        if meta.sdtype in ("numerical", "datetime"):
            x = self._numeric_values(s, col)
            null = ~np.isfinite(x)
            finite = x[~null]
            col["int"] = meta.representation == "int" or meta.sdtype == "datetime"
            col["min"] = float(finite.min()) if finite.size else 0.0
            col["max"] = float(finite.max()) if finite.size else 0.0
            col["fill"] = float(np.median(finite)) if finite.size else 0.0
            if meta.sdtype == "numerical":
                col["grid"], col["decimals"] = value_grid(finite)
            if meta.sdtype == "datetime":
                dt = parse_datetimes(s.dropna(), col["format"])
                col["date_only"] = bool((dt == dt.dt.normalize()).all())
            col["value"] = self._value_encoder(position).fit(finite)
            col["null"] = None
            if null.any():
                col["null"] = CategoricalEncoder(self.categorical).fit(null.astype(np.int64), [False, True])
            return col
        codes, cats = _categorical_codes(s)
        col["value"] = CategoricalEncoder(self.categorical).fit(codes, cats)
        return col

    def _build_spans(self) -> None:
        spans, start = [], 0
        for name in self.order_:
            col = self.columns_[name]
            if col["sdtype"] in ("id", "pii"):
                continue
            kind = "continuous" if col["sdtype"] in ("numerical", "datetime") else "discrete"
            width = col["value"].width
            if isinstance(col["value"], ModeSpecificEncoder):
                spans.append(ColumnSpan(name, "value", kind, start, start + 1))
                spans.append(ColumnSpan(name, "mode", "discrete", start + 1, start + width))
            else:
                spans.append(ColumnSpan(name, "value", kind, start, start + width))
            start += width
            if col.get("null") is not None:
                spans.append(ColumnSpan(name, "missing", "discrete", start, start + col["null"].width))
                start += col["null"].width
        self.spans_ = spans
        self.output_dim_ = start

    def _check(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("TableTransformer is not fitted; call fit(df, metadata) first")

    # ------------------------------------------------------------------ transform
    #: rows per block of :meth:`transform`: each block draws its random numbers from its own generator,
    #: seeded by ``(seed, block)``, so that a table encoded in pieces that start on block boundaries gives
    #: the same matrix as the table encoded whole (the memory-mapped batch source of the neural models
    #: encodes a streamed table that way); it also bounds the float64 temporaries (mixture posteriors)
    BLOCK_ROWS = 65_536

    def transform(self, df: pd.DataFrame, first_row: int = 0) -> np.ndarray:
        """Encode ``df`` (same columns as at fit) into a float32 matrix ``(len(df), output_dim_)``.

        Categories unseen at fit are encoded as the most frequent category. The random draws (modes of
        ``mode_specific``, positions inside category intervals of ``frequency``) come from one generator
        per :data:`BLOCK_ROWS` rows, seeded by ``(seed, block)``.

        Parameters
        ----------
        df : DataFrame
            ``(N, columns)``.
        first_row : int
            Position of ``df``'s first row in the whole table, a multiple of :data:`BLOCK_ROWS`: encoding a
            table piece by piece, each piece given its position, gives the matrix of the whole table.

        Raises
        ------
        ValueError
            ``first_row`` is not a non-negative multiple of :data:`BLOCK_ROWS`.
        """
        self._check()
        if first_row < 0 or first_row % self.BLOCK_ROWS:
            raise ValueError(f"first_row ({first_row}) must be a non-negative multiple of {self.BLOCK_ROWS}")
        out = np.zeros((len(df), self.output_dim_), dtype=np.float32)
        for start in range(0, len(df), self.BLOCK_ROWS):
            block = (first_row + start) // self.BLOCK_ROWS
            part = df.iloc[start : start + self.BLOCK_ROWS]
            out[start : start + len(part)] = self._transform_block(
                part, np.random.default_rng([int(self.seed), block])
            )
        return out

    def _transform_block(self, df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        out = np.zeros((len(df), self.output_dim_), dtype=np.float32)
        for span in self.spans_:
            col = self.columns_[span.column]
            s = df[span.column]
            if span.role == "mode":
                continue  # written with its column's α
            if span.kind == "continuous":
                x = self._numeric_values(s, col)
                x = np.where(np.isfinite(x), x, col["fill"])
                enc = col["value"]
                if isinstance(enc, ModeSpecificEncoder):
                    out[:, span.start : span.start + enc.width] = enc.transform(x, rng)
                else:
                    out[:, span.start : span.end] = enc.transform(x)
            elif span.role == "missing":
                null = ~np.isfinite(self._numeric_values(s, col))
                # the indicator's categories are in frequency order: map False/True to their positions
                where = col["null"].index_of([False, True])
                out[:, span.start : span.end] = col["null"].transform_index(where[null.astype(np.int64)], rng)
            else:
                values = [None if (not isinstance(v, str) and pd.isna(v)) else v for v in s.tolist()]
                idx = col["value"].index_of(values)
                unseen = col["value"].index_of([col["unseen"]])[0] if "unseen" in col else 0
                idx[idx < 0] = unseen
                out[:, span.start : span.end] = col["value"].transform_index(idx, rng)
        return out

    @classmethod
    def from_domain(
        cls, domain: Domain, metadata: Metadata, order: list[str], seed: int = 0
    ) -> TableTransformer:
        """A transformer built from a public :class:`~simulacra.transform.domain.Domain` alone, reading no
        data (for differentially private training): numbers scaled to ``[−1, 1]`` over the domain's
        range (``minmax``), categories one-hot over the domain's categories plus its *other* bucket and
        missing, every numerical column with a missing indicator; values outside the domain are
        clipped or become *other*. ``order`` is the table's column order (ids and identifiers take no
        span, as in :meth:`fit`)."""
        tt = cls(numerical="minmax", categorical="onehot", seed=seed)
        tt.order_ = list(order)
        tt.columns_ = {}
        for name in order:
            meta = metadata[name]
            d = domain.columns.get(name)
            if d is None:
                col: dict[str, Any] = {"sdtype": meta.sdtype, "dtype": "object", "format": meta.format}
                if meta.sdtype == "id":
                    col["id"] = {
                        "kind": "int" if meta.representation == "int" else "str",
                        "start": 1,
                        "prefix": f"{name}-",
                    }
                tt.columns_[name] = col
                continue
            col = {"sdtype": d.sdtype, "dtype": d.dtype, "format": d.format}
            if d.kind == "numeric":
                col |= {"int": d.integer, "min": d.lo, "max": d.hi, "fill": (d.lo + d.hi) / 2, "grid": None}
                col["decimals"] = None
                col["date_only"] = False
                col["value"] = NumericalEncoder("minmax").fit(np.array([d.lo, d.hi]))
                col["null"] = CategoricalEncoder("onehot").fit(np.array([0, 1]), [False, True])
            else:
                text = d.dtype in ("object", "str", "string") or d.dtype.startswith("string")
                other = OTHER if text else OTHER_CODE
                cats = [*d.categories, other, None]
                col["value"] = CategoricalEncoder("onehot").fit(np.arange(len(cats)), cats)
                col["unseen"] = other
            tt.columns_[name] = col
        tt._build_spans()
        return tt

    def fit_transform(self, df: pd.DataFrame, metadata: Metadata) -> np.ndarray:
        return self.fit(df, metadata).transform(df)

    # ------------------------------------------------------------------ inverse
    def inverse_transform(self, matrix: np.ndarray) -> pd.DataFrame:
        """Decode a matrix ``(N, output_dim_)`` back into a DataFrame with the original columns/dtypes."""
        self._check()
        matrix = np.asarray(matrix)
        n = matrix.shape[0]
        by_col: dict[str, dict[str, ColumnSpan]] = {}
        for span in self.spans_:
            by_col.setdefault(span.column, {})[span.role] = span
        data = {}
        for name in self.order_:
            col = self.columns_[name]
            spans = by_col.get(name, {})
            if col["sdtype"] == "id":
                data[name] = self._fresh_ids(col, n)
            elif col["sdtype"] == "pii":
                data[name] = pd.Series([None] * n, dtype=object)
            elif col["sdtype"] in ("numerical", "datetime"):
                v = spans["value"]
                x = col["value"].inverse(matrix[:, v.start : v.start + col["value"].width])
                x = np.clip(x, col["min"], col["max"])
                if col.get("grid") is not None:
                    x = snap(x, np.asarray(col["grid"], dtype=float))
                elif col["int"]:
                    x = np.round(x)
                elif col.get("decimals") is not None:
                    x = np.round(x, col["decimals"])
                null = np.zeros(n, dtype=bool)
                if "missing" in spans:
                    m = spans["missing"]
                    idx = col["null"].inverse_index(matrix[:, m.start : m.end])
                    null = np.array([bool(col["null"].categories_[i]) for i in idx], dtype=bool)
                data[name] = self._restore_numeric(col, x, null)
            else:
                v = spans["value"]
                idx = col["value"].inverse_index(matrix[:, v.start : v.end])
                cats = np.empty(len(col["value"].categories_), dtype=object)
                cats[:] = col["value"].categories_
                if col.get("unseen") == OTHER_CODE:  # a non-text column's other bucket decodes as missing
                    cats[[c == OTHER_CODE for c in col["value"].categories_]] = None
                data[name] = _restore_dtype(pd.Series(cats[idx], dtype=object), col["dtype"])
        return pd.DataFrame(data, columns=self.order_)

    @staticmethod
    def _fresh_ids(col: dict[str, Any], n: int) -> pd.Series:
        spec = col["id"]
        if spec["kind"] == "int":
            return pd.Series(np.arange(spec["start"], spec["start"] + n, dtype=np.int64))
        return pd.Series([f"{spec['prefix']}{i:06d}" for i in range(1, n + 1)], dtype=object).astype(
            col["dtype"]
        )

    @staticmethod
    def _restore_numeric(col: dict[str, Any], x: np.ndarray, null: np.ndarray) -> pd.Series:
        if col["sdtype"] == "datetime":
            ns = np.round(x * _NS_PER_S).astype("int64")
            dt = pd.Series(pd.to_datetime(ns, unit="ns"))
            dt[null] = pd.NaT
            if col["dtype"].startswith("datetime64"):
                target = pd.api.types.pandas_dtype(col["dtype"])
                if getattr(target, "tz", None) is not None:
                    return dt.dt.tz_localize("UTC").dt.tz_convert(target.tz)
                return dt.astype(target)
            fmt = (
                col["format"]
                if col["format"] not in (None, "mixed")
                else ("%Y-%m-%d" if col.get("date_only") else "%Y-%m-%d %H:%M:%S")
            )
            text = dt.dt.strftime(fmt)
            return _restore_dtype(text.astype(object).where(~null, None), col["dtype"])
        s = pd.Series(x)
        s[null] = np.nan
        dtype = col["dtype"]
        try:
            target = pd.api.types.pandas_dtype(dtype)
            numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
        except TypeError:
            numeric = False
        if not numeric:
            dtype = "int64" if col["int"] else "float64"
        if null.any() and dtype.startswith(("int", "uint")):
            dtype = "float64"
        return _restore_dtype(s, dtype)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        """A JSON-able dict holding everything ``from_state`` needs."""
        self._check()
        cols = {}
        for name, col in self.columns_.items():
            c = {k: v for k, v in col.items() if k not in ("value", "null")}
            if "value" in col:
                c["value"] = col["value"].to_state()
            if col.get("null") is not None:
                c["null"] = col["null"].to_state()
            cols[name] = c
        return {
            "params": {
                "numerical": self.numerical,
                "categorical": self.categorical,
                "max_quantiles": self.max_quantiles,
                "seed": self.seed,
                "max_modes": self.max_modes,
                "mixture_rows": self.mixture_rows,
            },
            "order": self.order_,
            "columns": cols,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableTransformer:
        tt = cls(**state["params"])
        tt.order_ = list(state["order"])
        if len(set(tt.order_)) != len(tt.order_) or set(tt.order_) != set(state["columns"]):
            raise ValueError("the column order repeats a column or differs from the columns")
        tt.columns_ = {}
        for name, c in state["columns"].items():
            col = dict(c)
            if "value" in c:
                if c["sdtype"] not in ("numerical", "datetime"):
                    enc = CategoricalEncoder
                elif c["value"]["method"] == "mode_specific":
                    enc = ModeSpecificEncoder
                else:
                    enc = NumericalEncoder
                col["value"] = enc.from_state(c["value"])
            if c.get("null") is not None:
                col["null"] = CategoricalEncoder.from_state(c["null"])
            elif c["sdtype"] in ("numerical", "datetime"):
                col["null"] = None
            tt.columns_[name] = col
        tt._build_spans()
        return tt
