"""Diversity: precision, recall, density and coverage of synthetic rows on k-NN manifolds.

Naeem, Oh, Uh, Choi & Yoo 2020, "Reliable Fidelity and Diversity Metrics for Generative Models"
(ICML), after Kynkäänniemi et al. 2019. Each real row ``X_i`` gets a ball whose radius ``r_k(X_i)`` is
the distance to its k-th nearest other real row (and each synthetic row ``Y_j`` one among the
synthetic rows). With ``M`` synthetic and ``N`` real rows:

* **precision** ``= 1/M · Σ_j 1[∃ i: ‖Y_j − X_i‖ ≤ r_k(X_i)]`` — synthetic rows that fall inside the real
  manifold (fidelity);
* **recall** ``= 1/N · Σ_i 1[∃ j: ‖X_i − Y_j‖ ≤ r_k(Y_j)]`` — real rows inside the synthetic manifold
  (diversity);
* **density** ``= 1/(kM) · Σ_j Σ_i 1[‖Y_j − X_i‖ ≤ r_k(X_i)]`` — how many real balls hold a synthetic
  row, ≈ 1 when the two come from one distribution, unbounded above (robust to real outliers);
* **coverage** ``= 1/N · Σ_i 1[min_j ‖X_i − Y_j‖ ≤ r_k(X_i)]`` — real rows with a synthetic row in their
  own ball (robust to synthetic outliers), ≈ 1 − (1/2)^k for identical distributions.

Rows are encoded by :class:`~simulacra.evaluate._features.FeatureEncoder` fitted on the real rows
(standardised numerics with missing indicators, one-hot categories, the 50 most frequent levels per
column) and compared with the Euclidean distance; ``k = 5`` and up to 5,000 rows per side, as the
paper recommends for its estimates' stability. Where this differs from the paper: the paper embeds
images with a pretrained network; tables have no such embedding, so the encoded rows themselves are
the feature space. Ties are common in discrete columns; a distance equal to a radius counts as inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import pairwise_distances_chunked
from sklearn.neighbors import NearestNeighbors

from simulacra.errors import ConfigError
from simulacra.evaluate._features import FeatureEncoder
from simulacra.metadata import Metadata

K = 5  # neighbours for the radii (the paper's default)
MAX_ROWS = 5_000  # rows per side


def _radii(x: np.ndarray, k: int) -> np.ndarray:
    """``(n,)`` distance of every row of ``x`` to its k-th nearest *other* row."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    return nn.kneighbors(x)[0][:, k]


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = K) -> dict[str, float]:
    """Precision, recall, density and coverage (see the module docstring) of feature rows.

    Parameters
    ----------
    real : ndarray, shape (N, D), float
        Real feature rows, N > k.
    fake : ndarray, shape (M, D), float
        Synthetic feature rows, M > k.
    k : int
        Neighbours defining the radii.

    Returns
    -------
    dict
        ``{"precision", "recall", "density", "coverage"}``, floats; density may exceed 1.

    Raises
    ------
    ConfigError
        Fewer than ``k + 1`` rows on a side, or the sides have different widths.
    """
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ConfigError(
            f"feature rows of different shapes {real.shape} and {fake.shape}; encode both alike"
        )
    if min(len(real), len(fake)) <= k:
        raise ConfigError(f"precision/recall need more than k={k} rows on each side")
    r_real, r_fake = _radii(real, k), _radii(fake, k)
    inside_real = np.zeros(len(fake), dtype=np.int64)  # per synthetic row: real balls holding it
    covered = np.zeros(len(real), dtype=bool)  # per real row: a synthetic row in its own ball
    recalled = np.zeros(len(real), dtype=bool)  # per real row: inside some synthetic ball
    start = 0
    for block in pairwise_distances_chunked(real, fake, working_memory=256):  # (rows of real, M)
        stop = start + len(block)
        inside = block <= r_real[start:stop, None]
        inside_real += inside.sum(0)
        covered[start:stop] = inside.any(1)
        recalled[start:stop] = (block <= r_fake[None, :]).any(1)
        start = stop
    return {
        "precision": float(np.mean(inside_real > 0)),
        "recall": float(np.mean(recalled)),
        "density": float(inside_real.sum() / (k * len(fake))),
        "coverage": float(np.mean(covered)),
    }


def diversity(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata,
    *,
    k: int = K,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`prdc` of up to ``max_rows`` real and synthetic rows (drawn with ``seed``), encoded as in
    the module docstring. Returns the four scores plus ``k`` and ``rows`` (per side)."""
    rng = np.random.default_rng(seed)
    m = min(len(real), len(synthetic), max_rows)
    r = real.iloc[np.sort(rng.choice(len(real), m, replace=False))]
    s = synthetic.iloc[np.sort(rng.choice(len(synthetic), m, replace=False))]
    enc = FeatureEncoder(metadata, real)
    return {**prdc(enc.onehot(r), enc.onehot(s), k=k), "k": k, "rows": m}
