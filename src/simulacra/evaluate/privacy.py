"""Privacy: do synthetic rows sit closer to the training rows than new real rows would, and can an
attacker holding them tell who was in the training data?

* **DCR share** (distance to closest record; SDMetrics' DCROverfittingProtection compares the same
  two distances): for each synthetic row, the distance to its nearest training row and to its nearest
  row of an equal-size real *holdout* that the model never saw. The score is the fraction of synthetic
  rows closer to the training rows (ties count ½). A model that generalises gives ≈ 0.5; values well
  above 0.5 mean it copies or hugs its training rows. Distances are Gower distances: numerical columns
  scaled by the real range, categorical columns 0 (same) or 1 (different), missing vs present 1, summed
  over columns.
* **Exact-copy rate**: the fraction of synthetic rows equal, in every non-id column, to some training row.
* **Membership inference** (:func:`membership_inference`): an attacker holding the synthetic rows and
  some real rows from the same population (a *reference* set) scores candidate records; the attack is
  judged on training members against real non-members (the holdout), by ROC-AUC (0.5: no better than a
  coin) and the true-positive rate at a 1 % false-positive rate (Carlini et al. 2022, "Membership
  Inference Attacks From First Principles": an attack that is sure of a few members matters even when
  its AUC is low). Two attacks:

  - **DOMIAS** (van Breugel, Sun, Qian & van der Schaar 2023, "Membership Inference Attacks against
    Synthetic Data through Overfitting Detection", AISTATS): the score is the density ratio
    ``p_S(x) / p_R(x)`` of the synthetic data over the reference data, which is high where the
    generator put more mass than the population has: around its training rows if it overfits.
    Densities are Gaussian kernel density estimates (the paper's KDE variant) in the whitened
    principal components of the encoded rows (standardised numerics with missing indicators, one-hot
    categories) that hold 95 % of the reference rows' variance (at most 30), bandwidth by Scott's rule.
  - **DCR** (distance to the closest synthetic record): the score is minus the Gower distance of the
    candidate to its nearest synthetic row: the baseline attack of most synthetic-data audits.

  Intervals are 95 % percentile bootstraps over the candidates (members and non-members resampled
  separately). Where this differs from the paper: DOMIAS's best variant estimates densities with a
  normalising flow (BNAF); the KDE variant here needs no training and no GPU.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from scipy.special import logsumexp
from scipy.stats import rankdata
from sklearn.decomposition import PCA

from simulacra.evaluate._features import FeatureEncoder
from simulacra.metadata import NOT_LEARNED, Metadata


def gower_neighbors(
    encoder: FeatureEncoder, reference: pd.DataFrame, queries: pd.DataFrame, k: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``reference`` rows of every query row, exact and brute force, by Gower
    distance (summed over the encoder's columns).

    The L1 distance of :meth:`FeatureEncoder.gower` rows splits into the scaled numbers, summed as
    ``|q − r|`` column by column, and 0/``w`` indicator columns, where ``Σ w·|q − r| = Σ w·q + Σ w·r −
    2 Σ w·q·r`` is one matrix product; so a query block costs a BLAS call plus one pass per numerical
    column block (SciPy's ``cdist``) instead of a pass per encoded column.

    Returns
    -------
    distances : ndarray, shape (len(queries), k), float64
        Nearest first; ties keep the lower reference index first.
    indices : ndarray, shape (len(queries), k), int64
        Positions in ``reference``.
    """
    cont, ind, weight = encoder.gower_layout()
    ref, qry = encoder.gower(reference), encoder.gower(queries)
    k = max(1, min(int(k), len(ref)))
    ref_bin = (ref[:, ind] > 0).astype(np.float64)  # (R, B)
    ref_mass = ref_bin @ weight  # (R,)
    ref_cont = np.ascontiguousarray(ref[:, cont])  # (R, numerical columns)
    dist_out = np.empty((len(qry), k))
    idx_out = np.empty((len(qry), k), dtype=np.int64)
    block = max(1, 2**22 // max(len(ref), 1))  # ≈ 32 MiB of float64 per distance block
    for start in range(0, len(qry), block):
        q = qry[start : start + block]
        q_bin = (q[:, ind] > 0).astype(np.float64) * weight  # (b, B)
        dist = q_bin.sum(1)[:, None] + ref_mass[None, :] - 2.0 * (q_bin @ ref_bin.T)  # (b, R)
        if len(cont):
            dist += cdist(q[:, cont], ref_cont, metric="cityblock")
        np.maximum(dist, 0.0, out=dist)
        if k == 1:
            near = dist.argmin(1)[:, None]
        else:
            part = np.argpartition(dist, k - 1, axis=1)[:, :k]
            near = np.take_along_axis(
                part, np.argsort(np.take_along_axis(dist, part, 1), 1, kind="stable"), 1
            )
        idx_out[start : start + block] = near
        dist_out[start : start + block] = np.take_along_axis(dist, near, 1)
    return dist_out, idx_out


def nearest_gower(encoder: FeatureEncoder, reference: pd.DataFrame, queries: pd.DataFrame) -> np.ndarray:
    """``(len(queries),)`` Gower distance (summed over columns) of every query row to its nearest
    ``reference`` row (:func:`gower_neighbors` with ``k = 1``)."""
    return gower_neighbors(encoder, reference, queries)[0][:, 0]


def dcr_share(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    metadata: Metadata,
    *,
    max_synthetic: int = 2_000,
    max_reference: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """DCR share (see the module docstring), on up to ``max_synthetic`` synthetic rows and equal-size
    samples (at most ``max_reference``) of the training rows and of ``real_test`` (the holdout: real
    rows the model never saw), drawn with ``seed``.

    Returns ``{"score", "dcr_train_median", "dcr_holdout_median", "rows"}``; distances are Gower
    distances averaged over columns (0 … 1).
    """
    rng = np.random.default_rng(seed)
    m = min(len(real_train), len(real_test), max_reference)
    train = real_train.iloc[rng.choice(len(real_train), m, replace=False)]
    hold = real_test.iloc[rng.choice(len(real_test), m, replace=False)]
    k = min(len(synthetic), max_synthetic)
    syn = synthetic.iloc[rng.choice(len(synthetic), k, replace=False)]
    enc = FeatureEncoder(metadata, real_train)
    d_train = nearest_gower(enc, train, syn)
    d_hold = nearest_gower(enc, hold, syn)
    tie = np.isclose(d_train, d_hold)
    share = float(np.mean((d_train < d_hold) & ~tie) + 0.5 * np.mean(tie))
    ncol = max(len(enc.columns), 1)
    return {
        "score": share,
        "dcr_train_median": float(np.median(d_train)) / ncol,
        "dcr_holdout_median": float(np.median(d_hold)) / ncol,
        "rows": k,
    }


def _row_keys(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    text = df[columns].astype(object).where(df[columns].notna(), "\x00NA").astype(str)
    return pd.util.hash_pandas_object(text, index=False)


def exact_copy_rate(real_train: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata) -> float:
    """Fraction of synthetic rows identical to some training row in every non-id column."""
    cols = [c for c in metadata.names if metadata[c].sdtype not in NOT_LEARNED]
    if not len(synthetic) or not cols:
        return 0.0
    real_keys = set(_row_keys(real_train, cols).to_numpy().tolist())
    return float(_row_keys(synthetic, cols).isin(real_keys).mean())


def _auc_and_tpr(members: np.ndarray, non_members: np.ndarray, *, fpr: float) -> tuple[float, float]:
    """ROC-AUC (ties count one half) and the highest true-positive rate at a false-positive rate of at
    most ``fpr``, from scores ``(m,)`` and ``(n,)``: the numbers of scikit-learn's ``roc_auc_score``
    and ``roc_curve``, computed from one sort without their input checks (a bootstrap calls this
    hundreds of times)."""
    m, n = len(members), len(non_members)
    scores = np.r_[members, non_members]
    ranks = rankdata(scores)  # average ranks: the Mann–Whitney U statistic counts ties as one half
    auc = (ranks[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    order = np.argsort(-scores, kind="stable")
    is_member = np.r_[np.ones(m), np.zeros(n)][order]
    last = np.r_[np.flatnonzero(np.diff(scores[order])), m + n - 1]  # the end of each run of equal scores
    true_pos, false_pos = np.cumsum(is_member)[last] / m, np.cumsum(1.0 - is_member)[last] / n
    return float(auc), float(np.max(true_pos[false_pos <= fpr], initial=0.0))


def attack_roc(
    members: np.ndarray,
    non_members: np.ndarray,
    *,
    fpr: float = 0.01,
    bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """ROC-AUC and true-positive rate at a false-positive rate of ``fpr`` of a membership score (higher
    means "member"), with 95 % percentile bootstrap intervals.

    Parameters
    ----------
    members, non_members : ndarray, shape (m,) and (n,), float
        Attack scores of training members and of real non-members.
    fpr : float
        The false-positive rate at which the true-positive rate is read (0.01: Carlini et al. 2022).
    bootstrap : int
        Resamples (members and non-members each drawn with replacement, separately); 0 skips intervals.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``{"auc", "auc_ci": [lo, hi], "tpr_at_fpr", "tpr_at_fpr_ci": [lo, hi], "fpr", "members",
        "non_members"}``.
    """

    scores = partial(_auc_and_tpr, fpr=fpr)
    auc, tpr = scores(members, non_members)
    out: dict[str, Any] = {
        "auc": auc,
        "tpr_at_fpr": tpr,
        "fpr": fpr,
        "members": len(members),
        "non_members": len(non_members),
    }
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        draws = np.array(
            [
                scores(
                    members[rng.integers(0, len(members), len(members))],
                    non_members[rng.integers(0, len(non_members), len(non_members))],
                )
                for _ in range(int(bootstrap))
            ]
        )
        lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
        out["auc_ci"] = [float(lo[0]), float(hi[0])]
        out["tpr_at_fpr_ci"] = [float(lo[1]), float(hi[1])]
    return out


def _log_kde(centres: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(len(points),)`` log density at ``points`` of a Gaussian KDE on ``centres`` ``(n, d)`` with the
    isotropic bandwidth of Scott's rule, ``h = n^(−1/(d+4))`` (the features are whitened)."""
    n, d = centres.shape
    h = n ** (-1.0 / (d + 4))
    c_sq = (centres**2).sum(1)
    out = np.empty(len(points))
    block = max(1, 2**22 // max(n, 1))
    for start in range(0, len(points), block):
        p = points[start : start + block]
        sq = (p**2).sum(1)[:, None] + c_sq[None, :] - 2.0 * (p @ centres.T)  # (b, n)
        out[start : start + block] = logsumexp(-0.5 * np.maximum(sq, 0.0) / h**2, axis=1)
    return out - np.log(n) - d * np.log(h * np.sqrt(2 * np.pi))


def domias_scores(
    synthetic: np.ndarray, reference: np.ndarray, candidates: np.ndarray, *, variance: float = 0.95
) -> np.ndarray:
    """DOMIAS scores ``log p_S(x) − log p_R(x)`` of candidate feature rows (van Breugel et al. 2023).

    Parameters
    ----------
    synthetic, reference, candidates : ndarray, shape (·, D), float
        Encoded synthetic rows, real reference rows (not training members), and the rows to score.
    variance : float
        Share of the reference rows' variance kept by the whitened principal components (at most 30).

    Returns
    -------
    ndarray, shape (len(candidates),), float64
        Log density ratios; higher means more likely a training member.
    """
    pca = PCA(n_components=variance, whiten=True, svd_solver="full").fit(reference)
    keep = min(pca.n_components_, 30)
    project = lambda x: pca.transform(x)[:, :keep]  # noqa: E731
    syn, ref, cand = project(synthetic), project(reference), project(candidates)
    return _log_kde(syn, cand) - _log_kde(ref, cand)


def membership_inference(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    metadata: Metadata,
    *,
    max_candidates: int = 2_000,
    max_synthetic: int = 10_000,
    bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Membership-inference attacks on the synthetic rows: DOMIAS and DCR (see the module docstring).

    The holdout ``real_test`` (real rows the model never saw) is split in two: one half is the attacker's reference set, the other the non-member
    candidates; as many training rows are the member candidates (at most ``max_candidates`` each).
    The attacker holds up to ``max_synthetic`` synthetic rows. Everything is drawn with ``seed``.

    Returns
    -------
    dict
        ``{"domias": attack_roc(...), "dcr": attack_roc(...), "candidates", "reference", "synthetic"}``.

    Raises
    ------
    ValueError
        Fewer than 20 holdout rows (ten non-members and ten reference rows at least).
    """
    if len(real_test) < 20:
        raise ValueError("membership inference needs at least 20 real holdout rows")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real_test))
    half = len(real_test) // 2
    m = min(len(real_train), half, max_candidates)
    non_members = real_test.iloc[order[:m]]
    reference = real_test.iloc[order[half:]]
    members = real_train.iloc[rng.choice(len(real_train), m, replace=False)]
    syn = synthetic.iloc[rng.choice(len(synthetic), min(len(synthetic), max_synthetic), replace=False)]
    candidates = pd.concat([members, non_members], ignore_index=True)
    enc = FeatureEncoder(metadata, real_train, exclude=tuple(metadata.names_of(*NOT_LEARNED)))
    domias = domias_scores(enc.onehot(syn), enc.onehot(reference), enc.onehot(candidates))
    dcr = -nearest_gower(enc, syn, candidates)
    return {
        "domias": attack_roc(domias[:m], domias[m:], bootstrap=bootstrap, seed=seed),
        "dcr": attack_roc(dcr[:m], dcr[m:], bootstrap=bootstrap, seed=seed),
        "candidates": int(m),
        "reference": len(reference),
        "synthetic": len(syn),
    }


def real_identifiers(real_train: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata) -> dict[str, int]:
    """Per personal-identifier (``pii``) column, how many synthetic values equal a real training value,
    compared in the kind's normal form (:func:`simulacra.transform.pii.normal_form`: digits of phone and
    card numbers, canonical IP addresses, …). Identifiers are generated fresh, so every count should
    be 0."""
    from simulacra.transform.pii import identifier_matches

    return {
        c: identifier_matches(metadata[c].pii, real_train[c], synthetic[c])
        for c in metadata.names_of("pii")
        if c in synthetic.columns
    }
