"""Per-span operations over the matrix of a fitted :class:`~simulacra.transform.TableTransformer`.

:class:`SpanLayout` turns the transformer's column spans into index tensors, so that per-span output
activations (tanh on scalars, softmax or Gumbel-softmax on one-hot spans; Xu et al. 2019, §4.2) and
per-span cross-entropies run as a handful of batched tensor ops instead of a Python loop over columns
(the reference implementation loops). The softmax and cross-entropy carry their gradients written out
(:class:`_SpanSoftmax`, :class:`_SpanCrossEntropy`). CTGAN and TVAE use these.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from simulacra.transform import ColumnSpan

_PAD = -1e9  # logit given to the padding slots of short spans: zero probability, finite gradients
_EXP_FLOOR = -80.0  # see SpanLayout.shifted_exp: exp below about -87 takes a slow path on x86 CPUs


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

    #: rows per piece of :meth:`targets`: the padded ``(rows, S, W)`` block of a million rows of Adult
    #: would take ~1.5 GB; a piece takes a few MB
    TARGET_ROWS = 65_536

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Category index per discrete span ``(B, S)`` of an encoded (one-hot) matrix, computed
        :data:`TARGET_ROWS` rows at a time."""
        if x.shape[0] <= self.TARGET_ROWS:
            return self.padded(x).argmax(dim=2)
        return torch.cat(
            [
                self.padded(x[i : i + self.TARGET_ROWS]).argmax(dim=2)
                for i in range(0, x.shape[0], self.TARGET_ROWS)
            ]
        )

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
