"""DCGAN and its class-conditional version.

Radford, Metz & Chintala (2015), "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks": a generator of transposed convolutions with batch norm and ReLU ending in tanh; a
discriminator of strided convolutions with LeakyReLU 0.2 and batch norm (not on the first layer); weights
initialised N(0, 0.02); Adam with learning rate 2e-4 and β₁ = 0.5; the non-saturating GAN loss of
Goodfellow et al. (2014); one-sided label smoothing of the real targets (Salimans et al. 2016). The
networks are sized by the image (:func:`~.base.stages`): for 28×28 MNIST
the generator goes 7×7 → 14×14 → 28×28.

``cgan`` conditions both networks on the class (Mirza & Osindero 2014, "Conditional Generative
Adversarial Nets"): the generator gets the one-hot label concatenated to its noise; the discriminator is
a *projection discriminator* (Miyato & Koyama 2018, "cGANs with Projection Discriminator"), whose logit
is ``ψ(h) + ⟨embed(y), h⟩`` for the image features ``h``, with spectral normalization (Miyato et al.
2018) in place of batch norm, as in that paper.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from simulacra.synthesizers.base import register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.image.base import (
    LATENT_DIM,
    DownsamplingEncoder,
    ImageSynthesizer,
    UpsamplingDecoder,
    init_weights,
)
from simulacra.validation import Boolean, Optional, Real


class Discriminator(nn.Module):
    """``(B, C, H, W)`` in [-1, 1] (and labels ``(B,)``) → one logit per image ``(B,)``; with
    ``n_classes`` > 0 a projection discriminator, and with ``classify`` also an auxiliary classifier
    head (:meth:`judge`: ``(B, n_classes)`` class logits of the same features, Odena et al. 2017)."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        width: int,
        n_classes: int = 0,
        spectral_norm: bool = False,
        classify: bool = False,
    ) -> None:
        super().__init__()
        self.body = DownsamplingEncoder(shape, width, batch_norm=True, spectral_norm=spectral_norm)
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.psi = sn(nn.Linear(self.body.features, 1))
        self.embed = sn(nn.Embedding(n_classes, self.body.features)) if n_classes else None
        self.classifier = sn(nn.Linear(self.body.features, n_classes)) if n_classes and classify else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.judge(x, y)[0]

    def judge(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The logits ``(B,)`` and, with the auxiliary head, the class logits ``(B, n_classes)``."""
        h = self.body(x)
        logit = self.psi(h).squeeze(1)
        if self.embed is not None and y is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit, (self.classifier(h) if self.classifier is not None else None)


@register
class DCGAN(ImageSynthesizer):
    """Deep convolutional GAN (Radford et al. 2015); see the module docstring."""

    name = "dcgan"
    conditional: ClassVar[bool] = False
    epochs = ImageSynthesizer.epochs.but(
        default=60,
        doc="passes over the shuffled images (about 5 minutes on 2 CPU cores for 8,000 MNIST digits)",
    )
    patience = ImageSynthesizer.patience.but(
        doc="stop after this many epochs without a 0.1 % fall of the generator loss (None: never)"
    )
    latent_dim = LATENT_DIM.but(doc="noise size (the paper's 100)")
    learning_rate = Hyper(2e-4, Real(ge=0, le=10), "Adam learning rate of both networks; betas (0.5, 0.999)")
    label_smoothing = Hyper(0.1, Real(ge=0, lt=1), "the real targets are 1 − label_smoothing")
    spectral_norm = Hyper(
        None,
        Optional(Boolean()),
        "spectral normalization (Miyato et al. 2018) in the discriminator instead of batch norm; None uses "
        "it for cgan, as the projection discriminator's authors do, and not for dcgan, as Radford et al. "
        "(on 8,000 MNIST digits it took cgan's TSTR from 0.93 to 0.95)",
    )
    class_weight = Hyper(
        0.0,
        Real(ge=0, le=100),
        "weight of the auxiliary classifier loss (AC-GAN, Odena et al. 2017; conditional models only): "
        "the discriminator also learns the class of real images and the generator is pushed to draw "
        "images it classifies as their label; 0 leaves it out",
    )

    def _build(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        k = len(self.class_names_) if self.conditional else 0
        self.generator_ = UpsamplingDecoder(int(self.latent_dim) + k, self.image_shape_, int(self.width))
        sn = self.conditional if self.spectral_norm is None else bool(self.spectral_norm)
        classify = self.conditional and float(self.class_weight) > 0
        self.discriminator_ = Discriminator(self.image_shape_, int(self.width), k, sn, classify)
        for net in (self.generator_, self.discriminator_):
            init_weights(net)
            net.to(self.device_)
        betas = (0.5, 0.999)
        self.opt_g_ = torch.optim.Adam(self.generator_.parameters(), lr=self.learning_rate, betas=betas)
        self.opt_d_ = torch.optim.Adam(self.discriminator_.parameters(), lr=self.learning_rate, betas=betas)

    def _modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator_, "discriminator": self.discriminator_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g_, "discriminator": self.opt_d_}

    def _inputs(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.conditional or y is None:
            return z
        return torch.cat([z, F.one_hot(y, len(self.class_names_)).float()], 1)

    def _train_epoch(self) -> dict[str, float]:
        real_target = 1.0 - float(self.label_smoothing)
        weight = float(self.class_weight)
        totals = torch.zeros(4)
        batches = self._batches(self._x.shape[0])
        for idx in batches:
            real = self._x[idx] * 2.0 - 1.0
            y = self._y[idx] if self._y is not None else None
            z = torch.randn((len(idx), int(self.latent_dim)), device=self.device_)
            fake = torch.tanh(self.generator_(self._inputs(z, y)))
            d_real, c_real = self.discriminator_.judge(real, y)
            d_fake = self.discriminator_(fake.detach(), y)
            loss_d = F.binary_cross_entropy_with_logits(
                d_real, torch.full_like(d_real, real_target)
            ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            if c_real is not None:  # the auxiliary classifier learns on real images only
                loss_d = loss_d + weight * F.cross_entropy(c_real, y)
            self.opt_d_.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d_.step()
            d_gen, c_gen = self.discriminator_.judge(fake, y)
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            if c_gen is not None:
                loss_g = loss_g + weight * F.cross_entropy(c_gen, y)
            self.opt_g_.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g_.step()
            with torch.no_grad():
                totals += torch.stack(
                    [loss_g, loss_d, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean()]
                ).cpu()
        mean = (totals / max(len(batches), 1)).tolist()
        return {"loss_g": mean[0], "loss_d": mean[1], "d_real": mean[2], "d_fake": mean[3]}

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses["loss_g"]

    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return (torch.tanh(self.generator_(self._inputs(z, y))) + 1.0) / 2.0


@register
class ConditionalGAN(DCGAN):
    """Class-conditional DCGAN: one-hot labels into the generator, a projection discriminator (Mirza &
    Osindero 2014; Miyato & Koyama 2018). Parameters as :class:`DCGAN`. ``sample(n)`` balances the
    classes; ``sample(n, conditions={"label": 7})`` draws one class."""

    name = "cgan"
    conditional: ClassVar[bool] = True
