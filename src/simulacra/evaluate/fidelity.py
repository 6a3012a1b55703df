"""Fidelity: how closely synthetic rows follow the real distribution.

Definitions follow SDMetrics (the SDV project's metric library) so numbers compare with published ones:

* **KSComplement** (numerical/datetime column) = ``1 − D``, with ``D`` the two-sample Kolmogorov–Smirnov
  statistic of the real and synthetic values (missing values ignored).
* **TVComplement** (categorical/boolean column) = ``1 − TVD``, ``TVD = ½ Σ_c |p_real(c) − p_syn(c)|``
  over categories (missing counted as a category).
* **Column shapes** = mean of those per-column scores.
* **CorrelationSimilarity** (two numerical columns) = ``1 − |ρ_real − ρ_syn| / 2`` with Pearson's ρ.
* **ContingencySimilarity** (any other pair) = ``1 − TVD`` of the two-way frequency tables; numerical
  columns are first cut into 10 equal-width bins on the real range.
* **Column pair trends** = mean over all pairs of columns (id columns excluded).
* **Detection** (C2ST, classifier two-sample test; Lopez-Paz & Oquab 2017; SDMetrics'
  LogisticDetection): a classifier learns to tell real from synthetic rows (equal numbers of each,
  3-fold stratified cross-validation); ``score = 1 − (2·max(AUC, ½) − 1)``, so 1 means indistinguishable
  and 0 means perfectly separable. Three classifiers: ``"xgb"`` (XGBoost's default
  ``XGBClassifier``, the headline ``detection_xgb``: the detector of the TabDiff/TabSyn/TabPC papers'
  C2ST), ``"gbm"`` (scikit-learn's HistGradientBoosting) and ``"logistic"`` (SDMetrics'
  LogisticDetection). A logistic detector cannot see interactions: a model that only copies each
  column's marginal scores ≈ 1.0 on it, and ≈ 0.02 on the tree detectors.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from simulacra.evaluate._features import FeatureEncoder, label_values, numeric_values
from simulacra.metadata import NOT_LEARNED, Metadata

N_BINS = 10


def _is_numeric(metadata: Metadata, column: str) -> bool:
    return metadata[column].sdtype in ("numerical", "datetime")


def _numeric(metadata: Metadata, df: pd.DataFrame, column: str) -> np.ndarray:
    m = metadata[column]
    return numeric_values(df[column], m.sdtype, m.format)


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """``1 − KS statistic`` of two 1-D float samples (NaNs dropped); 1.0 when both are empty."""
    real, synthetic = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    if real.size == 0 or synthetic.size == 0:
        return float(real.size == synthetic.size)
    return float(1.0 - stats.ks_2samp(real, synthetic).statistic)


def tv_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """``1 − total variation distance`` of two label arrays' frequency distributions."""
    p = pd.Series(real).value_counts(normalize=True)
    q = pd.Series(synthetic).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata) -> dict[str, Any]:
    """Per-column KSComplement/TVComplement and their mean (``score``), id columns skipped."""
    columns = {}
    for c in metadata.names:
        if metadata[c].sdtype in NOT_LEARNED:
            continue
        if _is_numeric(metadata, c):
            score = ks_complement(_numeric(metadata, real, c), _numeric(metadata, synthetic, c))
            columns[c] = {"metric": "KSComplement", "score": score}
        else:
            score = tv_complement(label_values(real[c]), label_values(synthetic[c]))
            columns[c] = {"metric": "TVComplement", "score": score}
    scores = [v["score"] for v in columns.values()]
    return {"score": float(np.mean(scores)) if scores else float("nan"), "columns": columns}


def _discrete(metadata: Metadata, real: pd.DataFrame, df: pd.DataFrame, column: str) -> np.ndarray:
    if _is_numeric(metadata, column):
        ref = _numeric(metadata, real, column)
        ref = ref[np.isfinite(ref)]
        edges = np.histogram_bin_edges(ref, bins=N_BINS) if ref.size else np.array([0.0, 1.0])
        x = _numeric(metadata, df, column)
        codes = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, N_BINS - 1).astype(object)
        codes[~np.isfinite(x)] = "<missing>"
        return codes.astype(str)
    return label_values(df[column])


def column_pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata) -> dict[str, Any]:
    """CorrelationSimilarity or ContingencySimilarity for every pair of non-id columns, and their mean."""
    cols = [c for c in metadata.names if metadata[c].sdtype not in NOT_LEARNED]
    disc_r = {c: _discrete(metadata, real, real, c) for c in cols}
    disc_s = {c: _discrete(metadata, real, synthetic, c) for c in cols}
    pairs = {}
    for a, b in combinations(cols, 2):
        if _is_numeric(metadata, a) and _is_numeric(metadata, b):
            ra, rb = _numeric(metadata, real, a), _numeric(metadata, real, b)
            sa, sb = _numeric(metadata, synthetic, a), _numeric(metadata, synthetic, b)
            rho_r, rho_s = _pearson(ra, rb), _pearson(sa, sb)
            pairs[f"{a} | {b}"] = {
                "metric": "CorrelationSimilarity",
                "score": 1.0 - abs(rho_r - rho_s) / 2.0,
                "real": rho_r,
                "synthetic": rho_s,
            }
        else:
            p = pd.Series(disc_r[a] + "\x1f" + disc_r[b]).value_counts(normalize=True)
            q = pd.Series(disc_s[a] + "\x1f" + disc_s[b]).value_counts(normalize=True)
            p, q = p.align(q, fill_value=0.0)
            pairs[f"{a} | {b}"] = {
                "metric": "ContingencySimilarity",
                "score": float(1.0 - 0.5 * np.abs(p - q).sum()),
            }
    scores = [v["score"] for v in pairs.values()]
    return {"score": float(np.mean(scores)) if scores else float("nan"), "pairs": pairs}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def association_matrix(df: pd.DataFrame, metadata: Metadata, reference: pd.DataFrame) -> pd.DataFrame:
    """Cramér's V between every pair of non-id columns (numericals binned on ``reference``), ``(k, k)``.

    A single association scale for mixed column types, used for the report's correlation heatmaps.
    """
    cols = [c for c in metadata.names if metadata[c].sdtype not in NOT_LEARNED]
    codes = {c: pd.factorize(_discrete(metadata, reference, df, c))[0] for c in cols}
    out = pd.DataFrame(np.eye(len(cols)), index=cols, columns=cols)
    for a, b in combinations(cols, 2):
        table = _contingency(codes[a], codes[b])
        v = 0.0
        if min(table.shape) > 1:
            chi2 = stats.chi2_contingency(table, correction=False)[0]
            v = float(np.sqrt(chi2 / table.sum() / (min(table.shape) - 1)))
        out.loc[a, b] = out.loc[b, a] = v
    return out


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The contingency table of two integer code arrays ``(n,)`` (``pd.factorize`` codes): counts
    ``(r, c)`` float64 of the observed code pairs, without empty rows or columns, as ``pd.crosstab``
    gives it, by one ``np.bincount``."""
    a, b = a - a.min(initial=0), b - b.min(initial=0)  # a missing value's -1 stays a code of its own
    na, nb = int(a.max(initial=0)) + 1, int(b.max(initial=0)) + 1
    table = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).astype(float)
    return table[table.sum(1) > 0][:, table.sum(0) > 0]


def detection(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata,
    *,
    model: str = "logistic",
    max_rows: int = 20_000,
    seed: int = 0,
) -> dict[str, Any]:
    """C2ST detection score (see the module docstring) with a ``"logistic"``, ``"gbm"`` or ``"xgb"``
    classifier.

    Up to ``max_rows`` rows of each table are used (sampled with ``seed``; the same number from each).
    Features: one-hot categoricals (up to 50 levels, rarer ones pooled) and standardised numerics with a
    missing indicator for ``logistic`` and ``xgb`` (SDMetrics' encoding); level codes with native
    categorical splits for ``gbm``. Returns ``score`` in [0, 1], the mean ``auc`` over the 3 folds,
    ``model`` and ``rows_each``.

    Raises
    ------
    ValueError
        Unknown ``model``.
    """
    if model not in ("logistic", "gbm", "xgb"):
        raise ValueError(f"unknown detection model {model!r}; use 'logistic', 'gbm' or 'xgb'")
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic), max_rows)
    r = real.iloc[rng.choice(len(real), n, replace=False)]
    s = synthetic.iloc[rng.choice(len(synthetic), n, replace=False)]
    enc = FeatureEncoder(metadata, real)
    y = np.r_[np.zeros(n), np.ones(n)]
    if model == "logistic":
        x = np.vstack([enc.onehot(r), enc.onehot(s)])
        clf = LogisticRegression(max_iter=1000)
    elif model == "xgb":
        from xgboost import XGBClassifier  # xgboost-cpu: a 3 s import, needed only here

        x = np.vstack([enc.onehot(r), enc.onehot(s)])
        clf = XGBClassifier(random_state=seed)
    else:
        x = np.vstack([enc.ordinal(r), enc.ordinal(s)])
        clf = HistGradientBoostingClassifier(categorical_features=enc.categorical_mask, random_state=seed)
    aucs = []
    for train_idx, test_idx in StratifiedKFold(3, shuffle=True, random_state=seed).split(x, y):
        clf.fit(x[train_idx], y[train_idx])
        aucs.append(roc_auc_score(y[test_idx], clf.predict_proba(x[test_idx])[:, 1]))
    auc = float(np.mean(aucs))
    return {"score": 1.0 - (2.0 * max(auc, 0.5) - 1.0), "auc": auc, "model": model, "rows_each": n}
