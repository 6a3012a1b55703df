"""Per-column encoders: each maps a 1-D array of values to a float block ``(N, k)`` and back.

* :class:`NumericalEncoder` — ``normal_score``: the value's mid-rank empirical CDF ``u`` (linear between
  up to ``max_quantiles`` stored quantiles) mapped to a standard normal score ``Φ⁻¹(u)``; its inverse
  reads the quantile function, so marginals are reproduced, spikes (many zeros) included.
  ``standard``: ``(x − mean) / std``. ``minmax``: ``2(x − lo)/(hi − lo) − 1`` in ``[−1, 1]``, for a
  range known in advance (a differentially private model fits it on the domain's two bounds).
* :class:`ModeSpecificEncoder` — CTGAN's *mode-specific normalization* (Xu et al. 2019, §4.2): a
  variational (Dirichlet-process) Gaussian mixture per column; a value becomes ``[α, one-hot(mode)]``
  with ``α = (x − μ_k) / (4σ_k)``.
* :class:`CategoricalEncoder` — ``frequency``: each category owns an interval of ``[0, 1)`` as wide as
  its frequency (the "frequency"/"uniform" encoding of SDV's copulas); a value is encoded as
  ``Φ⁻¹(u)`` with ``u`` drawn uniformly inside its interval, and decoded by the interval that holds
  ``Φ(z)``. ``onehot``: one column per category, decoded by argmax.

Every encoder's state is plain JSON (``to_state``/``from_state``), so saved models never need pickle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from simulacra.errors import ConditionError, ConfigError

EPS = 1e-6  # keeps u inside (0, 1) so that Φ⁻¹(u) is finite


def _to_py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _finite(value: Any, name: str) -> float:
    """``value`` as a finite float (a saved model is untrusted input).

    Raises
    ------
    ValueError
        Not a number, or NaN or infinite.
    """
    x = float(value)
    if not np.isfinite(x):
        raise ValueError(f"{name} is {x}")
    return x


def _finite_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 array of finite numbers.

    Raises
    ------
    ValueError
        Not numbers, or a NaN or infinite one.
    """
    a = np.asarray(values, dtype=float)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} hold NaN or infinite values")
    return a


class NumericalEncoder:
    """Encode one numerical column (finite float values, no missing) into one float column.

    Parameters
    ----------
    method: ``"normal_score"`` (default) or ``"standard"``.
    max_quantiles: number of quantiles kept for ``normal_score`` (the model stores these, never rows).
    """

    width = 1

    def __init__(self, method: str = "normal_score", max_quantiles: int = 1000) -> None:
        if method not in ("normal_score", "standard", "minmax"):
            raise ConfigError(f"numerical encoding {method!r}: use 'normal_score', 'standard' or 'minmax'")
        self.method = method
        self.max_quantiles = max_quantiles

    def fit(self, x: np.ndarray) -> NumericalEncoder:
        x = np.asarray(x, dtype=float)
        if x.size == 0:
            x = np.zeros(1)
        if self.method == "standard":
            self.mean_, self.std_ = float(x.mean()), float(x.std() or 1.0)
            return self
        if self.method == "minmax":
            self.lo_, self.hi_ = float(x.min()), float(x.max())
            return self
        k = int(min(self.max_quantiles, max(2, x.size)))
        self._set_quantiles(np.quantile(x, np.linspace(0.0, 1.0, k)))
        return self

    def _set_quantiles(self, quantiles: np.ndarray) -> None:
        self.quantiles_ = np.asarray(quantiles, dtype=float)
        k = self.quantiles_.size
        self.probs_ = np.linspace(0.0, 1.0, k)
        # first and last grid position of each distinct quantile: ties get their mid-rank
        q, first = np.unique(self.quantiles_, return_index=True)
        last = k - 1 - np.unique(self.quantiles_[::-1], return_index=True)[1]
        self._grid = (q, self.probs_[first], self.probs_[last])

    def to_uniform(self, x: np.ndarray) -> np.ndarray:
        """Mid-rank empirical CDF of ``x``, in ``(0, 1)``."""
        q, p_first, p_last = self._grid
        if q.size == 1:
            return np.full(np.shape(x), 0.5)
        u = 0.5 * (np.interp(x, q, p_first) + np.interp(x, q, p_last))
        return np.clip(u, EPS, 1 - EPS)

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.method == "standard":
            return ((x - self.mean_) / self.std_)[:, None]
        if self.method == "minmax":
            span = (self.hi_ - self.lo_) or 1.0
            return np.clip(2.0 * (x - self.lo_) / span - 1.0, -1.0, 1.0)[:, None]
        return ndtri(self.to_uniform(x))[:, None]

    def inverse(self, block: np.ndarray) -> np.ndarray:
        z = np.asarray(block, dtype=float)[:, 0]
        if self.method == "standard":
            return z * self.std_ + self.mean_
        if self.method == "minmax":
            return self.lo_ + (np.clip(z, -1.0, 1.0) + 1.0) / 2.0 * (self.hi_ - self.lo_)
        return np.interp(ndtr(z), self.probs_, self.quantiles_)

    def to_state(self) -> dict[str, Any]:
        if self.method == "standard":
            return {"method": self.method, "mean": self.mean_, "std": self.std_}
        if self.method == "minmax":
            return {"method": self.method, "lo": self.lo_, "hi": self.hi_}
        return {
            "method": self.method,
            "max_quantiles": self.max_quantiles,
            "quantiles": self.quantiles_.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NumericalEncoder:
        enc = cls(state["method"], state.get("max_quantiles", 1000))
        if enc.method == "standard":
            enc.mean_, enc.std_ = _finite(state["mean"], "mean"), _finite(state["std"], "std")
            if enc.std_ <= 0:
                raise ValueError(f"std {enc.std_} is not positive")
        elif enc.method == "minmax":
            enc.lo_, enc.hi_ = _finite(state["lo"], "lo"), _finite(state["hi"], "hi")
        else:
            q = _finite_array(state["quantiles"], "quantiles")
            if q.ndim != 1 or q.size == 0 or (np.diff(q) < 0).any():
                raise ValueError("the quantile grid is not a non-decreasing list of numbers")
            enc._set_quantiles(q)
        return enc


class ModeSpecificEncoder:
    """Mode-specific normalization of one numerical column (Xu et al. 2019, "Modeling Tabular Data using
    Conditional GAN", NeurIPS, §4.2), encoded as ``k + 1`` float columns ``[α, one-hot(mode)]``.

    A Bayesian Gaussian mixture with a Dirichlet-process prior (scikit-learn's
    ``BayesianGaussianMixture``, ``weight_concentration_prior=0.001`` as in the reference) is fitted with up
    to ``max_modes`` components; components of weight below ``weight_threshold`` are dropped. A value ``x``
    is given a mode ``k`` drawn from its posterior over the kept modes and the scalar
    ``α = clip((x − μ_k) / (4σ_k), −0.99, 0.99)``; decoding takes the mode by argmax and inverts ``α``.

    **Point masses** (our addition): a single value holding at least ``spike_share`` of the rows (the
    zeros of ``capital-gain``, the 40 of ``hours-per-week``) becomes a mode of its own with σ = 0, and
    the mixture is fitted to the other values. Such a value is encoded with ``α = 0`` and decoded
    exactly. The reference instead covers a spike with a Gaussian mode, so decoded "zeros" scatter around
    zero and the column's CDF loses its step.

    Speed: the reference fits the mixture on every row of every column, one after another (SDV issues
    #628, #988; 11.6 s for Adult's six numerical columns on 2 cores). Here the mixture is fitted on at
    most ``max_rows`` evenly spaced order statistics (a stratified subsample that keeps the tails;
    1.2 s for the same columns at 5,000) and the transformer fits columns in parallel threads. The
    posterior is computed in NumPy from the stored parameters, so the state is plain JSON.

    Parameters
    ----------
    max_modes: components of the mixture (10 in the paper).
    weight_threshold: components lighter than this are dropped (0.005 in the reference).
    max_rows: subsample size of the mixture fit.
    spike_share: share of rows from which a single value is a point-mass mode; ``1.0`` or more turns
        point masses off (the reference behaviour).
    seed: seed of the mixture's initialisation.
    """

    def __init__(
        self,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
        max_rows: int = 5000,
        spike_share: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.max_modes = max_modes
        self.weight_threshold = weight_threshold
        self.max_rows = max_rows
        self.spike_share = spike_share
        self.seed = seed

    @property
    def width(self) -> int:
        return 1 + len(self.means_)

    def fit(self, x: np.ndarray) -> ModeSpecificEncoder:
        """``x``: finite float values ``(N,)``."""
        x = np.asarray(x, dtype=float)
        if x.size == 0:
            x = np.zeros(1)
        values, counts = np.unique(x, return_counts=True)
        share = counts / x.size
        spikes = values[share >= self.spike_share] if self.spike_share < 1 else values[:0]
        rest = x[~np.isin(x, spikes)]
        means, stds, weights = self._mixture(rest) if rest.size else (np.zeros(0), np.zeros(0), np.zeros(0))
        weights = weights * (rest.size / x.size)
        spike_weights = share[np.isin(values, spikes)]
        self._set(
            np.concatenate([means, spikes]),
            np.concatenate([stds, np.zeros(spikes.size)]),
            np.concatenate([weights, spike_weights]),
        )
        return self

    def _mixture(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        if x.size > self.max_rows:
            # evenly spaced order statistics: a stratified subsample that keeps rare tails in
            # proportion, and the extremes themselves
            x = np.sort(x)[np.round(np.linspace(0, x.size - 1, self.max_rows)).astype(np.int64)]
        distinct = np.unique(x)
        spread = float(x.std())
        if distinct.size < 2 or spread == 0.0:
            return np.array([x.mean()]), np.array([max(spread, 1e-6 * max(1.0, abs(x.mean())))]), np.ones(1)
        bgm = BayesianGaussianMixture(
            n_components=int(min(self.max_modes, distinct.size)),
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001,
            max_iter=100,
            n_init=1,
            random_state=int(self.seed),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bgm.fit(x[:, None])
        keep = bgm.weights_ > self.weight_threshold
        if not keep.any():
            keep = bgm.weights_ == bgm.weights_.max()
        means = bgm.means_[keep, 0]
        # a component narrower than 1e-3 of the spread keeps a usable width, so α stays informative
        stds = np.maximum(np.sqrt(bgm.covariances_.reshape(-1)[keep]), 1e-3 * spread)
        weights = bgm.weights_[keep] / bgm.weights_[keep].sum()
        order = np.argsort(means)
        return means[order], stds[order], weights[order]

    def _set(self, means: np.ndarray, stds: np.ndarray, weights: np.ndarray) -> None:
        self.means_ = np.asarray(means, dtype=float)
        self.stds_ = np.asarray(stds, dtype=float)
        self.weights_ = np.asarray(weights, dtype=float)
        self._gaussian = self.stds_ > 0

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """Probability of each mode for each value, ``(N, k)``: a point mass takes its own value with
        probability 1; other values follow the Gaussian modes' posterior."""
        x = np.asarray(x, dtype=float)
        p = np.zeros((x.size, len(self.means_)))
        g = self._gaussian
        if g.any():
            z = (x[:, None] - self.means_[g]) / self.stds_[g]
            logp = np.log(self.weights_[g]) - np.log(self.stds_[g]) - 0.5 * z * z
            logp -= logp.max(axis=1, keepdims=True)
            pg = np.exp(logp)
            p[:, g] = pg / pg.sum(axis=1, keepdims=True)
        for k in np.flatnonzero(~g):
            hit = x == self.means_[k]
            p[hit] = 0.0
            p[hit, k] = 1.0
        return p

    def transform(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Block ``(N, 1 + k)``: ``α`` then the one-hot of a mode drawn from the posterior."""
        x = np.asarray(x, dtype=float)
        cdf = np.cumsum(self.posterior(x), axis=1)
        mode = (rng.random(x.size)[:, None] > cdf).sum(axis=1)
        mode = np.minimum(mode, len(self.means_) - 1)
        out = np.zeros((x.size, self.width))
        scale = np.where(self._gaussian, 4 * self.stds_, np.inf)
        out[:, 0] = np.clip((x - self.means_[mode]) / scale[mode], -0.99, 0.99)
        out[np.arange(x.size), 1 + mode] = 1.0
        return out

    def inverse(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        mode = block[:, 1:].argmax(axis=1)
        alpha = np.clip(block[:, 0].astype(float), -1.0, 1.0)
        return alpha * 4 * self.stds_[mode] + self.means_[mode]

    def to_state(self) -> dict[str, Any]:
        return {
            "method": "mode_specific",
            "params": {
                "max_modes": self.max_modes,
                "weight_threshold": self.weight_threshold,
                "max_rows": self.max_rows,
                "spike_share": self.spike_share,
                "seed": self.seed,
            },
            "means": self.means_.tolist(),
            "stds": self.stds_.tolist(),
            "weights": self.weights_.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ModeSpecificEncoder:
        enc = cls(**state["params"])
        means, stds, weights = (_finite_array(state[k], k) for k in ("means", "stds", "weights"))
        if not (means.ndim == stds.ndim == weights.ndim == 1 and means.size == stds.size == weights.size > 0):
            raise ValueError("means, stds and weights of the modes differ in length")
        if (stds < 0).any() or (weights < 0).any():
            raise ValueError("a mode has a negative standard deviation or weight")
        enc._set(means, stds, weights)
        return enc


class CategoricalEncoder:
    """Encode one categorical column into one (``frequency``) or k (``onehot``) float columns.

    Categories are any hashable JSON-able values; ``None`` stands for missing and is a category like any
    other, so the missing rate is reproduced. Categories are ordered by decreasing frequency (ties by
    first appearance).
    """

    def __init__(self, method: str = "frequency") -> None:
        if method not in ("frequency", "onehot"):
            raise ConfigError(f"categorical encoding {method!r}: use 'frequency' or 'onehot'")
        self.method = method

    @property
    def width(self) -> int:
        return 1 if self.method == "frequency" else len(self.categories_)

    def fit(self, codes: np.ndarray, categories: list[Any]) -> CategoricalEncoder:
        """``codes``: int array ``(N,)`` indexing ``categories`` (the values in first-seen order)."""
        counts = np.bincount(codes, minlength=len(categories)).astype(float)
        order = np.argsort(-counts, kind="stable")
        self.categories_ = [categories[i] for i in order]
        self.freqs_ = counts[order] / max(counts.sum(), 1.0)
        self._index = {self._key(c): i for i, c in enumerate(self.categories_)}
        self._bounds()
        return self

    @staticmethod
    def _key(v: Any) -> Any:
        return ("__missing__",) if v is None else (type(v).__name__ if isinstance(v, bool) else "", v)

    def _bounds(self) -> None:
        self.cum_ = np.concatenate([[0.0], np.cumsum(self.freqs_)])
        self.cum_[-1] = 1.0

    def index_of(self, values: list[Any]) -> np.ndarray:
        """Category positions of ``values``; unseen values get -1."""
        return np.array([self._index.get(self._key(_to_py(v)), -1) for v in values], dtype=np.int64)

    def require(self, value: Any, column: str) -> int:
        """The position of ``value`` among the categories (for a condition on ``column``).

        Raises
        ------
        ConditionError
            ``value`` was never seen in ``column``; the message lists the seen values.
        """
        i = int(self.index_of([value])[0])
        if i < 0:
            shown = ", ".join(repr(c) for c in self.categories_[:10])
            more = " …" if len(self.categories_) > 10 else ""
            raise ConditionError(
                f"column {column!r} never takes the value {value!r}; seen values: {shown}{more}"
            )
        return i

    def transform_index(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.method == "onehot":
            out = np.zeros((idx.size, len(self.categories_)))
            out[np.arange(idx.size), idx] = 1.0
            return out
        lo, hi = self.cum_[idx], self.cum_[idx + 1]
        # the inner 99% of the interval, so float32 rounding near a boundary never flips the category
        u = lo + (hi - lo) * (0.005 + 0.99 * rng.random(idx.size))
        return ndtri(np.clip(u, EPS, 1 - EPS))[:, None]

    def inverse_index(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if self.method == "onehot":
            return block.argmax(axis=1)
        u = ndtr(block[:, 0].astype(float))
        return np.clip(np.searchsorted(self.cum_, u, side="right") - 1, 0, len(self.categories_) - 1)

    def to_state(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "categories": [_to_py(c) for c in self.categories_],
            "freqs": self.freqs_.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CategoricalEncoder:
        enc = cls(state["method"])
        enc.categories_ = list(state["categories"])
        enc.freqs_ = _finite_array(state["freqs"], "freqs")
        if enc.freqs_.shape != (len(enc.categories_),) or (enc.freqs_ < 0).any():
            raise ValueError("category frequencies do not match the categories")
        enc._index = {enc._key(c): i for i, c in enumerate(enc.categories_)}
        if len(enc._index) != len(enc.categories_):
            raise ValueError("a category appears twice")
        enc._bounds()
        return enc


def interval_of(encoder: CategoricalEncoder, value: Any, column: str) -> tuple[float, float]:
    """The latent normal-score interval ``(Φ⁻¹(a), Φ⁻¹(b))`` of ``value`` under a frequency encoding.

    Raises
    ------
    ConditionError
        When ``value`` was never seen in ``column``.
    """
    i = encoder.require(value, column)
    a, b = encoder.cum_[i], encoder.cum_[i + 1]
    return float(ndtri(a)) if a > 0 else -np.inf, float(ndtri(b)) if b < 1 else np.inf
