"""Mixing curves: how much synthetic data to add to real data, and whether it helps at all.

Protocol (the TSTR/TRTR protocol of Esteban et al. 2017 extended to mixtures, as in the data
augmentation studies of, e.g., Shi et al. 2025 and Manousakas & Aydöre 2023, "On the usefulness of
synthetic tabular data generation"):

1. For every real fraction ``f`` and repeat ``r`` (seed ``seed + r``), draw ``real(f)``: a stratified
   (by the target's classes; random for regression) subsample of the real training rows holding
   ``round(f · n_c)`` rows of each class ``c`` (at least one).
2. Fit the synthesizer on ``real(f)`` **only** — it never sees the rows the downstream model lacks —
   and sample ``max(ratios) · |real(f)|`` rows once. Ratio ``ρ`` uses the first ``ρ · |real(f)|`` of
   them, so the synthetic sets are nested and the curves compare like with like.
3. Train each downstream model on ``real(f)`` + those rows, for every ratio (ratio 0 is real only), and
   on ``|real(f)|`` synthetic rows alone; score every variant on the same real test rows
   (:class:`~simulacra.evaluate.utility.Downstream`: HistGradientBoosting and logistic regression;
   ROC-AUC, accuracy, F1, recall and balanced accuracy of the minority class, or R² and RMSE).

The verdict for a fraction compares each ratio with real only *within a repeat* (paired
differences): a change counts only when the mean difference exceeds both its standard deviation over
the repeats and 0.002; otherwise the verdict says that synthetic rows changed nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulacra.errors import ConfigError
from simulacra.evaluate._features import label_values
from simulacra.evaluate.utility import DOWNSTREAM_MODELS, Downstream, task_of
from simulacra.metadata import Metadata
from simulacra.validation import MAX_SEED, config_error

#: the metric a verdict speaks of, per task
HEADLINE = {
    "classification": "roc_auc",
    "regression": "r2",
    "image classification": "accuracy",
    "audio classification": "accuracy",
    "text classification": "accuracy",
}
#: metrics where lower is better
LOWER_IS_BETTER = frozenset({"rmse"})
#: metric names as printed
METRIC_NAMES = {
    "roc_auc": "ROC-AUC",
    "accuracy": "accuracy",
    "f1": "minority-class F1",
    "recall": "minority-class recall",
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "r2": "R²",
    "rmse": "RMSE",
}
#: the tidy results' columns: one row per fraction × variant × ratio × repeat × downstream model × metric
COLUMNS = [
    "experiment",
    "fraction",
    "n_real",
    "method",
    "variant",
    "ratio",
    "n_synthetic",
    "repeat",
    "seed",
    "downstream",
    "metric",
    "value",
]


class Steps:
    """Counts an experiment's steps and reports each to ``on_progress(done, total, message)``."""

    def __init__(self, total: int, on_progress: Callable[[int, int, str], None] | None) -> None:
        self.total, self.done, self.on_progress = total, 0, on_progress

    def __call__(self, message: str) -> None:
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.total, message)


def tidy_rows(scores: dict[str, Any], **fields: Any) -> list[dict[str, Any]]:
    """One :data:`COLUMNS` row per metric of ``scores`` (a ``note`` is skipped); ``fields`` give the
    other columns."""
    return [{**fields, "metric": m, "value": v} for m, v in scores.items() if m != "note"]


def mixing_variants(
    real: Any,
    synthetic: Any,
    ratios: Sequence[float],
    take: Callable[[Any, int], Any],
    join: Callable[[list[Any]], Any],
) -> list[tuple[str, float, Any, int]]:
    """The training sets of one (repeat, fraction) cell, as ``(variant, ratio, data, n_synthetic)``:
    real only (ratio 0), real plus the first ``round(ρ · n)`` synthetic items for every ratio ``ρ > 0``
    (nested sets, step 2 of the module docstring), and ``n`` synthetic items alone (ratio NaN), where
    ``n = len(real)``. ``take(data, k)`` is the first ``k`` items of a set, ``join(sets)`` their
    concatenation: the only two things a modality says."""
    n_real = len(real)
    variants: list[tuple[str, float, Any, int]] = [("real", 0.0, real, 0)]
    for r in (r for r in ratios if r > 0):
        k = round(r * n_real)
        variants.append(("real+synthetic", r, join([real, take(synthetic, k)]), k))
    variants.append(("synthetic", float("nan"), take(synthetic, n_real), n_real))
    return variants


def synthetic_needed(ratios: Sequence[float], n_real: int) -> int:
    """How many synthetic items one cell samples: enough for the largest ratio and for the
    synthetic-only variant (``n_real``), drawn once so that the mixed sets are nested."""
    return max(math.ceil(max(ratios, default=0.0) * n_real), n_real)


#: a change smaller than this is "nothing", whatever the spread
MIN_EFFECT = 0.002
#: the fewest real rows a fraction may leave (the synthesizer and the downstream model need rows)
MIN_REAL_ROWS = 20


class MixSettings(BaseModel):
    """The experiment's settings, checked before any work (pydantic, strict)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    fractions: list[float] = Field(min_length=1, max_length=20)
    ratios: list[float] = Field(min_length=1, max_length=20)
    repeats: int = Field(ge=1, le=100)
    seed: int = Field(ge=0, le=MAX_SEED)
    downstream: list[str] = Field(min_length=1)


def check_settings(
    fractions: Sequence[float], ratios: Sequence[float], repeats: int, seed: int, downstream: Sequence[str]
) -> MixSettings:
    """Validate the settings: fractions in (0, 1], ratios in [0, 10], known downstream models.

    Raises
    ------
    ConfigError
        One line naming the bad value and what is allowed.
    """
    try:
        s = MixSettings(
            fractions=[float(f) for f in fractions],
            ratios=[float(r) for r in ratios],
            repeats=repeats,
            seed=seed,
            downstream=list(downstream),
        )
    except ValidationError as exc:
        raise config_error(exc, "mix") from None
    for f in s.fractions:
        if not 0 < f <= 1 or not math.isfinite(f):
            raise ConfigError(
                f"fraction {f:g} is not in (0, 1]; give shares of the real training rows, e.g. 0.05"
            )
    for r in s.ratios:
        if not 0 <= r <= 10 or not math.isfinite(r):
            raise ConfigError(f"ratio {r:g} is not in [0, 10]; give synthetic rows per real row, e.g. 0.5")
    for d in s.downstream:
        if d not in DOWNSTREAM_MODELS:
            raise ConfigError(f"unknown downstream model {d!r}; choose from {', '.join(DOWNSTREAM_MODELS)}")
    s.fractions = sorted(set(s.fractions))
    s.ratios = sorted(set(s.ratios) | {0.0})
    return s


def stratified_fraction(
    df: pd.DataFrame, fraction: float, target: str | None, *, classification: bool, seed: int
) -> pd.DataFrame:
    """A subsample of ``df`` holding ``round(fraction · n_c)`` rows (at least one) of every class ``c``
    of ``target`` (classification), or ``round(fraction · n)`` random rows; ``fraction = 1`` returns
    ``df``. Rows keep their original order; the same seed gives the same rows."""
    if fraction >= 1:
        return df
    rng = np.random.default_rng(seed)
    if classification and target is not None:
        labels = label_values(df[target])
        picked = []
        for c in sorted(set(labels)):
            idx = np.flatnonzero(labels == c)
            k = max(1, round(fraction * len(idx)))
            picked.append(rng.choice(idx, k, replace=False))
        rows = np.sort(np.concatenate(picked))
    else:
        rows = np.sort(rng.choice(len(df), max(1, round(fraction * len(df))), replace=False))
    return df.iloc[rows]


def percent(fraction: float) -> str:
    """``0.05`` → ``"5 %"``, ``0.005`` → ``"0.5 %"`` (a no-break space, so a wrapped line never starts
    with the sign)."""
    return f"{100 * fraction:.3g}\u00a0%"


@dataclass
class MixResult:
    """What :func:`mixing_curves` measured.

    ``results``: the tidy table (:data:`COLUMNS`); ``task``/``target``/``model``: what was predicted
    and which synthesizer made the rows; ``best``: the best mixed training set at the largest fraction
    (real + synthetic rows with a boolean ``synthetic`` column; ``None`` unless asked for) and
    ``best_ratio``; ``seconds``: fit seconds per fraction (mean over repeats) and the total.
    """

    results: pd.DataFrame
    task: str
    target: str
    model: str
    best: pd.DataFrame | None = None
    best_ratio: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    unit: str = "rows"

    @property
    def headline(self) -> str:
        return HEADLINE[self.task]

    def summary(self) -> pd.DataFrame:
        """Mean ± sd over repeats: one row per experiment × fraction × method × variant × ratio ×
        downstream model × metric, with ``mean``, ``sd`` (0 for one repeat) and ``repeats``."""
        keys = [
            "experiment",
            "fraction",
            "n_real",
            "method",
            "variant",
            "ratio",
            "n_synthetic",
            "downstream",
            "metric",
        ]
        grouped = self.results.groupby(keys, dropna=False, sort=False)["value"]
        out = grouped.agg(mean="mean", sd="std", repeats="count").reset_index()
        out["sd"] = out["sd"].fillna(0.0)
        return out

    def best_ratio_at(self, fraction: float, downstream: str) -> float:
        """The ratio (0 = real only; the synthetic-only variant is not a candidate) whose mixed training
        set scored best at ``fraction`` on the headline metric of ``downstream``, mean over repeats."""
        summary = self.summary()
        top = summary[
            (summary.experiment == "mixing")
            & (summary.fraction == fraction)
            & (summary.variant != "synthetic")
            & (summary.downstream == downstream)
            & (summary.metric == self.headline)
        ]
        sign = -1.0 if self.headline in LOWER_IS_BETTER else 1.0
        return float(top.ratio.iloc[int(np.argmax(sign * top["mean"].to_numpy()))])

    def verdicts(self, downstream: str = "hgb", metric: str | None = None) -> list[str]:
        """One plain-language sentence per model and fraction on ``metric`` (default: the headline metric) for
        the ``downstream`` model (see the module docstring for when a change counts)."""
        metric = metric or self.headline
        res = self.results
        res = res[(res.experiment == "mixing") & (res.downstream == downstream) & (res.metric == metric)]
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        name = METRIC_NAMES.get(metric, metric)
        lines = []
        several = res.method.nunique() > 1
        for (method, fraction), part in res.groupby(["method", "fraction"], sort=False):
            n_real = int(part.n_real.iloc[0])
            base = part[part.variant == "real"].set_index("repeat")["value"]
            where = f"{method}: at" if several else "At"
            where += f" {percent(fraction)} real data ({n_real:,} {self.unit})"
            effects = []
            for ratio, rows in part[part.variant == "real+synthetic"].groupby("ratio"):
                diff = rows.set_index("repeat")["value"] - base
                diff = diff.dropna()
                sd = float(diff.std()) if len(diff) > 1 else 0.0
                effects.append((float(ratio), float(diff.mean()), sd))
            if not effects:
                lines.append(f"{where}: no synthetic ratio was measured.")
                continue
            best = max(effects, key=lambda e: sign * e[1])
            counts = [e for e in effects if abs(e[1]) > max(MIN_EFFECT, e[2])]
            ratio, mean, sd = best
            if sign * mean > max(MIN_EFFECT, sd):
                verb = "raised" if mean > 0 else "lowered"
                text = (
                    f"{where}, adding {percent(ratio)} synthetic {self.unit} {verb} {name} by {abs(mean):.3f} ± {sd:.3f} "
                    f"(the best of {len(effects)} ratios; {base.mean():.3f} → {base.mean() + mean:.3f})."
                )
            elif counts and all(sign * e[1] < 0 for e in counts) and len(counts) == len(effects):
                text = (
                    f"{where}, every ratio made {name} worse; the least harm was {mean:+.3f} ± {sd:.3f} at "
                    f"{percent(ratio)} synthetic {self.unit}."
                )
            else:
                text = (
                    f"{where}, synthetic {self.unit} changed nothing: the best ratio ({percent(ratio)}) moved {name} by "
                    f"{mean:+.3f} ± {sd:.3f}, within the noise."
                )
            alone = part[part.variant == "synthetic"]["value"]
            if len(alone):
                text += (
                    f" Synthetic {self.unit} alone: {alone.mean():.3f} ± {(alone.std() if len(alone) > 1 else 0):.3f}"
                    f" against {base.mean():.3f} for the real {self.unit}."
                )
            if len(base) < 2:
                text += " One repeat: no spread was measured, so read any change as unconfirmed."
            lines.append(text)
        return lines

    def to_csv(self, path) -> None:
        self.results.to_csv(path, index=False)

    @classmethod
    def combine(cls, results: list[MixResult]) -> MixResult:
        """One result holding several models' runs (their rows, seconds and the first best set)."""
        first = results[0]
        out = cls(
            pd.concat([r.results for r in results], ignore_index=True),
            first.task,
            first.target,
            ",".join(r.model for r in results),
            first.best,
            first.best_ratio,
            unit=first.unit,
        )
        for r in results:
            out.seconds.update(
                {f"{r.model} {k}": v for k, v in r.seconds.items()} if len(results) > 1 else r.seconds
            )
        return out


def _make_model(model: str, params: dict[str, Any], seed: int):
    from simulacra.synthesizers import make
    from simulacra.synthesizers.base import model_class

    names = model_class(model).param_names()
    extra = {k: v for k, v in (("seed", seed), ("verbose", False)) if k in names and k not in params}
    return make(model, **params, **extra)


def _mixing_cell(
    train: pd.DataFrame,
    test: pd.DataFrame,
    metadata: Metadata,
    target: str,
    model: str,
    params: dict[str, Any],
    f: float,
    repeat: int,
    run_seed: int,
    ratios: Sequence[float],
    downstream: Sequence[str],
    keep: bool,
    step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One (repeat, fraction) cell of :func:`mixing_curves`: the synthesizer fitted on the stratified
    subset and sampled once, every variant scored by every downstream model. Returns ``{"rows": tidy
    rows, "fit_s": seconds}``, with ``keep`` also ``{"real": subset, "kept": ratio → synthetic rows}``.
    A function of its arguments alone (every draw is seeded by ``run_seed``), so it runs the same in
    this process or as a Ray task."""
    step = step or (lambda message: None)
    classification = task_of(metadata, target) == "classification"
    real = stratified_fraction(train, f, target, classification=classification, seed=run_seed)
    n_real = len(real)
    tic = time.perf_counter()
    synth = _make_model(model, params, run_seed).fit(real, metadata)
    synthetic = synth.sample(synthetic_needed(ratios, n_real), seed=run_seed)
    out: dict[str, Any] = {"fit_s": time.perf_counter() - tic, "rows": []}
    step(f"repeat {repeat + 1}, {percent(f)}: {model} fitted on {n_real:,} rows")
    if keep:
        out["kept"] = {r: synthetic.iloc[: round(r * n_real)] for r in ratios}
        out["real"] = real
    variants = mixing_variants(
        real, synthetic, ratios, lambda d, k: d.iloc[:k], lambda p: pd.concat(p, ignore_index=True)
    )
    for name in downstream:
        scorer = Downstream(metadata, real, test, target, model=name, seed=run_seed)
        for variant, ratio, data, n_syn in variants:
            out["rows"] += tidy_rows(
                scorer.score(data),
                experiment="mixing",
                fraction=f,
                n_real=n_real,
                method=model,
                variant=variant,
                ratio=ratio,
                n_synthetic=n_syn,
                repeat=repeat,
                seed=run_seed,
                downstream=name,
            )
            step(f"repeat {repeat + 1}, {percent(f)}: {name} on {variant} ×{ratio:g}")
    return out


def mixing_curves(
    train: pd.DataFrame,
    test: pd.DataFrame,
    metadata: Metadata,
    target: str,
    *,
    model: str,
    params: dict[str, Any] | None = None,
    fractions: Sequence[float] = (0.01, 0.05, 0.1, 1.0),
    ratios: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0),
    repeats: int = 3,
    seed: int = 0,
    downstream: Sequence[str] = DOWNSTREAM_MODELS,
    keep_best: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> MixResult:
    """Run the mixing experiment of the module docstring.

    Parameters
    ----------
    train, test : DataFrame
        Real training rows (subsampled per fraction) and real test rows (never subsampled).
    metadata : Metadata
        Metadata of ``train``; ``target`` categorical/boolean (classification) or numerical.
    target : str
        The column the downstream models predict.
    model, params : str, dict
        Registry name and hyper-parameters of the synthesizer (``seed`` is set per repeat).
    fractions : sequence of float in (0, 1]
        Shares of the real training rows.
    ratios : sequence of float in [0, 10]
        Synthetic rows per real row; 0 (real only) is always included.
    repeats : int
        Repeats with seeds ``seed, seed + 1, …`` (subsample, synthesizer, downstream models).
    downstream : sequence of {"hgb", "logreg"}
        Downstream models.
    keep_best : bool
        Keep the best mixed training set at the largest fraction (by the headline metric of the first
        downstream model, mean over repeats), rows of repeat 0, in :attr:`MixResult.best`.
    on_progress : callable ``(done, total, message)``, optional
        Called after every synthesizer fit and downstream model (with ``workers``: as each cell ends).
    workers, address : int, str, optional
        Run every (repeat, fraction) cell as a Ray task, at most ``workers`` at a time
        (:func:`simulacra.scale.distributed.run_tasks`; ``address``: a cluster, else a local
        instance). The results are the same as without (every draw is seeded per cell).

    Returns
    -------
    MixResult

    Raises
    ------
    ConfigError
        Bad settings, or a fraction that leaves fewer than :data:`MIN_REAL_ROWS` rows; Ray missing.
    MetadataError
        ``target`` is not a column, or an id/datetime column.
    """
    s = check_settings(fractions, ratios, repeats, seed, downstream)
    task = task_of(metadata, target)
    for f in s.fractions:
        if round(f * len(train)) < MIN_REAL_ROWS:
            raise ConfigError(
                f"fraction {f:g} of {len(train):,} rows leaves {round(f * len(train))} rows; give fractions that "
                f"leave at least {MIN_REAL_ROWS}"
            )
    params = dict(params or {})
    total = s.repeats * len(s.fractions) * (1 + len(s.downstream) * (len(s.ratios) + 1))
    rows: list[dict[str, Any]] = []
    fit_seconds: dict[float, list[float]] = {f: [] for f in s.fractions}
    kept: dict[float, pd.DataFrame] = {}
    kept_real: pd.DataFrame | None = None
    clock = time.perf_counter()

    step = Steps(total, on_progress)

    cells = [(repeat, f) for repeat in range(s.repeats) for f in s.fractions]
    last = s.fractions[-1]
    common = (train, test, metadata, target, model, params)
    jobs = [
        (*common, f, repeat, s.seed + repeat, s.ratios, s.downstream, keep_best and repeat == 0 and f == last)
        for repeat, f in cells
    ]
    if workers is None:
        outs = [_mixing_cell(*job, step=step) for job in jobs]
    else:
        from simulacra.scale.distributed import run_tasks

        per_cell = 1 + len(s.downstream) * (len(s.ratios) + 1)

        def done(i: int, _result: Any) -> None:
            repeat, f = cells[i]
            for _ in range(per_cell):
                step(f"repeat {repeat + 1}, {percent(f)}: {model} fitted and scored (Ray task)")

        outs = run_tasks(_mixing_cell, jobs, workers=workers, address=address, on_done=done)
    for (_, f), out in zip(cells, outs, strict=True):
        rows += out["rows"]
        fit_seconds[f].append(out["fit_s"])
        if "kept" in out:
            kept, kept_real = out["kept"], out["real"]
    result = MixResult(pd.DataFrame(rows, columns=COLUMNS), task, target, model)
    result.seconds = {f"fit {percent(f)}": float(np.mean(v)) for f, v in fit_seconds.items()}
    if keep_best:
        best_ratio = result.best_ratio = result.best_ratio_at(s.fractions[-1], s.downstream[0])
        flag = marker_column(kept_real.columns)
        result.best = pd.concat(
            [kept_real.assign(**{flag: False}), kept[best_ratio].assign(**{flag: True})], ignore_index=True
        )
    result.seconds["all fits and scores"] = time.perf_counter() - clock
    return result


def marker_column(columns) -> str:
    """The name of the column that marks synthetic rows in a mixed training set: ``synthetic``, or the
    first of ``synthetic_1``, ``synthetic_2``, … the table does not hold (a user's own ``synthetic``
    column is never overwritten)."""
    taken = {str(c) for c in columns}
    name, k = "synthetic", 0
    while name in taken:
        k += 1
        name = f"synthetic_{k}"
    return name


#: the fewest optimizer steps a downstream CNN takes, so that a 1 % subset is not judged after 5 steps
MIN_CNN_STEPS = 300


class SetDownstream:
    """The downstream classifier of a mixing experiment on labelled sets (images, texts): trained on
    one set, it predicts the class names of another's items.

    Attributes
    ----------
    name : str
        As shown in the results' ``downstream`` column (``cnn``, ``tfidf-logreg``).
    task : str
        As in :data:`HEADLINE` (``"image classification"``, ``"text classification"``).
    unit : str
        What one item is called in the verdicts (``images``, ``texts``).
    modality : str
        The synthesizers' :attr:`~simulacra.synthesizers.base.BaseSynthesizer.modality` it scores.
    """

    name: str
    task: str
    unit: str
    modality: str

    def predict(self, train: Any, test: Any, seed: int) -> np.ndarray:  # pragma: no cover - abstract
        """Class names ``(len(test),)`` (object array of str) predicted for ``test`` by a model trained
        on the labelled ``train``."""
        raise NotImplementedError


class CnnDownstream(SetDownstream):
    """The local CNN (:class:`~simulacra.evaluate.image.ImageClassifier`, Adam 1e-3) trained by
    :func:`~simulacra.evaluate.image.train_classifier` for its 5 epochs, or for at least ``min_steps``
    optimizer steps (batches of 128) when that is more, so small subsets are not scored undertrained."""

    name, task, unit, modality = "cnn", "image classification", "images", "image"

    def __init__(self, min_steps: int | None = None) -> None:
        self.min_steps = min_steps  # None: MIN_CNN_STEPS, read when the CNN trains

    def predict(self, train, test, seed):
        from simulacra.evaluate.image import CLASSIFIER_EPOCHS, predict, train_classifier

        floor = MIN_CNN_STEPS if self.min_steps is None else self.min_steps
        epochs = max(CLASSIFIER_EPOCHS, math.ceil(floor / math.ceil(len(train) / 128)))
        cnn = train_classifier(train, epochs=epochs, seed=seed)
        return np.asarray(train.class_names, dtype=object)[predict(cnn, test.images)]


class AudioCnnDownstream(SetDownstream):
    """The audio metrics' CNN on log-mel spectrograms (:func:`~simulacra.evaluate.audio.train_classifier`,
    its 30 epochs), trained on one set of recordings and scoring another (held-out speakers)."""

    name, task, unit, modality = "audio-cnn", "audio classification", "recordings", "audio"

    def predict(self, train, test, seed):
        from simulacra.evaluate.audio import predict, train_classifier

        cnn = train_classifier(train, seed=seed)
        return np.asarray(cnn.class_names, dtype=object)[predict(cnn, test)]


class TfidfDownstream(SetDownstream):
    """Logistic regression on TF-IDF word and character n-grams
    (:func:`~simulacra.evaluate.text.tfidf`, :func:`~simulacra.evaluate.text.classifier`), the
    features fitted on each training set's own texts."""

    name, task, unit, modality = "tfidf-logreg", "text classification", "texts", "text"

    def predict(self, train, test, seed):
        from simulacra.evaluate.text import classifier, tfidf

        features = tfidf(train.texts)
        model = classifier(features, train.texts, train.labels, seed)
        return np.asarray(train.class_names, dtype=object)[model.predict(features.transform(test.texts))]


def labelled_mixing_curves(
    train,
    test,
    downstream: SetDownstream,
    *,
    model: str,
    params: dict[str, Any] | None = None,
    fractions: Sequence[float] = (0.01, 0.05, 0.1, 1.0),
    ratios: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0),
    repeats: int = 1,
    seed: int = 0,
    keep_best: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> MixResult:
    """The mixing experiment of the module docstring on labelled sets (images, texts), with a
    ``downstream`` classifier of that modality.

    Each real fraction is a class-stratified subset (at least one item per class); the synthesizer is
    a class-conditional model of the same modality fitted on it, whose samples are class-balanced.
    Metrics on the real test items: accuracy, macro F1 and balanced accuracy (over class names, so
    that a subset lacking a class is scored like the rest).

    Parameters
    ----------
    train, test : ImageSet or TextSet
        Labelled real training and test sets.
    downstream : SetDownstream
        :class:`CnnDownstream` for images, :class:`TfidfDownstream` for texts.
    model, params, fractions, ratios, repeats, seed, keep_best, on_progress
        As for :func:`mixing_curves`.

    Returns
    -------
    MixResult
        ``task`` is ``downstream.task``; ``best`` (with ``keep_best``) is a set of the same type: the
        real items first, then the synthetic ones.

    Raises
    ------
    ConfigError
        Bad settings, unlabelled sets, a fraction leaving fewer than :data:`MIN_REAL_ROWS` items, or a
        model that is not a class-conditional model of the downstream's modality.
    """
    from sklearn.metrics import balanced_accuracy_score, f1_score

    s = check_settings(fractions, ratios, repeats, seed, ["hgb"])
    unit = downstream.unit
    if train.labels is None or test is None or test.labels is None:
        raise ConfigError(f"mixing needs labelled training and test {unit}; give a labelled set")
    params = dict(params or {})
    probe = _make_model(model, params, s.seed)
    if getattr(probe, "modality", "") != downstream.modality or not getattr(probe, "conditional", False):
        raise ConfigError(f"{model} is not a class-conditional {downstream.modality} model")
    for f in s.fractions:
        if round(f * len(train)) < MIN_REAL_ROWS:
            raise ConfigError(
                f"fraction {f:g} leaves {round(f * len(train))} {unit}; give at least {MIN_REAL_ROWS}"
            )
    total = s.repeats * len(s.fractions) * (len(s.ratios) + 2)
    rows = []
    fit_seconds: dict[float, list[float]] = {f: [] for f in s.fractions}
    labels = np.asarray(train.class_names, dtype=object)[train.labels].astype(str)
    truth = np.asarray(test.class_names, dtype=object)[test.labels]
    clock = time.perf_counter()
    best_sets: dict[float, Any] = {}
    step = Steps(total, on_progress)
    join = type(train).concat

    for repeat in range(s.repeats):
        run_seed = s.seed + repeat
        for f in s.fractions:
            if f >= 1:
                real = train
            else:
                rng = np.random.default_rng(run_seed)
                idx = [
                    rng.choice(
                        np.flatnonzero(labels == c), max(1, round(f * (labels == c).sum())), replace=False
                    )
                    for c in sorted(set(labels))
                ]
                real = train.subset(np.sort(np.concatenate(idx)))
            n_real = len(real)
            tic = time.perf_counter()
            synth = _make_model(model, params, run_seed).fit(real)
            synthetic = synth.sample(synthetic_needed(s.ratios, n_real), seed=run_seed)
            synthetic = synthetic.subset(np.random.default_rng(run_seed).permutation(len(synthetic)))
            fit_seconds[f].append(time.perf_counter() - tic)
            step(f"repeat {repeat + 1}, {percent(f)}: {model} fitted on {n_real:,} {unit}")
            variants = mixing_variants(real, synthetic, s.ratios, lambda d, k: d.subset(np.arange(k)), join)
            for variant, ratio, data, n_syn in variants:
                pred = downstream.predict(data, test, run_seed)
                scores = {
                    "accuracy": float(np.mean(pred == truth)),
                    "macro_f1": float(f1_score(truth, pred, average="macro")),
                    "balanced_accuracy": float(balanced_accuracy_score(truth, pred)),
                }
                rows += tidy_rows(
                    scores,
                    experiment="mixing",
                    fraction=f,
                    n_real=n_real,
                    method=model,
                    variant=variant,
                    ratio=ratio,
                    n_synthetic=n_syn,
                    repeat=repeat,
                    seed=run_seed,
                    downstream=downstream.name,
                )
                if keep_best and repeat == 0 and f == s.fractions[-1] and variant != "synthetic":
                    best_sets[ratio] = data
                step(f"repeat {repeat + 1}, {percent(f)}: {downstream.name} on {variant} ×{ratio:g}")
    result = MixResult(pd.DataFrame(rows, columns=COLUMNS), downstream.task, "label", model, unit=unit)
    result.seconds = {f"fit {percent(f)}": float(np.mean(v)) for f, v in fit_seconds.items()}
    if keep_best and best_sets:
        result.best_ratio = result.best_ratio_at(s.fractions[-1], downstream.name)
        result.best = best_sets[result.best_ratio]
    result.seconds["all fits and scores"] = time.perf_counter() - clock
    return result


def image_mixing_curves(train, test, *, model: str = "cgan", min_cnn_steps: int | None = None, **options):
    """:func:`labelled_mixing_curves` on labelled images with the local CNN
    (:class:`CnnDownstream` of at least ``min_cnn_steps`` steps, default :data:`MIN_CNN_STEPS`);
    ``options`` as there."""
    return labelled_mixing_curves(train, test, CnnDownstream(min_cnn_steps), model=model, **options)
