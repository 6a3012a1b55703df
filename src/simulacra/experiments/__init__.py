"""Experiments that answer "does synthetic data help me train a better model?", honestly.

* :mod:`~simulacra.experiments.mix` — mixing curves: real fractions × synthetic ratios × repeats, a
  downstream model per variant, scored on one real test set; verdicts in plain language. Tables use
  HistGradientBoosting and logistic regression; labelled images and texts their modality's classifier.
* :mod:`~simulacra.experiments.balance` — class balancing: no balancing, random oversampling, SMOTE,
  SMOTE-NC and synthesizers' exact conditional sampling, compared on the real test set.
* :mod:`~simulacra.experiments.filters` — filters of low-quality samples (near copies, clearly
  synthetic rows, contradicted labels) with top-up to the requested size.

This layer sits above :mod:`simulacra.evaluate` (whose metrics it reuses) and uses
:mod:`simulacra.synthesizers`; everything returns tidy DataFrames that :mod:`simulacra.report` renders.
"""

from simulacra.experiments.balance import balancing_comparison
from simulacra.experiments.filters import (
    DetectionFilter,
    FilterRecord,
    LabelFilter,
    NearCopyFilter,
    filtered_labelled,
    filtered_sample,
    parse_filters,
)
from simulacra.experiments.mix import MixResult, labelled_mixing_curves, mixing_curves, stratified_fraction

__all__ = [
    "DetectionFilter",
    "FilterRecord",
    "LabelFilter",
    "MixResult",
    "NearCopyFilter",
    "balancing_comparison",
    "filtered_labelled",
    "filtered_sample",
    "labelled_mixing_curves",
    "mixing_curves",
    "parse_filters",
    "stratified_fraction",
]
