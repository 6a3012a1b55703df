"""Re-identification risks: singling out, linkability and attribute inference, against a control set.

Giomi, Boenisch, Wehmeyer & Tasnádi 2023, "A Unified Framework for Quantifying Privacy Risk in
Synthetic Data" (PoPETs), the method of the *Anonymeter* package — the three criteria of the Article 29
Working Party's opinion on anonymisation (WP216, 2014), which the French data-protection authority (CNIL)
reviewed as a way to assess synthetic data. Each criterion is an attack that an adversary holding the
synthetic rows runs against real records:

* **Singling out** (Cohen & Nissim 2020, "Towards formalizing the GDPR's notion of singling out",
  PNAS): the attacker writes predicates that match exactly one synthetic row — from rare values (the
  *univariate* attack: a value seen once, the column's minimum or maximum, a single missing value) or
  from the values of a synthetic row in ``n_cols`` random columns (the *multivariate* attack:
  ``column == value`` for categories, ``column ≥ value`` above the column's median and ``≤`` below it
  for numbers) — and succeeds when a predicate matches exactly one real record.
* **Linkability**: the real records' columns are split into two halves (two datasets an attacker could
  hold); each half of a target record is matched to its nearest synthetic row (Gower distance); the
  attack succeeds when both halves point to the same synthetic row, linking the two datasets.
* **Attribute inference**: the attacker knows every column of a target but one, the *secret*, and
  guesses it as the secret of the nearest synthetic row; a guess is right when it equals the secret
  (categories) or lies within 5 % of it (numbers). Every column is tried as the secret in turn; the
  most exposed column is chosen on half of the attacks and its risk measured on the other half.

Each attack runs against training records (success rate ``r_train``) and against a **control** set of
real records the generator never saw (``r_control``): what the attack achieves on the control set is
what the synthetic rows reveal about the *population*, which is their purpose. The privacy risk is the
excess on the training records, ``risk = (r_train − r_control) / (1 − r_control)``, clipped to [0, 1];
rates are Wilson score estimates (Wilson 1927) and the 95 % interval propagates both rates' errors, as
Anonymeter does. A random-guessing *baseline* attack checks that each attack beats chance (if it does
not, its risk says nothing).

Where this differs from the package: the package pins NumPy below 1.27 (2023), which would downgrade
every user's scientific stack, so the evaluators are written here, on simulacra's own Gower neighbour
search (:func:`~simulacra.evaluate.privacy.gower_neighbors`). As in the package, every training row
is attacked, the singling-out success on the control set is corrected for the two sets' sizes by the
package's fitted model of how singling out depends on a table's size (Cohen & Nissim's
``P(w, n) = n·w·(1 − w)^(n−1)`` integrated over query weights), and rates divide by the queries actually
found, not the number asked for (the package's 2024 fix); Gower distances scale numbers by the real training range and count a missing value against a present
one as 1 (the package counts two missing values as different); numerical secrets are judged with the
package's 5 % tolerance relative to the true value (its ``regression`` mode); the headline inference
risk is the most exposed column's, chosen and measured on separate halves of the attacks (the package
reports each column and leaves the choice to the user). ``benchmarks/
anonymeter_crosscheck.py`` runs both on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from simulacra.evaluate._features import FeatureEncoder, label_values, numeric_values
from simulacra.evaluate.privacy import gower_neighbors
from simulacra.metadata import NOT_LEARNED, Metadata

#: attacks per criterion (Anonymeter's default is 500; 1,000 halves the width of the intervals' share
#: that comes from the attack count)
N_ATTACKS = 1_000
#: the attacks :func:`reidentification_risks` runs, in its result's order
ATTACKS = ("singling_out_univariate", "singling_out_multivariate", "linkability", "inference")
#: relative tolerance of a numerical guess in the inference attack (Anonymeter's)
TOLERANCE = 0.05
CONFIDENCE = 0.95


# ---------------------------------------------------------------------------------------------- rates
@dataclass(frozen=True)
class Rate:
    """A Wilson score estimate of a success rate: ``value`` and its symmetric ``error`` at 95 %."""

    value: float
    error: float

    @classmethod
    def of(cls, successes: float, attacks: int, confidence: float = CONFIDENCE) -> Rate:
        """Wilson (1927) score estimate of ``successes`` out of ``attacks`` Bernoulli trials."""
        z = float(norm.ppf(0.5 * (1.0 + confidence)))
        n = max(int(attacks), 1)
        var = successes * (n - successes) / n
        value = (successes + 0.5 * z * z) / (n + z * z)
        error = z / (n + z * z) * math.sqrt(max(var, 0.0) + 0.25 * z * z)
        return cls(value, error)


def _residual(train: Rate, control: Rate) -> tuple[float, float]:
    """The unclipped risk ``(r_train − r_control) / (1 − r_control)`` (``r_control < 1``) and its
    95 % error, propagated from both rates to first order."""
    value = (train.value - control.value) / (1.0 - control.value)
    d_train = 1.0 / abs(1.0 - control.value)
    d_control = (train.value - 1.0) / (1.0 - control.value) ** 2
    return value, math.hypot(train.error * d_train, control.error * d_control)


def risk(train: Rate, control: Rate) -> dict[str, Any]:
    """``(r_train − r_control) / (1 − r_control)`` with its error propagated from both rates, clipped
    to [0, 1]: ``{"risk", "ci": [lo, hi]}``."""
    if control.value >= 1.0:
        return {"risk": 0.0, "ci": [0.0, 1.0]}
    value, error = _residual(train, control)
    clip = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    return {"risk": clip(value), "ci": [clip(value - error), clip(value + error)]}


def _result(
    successes: float,
    controls: float,
    baseline: float,
    attacks: int,
    baseline_attacks: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Rates and risk of ``successes`` (training) and ``controls`` (control) out of the ``attacks``
    actually made — never out of the number asked for — and of the random baseline out of its own
    ``baseline_attacks`` (default ``attacks``). With no attack made, nothing was measured: risk 0 over
    the interval [0, 1], ``beats_baseline`` false."""
    baseline_attacks = attacks if baseline_attacks is None else baseline_attacks
    if attacks <= 0:
        return {
            "risk": 0.0,
            "ci": [0.0, 1.0],
            "attack_rate": 0.0,
            "control_rate": 0.0,
            "baseline_rate": 0.0,
            "beats_baseline": False,
            "attacks": 0,
            **extra,
        }
    train, control, guess = (
        Rate.of(successes, attacks),
        Rate.of(controls, attacks),
        Rate.of(baseline, baseline_attacks),
    )
    return {
        **risk(train, control),
        "attack_rate": train.value,
        "control_rate": control.value,
        "baseline_rate": guess.value,
        "beats_baseline": bool(train.value > guess.value),
        "attacks": int(attacks),
        **extra,
    }


# ---------------------------------------------------------------------------------------------- data
class _Coded:
    """The compared columns of several tables, coded alike: numbers as float64 (missing NaN),
    categories as int64 codes over the union of the tables' labels (missing is a label)."""

    def __init__(self, metadata: Metadata, tables: list[pd.DataFrame]) -> None:
        self.columns = [c for c in metadata.names if metadata[c].sdtype not in NOT_LEARNED]
        self.numeric = [metadata[c].sdtype in ("numerical", "datetime") for c in self.columns]
        self.values: list[np.ndarray] = []  # per table: (N, C) float64; categories as codes
        coded: list[list[np.ndarray]] = [[] for _ in tables]
        for c, is_num in zip(self.columns, self.numeric, strict=True):
            m = metadata[c]
            if is_num:
                for out, df in zip(coded, tables, strict=True):
                    out.append(numeric_values(df[c], m.sdtype, m.format))
            else:
                labels = [label_values(df[c]) for df in tables]
                _, codes = np.unique(np.concatenate(labels), return_inverse=True)
                bounds = np.cumsum([0] + [len(x) for x in labels])
                for i, out in enumerate(coded):
                    out.append(codes[bounds[i] : bounds[i + 1]].astype(np.float64))
        for out, df in zip(coded, tables, strict=True):
            self.values.append(np.column_stack(out) if out else np.zeros((len(df), 0)))


def _unique_rows(x: np.ndarray) -> np.ndarray:
    """Distinct rows (NaN equal to NaN), as the package deduplicates its tables."""
    if not len(x):
        return x
    return np.unique(np.where(np.isnan(x), np.inf, x), axis=0)


# -------------------------------------------------------------------------------------- singling out
#: predicate operators, by code; a query is a conjunction of ``w`` predicates stored as three ``(Q, w)``
#: arrays — column positions, operator codes, values — padded with ``ANY`` (always true)
ANY, NULL, NOTNULL, EQ, NE, LE, GE, LT, GT = range(9)


@dataclass
class Queries:
    """``Q`` conjunctive queries over coded rows (missing stored as +inf): ``cols``, ``ops`` (codes
    above) and ``vals``, each ``(Q, w)``."""

    cols: np.ndarray
    ops: np.ndarray
    vals: np.ndarray

    def __len__(self) -> int:
        return len(self.cols)

    def take(self, keep: np.ndarray) -> Queries:
        return Queries(self.cols[keep], self.ops[keep], self.vals[keep])

    def unique(self) -> Queries:
        """The distinct queries, first occurrence first."""
        if not len(self):
            return self
        key = np.concatenate([self.cols, self.ops, self.vals], axis=1)
        _, first = np.unique(key, axis=0, return_index=True)
        return self.take(np.sort(first))

    def counts(self, x: np.ndarray, block: int = 256) -> np.ndarray:
        """``(Q,)`` int64: the rows of ``x`` ``(N, C)`` each query matches, ``block`` queries at a time
        (a ``(N, block)`` mask per predicate)."""
        out = np.zeros(len(self), dtype=np.int64)
        for start in range(0, len(self), block):
            cols, ops, vals = (a[start : start + block] for a in (self.cols, self.ops, self.vals))
            keep = np.ones((len(x), len(cols)), dtype=bool)
            for k in range(cols.shape[1]):
                v = x[:, cols[:, k]]  # (N, b)
                value = vals[None, :, k]
                present = np.isfinite(v)
                for op, test in (
                    (NULL, lambda: ~present),  # noqa: B023
                    (NOTNULL, lambda: present),  # noqa: B023
                    (EQ, lambda: v == value),  # noqa: B023
                    (NE, lambda: present & (v != value)),  # noqa: B023
                    (LE, lambda: present & (v <= value)),  # noqa: B023
                    (GE, lambda: present & (v >= value)),  # noqa: B023
                    (LT, lambda: present & (v < value)),  # noqa: B023
                    (GT, lambda: present & (v > value)),  # noqa: B023
                ):
                    sel = ops[:, k] == op
                    if sel.any():
                        keep[:, sel] &= test()[:, sel]
            out[start : start + block] = keep.sum(0)
        return out

    @classmethod
    def concat(cls, parts: list[Queries], width: int) -> Queries:
        if not parts:
            return cls(np.zeros((0, width), np.int64), np.zeros((0, width), np.int64), np.zeros((0, width)))
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("cols", "ops", "vals")))


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
#: bytes of prefix bitsets a :class:`_BitIndex` may hold; beyond it the synthetic rows are subsampled
BITSET_BYTES = 2**28


class _BitIndex:
    """Exact match counts of many conjunctive queries over one table ``x`` ``(N, C)`` (missing as +inf),
    fast: each predicate is a bitset of rows (``N/8`` bytes), a query is the AND of its predicates' bitsets,
    and its count a popcount — the multivariate singling-out attack tries ~10⁵ queries.

    A numerical column keeps the bitsets of every prefix of its rows sorted by value (``N + 1`` of them):
    ``x ≤ v`` is the prefix of the values up to ``v``, ``x ≥ v`` the present rows outside the prefix
    below ``v``; a categorical column keeps one bitset per code.
    """

    def __init__(self, x: np.ndarray, numeric: list[bool]) -> None:
        self.x = x
        n = len(x)
        self.present = [np.packbits(np.isfinite(c)) for c in x.T]
        self.tables: list[tuple[np.ndarray, np.ndarray]] = []  # per column: (sorted values, bitsets)
        for c, is_num in zip(x.T, numeric, strict=True):
            finite = np.isfinite(c)
            if is_num:
                order = np.argsort(np.where(finite, c, np.inf), kind="stable")
                rank = np.empty(n, dtype=np.int64)
                rank[order] = np.arange(n)
                rank[~finite] = n + 1  # never inside a prefix
                keys = np.sort(c[finite])
                bits = np.concatenate(
                    [
                        np.packbits(
                            rank[None, :] < np.arange(k, min(k + 512, keys.size + 1))[:, None], axis=1
                        )
                        for k in range(0, keys.size + 1, 512)
                    ]
                )
            else:
                keys = np.unique(c[finite])
                bits = np.packbits(c[None, :] == keys[:, None], axis=1)
            self.tables.append((keys, bits))

    def _bits(self, col: int, op: int, values: np.ndarray) -> np.ndarray:
        """``(b, N/8)`` bitsets of predicate ``op`` on column ``col`` for each of ``values``."""
        keys, bits = self.tables[col]
        present = self.present[col][None, :]
        if op == ANY:
            return np.full((len(values), bits.shape[1]), 255, dtype=np.uint8)
        if op in (NULL, NOTNULL):
            return np.repeat(present if op == NOTNULL else ~present, len(values), axis=0)
        if keys.size and bits.shape[0] == keys.size + 1:  # numerical: prefix bitsets
            left = bits[np.searchsorted(keys, values, side="left")]  # x < v
            right = bits[np.searchsorted(keys, values, side="right")]  # x ≤ v
            return {
                EQ: right & ~left,
                NE: present & ~(right & ~left),
                LE: right,
                LT: left,
                GE: present & ~left,
                GT: present & ~right,
            }[op]
        pos = np.clip(np.searchsorted(keys, values), 0, max(keys.size - 1, 0))
        hit = bits[pos] if keys.size else np.zeros((len(values), bits.shape[1]), np.uint8)
        hit = np.where((keys[pos] == values)[:, None] if keys.size else False, hit, 0).astype(np.uint8)
        return hit if op == EQ else present & ~hit

    def counts(self, queries: Queries, block: int = 2_048) -> np.ndarray:
        """``(Q,)`` rows matched by each query (as :meth:`Queries.counts`)."""
        out = np.zeros(len(queries), dtype=np.int64)
        for start in range(0, len(queries), block):
            cols, ops, vals = (a[start : start + block] for a in (queries.cols, queries.ops, queries.vals))
            acc = None
            for k in range(cols.shape[1]):
                part = np.empty((len(cols), self.present[0].size), dtype=np.uint8)
                for col in np.unique(cols[:, k]):
                    for op in np.unique(ops[cols[:, k] == col, k]):
                        sel = (cols[:, k] == col) & (ops[:, k] == op)
                        part[sel] = self._bits(int(col), int(op), vals[sel, k])
                acc = part if acc is None else acc & part
            out[start : start + block] = _POPCOUNT[acc].sum(1)
        return out


def _univariate_queries(syn: np.ndarray, numeric: list[bool]) -> Queries:
    """Rare-value queries: a single missing value, each numerical column's minimum and maximum, every
    value seen once."""
    cols, ops, vals = [], [], []
    for j, is_num in enumerate(numeric):
        col = syn[:, j]
        present = np.isfinite(col)
        if (~present).sum() == 1:
            cols.append(j), ops.append(NULL), vals.append(0.0)
        if is_num and present.any():
            cols += [j, j]
            ops += [LE, GE]
            vals += [float(col[present].min()), float(col[present].max())]
        values, counts = np.unique(col[present], return_counts=True)
        once = values[counts == 1]
        cols += [j] * len(once)
        ops += [EQ] * len(once)
        vals += once.tolist()
    return Queries(
        np.array(cols, np.int64)[:, None], np.array(ops, np.int64)[:, None], np.array(vals)[:, None]
    )


def _record_queries(
    syn: np.ndarray, numeric: np.ndarray, medians: np.ndarray, n_cols: int, count: int, rng
) -> Queries:
    """``count`` queries each built from a random synthetic row's values in ``n_cols`` random columns:
    missing → ``null``; a category → ``==``; a number → ``≥`` above the column's median, else ``≤``."""
    rows = rng.integers(0, len(syn), count)
    cols = np.sort(np.argsort(rng.random((count, syn.shape[1])), axis=1)[:, :n_cols], axis=1)
    vals = syn[rows[:, None], cols]
    ops = np.where(numeric[cols], np.where(vals > medians[cols], GE, LE), EQ)
    ops = np.where(np.isfinite(vals), ops, NULL)
    return Queries(cols, ops, np.where(np.isfinite(vals), vals, 0.0))


def _random_queries(syn: np.ndarray, numeric: np.ndarray, n_cols: int, count: int, rng) -> Queries:
    """The baseline attacker's queries: random columns, values seen in the synthetic rows, random
    operators (``==, !=, <, >, ≤, ≥`` for numbers, ``==, !=`` otherwise)."""
    cols = np.sort(np.argsort(rng.random((count, syn.shape[1])), axis=1)[:, :n_cols], axis=1)
    vals = syn[rng.integers(0, len(syn), cols.shape), cols]
    ops = np.where(
        numeric[cols],
        np.array([EQ, NE, LT, GT, LE, GE])[rng.integers(0, 6, cols.shape)],
        np.array([EQ, NE])[rng.integers(0, 2, cols.shape)],
    )
    missing = ~np.isfinite(vals)
    ops = np.where(missing, np.where(ops == EQ, NULL, NOTNULL), ops)
    return Queries(cols, ops, np.where(missing, 0.0, vals))


def singling_out(
    ori: np.ndarray,
    syn: np.ndarray,
    control: np.ndarray,
    numeric: list[bool],
    *,
    mode: str,
    n_attacks: int,
    n_cols: int,
    rng: np.random.Generator,
    max_attempts: int = 10_000_000,
) -> dict[str, Any]:
    """The singling-out attack (module docstring), ``mode`` ``"univariate"`` or ``"multivariate"``, on
    coded rows (missing as +inf; duplicates are removed first). Queries are kept when they match exactly
    one synthetic row, up to ``n_attacks`` distinct ones (multivariate: drawn in batches until then, or
    until ``max_attempts`` queries were tried)."""
    ori, syn, control = (_unique_rows(a) for a in (ori, syn, control))
    is_num = np.asarray(numeric, dtype=bool)
    if mode == "univariate":
        queries = _univariate_queries(syn, numeric)
        queries = queries.take(rng.permutation(len(queries)))
        queries = queries.take(queries.counts(syn) == 1).unique()
        queries = queries.take(np.arange(min(len(queries), n_attacks)))
        width = 1
    else:
        width = min(n_cols, syn.shape[1])
        medians = np.array([np.median(c[np.isfinite(c)]) if np.isfinite(c).any() else 0.0 for c in syn.T])
        rows = min(len(syn), int(np.sqrt(8 * BITSET_BYTES / max(int(is_num.sum()), 1))))
        index = _BitIndex(syn[rng.choice(len(syn), rows, replace=False)] if rows < len(syn) else syn, numeric)
        found, tried = Queries.concat([], width), 0
        while len(found) < n_attacks and tried < max_attempts:
            batch = _record_queries(index.x, is_num, medians, width, 20_000, rng)
            tried += len(batch)
            found = Queries.concat([found, batch.take(index.counts(batch) == 1)], width).unique()
        queries = found.take(np.arange(min(len(found), n_attacks)))
    baseline = _random_queries(syn, is_num, width, n_attacks, rng)
    controls = float((queries.counts(control) == 1).sum())
    correction = 1.0
    if len(queries) and len(control) != len(ori):
        correction = _size_correction(queries, control, len(ori), rng)
    return _result(
        float((queries.counts(ori) == 1).sum()),
        min(controls * correction, float(len(queries))),
        float((baseline.counts(ori) == 1).sum()),
        len(queries),
        len(baseline),
        queries=len(queries),
        requested=int(n_attacks),
        control_size_correction=correction,
        mode=mode,
    )


def _singling_out_integral(n: np.ndarray, w_max: float) -> np.ndarray:
    """``∫₀^w_max n·w·(1 − w)^(n−1) dw``: the chance that a query of weight ``w`` (uniform up to
    ``w_max``) singles out one row of ``n`` (Cohen & Nissim 2020), in closed form."""
    n = np.asarray(n, dtype=float)
    return (1.0 - (n * w_max + 1.0) * (1.0 - w_max) ** n) / (n + 1.0)


def _size_correction(queries: Queries, control: np.ndarray, n_train: int, rng: np.random.Generator) -> float:
    """How many more (or fewer) queries would single out one row of a control set as large as the
    training set: Anonymeter's correction, fitted on the control set itself. The queries are counted on
    subsets of 10 sizes from ``min(1000, |control|)`` to ``|control|`` (5 draws each), the model
    ``c · ∫₀^w P(w, n) dw`` is fitted by least squares, and the ratio of its values at the two sizes
    is returned (1 when the fit fails)."""
    from scipy.optimize import curve_fit

    sizes, hits = [], []
    for size in np.linspace(min(1000, len(control)), len(control), 10).astype(int):
        for _ in range(5):
            rows = control[rng.choice(len(control), size, replace=False)]
            sizes.append(size)
            hits.append(float((queries.counts(rows) == 1).sum()))
    sizes_a, hits_a = np.asarray(sizes, dtype=float), np.asarray(hits)
    w0 = 1.0 / sizes_a.max()
    c0 = max(hits_a.max(), 1.0) / float(_singling_out_integral(sizes_a.max(), w0))

    def model(n, w, c):
        return c * _singling_out_integral(n, w)

    try:
        (w, c), _ = curve_fit(model, sizes_a, hits_a, p0=(w0, c0), bounds=(0, (1, np.inf)))
        ratio = float(model(n_train, w, c) / model(len(control), w, c))
    except (RuntimeError, ValueError, ZeroDivisionError, FloatingPointError):
        return 1.0
    return ratio if np.isfinite(ratio) and ratio > 0 else 1.0


# ---------------------------------------------------------------------------------------- linkability
def linkability(
    metadata: Metadata,
    reference: pd.DataFrame,
    targets: pd.DataFrame,
    controls: pd.DataFrame,
    synthetic: pd.DataFrame,
    halves: tuple[list[str], list[str]],
    *,
    n_neighbors: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The linkability attack (module docstring): ``targets`` (training) and ``controls`` (control)
    rows, each half of ``halves`` matched to its ``n_neighbors`` nearest ``synthetic`` rows."""

    def links(rows: pd.DataFrame) -> int:
        found = []
        for half in halves:
            others = tuple(c for c in metadata.names if c not in half)
            enc = FeatureEncoder(metadata, reference, exclude=others)
            found.append(gower_neighbors(enc, synthetic, rows, k=n_neighbors)[1])
        return int(sum(bool(set(a) & set(b)) for a, b in zip(found[0], found[1], strict=True)))

    n = len(targets)
    k = min(n_neighbors, len(synthetic))
    guess = [rng.choice(len(synthetic), size=(n, k)) for _ in halves]
    baseline = sum(bool(set(a) & set(b)) for a, b in zip(guess[0], guess[1], strict=True))
    return _result(
        float(links(targets)),
        float(links(controls)),
        float(baseline),
        n,
        halves=[list(h) for h in halves],
        n_neighbors=int(n_neighbors),
    )


# ------------------------------------------------------------------------------------------ inference
def _correct(
    guess: pd.Series, secret: pd.Series, numeric: bool, metadata: Metadata, column: str
) -> np.ndarray:
    if numeric:
        m = metadata[column]
        g, s = numeric_values(guess, m.sdtype, m.format), numeric_values(secret, m.sdtype, m.format)
        both_missing = np.isnan(g) & np.isnan(s)
        with np.errstate(invalid="ignore"):
            close = np.abs(g - s) <= TOLERANCE * np.abs(s)
        return both_missing | close
    return label_values(guess) == label_values(secret)


def _inference_hits(
    metadata: Metadata,
    reference: pd.DataFrame,
    targets: pd.DataFrame,
    controls: pd.DataFrame,
    synthetic: pd.DataFrame,
    secret: str,
    *,
    rng: np.random.Generator,
) -> np.ndarray:
    """Right guesses of the attribute-inference attack on ``secret``, one per attack: bool ``(3, n)``,
    rows: on ``targets``, on ``controls`` (``n`` rows each), by the random baseline on ``targets``."""
    numeric = metadata[secret].sdtype in ("numerical", "datetime")
    enc = FeatureEncoder(metadata, reference, exclude=(secret,))

    def right(rows: pd.DataFrame, guesses: pd.Series) -> np.ndarray:
        secrets = rows[secret].reset_index(drop=True)
        return _correct(guesses.reset_index(drop=True), secrets, numeric, metadata, secret)

    def nearest(rows: pd.DataFrame) -> pd.Series:
        return synthetic[secret].iloc[gower_neighbors(enc, synthetic, rows)[1][:, 0]]

    naive = synthetic[secret].iloc[rng.integers(0, len(synthetic), len(targets))]
    return np.stack(
        [right(targets, nearest(targets)), right(controls, nearest(controls)), right(targets, naive)]
    )


def _worst_inference(
    metadata: Metadata,
    reference: pd.DataFrame,
    targets: pd.DataFrame,
    controls: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str],
    *,
    rng: np.random.Generator,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every column's inference risk, and the most exposed column's, without the bias of a maximum.

    The largest of many noisy risks is biased upwards: on Adult, rows drawn from the independent
    marginals (which carry nothing about any person) showed a "worst" risk of 0.17 from 15 columns of
    1,000 attacks each. So the attacks are split in two: the column is chosen on the first half (the
    highest lower end of its interval, unclipped: the strongest evidence of a risk, which passes over
    columns whose control rate is close to 1 and whose risk is therefore mostly noise) and its risk is
    measured on the second half, which played no part in the choice (sample splitting). Each column's
    own risk uses both halves."""
    half = len(targets) // 2
    hits = {
        c: _inference_hits(metadata, reference, targets, controls, synthetic, c, rng=rng) for c in columns
    }

    def result(h: np.ndarray) -> dict[str, Any]:
        s, k, b = (float(x) for x in h.sum(axis=1))
        return _result(s, k, b, h.shape[1])

    def evidence(c: str) -> float:  # the lower end of the first half's interval, unclipped
        s, k, _ = hits[c][:, :half].sum(axis=1)
        train, control = Rate.of(float(s), half), Rate.of(float(k), half)
        if control.value >= 1.0:
            return -math.inf
        value, error = _residual(train, control)
        return value - error

    pick = max(columns, key=evidence)
    worst = {"column": pick, "chosen_on": half, **result(hits[pick][:, half:])}
    return {c: result(h) for c, h in hits.items()}, worst


# ---------------------------------------------------------------------------------------------- all
def reidentification_risks(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    metadata: Metadata,
    *,
    n_attacks: int = N_ATTACKS,
    n_cols: int = 3,
    n_neighbors: int = 1,
    max_synthetic: int = 10_000,
    seed: int = 0,
    attacks: str | Collection[str] = ATTACKS,
) -> dict[str, Any]:
    """Singling-out (univariate and multivariate), linkability and attribute-inference risks of the
    synthetic rows (module docstring), each with its 95 % interval.

    Parameters
    ----------
    real_train : DataFrame
        The rows the generator was fitted on, every one of them (the singling-out control rate is
        corrected for the two sets' sizes, as Anonymeter does).
    synthetic : DataFrame
        The attacker's synthetic rows (at most ``max_synthetic``, drawn with ``seed``).
    real_test : DataFrame
        Real rows from the same population that the generator never saw: the attacks' control set
        (Giomi et al.'s name for it).
    metadata : Metadata
        Column metadata; id, identifier (pii) and text columns are not compared.
    n_attacks : int
        Attacks asked for per criterion, capped by the smaller real set's size; the rates divide by the
        attacks made (singling out: the queries found, reported as ``queries``).
    n_cols : int
        Columns per predicate of the multivariate singling-out attack (the package's default, 3).
    n_neighbors : int
        Synthetic neighbours per half in the linkability attack (the package's default, 1).
    seed : int
        Seed of every draw (rows, queries, column split, baselines). Each attack draws from a stream
        of its own (``SeedSequence(seed).spawn``), so its result does not depend on which others run.
    attacks : str or collection of str
        The attack or attacks to run, from :data:`ATTACKS` (all by default); the others are left out
        of the result.

    Returns
    -------
    dict
        ``{"singling_out_univariate", "singling_out_multivariate", "linkability", "inference":
        {column: result}, "inference_worst"}``; each result ``{"risk", "ci", "attack_rate",
        "control_rate", "baseline_rate", "beats_baseline", "attacks", …}`` (singling out also
        ``queries``, ``requested`` and ``control_size_correction``).

    Raises
    ------
    ValueError
        Fewer than 10 control rows, fewer than two compared columns, or an unknown attack.
    """
    attacks = (attacks,) if isinstance(attacks, str) else tuple(attacks)  # one name, not its letters
    unknown = sorted(set(attacks) - set(ATTACKS))
    if unknown:
        raise ValueError(f"unknown attack {unknown[0]!r}; choose from {', '.join(ATTACKS)}")
    rng, *streams = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(1 + len(ATTACKS)))
    streams = dict(zip(ATTACKS, streams, strict=True))
    columns = [c for c in metadata.names if metadata[c].sdtype not in NOT_LEARNED]
    if len(real_test) < 10 or len(columns) < 2:
        raise ValueError("re-identification risks need at least 10 control rows and two compared columns")
    ori = real_train.reset_index(drop=True)  # every training row: a subsample hides the rows it drops
    ctl = real_test.reset_index(drop=True)
    syn = synthetic.iloc[
        np.sort(rng.choice(len(synthetic), min(len(synthetic), max_synthetic), replace=False))
    ]
    syn = syn.reset_index(drop=True)
    size = min(len(ori), len(ctl))
    n = min(int(n_attacks), size)
    coded = _Coded(metadata, [ori, syn, ctl])
    inf = lambda x: np.where(np.isnan(x), np.inf, x)  # noqa: E731
    x_ori, x_syn, x_ctl = (inf(v) for v in coded.values)
    out: dict[str, Any] = {}
    for mode in ("univariate", "multivariate"):
        if f"singling_out_{mode}" in attacks:
            out[f"singling_out_{mode}"] = singling_out(
                x_ori,
                x_syn,
                x_ctl,
                coded.numeric,
                mode=mode,
                n_attacks=n,
                n_cols=n_cols,
                rng=streams[f"singling_out_{mode}"],
            )
    for name in ("linkability", "inference"):  # each draws its own targets and controls
        if name not in attacks:
            continue
        draw = streams[name]
        targets = ori.iloc[draw.choice(len(ori), n, replace=False)].reset_index(drop=True)
        controls = ctl.iloc[draw.choice(len(ctl), n, replace=False)].reset_index(drop=True)
        if name == "linkability":
            shuffled = [columns[i] for i in draw.permutation(len(columns))]
            halves = (shuffled[: len(columns) // 2], shuffled[len(columns) // 2 :])
            out[name] = linkability(
                metadata, real_train, targets, controls, syn, halves, n_neighbors=n_neighbors, rng=draw
            )
        else:
            out[name], out["inference_worst"] = _worst_inference(
                metadata, real_train, targets, controls, syn, columns, rng=draw
            )
    out["rows"] = {"train": len(ori), "control": len(ctl), "synthetic": len(syn)}
    return out


__all__ = ["ATTACKS", "N_ATTACKS", "Rate", "reidentification_risks", "risk"]
