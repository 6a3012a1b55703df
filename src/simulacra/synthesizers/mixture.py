"""Mixture of factorised distributions fitted by EM: a latent class model, the shallowest probabilistic
circuit — simulacra's fast default.

References
----------
* Lazarsfeld & Henry 1968, *Latent Structure Analysis*; Goodman 1974, "Exploratory latent structure
  analysis using both identifiable and unidentifiable models", Biometrika — the latent class model.
* Dempster, Laird & Rubin 1977, "Maximum likelihood from incomplete data via the EM algorithm", JRSS-B.
* Scassola et al. 2026, "A Sobering Look at Tabular Data Generation via Probabilistic Circuits" — its
  ShallowMixture baseline (a mixture of factorised distributions) reaches XGBoost C2ST 0.773 and TSTR
  0.902 on Adult in 60 s on a GPU, close to TabSyn/TabDiff at a fraction of their cost.

Method
------
1. **Discretisation.** Every column becomes one or two discrete *variables*: a categorical/boolean
   column its categories (missing is a category); a numerical/datetime column up to ``bins`` bins of
   equal real mass on its empirical CDF — a value holding more than one bin's mass (the zeros of
   ``capital-gain``) is one bin, and a column of at most ``bins`` distinct values has one bin per value
   — plus, when it has missing values, a missing indicator. Bins are taken on the normal-score
   transform of :class:`~simulacra.transform.TableTransformer`, so value grids, integers, bounds and
   missing values are decoded as for every other model.
2. **Factors.** Two variables whose contingency table is mostly *structural zeros* — they occupy at
   most half the cells that independent variables with their marginals would fill in as many rows
   (``education`` and ``education-num``: 16 of 256) — become one factor over their observed
   combinations. A mixture of product distributions cannot represent a structural zero unless its
   components are pure, so without this it invents combinations that never occur, which is the first
   thing a tree detector finds.
3. **Model.** ``p(x) = Σ_k π_k Π_f θ_{k,f}(b_f(x)) · Π_v p(x_v | b_v)``: ``K = components`` mixture
   components, each a product of one categorical distribution per factor; inside a bin a value
   follows the column's empirical distribution (shared by all components).
4. **Fit.** EM from ``K`` training rows as seeds (each component starts as its seed row's one-hot,
   smoothed halfway towards the marginals); the M-step adds ``smoothing`` pseudo-rows spread as the
   marginal (a Dirichlet prior, so no probability is ever zero and no component can memorise a row's
   rare values). EM stops after ``iterations`` or when the mean log-likelihood gains less than ``tol``
   (nats per row). Rows are processed in chunks of at most 2²⁴ one-hot entries, so memory is
   ``O(K × D)`` plus 64 MiB, not ``O(N × D)``.
5. **Sample.** ``k ~ π``, each factor's category from ``θ_k``, a value inside the bin uniformly on the
   bin's CDF range, decoded by the quantile function.

Conditions are exact and rejection-free: the component is drawn from its posterior given the
conditioned variables (Bayes' rule on ``π`` and ``θ``, summing a merged factor over its combinations
that meet the condition), every factor from that component restricted to those combinations, and the
conditioned columns are set to the requested values.

Hyper-parameters: ``components`` 300, ``bins`` 64, ``iterations`` 100, ``smoothing`` 1.0, ``tol``
1e-4 — chosen on Adult and Bank Marketing together (README, "the fast default": more components
raised the DCR share towards copying without raising detection; 100 bins helped Adult and cost Bank
0.02–0.04 of XGBoost detection; a smoothing of 5 cost both 0.1).

Where this differs from the paper: TabPC's ShallowMixture learns by SGD on a GPU; here it is classic
batch EM on the CPU (the closed-form M-step needs no learning rate), with a marginal Dirichlet prior
and row-seeded initialisation. Numerical columns are binned on the CDF with a shared within-bin
distribution instead of per-component continuous leaves.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtr, ndtri

from simulacra.errors import ConditionError
from simulacra.synthesizers.base import Synthesizer, register
from simulacra.synthesizers.training import progress_bar, threads
from simulacra.transform import TableTransformer
from simulacra.validation import MAX_SEED, Boolean, Integer, Param, Real

EPS = 1e-9
CHUNK_VALUES = 2**24  # one-hot entries per EM chunk (64 MiB of float32): rows per chunk = this ÷ D


class _Variable:
    """One discrete variable of the mixture: a discrete span (its categories) or a continuous span cut
    into bins with CDF ranges ``[lo, hi)`` (``edges``: the raw bin edges on the uniform scale; ``compact``:
    raw bin → kept bin)."""

    def __init__(self, span_index: int, card: int, edges=None, compact=None, lo=None, hi=None) -> None:
        self.span_index = span_index
        self.card = card
        self.edges, self.compact, self.lo, self.hi = edges, compact, lo, hi

    @property
    def continuous(self) -> bool:
        return self.edges is not None

    @classmethod
    def binned(cls, span_index: int, u: np.ndarray, bins: int) -> tuple[_Variable, np.ndarray]:
        """Bins of equal mass on the mid-rank CDF values ``u`` ``(N,)``; returns the variable and the
        bin codes ``(N,)`` int64."""
        distinct = np.unique(u)
        if distinct.size <= bins:  # few values: one bin each (exact, so links to other columns hold)
            edges = (distinct[1:] + distinct[:-1]) / 2
        else:
            edges = np.unique(np.quantile(u, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
        raw = np.searchsorted(edges, u, side="right")
        used, codes = np.unique(raw, return_inverse=True)
        compact = np.full(edges.size + 1, -1, dtype=np.int64)
        compact[used] = np.arange(used.size)
        order = np.sort(u)
        umin = np.full(used.size, np.inf)
        umax = np.full(used.size, -np.inf)
        np.minimum.at(umin, codes, u)
        np.maximum.at(umax, codes, u)
        lo = np.searchsorted(order, umin, side="left") / u.size  # share of rows below the bin
        hi = np.searchsorted(order, umax, side="right") / u.size  # share of rows up to its top
        return cls(span_index, int(used.size), edges, compact, lo, hi), codes.astype(np.int64)

    def code_of(self, u: float) -> int:
        """The kept bin of a uniform-scale value (the nearest kept bin when its raw bin is empty)."""
        raw = int(np.searchsorted(self.edges, u, side="right"))
        if self.compact[raw] >= 0:
            return int(self.compact[raw])
        kept = np.flatnonzero(self.compact >= 0)
        return int(self.compact[kept[np.argmin(np.abs(kept - raw))]])


class _Factor:
    """A categorical distribution of the mixture over one variable or a merged pair: ``members`` are the
    variable indices, ``combos`` ``(card, len(members))`` the code tuple of each of its categories, in
    lexicographic order."""

    def __init__(self, members: list[int], combos: np.ndarray) -> None:
        self.members = members
        self.combos = combos
        self.card = int(combos.shape[0])
        self._scale = int(combos[:, -1].max()) + 1 if combos.size else 1

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Variable codes ``(N, V)`` → this factor's codes ``(N,)`` (every tuple must be a combo)."""
        if len(self.members) == 1:
            return codes[:, self.members[0]]
        keys = self.combos[:, 0] * self._scale + self.combos[:, 1]
        return np.searchsorted(keys, codes[:, self.members[0]] * self._scale + codes[:, self.members[1]])


MAX_PAIR_CELLS = 4096  # largest contingency table examined for a merge
#: merge two variables when they occupy at most this share of the cells that independent variables
#: with the same marginals would occupy in as many rows (structural zeros, not sparse sampling)
MERGE_OCCUPANCY = 0.5


def _factors(codes: np.ndarray, cards: list[int]) -> list[_Factor]:
    """Group the variables into factors: a pair whose contingency table is mostly structural zeros
    (``education`` and ``education-num`` in Adult occupy 16 of 256 cells) becomes one factor over its
    observed combinations, so that no component can mix them into a combination that never occurs.
    Greedy, emptiest table first, each variable in at most one pair; every other variable is its own
    factor."""
    n = codes.shape[0]
    freqs = [np.bincount(codes[:, v], minlength=c) / max(n, 1) for v, c in enumerate(cards)]
    candidates = []
    for i in range(len(cards)):
        for j in range(i + 1, len(cards)):
            if cards[i] < 2 or cards[j] < 2 or cards[i] * cards[j] > MAX_PAIR_CELLS:
                continue
            # cells in use: a bincount over at most MAX_PAIR_CELLS cells is O(N), np.unique's sort is
            # O(N log N) and made this loop minutes long on a million rows of 50 columns
            occupied = int(np.count_nonzero(np.bincount(codes[:, i] * cards[j] + codes[:, j], minlength=1)))
            expected = float((1.0 - np.exp(-n * np.outer(freqs[i], freqs[j]))).sum())
            if occupied <= MERGE_OCCUPANCY * expected:
                candidates.append((occupied / expected, i, j))
    used: set[int] = set()
    factors = []
    for _, i, j in sorted(candidates):
        if i in used or j in used:
            continue
        used |= {i, j}
        factors.append(_Factor([i, j], np.unique(codes[:, [i, j]], axis=0)))
    for v in range(len(cards)):
        if v not in used:
            factors.append(_Factor([v], np.arange(cards[v], dtype=np.int64)[:, None]))
    return factors


def _shown(conditions: dict[str, Any]) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in conditions.items())


@register
class Mixture(Synthesizer):
    """Mixture of factorised distributions fitted by EM (see the module docstring for the method).

    Parameters
    ----------
    components: ``K``, mixture components.
    bins: most bins per numerical/datetime column.
    iterations: most EM iterations.
    smoothing: Dirichlet pseudo-rows per component and variable, spread as the marginal.
    tol: EM stops when the mean log-likelihood gains less than this (nats per row).
    seed: seed of the initialisation and of the transformer.
    verbose: show a Rich progress bar with the log-likelihood and ETA.

    Attributes
    ----------
    transformer_: the fitted :class:`~simulacra.transform.TableTransformer`.
    variables_: one discrete variable per transformer span (categories, or bins with CDF ranges).
    factors_: the variables grouped into factors (single variables and merged pairs).
    weights_: ``(K,)`` float64 mixture weights ``π``.
    probs_: ``(K, D)`` float64, each component's categorical distributions, factor after factor
        (``D`` = the factors' categories in all).
    history_: per iteration ``{"loglik": mean log-likelihood per row (nats)}``; ``epochs_trained_``:
        the iterations run.
    """

    name = "mixture"
    supports_temperature = True  # sample(temperature=τ): the category distributions of every factor raised to 1/τ and renormalised
    _parameter_constraints: ClassVar[dict[str, Param]] = {
        "components": Integer(ge=1, le=100_000),
        "bins": Integer(ge=2, le=10_000),
        "iterations": Integer(ge=0, le=100_000),
        "smoothing": Real(gt=0.0, le=1e6),
        "tol": Real(ge=0.0, le=1e6),
        "seed": Integer(ge=0, le=MAX_SEED),
        "verbose": Boolean(),
    }
    #: ``simulacra tune``'s default space (:class:`~simulacra.experiments.tune.Dimension` specs): the
    #: components' count and the bins' resolution set the model's capacity, the Dirichlet smoothing its
    #: prior weight; ``iterations`` stays as given
    search_space: ClassVar[dict[str, str]] = {
        "components": "50:600:log",
        "bins": "16:128:log",
        "smoothing": "0.1:10:log",
    }

    def __init__(
        self,
        components: int = 300,
        bins: int = 64,
        iterations: int = 100,
        smoothing: float = 1.0,
        tol: float = 1e-4,
        seed: int = 0,
        verbose: bool = True,
    ) -> None:
        self.components = components
        self.bins = bins
        self.iterations = iterations
        self.smoothing = smoothing
        self.tol = tol
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ discretisation
    def _discretise(self, data: pd.DataFrame) -> np.ndarray:
        """Fit the transformer and the variables; returns the codes ``(N, V)`` int64."""
        self.transformer_ = TableTransformer(
            numerical="normal_score", categorical="onehot", seed=self.seed
        ).fit(data, self.metadata_)
        matrix = self.transformer_.transform(data)
        variables, codes = [], []
        for i, span in enumerate(self.transformer_.spans_):
            block = matrix[:, span.start : span.end]
            if span.kind == "continuous":
                var, c = _Variable.binned(i, ndtr(block[:, 0].astype(np.float64)), int(self.bins))
            else:
                var, c = _Variable(i, span.end - span.start), block.argmax(axis=1).astype(np.int64)
            variables.append(var)
            codes.append(c)
        self.variables_ = variables
        codes = np.column_stack(codes) if codes else np.zeros((len(data), 0), dtype=np.int64)
        self.factors_ = _factors(codes, [v.card for v in variables])
        self._layout()
        return np.column_stack([f.encode(codes) for f in self.factors_]) if self.factors_ else codes

    def _layout(self) -> None:
        cards = [f.card for f in self.factors_]
        self.offsets_ = np.concatenate([[0], np.cumsum(cards)]).astype(np.int64)

    def _chunk(self) -> int:
        """Rows per EM chunk: 2²⁴ one-hot entries, between 64 and 8,192 rows."""
        return int(min(8192, max(64, CHUNK_VALUES // max(int(self.offsets_[-1]), 1))))

    def _onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """``(n, V)`` codes → ``(n, D)`` float32 one-hot rows."""
        x = torch.zeros(codes.shape[0], int(self.offsets_[-1]))
        return x.scatter_(1, codes + torch.from_numpy(self.offsets_[:-1]), 1.0)

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame) -> None:
        codes = torch.from_numpy(self._discretise(data))
        n, d = codes.shape[0], int(self.offsets_[-1])
        k = int(min(self.components, n))
        gen = torch.Generator().manual_seed(int(self.seed))
        with threads(), torch.inference_mode():
            marginal = torch.zeros(d, dtype=torch.float64)
            for start in range(0, n, self._chunk()):
                marginal += self._onehot(codes[start : start + self._chunk()]).sum(0, dtype=torch.float64)
            marginal /= n
            seeds = torch.randperm(n, generator=gen)[:k]
            probs = 0.5 * self._onehot(codes[seeds]).double() + 0.5 * marginal  # (K, D)
            weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
            history: list[dict[str, float]] = []
            with progress_bar("iterations", self.verbose) as progress:
                task = progress.add_task(self.name, total=int(self.iterations), losses="")
                for _ in range(int(self.iterations)):
                    counts, sizes, loglik = self._em_step(codes, probs, weights)
                    # M-step with a Dirichlet prior: `smoothing` pseudo-rows spread as the marginal
                    probs = counts + self.smoothing * marginal
                    probs /= self._variable_sums(probs)
                    weights = (sizes + 1.0) / (n + k)
                    history.append({"loglik": loglik})
                    progress.update(task, advance=1, losses=f"log-likelihood {loglik:.4f}")
                    if len(history) > 1 and loglik - history[-2]["loglik"] < self.tol:
                        break
        self.weights_ = weights.numpy()
        self.probs_ = probs.numpy()
        self.history_ = history
        self.epochs_trained_ = len(history)

    def _variable_sums(self, probs: torch.Tensor) -> torch.Tensor:
        """Each entry's sum over its variable's categories, broadcast back to ``(K, D)``."""
        index = torch.repeat_interleave(
            torch.arange(len(self.factors_)), torch.from_numpy(np.diff(self.offsets_))
        )
        sums = torch.zeros(probs.shape[0], len(self.factors_), dtype=probs.dtype)
        sums.index_add_(1, index, probs)
        return sums[:, index]

    def _em_step(
        self, codes: torch.Tensor, probs: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One E-step over all rows in chunks: expected counts ``(K, D)``, component sizes ``(K,)`` and
        the mean log-likelihood per row under ``(probs, weights)``."""
        log_probs = probs.clamp_min(EPS).log().float().T.contiguous()  # (D, K)
        log_weights = weights.clamp_min(EPS).log().float()
        counts = torch.zeros_like(probs)
        sizes = torch.zeros_like(weights)
        total = 0.0
        for start in range(0, codes.shape[0], self._chunk()):
            x = self._onehot(codes[start : start + self._chunk()])  # (c, D)
            joint = x @ log_probs + log_weights  # (c, K)
            norm = torch.logsumexp(joint, dim=1, keepdim=True)
            resp = (joint - norm).exp_()  # (c, K) posteriors
            counts += (resp.T @ x).double()
            sizes += resp.sum(0, dtype=torch.float64)
            total += float(norm.sum(dtype=torch.float64))
        return counts, sizes, total / codes.shape[0]

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        fixed, exact = self._parse_conditions(conditions)
        allowed = {}  # factor → (c,) bool: its codes that meet the conditions on its variables
        for f, factor in enumerate(self.factors_):
            mask = np.ones(factor.card, dtype=bool)
            for pos, v in enumerate(factor.members):
                if v in fixed:
                    mask &= factor.combos[:, pos] == fixed[v]
            if not mask.all():
                if not mask.any():
                    raise ConditionError(
                        f"the combination {_shown(conditions)} never occurs in the training data"
                    )
                allowed[f] = mask
        log_post = np.log(np.maximum(self.weights_, EPS))
        for f, mask in allowed.items():
            block = self.probs_[:, self.offsets_[f] : self.offsets_[f + 1]]
            log_post = log_post + np.log(np.maximum(block[:, mask].sum(axis=1), EPS))
        post = np.exp(log_post - log_post.max())
        comp = _draw(np.broadcast_to(post / post.sum(), (1, post.size)), rng, n, shared=True)
        codes = np.zeros((n, len(self.variables_)), dtype=np.int64)
        for f, factor in enumerate(self.factors_):
            block = self.probs_[:, self.offsets_[f] : self.offsets_[f + 1]]
            if f in allowed:
                block = block * allowed[f]
            if self._temperature != 1.0:  # θ^(1/τ): sharper below 1, flatter above
                block = block ** (1.0 / self._temperature)
            codes[:, factor.members] = factor.combos[_draw(block[comp], rng)]
        spans = self.transformer_.spans_
        matrix = np.zeros((n, self.transformer_.output_dim_), dtype=np.float32)
        for v, var in enumerate(self.variables_):
            span, code = spans[var.span_index], codes[:, v]
            if var.continuous:
                u = var.lo[code] + (var.hi[code] - var.lo[code]) * rng.random(n)
                matrix[:, span.start] = ndtri(np.clip(u, 1e-12, 1 - 1e-12))
            else:
                matrix[np.arange(n), span.start + code] = 1.0
        out = self.transformer_.inverse_transform(matrix)
        for col, value in exact.items():  # met by construction; restores the exact requested value
            out[col] = pd.Series([value] * n, dtype=object).astype(out[col].dtype, errors="ignore")
        return out

    def _parse_conditions(self, conditions: dict[str, Any]) -> tuple[dict[int, int], dict[str, Any]]:
        """Conditions → ``{variable: code}`` and ``{column: value}`` to set after decoding.

        Raises
        ------
        ConditionError
            As :meth:`TableTransformer.condition_targets` (an id column, an unseen category, a number
            outside the real range or off the value grid, a missing value a column never has).
        """
        variable_of = {
            (
                self.transformer_.spans_[var.span_index].column,
                self.transformer_.spans_[var.span_index].role,
            ): v
            for v, var in enumerate(self.variables_)
        }
        fixed: dict[int, int] = {}
        for col, value in conditions.items():
            for role, target in self.transformer_.condition_targets(col, value).items():
                v = variable_of[(col, role)]
                if self.variables_[v].continuous:  # a number: the bin that holds it
                    enc = self.transformer_.columns_[col]["value"]
                    target = self.variables_[v].code_of(float(enc.to_uniform(np.array([target]))[0]))
                fixed[v] = int(target)
        exact = dict(conditions)
        return fixed, exact

    def _bytes_per_row(self) -> float:
        widest = int(np.diff(self.offsets_).max()) if len(self.factors_) else 1
        return super()._bytes_per_row() + 8.0 * (self.transformer_.output_dim_ + widest)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {"weights": self.weights_, "probs": self.probs_}
        for f, factor in enumerate(self.factors_):
            arrays[f"combos_{f}"] = factor.combos
        variables = []
        for v, var in enumerate(self.variables_):
            variables.append({"span": var.span_index, "card": var.card, "continuous": var.continuous})
            if var.continuous:
                for key in ("edges", "compact", "lo", "hi"):
                    arrays[f"{key}_{v}"] = getattr(var, key)
        state = {
            "transformer": self.transformer_.to_state(),
            "variables": variables,
            "factors": [list(map(int, f.members)) for f in self.factors_],
            "history": self.history_,
        }
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.transformer_ = TableTransformer.from_state(state["transformer"])
        self.variables_ = []
        for v, item in enumerate(state["variables"]):
            extra = (
                {k: arrays[f"{k}_{v}"] for k in ("edges", "compact", "lo", "hi")}
                if item["continuous"]
                else {}
            )
            self.variables_.append(_Variable(int(item["span"]), int(item["card"]), **extra))
        self.factors_ = [
            _Factor([int(v) for v in members], np.asarray(arrays[f"combos_{f}"], dtype=np.int64))
            for f, members in enumerate(state["factors"])
        ]
        self._layout()
        self.weights_ = np.asarray(arrays["weights"], dtype=np.float64)
        self.probs_ = np.asarray(arrays["probs"], dtype=np.float64)
        if self.probs_.shape != (self.weights_.size, int(self.offsets_[-1])):
            raise ValueError(
                f"probs has shape {self.probs_.shape}, the variables need {self.offsets_[-1]} columns"
            )
        self.history_ = list(state["history"])
        self.epochs_trained_ = len(self.history_)


def _draw(
    probs: np.ndarray, rng: np.random.Generator, n: int | None = None, shared: bool = False
) -> np.ndarray:
    """One category per row of ``probs`` ``(n, c)`` by the inverse CDF (rows need not be normalised);
    with ``shared``, ``n`` draws from the single row ``probs[0]``."""
    cum = np.cumsum(probs, axis=1)
    if shared:
        u = rng.random(n) * cum[0, -1]
        return np.minimum(np.searchsorted(cum[0], u, side="right"), probs.shape[1] - 1)
    u = rng.random(probs.shape[0])[:, None] * cum[:, -1:]
    return np.minimum((cum <= u).sum(axis=1), probs.shape[1] - 1)


__all__ = ["Mixture"]
