"""What labelled sets (:class:`~simulacra.io.ImageSet`, :class:`~simulacra.io.TextSet`) share: joining
their class labels by class name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulacra.errors import DataError


def merged_labels(sets: Sequence[Any]) -> tuple[np.ndarray | None, list[str]]:
    """The labels of ``sets`` one after the other, as indices into the union of their class names.

    Classes keep the first set's order; a class only a later set holds is appended. A subset that lacks
    a class (a stratified 1 % subset, a model's samples of one class) so joins its full set correctly.

    Parameters
    ----------
    sets : sequence of ImageSet or TextSet
        Each with ``labels`` (int64 ``(N_i,)`` or ``None``) and ``class_names``.

    Returns
    -------
    (labels, class_names)
        ``labels`` int64 ``(sum N_i,)``, or ``None`` when no set is labelled.

    Raises
    ------
    DataError
        Some sets are labelled and others are not.
    """
    labelled = [s.labels is not None for s in sets]
    if not any(labelled):
        return None, list(sets[0].class_names) if sets else []
    if not all(labelled):
        raise DataError("cannot join labelled and unlabelled sets; label every part, or drop the labels")
    names: list[str] = []
    for s in sets:
        names += [c for c in s.class_names if c not in names]
    index = {c: i for i, c in enumerate(names)}
    parts = [np.array([index[c] for c in s.class_names], dtype=np.int64)[s.labels] for s in sets]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64), names
