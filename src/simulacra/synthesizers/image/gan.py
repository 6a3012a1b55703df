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

Two additions from later work, each a hyper-parameter (measured on CIFAR-10 and MNIST, docs/images.md):

- ``ema``: the samples come from an exponential moving average of the generator's weights (Yazıcı et
  al. 2019, "The Unusual Effectiveness of Averaging in GAN Training"; Karras et al. 2018 use decay
  0.999), warmed up as ``min(ema, (1 + k)/(10 + k))`` at generator step ``k`` like the diffusion
  models' sampling weights. Its batch-norm statistics are its own, estimated on fresh noise before it
  draws (``torch.optim.swa_utils.update_bn``, the re-estimation that averaged weights need: Izmailov
  et al. 2018, "Averaging Weights Leads to Wider Optima"; BigGAN's standing statistics, Brock et al.
  2019): the live generator's running statistics belong to other weights. Training is unchanged.
  On by default for ``cgan`` (decay 0.999: over three seeds on 8,000 CIFAR-10 images, a far lower
  local FID and a higher TSTR at the same fit time); off for ``dcgan`` (on MNIST it did not help it).
- ``augment``: DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
  Training"): the discriminator sees every real and generated batch through the same kind of random,
  differentiable transformation (colour, translation, cutout at the paper's ratios), in both its own
  step and the generator's, so that it cannot memorise a small training set. Off by default.

Where this differs from the papers: DiffAugment's translation and cutout draw a whole-pixel
offset per image as the reference code does, with one fixed ratio each.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

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
from simulacra.synthesizers.training import ema_update, steps_taken
from simulacra.validation import Boolean, Choice, Optional, Probability, Real

#: noise batches through which the averaged generator estimates its batch-norm statistics
STANDING_BATCHES = 100

#: the first sentence of ``ema``'s help, shared by the models that declare its default
EMA_DOC = (
    "decay of a moving average of the generator's weights that draws the samples (Yazıcı et al. 2019; "
    "Karras et al. 2018's 0.999), with its own batch-norm statistics; None draws with the generator as "
    "trained, the DCGAN recipe"
)

#: the DiffAugment policies ``augment`` takes (Zhao et al. 2020 use all three on CIFAR-10)
AUGMENT_POLICIES = (
    "none",
    "translation",
    "color,translation",
    "translation,cutout",
    "color,translation,cutout",
)


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply one DiffAugment policy to a batch, differentiably.

    Follows Zhao et al. (2020), "Differentiable Augmentation for Data-Efficient GAN Training", at the
    paper's ratios. Each image draws its own transformation, and gradients flow back to ``x``, so the
    generator learns through them.

    Parameters
    ----------
    x : torch.Tensor
        Images, shape ``(B, C, H, W)``, float, pixel values in [-1, 1].
    policy : str
        ``"none"`` (``x`` is returned as is) or a comma-separated list of ``color`` (brightness
        ``+ U(-1/2, 1/2)``; saturation: each pixel's deviation from its channel mean ``× U(0, 2)``;
        contrast: the deviation from the image mean ``× U(1/2, 3/2)``), ``translation`` (a shift of up
        to 1/8 of each side, in whole pixels, the uncovered border zero) and ``cutout`` (a zeroed
        rectangle of half of each side at a random centre, clipped at the edges).

    Returns
    -------
    torch.Tensor
        Shape ``(B, C, H, W)``, the dtype and device of ``x``. Values may leave [-1, 1] under ``color``.

    Notes
    -----
    The draws come from torch's global generator, which the fit seeds from its ``seed``. The policy is
    validated by the ``augment`` hyper-parameter before training starts, so no error is raised here.
    """
    if policy == "none":
        return x
    b, _, h, w = x.shape
    dev = x.device
    if "color" in policy:
        x = x + (torch.rand(b, 1, 1, 1, device=dev) - 0.5)
        mean = x.mean(1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev) * 2.0) + mean
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev) + 0.5) + mean
    if "translation" in policy:
        sh, sw = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
        dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=dev)
        dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=dev)
        rows = (torch.arange(h, device=dev).view(1, h, 1) + dy + 1).clamp(0, h + 1)  # (B, H, 1)
        cols = (torch.arange(w, device=dev).view(1, 1, w) + dx + 1).clamp(0, w + 1)  # (B, 1, W)
        padded = F.pad(x, (1, 1, 1, 1))  # (B, C, H + 2, W + 2), the zero border shifted in
        batch = torch.arange(b, device=dev).view(b, 1, 1)
        x = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    if "cutout" in policy:
        ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
        cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=dev)
        cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=dev)
        rows = torch.arange(h, device=dev).view(1, h, 1)
        cols = torch.arange(w, device=dev).view(1, 1, w)
        top, left = cy - ch // 2, cx - cw // 2
        inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # (B, H, W)
        x = x * (~inside).unsqueeze(1).to(x.dtype)
    return x


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
    ema = Hyper(
        None,
        Optional(Probability()),
        EMA_DOC + ". Off for dcgan: on 8,000 MNIST digits it raised the local FID a little (one seed; "
        "docs/images.md)",
    )
    augment = Hyper(
        "none",
        Choice(*AUGMENT_POLICIES),
        "DiffAugment policy (Zhao et al. 2020): the same random, differentiable transformations of "
        "the real and the generated images before the discriminator sees them, so that it cannot "
        "memorise a small training set; off by default: on 8,000 CIFAR-10 images it slowed learning at "
        "15 and at 60 epochs (docs/images.md), the paper's gains came from far longer training",
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
        self.generator_ema_ = None
        if self.ema is not None:
            self.generator_ema_ = copy.deepcopy(self.generator_).requires_grad_(False)
        betas = (0.5, 0.999)
        self.opt_g_ = torch.optim.Adam(self.generator_.parameters(), lr=self.learning_rate, betas=betas)
        self.opt_d_ = torch.optim.Adam(self.discriminator_.parameters(), lr=self.learning_rate, betas=betas)

    def _modules(self) -> dict[str, nn.Module]:
        modules = {"generator": self.generator_, "discriminator": self.discriminator_}
        if self.generator_ema_ is not None:
            modules["generator_ema"] = self.generator_ema_
        return modules

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g_, "discriminator": self.opt_d_}

    def _inputs(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.conditional or y is None:
            return z
        return torch.cat([z, F.one_hot(y, len(self.class_names_)).float()], 1)

    def _train_epoch(self) -> dict[str, float]:
        real_target = 1.0 - float(self.label_smoothing)
        weight = float(self.class_weight)
        policy = str(self.augment)
        totals = torch.zeros(4)
        batches = self._batches(self._x.shape[0])
        for idx in batches:
            real = self._x[idx] * 2.0 - 1.0
            y = self._y[idx] if self._y is not None else None
            z = torch.randn((len(idx), int(self.latent_dim)), device=self.device_)
            fake = torch.tanh(self.generator_(self._inputs(z, y)))
            d_real, c_real = self.discriminator_.judge(diff_augment(real, policy), y)
            d_fake = self.discriminator_(diff_augment(fake.detach(), policy), y)
            loss_d = F.binary_cross_entropy_with_logits(
                d_real, torch.full_like(d_real, real_target)
            ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            if c_real is not None:  # the auxiliary classifier learns on real images only
                loss_d = loss_d + weight * F.cross_entropy(c_real, y)
            self.opt_d_.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d_.step()
            d_gen, c_gen = self.discriminator_.judge(diff_augment(fake, policy), y)
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            if c_gen is not None:
                loss_g = loss_g + weight * F.cross_entropy(c_gen, y)
            self.opt_g_.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g_.step()
            if self.generator_ema_ is not None:
                self._update_ema()
            with torch.no_grad():
                totals += torch.stack(
                    [loss_g, loss_d, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean()]
                ).cpu()
        mean = (totals / max(len(batches), 1)).tolist()
        return {"loss_g": mean[0], "loss_d": mean[1], "d_real": mean[2], "d_fake": mean[3]}

    def _update_ema(self) -> None:
        """Average the generator's weights into ``generator_ema_`` (warmed up as the diffusion models'
        sampling weights)."""
        ema_update(self.generator_ema_, self.generator_, float(self.ema), steps_taken(self.opt_g_) - 1)

    def _ready_to_draw(self) -> None:
        """Estimate the averaged generator's own batch-norm statistics (the running means and variances
        the averaged weights produce, not the live generator's): ``STANDING_BATCHES`` batches of fresh
        noise, labels drawn at the training frequencies, through
        :func:`torch.optim.swa_utils.update_bn` (the re-estimation SWA needs after averaging weights,
        Izmailov et al. 2018; BigGAN's "standing statistics"). Its own seeded generator, so training
        draws stay unchanged."""
        if self.generator_ema_ is None:
            return
        g = torch.Generator(device="cpu").manual_seed(int(self.seed) + 2)
        size, batches = int(self.batch_size), []
        weights = torch.tensor(self.class_counts_, dtype=torch.float) if self.conditional else None
        for _ in range(STANDING_BATCHES):
            z = torch.randn((size, int(self.latent_dim)), generator=g).to(self.device_)
            y = (
                torch.multinomial(weights, size, True, generator=g).to(self.device_)
                if self.conditional
                else None
            )
            batches.append(self._inputs(z, y))
        with torch.no_grad():
            torch.optim.swa_utils.update_bn(batches, self.generator_ema_)
        self.generator_ema_.eval()

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses["loss_g"]

    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        generator = self.generator_ema_ if self.generator_ema_ is not None else self.generator_
        return (torch.tanh(generator(self._inputs(z, y))) + 1.0) / 2.0


@register
class ConditionalGAN(DCGAN):
    """Class-conditional DCGAN: one-hot labels into the generator, a projection discriminator (Mirza &
    Osindero 2014; Miyato & Koyama 2018). Parameters as :class:`DCGAN`. ``sample(n)`` balances the
    classes; ``sample(n, conditions={"label": 7})`` draws one class."""

    name = "cgan"
    conditional: ClassVar[bool] = True
    ema = DCGAN.ema.but(
        default=0.999,
        doc=EMA_DOC + ". On 8,000 CIFAR-10 images, three seeds, it lowered the local FID at every seed "
        "and raised TSTR, at the same fit time (docs/images.md)",
    )
    saved_defaults: ClassVar[dict[str, Any]] = {"ema": None}  # saved before it had the option
