"""Class balancing: does a synthesizer fix an imbalanced target better than SMOTE?

Every method brings each class of the target up to the size of the largest one by adding rows to the
real training rows; the downstream models (:class:`~simulacra.evaluate.utility.Downstream`) are
trained on the result and scored on the same real test rows:

* ``none`` — the real rows as they are (the baseline);
* ``random oversampling`` — minority rows repeated at random (imbalanced-learn's ``RandomOverSampler``);
* ``SMOTE`` — Chawla et al. 2002: new minority rows on the segments between a minority row and one of
  its 5 nearest minority neighbours, on standardised numerics and one-hot categories (a category is
  then decoded as its block's largest entry), as SMOTE is used on mixed tables in practice;
* ``SMOTE-NC`` — Chawla et al. 2002, §6.1: the same for numerics, and each category set to the most
  frequent among the neighbours (imbalanced-learn's ``SMOTENC``; tables without categorical
  features skip it);
* one entry per synthesizer — fitted on the real training rows, it draws the missing rows of each
  class through its exact conditional sampling (:meth:`~simulacra.synthesizers.Synthesizer.sample_counts`).

Where this differs from common practice: numerical missing values are imputed with the column median
for the SMOTE variants only (SMOTE cannot interpolate a missing value); the synthesizers and random
oversampling keep them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import ConfigError
from simulacra.evaluate._features import label_values, numeric_values
from simulacra.evaluate.utility import Downstream, task_of
from simulacra.experiments.mix import COLUMNS, Steps, _make_model, check_settings, tidy_rows
from simulacra.metadata import NOT_LEARNED, Metadata

#: the reference methods, in the order they are shown
METHODS = ("none", "random oversampling", "SMOTE", "SMOTE-NC")
K_NEIGHBOURS = 5  # SMOTE's neighbours (the paper's and imbalanced-learn's default)


class _Codec:
    """Encodes a table's feature columns (not the target) for SMOTE and decodes resampled rows back:
    numerics as floats (median-imputed), categories as codes (SMOTE-NC) or one-hot blocks (SMOTE)."""

    def __init__(self, df: pd.DataFrame, metadata: Metadata, target: str) -> None:
        self.metadata = metadata
        self.columns = [c for c in metadata.names if c != target and metadata[c].sdtype not in NOT_LEARNED]
        self.numeric = [c for c in self.columns if metadata[c].sdtype in ("numerical", "datetime")]
        self.categorical = [c for c in self.columns if c not in self.numeric]
        self.levels = {c: sorted(set(label_values(df[c]))) for c in self.categorical}
        self.stats = {}
        for c in self.numeric:
            x = numeric_values(df[c], metadata[c].sdtype, metadata[c].format)
            finite = x[np.isfinite(x)]
            self.stats[c] = (
                float(np.median(finite)) if finite.size else 0.0,
                float(finite.mean()) if finite.size else 0.0,
                float(finite.std() or 1.0) if finite.size else 1.0,
            )

    def _numbers(self, df: pd.DataFrame, c: str) -> np.ndarray:
        x = numeric_values(df[c], self.metadata[c].sdtype, self.metadata[c].format)
        return np.where(np.isfinite(x), x, self.stats[c][0])

    def codes(self, df: pd.DataFrame) -> np.ndarray:
        """``(n, numerics + categoricals)``: numbers, then category codes."""
        cols = [self._numbers(df, c) for c in self.numeric]
        for c in self.categorical:
            index = {v: i for i, v in enumerate(self.levels[c])}
            cols.append(np.array([index[v] for v in label_values(df[c])], dtype=float))
        return np.column_stack(cols)

    def onehot(self, df: pd.DataFrame) -> np.ndarray:
        """``(n, numerics + Σ levels)``: standardised numbers, then one-hot blocks."""
        blocks = [
            ((self._numbers(df, c) - self.stats[c][1]) / self.stats[c][2])[:, None] for c in self.numeric
        ]
        for c in self.categorical:
            index = {v: i for i, v in enumerate(self.levels[c])}
            block = np.zeros((len(df), len(index)))
            block[np.arange(len(df)), [index[v] for v in label_values(df[c])]] = 1.0
            blocks.append(block)
        return np.hstack(blocks)

    def _frame(
        self, numbers: dict[str, np.ndarray], cats: dict[str, np.ndarray], like: pd.DataFrame
    ) -> pd.DataFrame:
        out = {}
        for c in self.columns:
            meta = self.metadata[c]
            if c in numbers:
                x = numbers[c]
                if meta.sdtype == "datetime":
                    out[c] = pd.to_datetime(x, unit="s")
                else:
                    out[c] = np.round(x) if meta.representation == "int" else x
            else:
                values = np.array(self.levels[c], dtype=object)[cats[c]]
                out[c] = np.where(values == "<missing>", None, values)
        frame = pd.DataFrame(out)
        for c in self.numeric:
            if self.metadata[c].sdtype == "numerical" and self.metadata[c].representation == "int":
                frame[c] = frame[c].astype(like[c].dtype if like[c].dtype.kind in "iu" else "float64")
        return frame

    def decode_codes(self, x: np.ndarray, like: pd.DataFrame) -> pd.DataFrame:
        k = len(self.numeric)
        numbers = {c: x[:, i] for i, c in enumerate(self.numeric)}
        cats = {c: np.rint(x[:, k + i]).astype(int) for i, c in enumerate(self.categorical)}
        return self._frame(numbers, cats, like)

    def decode_onehot(self, x: np.ndarray, like: pd.DataFrame) -> pd.DataFrame:
        numbers = {c: x[:, i] * self.stats[c][2] + self.stats[c][1] for i, c in enumerate(self.numeric)}
        cats, start = {}, len(self.numeric)
        for c in self.categorical:
            stop = start + len(self.levels[c])
            cats[c] = x[:, start:stop].argmax(1)
            start = stop
        return self._frame(numbers, cats, like)


def _oversampled(
    method: str, train: pd.DataFrame, codec: _Codec, target: str, seed: int
) -> pd.DataFrame | None:
    """The real rows plus the rows ``method`` adds so that every class has the largest class's count;
    ``None`` when the method does not apply (SMOTE-NC without categorical features)."""
    from imblearn.over_sampling import SMOTE, SMOTENC, RandomOverSampler

    y = label_values(train[target])
    if method == "none":
        return train
    if method == "random oversampling":
        idx, _ = RandomOverSampler(random_state=seed).fit_resample(np.arange(len(train))[:, None], y)
        return train.iloc[idx[:, 0]].reset_index(drop=True)
    smallest = int(pd.Series(y).value_counts().min())
    k = min(K_NEIGHBOURS, smallest - 1)
    if k < 1:
        raise ConfigError(f"the rarest class of {target!r} has {smallest} row; SMOTE needs at least 2")
    if method == "SMOTE":
        x = codec.onehot(train)
        xs, ys = SMOTE(k_neighbors=k, random_state=seed).fit_resample(x, y)
        new = codec.decode_onehot(xs[len(train) :], train)
    elif method == "SMOTE-NC":
        if not codec.categorical or not codec.numeric:
            return None
        x = codec.codes(train)
        mask = [False] * len(codec.numeric) + [True] * len(codec.categorical)
        xs, ys = SMOTENC(categorical_features=mask, k_neighbors=k, random_state=seed).fit_resample(x, y)
        new = codec.decode_codes(xs[len(train) :], train)
    else:
        raise ConfigError(f"unknown balancing method {method!r}")
    new[target] = ys[len(train) :]
    return pd.concat([train, new], ignore_index=True)


def deficits(train: pd.DataFrame, target: str) -> dict[str, int]:
    """Rows each class of ``target`` lacks to reach the largest class's count (0 for the largest)."""
    counts = pd.Series(label_values(train[target])).value_counts()
    counts = counts.drop("<missing>", errors="ignore")
    return {str(c): int(counts.max() - k) for c, k in counts.items()}


def balancing_comparison(
    train: pd.DataFrame,
    test: pd.DataFrame,
    metadata: Metadata,
    target: str,
    *,
    models: Sequence[str],
    params: dict[str, Any] | None = None,
    methods: Sequence[str] = METHODS,
    repeats: int = 3,
    seed: int = 0,
    downstream: Sequence[str] = ("hgb", "logreg"),
    on_progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Compare the balancing methods of the module docstring on the real test rows.

    Parameters
    ----------
    train, test : DataFrame
        Real training and test rows.
    metadata : Metadata
        Metadata of ``train``.
    target : str
        A categorical/boolean column: the class to balance and to predict.
    models : sequence of str
        Synthesizer registry names that balance by conditional sampling.
    params : dict
        Hyper-parameters for the synthesizers (``seed`` set per repeat).
    methods : sequence of str
        Reference methods among :data:`METHODS`.
    repeats, seed : int
        Repeats with seeds ``seed, seed + 1, …``.
    downstream : sequence of {"hgb", "logreg"}
        Downstream models.
    on_progress : callable ``(done, total, message)``, optional

    Returns
    -------
    DataFrame
        Tidy rows (:data:`~simulacra.experiments.mix.COLUMNS`) with ``experiment = "balancing"``,
        ``method`` the method or model, ``n_synthetic`` the rows added, ``ratio`` added ÷ real rows.

    Raises
    ------
    ConfigError
        Unknown method or bad settings. MetadataError: ``target`` is not categorical/boolean.
    """
    s = check_settings([1.0], [0.0], repeats, seed, downstream)
    if task_of(metadata, target) != "classification":
        raise ConfigError(f"`balance` needs a categorical target; {target!r} is {metadata[target].sdtype}")
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown balancing method {m!r}; choose from {', '.join(METHODS)}")
    codec = _Codec(train, metadata, target)
    need = deficits(train, target)
    step = Steps(s.repeats * (len(methods) + len(models)), on_progress)
    rows: list[dict[str, Any]] = []
    for repeat in range(s.repeats):
        run_seed = s.seed + repeat
        sets: list[tuple[str, pd.DataFrame]] = []
        for m in methods:
            data = _oversampled(m, train, codec, target, run_seed)
            if data is not None:
                sets.append((m, data))
            step(f"repeat {repeat + 1}: {m}")
        for name in models:
            tic = time.perf_counter()
            synth = _make_model(name, dict(params or {}), run_seed).fit(train, metadata)
            labels = {str(c): c for c in synth.categories(target)}
            counts = {labels[c]: k for c, k in need.items() if k > 0 and c in labels}
            extra = synth.sample_counts(target, counts, seed=run_seed)
            sets.append((name, pd.concat([train, extra], ignore_index=True)))
            step(f"repeat {repeat + 1}: {name} ({time.perf_counter() - tic:.0f} s)")
        for d in s.downstream:
            scorer = Downstream(metadata, train, test, target, model=d, seed=run_seed)
            for method, data in sets:
                added = len(data) - len(train)
                rows += tidy_rows(
                    scorer.score(data),
                    experiment="balancing",
                    fraction=1.0,
                    n_real=len(train),
                    method=method,
                    variant="balanced" if added else "real",
                    ratio=added / len(train),
                    n_synthetic=added,
                    repeat=repeat,
                    seed=run_seed,
                    downstream=d,
                )
    return pd.DataFrame(rows, columns=COLUMNS)
