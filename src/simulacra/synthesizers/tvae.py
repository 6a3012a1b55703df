"""TVAE — tabular variational autoencoder.

Xu, Skoularidou, Cuesta-Infante, Veeramachaneni (2019), "Modeling Tabular Data using Conditional GAN",
NeurIPS, §5 (the VAE baseline), on Kingma & Welling (2014), "Auto-Encoding Variational Bayes". As in
the reference implementation:

* the same mode-specific normalization as CTGAN (:class:`~simulacra.transform.encoders.ModeSpecificEncoder`);
* encoder: MLP (128, 128) with ReLU → mean and log-variance of a 128-d Gaussian posterior;
  decoder: MLP (128, 128) with ReLU → one output per matrix column;
* likelihood: for each scalar ``α`` a Gaussian ``N(tanh(out), σ²)`` with a *learned* σ per column
  (initialised at 0.1, clamped to [0.01, 1] after each step); a categorical (softmax) likelihood for
  every one-hot span (modes, categories, missing indicators);
* loss per row: ``loss_factor · (−log p(x | z)) + KL(q(z | x) ‖ N(0, I))``, ``loss_factor = 2``;
  Adam (lr 1e-3, weight decay ``l2scale = 1e-5``), batch 500, 300 epochs over shuffled data.

Sampling: ``z ~ N(0, I)``, decode, ``α = tanh(out) + σ·ε``, modes and categories *drawn* from the
decoder's softmax (the Gumbel-max trick).

Where this differs from the reference: the reference decodes modes and categories by argmax, the
decoder's most likely value for each ``z``. That never returns a mode or category that is not the
most likely one somewhere in latent space, so rare modes vanish. On Bank Marketing, argmax decoding
gave ``duration`` a synthetic mean of 137 s and a standard deviation of 89 s against the real 258 s and
260 s (the right tail's modes were lost). A model trained on those rows to predict ``duration`` scored
R² −0.11 on the real test rows; TRTR is 0.26. Drawing from ``p(x | z)`` is the VAE's generative model.

**Differential privacy** (``dp=True``, ``epsilon``, ``delta``, ``max_grad_norm``): DP-SGD through Opacus
(:mod:`~simulacra.synthesizers.dp.sgd`): the encoding comes from the public domain (numbers scaled to
``[−1, 1]`` over their declared or DP-estimated range, not mode-specific normalization, whose mixture is
fitted on the data), every step trains on a Poisson sample of rows with per-row gradients clipped to
``max_grad_norm`` and Gaussian noise added, σ's per-row copy (:class:`RowScale`) gives Opacus a
per-row gradient for the learned scales, and the aggregate-posterior summaries below — computed from
the training rows — are skipped: conditions are met by bounded rejection from the prior.

Conditional sampling without rejection: after training, the training rows are encoded and, for every
category of every categorical column, the posterior means are summarised by a diagonal Gaussian (mean of
the means; variance of the means plus the mean posterior variance) — a Gaussian approximation of the
*aggregate posterior* of that category. A condition draws ``z`` from its category's Gaussian, decodes,
and sets the conditioned column exactly. Several conditions: see :meth:`TorchSynthesizer._sample`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from simulacra.synthesizers.base import register
from simulacra.synthesizers.batches import BatchSource
from simulacra.synthesizers.dp.sgd import DPTraining
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.neural import TorchSynthesizer
from simulacra.validation import Integer, Real, Widths

#: the smallest learned σ under DP-SGD (0.01 otherwise): the noisy steps drove σ of a column whose real
#: values sit on its bound (the zeros of capital-gain at −1) to the floor, and the loss then diverged
SIGMA_FLOOR_DP = 0.1


def _mlp(i: int, dims: Sequence[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for d in dims:
        layers += [nn.Linear(i, d), nn.ReLU()]
        i = d
    return nn.Sequential(*layers), i


class Encoder(nn.Module):
    """``(B, D)`` → posterior mean and log-variance, each ``(B, embedding_dim)``."""

    def __init__(self, data_dim: int, dims: Sequence[int], embedding_dim: int) -> None:
        super().__init__()
        self.seq, width = _mlp(data_dim, dims)
        self.mu = nn.Linear(width, embedding_dim)
        self.logvar = nn.Linear(width, embedding_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.seq(x)
        return self.mu(h), self.logvar(h)


class RowScale(nn.Module):
    """The learned σ of the α columns, repeated per row: ``(B, ·)`` → ``(B, n_scalars)``. A module whose
    output depends on its parameter row by row, so that Opacus computes the per-row gradients DP-SGD
    clips (a bare parameter used in the loss has none)."""

    def __init__(self, n_scalars: int) -> None:
        super().__init__()
        self.sigma = nn.Parameter(torch.full((n_scalars,), 0.1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # ``0·z`` ties the output to the input, so the backward hook that Opacus places on this module
        # fires (a full backward hook runs when the gradient reaches the module's input)
        return z[:, :1] * 0.0 + self.sigma

    @staticmethod
    def grad_sample(layer: RowScale, activations: Any, backprops: torch.Tensor) -> dict:
        """Opacus' per-row gradient of σ: each row's output is σ itself, so its gradient is that row's
        gradient with respect to the output, ``(B, n_scalars)``."""
        return {layer.sigma: backprops}


class Decoder(nn.Module):
    """``(B, embedding_dim)`` → outputs ``(B, D)``; holds the learned σ of the ``n_scalars`` α columns
    (in a :class:`RowScale` when training with DP-SGD)."""

    def __init__(
        self, embedding_dim: int, dims: Sequence[int], data_dim: int, n_scalars: int, per_row: bool = False
    ) -> None:
        super().__init__()
        seq, width = _mlp(embedding_dim, dims)
        self.seq = nn.Sequential(*seq, nn.Linear(width, data_dim))
        if per_row:
            self.scale = RowScale(n_scalars)
        else:
            self.sigma = nn.Parameter(torch.full((n_scalars,), 0.1))

    @property
    def scales(self) -> torch.Tensor:
        """σ, ``(n_scalars,)``."""
        return self.scale.sigma if hasattr(self, "scale") else self.sigma

    def row_scales(self, z: torch.Tensor) -> torch.Tensor:
        """σ for every row of ``z``, ``(B, n_scalars)`` (through :class:`RowScale` when it exists)."""
        return self.scale(z) if hasattr(self, "scale") else self.sigma.expand(z.shape[0], -1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.seq(z)


@register
class TVAE(DPTraining, TorchSynthesizer):
    """Tabular VAE (Xu et al. 2019); see the module docstring for the method.

    The defaults are the reference implementation's.

    Attributes
    ----------
    transformer_, layout_, encoder_, decoder_, history_ (per-epoch mean ``reconstruction`` and ``kl``),
    epochs_trained_, latent_mean_ / latent_std_ ``(S, W, embedding_dim)`` per categorical span and
    category.
    """

    name = "tvae"
    supports_temperature = True  # sample(temperature=τ): the latent scale: z ~ N(0, τ²I)
    # tune's default space: the latent width, Adam's learning rate and weight decay, the reconstruction
    # weight and the batch; ``epochs`` stays as given
    batch_size = TorchSynthesizer.batch_size.but(space="250,500,1000")
    patience = TorchSynthesizer.patience.but(
        doc="stop after this many epochs without a 0.1 % improvement of the epoch's mean loss; None trains "
        "every epoch"
    )
    embedding_dim = Hyper(128, Integer(ge=1, le=65_536), "latent size", space="64,128,256")
    compress_dims = Hyper((128, 128), Widths(), "the encoder's hidden widths")
    decompress_dims = Hyper((128, 128), Widths(), "the decoder's hidden widths")
    l2scale = Hyper(1e-5, Real(ge=0, le=10), "Adam weight decay", space="1e-6:1e-4:log")
    learning_rate = Hyper(1e-3, Real(ge=0, le=10), "Adam learning rate", space="1e-4:3e-3:log")
    loss_factor = Hyper(
        2.0, Real(gt=0, le=1e6), "weight of the reconstruction term against the KL term", space="1.0:4.0"
    )
    max_modes = Hyper(10, Integer(ge=1, le=100), "mixture components per numerical column")

    def _check_params(self) -> None:
        super()._check_params()
        self._check_dp()

    @property
    def _steers(self) -> bool:  # type: ignore[override]
        return not self.dp  # the latent summaries per category read the data: not kept under DP

    # ------------------------------------------------------------------ networks
    def _networks(self) -> None:
        d, e = self.layout_.dim, int(self.embedding_dim)
        self.encoder_ = Encoder(d, list(self.compress_dims), e).to(self.device_)
        n_scalars = int(self.layout_.continuous.numel())
        self.decoder_ = Decoder(e, list(self.decompress_dims), d, n_scalars, per_row=bool(self.dp)).to(
            self.device_
        )

    def _build(self, x: BatchSource) -> None:
        self._networks()
        self.data_ = x
        params = list(self.encoder_.parameters()) + list(self.decoder_.parameters())
        self.opt_ = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.l2scale, fused=True)

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder_, "decoder": self.decoder_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt_}

    def _replace_optimizer(self, name: str, optimizer) -> None:
        self.opt_ = optimizer

    def _grad_samplers(self) -> dict[type, Any]:
        return {RowScale: RowScale.grad_sample}

    # ------------------------------------------------------------------ training
    def _loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row reconstruction (negative log-likelihood × loss_factor) and KL terms of a batch."""
        b = x.shape[0]
        mu, logvar = self.encoder_(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = self.decoder_(z)
        layout = self.layout_
        cont = layout.continuous
        nll = (
            layout.cross_entropy(out, x * layout.discrete_mask)
            if layout.discrete_spans
            else out.new_zeros(())
        )
        if cont.numel() and self.dp:  # σ per row, so that its gradient is per row too
            sigma = self.decoder_.row_scales(z)
            err = x[:, cont] - torch.tanh(out[:, cont])
            nll = nll + (err**2 / (2 * sigma**2)).sum() + torch.log(sigma).sum()
        elif cont.numel():
            sigma = self.decoder_.sigma
            err = x[:, cont] - torch.tanh(out[:, cont])
            nll = nll + (err**2 / (2 * sigma**2)).sum() + torch.log(sigma).sum() * b
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())
        return float(self.loss_factor) * nll / b, kl / b

    def _train_epoch(self) -> dict[str, float]:
        x, b = self.data_, int(self.batch_size)
        self.encoder_.train()
        self.decoder_.train()
        private = self._fit_trainer.strategy
        if private is not None:
            batches = private.batches(len(x))  # Poisson samples, empty ones included
        else:
            perm = torch.randperm(len(x), device=self.device_)
            batches = [perm[start : start + b] for start in range(0, len(x), b)]
        totals = torch.zeros(2, device=self.device_)
        steps = 0
        for idx in batches:
            if not idx.numel():  # an empty Poisson sample still takes its noise
                private.noise_only_step(self.opt_)
                self.decoder_.scales.data.clamp_(SIGMA_FLOOR_DP, 1.0)
                continue
            rec, kl = self._loss(x.rows(idx))
            self.opt_.zero_grad(set_to_none=True)
            (rec + kl).backward()
            self.opt_.step()
            self.decoder_.scales.data.clamp_(SIGMA_FLOOR_DP if self.dp else 0.01, 1.0)
            totals += torch.stack([rec.detach(), kl.detach()])
            steps += 1
        if self.dp:  # a loss on private batches is not covered by the accountant: none leaves the fit
            return {}
        mean = (totals / max(steps, 1)).tolist()
        return {"reconstruction": mean[0], "kl": mean[1]}

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses.get("reconstruction", 0.0) + losses.get("kl", 0.0)

    def _after_fit(self, x: BatchSource) -> None:
        """Per-category Gaussian summaries of the aggregate posterior, for conditional sampling (the
        prior under DP, where the summaries would read the training rows)."""
        layout, e = self.layout_, int(self.embedding_dim)
        if self.dp:
            shape = (len(layout.cond_spans), layout.width, e)
            self.latent_mean_ = torch.zeros(shape, device=self.device_)
            self.latent_std_ = torch.ones(shape, device=self.device_)
            del self.data_
            return
        self.encoder_.eval()
        k, w = len(layout.cond_spans), layout.width
        f64 = {"dtype": torch.float64, "device": self.device_}
        # per (span, category): count, Σμ, Σμ², Σσ², accumulated 65,536 rows at a time (memory O(chunk),
        # not O(N × e) in float64 — 7 GB for a million rows otherwise)
        count = torch.zeros((k, w), **f64)
        s1, s2, sv = (torch.zeros((k, w, e), **f64) for _ in range(3))
        with torch.inference_mode():
            for rows in x.chunks():
                mu, logvar = self.encoder_(rows)
                mu, var = mu.double(), logvar.exp().double()
                targets = layout.targets(rows)
                for j, span in enumerate(layout.cond_spans):
                    codes = targets[:, span]
                    count[j].index_add_(0, codes, torch.ones_like(codes, dtype=torch.float64))
                    s1[j].index_add_(0, codes, mu)
                    s2[j].index_add_(0, codes, mu**2)
                    sv[j].index_add_(0, codes, var)
        n = count.clamp_min(1)[:, :, None]
        mean = s1 / n
        std = torch.sqrt((s2 / n - mean**2).clamp_min(0) + sv / n)
        self.latent_mean_, self.latent_std_ = mean.float(), std.float()
        del self.data_

    # ------------------------------------------------------------------ sampling
    def _generate(self, n: int, cond: tuple[int, int] | None) -> torch.Tensor:
        """``n`` decoded rows: ``α = tanh(out) + σ·ε``; one-hot spans get their logits plus Gumbel noise,
        so the argmax that decodes them draws from the decoder's softmax.
        ``cond = (discrete span, category)`` draws ``z`` from that category's latent Gaussian."""
        e = int(self.embedding_dim)
        cont, disc = self.layout_.continuous, self.layout_.discrete_columns
        out = torch.empty((n, self.layout_.dim), device=self.device_)
        for start in range(0, n, 4096):
            b = min(4096, n - start)
            z = torch.randn(b, e, device=self.device_) * self._temperature  # the latent scale
            if cond is not None:
                j = self.layout_.cond_spans.index(cond[0])
                z = self.latent_mean_[j, cond[1]] + z * self.latent_std_[j, cond[1]]
            rows = self.decoder_(z)
            if disc.numel():  # Gumbel-max: the argmax that decodes a span now samples its softmax
                u = torch.rand(b, disc.numel(), device=self.device_).clamp_(1e-12, 1.0 - 1e-7)
                rows[:, disc] -= torch.log(-torch.log(u))
            if cont.numel():
                noise = torch.randn(b, cont.numel(), device=self.device_) * self.decoder_.scales
                rows[:, cont] = (torch.tanh(rows[:, cont]) + noise).clamp(-1.0, 1.0)
            out[start : start + b] = rows
        return out

    # ------------------------------------------------------------------ persistence
    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {"latent_mean": self.latent_mean_.cpu().numpy(), "latent_std": self.latent_std_.cpu().numpy()}

    def _restore(self, arrays: dict[str, Any]) -> None:
        self._networks()
        self.latent_mean_ = torch.as_tensor(arrays["latent_mean"], device=self.device_)
        self.latent_std_ = torch.as_tensor(arrays["latent_std"], device=self.device_)
