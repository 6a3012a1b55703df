"""What CTGAN and TVAE share: the span layout, training-by-sampling, the training loop, conditions.

* :class:`SpanLayout` turns the :class:`~simulacra.transform.TableTransformer` spans into index tensors so
  that per-span output activations (tanh, Gumbel-softmax) and per-span cross-entropies run as a handful
  of batched tensor ops instead of a Python loop over columns (the reference implementation loops).
* :class:`ConditionalSampler` is CTGAN's *training-by-sampling* (Xu et al. 2019, §4.3): pick a discrete
  column uniformly, a category by its log-frequency, and a real row having that category — all vectorised.
* :class:`TorchSynthesizer` is the base of the neural synthesizers: mode-specific normalization of the
  table, device and thread set-up, a seeded training loop with Rich progress (loss and ETA),
  checkpoints every N epochs with resume, early stopping, bounded conditional sampling, and saving
  through ``state_dict`` (``weights.pt`` read with ``weights_only=True``; no pickle).
"""

from __future__ import annotations

import math
import os
import warnings
from abc import abstractmethod
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from simulacra.errors import ConditionError, ConfigError
from simulacra.synthesizers.base import Synthesizer
from simulacra.transform import ColumnSpan, TableTransformer

_PAD = -1e9  # logit given to the padding slots of short spans: zero probability, finite gradients
_EXP_FLOOR = -80.0  # see SpanLayout.shifted_exp: exp below about -87 takes a slow path on x86 CPUs
CHECKPOINT = "checkpoint.pt"


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"``/``"cuda:N"`` or ``"auto"`` (CUDA when available). CUDA asked for but absent
    falls back to the CPU with a warning.

    Raises
    ------
    ConfigError
        ``name`` is not a device torch knows.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a torch device; use 'cpu', 'cuda' or 'auto'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"device {name!r} asked for but CUDA is not available; using the CPU", stacklevel=2)
        return torch.device("cpu")
    return device


class SpanLayout:
    """Index tensors over the matrix columns of a fitted transformer.

    ``continuous``: matrix columns of the scalar spans (α of mode-specific normalization), activated by
    tanh. ``discrete`` spans (categorical one-hots, modes, missing indicators) are gathered into a padded
    ``(B, S, W)`` block, ``W`` the widest span, padding slots holding ``_PAD``. ``cond`` lists the
    discrete spans that the conditional vector covers: the categorical/boolean ``value`` spans.
    """

    def __init__(self, spans: list[ColumnSpan], device: torch.device) -> None:
        self.dim = max((s.end for s in spans), default=0)
        self.continuous = torch.tensor(
            [s.start for s in spans if s.kind == "continuous"], dtype=torch.long, device=device
        )
        self.discrete_spans = [s for s in spans if s.kind == "discrete"]
        self.width = max((s.end - s.start for s in self.discrete_spans), default=1)
        gather = torch.zeros((len(self.discrete_spans), self.width), dtype=torch.long)
        valid = torch.zeros((len(self.discrete_spans), self.width), dtype=torch.bool)
        for i, s in enumerate(self.discrete_spans):
            w = s.end - s.start
            gather[i, :w] = torch.arange(s.start, s.end)
            gather[i, w:] = s.start
            valid[i, :w] = True
        self.gather = gather.to(device)
        self.valid = valid.to(device)
        self.cond_spans = [
            i for i, s in enumerate(self.discrete_spans) if s.role == "value" and s.kind == "discrete"
        ]
        self.cond_index = torch.tensor(self.cond_spans, dtype=torch.long, device=device)
        widths = [self.discrete_spans[i].end - self.discrete_spans[i].start for i in self.cond_spans]
        self.cond_widths = torch.tensor(widths, dtype=torch.long, device=device)
        self.cond_offsets = torch.tensor(
            np.concatenate([[0], np.cumsum(widths)[:-1]]) if widths else [], dtype=torch.long, device=device
        )
        self.cond_dim = int(sum(widths))
        # dense span membership (D, S): segment sums over spans become small matmuls, which autograd
        # handles far faster than gathers/scatters of a padded block
        member = torch.zeros((self.dim, len(self.discrete_spans)))
        for i, s in enumerate(self.discrete_spans):
            member[s.start : s.end, i] = 1.0
        self.member = member.to(device)
        self.is_continuous = torch.zeros(self.dim, dtype=torch.bool)
        self.is_continuous[[s.start for s in spans if s.kind == "continuous"]] = True
        self.is_continuous = self.is_continuous.to(device)
        self.discrete_mask = (~self.is_continuous).float()
        self.discrete_columns = torch.nonzero(~self.is_continuous).flatten()
        self.span_of_column = self.member[self.discrete_columns].argmax(1)[None, :]

    def padded(self, x: torch.Tensor) -> torch.Tensor:
        """Discrete logits ``(B, S, W)`` of a matrix ``x`` ``(B, D)``; padding slots are ``_PAD``."""
        block = x[:, self.gather]
        return block.masked_fill(~self.valid, _PAD)

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Category index per discrete span ``(B, S)`` of an encoded (one-hot) matrix."""
        return self.padded(x).argmax(dim=2)

    def shifted_exp(
        self, logits: torch.Tensor, exact: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``e = exp(logits − shift)`` on the discrete columns (0 on scalars) ``(B, D)``, its per-span sums
        ``(B, S)`` and the shift, broadcastable to ``(B, S)``; ``log(sums) + shift`` is each span's
        ``logsumexp``. No autograd graph is built.

        The shift is first each row's largest discrete logit (one reduction); only when that leaves some
        span's sum below 1e-25, a span far below the row's maximum, is each span shifted by its own
        maximum (a scatter-reduce, several times slower). ``exact=True`` goes straight to the per-span
        shift, for logits that are far apart by design (Gumbel-softmax at a low temperature).

        Shifted logits are clamped to ``[_EXP_FLOOR, 0]`` before ``exp``: a term below ``e^-80`` is
        taken as ``e^-80`` (≈ 1.8e-35, nothing next to a span's largest term, 1), because ``torch.exp``
        on x86 CPUs is 60–170× slower on arguments below about −87 (results that underflow), and such
        arguments are the norm for a Gumbel-softmax at τ = 0.2; scalar columns are then zeroed by a
        product with the discrete mask, never by ``exp(−inf)``, which is 13× slower than a normal ``exp``."""
        with torch.no_grad():
            b = logits.shape[0]
            if not exact:
                shift = logits.masked_fill(self.is_continuous, -math.inf).amax(1, keepdim=True)
                e = (logits - shift).clamp_(_EXP_FLOOR, 0.0).exp_().mul_(self.discrete_mask)
                sums = e @ self.member
                if bool(sums.amin() >= 1e-25):
                    return e, sums, shift
            shift = logits.new_empty((b, len(self.discrete_spans))).scatter_reduce_(
                1,
                self.span_of_column.expand(b, -1),
                logits[:, self.discrete_columns],
                "amax",
                include_self=False,
            )
            e = (logits - shift @ self.member.T).clamp_(_EXP_FLOOR, 0.0).exp_().mul_(self.discrete_mask)
            return e, e @ self.member, shift

    def activate(self, x: torch.Tensor, tau: float | None = None) -> torch.Tensor:
        """Per-span output activation of ``x`` ``(B, D)``: tanh on scalars; softmax on discrete spans,
        Gumbel-softmax (Jang et al. 2017) with temperature ``tau`` when ``tau`` is given."""
        if not self.discrete_spans:
            return torch.tanh(x)
        logits = x
        if tau is not None:
            u = torch.rand_like(x).clamp_(1e-10, 1.0 - 1e-7)
            logits = (x - torch.log(-torch.log(u))) / tau
        soft = _SpanSoftmax.apply(logits, self, tau is not None)
        return torch.where(self.is_continuous, torch.tanh(x), soft)

    def cross_entropy(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Summed cross-entropy of the discrete spans' logits in ``x`` ``(B, D)`` against ``target``
        ``(B, D)``, probability mass on the discrete columns and zero on the scalars:
        ``Σ_rows Σ_spans (mass of the span)·logsumexp(span) − Σ target·x``. A one-hot matrix row gives
        every span's cross-entropy; a row with one 1 gives that span's alone (CTGAN's conditional term)."""
        return _SpanCrossEntropy.apply(x, target, self)


class _SpanSoftmax(torch.autograd.Function):
    """Softmax within every discrete span (0 on the scalar columns), with its Jacobian-vector product
    written out, ``∂/∂x = p ⊙ (g − Σ_span p ⊙ g)``: two small matmuls instead of autograd through the
    exponentials, sums and divisions."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, layout: SpanLayout, exact: bool) -> torch.Tensor:
        e, sums, _ = layout.shifted_exp(logits, exact)
        p = e * ((1.0 / sums) @ layout.member.T)
        ctx.save_for_backward(p)
        ctx.member = layout.member
        return p

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (p,) = ctx.saved_tensors
        pg = p * grad
        return pg - p * ((pg @ ctx.member) @ ctx.member.T), None, None


class _SpanCrossEntropy(torch.autograd.Function):
    """:meth:`SpanLayout.cross_entropy` with the gradient written out: ``∂/∂x = mass(span)·softmax − target``
    (the standard softmax cross-entropy gradient, per span)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor, layout: SpanLayout) -> torch.Tensor:
        e, sums, shift = layout.shifted_exp(logits)
        mass = target @ layout.member
        ctx.save_for_backward(e, (mass / sums) @ layout.member.T, target)
        return (torch.log(sums) * mass).sum() + (shift * mass).sum() - (logits * target).sum()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        e, scale, target = ctx.saved_tensors
        return (e * scale - target) * grad, None, None


class ConditionalSampler:
    """Training-by-sampling (Xu et al. 2019, §4.3), vectorised.

    ``sample_condvec(B)`` picks a conditional column uniformly and a category with probability
    proportional to ``log(1 + count)`` (``log_frequency=True``, the paper) or to ``count``; returns the
    one-hot conditional vector ``(B, cond_dim)``, the chosen conditional span ``(B,)`` and category
    ``(B,)``. ``sample_rows(spans, cats)`` returns, for each pair, the index of a random real row having
    that category. ``sample_original(B)`` draws the conditional vector from the real frequencies, for
    sampling after training.
    """

    def __init__(self, layout: SpanLayout, counts: torch.Tensor, log_frequency: bool = True) -> None:
        """``counts``: ``(len(layout.cond_spans), layout.width)`` real count of each category."""
        self.layout = layout
        self.counts = counts.double()
        weights = torch.log1p(self.counts) if log_frequency else self.counts
        self.train_cdf = torch.cumsum(weights / weights.sum(1, keepdim=True).clamp_min(1e-12), 1).float()
        self.real_cdf = torch.cumsum(
            self.counts / self.counts.sum(1, keepdim=True).clamp_min(1e-12), 1
        ).float()

    @classmethod
    def from_targets(
        cls, targets: torch.Tensor, layout: SpanLayout, log_frequency: bool = True
    ) -> ConditionalSampler:
        """Build from the category index of every row and discrete span ``(N, S)``; indexes the rows."""
        codes = targets[:, layout.cond_index]
        counts = (
            torch.stack([torch.bincount(codes[:, j], minlength=layout.width) for j in range(codes.shape[1])])
            if codes.shape[1]
            else torch.zeros((0, layout.width), dtype=torch.long, device=targets.device)
        )
        sampler = cls(layout, counts, log_frequency)
        # rows grouped by (span, category): order[j] lists the rows sorted by their category in span j
        sampler.order = torch.argsort(codes.T, dim=1, stable=True)
        sampler.count = counts.long()
        sampler.start = torch.cumsum(sampler.count, 1) - sampler.count
        return sampler

    @property
    def active(self) -> bool:
        return len(self.layout.cond_spans) > 0

    def _draw(self, cdf: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = cdf.device
        span = torch.randint(len(self.layout.cond_spans), (b,), device=device)
        u = torch.rand(b, 1, device=device)
        cat = (u > cdf[span]).sum(1).clamp_max(self.layout.cond_widths[span] - 1)
        return span, cat

    def condvec(self, span: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """One-hot conditional vectors ``(B, cond_dim)`` for the given spans and categories."""
        c = torch.zeros((span.shape[0], self.layout.cond_dim), device=span.device)
        c[torch.arange(span.shape[0], device=span.device), self.layout.cond_offsets[span] + cat] = 1.0
        return c

    def sample_condvec(self, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        span, cat = self._draw(self.train_cdf, b)
        return self.condvec(span, cat), span, cat

    def sample_original(self, b: int) -> torch.Tensor:
        span, cat = self._draw(self.real_cdf, b)
        return self.condvec(span, cat)

    def sample_rows(self, span: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        offset = (torch.rand(span.shape[0], device=span.device) * self.count[span, cat]).long()
        return self.order[span, self.start[span, cat] + offset]


def _fingerprint(x: np.ndarray) -> list[float]:
    return [float(x.shape[0]), float(x.shape[1]), float(np.float64(x).sum())]


class TorchTraining:
    """The training machinery every PyTorch synthesizer shares (tables and images).

    The epoch loop with Rich progress (losses, ETA), early stopping, checkpoints every N epochs with
    resume, seeding, and ``state_dict`` persistence (``weights.pt``, read with ``weights_only=True``).

    Subclass hooks: ``_build(...)`` (networks, optimizers), ``_train_epoch() -> dict`` (mean losses),
    ``_monitor(losses) -> float`` (the early-stopping quantity, lower is better), ``_modules()`` /
    ``_optimizers()`` (name → object, for ``state_dict``), ``_end_of_epoch(epoch)`` (e.g. sample grids).
    """

    # set by subclasses' __init__
    epochs: int
    batch_size: int
    patience: int | None
    device: str
    seed: int
    verbose: bool
    name: str
    device_: torch.device
    #: hyper-parameters that may differ between a checkpoint and the fit resuming it
    _training_only: tuple[str, ...] = ("epochs", "verbose")

    def _set_options(
        self,
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int,
        resume: bool,
        on_epoch: Callable[[int, dict[str, float]], None] | None,
    ) -> None:
        """Keep the fit-time options (they do not change the model) for :meth:`_run_epochs`:

        checkpoint_dir: folder for ``checkpoint.pt`` (weights, optimizer states, RNG state, losses),
            written atomically every ``checkpoint_every`` epochs; removed after a successful fit.
        resume: continue from ``checkpoint_dir/checkpoint.pt`` when it exists. A resumed fit gives the
            same weights as an uninterrupted one (the RNG state is restored).
        on_epoch: called with ``(epoch, losses)`` after every epoch (0-based).
        """
        self._options = {
            "checkpoint_dir": Path(checkpoint_dir) if checkpoint_dir is not None else None,
            "checkpoint_every": int(checkpoint_every),
            "resume": resume,
            "on_epoch": on_epoch,
        }

    def _check_params(self) -> None:
        if int(self.epochs) < 0 or int(self.batch_size) < 1:
            raise ConfigError(f"epochs must be ≥ 0 and batch_size ≥ 1, got {self.epochs}, {self.batch_size}")

    def _run_epochs(self, fingerprint: np.ndarray) -> None:
        """Train for ``epochs`` (inside :meth:`_seeded`, after ``_build``); sets ``history_`` and
        ``epochs_trained_``. ``fingerprint`` (the encoded training data) ties checkpoints to their data.

        Raises
        ------
        ConfigError
            The checkpoint to resume was written for other data or other hyper-parameters.
        """
        opts = getattr(self, "_options", {})
        history: list[dict[str, float]] = []
        start, best, stale = 0, math.inf, 0
        ckpt = opts.get("checkpoint_dir")
        if ckpt is not None and opts.get("resume") and (ckpt / CHECKPOINT).is_file():
            start, history, best, stale = self._load_checkpoint(ckpt / CHECKPOINT, fingerprint)
        with self._progress() as progress:
            task = progress.add_task(self.name, total=int(self.epochs), completed=start, losses="")
            for epoch in range(start, int(self.epochs)):
                losses = self._train_epoch()
                history.append(losses)
                shown = "  ".join(f"{k} {v:+.3f}" for k, v in losses.items())
                progress.update(task, advance=1, losses=shown)
                monitored = self._monitor(losses)
                if monitored < best - 1e-3 * max(1.0, abs(best)):
                    best, stale = monitored, 0
                else:
                    stale += 1
                self._end_of_epoch(epoch)
                every = opts.get("checkpoint_every", 0)
                if ckpt is not None and every > 0 and (epoch + 1) % every == 0:
                    self._save_checkpoint(ckpt / CHECKPOINT, epoch + 1, history, best, stale, fingerprint)
                if opts.get("on_epoch") is not None:
                    opts["on_epoch"](epoch, losses)
                if self.patience is not None and stale >= int(self.patience):
                    progress.update(task, description=f"{self.name} (early stop)")
                    break
        self.history_ = history
        self.epochs_trained_ = len(history)
        if ckpt is not None and (ckpt / CHECKPOINT).is_file():
            (ckpt / CHECKPOINT).unlink()
            if ckpt.is_dir() and not any(ckpt.iterdir()):
                ckpt.rmdir()

    @contextmanager
    def _seeded(self, seed: int):
        """Run with torch's global RNG seeded (the caller's RNG state is restored on exit) and with
        denormal floats flushed to zero: as weights and gradients shrink during training, denormal
        arithmetic made late TVAE epochs 2.4× slower than early ones on x86 CPUs. The results were equal
        to the printed precision with and without flushing."""
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(seed))
            flushed = torch.set_flush_denormal(True)
            try:
                yield
            finally:
                if flushed:
                    torch.set_flush_denormal(False)

    def _progress(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
            console=Console(stderr=True),
            disable=not self.verbose,
        )

    def _save_checkpoint(
        self, path: Path, epoch: int, history: list, best: float, stale: int, x: np.ndarray
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model": self.name,
            "params": {k: v for k, v in self.get_params().items() if k not in self._training_only},
            "fingerprint": _fingerprint(x),
            "epoch": epoch,
            "history": history,
            "best": best,
            "stale": stale,
            "modules": {k: m.state_dict() for k, m in self._modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self._optimizers().items()},
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device_) if self.device_.type == "cuda" else None,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def _load_checkpoint(self, path: Path, x: np.ndarray) -> tuple[int, list, float, int]:
        try:
            payload = torch.load(path, map_location=self.device_, weights_only=True)
        except Exception as exc:  # torch raises several types for damaged files
            raise ConfigError(f"{path}: unreadable checkpoint ({exc}); delete it or drop --resume") from None
        params = {k: v for k, v in self.get_params().items() if k not in self._training_only}
        if payload.get("model") != self.name or payload.get("params") != params:
            raise ConfigError(
                f"{path}: checkpoint of other hyper-parameters; use the same --param values or drop --resume"
            )
        if not np.allclose(payload["fingerprint"], _fingerprint(x), rtol=1e-6):
            raise ConfigError(f"{path}: checkpoint of other training data; delete it or drop --resume")
        for k, m in self._modules().items():
            m.load_state_dict(payload["modules"][k])
        for k, o in self._optimizers().items():
            o.load_state_dict(payload["optimizers"][k])
        torch.set_rng_state(payload["rng"].cpu())
        if payload.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(payload["cuda_rng"].cpu(), self.device_)
        return int(payload["epoch"]), list(payload["history"]), float(payload["best"]), int(payload["stale"])

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _train_epoch(self) -> dict[str, float]: ...

    @abstractmethod
    def _monitor(self, losses: dict[str, float]) -> float: ...

    @abstractmethod
    def _modules(self) -> dict[str, nn.Module]: ...

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    def _end_of_epoch(self, epoch: int) -> None:
        """Hook run after every epoch (0-based), before the checkpoint."""

    # ------------------------------------------------------------------ persistence
    def _save_extra(self, directory: Path) -> None:
        super()._save_extra(directory)  # type: ignore[misc]
        torch.save({k: m.state_dict() for k, m in self._modules().items()}, directory / "weights.pt")

    def _load_extra(self, directory: Path) -> None:
        from simulacra.errors import DataError

        super()._load_extra(directory)  # type: ignore[misc]
        try:
            weights = torch.load(directory / "weights.pt", map_location=self.device_, weights_only=True)
            for k, m in self._modules().items():
                m.load_state_dict(weights[k])
        except (OSError, KeyError, RuntimeError) as exc:
            raise DataError(f"{directory}: damaged weights.pt ({exc}); re-run 'simulacra fit'") from None


class TorchSynthesizer(TorchTraining, Synthesizer):
    """Base of the PyTorch table synthesizers (CTGAN, TVAE): mode-specific normalization of the table,
    the shared training loop of :class:`TorchTraining`, and bounded conditional sampling.

    Subclass hooks besides :class:`TorchTraining`'s: ``_build(x)`` with the encoded matrix,
    ``_generate(n, cond)`` (matrix rows, optionally steered to one category), ``_after_fit(x)``,
    ``_restore(arrays)``.
    """

    max_modes: int

    def fit(
        self,
        data: pd.DataFrame,
        metadata=None,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> TorchSynthesizer:
        """Fit as :meth:`Synthesizer.fit`, with the training options of :meth:`TorchTraining._set_options`.

        Raises
        ------
        ConfigError
            The checkpoint was written for other data or other hyper-parameters.
        """
        self._set_options(checkpoint_dir, checkpoint_every, resume, on_epoch)
        try:
            return super().fit(data, metadata)  # type: ignore[return-value]
        finally:
            del self._options

    def _fit(self, data: pd.DataFrame) -> None:
        self._check_params()
        self.device_ = resolve_device(self.device)
        torch.set_num_threads(available_cores())
        self.transformer_ = TableTransformer(
            numerical="mode_specific", categorical="onehot", seed=self.seed, max_modes=self.max_modes
        ).fit(data, self.metadata_)
        x = self.transformer_.transform(data)
        matrix = torch.from_numpy(x).to(self.device_)
        self.layout_ = SpanLayout(self.transformer_.spans_, self.device_)
        with self._seeded(self.seed):
            self._build(matrix)
            self._run_epochs(x)
            self._after_fit(matrix)

    @abstractmethod
    def _build(self, x: torch.Tensor) -> None: ...

    @abstractmethod
    def _generate(self, n: int, cond: tuple[int, int] | None) -> torch.Tensor: ...

    def _after_fit(self, x: torch.Tensor) -> None:
        """Hook run once after training, with the encoded training matrix."""

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame:
        categorical, numerical = self._parse_conditions(conditions)
        # steer with the rarest categorical condition; the others are met by bounded rejection
        steerable = [c for c in categorical if c[0] in self.layout_.cond_spans]
        first = min(steerable, key=lambda c: c[3]) if steerable else None
        primary = first[:2] if first is not None else None
        others = [c for c in categorical if c is not first]
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        parts, kept, drawn = [], 0, 0
        limit = 100 * n + 20_000
        with self._seeded(seed), torch.inference_mode():
            for module in self._modules().values():
                module.eval()
            while kept < n:
                rate = kept / drawn if drawn else 1.0
                want = (
                    n - kept
                    if not others
                    else int(min(200_000, max(1_000, 2 * (n - kept) / max(rate, 1e-3))))
                )
                rows = self._generate(want, primary)
                drawn += want
                if primary is not None:
                    rows = self._force(rows, *primary)
                if others:
                    targets = self.layout_.targets(rows)
                    keep = torch.ones(rows.shape[0], dtype=torch.bool, device=rows.device)
                    for span, cat, _, _ in others:
                        keep &= targets[:, span] == cat
                    rows = rows[keep]
                    if (drawn >= 20_000 and kept + rows.shape[0] == 0) or (drawn >= limit and kept < n):
                        wanted = ", ".join(f"{c}={v!r}" for c, v in conditions.items())
                        raise ConditionError(
                            f"only {kept + rows.shape[0]} of {n} rows with {wanted} in {drawn} draws: the "
                            "combination is too rare or never occurs in the training data; drop a condition"
                        )
                parts.append(rows[: n - kept])
                kept += parts[-1].shape[0]
        if not parts:
            matrix = np.zeros((0, self.layout_.dim), np.float32)
        else:
            matrix = (parts[0] if len(parts) == 1 else torch.cat(parts)).cpu().numpy()
        out = self.transformer_.inverse_transform(matrix[:n])
        for col, value in numerical.items():
            out[col] = pd.Series([value] * len(out), dtype=object).astype(out[col].dtype, errors="ignore")
        return out

    def _force(self, rows: torch.Tensor, span: int, cat: int) -> torch.Tensor:
        """Set discrete span ``span`` of every row to category ``cat`` (an exact one-hot)."""
        cols = self.layout_.gather[span][self.layout_.valid[span]]
        rows[:, cols] = 0.0
        rows[:, cols[cat]] = 1.0
        return rows

    def _parse_conditions(
        self, conditions: dict[str, Any]
    ) -> tuple[list[tuple[int, int, str, float]], dict[str, Any]]:
        """Conditions → ``[(discrete span, category, column, frequency)]`` and ``{numerical column: value}``.

        Raises
        ------
        ConditionError
            An id column, an unseen category, a value outside the real range, or a missing value asked
            of a column that has none.
        """
        span_of = {(s.column, s.role): i for i, s in enumerate(self.layout_.discrete_spans)}
        categorical, numerical = [], {}
        for col, value in conditions.items():
            meta = self.metadata_[col]
            enc = self.transformer_.columns_[col]
            missing = value is None or (not isinstance(value, str) and pd.isna(value))
            if meta.sdtype == "id":
                raise ConditionError(f"column {col!r} is an id column; ids are generated fresh")
            if meta.sdtype in ("numerical", "datetime"):
                if missing:
                    if (col, "missing") not in span_of:
                        raise ConditionError(f"column {col!r} has no missing values; cannot condition on one")
                    i = int(enc["null"].index_of([True])[0])
                    categorical.append((span_of[(col, "missing")], i, col, float(enc["null"].freqs_[i])))
                    continue
                self.transformer_.condition_value(col, value)  # raises for a bad or out-of-range value
                numerical[col] = value  # set exactly after decoding (not missing either)
                continue
            encoder = enc["value"]
            i = encoder.require(None if missing else value, col)
            categorical.append((span_of[(col, "value")], i, col, float(encoder.freqs_[i])))
        return categorical, numerical

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "transformer": self.transformer_.to_state(),
            "history": self.history_,
            "epochs_trained": self.epochs_trained_,
        }
        return state, self._extra_arrays()

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.device_ = resolve_device(self.device)
        self.transformer_ = TableTransformer.from_state(state["transformer"])
        self.layout_ = SpanLayout(self.transformer_.spans_, self.device_)
        self.history_ = state["history"]
        self.epochs_trained_ = state["epochs_trained"]
        self._restore(arrays)

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the networks (empty) and non-weight state after a load; weights follow."""
