"""Evaluation of synthetic data: fidelity, ML utility and privacy.

``evaluate(real_train, synthetic, metadata, real_test=..., target=...)`` returns an :class:`Evaluation`:
plain numbers grouped as ``fidelity``, ``utility`` and ``privacy``, plus per-column and per-pair details.
Each metric is a small pure function in :mod:`~simulacra.evaluate.fidelity`,
:mod:`~simulacra.evaluate.utility` or :mod:`~simulacra.evaluate.privacy` whose docstring gives its
definition. Rendering (``metrics.json``, ``report.html``) is :mod:`simulacra.report`'s job.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulacra.errors import DataError, MetadataError
from simulacra.evaluate.diversity import diversity as diversity_scores
from simulacra.evaluate.fidelity import column_pair_trends, column_shapes, detection
from simulacra.evaluate.privacy import dcr_share, exact_copy_rate, membership_inference
from simulacra.evaluate.utility import ml_utility
from simulacra.metadata import Metadata

#: One line per headline metric: what it measures and which way is better.
DESCRIPTIONS: dict[str, str] = {
    "column_shapes": "Mean per-column similarity of marginals: 1 − KS statistic (numerical), 1 − TVD (categorical). Higher is better, 1 = identical.",
    "column_pair_trends": "Mean pairwise similarity: 1 − |Δ Pearson ρ|/2 (numerical pairs), 1 − TVD of 2-way tables (other pairs). Higher is better.",
    "detection_xgb": "C2ST with XGBoost's default classifier: 1 − (2·max(AUC, ½) − 1) for telling real from synthetic rows; the headline detector (a model of the marginals alone scores ≈ 0.02). 1 = indistinguishable.",
    "detection": "C2ST with logistic regression (blind to interactions: a model of the marginals alone scores ≈ 1): 1 − (2·max(AUC, ½) − 1) for telling real from synthetic rows. 1 = indistinguishable.",
    "detection_gbm": "C2ST with gradient boosting, a stricter detector. 1 = indistinguishable, 0 = perfectly separable.",
    "tstr_roc_auc": "ROC-AUC on real test rows of a gradient-boosted model trained on synthetic rows (TSTR). Compare with TRTR.",
    "trtr_roc_auc": "ROC-AUC on real test rows of the same model trained on the real training rows (TRTR): the ceiling.",
    "tstr_accuracy": "Accuracy on real test images (texts) of a classifier (the local CNN; TF-IDF + logistic regression) trained on the synthetic ones (TSTR).",
    "trtr_accuracy": "Accuracy on real test images (texts), the same classifier trained on the real training ones (TRTR).",
    "tstr_f1": "F1 on real test rows (positive = rarer class), model trained on synthetic rows.",
    "trtr_f1": "F1 on real test rows, model trained on real rows.",
    "tstr_r2": "R² on real test rows, model trained on synthetic rows.",
    "trtr_r2": "R² on real test rows, model trained on real rows.",
    "tstr_rmse": "RMSE on real test rows (target units), model trained on synthetic rows. Lower is better.",
    "trtr_rmse": "RMSE on real test rows, model trained on real rows.",
    "dcr_share": "Share of synthetic rows closer (Gower) to a training row than to an equal-size holdout: 0.5 is ideal, higher means copying.",
    "exact_copy_rate": "Share of synthetic rows identical to a training row. Lower is safer; compare with real rows' own duplicate rate.",
    "membership_auc": "DOMIAS membership inference (density of synthetic over reference rows): ROC-AUC of telling training members from real non-members. 0.5 = no better than a coin; compare with the real holdout's.",
    "membership_tpr_at_1pct_fpr": "True-positive rate of the DOMIAS attack at 1 % false positives: the share of members it can name with few false accusations. ≈ 0.01 means no leak.",
    "dcr_membership_auc": "Membership inference by distance to the closest synthetic row: ROC-AUC, members against real non-members. 0.5 = no leak.",
    "singling_out_risk": "Anonymeter-style singling-out risk (the stronger of the univariate and multivariate attacks): excess share of predicates from synthetic rows that isolate one training record over one control record. 0 = none.",
    "linkability_risk": "Linkability risk: excess share of training records whose two column halves point to the same nearest synthetic row, over the control records. 0 = none.",
    "inference_risk": "Attribute-inference risk of the most exposed column (chosen on half of the attacks, measured on the other half): excess share of secrets guessed right from the nearest synthetic row, training over control records. Compare with the real holdout's.",
    "real_identifiers": "Synthetic identifier (pii) values equal to a real one (compared as digits, lower case or canonical addresses). 0 expected: identifiers are generated fresh.",
    # images (simulacra.evaluate.image)
    "fid": "Fréchet distance between Gaussian fits of the local classifier's features of real training and synthetic images (local FID). Lower is better; compare with the reference rows.",
    "kid": "Kernel (MMD², cubic polynomial kernel) distance of the same features, unbiased, averaged over subsets (local KID). Lower is better.",
    "precision": "Share of synthetic rows (images) inside the real manifold of k-NN balls (tables k=5, Naeem et al. 2020; images k=3, Kynkäänniemi et al. 2019): fidelity. Compare with the real holdout's.",
    "recall": "Share of real rows (images) inside the synthetic manifold of k-NN balls: diversity. Compare with the real holdout's.",
    "density": "Mean number of real k-NN balls holding a synthetic row, ÷ k (Naeem et al. 2020): ≈ 1 for the same distribution, < 1 sparse, > 1 crowding the dense regions.",
    "coverage": "Share of real rows whose own k-NN ball holds a synthetic row (Naeem et al. 2020): diversity robust to outliers; ≈ 0.97 for the same distribution at k=5.",
    "class_balance": "1 − TVD between real class frequencies and the classes the real-trained classifier sees in the synthetic images. 1 = same mix.",
    "label_agreement": "Share of synthetic images (texts) that the real-trained classifier assigns to the label they were generated for.",
    "nn_distance_ratio": "Median pixel distance of synthetic images to their nearest training image ÷ the same for real test images. ≪ 1 flags copying.",
    "near_copy_rate": "Share of synthetic images closer to a training image than 99 % of real test images are. ≈ 0.01 expected; higher flags copying.",
    "psnr": "Peak signal-to-noise ratio (dB) of reconstructions against their originals. Higher is closer.",
    "ssim": "Structural similarity (Wang et al. 2004) of reconstructions against their originals; 1 = identical.",
}


#: the fewest rows each table needs for the metrics (3-fold cross-validation and nearest neighbours)
MIN_ROWS = 10


def check_target(metadata: Metadata, target: str | None) -> None:
    """Raise :class:`MetadataError` naming the columns when ``target`` is given but not a column."""
    if target is not None and target not in metadata.columns:
        raise MetadataError(f"unknown target column {target!r}; columns are: {', '.join(metadata.names)}")


@dataclass
class Evaluation:
    """Results of :func:`evaluate`.

    ``metrics``: ``{"fidelity": {...}, "diversity": {...}, "utility": {...}, "privacy": {...}}`` of
    headline floats;
    ``details``: per-column shapes, per-pair trends, full utility and privacy records;
    ``skipped``: metric group → why it was not computed; ``seconds``: time per group.
    """

    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def flat(self) -> dict[str, float]:
        """All headline metrics in one mapping, name → value."""
        return {k: v for group in self.metrics.values() for k, v in group.items()}

    def rows(self) -> list[dict[str, Any]]:
        """Table rows ``{group, metric, value, description}`` for display."""
        return [
            {"group": g, "metric": k, "value": v, "description": DESCRIPTIONS.get(k, "")}
            for g, group in self.metrics.items()
            for k, v in group.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "details": self.details,
            "skipped": self.skipped,
            "seconds": self.seconds,
            "descriptions": {k: DESCRIPTIONS[k] for k in self.flat() if k in DESCRIPTIONS},
        }

    def to_json(self) -> str:
        return json.dumps(
            self.to_dict(), indent=2, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)
        )


def evaluate(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata | None = None,
    *,
    real_test: pd.DataFrame | None = None,
    target: str | None = None,
    seed: int = 0,
    detection_gbm: bool = True,
    detection_xgb: bool = True,
    diversity: bool = True,
    privacy_attacks: bool = False,
) -> Evaluation:
    """Score ``synthetic`` against the real data.

    Parameters
    ----------
    real_train: the rows the synthesizer was fitted on.
    synthetic: the generated rows (same columns).
    metadata: column metadata; detected from ``real_train`` when ``None``.
    real_test: real rows the synthesizer never saw; needed for utility (test rows) and DCR share (holdout).
    target: column to predict for TSTR/TRTR; utility is skipped without it.
    seed: seed for every subsample and model in the metrics.
    detection_gbm: also run scikit-learn's gradient-boosting detector.
    detection_xgb: run the headline XGBoost detector (shown first after shapes and trends).
    diversity: compute precision, recall, density and coverage (:mod:`~simulacra.evaluate.diversity`).
    privacy_attacks: also run the membership-inference attacks (DOMIAS, DCR;
        :func:`~simulacra.evaluate.privacy.membership_inference`) and the singling-out, linkability and
        inference attacks (:func:`~simulacra.evaluate.anonymity.reidentification_risks`) with
        ``real_test`` as the holdout/control set; ≈ 20 s on Adult.

    Raises
    ------
    DataError
        An input table has fewer than :data:`MIN_ROWS` rows or its columns differ from the metadata.
    MetadataError
        ``target`` is not a column.
    """
    metadata = metadata or Metadata.detect(real_train)
    for name, df in (("real", real_train), ("synthetic", synthetic), ("test", real_test)):
        if df is None:
            continue
        if len(df) < MIN_ROWS:
            raise DataError(
                f"the {name} table has {len(df)} rows; evaluation needs at least {MIN_ROWS} in every table "
                "(the detectors use 3-fold cross-validation)"
            )
        missing = [c for c in metadata.names if c not in df.columns]
        if missing:
            raise DataError(f"the {name} table lacks column(s) {missing}; give tables with the same columns")
        if name != "real":  # judged against the real table's metadata: text is not a number
            try:
                metadata.check_values(df)
            except MetadataError as exc:
                raise DataError(f"the {name} table does not match the real one's columns: {exc}") from None
    check_target(metadata, target)
    ev = Evaluation()
    clock = time.perf_counter()

    shapes = column_shapes(real_train, synthetic, metadata)
    trends = column_pair_trends(real_train, synthetic, metadata)
    ev.metrics["fidelity"] = {"column_shapes": shapes["score"], "column_pair_trends": trends["score"]}
    ev.details.update(column_shapes=shapes["columns"], column_pair_trends=trends["pairs"])
    if detection_xgb:
        det_xgb = detection(real_train, synthetic, metadata, model="xgb", seed=seed)
        ev.metrics["fidelity"]["detection_xgb"] = det_xgb["score"]
        ev.details["detection_xgb"] = det_xgb
    det = detection(real_train, synthetic, metadata, seed=seed)
    ev.metrics["fidelity"]["detection"] = det["score"]
    ev.details["detection"] = det
    if detection_gbm:
        det_gbm = detection(real_train, synthetic, metadata, model="gbm", seed=seed)
        ev.metrics["fidelity"]["detection_gbm"] = det_gbm["score"]
        ev.details["detection_gbm"] = det_gbm
    ev.seconds["fidelity"] = time.perf_counter() - clock

    if diversity:
        clock = time.perf_counter()
        div = diversity_scores(real_train, synthetic, metadata, seed=seed)
        ev.metrics["diversity"] = {k: div[k] for k in ("precision", "recall", "density", "coverage")}
        ev.details["diversity"] = div
        ev.seconds["diversity"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if target is None or real_test is None:
        ev.skipped["utility"] = "needs a target column and real test rows"
    else:
        util = ml_utility(real_train, synthetic, real_test, metadata, target, seed=seed)
        ev.metrics["utility"] = {
            f"{k}_{m}": v for k in ("tstr", "trtr") for m, v in util[k].items() if m != "note"
        }
        ev.details["utility"] = util
    ev.seconds["utility"] = time.perf_counter() - clock

    clock = time.perf_counter()
    privacy = {"exact_copy_rate": exact_copy_rate(real_train, synthetic, metadata)}
    if real_test is None:
        ev.skipped["dcr_share"] = "needs real holdout rows (the test table)"
    else:
        dcr = dcr_share(real_train, synthetic, real_test, metadata, seed=seed)
        privacy["dcr_share"] = dcr["score"]
        ev.details["dcr"] = dcr
    if metadata.names_of("pii"):
        from simulacra.evaluate.privacy import real_identifiers

        found = real_identifiers(real_train, synthetic, metadata)
        privacy["real_identifiers"] = float(sum(found.values()))
        ev.details["real_identifiers"] = found
    if privacy_attacks and real_test is None:
        ev.skipped["privacy attacks"] = "need real holdout rows (the test table) as the control set"
    elif privacy_attacks:
        from simulacra.evaluate.anonymity import reidentification_risks

        mia = membership_inference(real_train, synthetic, real_test, metadata, seed=seed)
        risks = reidentification_risks(real_train, synthetic, real_test, metadata, seed=seed)
        privacy |= {
            "membership_auc": mia["domias"]["auc"],
            "membership_tpr_at_1pct_fpr": mia["domias"]["tpr_at_fpr"],
            "dcr_membership_auc": mia["dcr"]["auc"],
            "singling_out_risk": max(
                risks["singling_out_univariate"]["risk"], risks["singling_out_multivariate"]["risk"]
            ),
            "linkability_risk": risks["linkability"]["risk"],
            "inference_risk": risks["inference_worst"]["risk"],
        }
        ev.details["membership"] = mia
        ev.details["reidentification"] = risks
    ev.metrics["privacy"] = privacy
    ev.seconds["privacy"] = time.perf_counter() - clock
    return ev


__all__ = ["DESCRIPTIONS", "Evaluation", "check_target", "evaluate"]
