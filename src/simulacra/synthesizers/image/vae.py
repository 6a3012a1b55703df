"""Convolutional VAE and conditional VAE.

Kingma & Welling (2014), "Auto-Encoding Variational Bayes": an encoder ``q(z | x) = N(μ(x), diag σ²(x))``,
the reparameterisation ``z = μ + σ·ε``, a decoder ``p(x | z)`` and the loss ``−ELBO =
E_q[−log p(x | z)] + KL(q(z | x) ‖ N(0, I))`` per image. As in the paper's MNIST experiments the pixel
likelihood is Bernoulli on intensities in [0, 1] (binary cross-entropy on the decoder's logits).

The encoder is the DCGAN discriminator's convolution stack (:class:`~.base.DownsamplingEncoder`, no batch
norm) and the decoder the DCGAN generator (:class:`~.base.UpsamplingDecoder`). ``cvae`` (Sohn, Lee & Yan
2015, "Learning Structured Output Representation using Deep Conditional Generative Models") gives both
the one-hot label: concatenated to the encoder's features and to ``z``. Samples are the decoder's pixel
means ``sigmoid(logits)`` for ``z ~ N(0, I)``, or, with ``prior="fitted"``, for ``z`` drawn from a
Gaussian fitted after training to the encodings of the requested class's training items::

    μ_i, σ_i² = encoder(x_i, y_i)                       # (N, d) each, training items of class y
    m_y = mean_i μ_i;  S_y = Cov_i(μ_i) + diag(mean_i σ_i²)   # (d,), (d, d): the moment-matched
                                                        # aggregate posterior q(z | y)
    z = m_y + chol(S_y) · τ ε,  ε ~ N(0, I)             # τ: the temperature

Where this differs from the paper: the prior N(0, I) is the ELBO's; drawing from the aggregate
posterior instead is the ex-post density estimation of Ghosh et al. 2020 ("From Variational to
Deterministic Autoencoders", ICLR 2020, who fit a mixture to the encodings, without classes). Here one
Gaussian per class: the encoder's ``z`` still carries some of the class, and ``N(0, I)`` draws where
another class's encodings lie (on the spoken digits, ``specvae``'s default, the real-trained
classifier then recognised fewer of the drawn digits; ``docs/audio.md``).
"""

from __future__ import annotations

from typing import Any, ClassVar

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
from simulacra.validation import Choice, Real


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
    prior = Hyper(
        "standard",
        Choice("standard", "fitted"),
        "where sampling draws z: N(0, I), the ELBO's prior; or a Gaussian fitted after training to the "
        "training items' encodings, one per class for a conditional model (see the module docstring)",
    )

    def _build(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        self.latent_mean_: np.ndarray | None = None  # (K, d) and (K, d, d) with prior="fitted"
        self.latent_chol_: np.ndarray | None = None
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

    def _after_training(self) -> None:
        """``prior="fitted"``: each class's (one, unconditional) Gaussian of the training encodings,
        ``latent_mean_`` ``(K, d)`` and its Cholesky factor ``latent_chol_`` ``(K, d, d)``."""
        if self.prior != "fitted":
            return
        n = self._x.shape[0]
        groups = self._y if self._y is not None else torch.zeros(n, dtype=torch.long, device=self.device_)
        mus, variances = [], []
        with torch.inference_mode():
            self.encoder_.eval()
            for idx in torch.arange(n, device=self.device_).split(1000):
                mu, logvar = self.encoder_(
                    self._x[idx], self._onehot(groups[idx] if self.conditional else None)
                )
                mus.append(mu.double())
                variances.append(logvar.double().exp())
            self.encoder_.train()
            mu, var = torch.cat(mus).cpu(), torch.cat(variances).cpu()
            groups = groups.cpu()
            k, d = (len(self.class_names_) if self.conditional else 1), mu.shape[1]
            means, chols = (
                torch.zeros((k, d), dtype=torch.float64),
                torch.eye(d, dtype=torch.float64).repeat(k, 1, 1),
            )
            for c in range(k):
                m, v = mu[groups == c], var[groups == c]
                if len(m) == 0:  # a class without items keeps N(0, I)
                    continue
                centred = m - m.mean(0)
                cov = centred.T @ centred / max(len(m) - 1, 1) + torch.diag(v.mean(0))
                means[c], chols[c] = m.mean(0), torch.linalg.cholesky(cov)
        self.latent_mean_, self.latent_chol_ = means.float().numpy(), chols.float().numpy()

    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.latent_mean_ is not None:  # prior="fitted": z ~ N(m_y, S_y), τ scaling the spread
            g = y if y is not None else torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
            mean = torch.as_tensor(self.latent_mean_, device=z.device)[g]  # (B, d)
            chol = torch.as_tensor(self.latent_chol_, device=z.device)[g]  # (B, d, d)
            z = mean + torch.einsum("bij,bj->bi", chol, z)
        return torch.sigmoid(self._decode(z, self._onehot(y)))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = super()._get_state()
        if self.latent_mean_ is not None:
            arrays = arrays | {"latent_mean": self.latent_mean_, "latent_chol": self.latent_chol_}
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(state, arrays)  # builds the networks, with no fitted prior
        if "latent_mean" in arrays:
            self.latent_mean_ = np.asarray(arrays["latent_mean"], np.float32)
            self.latent_chol_ = np.asarray(arrays["latent_chol"], np.float32)


@register
class ConditionalVAE(VAE):
    """Conditional VAE (Sohn et al. 2015): the one-hot label goes to the encoder and the decoder.
    Parameters as :class:`VAE`. ``sample(n)`` balances the classes; ``sample(n, conditions={"label":
    7})`` draws one class."""

    name = "cvae"
    conditional: ClassVar[bool] = True
