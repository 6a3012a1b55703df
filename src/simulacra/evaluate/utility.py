"""ML utility: TSTR (train on synthetic, test on real) against TRTR (train on real, test on real).

The same gradient-boosted model (scikit-learn's ``HistGradientBoostingClassifier``/``Regressor`` with
native categorical support, default hyper-parameters, fixed ``random_state``) is trained once on the
synthetic rows and once on the real training rows, and both are scored on the same real test rows
(Esteban et al. 2017, "Real-valued (medical) time series generation with recurrent conditional GANs",
introduced TSTR). Classification: ROC-AUC (binary: the less frequent real class is positive;
multiclass: one-vs-rest macro), accuracy and F1 (binary, positive class as above; multiclass: macro).
Regression: R² and RMSE (in the target's units).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_squared_error,
    r2_score,
    recall_score,
    roc_auc_score,
)

from simulacra.errors import ConfigError, MetadataError
from simulacra.evaluate._features import FeatureEncoder, label_values, numeric_values
from simulacra.metadata import Metadata


def task_of(metadata: Metadata, target: str) -> str:
    """``"classification"`` for categorical/boolean targets, ``"regression"`` for numerical ones."""
    sdtype = metadata[target].sdtype
    if sdtype in ("categorical", "boolean"):
        return "classification"
    if sdtype == "numerical":
        return "regression"
    raise MetadataError(f"target {target!r} is a {sdtype} column; choose a categorical or numerical column")


#: downstream models :class:`Downstream` knows: scikit-learn's gradient boosting and logistic regression
DOWNSTREAM_MODELS = ("hgb", "logreg")


class Downstream:
    """A downstream model trained on any table and scored on fixed real test rows.

    The encoding (:class:`~simulacra.evaluate._features.FeatureEncoder`), the class list and the
    positive class come from a real ``reference`` table, so every training table (real, synthetic, a
    mix, an oversampled one) is scored the same way on the same ``test`` rows.

    Parameters
    ----------
    metadata : Metadata
        Column metadata; ``target`` must be a categorical/boolean (classification) or numerical
        (regression) column.
    reference : DataFrame
        Real rows defining the encoding, the classes and the positive class (the less frequent one).
    test : DataFrame
        Real test rows; rows whose target is missing or a class not in ``reference`` are dropped.
    target : str
        The column to predict.
    model : {"hgb", "logreg"}
        ``hgb``: ``HistGradientBoostingClassifier``/``Regressor`` with native categorical support,
        default hyper-parameters. ``logreg``: ``LogisticRegression`` (L2, C = 1, lbfgs, 1,000
        iterations) / ``Ridge`` (α = 1) on standardised numerics and one-hot categories.
    seed : int
        ``random_state`` of the model.

    Notes
    -----
    Classification scores: ``roc_auc`` (binary: the positive class's probability; multiclass:
    one-vs-rest macro), ``accuracy``, ``f1`` and ``recall`` of the positive class (binary; multiclass:
    macro averages), ``balanced_accuracy`` (mean recall per class). Regression: ``r2`` and ``rmse`` (in
    the target's units).
    """

    def __init__(
        self,
        metadata: Metadata,
        reference: pd.DataFrame,
        test: pd.DataFrame,
        target: str,
        *,
        model: str = "hgb",
        seed: int = 0,
    ) -> None:
        if model not in DOWNSTREAM_MODELS:
            raise ConfigError(
                f"unknown downstream model {model!r}; choose one of {', '.join(DOWNSTREAM_MODELS)}"
            )
        metadata[target]
        self.metadata, self.target, self.model, self.seed = metadata, target, model, seed
        self.task = task_of(metadata, target)
        self.encoder = FeatureEncoder(metadata, reference, exclude=(target,))
        if self.task == "classification":
            y_ref = label_values(reference[target])
            self.classes = sorted(set(y_ref) - {"<missing>"})
            counts = pd.Series(y_ref).value_counts()
            self.positive = str(counts[self.classes].idxmin()) if self.classes else None
            y_test = label_values(test[target])
            keep = np.isin(y_test, self.classes)
            if len(self.classes) < 2 or len(set(y_test[keep])) < 2:
                where = "real training" if len(self.classes) < 2 else "test"
                raise ConfigError(
                    f"target {target!r} holds one class in the {where} rows, so no classifier can be scored "
                    "on it; choose a target with two classes or more"
                )
        else:
            self.classes, self.positive = [], None
            y_test = numeric_values(test[target], metadata[target].sdtype)
            keep = np.isfinite(y_test)
        self.y_test = y_test[keep]
        self.x_test = self._features(test[keep])

    def _features(self, df: pd.DataFrame) -> np.ndarray:
        return self.encoder.ordinal(df) if self.model == "hgb" else self.encoder.onehot(df)

    def _estimator(self):
        mask = self.encoder.categorical_mask
        if self.task == "classification":
            if self.model == "hgb":
                return HistGradientBoostingClassifier(categorical_features=mask, random_state=self.seed)
            return LogisticRegression(max_iter=1_000, random_state=self.seed)
        if self.model == "hgb":
            return HistGradientBoostingRegressor(categorical_features=mask, random_state=self.seed)
        return Ridge(alpha=1.0)

    def training_data(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the rows of ``df`` whose target is known (and, for classification, one of the
        reference's classes)."""
        if self.task == "classification":
            y = label_values(df[self.target])
            keep = np.isin(y, self.classes)
        else:
            y = numeric_values(df[self.target], self.metadata[self.target].sdtype)
            keep = np.isfinite(y)
        return self._features(df[keep]), y[keep]

    def score(self, df: pd.DataFrame) -> dict[str, Any]:
        """Train the downstream model on ``df`` and score it on the test rows (see the class Notes).

        A training table holding fewer than two classes gets ROC-AUC 0.5, F1/recall 0 and a ``note``.
        """
        x, y = self.training_data(df)
        if self.task == "regression":
            pred = self._estimator().fit(x, y).predict(self.x_test)
            return {
                "r2": float(r2_score(self.y_test, pred)),
                "rmse": float(np.sqrt(mean_squared_error(self.y_test, pred))),
            }
        if len(set(y)) < 2:
            only = y[0] if len(y) else ""
            return {
                "roc_auc": 0.5,
                "accuracy": float(np.mean(self.y_test == only)),
                "f1": 0.0,
                "recall": 0.0,
                "balanced_accuracy": 1.0 / max(len(self.classes), 1),
                "note": "training rows hold fewer than two classes",
            }
        est = self._estimator().fit(x, y)
        return self._scores(est.predict_proba(self.x_test), list(est.classes_))

    def _scores(self, proba: np.ndarray, fitted: list[str]) -> dict[str, float]:
        classes, y_test, positive = self.classes, self.y_test, self.positive
        full = np.zeros((len(y_test), len(classes)))
        for j, c in enumerate(fitted):
            full[:, classes.index(c)] = proba[:, j]
        pred = np.array(classes, dtype=object)[full.argmax(axis=1)]
        if len(classes) == 2:
            auc = roc_auc_score(y_test == positive, full[:, classes.index(positive)])
            f1 = f1_score(y_test == positive, pred == positive)
            recall = recall_score(y_test == positive, pred == positive)
        else:
            present = [c for c in classes if (y_test == c).any()]
            cols = [classes.index(c) for c in present]
            auc = roc_auc_score(
                y_test,
                full[:, cols] / full[:, cols].sum(1, keepdims=True).clip(1e-12),
                multi_class="ovr",
                labels=present,
            )
            f1 = f1_score(y_test, pred, average="macro")
            recall = recall_score(y_test, pred, average="macro")
        return {
            "roc_auc": float(auc),
            "accuracy": float(accuracy_score(y_test, pred)),
            "f1": float(f1),
            "recall": float(recall),
            "balanced_accuracy": float(balanced_accuracy_score(y_test, pred)),
        }


def ml_utility(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    metadata: Metadata,
    target: str,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """TSTR and TRTR scores for predicting ``target`` (see the module docstring).

    Returns ``{"task", "target", "tstr": {...}, "trtr": {...}}`` with the metric names above. Rows whose
    target is missing are dropped; synthetic rows with a class never seen in the real training rows too.

    Raises
    ------
    MetadataError
        ``target`` is not a column, or is an id/datetime column.
    """
    results: dict[str, Any] = {"task": task_of(metadata, target), "target": target}
    downstream = Downstream(metadata, real_train, real_test, target, seed=seed)
    keys = ("roc_auc", "accuracy", "f1", "note") if downstream.task == "classification" else ("r2", "rmse")
    for key, df in (("trtr", real_train), ("tstr", synthetic)):
        scores = downstream.score(df)
        results[key] = {k: v for k, v in scores.items() if k in keys}
    if downstream.task == "classification":
        results["positive_class"] = downstream.positive
    return results
