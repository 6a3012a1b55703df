"""Gaussian copula synthesizer — the fast baseline.

Method (Nelsen 2006, *An Introduction to Copulas*; the tabular form of Patki et al. 2016, "The Synthetic
Data Vault", IEEE DSAA):

1. **Marginals.** Each numerical/datetime column is mapped to a standard normal score through its
   empirical CDF (1,000 stored quantiles, linear in between; spikes such as the many zeros of a
   capital-gain column get their mid-rank). Each categorical/boolean column — and each missing-value
   indicator — uses the *frequency encoding*: category ``c`` owns an interval ``[a_c, b_c)`` of ``[0, 1)``
   as wide as its frequency, and a row is given ``Φ⁻¹(u)`` with ``u`` uniform in its category's interval.
   So every column is one latent dimension with a standard normal marginal.
2. **Dependence.** The correlation matrix ``Σ`` of the latent scores (made positive definite).
3. **Sampling.** ``z ~ N(0, Σ)``, mapped back column by column through the inverse marginals.

Conditional sampling is exact and rejection-free. A numerical condition fixes its latent value (a
point); a categorical condition restricts its latent to the category's interval
``(Φ⁻¹(a_c), Φ⁻¹(b_c))``. Points are conditioned on in closed form (conditional Gaussian). One interval
condition is sampled exactly from its univariate truncated normal; several interval conditions are
sampled jointly from the truncated multivariate normal with ``gibbs_sweeps`` sweeps of a Gibbs sampler
(Geweke 1991; every sweep's draw already satisfies all conditions). The remaining columns then follow the
conditional Gaussian given the conditioned latents. Because every interval has positive probability
under a Gaussian, any combination of *seen* values can be met; an unseen value raises
:class:`~simulacra.errors.ConditionError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from simulacra.errors import ConditionError
from simulacra.synthesizers.base import Synthesizer, register
from simulacra.synthesizers.hyper import Hyper
from simulacra.transform import TableTransformer, interval_of
from simulacra.validation import MAX_SEED, Integer


def _nearest_correlation(c: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Clip eigenvalues at ``floor`` and rescale to unit diagonal (a positive-definite correlation)."""
    c = np.nan_to_num((c + c.T) / 2.0)
    np.fill_diagonal(c, 1.0)
    w, v = np.linalg.eigh(c)
    c = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)


def _truncnorm(
    mean: np.ndarray, sd: np.ndarray, lo: float, hi: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw from N(mean, sd²) truncated to ``[lo, hi]`` (elementwise; exact inverse-CDF method)."""
    a, b = (lo - mean) / sd, (hi - mean) / sd
    return stats.truncnorm.rvs(a, b, loc=mean, scale=sd, random_state=rng)


def _condition(cov: np.ndarray, known: list[int], rest: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Regression matrix ``A`` and covariance of ``z[rest] | z[known]`` for a zero-mean Gaussian."""
    s_kk = cov[np.ix_(known, known)]
    s_rk = cov[np.ix_(rest, known)]
    a = np.linalg.solve(s_kk, s_rk.T).T
    return a, cov[np.ix_(rest, rest)] - a @ s_rk.T


@register
class GaussianCopula(Synthesizer):
    """Gaussian copula over empirical marginals (see the module docstring for the method).

    Attributes
    ----------
    transformer_: the fitted :class:`~simulacra.transform.TableTransformer` (one latent per span).
    correlation_: ``(D, D)`` float64 latent correlation matrix.
    """

    name = "copula"
    supports_temperature = (
        True  # sample(temperature=τ): the latent scale: the Gaussian draws are multiplied by τ
    )
    # tune searches the marginals' resolution only: the copula itself has no hyper-parameter to search
    max_quantiles = Hyper(
        1000,
        Integer(ge=2, le=1_000_000),
        "quantiles stored per numerical column (the model keeps these, never rows)",
        space="50:5000:log",
    )
    gibbs_sweeps = Hyper(
        30,
        Integer(ge=1, le=10_000),
        "sweeps of the Gibbs sampler used when several categorical conditions are given",
    )
    seed = Hyper(
        0,
        Integer(ge=0, le=MAX_SEED),
        "seed of the fit's only random step (the uniform draw inside category intervals)",
    )

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame) -> None:
        self.transformer_ = TableTransformer(
            numerical="normal_score",
            categorical="frequency",
            max_quantiles=self.max_quantiles,
            seed=self.seed,
        ).fit(data, self.metadata_)
        z = self.transformer_.transform(data).astype(np.float64)
        if z.shape[1] == 0:
            self.correlation_ = np.zeros((0, 0))
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(z, rowvar=False) if len(z) > 1 else np.eye(z.shape[1])
        self.correlation_ = _nearest_correlation(np.atleast_2d(corr))

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        d = self.correlation_.shape[0]
        points, boxes = self._latent_conditions(conditions)
        z = np.zeros((n, d))
        mean = np.zeros((n, d))
        free = [j for j in range(d) if j not in points]
        cov = self.correlation_
        if points:
            known = list(points)
            a, cov_free = _condition(self.correlation_, known, free)
            z[:, known] = np.array([points[j] for j in known])
            mean[:, free] = np.array([points[j] for j in known]) @ a.T
            cov = np.zeros_like(self.correlation_)
            cov[np.ix_(free, free)] = cov_free
        box_dims = [j for j in free if j in boxes]
        if box_dims:
            z[:, box_dims] = self._sample_boxes(
                mean[:, box_dims], cov[np.ix_(box_dims, box_dims)], [boxes[j] for j in box_dims], rng
            )
        rest = [j for j in free if j not in boxes]
        if rest and n:
            if box_dims:
                a, cov_rest = _condition(cov, box_dims, rest)
                mu = mean[:, rest] + (z[:, box_dims] - mean[:, box_dims]) @ a.T
            else:
                cov_rest, mu = cov[np.ix_(rest, rest)], mean[:, rest]
            w, v = np.linalg.eigh((cov_rest + cov_rest.T) / 2)
            root = v * np.sqrt(np.clip(w, 0, None))
            z[:, rest] = mu + self._temperature * rng.standard_normal((n, len(rest))) @ root.T
        out = self.transformer_.inverse_transform(z.astype(np.float32))
        for col, value in conditions.items():  # equal by construction; restores the exact requested value
            if self.metadata_[col].sdtype in ("categorical", "boolean"):
                out[col] = pd.Series([value] * n, dtype=out[col].dtype)
        return out

    def _latent_conditions(
        self, conditions: dict[str, Any]
    ) -> tuple[dict[int, float], dict[int, tuple[float, float]]]:
        """Translate column conditions to latent points (numerical) and intervals (categorical)."""
        spans = {(s.column, s.role): s for s in self.transformer_.spans_}
        points: dict[int, float] = {}
        boxes: dict[int, tuple[float, float]] = {}
        for col, value in conditions.items():
            meta = self.metadata_[col]
            if meta.sdtype == "id":
                raise ConditionError(
                    f"column {col!r} is an id column; ids are generated fresh and cannot be conditioned"
                )
            enc = self.transformer_.columns_[col]
            missing = value is None or (not isinstance(value, str) and pd.isna(value))
            if meta.sdtype in ("numerical", "datetime"):
                null_span = spans.get((col, "missing"))
                if missing:
                    if null_span is None:
                        raise ConditionError(
                            f"column {col!r} has no missing values; cannot condition on a missing value"
                        )
                    boxes[null_span.start] = interval_of(enc["null"], True, col)
                    continue
                x = self.transformer_.condition_value(col, value)
                points[spans[(col, "value")].start] = float(enc["value"].transform(np.array([x]))[0, 0])
                if null_span is not None:
                    boxes[null_span.start] = interval_of(enc["null"], False, col)
            else:
                boxes[spans[(col, "value")].start] = interval_of(
                    enc["value"], None if missing else value, col
                )
        return points, boxes

    def _sample_boxes(
        self, mean: np.ndarray, cov: np.ndarray, bounds: list[tuple[float, float]], rng: np.random.Generator
    ) -> np.ndarray:
        """Sample ``N(mean, cov)`` truncated to the box ``bounds`` (exact for one dim, Gibbs otherwise)."""
        n, k = mean.shape
        sd = np.sqrt(np.diag(cov))
        x = np.column_stack([_truncnorm(mean[:, j], sd[j], *bounds[j], rng) for j in range(k)]) if n else mean
        if k == 1 or n == 0:
            return x
        precision = np.linalg.inv(cov)
        cond_sd = 1.0 / np.sqrt(np.diag(precision))
        for _ in range(self.gibbs_sweeps):
            for j in range(k):
                others = [i for i in range(k) if i != j]
                shift = (x[:, others] - mean[:, others]) @ precision[j, others]
                mu = mean[:, j] - shift / precision[j, j]
                x[:, j] = _truncnorm(mu, cond_sd[j], *bounds[j], rng)
        return x

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"transformer": self.transformer_.to_state()}, {"correlation": self.correlation_}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.transformer_ = TableTransformer.from_state(state["transformer"])
        corr = np.asarray(arrays["correlation"], dtype=np.float64)
        d = sum(span.end - span.start for span in self.transformer_.spans_)
        if corr.shape != (d, d):
            raise ValueError(f"the correlation matrix is {corr.shape}, the table needs ({d}, {d})")
        if d and (not np.allclose(corr, corr.T) or not np.allclose(np.diag(corr), 1.0)):
            raise ValueError("the correlation matrix is not symmetric with a unit diagonal")
        if d and np.linalg.eigvalsh(corr).min() < -1e-8:
            raise ValueError("the correlation matrix is not positive semi-definite")
        self.correlation_ = corr


@register
class IndependentMarginals(GaussianCopula):
    """Every column drawn on its own from its real marginal: the Gaussian copula with ``Σ = I``.

    A sanity baseline, not a generator to use: it reproduces each column's distribution (column shapes
    ≈ 1, and the logistic detector, which sees no interactions, cannot tell its rows from real ones)
    and nothing of the dependence between columns (pair trends, TSTR ≈ 0.5 and the tree detectors show
    it). ``simulacra bench`` scores it as the floor of every table. Conditions are exact and change no
    other column. Parameters as :class:`GaussianCopula`.
    """

    name = "independent"
    max_quantiles = GaussianCopula.max_quantiles.but(space=None)  # a baseline: nothing to search

    def _fit(self, data: pd.DataFrame) -> None:
        super()._fit(data)
        self.correlation_ = np.eye(self.correlation_.shape[0])
