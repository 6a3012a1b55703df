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
1. **Discretisation.** Every column becomes one or two *variables*: a categorical/boolean column its
   categories (missing is a category); a numerical/datetime column with a continuum of values (more
   than ``bins`` distinct values, none of them holding :data:`SPIKE_SHARE` of the rows) its normal
   score, for a Gaussian leaf; any other numerical/datetime column up to ``bins`` bins of equal real
   mass on its empirical CDF — a value holding more than one bin's mass (the zeros of
   ``capital-gain``) is one bin, and a column of at most ``bins`` distinct values has one bin per
   value; and, when a numerical column has missing values, a missing indicator. Scores and bins are
   taken on the normal-score transform of :class:`~simulacra.transform.TableTransformer`, so value
   grids, integers, bounds and missing values are decoded as for every other model.
2. **Factors.** Two discrete variables whose contingency table is mostly *structural zeros* — they
   occupy at most half the cells that independent variables with their marginals would fill in as
   many rows (``education`` and ``education-num``: 16 of 256) — become one factor over their observed
   combinations. A mixture of product distributions cannot represent a structural zero unless its
   components are pure, so without this it invents combinations that never occur, which is the first
   thing a tree detector finds. Likewise two continuum columns whose binned joint fills at most
   :data:`CURVE_OCCUPANCY` of the cells that a straight ridge with their slope and spread fills lie on
   a thin, curved set (``longitude`` × ``latitude``: the coast and the cities) that a Gaussian leaf blurs into
   the sea; both are binned instead and merged into one factor (:func:`_curved_pairs`).
3. **Blocks.** The Gaussian columns are grouped into blocks of at most :data:`BLOCK` (all together
   up to 16; beyond, by average-linkage clustering on ``1 − |correlation|``), so the cost grows
   linearly with the number of columns.
4. **Model.** ``p(x) = Σ_k π_k Π_f θ_{k,f}(b_f(x)) · Π_B N(z_B(x); μ_{k,B}, Σ_{k,B}) · Π_v p(x_v | b_v)``:
   ``K = components`` mixture components, each a product of one categorical distribution per factor
   and one full-covariance Gaussian per block of normal scores; inside a bin a value follows the
   column's empirical distribution (shared by all components).
5. **Fit.** EM from ``K`` training rows as seeds (each component starts as its seed row's one-hot and
   scores, smoothed halfway towards the marginals and the table's mean and covariance). The M-step
   adds ``smoothing`` pseudo-rows spread as the marginal to each categorical distribution (a Dirichlet
   prior, so no probability is ever zero and no component can memorise a row's rare values), and
   ``smoothing × LEAF_PRIOR_ROWS`` pseudo-rows per column, spread as ``LEAF_PRIOR_SCALE`` times the
   table's covariance, plus a ridge of :data:`RIDGE`, to each Gaussian (a conjugate prior: no
   covariance is singular, yet a component can be as narrow as a city on a map). EM stops after
   ``iterations`` or when the mean log-likelihood gains less than ``tol`` (nats per row). Rows are
   processed in chunks of at most 2²⁴ one-hot entries and :data:`CHUNK_ROWS` rows, so memory is
   ``O(K × D)`` plus 64 MiB, not ``O(N × D)``. Each chunk's log-likelihoods are two matrix products:
   one-hot rows by ``log θ`` and, for the Gaussian leaves, the rows' scores and their products
   ``z zᵀ`` by the components' precisions (:func:`_gaussian_weights`); its expected statistics are two
   more, responsibilities by the one-hot rows and by ``[1, z zᵀ, z]``.
6. **Sample.** ``k ~ π``, each factor's category from ``θ_k``, a value inside a bin uniformly on the
   bin's CDF range, each block's scores from ``N(μ_k, Σ_k)`` (covariance × temperature), decoded by the
   quantile functions.

Conditions are exact and rejection-free: the component is drawn from its posterior given the
conditioned variables (Bayes' rule on ``π``, ``θ`` and, for a conditioned Gaussian column, its
Gaussian density; summing a merged factor over its combinations that meet the condition), every factor
from that component restricted to those combinations, the other scores of a conditioned block from
their conditional Gaussian, and the conditioned columns are set to the requested values.

Hyper-parameters: ``components`` 300, ``bins`` 64, ``iterations`` 100, ``smoothing`` 1.0, ``tol``
1e-4, ``continuous`` ``"gaussian"`` — chosen on Adult and Bank Marketing together (docs/models.md, "the fast
default": more components raised the DCR share towards copying without raising detection; 100 bins
helped Adult and cost Bank 0.02–0.04 of XGBoost detection; a smoothing of 5 cost both 0.1), and the
Gaussian leaves on Adult, Bank and California Housing together (docs/models.md, "continuous tables": on
Housing the binned leaves scored 0.16 of XGBoost detection, because within-bin draws are independent
across columns and a tree finds the broken ridges between ``total_rooms``, ``households`` and
``population``; ``continuous="bins"`` keeps the binned model). :data:`CURVE_OCCUPANCY` (0.7) lies
between the one curved pair of the three tables (``longitude`` × ``latitude``, 0.53; 0.60 on a sample
of 4,000 rows) and the next pair (``longitude`` × ``median_house_value``, 0.82); binning the
straight ridge of ``total_bedrooms`` × ``households`` too cost Housing half its detection score
(docs/models.md).

Where this differs from the paper: TabPC's ShallowMixture learns by SGD on a GPU; here it is classic
batch EM on the CPU (the closed-form M-step needs no learning rate), with a marginal Dirichlet prior
and row-seeded initialisation. Continuous columns with a point mass and discrete-valued numerical
columns are binned on the CDF with a shared within-bin distribution instead of per-component
continuous leaves, and the continuous leaves are full-covariance Gaussians on normal scores over
blocks of columns (TabPC's leaves are univariate); a curved pair of continua is binned jointly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtr, ndtri

from simulacra.errors import ConditionError
from simulacra.synthesizers.base import Synthesizer, register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.training import progress_bar, threads
from simulacra.transform import TableTransformer
from simulacra.validation import MAX_SEED, Boolean, Choice, Integer, Real

EPS = 1e-9
CHUNK_VALUES = 2**24  # one-hot entries per EM chunk (64 MiB of float32): rows per chunk = this ÷ D
#: most rows per EM chunk: the E-step is bound by memory traffic over ``(rows, K)`` arrays, and chunks
#: that stay in the processor's cache run an EM step faster (on 2 cores, 1,024 to 2,048 rows were
#: the fastest of 256 to 8,192)
CHUNK_ROWS = 2048
#: most columns in one full-covariance Gaussian block: wider tables get several blocks, so a fit costs
#: O(N·K·G·BLOCK), linear in the number of columns G
BLOCK = 16
#: added to every covariance's diagonal (normal-score units): a point mass (a capped value) stays a
#: narrow Gaussian, never a singular one
RIDGE = 1e-3
#: a numerical column whose most frequent value holds this share of the rows or more stays binned
SPIKE_SHARE = 0.1
#: the Gaussian leaves' prior: ``smoothing × LEAF_PRIOR_ROWS`` pseudo-rows per column of a block, spread
#: as ``LEAF_PRIOR_SCALE`` times the table's covariance around its mean — enough that no component's
#: covariance is singular, little enough that a component can be as narrow as a city on a map
LEAF_PRIOR_ROWS = 0.03
LEAF_PRIOR_SCALE = 0.01


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
#: factors of more categories than this enter the E-step by gathering and scattering each row's entry,
#: the others as one-hot rows in a matrix product (whose cost grows with the categories)
WIDE_FACTOR = 256
#: merge two variables when they occupy at most this share of the cells that independent variables
#: with the same marginals would occupy in as many rows (structural zeros, not sparse sampling)
MERGE_OCCUPANCY = 0.5


def _factors(codes: np.ndarray, cards: list[int], pairs: list[tuple[int, int]] = ()) -> list[_Factor]:
    """Group the variables into factors: a pair whose contingency table is mostly structural zeros
    (``education`` and ``education-num`` in Adult occupy 16 of 256 cells) becomes one factor over its
    observed combinations, so that no component can mix them into a combination that never occurs.
    ``pairs`` (the binned curved pairs of :func:`_curved_pairs`) are merged first, whatever their table.
    Greedy, emptiest table first, each variable in at most one pair; every other variable is its own
    factor."""
    n = codes.shape[0]
    freqs = [np.bincount(codes[:, v], minlength=c) / max(n, 1) for v, c in enumerate(cards)]
    candidates = [(-1.0, i, j) for i, j in pairs]
    taken = {v for pair in pairs for v in pair}
    for i in range(len(cards)):
        for j in range(i + 1, len(cards)):
            if (
                i in taken
                or j in taken
                or cards[i] < 2
                or cards[j] < 2
                or cards[i] * cards[j] > MAX_PAIR_CELLS
            ):
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


#: bin two continuum columns together when they occupy at most this share of the cells that a straight
#: ridge with the same slope and spread fills: a thin, curved joint (a coastline on a map) that one
#: Gaussian leaf per component blurs
CURVE_OCCUPANCY = 0.7
#: most rows the test of :func:`_curved_pairs` looks at (occupancy is compared at equal rows)
CURVE_ROWS = 10_000


def _curved_pairs(scores: np.ndarray, bins: int, seed: int) -> list[tuple[int, int]]:
    """Pairs of Gaussian columns ``(N, G)`` (normal scores) whose joint a Gaussian leaf cannot follow.

    Each column is cut into ``bins`` bins of equal mass. A pair's ``bins × bins`` cells in use are
    compared with the cells in use by its *straight ridge*: the least-squares line of one column on the
    other, with the residuals shuffled among the rows (seeded with ``seed``), which keeps the slope and
    the spread around the line but not where along the line the points lie. A straight, noisy ridge
    fills as many cells as its ridge (rooms and households: 0.98); where the data fill at most
    :data:`CURVE_OCCUPANCY` of them, the joint lies on a thin, curved set — ``longitude`` and
    ``latitude`` fill 0.53: the coast, the cities — and the pair is binned and merged into one factor,
    whose cells are exact. Greedy, emptiest first, each column in at most one pair.
    ``O(G² · min(N,`` :data:`CURVE_ROWS` ``))``. Returns ``(i, j)`` column positions."""
    n, g = scores.shape
    if g < 2 or n < 2:
        return []
    rng = np.random.default_rng(seed)
    z = scores[rng.permutation(n)[:CURVE_ROWS]].astype(np.float64)  # (m, G)
    z = (z - z.mean(0)) / np.maximum(z.std(0), EPS)  # unit scale: a ridge's slope is a correlation
    m, cells = z.shape[0], (bins + 1) ** 2
    grid = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = [np.unique(np.quantile(z[:, j], grid)) for j in range(g)]  # (≤ bins − 1,) equal-mass bins
    codes = np.column_stack([np.searchsorted(edges[j], z[:, j], side="right") for j in range(g)])
    shuffle = rng.permutation(m)
    found = []
    for i in range(g):
        for j in range(i + 1, g):
            occupied = np.count_nonzero(np.bincount(codes[:, i] * (bins + 1) + codes[:, j], minlength=cells))
            # the straight ridge with the same slope and the same spread around it, at every position
            line = z[:, i] * (float(z[:, i] @ z[:, j]) / m)  # (m,)
            ridge = line + (z[:, j] - line)[shuffle]  # (m,): the residuals moved to random rows
            other = np.searchsorted(edges[j], ridge, side="right")
            expected = np.count_nonzero(np.bincount(codes[:, i] * (bins + 1) + other, minlength=cells))
            if occupied <= CURVE_OCCUPANCY * expected:
                found.append((occupied / expected, i, j))
    used: set[int] = set()
    pairs = []
    for _, i, j in sorted(found):
        if i not in used and j not in used:
            used |= {i, j}
            pairs.append((i, j))
    return pairs


def is_continuum(counts: np.ndarray, rows: int, bins: int) -> bool:
    """Whether a numerical column, given how often each of its distinct values occurs (``counts``, one
    per value) in ``rows`` rows, takes a Gaussian leaf: more than ``bins`` distinct values and none
    holding :data:`SPIKE_SHARE` of the rows. Columns of few values (a count, a day of the month) and
    columns with a large point mass (the zeros of ``capital-gain``, the 40 of ``hours-per-week``) stay
    binned, where a value and its links to other columns are exact. The one rule for the model and for
    :func:`simulacra.synthesizers.advice.advise`."""
    return len(counts) > bins and int(np.max(counts, initial=0)) < SPIKE_SHARE * rows


def _blocks(scores: np.ndarray) -> list[list[int]]:
    """The Gaussian columns ``(N, G)`` grouped into blocks of at most :data:`BLOCK` for the
    full-covariance leaves: all of them when ``G ≤ BLOCK``; else in the leaf order of an average-linkage
    clustering on ``1 − |correlation|``, cut into consecutive runs, so that strongly correlated columns
    share a block."""
    g = scores.shape[1]
    if g <= BLOCK:
        return [list(range(g))] if g else []
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(scores, rowvar=False))
    dist = np.clip(1.0 - np.abs(corr), 0.0, None)
    np.fill_diagonal(dist, 0.0)
    order = leaves_list(linkage(squareform(dist, checks=False), method="average")).tolist()
    return [sorted(order[i : i + BLOCK]) for i in range(0, g, BLOCK)]


def _pairs(zb: torch.Tensor) -> torch.Tensor:
    """Each row's products of its block's scores: ``(c, b)`` → ``(c, b·b)`` (``z_i z_j``, row-major)."""
    return (zb[:, :, None] * zb[:, None, :]).reshape(zb.shape[0], -1)


def _gaussian_weights(
    means: torch.Tensor, chols: list[torch.Tensor], blocks: list[list[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian leaves' log-densities as one linear map of each row's features.

    With the precision ``Λ = Σ⁻¹ = L⁻ᵀL⁻¹`` of a block, ``log N(z; μ, Σ) = −½ zᵀΛz + zᵀΛμ − ½ μᵀΛμ −
    ½ log|Σ| − (b/2) log 2π``: linear in the products ``z zᵀ`` (:func:`_pairs`) and in ``z``. So for
    features ``[pairs_1, …, pairs_B, z]`` ``(c, Σ b·b + G)`` the sum over blocks is
    ``features @ weights + bias``, one matrix product per chunk that writes the ``(c, K)`` result
    directly. Returns ``weights`` ``(Σ b·b + G, K)`` and ``bias`` ``(K,)``, float64 from means
    ``(K, G)`` and Cholesky factors ``(K, b, b)`` per block."""
    k, g = means.shape
    quads, linear, bias = [], torch.zeros(g, k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
    for block, chol in zip(blocks, chols, strict=True):
        b = len(block)
        eye = torch.eye(b, dtype=chol.dtype).expand(k, b, b)
        prec = torch.linalg.solve_triangular(chol, eye, upper=False)  # (K, b, b): L⁻¹
        lam = prec.transpose(1, 2) @ prec  # (K, b, b): Λ
        mu = means[:, block]  # (K, b)
        h = (lam @ mu[:, :, None])[..., 0]  # (K, b): Λμ
        logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)  # (K,)
        quads.append(-0.5 * lam.reshape(k, b * b).T)  # (b·b, K)
        linear[block] = h.T
        bias -= 0.5 * ((h * mu).sum(1) + logdet + b * np.log(2 * np.pi))
    return torch.cat([*quads, linear]), bias


def _log_normal(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``log N(x; μ_k, Σ_k)`` for one point ``x`` ``(m,)`` under each component: means ``(K, m)``,
    covariances ``(K, m, m)`` → ``(K,)``."""
    chol = np.linalg.cholesky(covs)
    y = np.linalg.solve(chol, (x[None, :] - means)[:, :, None])[:, :, 0]
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)
    return -0.5 * ((y**2).sum(1) + logdet + x.size * np.log(2 * np.pi))


def _shown(conditions: dict[str, Any]) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in conditions.items())


@register
class Mixture(Synthesizer):
    """Mixture of factorised distributions fitted by EM (see the module docstring for the method).

    Attributes
    ----------
    transformer_: the fitted :class:`~simulacra.transform.TableTransformer`.
    variables_: one discrete variable per transformer span that is not a Gaussian column (categories,
        or bins with CDF ranges).
    gaussian_: the transformer spans with Gaussian leaves; ``blocks_``: their positions grouped into
        blocks.
    means_: ``(K, G)`` float64 leaf means; ``chols_``: per block ``(K, b, b)`` float64 Cholesky factors
        of the leaf covariances (normal-score units).
    factors_: the variables grouped into factors (single variables and merged pairs).
    weights_: ``(K,)`` float64 mixture weights ``π``.
    probs_: ``(K, D)`` float64, each component's categorical distributions, factor after factor
        (``D`` = the factors' categories in all).
    history_: per iteration ``{"loglik": mean log-likelihood per row (nats)}``; ``epochs_trained_``:
        the iterations run.
    """

    name = "mixture"
    supports_temperature = True  # sample(temperature=τ): the category distributions of every factor raised to 1/τ and renormalised
    # tune's default space: the components' count and the bins' resolution set the model's capacity,
    # the Dirichlet smoothing its prior weight; ``iterations`` stays as given
    components = Hyper(300, Integer(ge=1, le=100_000), "``K``, mixture components", space="50:600:log")
    bins = Hyper(64, Integer(ge=2, le=10_000), "most bins per numerical/datetime column", space="16:128:log")
    iterations = Hyper(100, Integer(ge=0, le=100_000), "most EM iterations")
    smoothing = Hyper(
        1.0,
        Real(gt=0.0, le=1e6),
        "Dirichlet pseudo-rows per component and variable, spread as the marginal (and the Gaussian "
        "leaves' prior weight, see LEAF_PRIOR_ROWS)",
        space="0.1:10:log",
    )
    tol = Hyper(
        1e-4,
        Real(ge=0.0, le=1e6),
        "EM stops when the mean log-likelihood gains less than this (nats per row)",
    )
    continuous = Hyper(
        "gaussian",
        Choice("gaussian", "bins"),
        '"gaussian": numerical columns with a continuum of values get full-covariance Gaussian leaves on '
        'their normal scores; "bins": every numerical column is binned (the model before the leaves)',
    )
    seed = Hyper(0, Integer(ge=0, le=MAX_SEED), "seed of the initialisation and of the transformer")
    verbose = Hyper(True, Boolean(), "show a Rich progress bar with the log-likelihood and ETA")

    # ------------------------------------------------------------------ discretisation
    def _discretise(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Fit the transformer, the discrete variables and the Gaussian columns; returns the factor
        codes ``(N, F)`` int64 and the normal scores of the Gaussian columns ``(N, G)`` float32."""
        self.transformer_ = TableTransformer(
            numerical="normal_score", categorical="onehot", seed=self.seed
        ).fit(data, self.metadata_)
        matrix = self.transformer_.transform(data)
        variables, codes, gaussian = [], [], []
        for i, span in enumerate(self.transformer_.spans_):
            block = matrix[:, span.start : span.end]
            if span.kind == "continuous":
                z = block[:, 0].astype(np.float64)
                if self.continuous == "gaussian" and is_continuum(
                    np.unique(z, return_counts=True)[1], z.size, int(self.bins)
                ):
                    gaussian.append(i)  # a continuum of values: a Gaussian leaf on its normal scores
                    continue
                var, c = _Variable.binned(i, ndtr(z), int(self.bins))
            else:
                var, c = _Variable(i, span.end - span.start), block.argmax(axis=1).astype(np.int64)
            variables.append(var)
            codes.append(c)
        spans = self.transformer_.spans_
        scores = np.column_stack([matrix[:, spans[i].start] for i in gaussian]) if gaussian else None
        scores = scores if scores is not None else np.zeros((len(data), 0), dtype=np.float32)
        # a curved pair (a coastline): both columns binned, their bins merged into one factor below
        curved = _curved_pairs(scores, int(self.bins), int(self.seed))
        moved = {g: len(variables) + rank for rank, g in enumerate(sorted({g for p in curved for g in p}))}
        for g in moved:
            var, c = _Variable.binned(gaussian[g], ndtr(scores[:, g].astype(np.float64)), int(self.bins))
            variables.append(var)
            codes.append(c)
        pairs = [(moved[a], moved[b]) for a, b in curved]
        self.curved_ = [(spans[gaussian[a]].column, spans[gaussian[b]].column) for a, b in curved]
        keep = [g for g in range(len(gaussian)) if g not in moved]
        gaussian, scores = [gaussian[g] for g in keep], scores[:, keep]
        self.variables_ = variables
        self.gaussian_ = gaussian
        self.blocks_ = _blocks(scores)
        codes = np.column_stack(codes) if codes else np.zeros((len(data), 0), dtype=np.int64)
        self.factors_ = _factors(codes, [v.card for v in variables], pairs)
        self._layout()
        codes = np.column_stack([f.encode(codes) for f in self.factors_]) if self.factors_ else codes
        return codes, scores.astype(np.float32)

    def _layout(self) -> None:
        cards = [f.card for f in self.factors_]
        self.offsets_ = np.concatenate([[0], np.cumsum(cards)]).astype(np.int64)

    def _chunk(self) -> int:
        """Rows per EM chunk: at most 2²⁴ one-hot entries, between 64 and :data:`CHUNK_ROWS` rows."""
        rows = CHUNK_VALUES // max(int(self.offsets_[-1]), 1)
        return int(min(CHUNK_ROWS, max(64, rows)))

    def _onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """``(n, V)`` codes → ``(n, D)`` float32 one-hot rows."""
        x = torch.zeros(codes.shape[0], int(self.offsets_[-1]))
        return x.scatter_(1, codes + torch.from_numpy(self.offsets_[:-1]), 1.0)

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame) -> None:
        factor_codes, scores = self._discretise(data)
        codes = torch.from_numpy(factor_codes)
        z = torch.from_numpy(scores).double()
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
            # Gaussian leaves: the prior is `prior_rows` pseudo-rows spread as the whole table's scores
            mean0 = z.mean(0)  # (G,)
            cov0 = [torch.cov(z[:, b].T).reshape(len(b), len(b)) for b in self.blocks_]
            means = 0.5 * z[seeds] + 0.5 * mean0  # (K, G)
            covs = [
                0.5 * c0.expand(k, -1, -1).clone() + RIDGE * torch.eye(len(b))
                for c0, b in zip(cov0, self.blocks_, strict=True)
            ]
            history: list[dict[str, float]] = []
            with progress_bar("iterations", self.verbose) as progress:
                task = progress.add_task(self.name, total=int(self.iterations), losses="")
                for _ in range(int(self.iterations)):
                    chols = [torch.linalg.cholesky(c) for c in covs]
                    counts, sizes, sz, szz, loglik = self._em_step(codes, z, probs, weights, means, chols)
                    # M-step with a Dirichlet prior: `smoothing` pseudo-rows spread as the marginal
                    probs = counts + self.smoothing * marginal
                    probs /= self._variable_sums(probs)
                    weights = (sizes + 1.0) / (n + k)
                    means, covs = self._gaussian_m_step(sizes, sz, szz, mean0, cov0)
                    history.append({"loglik": loglik})
                    progress.update(task, advance=1, losses=f"log-likelihood {loglik:.4f}")
                    if len(history) > 1 and loglik - history[-2]["loglik"] < self.tol:
                        break
        self.weights_ = weights.numpy()
        self.probs_ = probs.numpy()
        self.means_ = means.numpy()
        self.chols_ = [torch.linalg.cholesky(c).numpy() for c in covs]
        self.history_ = history
        self.epochs_trained_ = len(history)

    def _gaussian_m_step(
        self,
        sizes: torch.Tensor,
        sz: torch.Tensor,
        szz: list[torch.Tensor],
        mean0: torch.Tensor,
        cov0: list[torch.Tensor],
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Means ``(K, G)`` and per-block covariances ``(K, b, b)`` from the expected sufficient
        statistics, each component given ``smoothing × LEAF_PRIOR_ROWS × b`` pseudo-rows spread as
        :data:`LEAF_PRIOR_SCALE` times the whole table's covariance (a conjugate prior: no component's
        covariance is singular) and a ridge of :data:`RIDGE`."""
        covs = []
        means = torch.empty_like(sz)
        for b, block in enumerate(self.blocks_):
            prior = float(self.smoothing) * LEAF_PRIOR_ROWS * len(block)
            rows = sizes[:, None] + prior  # (K, 1)
            m = (sz[:, block] + prior * mean0[block]) / rows  # (K, b)
            outer0 = LEAF_PRIOR_SCALE * cov0[b] + torch.outer(mean0[block], mean0[block])
            second = (szz[b] + prior * outer0) / rows[:, :, None]  # (K, b, b)
            cov = second - m[:, :, None] * m[:, None, :]
            cov = 0.5 * (cov + cov.transpose(1, 2)) + RIDGE * torch.eye(len(block), dtype=cov.dtype)
            means[:, block] = m
            covs.append(cov)
        return means, covs

    def _variable_sums(self, probs: torch.Tensor) -> torch.Tensor:
        """Each entry's sum over its variable's categories, broadcast back to ``(K, D)``."""
        index = torch.repeat_interleave(
            torch.arange(len(self.factors_)), torch.from_numpy(np.diff(self.offsets_))
        )
        sums = torch.zeros(probs.shape[0], len(self.factors_), dtype=probs.dtype)
        sums.index_add_(1, index, probs)
        return sums[:, index]

    def _em_step(
        self,
        codes: torch.Tensor,
        z: torch.Tensor,
        probs: torch.Tensor,
        weights: torch.Tensor,
        means: torch.Tensor,
        chols: list[torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor], float]:
        """One E-step over all rows in chunks: expected counts ``(K, D)``, component sizes ``(K,)``,
        the Gaussian leaves' sufficient statistics (``Σ r z`` ``(K, G)`` and per block ``Σ r z zᵀ``
        ``(K, b, b)``) and the mean log-likelihood per row under the current parameters."""
        log_probs = probs.clamp_min(EPS).log().float().T.contiguous()  # (D, K)
        log_weights = weights.clamp_min(EPS).log().float()
        if self.blocks_:
            gauss_weights, gauss_bias = _gaussian_weights(means, chols, self.blocks_)
        # narrow factors: one-hot rows times log θ (a matrix product); wide ones (a merged curved pair
        # of thousands of cells): a row's log θ gathered, its responsibilities scattered back
        wide = [f for f, factor in enumerate(self.factors_) if factor.card > WIDE_FACTOR]
        narrow = [f for f in range(len(self.factors_)) if f not in wide]
        columns = torch.cat(
            [torch.arange(self.offsets_[f], self.offsets_[f + 1]) for f in narrow]
            or [torch.zeros(0, dtype=torch.long)]
        )  # (Dn,): the narrow factors' categories
        narrow_offsets = torch.from_numpy(np.cumsum([0] + [self.factors_[f].card for f in narrow])[:-1])
        log_narrow = log_probs[columns]  # (Dn, K)
        counts = torch.zeros(probs.shape[1], probs.shape[0], dtype=torch.float64)  # (D, K): Σ r per category
        chunk_counts = torch.empty(probs.shape[1], probs.shape[0])  # (D, K) float32, one chunk's wide ones
        sizes = torch.zeros_like(weights)
        sz = torch.zeros_like(means)
        szz = [torch.zeros(means.shape[0], len(b), len(b), dtype=torch.float64) for b in self.blocks_]
        total = 0.0
        g, chunk = means.shape[1], self._chunk()
        for start in range(0, codes.shape[0], chunk):
            rows = codes[start : start + chunk]  # (c, F)
            x = torch.zeros(rows.shape[0], columns.numel())  # (c, Dn) one-hot
            x.scatter_(1, rows[:, narrow] + narrow_offsets, 1.0)
            joint = x @ log_narrow + log_weights  # (c, K)
            for f in wide:
                joint += log_probs.index_select(0, rows[:, f] + int(self.offsets_[f]))
            if self.blocks_:
                zc = z[start : start + chunk]  # (c, G)
                feats = torch.cat([*(_pairs(zc[:, block]) for block in self.blocks_), zc], dim=1)
                joint = (torch.addmm(gauss_bias, feats, gauss_weights) + joint).float()
            norm = torch.logsumexp(joint, dim=1, keepdim=True)
            resp = (joint - norm).exp_()  # (c, K) posteriors
            counts[columns] += (x.T @ resp).double()
            if wide:
                chunk_counts.zero_()
                for f in wide:
                    chunk_counts.index_add_(0, rows[:, f] + int(self.offsets_[f]), resp)
                counts += chunk_counts
            if not self.blocks_:
                sizes += resp.sum(0, dtype=torch.float64)
            else:  # sizes, Σ r z zᵀ and Σ r z in one product: (K, c) @ (c, 1 + Σ b·b + G)
                ones = torch.ones(zc.shape[0], 1, dtype=torch.float64)
                stats = resp.double().T @ torch.cat([ones, feats], dim=1)
                sizes += stats[:, 0]
                at = 1
                for b, block in enumerate(self.blocks_):
                    width = len(block) * len(block)
                    szz[b] += stats[:, at : at + width].reshape(-1, len(block), len(block))
                    at += width
                sz += stats[:, at : at + g]
            total += float(norm.sum(dtype=torch.float64))
        return counts.T, sizes, sz, szz, total / codes.shape[0]

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        fixed, scores, exact = self._parse_conditions(conditions)
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
        covs = [c @ c.transpose(0, 2, 1) for c in self.chols_]  # (K, b, b) per block
        for b, block in enumerate(self.blocks_):  # a conditioned Gaussian column: its density
            known = [i for i, g in enumerate(block) if g in scores]
            if known:
                zk = np.array([scores[block[i]] for i in known])
                log_post = log_post + _log_normal(
                    zk, self.means_[:, block][:, known], covs[b][:, known][:, :, known]
                )
        post = np.exp(log_post - log_post.max())
        comp = _draw_given(post[None, :], np.zeros(n, dtype=np.int64), rng)  # (n,) components
        codes = np.zeros((n, len(self.variables_)), dtype=np.int64)
        for f, factor in enumerate(self.factors_):
            block = self.probs_[:, self.offsets_[f] : self.offsets_[f + 1]]
            if f in allowed:
                block = block * allowed[f]
            if self._temperature != 1.0:  # θ^(1/τ): sharper below 1, flatter above
                block = block ** (1.0 / self._temperature)
            codes[:, factor.members] = factor.combos[_draw_given(block, comp, rng)]
        spans = self.transformer_.spans_
        matrix = np.zeros((n, self.transformer_.output_dim_), dtype=np.float32)
        z = self._draw_scores(comp, scores, covs, rng)  # (n, G)
        for g, i in enumerate(self.gaussian_):
            matrix[:, spans[i].start] = z[:, g]
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

    def _draw_scores(
        self, comp: np.ndarray, scores: dict[int, float], covs: list[np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Normal scores ``(n, G)`` of the Gaussian columns for rows of components ``comp`` ``(n,)``:
        each block from its component's Gaussian — given the conditioned scores ``{column index:
        z}`` (their conditional Gaussian), with the covariance scaled by the temperature."""
        n = comp.size
        out = np.zeros((n, len(self.gaussian_)))
        scale = np.sqrt(self._temperature)
        for b, block in enumerate(self.blocks_):
            known = [i for i, g in enumerate(block) if g in scores]
            free = [i for i in range(len(block)) if i not in known]
            for i in known:
                out[:, block[i]] = scores[block[i]]
            if not free:
                continue
            eps = rng.standard_normal((n, len(free)))
            for k in np.unique(comp):
                rows = comp == k
                mu, cov = self.means_[k, block], covs[b][k]
                if known:  # the free part given the known part
                    zk = np.array([scores[block[i]] for i in known])
                    gain = np.linalg.solve(cov[np.ix_(known, known)], cov[np.ix_(known, free)]).T
                    m = mu[free] + gain @ (zk - mu[known])
                    c = cov[np.ix_(free, free)] - gain @ cov[np.ix_(known, free)]
                    chol = np.linalg.cholesky(0.5 * (c + c.T) + RIDGE * 1e-3 * np.eye(len(free)))
                else:
                    m, chol = mu, self.chols_[b][k]
                out[np.ix_(rows, [block[i] for i in free])] = m + scale * eps[rows] @ chol.T
        return out

    def _parse_conditions(
        self, conditions: dict[str, Any]
    ) -> tuple[dict[int, int], dict[int, float], dict[str, Any]]:
        """Conditions → ``{variable: code}``, ``{Gaussian column index: normal score}`` and ``{column:
        value}`` to set after decoding.

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
        gaussian_of = {self.transformer_.spans_[i].column: g for g, i in enumerate(self.gaussian_)}
        fixed: dict[int, int] = {}
        scores: dict[int, float] = {}
        for col, value in conditions.items():
            for role, target in self.transformer_.condition_targets(col, value).items():
                if role == "value" and col in gaussian_of:  # a number: its normal score
                    enc = self.transformer_.columns_[col]["value"]
                    u = float(enc.to_uniform(np.array([target]))[0])
                    scores[gaussian_of[col]] = float(ndtri(np.clip(u, 1e-12, 1 - 1e-12)))
                    continue
                v = variable_of[(col, role)]
                if self.variables_[v].continuous:  # a number: the bin that holds it
                    enc = self.transformer_.columns_[col]["value"]
                    target = self.variables_[v].code_of(float(enc.to_uniform(np.array([target]))[0]))
                fixed[v] = int(target)
        exact = dict(conditions)
        return fixed, scores, exact

    def summary(self) -> str:
        """One line on how the columns were modelled: which numerical columns got Gaussian leaves (a
        continuum of values) and which were binned (few values, or a point mass), for ``fit`` to
        print."""
        spans = self.transformer_.spans_
        leaves = [spans[i].column for i in self.gaussian_]
        together = {c for pair in self.curved_ for c in pair}
        binned = [
            spans[v.span_index].column
            for v in self.variables_
            if v.continuous
            and spans[v.span_index].role == "value"
            and spans[v.span_index].column not in together
        ]
        parts = []
        if leaves:
            parts.append(
                f"Gaussian leaves for {len(leaves)} continuous column(s) ({', '.join(leaves[:6])}{'…' if len(leaves) > 6 else ''})"
            )
        if self.curved_:
            pairs = ", ".join(f"{a} × {b}" for a, b in self.curved_)
            parts.append(f"binned together (a curved joint a Gaussian would blur): {pairs}")
        if binned:
            parts.append(
                f"{len(binned)} numerical column(s) binned (few values or a point mass: {', '.join(binned[:6])}{'…' if len(binned) > 6 else ''})"
            )
        return "; ".join(parts) or "every column categorical"

    def _bytes_per_row(self) -> float:
        # the one-hot codes and the Gaussian scores with their noise (a factor's draw is one binary
        # search per row: no row ever holds a factor's categories)
        return super()._bytes_per_row() + 8.0 * self.transformer_.output_dim_ + 16.0 * len(self.gaussian_)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {"weights": self.weights_, "probs": self.probs_, "means": self.means_}
        for b, chol in enumerate(self.chols_):
            arrays[f"chol_{b}"] = chol
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
            "gaussian": [int(i) for i in self.gaussian_],
            "blocks": [[int(g) for g in b] for b in self.blocks_],
            "curved": [list(pair) for pair in self.curved_],
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
        self.gaussian_ = [int(i) for i in state.get("gaussian", [])]
        self.blocks_ = [[int(g) for g in b] for b in state.get("blocks", [])]
        self.curved_ = [(str(a), str(b)) for a, b in state.get("curved", [])]
        k = self.weights_.size
        self.means_ = np.asarray(arrays.get("means", np.zeros((k, 0))), dtype=np.float64)
        self.chols_ = [np.asarray(arrays[f"chol_{b}"], dtype=np.float64) for b in range(len(self.blocks_))]
        g = len(self.gaussian_)
        if sorted(x for b in self.blocks_ for x in b) != list(range(g)) or self.means_.shape != (k, g):
            raise ValueError("the Gaussian columns, their blocks and their means do not match")
        for chol, block in zip(self.chols_, self.blocks_, strict=True):
            if chol.shape != (k, len(block), len(block)) or (np.diagonal(chol, axis1=1, axis2=2) <= 0).any():
                raise ValueError(
                    "a Gaussian block's Cholesky factor has the wrong shape or a non-positive diagonal"
                )
        self.history_ = list(state["history"])
        self.epochs_trained_ = len(self.history_)


def _draw_given(table: np.ndarray, comp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row from row ``comp[i]`` of ``table`` ``(K, c)`` (rows need not be normalised),
    by the inverse CDF: ``(n,)`` int64. Every row's CDF, shifted by its index, is one sorted array of
    ``K·c`` entries, so a draw is one binary search and no ``(n, c)`` array is ever built (a merged map
    factor has thousands of cells)."""
    cum = np.cumsum(table, axis=1)
    flat = (cum / np.maximum(cum[:, -1:], EPS) + np.arange(table.shape[0])[:, None]).ravel()
    u = rng.random(comp.size)
    found = np.searchsorted(flat, comp + u, side="right") - comp * table.shape[1]
    return np.minimum(found, table.shape[1] - 1)


__all__ = ["Mixture"]
