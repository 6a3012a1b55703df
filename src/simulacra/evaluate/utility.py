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
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score, roc_auc_score

from simulacra.errors import MetadataError
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


def _scores_classification(model, x_test, y_test, classes, positive) -> dict[str, float]:
    proba = model.predict_proba(x_test)
    full = np.zeros((len(x_test), len(classes)))
    for j, c in enumerate(model.classes_):
        full[:, classes.index(c)] = proba[:, j]
    pred = np.array(classes, dtype=object)[full.argmax(axis=1)]
    if len(classes) == 2:
        auc = roc_auc_score(y_test == positive, full[:, classes.index(positive)])
        f1 = f1_score(y_test == positive, pred == positive)
    else:
        present = [c for c in classes if (y_test == c).any()]
        auc = roc_auc_score(
            y_test,
            full[:, [classes.index(c) for c in present]]
            / full[:, [classes.index(c) for c in present]].sum(1, keepdims=True).clip(1e-12),
            multi_class="ovr",
            labels=present,
        )
        f1 = f1_score(y_test, pred, average="macro")
    return {"roc_auc": float(auc), "accuracy": float(accuracy_score(y_test, pred)), "f1": float(f1)}


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
    metadata[target]
    task = task_of(metadata, target)
    enc = FeatureEncoder(metadata, real_train, exclude=(target,))
    mask = enc.categorical_mask
    results: dict[str, Any] = {"task": task, "target": target}
    if task == "classification":
        y_real = label_values(real_train[target])
        classes = sorted(set(y_real) - {"<missing>"})
        counts = pd.Series(y_real).value_counts()
        positive = str(counts[classes].idxmin())
        y_test = label_values(real_test[target])
        keep_test = np.isin(y_test, classes)
        x_test = enc.ordinal(real_test)[keep_test]
        y_test = y_test[keep_test]
        for key, df in (("trtr", real_train), ("tstr", synthetic)):
            y = label_values(df[target])
            keep = np.isin(y, classes)
            x, y = enc.ordinal(df)[keep], y[keep]
            if len(set(y)) < 2:
                results[key] = {
                    "roc_auc": 0.5,
                    "accuracy": float(np.mean(y_test == (y[0] if len(y) else ""))),
                    "f1": 0.0,
                    "note": "training rows hold fewer than two classes",
                }
                continue
            model = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed).fit(x, y)
            results[key] = _scores_classification(model, x_test, y_test, classes, positive)
        results["positive_class"] = positive
    else:
        m = metadata[target]
        y_test = numeric_values(real_test[target], m.sdtype)
        keep_test = np.isfinite(y_test)
        x_test, y_test = enc.ordinal(real_test)[keep_test], y_test[keep_test]
        for key, df in (("trtr", real_train), ("tstr", synthetic)):
            y = numeric_values(df[target], m.sdtype)
            keep = np.isfinite(y)
            model = HistGradientBoostingRegressor(categorical_features=mask, random_state=seed)
            model.fit(enc.ordinal(df)[keep], y[keep])
            pred = model.predict(x_test)
            results[key] = {
                "r2": float(r2_score(y_test, pred)),
                "rmse": float(np.sqrt(mean_squared_error(y_test, pred))),
            }
    return results
