"""``series-ar``: an autoregressive recurrent model of sequences, over per-column bins.

References
----------
* K. Zhang, N. Patki, K. Veeramachaneni, "Sequential Models in the Synthetic Data Vault", 2022 (PAR:
  a recurrent network over the rows of each sequence, context modelled once per sequence, sequence
  length modelled).
* P. Tiwald, I. Krchova, A. Sidorenko et al., "TabularARGN: A Flexible and Efficient Auto-Regressive
  Framework for Generating High-Fidelity Synthetic Data", 2025 (every column a categorical output over
  its own encoding — categories, or quantile bins of a number — predicted from the columns before it).
* D. Salinas, V. Flunkert, J. Gasthaus, T. Januschowski, "DeepAR: Probabilistic forecasting with
  autoregressive recurrent networks", IJF 2020 (the recurrent network fed its own previous output).

Method
------
A sequence is rows ``x_1 … x_T`` of ``C`` value columns, with context ``c`` (keyed sequences: the
entity's context columns and its length). The model factorises

    p(x_1 … x_T | c) = Π_t Π_j p(x_{t,j} | x_{<t}, x_{t,<j}, c)

with a GRU over time and one small head per column::

    u_t = [enc(x_{t−1}), first_t, enc(c), t / T]          # (B, T, D + 1 + D_c + 1); enc(x_0) = 0
    h_t = GRU(u_1 … u_t)                                    # (B, T, H)
    logits_{t,j} = MLP_j([h_t, enc(x_{t,<j})])              # (B, T, K_j); within-step order (TabularARGN)

Each column's classes are its own encoding: a categorical column's categories (missing values one of
them); a number with at most :data:`MAX_DISCRETE` distinct values, those values; any other number,
quantile bins. For a binned number the classes at the first step of a sequence (or after a missing
value) are bins of the **value**, and at every later step bins of the **step change**
``x_{t,j} − x_{t−1,j}``: a stock price at 50 or at 1,200 moves by the same few per cent, which bins of
the value alone cannot resolve. A value that holds more than one bin's share of the data (an unchanged
price, a zero reading) is a class of its own, drawn exactly. Sampling draws a class (logits ÷
``temperature``), then a value inside its bin by the interpolated quantiles of the training values
that fell in it (:data:`WITHIN` pieces: a piecewise-linear inverse CDF per bin), clipped to the
column's observed range and moved onto its value grid or rounded to its decimals (as the table models
decode).

Keyed sequences: a ``mixture`` table model learns one row per entity — its context columns, its length,
the start of its index and its first row's values — and sampling draws entities from it first
(``conditions`` on context columns are exact, through that model's conditional sampling), then their
rows; it keeps :data:`CONTEXT_ROWS_PER_COMPONENT` entities or more per component, with
:data:`CONTEXT_SMOOTHING` pseudo-rows of Dirichlet smoothing, so that a few hundred entities are not
one smoothed component each, whose draws pair one entity's first row with another's context. One
series: a ``mixture`` of its rows draws each window's first row. The network continues from that
first row (``first_row="table"``; ``"network"`` draws it from the network's first step, whose
loss is otherwise left out). Timestamps: a regular index (one step everywhere) continues at that step;
an irregular one becomes a positive gap column, modelled with the others and summed, so timestamps
never repeat or go backwards.

Where this differs from the papers
----------------------------------
PAR uses an LSTM with Gaussian outputs for numbers and a Gaussian copula for the context; here the
outputs are categorical over bins (TabularARGN's choice, robust to skew and multi-modality) and the
context model is simulacra's ``mixture``, which here draws the first row too: learned by the
network's first step (a small share of the training rows), the first rows of Energy's 28 columns had
lost most of the columns' correlations, and every later step carried the error on. TabularARGN's
sequential mode is a transformer over the sequence; a GRU is cheaper on a CPU. Binning the step change
rather than the value is ours, and so is drawing inside a bin by its own quantiles rather than
uniformly: on Stocks, whose volume and price changes are skewed inside their outer bins, the uniform
draw made windows a post-hoc classifier told apart several times more easily (``stocks-series-ar``
against ``stocks-series-ar-uniform-draw`` in the benchmark results; Energy's likewise).

Hyper-parameters
----------------
Declared once, as the :class:`~simulacra.synthesizers.hyper.Hyper` attributes at the top of
:class:`SeriesAR` (default, range, meaning and tune range on one line each). Training windows over one
long series start every :data:`STRIDE` rows; early stopping watches a held-out share and, as Keras'
EarlyStopping does by default, the last epoch's weights are kept (``weights="best"`` keeps those of
the epoch with the lowest held-out loss: on Stocks and Japanese Vowels its samples were worse by every
fidelity score, on Energy mixed; the held-out likelihood levels off epochs before the samples stop
improving).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from simulacra.errors import ConditionError, DataError
from simulacra.io.series import SeriesSet, from_seconds, seconds
from simulacra.synthesizers.base import BaseSynthesizer, make, register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.mixture import Mixture
from simulacra.synthesizers.training import TorchTraining, resolve_device
from simulacra.transform.table import snap, value_grid
from simulacra.validation import MAX_ROWS, Choice, Integer, Real, check_value

#: a number with at most this many distinct values is a categorical output over those values
MAX_DISCRETE = 32
#: quantiles kept inside each bin of a number, interpolated to draw a value in it
WITHIN = 8
#: one long series: a training window starts every this many rows (a fraction of ``window``)
STRIDE = 4
#: keyed sequences: the context model has at least this many entities per mixture component, and
#: this Dirichlet smoothing (pseudo-rows per component). The table defaults (300 components, 1
#: pseudo-row) give a few hundred entities one component each, whose smoothing then redraws the context
#: of nearly half of them from the marginal: Japanese Vowels' first rows came back with another
#: speaker's label about half the time (docs/series.md, the model's section)
CONTEXT_ROWS_PER_COMPONENT, CONTEXT_SMOOTHING = 3, 0.1
#: the gap column an irregular index becomes
GAP = "__gap__"
#: the context model's extra columns
LENGTH, START = "__length__", "__start__"
#: keyed sequences: the context model's column of a sequence's first value of column ``c`` is FIRST + c
FIRST = "__first__:"


# ---------------------------------------------------------------------------------------------- bins
def _bins(values: np.ndarray, k: int) -> dict[str, list]:
    """Classes of a number: ``atoms`` (values holding more than a ``1/k`` share, drawn exactly), the
    quantile ``edges`` of the rest (``len(edges) − 1`` intervals) and, per interval, the ``within``
    quantiles of the values inside it (:data:`WITHIN` + 1 each, the interval's ends included), which
    :func:`_draw` interpolates."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"atoms": [0.0], "edges": []}
    distinct, counts = np.unique(values, return_counts=True)
    atoms = distinct[counts > values.size / k]
    rest = values[~np.isin(values, atoms)]
    edges = np.unique(np.quantile(rest, np.linspace(0, 1, k + 1))) if rest.size else np.array([])
    if edges.size == 1:  # one value left: an atom
        atoms, edges = np.union1d(atoms, edges), np.array([])
    spec: dict[str, list] = {"atoms": atoms.tolist(), "edges": edges.tolist()}
    if edges.size >= 2:
        inside = np.clip(np.searchsorted(edges, rest, side="right") - 1, 0, edges.size - 2)
        probs = np.linspace(0, 1, WITHIN + 1)
        within = []
        for i in range(edges.size - 1):
            members = rest[inside == i]
            # an interval without values of its own (rare) is drawn uniformly, as before
            q = np.quantile(members, probs) if members.size else edges[i] + probs * (edges[i + 1] - edges[i])
            q[0], q[-1] = edges[i], edges[i + 1]
            within.append(np.maximum.accumulate(q).tolist())
        spec["within"] = within
    return spec


def _classes(spec: dict[str, list[float]]) -> int:
    return len(spec["atoms"]) + max(len(spec["edges"]) - 1, 0)


def _classify(values: np.ndarray, spec: dict[str, list[float]]) -> np.ndarray:
    """``(N,)`` int64 class of each finite value: an atom's index, else ``len(atoms) +`` its interval."""
    atoms, edges = np.asarray(spec["atoms"]), np.asarray(spec["edges"])
    out = np.zeros(values.shape, dtype=np.int64)
    if edges.size >= 2:
        out[:] = len(atoms) + np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
    if atoms.size:
        nearest = np.abs(values[:, None] - atoms[None, :]).argmin(axis=1)
        exact = np.isclose(values, atoms[nearest], rtol=0, atol=1e-12) | (edges.size < 2)
        out[exact] = nearest[exact]
    return out


def _draw(classes: np.ndarray, spec: dict[str, list], rng: np.random.Generator) -> np.ndarray:
    """A value for each class: the atom itself, or one drawn inside the interval by the interpolated
    quantiles of the training values in it (``within``; uniform in it for a spec without them)."""
    atoms, edges = np.asarray(spec["atoms"], dtype=np.float64), np.asarray(spec["edges"], dtype=np.float64)
    out = np.empty(classes.shape, dtype=np.float64)
    is_atom = classes < atoms.size
    out[is_atom] = atoms[classes[is_atom]]
    k = classes[~is_atom] - atoms.size
    if k.size:
        u = rng.random(k.size)
        if "within" in spec:
            q = np.asarray(spec["within"], dtype=np.float64)  # (intervals, WITHIN + 1)
            pos = u * (q.shape[1] - 1)
            i = np.minimum(pos.astype(np.int64), q.shape[1] - 2)
            flat = k * q.shape[1] + i  # q[k, i] in the flattened quantiles (np.take: no fancy indexing)
            lo, hi = np.take(q.ravel(), flat), np.take(q.ravel(), flat + 1)
            out[~is_atom] = lo + (pos - i) * (hi - lo)
        else:
            lo, hi = edges[k], edges[k + 1]
            out[~is_atom] = lo + u * (hi - lo)
    return out


def _as_arrays(spec: dict[str, Any]) -> dict[str, Any]:
    """A column spec with its bins and grid as float64 arrays (read once per sample, not per step)."""
    out = dict(spec)
    for key in ("value_bins", "step_bins"):
        if out.get(key) is not None:
            out[key] = {k: np.asarray(v, dtype=np.float64) for k, v in out[key].items()}
    if out.get("grid") is not None:
        out["grid"] = np.asarray(out["grid"], dtype=np.float64)
    return out


# ---------------------------------------------------------------------------------------------- columns
def _column_spec(name: str, s: pd.Series, bins: int, *, gap: bool = False) -> dict[str, Any]:
    """How one value column is encoded: its kind (``category``, ``discrete``, ``binned``), what its
    input and output hold, and what decoding restores (dtype, range, grid or decimals)."""
    missing = bool(s.isna().any()) and not gap  # a gap is undefined at a sequence's first row, never missing
    if pd.api.types.is_datetime64_any_dtype(s):
        values = seconds(s)
        dtype = "datetime"
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        values = s.to_numpy(np.float64)
        dtype = "int" if pd.api.types.is_integer_dtype(s) else "float"
    else:
        cats = pd.unique(s.astype(object).where(s.notna(), None)).tolist()
        cats = sorted(cats, key=lambda v: (v is None, str(v)))
        return {"name": name, "kind": "category", "categories": [_py(c) for c in cats], "dtype": str(s.dtype)}
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise DataError(f"column {name!r} has no values; drop it")
    grid, decimals = value_grid(finite)
    spec: dict[str, Any] = {
        "name": name,
        "dtype": dtype,
        "missing": missing,
        "mean": float(finite.mean()),
        "std": float(finite.std()) or 1.0,
        "lo": float(finite.min()),
        "hi": float(finite.max()),
        "grid": grid,
        "decimals": decimals,
        "gap": gap,
    }
    if grid is not None and len(grid) <= MAX_DISCRETE:
        spec["kind"] = "discrete"
        return spec
    spec["kind"] = "binned"
    spec["value_bins"] = _bins(finite, bins)
    spec["step_bins"] = _bins(np.diff(values)[np.isfinite(np.diff(values))], bins) if not gap else None
    return spec


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _numbers(s: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    """``(N,)`` float64 of a numerical or datetime column (seconds), NaN where missing."""
    if spec["dtype"] == "datetime":
        return seconds(s)
    return s.to_numpy(np.float64)


def _category_codes(spec: dict[str, Any], s: pd.Series) -> np.ndarray:
    """``(N,)`` int64 index of each value of a categorical column in its ``categories`` (missing
    values are the category ``None``)."""
    lookup = {c: i for i, c in enumerate(spec["categories"])}
    keys = s.astype(object).where(s.notna(), None).map(_py)
    return np.array([lookup.get(v, 0) for v in keys], dtype=np.int64)


def _in_dim(spec: dict[str, Any]) -> int:
    """Width of a column's input encoding: one-hot categories, or ``[z, missing]`` / ``[z]``."""
    if spec["kind"] == "category":
        return len(spec["categories"])
    return 2 if spec["missing"] else 1


def _out_dim(spec: dict[str, Any]) -> int:
    """Classes of a column's output (a missing value is one class of a number with missing values)."""
    extra = 1 if spec.get("missing") else 0
    if spec["kind"] == "category":
        return len(spec["categories"])
    if spec["kind"] == "discrete":
        return len(spec["grid"]) + extra
    steps = _classes(spec["step_bins"]) if spec["step_bins"] is not None else 0
    return _classes(spec["value_bins"]) + steps + extra


def _categorical(logits: torch.Tensor, gen: torch.Generator) -> np.ndarray:
    """One class per row of ``logits`` ``(B, K)``, drawn by inverting the (unnormalised) cumulative
    distribution with one uniform per row: ``(B,)`` int64. (``torch.multinomial`` draws the same
    distribution, about 20× slower on a CPU at these sizes.)"""
    cdf = (logits - logits.amax(dim=-1, keepdim=True)).exp_().cumsum_(dim=-1)
    u = torch.rand((logits.shape[0], 1), generator=gen) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze_(1).clamp_(max=logits.shape[-1] - 1).numpy()


# ---------------------------------------------------------------------------------------------- network
class _Network(nn.Module):
    """GRU over time and one MLP head per column (see the module docstring)."""

    def __init__(
        self,
        d_x: int,
        d_c: int,
        hidden: int,
        layers: int,
        starts: list[int],
        outs: list[int],
        dropout: float,
        width: int,
    ):
        super().__init__()
        self.gru = nn.GRU(
            d_x + d_c + 2, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.starts = starts  # where each column's input encoding begins in enc(x_t)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden + s, width), nn.ReLU(), nn.Linear(width, k))
            for s, k in zip(starts, outs, strict=True)
        )

    def head(self, j: int, h: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Logits of column ``j``: ``(…, K_j)`` from ``h`` ``(…, H)`` and ``enc(x_t)`` ``(…, D)``."""
        return self.heads[j](torch.cat([h, current[..., : self.starts[j]]], dim=-1))


@register
class SeriesAR(TorchTraining, BaseSynthesizer):
    """An autoregressive GRU over per-column bins, for one long series or many keyed sequences
    (``series-ar``; the module docstring gives the method and its sources).

    Attributes
    ----------
    columns_ : list of dict
        Each value column's encoding (kind, classes, range, grid).
    history_ : list of dict
        Per-epoch mean loss (nats per row).
    """

    name: ClassVar[str] = "series-ar"
    modality: ClassVar[str] = "series"
    _fitted_attr: ClassVar[str] = "columns_"
    supports_temperature: ClassVar[bool] = True
    epochs = TorchTraining.epochs.but(
        default=100,
        doc="passes over the training windows or sequences (early stopping ends most fits sooner)",
        space="10:60",
    )
    batch_size = TorchTraining.batch_size.but(default=64, doc="windows or sequences per step")
    patience = TorchTraining.patience.but(
        default=5, doc="stop after this many epochs without a 0.1 % fall of the validation loss (None: never)"
    )
    hidden = Hyper(128, Integer(ge=4, le=4096), "GRU width", space="32:256:log")
    layers = Hyper(2, Integer(ge=1, le=8), "GRU layers")
    head_width = Hyper(
        32,
        Integer(ge=4, le=4096),
        "each column head's hidden width (32 against 128: faster to train and to sample, and as good on "
        "Stocks and Energy)",
        space="16:256:log",
    )
    bins = Hyper(
        32,
        Integer(ge=2, le=1024),
        "quantile bins per number, for its values and for its step changes (on Stocks and Energy, 64 bins "
        "overfitted sooner and 16 were too coarse)",
        space="16,32,64,128",
    )
    window = Hyper(64, Integer(ge=2, le=100_000), "one long series: the training windows' length, in rows")
    learning_rate = Hyper(2e-3, Real(gt=0, le=1), "Adam's learning rate")
    dropout = Hyper(0.0, Real(ge=0, lt=1), "dropout between GRU layers")
    first_row = Hyper(
        "table",
        Choice("table", "network"),
        "who draws a sequence's or window's first row: the `mixture` table model (keyed: with the context), "
        "which keeps the columns' joint distribution; or the network, from its first step",
    )
    weights = Hyper(
        "last",
        Choice("last", "best"),
        "the weights kept: the last epoch's (early stopping ends the fit `patience` epochs after the "
        "lowest validation loss, as Keras' EarlyStopping does by default) or those of that best epoch",
    )
    validation = Hyper(
        0.1,
        Real(ge=0, lt=0.5),
        "share held out to choose the epoch whose weights are kept: blocks of one series, or sequences, "
        "drawn with seed; 0: none (the training loss is watched)",
    )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        series: SeriesSet,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> SeriesAR:
        """Learn ``series`` (one long series, or keyed sequences with their context), with the training
        options of :class:`~simulacra.synthesizers.training.Trainer`.

        Raises
        ------
        DataError
            Not a :class:`~simulacra.io.SeriesSet`, or a column without values.
        ConfigError
            Bad hyper-parameters, or a checkpoint of other data or hyper-parameters.
        """
        self._validate_params()
        if not isinstance(series, SeriesSet):
            raise DataError(f"{self.name} fits a SeriesSet (a time series), got {type(series).__name__}")
        self.device_ = resolve_device(self.device)
        self.sequence_index_, self.sequence_key_ = series.sequence_index, series.sequence_key
        self.context_columns_ = list(series.context_columns)
        self.value_names_ = series.value_columns
        seqs = series.sequences()
        self._learn_index(series)
        frame = pd.concat([self._with_gap(s) for s in seqs], ignore_index=True)
        self.columns_ = [
            _column_spec(c, frame[c], int(self.bins), gap=c == GAP) for c in self._model_columns()
        ]
        self._choose_references(frame)
        self.lengths_ = series.lengths().tolist()
        self.training_rows_ = len(series)
        context = self._fit_context(series)
        self._fit_start(series, frame)
        arrays = [self._encode(self._with_gap(s)) for s in seqs]
        self._fit_trainer = self._trainer(checkpoint_dir, checkpoint_every, resume, on_epoch)
        try:
            with self._seeded(self.seed):
                self._build()
                self._data = self._training_items(arrays, context)
                self._start_best()
                self._fit_trainer.fit(self, self._data["x"])
                if self.weights == "best":  # else the last epoch's weights stay
                    self._restore_best()  # the weights of the epoch with the lowest validation loss
        finally:
            for k in ("_data", "_best", "_epoch", "_fit_trainer"):
                self.__dict__.pop(k, None)
        return self

    def _model_columns(self) -> list[str]:
        return ([GAP] if self.step_ is None and self.sequence_index_ is not None else []) + list(
            self.value_names_
        )

    def _learn_index(self, series: SeriesSet) -> None:
        """``step_`` (the one gap of a regular index, else ``None``), ``index_kind_`` and, for one
        series, ``last_index_`` (where a sample continues)."""
        self.index_kind_, self.step_, self.last_index_ = series.index_kind(), series.index_step(), None
        if self.sequence_index_ is not None and not series.keyed:
            self.last_index_ = float(series.index_numbers(series.frame[self.sequence_index_])[-1])

    def _index_numbers(self, s: pd.Series) -> np.ndarray:
        if self.index_kind_ == "datetime":
            return seconds(s)
        return s.to_numpy(np.float64)

    def _with_gap(self, s: pd.DataFrame) -> pd.DataFrame:
        cols = {c: s[c] for c in self.value_names_}
        if self.sequence_index_ is not None and self.step_ is None:
            gaps = np.diff(self._index_numbers(s[self.sequence_index_]), prepend=np.nan)
            cols = {GAP: pd.Series(gaps, index=s.index)} | cols
        return pd.DataFrame(cols).reset_index(drop=True)

    def _row_model(self, table: pd.DataFrame, **params: Any) -> Any:
        """The ``mixture`` table model of ``table`` with ``params``, fitted with this model's seed."""
        model = make("mixture", seed=int(self.seed), verbose=bool(self.verbose), **params)
        return model.fit(table)

    def _fit_start(self, series: SeriesSet, frame: pd.DataFrame) -> None:
        """``first_row="table"`` on one series: ``start_model_``, the table model of its rows (each a
        window's possible first row). Keyed sequences draw their first rows with the context."""
        self.start_model_ = None
        if self.first_row == "table" and not series.keyed:
            self.start_model_ = self._row_model(frame[list(self.value_names_)])

    def _fit_context(self, series: SeriesSet) -> np.ndarray | None:
        """Keyed sequences: fit the context model (context columns, length, start and, with
        ``first_row="table"``, the first row's values) and return the ``(S, D_c)`` context encodings;
        ``None`` for one series."""
        self.context_model_ = None
        self.context_specs_ = []
        if not series.keyed:
            return None
        table = series.context()
        table[LENGTH] = series.lengths()
        if self.sequence_index_ is not None:
            table[START] = [self._index_numbers(s[self.sequence_index_])[0] for s in series.sequences()]
        if self.first_row == "table":
            firsts = pd.concat([s[list(self.value_names_)].iloc[:1] for s in series.sequences()])
            for c in self.value_names_:
                table[FIRST + c] = firsts[c].to_numpy()
        self.context_specs_ = [_column_spec(c, table[c], 2) for c in self.context_columns_]
        self.length_stats_ = [float(np.log(table[LENGTH]).mean()), float(np.log(table[LENGTH]).std()) or 1.0]
        components = max(1, min(Mixture.components.default, len(table) // CONTEXT_ROWS_PER_COMPONENT))
        self.context_model_ = self._row_model(table, components=components, smoothing=CONTEXT_SMOOTHING)
        return self._encode_context(table)

    def _first_rows(self, table: pd.DataFrame | None, n: int, seed: int) -> np.ndarray | None:
        """``(n, C)`` float64 raw first rows (as :meth:`_generate` fills them; NaN in the gap column),
        drawn by the table models (``first_row="table"``), else ``None`` (the network draws them)."""
        # the columns, not `first_row`, decide: a model saved before first rows were drawn by the
        # table model loads with the parameter's default and has none
        if table is not None and FIRST + self.value_names_[0] in table.columns:
            rows = table.rename(columns=lambda c: c[len(FIRST) :] if c.startswith(FIRST) else c)
        elif table is None and getattr(self, "start_model_", None) is not None:
            rows = self.start_model_.sample(n, seed=seed) if n else None
        else:
            return None
        out = np.full((n, len(self.columns_)), np.nan)
        for j, spec in enumerate(self.columns_):
            if spec["name"] != GAP and n:
                column = rows[spec["name"]].reset_index(drop=True)
                out[:, j] = (
                    _category_codes(spec, column) if spec["kind"] == "category" else _numbers(column, spec)
                )
        return out

    def _encode_context(self, table: pd.DataFrame) -> np.ndarray:
        """``(S, D_c)`` float32: the context columns (one-hot or ``[z, missing]``) and the z-scored log length."""
        parts = [self._encode_column(spec, table[spec["name"]]) for spec in self.context_specs_]
        mu, sd = self.length_stats_
        parts.append(((np.log(table[LENGTH].to_numpy(np.float64)) - mu) / sd)[:, None].astype(np.float32))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _encode_column(self, spec: dict[str, Any], s: pd.Series) -> np.ndarray:
        """``(N, in_dim)`` float32 input encoding of one column."""
        raw = _category_codes(spec, s) if spec["kind"] == "category" else _numbers(s, spec)
        return self._input_of(spec, raw)

    def _reference(self, spec: dict[str, Any], s: pd.DataFrame) -> np.ndarray | None:
        """``(N,)`` the number a binned column's step change is taken from: its own previous value
        (``ref`` None) or column ``ref``'s value at the same step; NaN where there is none."""
        if spec["kind"] != "binned" or spec["step_bins"] is None:
            return None
        if spec.get("ref") is None:
            return np.concatenate([[np.nan], _numbers(s[spec["name"]], spec)[:-1]])
        other = self.columns_[spec["ref"]]
        return _numbers(s[other["name"]], other)

    def _targets(self, spec: dict[str, Any], s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(value, step)`` ``(N,)`` int64 classes of a column: of its value, and of its change from
        its reference (:meth:`_reference`; −1 where there is none); equal where the column has no
        step bins. A missing value is the missing class in both."""
        if spec["kind"] == "category":
            idx = _category_codes(spec, s[spec["name"]])
            return idx, idx
        x = _numbers(s[spec["name"]], spec)
        miss = ~np.isfinite(x)
        k_missing = _out_dim(spec) - 1
        if spec["kind"] == "discrete":
            grid = np.asarray(spec["grid"])
            idx = np.abs(np.nan_to_num(x)[:, None] - grid[None, :]).argmin(axis=1)
            idx[miss] = k_missing
            return idx, idx
        value = _classify(np.nan_to_num(x, nan=spec["mean"]), spec["value_bins"])
        value[miss] = k_missing
        ref = self._reference(spec, s)
        if ref is None:
            return value, value
        change = x - ref
        step = _classes(spec["value_bins"]) + _classify(np.nan_to_num(change), spec["step_bins"])
        step[~np.isfinite(ref)] = -1  # no reference: the value's bin
        step[miss] = k_missing
        return value, step

    def _choose_references(self, frame: pd.DataFrame) -> None:
        """Each binned column's reference: an earlier binned column at the same step when their
        difference spreads less than the column's own step change (an open and a close price), else
        its previous value (a temperature every ten minutes); its step bins are those differences."""
        binned = [
            j for j, c in enumerate(self.columns_) if c["kind"] == "binned" and c["step_bins"] is not None
        ]
        numbers = {j: _numbers(frame[self.columns_[j]["name"]], self.columns_[j]) for j in binned}
        for j in binned:
            spec = self.columns_[j]
            own = np.diff(numbers[j])
            best, spread = None, float(np.nanstd(own)) if np.isfinite(own).any() else np.inf
            for k in binned:
                if k >= j:
                    break
                d = numbers[j] - numbers[k]
                if np.isfinite(d).sum() > 1 and float(np.nanstd(d)) < spread:
                    best, spread = k, float(np.nanstd(d))
            spec["ref"] = best
            if best is not None:
                d = numbers[j] - numbers[best]
                spec["step_bins"] = _bins(d[np.isfinite(d)], int(self.bins))

    def _encode(self, s: pd.DataFrame) -> dict[str, np.ndarray]:
        """One sequence: ``x`` ``(T, D)`` inputs, ``value``/``step`` ``(T, C)`` classes."""
        x = np.concatenate([self._encode_column(spec, s[spec["name"]]) for spec in self.columns_], axis=1)
        pairs = [self._targets(spec, s) for spec in self.columns_]
        return {
            "x": x,
            "value": np.stack([p[0] for p in pairs], axis=1),
            "step": np.stack([p[1] for p in pairs], axis=1),
        }

    def _build(self) -> None:
        dims = [_in_dim(s) for s in self.columns_]
        self.starts_ = np.cumsum([0, *dims[:-1]]).tolist()
        self.in_dim_ = int(sum(dims))
        keyed = self.sequence_key_ is not None  # context columns (one-hot or [z, missing]) and log length
        self.context_dim_ = sum(_in_dim(c) for c in self.context_specs_) + 1 if keyed else 0
        self.net_ = _Network(
            self.in_dim_,
            self.context_dim_,
            int(self.hidden),
            int(self.layers),
            self.starts_,
            [_out_dim(s) for s in self.columns_],
            float(self.dropout),
            int(self.head_width),
        ).to(self.device_)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=float(self.learning_rate))

    def _training_items(
        self, arrays: list[dict[str, np.ndarray]], context: np.ndarray | None
    ) -> dict[str, Any]:
        """Everything concatenated, and the items an epoch shuffles: ``(start, length, sequence)``;
        windows of ``window`` rows at every start of one series, or each keyed sequence whole."""
        offsets = np.cumsum([0] + [len(a["x"]) for a in arrays])
        data = {k: np.concatenate([a[k] for a in arrays]) for k in ("x", "value", "step")}
        if context is None:
            n = len(data["x"])
            w = min(int(self.window), n)
            starts = np.arange(0, n - w + 1)
            items = np.stack([starts, np.full_like(starts, w), np.zeros_like(starts)], axis=1)
            context = np.zeros((1, 0), dtype=np.float32)
        else:
            lengths = np.diff(offsets)
            items = np.stack([offsets[:-1], lengths, np.arange(len(lengths))], axis=1)
        data["context"] = context
        data["items"], data["valid_items"] = self._held_out(items, context is not None and len(offsets) > 2)
        return data

    def _held_out(self, items: np.ndarray, keyed: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(training items, validation items)``: one series is cut in blocks of two windows and a
        seeded ``validation`` share of the blocks is held out (a window touching one does not train;
        blocks rather than the last rows, so that a trending series is validated on the levels it
        trains on), or a seeded share of the sequences is."""
        share = float(self.validation)
        if share <= 0 or len(items) < 10:
            return (items if keyed else items[::STRIDE]), items[:0]
        if keyed:
            order = np.random.default_rng(int(self.seed)).permutation(len(items))
            cut = max(1, round(share * len(items)))
            return items[np.sort(order[cut:])], items[np.sort(order[:cut])]
        w = int(items[0, 1])
        block = (items[:, 0] // (2 * w)).astype(np.int64)  # blocks of two windows
        blocks = np.unique(block)
        rng = np.random.default_rng(int(self.seed))
        held_blocks = rng.choice(blocks, size=max(1, round(share * len(blocks))), replace=False)
        touches = np.isin(block, held_blocks) | np.isin((items[:, 0] + w - 1) // (2 * w), held_blocks)
        inside = np.isin(block, held_blocks) & ((items[:, 0] + w - 1) // (2 * w) == block)
        train, held = items[~touches], items[inside]
        if not len(train) or not len(held):
            return items[::STRIDE], items[:0]
        return train[::STRIDE], held[::STRIDE]

    def _batch(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Inputs ``u`` ``(B, L, D + 2 + D_c)``, step encodings ``(B, L, D)``, targets ``(B, L, C)``,
        the padding mask ``(B, L)`` and where the value bins apply ``(B, L, C)``, for items ``rows``."""
        d = self._data
        start, length, seq = rows[:, 0], rows[:, 1], rows[:, 2]
        L = int(length.max())
        pos = np.arange(L)[None, :]
        valid = pos < length[:, None]
        idx = np.where(valid, start[:, None] + pos, start[:, None])
        x = d["x"][idx] * valid[..., None]
        first = pos == 0
        step = d["step"][idx]
        temporal = np.array(
            [
                c["kind"] == "binned" and c["step_bins"] is not None and c.get("ref") is None
                for c in self.columns_
            ]
        )
        anchor = (step < 0) | (first[..., None] & temporal)  # value bins here: no reference
        targets = np.where(anchor, d["value"][idx], step)
        u = self._inputs(x, d["context"][seq], length)

        def tensor(a: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=self.device_)

        return (
            tensor(u),
            tensor(x),
            tensor(targets, torch.int64),
            tensor(valid, torch.bool),
            tensor(anchor, torch.bool),
        )

    def _inputs(self, x: np.ndarray, ctx: np.ndarray, length: np.ndarray) -> np.ndarray:
        """``u_t = [enc(x_{t−1}), first_t, enc(c), t / T]`` ``(B, L, D + 2 + D_c)``."""
        B, L, D = x.shape
        prev = np.concatenate([np.zeros((B, 1, D), np.float32), x[:, :-1]], axis=1)
        first = np.zeros((B, L, 1), np.float32)
        first[:, 0] = 1.0
        position = (np.arange(L)[None, :] / np.maximum(length[:, None] - 1, 1))[..., None].astype(np.float32)
        if self.context_model_ is None:
            position = np.zeros_like(position)  # one series has no end to be near
        c = np.broadcast_to(ctx[:, None, :], (B, L, ctx.shape[1]))
        return np.concatenate([prev, first, c, position], axis=2)

    def _masked(self, j: int, logits: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """A binned number's logits with the classes of the other step kind masked out: value bins at a
        first step, step-change bins later (``first`` ``(…,)`` bool)."""
        spec = self.columns_[j]
        if spec["kind"] != "binned" or spec["step_bins"] is None:
            return logits
        kv, ks = _classes(spec["value_bins"]), _classes(spec["step_bins"])
        is_value = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        is_value[:kv] = True
        is_step = torch.zeros_like(is_value)
        is_step[kv : kv + ks] = True
        banned = torch.where(first[..., None], is_step, is_value)
        return logits.masked_fill(banned, -1e9)

    def _nll(self, rows: np.ndarray) -> tuple[torch.Tensor, int]:
        """``(C,)`` summed negative log-likelihood (nats) of each column over the items ``rows``, and
        their row count."""
        u, x, targets, valid, anchor = self._batch(rows)
        h, _ = self.net_.gru(u)
        per_column = []
        for j, spec in enumerate(self.columns_):
            logits = self._masked(j, self.net_.head(j, h, x), anchor[..., j])
            nll = nn.functional.cross_entropy(logits.transpose(1, 2), targets[..., j], reduction="none")
            keep = valid.clone()
            if spec.get("gap") or self.first_row == "table":
                keep[:, 0] = False  # a first row has no gap, or is the table model's to draw
            per_column.append((nll * keep).sum())
        return torch.stack(per_column), int(valid.sum())

    def _train_epoch(self) -> dict[str, float]:
        """One pass over the training items, then the validation loss (nats per row), keeping the
        weights of the best epoch so far."""
        d = self._data
        order = torch.randperm(len(d["items"])).numpy()
        self.net_.train()
        total, count = 0.0, 0
        for b in range(0, len(order), int(self.batch_size)):
            per_column, rows = self._nll(d["items"][order[b : b + int(self.batch_size)]])
            loss = per_column.sum()
            self.optimizer_.zero_grad(set_to_none=True)
            (loss / max(rows, 1)).backward()
            nn.utils.clip_grad_norm_(self.net_.parameters(), 1.0)
            self.optimizer_.step()
            total += float(loss.detach())
            count += rows
        losses = {"loss": total / max(count, 1)}
        held = d["valid_items"]
        if len(held):
            self.net_.eval()
            with torch.no_grad():
                parts = [self._nll(held[b : b + 256]) for b in range(0, len(held), 256)]
            columns = sum(p[0] for p in parts).numpy() / max(sum(p[1] for p in parts), 1)
            losses["validation"] = float(columns.sum())
            self._keep_if_best(losses["validation"])
        return losses

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses.get("validation", losses["loss"])

    def _modules(self) -> dict[str, nn.Module]:
        return {"net": self.net_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.optimizer_}

    # ------------------------------------------------------------------ sample
    def parse_conditions(self, raw: dict[str, str]) -> dict[str, Any]:
        """Command-line ``column=value`` conditions on context columns (keyed sequences only), parsed
        by the context model.

        Raises
        ------
        ConditionError
            One series (it has no context), or a column that is not a context column.
        """
        self._check_fitted()
        if not raw:
            return {}
        if self.context_model_ is None or not self.context_columns_:
            raise ConditionError(
                "conditions fix context columns of keyed sequences, and this model has none; drop the conditions"
            )
        bad = [c for c in raw if c not in self.context_columns_]
        if bad:
            raise ConditionError(
                f"condition on {bad[0]!r}: conditions fix context columns ({', '.join(self.context_columns_)})"
            )
        return self.context_model_.parse_conditions(raw)

    def sample(
        self,
        n: int,
        *,
        conditions: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
        sequence_length: int | None = None,
        progress: Callable[[int], None] | None = None,
        first: int = 0,
    ) -> SeriesSet:
        """``n`` rows of one long series (a single-series model: the index, if any, continues after the
        training data at the learned step), or ``n`` new sequences with their context (a keyed model;
        ``sequence_length`` fixes their length, else it is drawn with the context). A single-series
        model with ``sequence_length`` draws ``n`` independent windows of that many rows, numbered in a
        ``window`` key column (what the TimeGAN protocol compares).

        Parameters
        ----------
        n : int
            Rows (one series) or sequences (keyed), ≥ 0.
        conditions : dict or None
            Keyed: context ``column → value`` every sequence has (:meth:`parse_conditions`'s output).
        seed : int or None
            Seeds every draw; ``None``: the model's ``seed``.
        temperature : float
            In (0, 10]: divides every logit (below 1: the likelier classes more often).
        sequence_length : int or None
            Every sequence's (keyed) or window's (one series) length, ≥ 1.
        progress : callable or None
            Called with the number of rows just generated.
        first : int
            Sequences or windows drawn before this call (a sample written in parts): their keys and
            numbers continue after them.

        Returns
        -------
        SeriesSet
            The generated rows, with the training data's columns, index, key and context.

        Raises
        ------
        ConfigError
            A bad ``n``, seed, temperature or length.
        ConditionError
            Conditions on a model without context columns.
        """
        self._check_fitted()
        n, seed = self._check_sample_args(n, seed)
        tau = self._check_temperature(temperature)
        keyed = self.context_model_ is not None
        if sequence_length is not None:
            sequence_length = int(
                check_value(self.name, "sequence_length", sequence_length, Integer(ge=1, le=10**7))
            )
        seed = int(self.seed if seed is None else seed)
        first = int(check_value(self.name, "first", first, Integer(ge=0, le=MAX_ROWS)))
        rng = np.random.default_rng(seed)
        if keyed:
            table = (
                self.context_model_.sample(n, conditions=conditions or None, seed=seed)
                if n
                else self._empty_context()
            )
            lengths = np.maximum(table[LENGTH].to_numpy(np.int64), 1)
            if sequence_length is not None:
                lengths[:] = sequence_length
                table[LENGTH] = lengths
            ctx = self._encode_context(table) if n else np.zeros((0, self.context_dim_), np.float32)
        else:
            if conditions:
                raise ConditionError("one series has no context to condition on; drop the conditions")
            table = None
            lengths = (
                np.array([n], dtype=np.int64) if sequence_length is None else np.full(n, sequence_length)
            )
            ctx = np.zeros((len(lengths), 0), np.float32)
        starts = self._first_rows(table, len(lengths), seed)
        values = (
            self._generate(lengths, ctx, starts, rng, tau, progress)
            if n
            else np.zeros((0, len(self.columns_)))
        )
        windows = not keyed and sequence_length is not None
        return self._to_series(values, lengths, table, windows=windows, first=int(first))

    def _empty_context(self) -> pd.DataFrame:
        return pd.DataFrame({c: [] for c in [*self.context_columns_, LENGTH]})

    @torch.no_grad()
    def _generate(
        self,
        lengths: np.ndarray,
        ctx: np.ndarray,
        starts: np.ndarray | None,
        rng: np.random.Generator,
        tau: float,
        progress,
    ) -> np.ndarray:
        """``(ΣT_i, C)`` float64 raw values (category index for categories, NaN missing), the rows of
        every sequence in turn, generated step by step for all sequences at once, in chunks of 4,096
        sequences; ``starts`` ``(S, C)``, when given, are their first rows."""
        out: list[np.ndarray] = [np.zeros((len(self.columns_), 0))]  # (C, rows) per chunk
        gen = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        self.net_.eval()
        weights, specs = self._sampling_weights(), [_as_arrays(spec) for spec in self.columns_]
        for b in range(0, len(lengths), 4096):
            first = None if starts is None else starts[b : b + 4096]
            out.append(
                self._generate_chunk(
                    lengths[b : b + 4096], ctx[b : b + 4096], first, rng, gen, tau, progress, weights, specs
                )
            )
        return np.concatenate(out, axis=1).T  # column-major: each column's values contiguous

    def _sampling_weights(self) -> dict[str, Any]:
        """The network's weights arranged for sampling: the GRU's layers as ``cells``; each head's
        first layer split into its part on ``h_t`` — all heads' parts stacked and transposed, ``A``
        ``(H, C·W)``, applied in one product per step — and its part on ``enc(x_{t,<j})`` (``B[j]``
        ``(D_j, W)``); a binned number's output layer cut to its value classes and to its step
        classes (``cut``). The same arithmetic as :meth:`_Network.head`, without re-reading ``h_t``
        once per column."""
        gru = self.net_.gru
        hidden = gru.hidden_size
        cells = []  # the GRU's layers as cells, one step each (≈ 20 % faster than nn.GRU on a CPU)
        for layer in range(gru.num_layers):
            cell = nn.GRUCell(gru.input_size if layer == 0 else hidden, hidden)
            for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, part).data = getattr(gru, f"{part}_l{layer}").data
            cells.append(cell)
        first = [head[0] for head in self.net_.heads]
        cut: list[dict[bool, tuple[np.ndarray, torch.Tensor, torch.Tensor]]] = []
        for head, spec in zip(self.net_.heads, self.columns_, strict=True):
            parts = {}
            if spec["kind"] == "binned" and spec["step_bins"] is not None:
                kv, k = _classes(spec["value_bins"]), _out_dim(spec)
                missing = [k - 1] if spec["missing"] else []
                for is_first, allowed in ((True, [*range(kv), *missing]), (False, list(range(kv, k)))):
                    index = np.array(allowed, dtype=np.int64)
                    rows = torch.as_tensor(index)
                    parts[is_first] = (
                        index,
                        head[2].weight[rows].contiguous(),
                        head[2].bias[rows].contiguous(),
                    )
            cut.append(parts)
        return {
            "A": torch.cat([f.weight[:, :hidden] for f in first]).t().contiguous(),  # (H, C·W)
            "a": torch.cat([f.bias for f in first]),  # (C·W,)
            "B": [f.weight[:, hidden:].t().contiguous() for f in first],  # [(D_j, W)]
            "width": [f.out_features for f in first],
            "cut": cut,
            "cells": cells,
        }

    def _generate_chunk(self, lengths, ctx, starts, rng, gen, tau, progress, weights, specs) -> np.ndarray:
        """``(C, ΣT_i)`` raw values of the sequences of one chunk (:meth:`_generate`)."""
        B, L, C = len(lengths), int(lengths.max()), len(self.columns_)
        raw = np.full((L, C, B), np.nan)  # time- and column-major: one column's step is contiguous
        offsets = np.cumsum([0, *weights["width"]])
        D, Dc = self.in_dim_, ctx.shape[1]
        # u_t = [enc(x_{t−1}), first_t, enc(c), t / T]  (B, D + 1 + D_c + 1), filled in place each step
        u = torch.zeros((B, D + 2 + Dc))
        u[:, D + 1 : D + 1 + Dc] = torch.as_tensor(ctx, dtype=torch.float32)
        span = torch.as_tensor(np.maximum(lengths - 1, 1), dtype=torch.float32)
        current = torch.zeros((B, D))  # enc(x_t), filled column by column
        h = [torch.zeros((B, self.net_.gru.hidden_size)) for _ in weights["cells"]]  # per layer (B, H)
        for t in range(L):
            u[:, :D] = current
            u[:, D] = 1.0 if t == 0 else 0.0
            if self.context_model_ is not None:
                u[:, -1] = t / span
            below = u
            for layer, cell in enumerate(weights["cells"]):
                h[layer] = below = cell(below, h[layer])  # (B, H); no dropout: sampling
            pre = torch.addmm(weights["a"], h[-1], weights["A"])  # (B, C·W): every head's part on h_t
            current = torch.zeros((B, D))
            for j, spec in enumerate(specs):
                s = self.starts_[j]
                if t == 0 and starts is not None:  # drawn by the table model
                    raw[0, j] = starts[:, j]
                    current[:, s : s + _in_dim(spec)] = torch.as_tensor(self._input_of(spec, starts[:, j]))
                    continue
                if spec.get("ref") is not None:
                    previous = raw[t, spec["ref"]]  # drawn already: an earlier column
                else:
                    previous = raw[t - 1, j] if t > 0 else np.full(B, np.nan)
                is_first = ~np.isfinite(previous) if spec["kind"] == "binned" else np.ones(B, bool)
                z = pre[:, offsets[j] : offsets[j + 1]]
                if s:
                    z = torch.addmm(z, current[:, :s], weights["B"][j])
                k = self._draw_column(j, z.relu_(), weights["cut"][j], is_first, tau, gen)
                value = self._decode(spec, k, previous, rng)
                raw[t, j] = value
                current[:, s : s + _in_dim(spec)] = torch.as_tensor(self._input_of(spec, value))
            if progress is not None:
                progress(int((lengths > t).sum()))
        kept = np.arange(L)[None, :] < lengths[:, None]  # (B, L)
        return raw.transpose(1, 2, 0)[:, kept]  # (C, ΣT_i), sequence by sequence

    def _draw_column(
        self,
        j: int,
        z: torch.Tensor,
        cut: dict[bool, tuple[np.ndarray, torch.Tensor, torch.Tensor]],
        first: np.ndarray,
        tau: float,
        gen: torch.Generator,
    ) -> np.ndarray:
        """Column ``j``'s classes ``(B,)`` at one step, from its head's hidden layer ``z`` ``(B, W)``.
        Where every row takes the same kind of class (value bins at a first step, step-change bins
        later), only those classes' logits are computed (``cut``: their indices and output weights): the
        same draw as masking the others out, without the masked work."""
        kind = bool(first.all()) if (first.all() or not first.any()) else None
        if kind is None or kind not in cut:
            logits = self._masked(j, self.net_.heads[j][2](z), torch.as_tensor(first))
            return _categorical(logits / tau if tau != 1.0 else logits, gen)
        allowed, weight, bias = cut[kind]
        logits = nn.functional.linear(z, weight, bias)
        return allowed[_categorical(logits / tau if tau != 1.0 else logits, gen)]

    def _decode(
        self, spec: dict[str, Any], k: np.ndarray, previous: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Raw values of classes ``k`` ``(B,)``: a category index, or a number (NaN: missing)."""
        if spec["kind"] == "category":
            return k.astype(np.float64)
        missing = (k == _out_dim(spec) - 1) if spec["missing"] else np.zeros(k.shape, dtype=bool)
        if spec["kind"] == "discrete":
            grid = np.asarray(spec["grid"])
            value = grid[np.minimum(k, len(grid) - 1)]
        else:
            kv = _classes(spec["value_bins"])
            value = _draw(np.minimum(k, kv - 1), spec["value_bins"], rng)
            if spec["step_bins"] is not None:
                is_step = (k >= kv) & ~missing
                if is_step.any():
                    steps = _draw(k[is_step] - kv, spec["step_bins"], rng)
                    value[is_step] = previous[is_step] + steps
            value = np.clip(value, spec["lo"], spec["hi"])
            if spec["grid"] is not None:
                value = snap(value, np.asarray(spec["grid"]))
            elif spec["decimals"] is not None:
                value = np.round(value, spec["decimals"])
        return np.where(missing, np.nan, value)

    def _input_of(self, spec: dict[str, Any], value: np.ndarray) -> np.ndarray:
        """``(B, in_dim)`` input encoding of raw values (as :meth:`_encode_column`)."""
        if spec["kind"] == "category":
            return np.eye(len(spec["categories"]), dtype=np.float32)[value.astype(np.int64)]
        miss = ~np.isfinite(value)
        z = np.where(miss, 0.0, (value - spec["mean"]) / spec["std"])
        cols = [z] + ([miss.astype(np.float64)] if spec["missing"] else [])
        return np.stack(cols, axis=1).astype(np.float32)

    def _to_series(
        self,
        raw: np.ndarray,
        lengths: np.ndarray,
        table: pd.DataFrame | None,
        windows: bool = False,
        first: int = 0,
    ) -> SeriesSet:
        """The generated raw values ``(ΣT_i, C)`` as a :class:`SeriesSet` with the training columns and
        dtypes (``windows``: independent windows of one series, keyed by a ``window`` column)."""
        cols: dict[str, Any] = {}
        for j, spec in enumerate(self.columns_):
            cols[spec["name"]] = self._restore(spec, raw[:, j])
        frame = pd.DataFrame(cols)
        seq = np.repeat(np.arange(len(lengths)), lengths)
        pos = np.concatenate([np.arange(k) for k in lengths]) if len(lengths) else np.zeros(0, np.int64)
        if self.sequence_index_ is not None:
            frame.insert(0, self.sequence_index_, self._index_values(frame, seq, pos, table))
        frame = frame.drop(columns=[GAP], errors="ignore")
        if table is not None:
            for c in reversed(self.context_columns_):
                frame.insert(0, c, table[c].to_numpy()[seq] if len(table) else [])
            frame.insert(0, self.sequence_key_, [f"{self.sequence_key_}-{first + i + 1:06d}" for i in seq])
        key = self.sequence_key_
        if windows:
            key = "window" if "window" not in self.value_names_ else "window_"
            frame.insert(0, key, first + seq + 1)
        ordered = [c for c in [key, *self.context_columns_, self.sequence_index_, *self.value_names_] if c]
        return SeriesSet(frame[ordered], self.sequence_index_, key, tuple(self.context_columns_))

    def _restore(self, spec: dict[str, Any], raw: np.ndarray) -> pd.Series:
        if spec["kind"] == "category":
            cats = np.array(spec["categories"], dtype=object)
            return pd.Series(cats[raw.astype(np.int64)] if raw.size else [], dtype=object)
        if spec["dtype"] == "datetime":
            return pd.Series(from_seconds(raw) if raw.size else pd.to_datetime([]))
        if spec["dtype"] == "int" and not np.isnan(raw).any():
            return pd.Series(np.round(raw).astype(np.int64))
        return pd.Series(raw)

    def _index_values(
        self, frame: pd.DataFrame, seq: np.ndarray, pos: np.ndarray, table: pd.DataFrame | None
    ) -> Any:
        """The index of every generated row: from the sequence start (keyed: the context model's; one
        series: one step after the last training row), at the regular step or by summed gaps."""
        if table is not None:
            start = table[START].to_numpy(np.float64)[seq] if len(table) else np.zeros(0)
        else:
            start = np.full(len(seq), float(self.last_index_) + (self.step_ or 0.0))
        if self.step_ is not None:
            numbers = start + pos * self.step_
        else:
            gaps = frame[GAP].to_numpy(np.float64).copy()
            gaps[pos == 0] = 0.0
            numbers = start + pd.Series(gaps).groupby(seq).cumsum().to_numpy()
        if self.index_kind_ == "datetime":
            return from_seconds(numbers).to_numpy()
        return numbers

    def _bytes_per_row(self) -> float:
        return 64.0 * (len(getattr(self, "columns_", [])) + 4) + 4.0 * self.hidden

    def summary(self) -> str:
        """One line: the form learned and its size."""
        shape = f"{len(self.value_names_)} value columns"
        if self.context_model_ is None:
            return f"one series, {shape}, {self.training_rows_:,} rows"
        return f"{len(self.lengths_):,} sequences, {shape}, context {', '.join(self.context_columns_) or '(length only)'}"

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            k: getattr(self, k)
            for k in (
                "sequence_index_",
                "sequence_key_",
                "context_columns_",
                "value_names_",
                "columns_",
                "context_specs_",
                "lengths_",
                "training_rows_",
                "step_",
                "index_kind_",
                "last_index_",
                "history_",
                "epochs_trained_",
            )
        }
        state["length_stats_"] = getattr(self, "length_stats_", None)
        return state, {}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self.device_ = resolve_device(self.device)
        self.context_model_ = self.start_model_ = None  # read back by _load_extra
        self._build()

    def _save_extra(self, directory) -> None:
        super()._save_extra(directory)
        if self.context_model_ is not None:
            self.context_model_.save(directory / "context")
        if getattr(self, "start_model_", None) is not None:
            self.start_model_.save(directory / "start")

    def _load_extra(self, directory) -> None:
        super()._load_extra(directory)
        from simulacra.synthesizers.base import Synthesizer

        if self.sequence_key_ is not None:
            self.context_model_ = Synthesizer.load(directory / "context")
        if (directory / "start").is_dir():
            self.start_model_ = Synthesizer.load(directory / "start")
