"""Filters that drop low-quality synthetic rows, and sampling that tops up to the requested count.

* :class:`NearCopyFilter` (the privacy filter): drop synthetic rows whose Gower distance to the
  closest training row is below the ``percentile``-th percentile (default 1) of the same distance for
  real holdout rows — rows closer to a training row than almost any new real row would be.
* :class:`DetectionFilter`: drop the share ``q`` of synthetic rows that a real-vs-synthetic classifier
  (XGBoost's default classifier, the detection metric's model, on the same encoding) finds most
  clearly synthetic; each synthetic row is scored by a model fitted without it (3-fold cross-fitting),
  after the discriminator rejection sampling of Azadi et al. 2019 made deterministic.
* :class:`LabelFilter`: drop rows whose ``column`` value a classifier trained on the real rows
  (HistGradientBoosting, native categories) contradicts with probability ≥ ``p`` — its most likely
  class differs from the row's and has at least that probability.

:func:`filtered_sample` draws, filters and repeats until it holds ``n`` rows (at most
:data:`MAX_ROUNDS` rounds), or raises :class:`~simulacra.errors.ConfigError` saying how many it kept.
Every filter returns a :class:`FilterRecord` per round: rows seen, rows dropped and why.

Labelled sets (images, texts) take the label filter only: :func:`filtered_labelled` draws each class
from a class-conditional model and drops items the modality's real-trained classifier (the local CNN,
TF-IDF + logistic regression) gives another class with probability ≥ ``p``
(:func:`filtered_images`, :func:`filtered_texts`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold

from simulacra.errors import ConfigError
from simulacra.evaluate._features import FeatureEncoder, label_values
from simulacra.evaluate.privacy import nearest_gower
from simulacra.metadata import Metadata

MAX_ROUNDS = 10  # draw-and-filter rounds before filtered_sample gives up
MIN_BATCH = 1_000  # the fewest rows drawn per round (the detection filter fits a classifier per round)
MAX_REFERENCE = 20_000  # real rows the classifiers and the holdout threshold use at most


@dataclass
class FilterRecord:
    """What one filter did to one batch: ``filter``, ``seen`` rows, ``dropped`` rows and ``why``."""

    filter: str
    seen: int
    dropped: int
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Filter:
    name = "filter"

    def fit(
        self, real_train: pd.DataFrame, real_test: pd.DataFrame | None, metadata: Metadata, *, seed: int
    ) -> _Filter:
        return self

    def keep(self, synthetic: pd.DataFrame) -> tuple[np.ndarray, FilterRecord]:  # pragma: no cover
        raise NotImplementedError


class NearCopyFilter(_Filter):
    """Drop near copies of training rows (see the module docstring).

    Parameters
    ----------
    percentile : float in [0, 50]
        The holdout percentile below which a synthetic row's distance to the closest training row
        counts as a near copy.

    Attributes
    ----------
    threshold_ : float
        The distance (Gower, summed over columns) below which rows are dropped.
    """

    name = "near-copies"

    def __init__(self, percentile: float = 1.0) -> None:
        if not 0 <= percentile <= 50:
            raise ConfigError(f"near-copies percentile {percentile:g} is not in [0, 50]")
        self.percentile = percentile

    def fit(self, real_train, real_test, metadata, *, seed):
        if real_test is None or len(real_test) == 0:
            raise ConfigError(
                "the near-copies filter needs real holdout rows; give `test` (a bundled dataset has its own)"
            )
        rng = np.random.default_rng(seed)
        hold = real_test.iloc[rng.choice(len(real_test), min(len(real_test), MAX_REFERENCE), replace=False)]
        self.real_ = real_train
        self.encoder_ = FeatureEncoder(metadata, real_train)
        self.threshold_ = float(
            np.percentile(nearest_gower(self.encoder_, real_train, hold), self.percentile)
        )
        return self

    def keep(self, synthetic):
        dist = nearest_gower(self.encoder_, self.real_, synthetic)
        keep = dist >= self.threshold_
        why = (
            f"closer to a training row (Gower {self.threshold_:.3f}, summed over columns) than "
            f"{100 - self.percentile:g} % of real holdout rows are"
        )
        return keep, FilterRecord(self.name, len(synthetic), int((~keep).sum()), why)


class DetectionFilter(_Filter):
    """Drop the share ``q`` of rows a real-vs-synthetic classifier finds most clearly synthetic.

    Parameters
    ----------
    q : float in (0, 0.9]
        Share of each batch dropped.
    column : str, optional
        A class column. When given, the real rows the detector sees have the synthetic batch's class
        counts (drawn per class), so a class-balanced batch is not "detected" by its balance alone.
    """

    name = "detection"

    def __init__(self, q: float = 0.1, column: str | None = None) -> None:
        if not 0 < q <= 0.9:
            raise ConfigError(f"detection share {q:g} is not in (0, 0.9]; give e.g. detection=0.1")
        self.q, self.column = q, column

    def fit(self, real_train, real_test, metadata, *, seed):
        self.real_, self.metadata_, self.seed_ = real_train, metadata, seed
        self.encoder_ = FeatureEncoder(metadata, real_train)
        return self

    def scores(self, synthetic: pd.DataFrame) -> np.ndarray:
        """``(len(synthetic),)`` out-of-fold probability that each row is synthetic."""
        from xgboost import XGBClassifier

        rng = np.random.default_rng(self.seed_)
        if self.column is None:
            m = min(len(self.real_), MAX_REFERENCE, max(len(synthetic), 1))
            real = self.real_.iloc[rng.choice(len(self.real_), m, replace=False)]
        else:  # the batch's class counts, scaled down to MAX_REFERENCE rows at most
            real_labels = label_values(self.real_[self.column])
            wanted = pd.Series(label_values(synthetic[self.column])).value_counts()
            scale = min(1.0, MAX_REFERENCE / max(len(synthetic), 1))
            picked = []
            for c, k in wanted.items():
                pool = np.flatnonzero(real_labels == c)
                picked.append(rng.choice(pool, min(len(pool), max(1, round(k * scale))), replace=False))
            real = self.real_.iloc[np.sort(np.concatenate(picked))]
        x = np.vstack([self.encoder_.onehot(real), self.encoder_.onehot(synthetic)])
        y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
        out = np.zeros(len(x))
        for fit_idx, score_idx in StratifiedKFold(3, shuffle=True, random_state=self.seed_).split(x, y):
            clf = XGBClassifier(random_state=self.seed_).fit(x[fit_idx], y[fit_idx])
            out[score_idx] = clf.predict_proba(x[score_idx])[:, 1]
        return out[len(real) :]

    def keep(self, synthetic):
        drop_n = math.floor(self.q * len(synthetic))
        keep = np.ones(len(synthetic), dtype=bool)
        if drop_n and len(synthetic) >= 3:
            order = np.argsort(-self.scores(synthetic), kind="stable")
            keep[order[:drop_n]] = False
        why = f"the {self.q:.0%} a real-vs-synthetic XGBoost classifier scored most clearly synthetic"
        return keep, FilterRecord(self.name, len(synthetic), int((~keep).sum()), why)


class LabelFilter(_Filter):
    """Drop rows whose ``column`` a real-trained classifier contradicts with probability ≥ ``p``.

    Parameters
    ----------
    column : str
        A categorical/boolean column (the label of conditional samples).
    p : float in [0.5, 1]
        Confidence the classifier needs to overrule the row's label.
    """

    name = "label"

    def __init__(self, column: str, p: float = 0.9) -> None:
        if not 0.5 <= p <= 1:
            raise ConfigError(f"label confidence {p:g} is not in [0.5, 1]; give e.g. label=0.9")
        self.column, self.p = column, p

    def fit(self, real_train, real_test, metadata, *, seed):
        if metadata[self.column].sdtype not in ("categorical", "boolean"):
            raise ConfigError(
                f"the label filter needs a categorical column; {self.column!r} is {metadata[self.column].sdtype}"
            )
        rng = np.random.default_rng(seed)
        ref = real_train.iloc[rng.choice(len(real_train), min(len(real_train), MAX_REFERENCE), replace=False)]
        self.encoder_ = FeatureEncoder(metadata, real_train, exclude=(self.column,))
        y = label_values(ref[self.column])
        self.clf_ = HistGradientBoostingClassifier(
            categorical_features=self.encoder_.categorical_mask, random_state=seed
        ).fit(self.encoder_.ordinal(ref), y)
        return self

    def keep(self, synthetic):
        proba = self.clf_.predict_proba(self.encoder_.ordinal(synthetic))
        best = proba.argmax(1)
        labels = label_values(synthetic[self.column])
        contradicted = (self.clf_.classes_[best] != labels) & (proba[np.arange(len(best)), best] >= self.p)
        why = f"a classifier trained on real rows gives another {self.column!r} with probability ≥ {self.p:g}"
        return ~contradicted, FilterRecord(self.name, len(synthetic), int(contradicted.sum()), why)


def parse_filters(specs: list[str], *, label_column: str | None = None) -> list[_Filter]:
    """Filters from their command-line/config spellings: ``near-copies[=PERCENTILE]``,
    ``detection=Q``, ``label=P`` (the label filter applies to ``label_column``).

    Raises
    ------
    ConfigError
        An unknown filter, a value that is not a number, or ``label`` without a labelled column.
    """
    out: list[_Filter] = []
    for spec in specs:
        name, _, value = spec.partition("=")
        name = name.strip()
        try:
            number = float(value) if value.strip() else None
        except ValueError:
            raise ConfigError(f"filter {spec!r}: {value!r} is not a number") from None
        if name == "near-copies":
            out.append(NearCopyFilter(1.0 if number is None else number))
        elif name == "detection":
            out.append(DetectionFilter(0.1 if number is None else number, column=label_column))
        elif name == "label":
            if label_column is None:
                raise ConfigError(
                    "the label filter needs a labelled column: "
                    "give `balance`, `class_counts` or one of `conditions`"
                )
            out.append(LabelFilter(label_column, 0.9 if number is None else number))
        else:
            raise ConfigError(f"unknown filter {name!r}; use near-copies[=PCT], detection=Q or label=P")
    return out


def filtered_sample(
    draw,
    n: int,
    filters: list[_Filter],
    *,
    real_train: pd.DataFrame,
    real_test: pd.DataFrame | None,
    metadata: Metadata,
    seed: int = 0,
    column: str | None = None,
    counts: dict[Any, int] | None = None,
) -> tuple[pd.DataFrame, list[FilterRecord]]:
    """``n`` synthetic rows that pass every filter (with ``counts``: exactly ``counts[c]`` rows of each
    class ``c`` of ``column``).

    Parameters
    ----------
    draw : callable ``(k, seed) -> DataFrame``
        Draws synthetic rows: ``k`` an int (e.g. ``lambda k, s: model.sample(k, seed=s)``), or with
        ``counts`` a dict class → rows (e.g. ``lambda k, s: model.sample_counts(column, k, seed=s)``).
    n : int
        Rows wanted (``sum(counts.values())`` with ``counts``).
    filters : list
        Filters from :func:`parse_filters` (fitted here on ``real_train``/``real_test``).
    real_train, real_test : DataFrame
        The model's real training rows, and real rows it never saw (the holdout of the near-copies
        threshold).
    metadata : Metadata
    seed : int
        Seed of the first round; round ``i`` draws with ``seed + i``.
    column, counts : str, dict, optional
        Exact class counts of ``column`` to keep.

    Returns
    -------
    (DataFrame, list of FilterRecord)
        Exactly ``n`` rows (index ``0 … n-1``) and one record per filter per round.

    Raises
    ------
    ConfigError
        Fewer than ``n`` rows (or a class short of its count) passed after :data:`MAX_ROUNDS` rounds.
    """
    for f in filters:
        f.fit(real_train, real_test, metadata, seed=seed)
    need: dict[Any, int] = dict(counts) if counts is not None else {None: int(n)}
    kept: list[pd.DataFrame] = []
    records: list[FilterRecord] = []
    drawn, passed = 0, 0
    floor = math.ceil(MIN_BATCH / max(len(need), 1))
    for round_ in range(MAX_ROUNDS):
        if all(k <= 0 for k in need.values()):
            break
        rate = passed / drawn if drawn else 1.0
        ask = {c: max(floor, math.ceil(1.1 * k / max(rate, 0.05))) for c, k in need.items() if k > 0}
        batch = draw(ask if counts is not None else ask[None], seed + round_)
        drawn += len(batch)
        mask = np.ones(len(batch), dtype=bool)
        for f in filters:
            keep, record = f.keep(batch[mask])
            records.append(record)
            mask[np.flatnonzero(mask)[~keep]] = False
        good = batch[mask]
        passed += len(good)
        if counts is None:
            kept.append(good.iloc[: need[None]])
            need[None] -= min(len(good), need[None])
            continue
        labels = good[column].to_numpy()
        for c in need:
            rows = good[labels == c].iloc[: max(need[c], 0)]
            kept.append(rows)
            need[c] -= len(rows)
    short = {c: k for c, k in need.items() if k > 0}
    if short:
        what = (
            f"{sum(short.values()):,} rows"
            if counts is None
            else ", ".join(f"{c}: {k:,}" for c, k in short.items())
        )
        raise ConfigError(
            f"the filters passed {passed:,} of {drawn:,} drawn rows in {MAX_ROUNDS} rounds, still short of {what}; "
            "loosen the filters or ask for fewer rows"
        )
    out = pd.concat(kept, ignore_index=True)
    order = np.random.default_rng(seed).permutation(len(out)) if counts is not None else np.arange(len(out))
    return out.iloc[order].reset_index(drop=True), records


def summarise(records: list[FilterRecord]) -> list[dict[str, Any]]:
    """Records summed per filter: ``{filter, seen, dropped, why}`` in the order the filters ran."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        row = out.setdefault(r.filter, {"filter": r.filter, "seen": 0, "dropped": 0, "why": r.why})
        row["seen"] += r.seen
        row["dropped"] += r.dropped
    return list(out.values())


def _check_label_filter(model, p: float, real: Any = None, fix: str = "") -> None:
    if not 0.5 <= p <= 1:
        raise ConfigError(f"label confidence {p:g} is not in [0.5, 1]; give e.g. label=0.9")
    if not getattr(model, "conditional", False) or not getattr(model, "class_names_", None):
        raise ConfigError("the label filter needs a class-conditional model fitted on labelled items")
    if real is not None and real.labels is None:
        raise ConfigError(f"the label filter needs labelled real items; {fix}")


def filtered_labelled(
    model,
    n: int,
    p: float,
    proba,
    *,
    label: Any = None,
    seed: int = 0,
    judge: str = "a classifier trained on the real items",
    **sample_options: Any,
):
    """``n`` items (images, texts) from a class-conditional ``model`` whose label the real-trained
    classifier ``proba`` does not contradict with probability ≥ ``p``: the counterpart of
    :class:`LabelFilter` for labelled sets.

    Classes stay balanced as the model's ``sample`` balances them (``n // K`` each, the remainder to
    the first classes; only ``label`` when given): each class is drawn with ``conditions={"label": c}``,
    filtered and topped up (at most :data:`MAX_ROUNDS` rounds), and the result is shuffled with ``seed``.

    Parameters
    ----------
    model : ImageSynthesizer or TextSynthesizer
        Fitted, class-conditional (``class_names_``, ``class_counts_``, ``class_index``).
    n : int
        Items wanted.
    p : float in [0.5, 1]
        Confidence the classifier needs to overrule an item's label.
    proba : callable ``(set) -> ndarray (k, K)``
        Class probabilities of a drawn set's items, columns in the order of ``model.class_names_``.
    label : class name or index, optional
        Draw only this class.
    seed : int
        Round ``i`` of class ``c`` draws with ``seed + 1000·c + i``.
    judge : str
        Who judges, in the records' ``why``.
    **sample_options
        Passed to ``model.sample`` (``temperature``, and for texts ``drop_copies`` …).

    Returns
    -------
    (ImageSet or TextSet, list of FilterRecord)

    Raises
    ------
    ConfigError
        ``p`` outside [0.5, 1], an unconditional model, or a class short of its count after
        :data:`MAX_ROUNDS` rounds.
    """
    _check_label_filter(model, p)
    if label is not None:
        quota = {model.class_index(label): int(n)}
    else:
        seen = [c for c in range(len(model.class_names_)) if model.class_counts_[c] > 0]
        base, extra = divmod(int(n), len(seen))
        quota = {c: base + (i < extra) for i, c in enumerate(seen)}
    parts, records = [], []
    why = f"{judge} gives another class with probability ≥ {p:g}"
    for c, want in quota.items():
        have, drawn, passed = 0, 0, 0
        for round_ in range(MAX_ROUNDS):
            if have >= want:
                break
            rate = passed / drawn if drawn else 1.0
            k = max(100, math.ceil(1.1 * (want - have) / max(rate, 0.05)))
            batch = model.sample(k, conditions={"label": c}, seed=seed + 1_000 * c + round_, **sample_options)
            probabilities = proba(batch)  # (k, K)
            best = probabilities.argmax(1)
            bad = (best != c) & (probabilities[np.arange(k), best] >= p)
            drawn += k
            passed += int((~bad).sum())
            take = batch.subset(np.flatnonzero(~bad)[: want - have])
            parts.append(take)
            have += len(take)
            records.append(FilterRecord("label", k, int(bad.sum()), why))
        if have < want:
            raise ConfigError(
                f"the label filter passed {passed:,} of {drawn:,} drawn items of class "
                f"{model.class_names_[c]!r}, short of {want:,}; loosen label=P or ask for fewer"
            )
    out = type(parts[0]).concat(parts)
    return out.subset(np.random.default_rng(seed).permutation(len(out))), records


def filtered_images(
    model, n: int, p: float, real, *, label: Any = None, seed: int = 0, temperature: float = 1.0
):
    """:func:`filtered_labelled` for a class-conditional image ``model``, judged by the local CNN trained
    on the labelled ``real`` images (:func:`~simulacra.evaluate.image.real_classifier`, cached).

    Raises
    ------
    ConfigError
        As :func:`filtered_labelled`, or unlabelled real images.
    """
    import torch

    from simulacra.evaluate.image import real_classifier

    _check_label_filter(model, p, real, "give class folders or an .npz with labels")  # before the CNN trains
    cnn = real_classifier(real)
    order = [list(real.class_names).index(c) for c in model.class_names_]

    def proba(batch):
        with torch.inference_mode():
            return torch.softmax(cnn(torch.from_numpy(batch.images)), dim=1).numpy()[:, order]

    judge = "the local CNN trained on real images"
    return filtered_labelled(model, n, p, proba, label=label, seed=seed, judge=judge, temperature=temperature)


def text_label_judge(real, class_names: list[str], *, seed: int = 0):
    """The judge of the text label filter: logistic regression on TF-IDF features
    (:func:`~simulacra.evaluate.text.tfidf`) trained on the labelled ``real`` texts with the classes
    weighted equally, so that the majority's prior alone never overrules a minority label.

    Returns
    -------
    callable ``(TextSet) -> ndarray (k, len(class_names))``
        Class probabilities, columns in the order of ``class_names`` (0 for a class the real texts lack).
    """
    from sklearn.linear_model import LogisticRegression

    from simulacra.evaluate.text import tfidf

    features = tfidf(real.texts)
    clf = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    clf.fit(features.transform(real.texts), real.labels)
    columns = [(j, class_names.index(real.class_names[int(k)])) for j, k in enumerate(clf.classes_)]

    def proba(batch):
        got = clf.predict_proba(features.transform(batch.texts))  # (k, classes of the real texts)
        out = np.zeros((len(batch), len(class_names)))
        for j, col in columns:
            out[:, col] = got[:, j]
        return out

    return proba


def filtered_texts(model, n: int, p: float, real, *, label: Any = None, seed: int = 0, **sample_options: Any):
    """:func:`filtered_labelled` for a class-conditional text ``model``, judged by
    :func:`text_label_judge` trained on the labelled ``real`` texts; ``sample_options`` go to
    ``model.sample``.

    Raises
    ------
    ConfigError
        As :func:`filtered_labelled`, or unlabelled real texts.
    """
    _check_label_filter(model, p, real, "give texts with labels (a label column)")
    proba = text_label_judge(real, list(model.class_names_), seed=seed)
    judge = "TF-IDF + logistic regression (classes weighted equally) trained on real texts"
    return filtered_labelled(model, n, p, proba, label=label, seed=seed, judge=judge, **sample_options)
