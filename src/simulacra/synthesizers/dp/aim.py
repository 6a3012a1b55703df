"""AIM — an adaptive and iterative mechanism for differentially private synthetic data.

McKenna, Mullins, Sheldon & Miklau (2022), "AIM: An Adaptive and Iterative Mechanism for Differentially
Private Synthetic Data", VLDB; on McKenna, Sheldon & Miklau (2019), Private-PGM
(:mod:`~simulacra.synthesizers.dp.graphical`). The method, as implemented here:

1. **Domain.** Every column's range or category set comes from the metadata the user declared, or is
   estimated with DP from a share (``domain_share``) of the budget
   (:func:`simulacra.transform.domain.estimate_domain`). Numbers are cut into ``bins`` equal-width
   bins of that range (a whole-number column of at most ``bins`` values: one bin per value; zero gets a
   bin of its own when the range holds it, as amounts and counts so often are zero); categories keep
   their released values plus an *other* bucket; every column has a missing slot.
2. **Workload and candidates.** The workload is every 3-way marginal (``workload="triples"``, the
   paper's experiments) or every 2-way one; the candidates are their subsets, each weighted by its
   overlap with the workload, ``w_r = Σ_{s∈W} |r ∩ s|``.
3. **Initialisation.** Every 1-way marginal is measured with the Gaussian mechanism,
   ``σ = √(T / (2·0.9·ρ))`` for ``T = rounds`` (default ``16·d``).
4. **Rounds.** Each round spends ``ε²/8 + 1/(2σ²)`` of ρ (``ε = √(8·0.1·ρ/T)``): the exponential
   mechanism picks the candidate ``r`` with the largest weighted error of the current model,
   ``w_r·(‖M_r(D) − M_r(p̂)‖₁ − √(2/π)·σ·n_r)`` (sensitivity ``max w``), among those that keep the
   junction tree below ``max_model_size · ρ_used/ρ`` MiB; its marginal is measured with noise σ; the
   model is re-estimated from all measurements (warm-started). When the new estimate of ``M_r`` moved
   by less than the noise's expected size, σ is halved and ε doubled (the budget anneals). When what
   is left cannot pay two more rounds, the last round spends all of it.
5. **Generation.** A final estimate, then rows are drawn from the graphical model and decoded: a bin
   becomes a value drawn uniformly inside it (a point bin its value), rounded for integers.

Conditions are exact: the conditioned columns' attributes are clamped in the model (evidence) before
belief propagation, and the rows are drawn from the conditional. Sampling temperature ``τ`` divides
the potentials by ``τ`` (``p(x)^{1/τ}``).

Privacy: ρ-zCDP for the measurements and selections (Gaussian and exponential mechanisms), plus the
domain estimate (ρ and, for released category sets, a δ of its own), converted to (ε, δ)-DP
(:mod:`~simulacra.synthesizers.dp.accounting`). The guarantee covers every learned column, the row
count included (the model's total is estimated from noisy measurements). It does not cover personal-
identifier columns, whose formats, locale and exclusion pool are derived from the data
(:mod:`simulacra.transform.pii`), nor id columns' names; both are generated, never learned.

Where this differs from the paper: the estimator's step is preconditioned
(:mod:`~simulacra.synthesizers.dp.graphical`) and runs ``iterations`` steps per round (the paper:
1,000), and the model-size limit defaults to 32 MiB (the paper: 80 MB), both for a 2-core CPU; the
domain estimate is ours (the paper assumes a public domain).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from simulacra.errors import ConditionError, ConfigError
from simulacra.metadata import NOT_LEARNED, Metadata
from simulacra.synthesizers.base import Synthesizer, register
from simulacra.synthesizers.dp.accounting import epsilon_of_rho, private_domain
from simulacra.synthesizers.dp.graphical import (
    Clique,
    GraphicalModel,
    JunctionTree,
    Measurement,
    cells,
    estimate,
)
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.training import progress_bar, threads
from simulacra.transform.domain import Domain
from simulacra.transform.secret import secret_rng
from simulacra.validation import MAX_SEED, Boolean, Choice, Integer, Optional, Real


class Binning:
    """How one numeric column's domain ``[lo, hi]`` becomes discrete values: ``edges`` of equal-width
    bins, or one bin per whole number, plus a point bin for zero when the range holds it; the last
    code is the missing slot."""

    def __init__(self, lo: float, hi: float, integer: bool, bins: int) -> None:
        self.lo, self.hi, self.integer = float(lo), float(hi), bool(integer)
        self.unit = bool(integer and hi - lo + 1 <= bins)
        if self.unit:
            self.edges = np.arange(lo - 0.5, hi + 1.0, 1.0)  # one bin per whole number
            self.zero = False
        else:
            self.edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo, lo + 1.0])
            self.zero = bool(lo <= 0.0 <= hi) and hi > lo
        self.intervals = len(self.edges) - 1

    @property
    def size(self) -> int:
        """Codes: the intervals, the zero point bin (if any), the missing slot."""
        return self.intervals + int(self.zero) + 1

    def codes(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` int64 codes of values in the domain's units (NaN: missing)."""
        missing = ~np.isfinite(x)
        c = np.clip(np.searchsorted(self.edges, np.nan_to_num(x), side="right") - 1, 0, self.intervals - 1)
        if self.zero:
            c = np.where(np.nan_to_num(x, nan=1.0) == 0.0, self.intervals, c)
        return np.where(missing, self.size - 1, c).astype(np.int64)

    def values(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values for codes: uniform inside an interval (its centre for whole-number bins), 0 for the
        point bin, NaN for the missing slot."""
        codes = np.asarray(codes)
        inside = codes < self.intervals
        c = np.minimum(codes, self.intervals - 1)
        left, right = self.edges[c], self.edges[c + 1]
        x = left + (right - left) * (0.5 if self.unit else rng.random(len(codes)))
        x = np.where(inside, x, np.nan)
        if self.zero:
            x = np.where(codes == self.intervals, 0.0, x)
        return x


def workload_candidates(d: int, workload: str) -> dict[Clique, float]:
    """Candidates (every subset of a workload marginal) with AIM's weights ``Σ_{s∈W} |r ∩ s|``."""
    width = 3 if workload == "triples" else 2
    work = [tuple(c) for c in combinations(range(d), min(width, d))]
    out: dict[Clique, float] = {}
    for w in work:
        for k in range(1, len(w) + 1):
            for r in combinations(w, k):
                if r not in out:
                    out[r] = float(sum(len(set(r) & set(s)) for s in work))
    return out


@register
class AIM(Synthesizer):
    """AIM (McKenna et al. 2022): ε-differentially private synthetic tables from adaptively chosen noisy
    marginals; see the module docstring for the method.

    Attributes
    ----------
    domain_, binnings_, model_ (:class:`~simulacra.synthesizers.dp.graphical.GraphicalModel`),
    privacy_ (the spent ε and δ and their parts), selected_ (the measured cliques, by column names).
    """

    name = "aim"
    supports_temperature = True  # sample(temperature=τ): p(x)^(1/τ), the potentials divided by τ
    _fitted_attr: ClassVar[str] = "model_"
    epsilon = Hyper(
        1.0,
        Real(gt=0, le=1000),
        "the privacy budget ε of (ε, δ)-DP for the whole fit, domain estimate included",
    )
    delta = Hyper(1e-5, Real(gt=0, lt=1), "δ; well below 1/N")
    bins = Hyper(32, Integer(ge=2, le=1024), "equal-width bins per numeric column")
    workload = Hyper(
        "triples",
        Choice("triples", "pairs"),
        "the marginals AIM tries to preserve: every 3-way (the paper's) or every 2-way one",
    )
    rounds = Hyper(
        None,
        Optional(Integer(ge=1, le=100_000)),
        "T, the rounds the budget is planned for (None: 16·d, the paper's); at least 2·d, since the first "
        "one-way measurements take d rounds' share",
    )
    max_model_size = Hyper(32.0, Real(gt=0, le=4096), "the junction tree's limit, MiB")
    domain_share = Hyper(0.1, Real(gt=0, lt=1), "share of ρ spent on estimating undeclared column domains")
    iterations = Hyper(50, Integer(ge=1, le=100_000), "estimation steps per round; the final one takes 4×")
    seed = Hyper(
        0,
        Integer(ge=0, le=MAX_SEED),
        "kept for the common interface; it seeds nothing of the fit: the mechanism's noise, selections and "
        "domain estimate draw from fresh OS entropy (simulacra.transform.secret), so two fits of one table "
        "differ, as they must for the guarantee to hold; sampling takes sample(seed=…)",
    )
    verbose = Hyper(True, Boolean(), "show a Rich progress bar of the rounds and the budget spent")

    differentially_private = True  # type: ignore[assignment]
    counts_rows_privately = True  # the graphical model's total comes from the noisy measurements

    def default_rows(self, training_rows: int) -> int:
        """The model's noisy row count (never the exact ``training_rows``)."""
        self._check_fitted()
        return max(1, round(float(self.model_.total)))

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame) -> None:
        meta = self.metadata_
        self.columns_ = [c for c in meta.names if meta[c].sdtype not in NOT_LEARNED]
        if not self.columns_:
            raise ConfigError("aim needs at least one column to learn (ids and identifiers are generated)")
        d = len(self.columns_)
        if self.rounds is not None and self.rounds < 2 * d:
            # the first one-way measurements cost d rounds' share of ρ: fewer rounds would overspend it
            raise ConfigError(
                f"aim: rounds={self.rounds} is too few for {d} learned columns; give at least {2 * d} (the "
                "first one-way measurements take d rounds' share of the budget), or leave it unset (16·d)"
            )
        rng = secret_rng()  # never the public seed: a replayable noise is no noise (ε = ∞)
        with threads():
            self._fit_columns(data, meta, rng)

    def _fit_columns(self, data: pd.DataFrame, meta: Metadata, rng: np.random.Generator) -> None:
        self.domain_, delta_conv, rho_total = private_domain(
            data,
            meta,
            self.columns_,
            epsilon=self.epsilon,
            delta=self.delta,
            share=self.domain_share,
        )
        self.binnings_ = {
            c: Binning(d.lo, d.hi, d.integer, int(self.bins))
            for c, d in self.domain_.columns.items()
            if d.kind == "numeric"
        }
        x = self._codes(data)
        sizes = self._sizes()
        rho = rho_total - self.domain_.rho
        used, measurements, model, rounds = self._run(x, sizes, rho, rng)
        self.model_ = model
        self.selected_ = [[self.columns_[a] for a in m.clique] for m in measurements if len(m.clique) > 1]
        spent_rho = used + self.domain_.rho
        self.privacy_ = {
            "mechanism": "AIM (McKenna et al. 2022), zCDP",
            "epsilon_requested": float(self.epsilon),
            "delta_requested": float(self.delta),
            "epsilon": epsilon_of_rho(spent_rho, delta_conv),
            "delta": delta_conv + self.domain_.delta,
            "rho": spent_rho,
            "rho_domain": self.domain_.rho,
            "delta_domain": self.domain_.delta,
            "declared_domain": sorted(set(self.columns_) - set(self.domain_.estimated)),
            "estimated_domain": self.domain_.estimated,
            "other_bucket": self.domain_.with_other_bucket,
            "not_covered": meta.names_of("pii"),
            "rounds": rounds,
            "measurements": len(measurements),
            "noise": "OS entropy (secrets), never stored",
        }
        self.metadata_ = self.domain_.public_metadata(meta)

    def _codes(self, data: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns_:
            if c in self.binnings_:
                cols.append(self.binnings_[c].codes(self.domain_.numbers(c, data[c])))
            else:
                cols.append(self.domain_.category_codes(c, data[c]))
        return np.column_stack(cols)

    def _sizes(self) -> list[int]:
        return [
            self.binnings_[c].size if c in self.binnings_ else len(self.domain_.columns[c].categories) + 2
            for c in self.columns_
        ]

    def _run(
        self, x: np.ndarray, sizes: list[int], rho: float, rng: np.random.Generator
    ) -> tuple[float, list[Measurement], GraphicalModel, int]:
        """AIM's initialisation and rounds (module docstring, steps 3–4); returns the ρ spent, the
        measurements, the final model and the number of rounds."""
        d = len(sizes)
        rounds = int(self.rounds or 16 * d)
        candidates = workload_candidates(d, self.workload)
        answers = {r: _marginal(x, sizes, r) for r in candidates}
        sigma = math.sqrt(rounds / (2 * 0.9 * rho))
        eps = math.sqrt(8 * 0.1 * rho / rounds)
        measurements = [
            Measurement((a,), answers[(a,)] + rng.normal(0, sigma, sizes[a]), sigma) for a in range(d)
        ]
        used = d / (2 * sigma**2)
        model = estimate(sizes, measurements, iterations=int(self.iterations))
        limit_mb = float(self.max_model_size)
        t, last = 0, False
        with progress_bar("rounds", self.verbose) as progress:
            task = progress.add_task(self.name, total=None, losses="")
            while not last:
                t += 1
                if rho - used < 2 * (1 / (2 * sigma**2) + eps**2 / 8):
                    remaining = rho - used
                    sigma = math.sqrt(1 / (2 * 0.9 * remaining))
                    eps = math.sqrt(8 * 0.1 * remaining)
                    last = True
                used += eps**2 / 8 + 1 / (2 * sigma**2)
                size_limit = limit_mb * used / rho
                pool = self._feasible(candidates, model, sizes, size_limit)
                chosen = self._select(pool, candidates, answers, model, sizes, eps, sigma, rng)
                n_r = cells(sizes, chosen)
                y = answers[chosen] + rng.normal(0, sigma, n_r)
                before = model.marginal(chosen).ravel()
                measurements.append(Measurement(chosen, y, sigma))
                model = estimate(sizes, measurements, iterations=int(self.iterations), warm=model)
                after = model.marginal(chosen).ravel()
                if np.abs(after - before).sum() <= math.sqrt(2 / math.pi) * sigma * n_r:
                    sigma, eps = sigma / 2, eps * 2
                names = "×".join(self.columns_[a] for a in chosen)
                progress.update(task, advance=1, losses=f"ρ {used / rho:.0%}  σ {sigma:.1f}  {names[:60]}")
        model = estimate(sizes, measurements, iterations=4 * int(self.iterations), warm=model)
        if used > rho * (1 + 1e-9):  # never reported as less than it was
            raise RuntimeError(f"AIM spent ρ = {used} of {rho}: a budget bug, please report it")
        return min(used, rho), measurements, model, t

    @staticmethod
    def _feasible(
        candidates: dict[Clique, float], model: GraphicalModel, sizes: list[int], limit_mb: float
    ) -> list[Clique]:
        """Candidates that keep the junction tree within ``limit_mb`` MiB (or are already inside one of
        its cliques, so cost nothing)."""
        cliques = [set(c) for c in model.tree.cliques]
        out = []
        for r in candidates:
            if any(set(r) <= c for c in cliques):
                out.append(r)
            elif cells(sizes, r) * 8 / 2**20 <= limit_mb:
                tree = JunctionTree(sizes, [*model.cliques, r])
                if tree.cells() * 8 / 2**20 <= limit_mb:
                    out.append(r)
        return out

    @staticmethod
    def _select(
        pool: list[Clique],
        weights: dict[Clique, float],
        answers: dict[Clique, np.ndarray],
        model: GraphicalModel,
        sizes: list[int],
        eps: float,
        sigma: float,
        rng: np.random.Generator,
    ) -> Clique:
        """The exponential mechanism over the weighted errors of the candidates (score sensitivity:
        the largest weight)."""
        scores = np.array(
            [
                weights[r]
                * (
                    np.abs(answers[r] - model.marginal(r).ravel()).sum()
                    - math.sqrt(2 / math.pi) * sigma * cells(sizes, r)
                )
                for r in pool
            ]
        )
        sensitivity = max(weights[r] for r in pool)
        logits = eps / (2 * sensitivity) * scores
        p = np.exp(logits - logits.max())
        return pool[int(rng.choice(len(pool), p=p / p.sum()))]

    # ------------------------------------------------------------------ sample
    def categories(self, column: str) -> list[Any]:
        """The released categories of a categorical/boolean ``column`` (see :meth:`Synthesizer.categories`)."""
        self._check_fitted()
        meta = self.metadata_[column]
        if meta.sdtype not in ("categorical", "boolean"):
            raise ConditionError(
                f"column {column!r} is {meta.sdtype}; class counts need a categorical or boolean column"
            )
        return list(self.domain_.columns[column].categories)

    def _evidence(self, conditions: dict[str, Any]) -> tuple[dict[int, int], dict[str, Any]]:
        """Conditions → clamped attribute codes, and the values to set after decoding.

        Raises
        ------
        ConditionError
            An id column, a category the model never released, a number outside the domain's range.
        """
        evidence, exact = {}, {}
        for col, value in conditions.items():
            if col not in self.columns_:
                raise ConditionError(f"column {col!r} is an id column; its values are generated fresh")
            a = self.columns_.index(col)
            missing = value is None or (not isinstance(value, str) and bool(pd.isna(value)))
            if col in self.binnings_:
                b = self.binnings_[col]
                if missing:
                    evidence[a] = b.size - 1
                else:
                    x = self.domain_.numbers(col, pd.Series([value]), clip=False)[0]
                    if not np.isfinite(x) or not b.lo <= x <= b.hi:
                        raise ConditionError(
                            f"column {col!r}: {value!r} is not a value in the model's range [{b.lo:g}, {b.hi:g}]"
                        )
                    evidence[a] = int(b.codes(np.array([x]))[0])
                exact[col] = value
            else:
                code = int(self.domain_.category_codes(col, pd.Series([value], dtype=object))[0])
                if code == len(self.domain_.columns[col].categories):
                    shown = ", ".join(map(str, self.domain_.columns[col].categories[:10]))
                    raise ConditionError(
                        f"column {col!r} has no released category {value!r}; it has: {shown}"
                    )
                evidence[a] = code
                exact[col] = value
        return evidence, exact

    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        evidence, exact = self._evidence(conditions)
        model = self.model_
        if evidence or self._temperature != 1.0:
            model = GraphicalModel(model.sizes, model.cliques, model.total)
            model.theta = {c: v / self._temperature for c, v in self.model_.theta.items()}
            for a, code in evidence.items():
                clamp = np.full(model.sizes[a], -1e9)
                clamp[code] = 0.0
                model.theta[(a,)] = model.theta[(a,)] + clamp
        if not hasattr(model, "beliefs"):
            model.calibrate()
        codes = model.sample(n, rng) if n else np.zeros((0, len(self.columns_)), dtype=np.int64)
        data: dict[str, Any] = {}
        for j, c in enumerate(self.columns_):
            if c in self.binnings_:
                data[c] = self.domain_.numeric_values(c, self.binnings_[c].values(codes[:, j], rng))
            else:
                data[c] = self.domain_.category_values(c, codes[:, j])
        meta = self.metadata_
        for c in meta.names:
            if meta[c].sdtype == "id":
                data[c] = (
                    pd.Series(np.arange(1, n + 1, dtype=np.int64))
                    if meta[c].representation == "int"
                    else pd.Series([f"{c}-{i:06d}" for i in range(1, n + 1)], dtype=object)
                )
            elif c not in data:
                data[c] = pd.Series([None] * n, dtype=object)
        out = pd.DataFrame(data, columns=meta.names)
        for col, value in exact.items():
            out[col] = pd.Series([value] * n, dtype=object).astype(out[col].dtype, errors="ignore")
        return out

    def _bytes_per_row(self) -> float:
        return 96.0 * len(self.metadata_.names) + 16.0 * len(self.columns_)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "columns": self.columns_,
            "domain": self.domain_.to_state(),
            "cliques": [list(c) for c in self.model_.cliques],
            "sizes": self.model_.sizes,
            "total": self.model_.total,
            "privacy": self.privacy_,
            "selected": self.selected_,
        }
        arrays = {f"theta_{i}": self.model_.theta[c] for i, c in enumerate(self.model_.cliques)}
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.columns_ = list(state["columns"])
        self.domain_ = Domain.from_state(state["domain"])
        self.binnings_ = {
            c: Binning(d.lo, d.hi, d.integer, int(self.bins))
            for c, d in self.domain_.columns.items()
            if d.kind == "numeric"
        }
        cliques = [tuple(int(a) for a in c) for c in state["cliques"]]
        model = GraphicalModel([int(s) for s in state["sizes"]], cliques, float(state["total"]))
        for i, c in enumerate(cliques):
            theta = np.asarray(arrays[f"theta_{i}"], dtype=float)
            if theta.shape != model.theta[c].shape:
                raise ValueError(f"potential {i} has shape {theta.shape}, expected {model.theta[c].shape}")
            model.theta[c] = theta
        model.calibrate()
        self.model_ = model
        self.privacy_ = dict(state["privacy"])
        self.selected_ = state["selected"]


def _marginal(x: np.ndarray, sizes: list[int], attrs: Clique) -> np.ndarray:
    """The flattened contingency table of ``attrs`` over coded rows ``x``."""
    idx = np.ravel_multi_index(tuple(x[:, a] for a in attrs), tuple(sizes[a] for a in attrs))
    return np.bincount(idx, minlength=cells(sizes, attrs)).astype(float)
