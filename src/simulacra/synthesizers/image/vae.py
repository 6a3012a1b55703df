"""Convolutional VAE and conditional VAE.

Kingma & Welling (2014), "Auto-Encoding Variational Bayes": an encoder ``q(z | x) = N(μ(x), diag σ²(x))``,
the reparameterisation ``z = μ + σ·ε``, a decoder ``p(x | z)`` and the loss ``−ELBO =
E_q[−log p(x | z)] + KL(q(z | x) ‖ N(0, I))`` per image. As in the paper's MNIST experiments the pixel
likelihood is Bernoulli on intensities in [0, 1] (binary cross-entropy on the decoder's logits).

The encoder is the DCGAN discriminator's convolution stack (:class:`~.base.DownsamplingEncoder`, no batch
norm) and the decoder the DCGAN generator (:class:`~.base.UpsamplingDecoder`). ``cvae`` (Sohn, Lee & Yan
2015, "Learning Structured Output Representation using Deep Conditional Generative Models") gives both
the one-hot label: concatenated to the encoder's features and to ``z``. Samples are the decoder's pixel
means ``sigmoid(logits)`` for ``z ~ N(0, I)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simulacra.errors import DataError
from simulacra.io import ImageSet
from simulacra.synthesizers.base import register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.image.base import (
    LATENT_DIM,
    DownsamplingEncoder,
    ImageSynthesizer,
    UpsamplingDecoder,
    to_uint8,
)
from simulacra.validation import Real


class Encoder(nn.Module):
    """``(B, C, H, W)`` in [0, 1] (and one-hot labels ``(B, K)``) → ``μ``, ``log σ²``, each
    ``(B, latent_dim)``."""

    def __init__(self, shape: tuple[int, int, int], width: int, latent_dim: int, n_classes: int) -> None:
        super().__init__()
        self.body = DownsamplingEncoder(shape, width, batch_norm=False)
        self.mu = nn.Linear(self.body.features + n_classes, latent_dim)
        self.logvar = nn.Linear(self.body.features + n_classes, latent_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        if c is not None:
            h = torch.cat([h, c], 1)
        return self.mu(h), self.logvar(h)


@register
class VAE(ImageSynthesizer):
    """Convolutional variational autoencoder (Kingma & Welling 2014); see the module docstring.

    ``history_`` holds per-epoch ``reconstruction`` (binary cross-entropy summed over pixels) and ``kl``
    (nats), per image.
    """

    name = "vae"
    conditional: ClassVar[bool] = False
    epochs = ImageSynthesizer.epochs.but(default=30, doc="passes over the shuffled images")
    patience = ImageSynthesizer.patience.but(
        doc="stop after this many epochs without a 0.1 % fall of the loss (None: never)"
    )
    latent_dim = LATENT_DIM.but(default=16)
    learning_rate = Hyper(1e-3, Real(ge=0, le=10), "Adam learning rate")
    beta = Hyper(1.0, Real(ge=0, le=1e6), "weight of the KL term (1: the ELBO)")

    def _build(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        k = len(self.class_names_) if self.conditional else 0
        self.encoder_ = Encoder(self.image_shape_, int(self.width), int(self.latent_dim), k).to(self.device_)
        self.decoder_ = UpsamplingDecoder(int(self.latent_dim) + k, self.image_shape_, int(self.width)).to(
            self.device_
        )
        params = [*self.encoder_.parameters(), *self.decoder_.parameters()]
        self.optimizer_ = torch.optim.Adam(params, lr=self.learning_rate)

    def _modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder_, "decoder": self.decoder_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer_}

    def _onehot(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return F.one_hot(y, len(self.class_names_)).float() if self.conditional and y is not None else None

    def _decode(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Decoder logits ``(B, C, H, W)``."""
        return self.decoder_(z if c is None else torch.cat([z, c], 1))

    def reconstruct(self, images: ImageSet) -> np.ndarray:
        """The decoded posterior means of ``images`` (their labels too, for ``cvae``): uint8
        ``(N, C, H, W)``, for PSNR/SSIM of the reconstructions.

        Raises
        ------
        NotFittedError; DataError (``cvae`` given unlabelled images).
        """
        self._check_fitted()
        if self.conditional and images.labels is None:
            raise DataError("cvae reconstructs labelled images; give an ImageSet with labels")
        out = np.empty_like(images.images)
        with torch.inference_mode():
            for m in self._modules().values():
                m.eval()
            for i in range(0, len(images), 1000):
                x = torch.from_numpy(images.images[i : i + 1000]).to(self.device_).float().div_(255.0)
                y = (
                    torch.from_numpy(images.labels[i : i + 1000]).to(self.device_)
                    if self.conditional
                    else None
                )
                c = self._onehot(y)
                mu, _ = self.encoder_(x, c)
                out[i : i + 1000] = to_uint8(torch.sigmoid(self._decode(mu, c)))
        return out

    def _train_epoch(self) -> dict[str, float]:
        totals = torch.zeros(2)
        batches = self._batches(self._x.shape[0])
        for idx in batches:
            x = self._x[idx]
            c = self._onehot(self._y[idx] if self._y is not None else None)
            mu, logvar = self.encoder_(x, c)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            logits = self._decode(z, c)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(idx)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(idx)
            loss = rec + float(self.beta) * kl
            self.optimizer_.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer_.step()
            totals += torch.stack([rec.detach(), kl.detach()]).cpu()
        mean = (totals / max(len(batches), 1)).tolist()
        return {"reconstruction": mean[0], "kl": mean[1]}

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses["reconstruction"] + float(self.beta) * losses["kl"]

    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return torch.sigmoid(self._decode(z, self._onehot(y)))


@register
class ConditionalVAE(VAE):
    """Conditional VAE (Sohn et al. 2015): the one-hot label goes to the encoder and the decoder.
    Parameters as :class:`VAE`. ``sample(n)`` balances the classes; ``sample(n, conditions={"label":
    7})`` draws one class."""

    name = "cvae"
    conditional: ClassVar[bool] = True
