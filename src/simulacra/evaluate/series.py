"""Evaluation of synthetic time series: the TimeGAN protocol, autocorrelation, and nearest windows.

**Windows.** Every metric of the TimeGAN protocol (Yoon, Jarrett & van der Schaar, NeurIPS 2019, and
the papers that report it since, e.g. Diffusion-TS, Yuan & Qiao, ICLR 2024) reads windows of 24 steps
of the value columns, min-max scaled with the real training data's per-column range: every start of one
series (stride 1), or of each keyed sequence (a sequence shorter than the window gives none; when
fewer than half the real sequences reach 24 steps, the window is their median length instead). Numerical and datetime columns are read as
numbers, categorical ones as their category codes; a missing value is 0 after scaling.

* **Discriminative score** (lower is better, 0 = indistinguishable): ``|accuracy − ½|`` on held-out
  windows of a post-hoc one-layer GRU classifier (hidden ``⌊d/2⌋``, at least 1; Adam; 2,000 iterations
  of batch 128, or 50 passes over a small set's windows if fewer) trained on 80 % of the real and
  80 % of the synthetic windows.
* **Predictive score** (lower is better; compare with the real data's): a one-layer GRU (hidden
  ``⌊d/2⌋``, 5,000 iterations of batch 128 or 200 passes if fewer, Adam, absolute-error loss) trained
  on synthetic windows to predict the last column one step ahead from the other columns
  (``x_{t,<d} → x_{t+1,d}``), scored by its mean absolute error on real windows (TSTR for
  forecasting). The reference row trains it on real training windows. Without a real test part both
  are scored on the windows they were trained on (the TimeGAN code does the same); that row then also
  rewards memorising those windows, which a generator cannot do. On Energy, whose last column is
  uniform noise, the real row scored below the score of a predictor that learned nothing. So, with
  the reference rows and no test part, the **held-out pair** is also scored: the real series'
  earlier part (:data:`HELD_OUT`; keyed: a seeded share of the sequences is held out instead) trains
  the real predictor, and both it and the synthetic-trained one are scored on the windows of the
  rest.
* **Context-FID** (lower is better; Jeha et al. 2022, as Diffusion-TS reports it): the Fréchet distance
  between the embeddings of real and synthetic windows by a TS2Vec encoder trained here on the real
  windows (:mod:`simulacra.evaluate.ts2vec`; each window max-pooled over its steps).
* **Correlational score** (lower is better; Diffusion-TS's definition, after Ni et al. 2020): each
  column standardised over all windows and steps, the lag-0 cross-correlations of every pair of
  columns averaged over steps and windows, and ``Σ |real − synthetic| / 10`` over the pairs; the mean
  of 5 draws of a fifth of the windows each (with replacement), as the reference code scores it.
* **Autocorrelation error**: mean over columns and lags 1–10 of the absolute difference between the
  real and synthetic autocorrelation functions inside the windows (averaged over windows).
* **Nearest windows** (privacy): the share of synthetic windows closer (Euclidean, scaled) to a training
  window than to a holdout window, with as many of each (the DCR idea on windows; 0.5 is ideal, above
  it means copying).
* **Membership inference on windows** (privacy): the distance attack of Chen et al. 2020 ("GAN-Leaks",
  full black-box): a window is called a member when it lies close to a synthetic window. ROC-AUC and
  the true-positive rate at 1 % false positives over as many training windows (members) as holdout
  windows (non-members), with bootstrap intervals. 0.5 and 0.01 mean no leak. One series is split in
  time, so its holdout windows come from a later period; a score above 0.5 there can be drift as well
  as memorisation (keyed sequences split by entity have no such confound).
* **Keyed sequences** (SDMetrics' sequential metrics, with its Multi-Sequence Aggregate Similarity,
  MSAS): *sequence-length similarity* (1 − KS between the sequence lengths); *StatisticMSAS*,
  for each numerical value column and each of mean, median, sd, min and max: the statistic per
  sequence, and 1 − KS between the real and the synthetic sequences' values, averaged; *InterRowMSAS*,
  per column the mean difference between consecutive rows of each sequence, 1 − KS, averaged (as
  SDMetrics defines it, that mean telescopes to ``(last − first) / (T − 1)``: the drift of a
  sequence, not its roughness); *context shapes* (the context columns' marginals); and, with a real
  test part and a categorical context column as ``target`` (or the only categorical one), **TSTR for
  sequence classification**: a classifier of the sequence's class from its rows (gradient-boosted
  trees on each column's mean, sd, min, max, first and last scaled value and the length, a
  feature-based classifier in the manner of Christ et al. 2018's tsfresh) trained on the synthetic
  sequences, its accuracy on the real test sequences beside the same classifier trained on the real
  training ones (TRTR) and the majority class.

Where this differs from the TimeGAN reference code: its classifier and predictor are TensorFlow 1
GRUs with the same sizes, iterations and split; here they are PyTorch, seeded, on the CPU.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import DataError
from simulacra.evaluate import DESCRIPTIONS, Evaluation
from simulacra.io.series import SeriesSet, seconds

#: the TimeGAN protocol's window length
WINDOW = 24
#: the post-hoc models' iterations (TimeGAN: 2,000 for the classifier, 5,000 for the predictor)
DISCRIMINATIVE_ITERATIONS, PREDICTIVE_ITERATIONS = 2000, 5000
#: ... or at most this many passes over their training windows, whichever is fewer: a small series is
#: not trained on for thousands of passes (the benchmark sets stay below both caps' effect: Stocks'
#: classifier sees 44 passes, its predictor 175; Energy's 13 and 32)
DISCRIMINATIVE_PASSES, PREDICTIVE_PASSES = 50, 200
#: most windows each side the metrics read (a random subset beyond it)
MAX_WINDOWS = 10_000
#: the correlational score: draws, each of this share of the windows (Diffusion-TS: 5 of a fifth)
CORRELATION_DRAWS = 5
#: the predictive score's held-out pair: the share of each real series (its later rows; keyed: of the
#: sequences) the real-trained predictor does not see, on whose windows both predictors are scored
HELD_OUT = 0.2

DESCRIPTIONS.update(
    {
        "discriminative_score": "TimeGAN's discriminative score: |accuracy − ½| of a post-hoc GRU telling real from synthetic 24-step windows. 0 = indistinguishable; lower is better.",
        "predictive_score": "TimeGAN's predictive score: MAE on real windows of a GRU trained on synthetic windows to predict the last column one step ahead (TSTR). Lower is better; compare with the real data's.",
        "predictive_score_real": "The same predictor trained on real training windows: the reference the predictive score is read against.",
        "predictive_score_heldout": "The predictive score on the held-out real windows only (the later part of the real series, or held-out sequences): compare with the real row trained without them.",
        "predictive_score_real_heldout": "The predictor trained on the earlier real windows and scored on the held-out ones: a real reference that memorising cannot help.",
        "context_fid": "Context-FID: Fréchet distance of TS2Vec embeddings (an encoder trained here on the real windows) of real and synthetic windows. 0 = same; lower is better; read it against the reference rows.",
        "correlational_score": "Diffusion-TS's correlational score: Σ|real − synthetic| / 10 over the cross-correlations of every pair of columns. 0 = same; lower is better.",
        "autocorrelation_error": "Mean |ACF_real − ACF_synthetic| over columns and lags 1–10. 0 = same temporal dependence.",
        "sequence_length_similarity": "1 − KS statistic between real and synthetic sequence lengths. 1 = same length distribution.",
        "context_shapes": "Mean per-column similarity of the context columns' marginals (1 − KS or 1 − TVD), one row per sequence.",
        "window_dcr_share": "Share of synthetic windows closer to a training window than to a holdout window (as many of each). 0.5 is ideal; higher means copying.",
        "window_membership_auc": "ROC-AUC of the distance attack on windows (a window near a synthetic one is called a training member). 0.5 means no leak; one series' later holdout can add drift.",
        "window_membership_tpr_at_1pct_fpr": "True-positive rate of the window distance attack at 1 % false positives. ≈ 0.01 means no leak.",
        "statistic_msas": "SDMetrics' StatisticMSAS: 1 − KS between real and synthetic per-sequence mean, median, sd, min and max of each numerical column, averaged. 1 = same.",
        "tstr_accuracy": "Sequence classification, train on synthetic, test on real: accuracy on the real test sequences of a classifier of the context target trained on synthetic sequences. Compare with TRTR.",
        "trtr_accuracy": "Sequence classification, train on real, test on real: the same classifier trained on the real training sequences, the reference for TSTR.",
        "inter_row_msas": "SDMetrics' InterRowMSAS: 1 − KS between real and synthetic per-sequence mean differences of consecutive rows, averaged over numerical columns. 1 = same.",
    }
)


class Scaler:
    """Per-column min-max scaling fitted on real data (TimeGAN's ``MinMaxScaler``).

    Parameters
    ----------
    series : SeriesSet
        The real training data; its value columns are the columns scaled.
    """

    def __init__(self, series: SeriesSet) -> None:
        self.columns = series.value_columns
        self.codes: dict[str, list[Any]] = {}
        values = self._numbers(series.frame, fit=True)
        self.lo = np.nanmin(values, axis=0)
        span = np.nanmax(values, axis=0) - self.lo
        self.span = np.where(span > 0, span, 1.0)

    def _numbers(self, frame: pd.DataFrame, fit: bool = False) -> np.ndarray:
        out = []
        for c in self.columns:
            s = frame[c]
            if pd.api.types.is_datetime64_any_dtype(s):
                x = seconds(s)
            elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                x = s.to_numpy(np.float64)
            else:
                if fit:
                    self.codes[c] = sorted(pd.unique(s.dropna().astype(str)).tolist())
                lookup = {v: i for i, v in enumerate(self.codes.get(c, []))}
                x = np.array(
                    [lookup.get(str(v), np.nan) if pd.notna(v) else np.nan for v in s], dtype=np.float64
                )
            out.append(x)
        return np.stack(out, axis=1) if out else np.zeros((len(frame), 0))

    def numeric_columns(self) -> list[int]:
        """Positions of the numerical and datetime value columns (not category codes)."""
        return [i for i, c in enumerate(self.columns) if c not in self.codes]

    def sequences(self, series: SeriesSet) -> list[np.ndarray]:
        """Each sequence as ``(T_i, d)`` float32 in [0, 1] (missing: 0).

        Raises
        ------
        DataError
            ``series`` lacks a value column of the real data.
        """
        missing = [c for c in self.columns if c not in series.frame.columns]
        if missing:
            raise DataError(
                f"the synthetic series lacks column(s) {missing}; give series with the real columns"
            )
        out = []
        for s in series.sequences():
            x = (self._numbers(s) - self.lo) / self.span
            out.append(np.nan_to_num(x, nan=0.0).astype(np.float32))
        return out


def window_length(*groups: list[np.ndarray]) -> int:
    """:data:`WINDOW`, or, when fewer than half the sequences are that long (short keyed sequences such
    as spoken utterances), their median length (at least 2), so that most sequences give windows."""
    lengths = np.array([len(s) for g in groups for s in g])
    if np.mean(lengths >= WINDOW) >= 0.5:
        return WINDOW
    return max(2, int(np.median(lengths)))


def windows(seqs: list[np.ndarray], length: int, *, seed: int = 0, limit: int = MAX_WINDOWS) -> np.ndarray:
    """``(W, length, d)`` float32: every window of ``length`` steps of every sequence (stride 1), at
    most ``limit`` of them (a seeded random subset)."""
    parts = [
        np.lib.stride_tricks.sliding_window_view(s, length, axis=0).transpose(0, 2, 1)
        for s in seqs
        if len(s) >= length
    ]
    if not parts:
        return np.zeros((0, length, seqs[0].shape[1] if seqs else 0), np.float32)
    w = np.concatenate(parts)
    if len(w) > limit:
        w = w[np.sort(np.random.default_rng(seed).choice(len(w), limit, replace=False))]
    return np.ascontiguousarray(w, dtype=np.float32)


def held_out_windows(
    seqs: list[np.ndarray], length: int, *, seed: int = 0, share: float = HELD_OUT
) -> tuple[np.ndarray, np.ndarray]:
    """The predictive score's held-out pair: the windows the real predictor trains on and those both
    predictors are scored on. No window spans the cut.

    Parameters
    ----------
    seqs : list of ndarray
        The real sequences, each ``(T_i, d)`` float32 scaled (:meth:`Scaler.sequences`); one array is
        one long series.
    length : int
        Window length, in steps.
    seed : int
        Chooses the held-out sequences (several), and the subset beyond :data:`MAX_WINDOWS`.
    share : float
        In (0, 1): the share held out. One series: its last ``share`` of rows. Several sequences: a
        seeded ``share`` of them, whole.

    Returns
    -------
    (ndarray, ndarray)
        ``early`` and ``later`` windows, each ``(W, length, d)`` float32 (``W`` may be 0 when a part
        is shorter than ``length``).
    """
    if len(seqs) == 1:
        cut = round(len(seqs[0]) * (1 - share))
        early, later = [seqs[0][:cut]], [seqs[0][cut:]]
    else:
        order = np.random.default_rng(seed).permutation(len(seqs))
        cut = round(len(seqs) * (1 - share))
        early, later = [seqs[i] for i in order[:cut]], [seqs[i] for i in order[cut:]]
    return windows(early, length, seed=seed), windows(later, length, seed=seed)


def _gru(d_in: int, hidden: int, d_out: int):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(d_in, hidden, batch_first=True)
            self.out = nn.Linear(hidden, d_out)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h, last = self.gru(x)
            return self.out(h), self.out(last[-1])

    return Net()


def discriminative_score(
    real: np.ndarray, synthetic: np.ndarray, *, seed: int = 0, iterations: int = DISCRIMINATIVE_ITERATIONS
) -> float:
    """``|accuracy − ½|`` of a post-hoc GRU classifier of real against synthetic windows (see the
    module docstring); ``real``/``synthetic`` ``(W, L, d)`` scaled windows. In [0, ½], lower is better.

    Raises
    ------
    DataError
        Fewer than 5 windows on a side.
    """
    import torch

    if min(len(real), len(synthetic)) < 5:
        raise DataError("the discriminative score needs at least 5 windows each side; give longer series")
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic))
    real = real[rng.permutation(len(real))[:n]]
    synthetic = synthetic[rng.permutation(len(synthetic))[:n]]
    cut = int(0.8 * n)
    x_train = np.concatenate([real[:cut], synthetic[:cut]])
    y_train = np.concatenate([np.ones(cut), np.zeros(cut)]).astype(np.float32)
    x_test = np.concatenate([real[cut:], synthetic[cut:]])
    y_test = np.concatenate([np.ones(n - cut), np.zeros(n - cut)])
    d = real.shape[2]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _gru(d, max(1, d // 2), 1)
        opt = torch.optim.Adam(net.parameters())
        xt, yt = torch.as_tensor(x_train), torch.as_tensor(y_train)
        for _ in range(min(int(iterations), -(-DISCRIMINATIVE_PASSES * len(xt) // 128))):
            idx = torch.as_tensor(rng.integers(0, len(xt), min(128, len(xt))))
            _, logit = net(xt[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit[:, 0], yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            _, logit = net(torch.as_tensor(x_test))
    accuracy = float(((logit[:, 0].numpy() > 0) == (y_test > 0.5)).mean())
    return abs(accuracy - 0.5)


def predictive_score(
    train: np.ndarray, test: np.ndarray, *, seed: int = 0, iterations: int = PREDICTIVE_ITERATIONS
) -> float:
    """MAE on ``test`` windows of a GRU trained on ``train`` windows to predict the last column one
    step ahead from the others (see the module docstring); one column alone predicts itself.

    Raises
    ------
    DataError
        No training or test window.
    """
    import torch

    if not len(train) or not len(test):
        raise DataError("the predictive score needs windows on both sides; give longer series")
    d = train.shape[2]
    inputs = slice(0, d - 1) if d > 1 else slice(0, 1)

    def split(w: np.ndarray):
        return torch.as_tensor(w[:, :-1, inputs]), torch.as_tensor(w[:, 1:, d - 1])

    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x, y = split(train)
        net = _gru(x.shape[2], max(1, d // 2), 1)
        opt = torch.optim.Adam(net.parameters())
        for _ in range(min(int(iterations), -(-PREDICTIVE_PASSES * len(x) // 128))):
            idx = torch.as_tensor(rng.integers(0, len(x), min(128, len(x))))
            out, _ = net(x[idx])
            loss = (torch.sigmoid(out[..., 0]) - y[idx]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            xt, yt = split(test)
            out, _ = net(xt)
            return float((torch.sigmoid(out[..., 0]) - yt).abs().mean())


def autocorrelation(w: np.ndarray, lags: int = 10) -> np.ndarray:
    """``(lags, d)``: each column's autocorrelation at lags 1…``lags`` (at most the window length − 1)
    inside windows ``w`` ``(W, L, d)``, averaged over windows (a constant window adds 0)."""
    lags = max(1, min(lags, w.shape[1] - 1))
    x = w - w.mean(axis=1, keepdims=True)
    var = (x**2).sum(axis=1)  # (W, d)
    out = np.zeros((lags, w.shape[2]))
    for k in range(1, lags + 1):
        cov = (x[:, k:] * x[:, :-k]).sum(axis=1)
        out[k - 1] = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 0.0).mean(axis=0)
    return out


def _cross_correlation(w: np.ndarray) -> np.ndarray:
    """``(pairs,)``: the lag-0 correlation of every pair of columns ``i ≥ j`` of windows ``w``
    ``(W, L, d)``, each column standardised over all windows and steps."""
    sd = w.std(axis=(0, 1), ddof=1, keepdims=True)
    x = (w - w.mean(axis=(0, 1), keepdims=True)) / np.where(sd > 0, sd, 1.0)
    i, j = np.tril_indices(w.shape[2])
    return (x[..., i] * x[..., j]).mean(axis=(0, 1))


def correlational_score(real: np.ndarray, synthetic: np.ndarray, *, seed: int = 0) -> float:
    """Diffusion-TS's correlational score of windows ``(W, L, d)`` (see the module docstring). ≥ 0,
    lower is better."""
    rng = np.random.default_rng(seed)
    size = max(2, len(real) // CORRELATION_DRAWS)
    scores = [
        np.abs(
            _cross_correlation(synthetic[rng.integers(0, len(synthetic), size)])
            - _cross_correlation(real[rng.integers(0, len(real), size)])
        ).sum()
        / 10.0
        for _ in range(CORRELATION_DRAWS)
    ]
    return float(np.mean(scores))


def context_fids(real: np.ndarray, others: dict[str, np.ndarray], *, seed: int = 0) -> dict[str, float]:
    """Context-FID of each window set in ``others`` against the real ``windows`` ``(W, L, d)``, with one
    TS2Vec encoder trained on ``real`` (see the module docstring)."""
    from simulacra.evaluate.text import frechet
    from simulacra.evaluate.ts2vec import embed, train_encoder

    encoder = train_encoder(real, seed=seed)
    reference = embed(encoder, real)
    return {name: frechet(reference, embed(encoder, w)) for name, w in others.items()}


def window_dcr_share(
    train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray, *, seed: int = 0
) -> float:
    """Share of synthetic windows closer to a training window than to a holdout window, with as many
    training as holdout windows (a seeded subset). 0.5 is ideal; ties count half."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout))
    flat = lambda w, k: w[rng.permutation(len(w))[:k]].reshape(min(k, len(w)), -1)  # noqa: E731
    a, b, s = flat(train, n), flat(holdout, n), flat(synthetic, MAX_WINDOWS)
    da = NearestNeighbors(n_neighbors=1).fit(a).kneighbors(s)[0][:, 0]
    db = NearestNeighbors(n_neighbors=1).fit(b).kneighbors(s)[0][:, 0]
    return float(np.mean((da < db) + 0.5 * (da == db)))


def window_membership(
    train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray, *, seed: int = 0
) -> dict[str, Any]:
    """The distance membership attack on windows (Chen et al. 2020, full black-box).

    Parameters
    ----------
    train, holdout, synthetic : ndarray, shape (n, L, d), float32
        Scaled windows: the members (training), the non-members (never seen) and the generated ones.
    seed : int
        Seeds the subsets (as many members as non-members, at most :data:`MAX_WINDOWS` each) and the
        bootstrap.

    Returns
    -------
    dict
        :func:`simulacra.evaluate.privacy.attack_roc`'s ``auc``, ``tpr_at_fpr`` (at 1 %) and their 95 %
        intervals; the score of a window is minus its Euclidean distance to the nearest synthetic one.
    """
    from sklearn.neighbors import NearestNeighbors

    from simulacra.evaluate.privacy import attack_roc

    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout), MAX_WINDOWS)
    members = train[rng.permutation(len(train))[:n]].reshape(n, -1)
    others = holdout[rng.permutation(len(holdout))[:n]].reshape(n, -1)
    synth = synthetic[rng.permutation(len(synthetic))[:MAX_WINDOWS]]
    nearest = NearestNeighbors(n_neighbors=1).fit(synth.reshape(len(synth), -1))
    score = lambda w: -nearest.kneighbors(w)[0][:, 0]  # noqa: E731  (closer: more likely a member)
    return attack_roc(score(members), score(others), seed=seed)


#: the per-sequence statistics StatisticMSAS compares (SDMetrics' choices)
MSAS_STATISTICS = {"mean": np.mean, "median": np.median, "sd": np.std, "min": np.min, "max": np.max}


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return 1.0 - float(ks_2samp(a, b).statistic)


def statistic_msas(
    real: list[np.ndarray], synthetic: list[np.ndarray], columns: list[int]
) -> dict[str, float]:
    """SDMetrics' StatisticMSAS for each statistic of :data:`MSAS_STATISTICS`, averaged over ``columns``.

    Parameters
    ----------
    real, synthetic : list of ndarray, each (T_i, d) float32
        Scaled sequences (:meth:`Scaler.sequences`).
    columns : list of int
        The numerical value columns (category codes have no mean).

    Returns
    -------
    dict
        ``{statistic: 1 − KS}`` in [0, 1], 1 = the same distribution of that statistic over sequences.
    """
    return {
        name: float(
            np.mean(
                [
                    _ks_complement(
                        np.array([stat(x[:, c]) for x in real]), np.array([stat(x[:, c]) for x in synthetic])
                    )
                    for c in columns
                ]
            )
        )
        for name, stat in MSAS_STATISTICS.items()
    }


def inter_row_msas(real: list[np.ndarray], synthetic: list[np.ndarray], columns: list[int]) -> float:
    """SDMetrics' InterRowMSAS (one row apart) averaged over ``columns``: per sequence the mean
    difference between consecutive rows, and 1 − KS between the real and the synthetic sequences'
    means; sequences of one row are left out. Arguments as :func:`statistic_msas`; returns [0, 1]."""

    def means(seqs: list[np.ndarray], c: int) -> np.ndarray:
        return np.array([np.diff(x[:, c]).mean() for x in seqs if len(x) > 1])

    return float(np.mean([_ks_complement(means(real, c), means(synthetic, c)) for c in columns]))


def _shuffled_time(w: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(
        np.take_along_axis(
            w, rng.permuted(np.tile(np.arange(w.shape[1]), (len(w), 1)), axis=1)[..., None], axis=1
        )
    )


def evaluate_series(
    real_train: SeriesSet,
    synthetic: SeriesSet,
    real_test: SeriesSet | None = None,
    *,
    seed: int = 0,
    iterations: tuple[int, int] = (DISCRIMINATIVE_ITERATIONS, PREDICTIVE_ITERATIONS),
    references: bool = True,
    target: str | None = None,
) -> Evaluation:
    """Score ``synthetic`` against the real series (see the module docstring).

    Parameters
    ----------
    real_train : SeriesSet
        The series the model was fitted on.
    synthetic : SeriesSet
        The generated series (same value columns).
    real_test : SeriesSet or None
        Real data the model never saw: the predictive score's test windows (else the training
        windows), the nearest-window holdout and the ``real test`` reference row.
    seed : int
        Seeds every subset and post-hoc model.
    iterations : (int, int)
        The classifier's and the predictor's training iterations.
    references : bool
        Also score the reference rows (discriminative, Context-FID, correlational): real test
        windows, real windows with their steps shuffled, and rows shuffled across time (independent
        rows).
    target : str or None
        Keyed sequences with a real test part: the categorical context column whose class the
        sequence-classification TSTR predicts; ``None`` takes the only categorical context column, if
        there is exactly one.

    Returns
    -------
    Evaluation
        ``fidelity`` (discriminative score, Context-FID, correlational score, autocorrelation error;
        keyed: length and context similarity, StatisticMSAS and InterRowMSAS), ``utility``
        (predictive score and its real reference; with ``references`` and no ``real_test``, the
        held-out pair too), ``privacy`` (with a holdout: nearest windows and
        the membership attack on windows); ``details["references"]``.

    Raises
    ------
    DataError
        Missing columns, or series too short for a window on either side.
    """
    from scipy.stats import ks_2samp

    ev = Evaluation()
    clock = time.perf_counter()
    scaler = Scaler(real_train)
    real_seqs, synth_seqs = scaler.sequences(real_train), scaler.sequences(synthetic)
    test_seqs = scaler.sequences(real_test) if real_test is not None else None
    length = window_length(real_seqs)
    real_w, synth_w = windows(real_seqs, length, seed=seed), windows(synth_seqs, length, seed=seed)
    if not len(synth_w):
        raise DataError(f"the synthetic series has no window of {length} steps; sample longer series")
    test_w = (
        windows(test_seqs, length, seed=seed) if test_seqs else np.zeros((0, *real_w.shape[1:]), np.float32)
    )
    disc, pred = iterations
    refs: dict[str, np.ndarray] = {}
    if references:
        if len(test_w) >= 5:
            refs["real test"] = test_w
        refs["shuffled time"] = _shuffled_time(real_w, seed)
        rows = np.concatenate(real_seqs)
        rows = rows[np.random.default_rng(seed).permutation(len(rows))]
        refs["independent rows"] = windows([rows], length, seed=seed)
    fids = context_fids(real_w, {"synthetic": synth_w, **refs}, seed=seed)
    fid = {
        "discriminative_score": discriminative_score(real_w, synth_w, seed=seed, iterations=disc),
        "context_fid": fids["synthetic"],
        "correlational_score": correlational_score(real_w, synth_w, seed=seed),
        "autocorrelation_error": float(np.abs(autocorrelation(real_w) - autocorrelation(synth_w)).mean()),
    }
    if real_train.keyed and synthetic.keyed:
        fid["sequence_length_similarity"] = 1.0 - float(
            ks_2samp(real_train.lengths(), synthetic.lengths()).statistic
        )
        if real_train.context_columns:
            from simulacra.evaluate.fidelity import column_shapes
            from simulacra.metadata import Metadata

            ctx = real_train.context()
            fid["context_shapes"] = float(
                column_shapes(ctx, synthetic.context(), Metadata.detect(ctx))["score"]
            )
        numeric = scaler.numeric_columns()
        if numeric:
            by_statistic = statistic_msas(real_seqs, synth_seqs, numeric)
            fid["statistic_msas"] = float(np.mean(list(by_statistic.values())))
            fid["inter_row_msas"] = inter_row_msas(real_seqs, synth_seqs, numeric)
            ev.details["statistic_msas"] = by_statistic
    ev.metrics["fidelity"] = fid
    ev.details["window"] = {
        "length": length,
        "real": len(real_w),
        "synthetic": len(synth_w),
        "test": len(test_w),
    }
    ev.seconds["fidelity"] = time.perf_counter() - clock

    clock = time.perf_counter()
    target_w = test_w if len(test_w) else real_w
    ev.metrics["utility"] = {
        "predictive_score": predictive_score(synth_w, target_w, seed=seed, iterations=pred),
        "predictive_score_real": predictive_score(real_w, target_w, seed=seed, iterations=pred),
    }
    if references and not len(test_w):
        early, later = held_out_windows(real_seqs, length, seed=seed)
        if len(early) and len(later):
            ev.metrics["utility"] |= {
                "predictive_score_heldout": predictive_score(synth_w, later, seed=seed, iterations=pred),
                "predictive_score_real_heldout": predictive_score(early, later, seed=seed, iterations=pred),
            }
    label = sequence_target(real_train, synthetic, real_test, target)
    if label is not None:
        task = sequence_classification(scaler, real_train, synthetic, real_test, label, seed=seed)
        ev.metrics["utility"] |= {"tstr_accuracy": task["tstr"], "trtr_accuracy": task["trtr"]}
        ev.details["sequence_classification"] = task
    ev.seconds["utility"] = time.perf_counter() - clock
    if len(test_w) >= 5:
        attack = window_membership(real_w, test_w, synth_w, seed=seed)
        ev.metrics["privacy"] = {
            "window_dcr_share": window_dcr_share(real_w, test_w, synth_w, seed=seed),
            "window_membership_auc": attack["auc"],
            "window_membership_tpr_at_1pct_fpr": attack["tpr_at_fpr"],
        }
        ev.details["window_membership"] = attack
    else:
        ev.skipped["privacy"] = "no real test series to hold out"
    if references:
        clock = time.perf_counter()
        ev.details["references"] = {
            name: {
                "discriminative_score": discriminative_score(real_w, w, seed=seed, iterations=disc),
                "context_fid": fids[name],
                "correlational_score": correlational_score(real_w, w, seed=seed),
            }
            for name, w in refs.items()
        }
        ev.seconds["references"] = time.perf_counter() - clock
    ev.details["acf"] = {
        "real": autocorrelation(real_w).tolist(),
        "synthetic": autocorrelation(synth_w).tolist(),
    }
    return ev


def sequence_target(
    real_train: SeriesSet, synthetic: SeriesSet, real_test: SeriesSet | None, target: str | None
) -> str | None:
    """The context column the sequence-classification TSTR predicts: ``target``, or the only
    categorical context column (text, or at most 10 distinct numbers); ``None`` when there is no such task (one series, no real test part,
    no categorical context, or several and no ``target``).

    Raises
    ------
    DataError
        ``target`` is not a context column of the real and synthetic sequences.
    """
    if not (real_train.keyed and synthetic.keyed and real_test is not None and real_test.keyed):
        return None
    context = [c for c in real_train.context_columns if c in synthetic.context_columns]
    if target is not None:
        if target not in context:
            raise DataError(
                f"`target` {target!r} is not a context column of the sequences; give one of: "
                f"{', '.join(context) or '(none: fit with `context_columns`)'}"
            )
        return target
    frame = real_train.frame
    categorical = [
        c for c in context if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].nunique() <= 10
    ]
    return categorical[0] if len(categorical) == 1 else None


def sequence_features(sequences: list[np.ndarray]) -> np.ndarray:
    """``(S, 6·d + 1)`` float64: per sequence, each column's mean, standard deviation, minimum, maximum,
    first and last value (of ``(T_i, d)`` scaled rows), and the length."""
    rows = []
    for x in sequences:
        x = np.asarray(x, np.float64)
        stats = (
            [x.mean(0), x.std(0), x.min(0), x.max(0), x[0], x[-1]] if len(x) else [np.zeros(x.shape[1])] * 6
        )
        rows.append(np.concatenate([*stats, [len(x)]]))
    return np.asarray(rows, np.float64)


def sequence_classification(
    scaler: Scaler,
    real_train: SeriesSet,
    synthetic: SeriesSet,
    real_test: SeriesSet,
    target: str,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """TSTR and TRTR for sequence classification: a ``HistGradientBoostingClassifier`` (scikit-learn,
    seeded) on :func:`sequence_features` predicting each sequence's ``target`` context class, trained
    on the synthetic or the real training sequences and scored by accuracy on the real test ones.

    Returns
    -------
    dict
        ``target``, ``tstr``, ``trtr``, ``majority`` (the accuracy of always answering the training
        sequences' commonest class), ``classes`` and the three sets' sequence counts.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    def part(series: SeriesSet) -> tuple[np.ndarray, np.ndarray]:
        labels = series.context()[target].astype(str).to_numpy()
        return sequence_features(scaler.sequences(series)), labels

    x_real, y_real = part(real_train)
    x_syn, y_syn = part(synthetic)
    x_test, y_test = part(real_test)

    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        if len(set(y)) < 2:  # one class only: the classifier answers it
            return float(np.mean(y_test == y[0])) if len(y) else 0.0
        model = HistGradientBoostingClassifier(random_state=seed).fit(x, y)
        return float(np.mean(model.predict(x_test) == y_test))

    classes, counts = np.unique(y_real, return_counts=True)
    return {
        "target": target,
        "tstr": accuracy(x_syn, y_syn),
        "trtr": accuracy(x_real, y_real),
        "majority": float(np.mean(y_test == classes[np.argmax(counts)])),
        "classes": len(classes),
        "sequences": {"real": len(y_real), "synthetic": len(y_syn), "test": len(y_test)},
    }


def augmentation_effect(
    real_train: SeriesSet, augmented: SeriesSet, real_test: SeriesSet, *, seed: int = 0
) -> dict[str, float]:
    """What augmented copies do for the TimeGAN forecasting task: the predictive score (MAE on
    ``real_test``'s windows, lower is better) of the predictor trained on the real training windows,
    and on those with the augmented windows added; and the discriminative score of the augmented
    windows against the real ones (how far the copies moved from the data).

    Returns
    -------
    dict
        ``predictive_score_real``, ``predictive_score_augmented``, ``discriminative_score``.

    Raises
    ------
    DataError
        Missing columns, or series too short for a window.
    """
    scaler = Scaler(real_train)
    real_seqs, aug_seqs = scaler.sequences(real_train), scaler.sequences(augmented)
    length = window_length(real_seqs)
    real_w, aug_w = windows(real_seqs, length, seed=seed), windows(aug_seqs, length, seed=seed)
    test_w = windows(scaler.sequences(real_test), length, seed=seed)
    if not len(aug_w) or not len(test_w):
        raise DataError(f"no window of {length} steps in the augmented or test series; give longer series")
    return {
        "predictive_score_real": predictive_score(real_w, test_w, seed=seed),
        "predictive_score_augmented": predictive_score(np.concatenate([real_w, aug_w]), test_w, seed=seed),
        "discriminative_score": discriminative_score(real_w, aug_w, seed=seed),
    }
