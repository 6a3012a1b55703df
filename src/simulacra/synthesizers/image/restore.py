"""Image restoration: denoising, inpainting and super-resolution with a U-Net trained here.

References
----------
* K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser: Residual Learning of Deep
  CNN for Image Denoising" (DnCNN), IEEE TIP 2017 — a network trained on clean images with synthetic
  noise learns the correction (the residual) to add to the degraded image.
* J. Kim, J. K. Lee, K. M. Lee, "Accurate Image Super-Resolution Using Very Deep Convolutional Networks"
  (VDSR), CVPR 2016 — super-resolution as a residual on the bicubically upscaled low-resolution image.
* D. Pathak, P. Krähenbühl, J. Donahue, T. Darrell, A. Efros, "Context Encoders: Feature Learning by
  Inpainting", CVPR 2016 — inpainting as regression of a masked region from its surroundings.
* O. Ronneberger, P. Fischer, T. Brox, "U-Net", MICCAI 2015, in the form of Ho et al. 2020 — the network
  is the image diffusion models' U-Net (:class:`~simulacra.synthesizers.image.diffusion.UNet`).
* H. Zhao, O. Gallo, I. Frosio, J. Kautz, "Loss Functions for Image Restoration with Neural Networks",
  IEEE TCI 2017 — the L1 loss (sharper results than L2 at the same PSNR).

Method
------
::

    x: clean pixels (B, C, H, W) in [0, 1]; every degraded image is quantised to 8 bits, as real ones are
    degrade:  denoise   y = q(x + σ·ε)                                   ε ~ N(0, I), σ = sigma
              inpaint   m = one rectangle per image (sides uniform in [¼, hole] of H and W, anywhere)
                        y = x·(1 − m) + ½·m                              (B, 1, H, W) mask, 1 = missing
              superres  y = q(bicubic↓(x, scale))                        (B, C, H/s, W/s), antialiased
    restore:  u = y, or bicubic↑(y, scale) for superres                  (B, C, H, W)
              x̂ = u + U([2u − 1, 2m − 1]) / 2                           (the mask channel for inpaint)
              x̂ ← u·(1 − m) + x̂·m                                       (inpaint: known pixels kept)
    loss = mean |x̂ − x|  over fresh degradations of each training batch

Adam (``learning_rate``, linear warm-up over the first 200 steps). ``history_`` holds the per-epoch mean
``loss``. The baselines it is measured against (median filter, bicubic upscaling, normalised
convolution) and the PSNR/SSIM comparison are in :mod:`simulacra.evaluate.restoration`.

Where this differs from the papers: one small U-Net (three levels, channels ``width·(1, 2, 2)``, one
attention layer; the diffusion models' network with its noise-level input held at 0 and no label) stands
in for DnCNN's 17 and VDSR's 20 plain convolution layers, and is trained for a few minutes on the set
itself rather than for days on a large photo collection; the inpainting masks are single rectangles,
not free-form strokes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simulacra.errors import ConfigError, DataError
from simulacra.io import ImageSet
from simulacra.synthesizers.base import register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.image.base import ImageSynthesizer, to_uint8
from simulacra.synthesizers.image.diffusion import WARMUP, UNet
from simulacra.synthesizers.training import steps_taken
from simulacra.validation import Choice, Integer, Real

#: what a restoration model can learn
TASKS = ("denoise", "inpaint", "superres")
#: the smallest side of an inpainting hole, as a share of the image side
HOLE_MIN = 0.25


@register
class ImageRestorer(ImageSynthesizer):
    """A restoration model (``restore``): trained on clean images, it denoises, inpaints or
    super-resolves images like them; see the module docstring.

    It restores, it does not draw: :meth:`restore` and :meth:`degrade` are its verbs, and
    :meth:`sample` refuses. ``simulacra prepare DATA --restore MODEL`` and the augmentation op
    ``restore`` use it.
    """

    name = "restore"
    conditional: ClassVar[bool] = False
    supports_temperature = False
    task = Hyper("denoise", Choice(*TASKS), "what to undo: noise, a masked rectangle, or a lower resolution")
    sigma = Hyper(0.1, Real(gt=0, le=1), "denoise: the Gaussian noise's standard deviation, in [0, 1] pixels")
    scale = Hyper(2, Integer(ge=2, le=8), "superres: the factor between the low and the high resolution")
    hole = Hyper(
        0.5, Real(gt=HOLE_MIN, le=1), "inpaint: the largest side of a masked rectangle, a share of the side"
    )
    epochs = ImageSynthesizer.epochs.but(
        default=5, doc="passes over the shuffled images, each with fresh degradations"
    )
    patience = ImageSynthesizer.patience.but(
        doc="stop after this many epochs without a 0.1 % fall of the L1 loss (None: never)"
    )
    width = ImageSynthesizer.width.but(doc="channels of the U-Net's first level (the others: ×2, ×2)")
    learning_rate = Hyper(1e-3, Real(gt=0, le=10), "Adam learning rate (after a 200-step linear warm-up)")
    grid_every = ImageSynthesizer.grid_every.but(
        doc="restore a grid of degraded training images every N epochs (0: never)"
    )

    # ------------------------------------------------------------------ training
    def _build(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        c, h, w = self.image_shape_
        factor = 4 * (int(self.scale) if self.task == "superres" else 1)
        if h % factor or w % factor:
            raise DataError(
                f"images of {h}×{w} pixels: {self.name} ({self.task}) needs sides divisible by {factor}; "
                "resize them first"
            )
        extra = 1 if self.task == "inpaint" else 0
        self.net_ = UNet(self.image_shape_, int(self.width), 0, 0.0, in_channels=c + extra).to(self.device_)
        self.opt_ = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)

    def _modules(self) -> dict[str, nn.Module]:
        return {"net": self.net_}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt_}

    def _degrade(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Degraded ``x`` (float ``(B, C, H, W)`` in [0, 1]) and the inpainting mask ``(B, 1, H, W)``
        (``None`` for the other tasks), drawn from ``generator`` (the global RNG without one)."""
        if self.task == "denoise":
            noise = torch.randn(x.shape, generator=generator, device=x.device)
            return _quantised(x + float(self.sigma) * noise), None
        if self.task == "superres":
            low = F.interpolate(x, scale_factor=1 / int(self.scale), mode="bicubic", antialias=True)
            return _quantised(low), None
        b, _, h, w = x.shape
        u = torch.rand((4, b), generator=generator, device=x.device)
        hh = (h * (HOLE_MIN + (float(self.hole) - HOLE_MIN) * u[0])).long().clamp(1, h)  # (B,)
        ww = (w * (HOLE_MIN + (float(self.hole) - HOLE_MIN) * u[1])).long().clamp(1, w)
        top, left = (u[2] * (h - hh + 1)).long(), (u[3] * (w - ww + 1)).long()
        rows, cols = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
        inside_r = (rows[None] >= top[:, None]) & (rows[None] < (top + hh)[:, None])  # (B, H)
        inside_c = (cols[None] >= left[:, None]) & (cols[None] < (left + ww)[:, None])  # (B, W)
        m = (inside_r[:, :, None] & inside_c[:, None, :]).float()[:, None]  # (B, 1, H, W)
        return x * (1 - m) + 0.5 * m, m

    def _apply(self, y: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
        """The network's restoration ``x̂`` ``(B, C, H, W)`` of degraded ``y`` (low-resolution for
        superres) with mask ``m``."""
        u = F.interpolate(y, scale_factor=int(self.scale), mode="bicubic") if self.task == "superres" else y
        inputs = 2 * u - 1 if m is None else torch.cat([2 * u - 1, 2 * m - 1], dim=1)
        out = u + self.net_(inputs, u.new_zeros(u.shape[0]), None) / 2
        return out if m is None else u * (1 - m) + out * m

    def _train_epoch(self) -> dict[str, float]:
        total, batches = torch.zeros(()), self._batches(self._x.shape[0])
        for idx in batches:
            x = self._x[idx]  # (B, C, H, W)
            y, m = self._degrade(x)
            loss = (self._apply(y, m) - x).abs().mean()
            done = steps_taken(self.opt_)
            for group in self.opt_.param_groups:
                group["lr"] = float(self.learning_rate) * min(1.0, (done + 1) / WARMUP)
            self.opt_.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_.step()
            total += loss.detach().cpu()
        return {"loss": float(total / max(len(batches), 1))}

    def _monitor(self, losses: dict[str, float]) -> float:
        return losses["loss"]

    def _grid_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The first 10 training images, degraded once with a fixed seed: the grids show their
        restoration as training goes on (the mask rides in the noise slot)."""
        g = torch.Generator(device="cpu").manual_seed(int(self.seed) + 1)
        y, m = self._degrade(self._x[:10].cpu(), g)
        z = y if m is None else torch.cat([y, m], dim=1)
        return z.to(self.device_), None

    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        c = self.image_shape_[0]
        m = z[:, c:] if z.shape[1] > c else None
        return self._apply(z[:, :c], m).clamp(0.0, 1.0)

    # ------------------------------------------------------------------ the verbs
    def degrade(self, images: ImageSet, *, seed: int = 0) -> tuple[ImageSet, np.ndarray | None]:
        """``images`` degraded as in training, reproducibly: noisy (denoise), with a grey rectangle
        (inpaint) or at ``1/scale`` the resolution (superres), uint8; and the inpainting mask, bool
        ``(N, 1, H, W)`` (``True`` = missing), or ``None``.

        Raises
        ------
        NotFittedError; DataError (images of another shape than the model's).
        """
        self._check_fitted()
        self._check_shape(images, self.image_shape_, "clean")
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        out, masks = [], []
        for start in range(0, len(images), 1000):
            x = torch.from_numpy(images.images[start : start + 1000]).float().div_(255.0)
            y, m = self._degrade(x, g)
            out.append(to_uint8(y))
            masks.append(m.bool().numpy() if m is not None else None)
        degraded = ImageSet(np.concatenate(out), images.labels, list(images.class_names))
        return degraded, (np.concatenate(masks) if self.task == "inpaint" else None)

    def restore(self, images: ImageSet, mask: np.ndarray | None = None) -> ImageSet:
        """The restored ``images`` (uint8, the model's image shape), labels kept.

        Parameters
        ----------
        images : ImageSet
            Degraded images: of the model's shape (denoise, inpaint), or ``1/scale`` of it (superres).
        mask : bool array ``(N, 1, H, W)`` or None
            inpaint: the missing pixels (``True``); required for that task, refused for the others.

        Raises
        ------
        NotFittedError; DataError (another shape, a missing or misshapen mask).
        """
        self._check_fitted()
        c, h, w = self.image_shape_
        s = int(self.scale) if self.task == "superres" else 1
        self._check_shape(images, (c, h // s, w // s), "degraded")
        if (mask is None) != (self.task != "inpaint"):
            raise DataError(
                "inpainting needs the mask of missing pixels; give mask=(N, 1, H, W) booleans"
                if mask is None
                else f"a mask is for inpainting; this model's task is {self.task}, so drop it"
            )
        if mask is not None and mask.shape != (len(images), 1, h, w):
            raise DataError(f"the mask must have shape ({len(images)}, 1, {h}, {w}), got {mask.shape}")
        out = np.empty((len(images), c, h, w), np.uint8)
        with torch.inference_mode():
            self.net_.eval()
            for start in range(0, len(images), 500):
                stop = min(len(images), start + 500)
                y = torch.from_numpy(images.images[start:stop]).float().div_(255.0).to(self.device_)
                m = torch.from_numpy(mask[start:stop]).float().to(self.device_) if mask is not None else None
                out[start:stop] = to_uint8(self._apply(y, m))
        return ImageSet(out, images.labels, list(images.class_names))

    def round_trip(self, pixels: torch.Tensor) -> torch.Tensor:
        """Clean ``pixels`` float ``(B, C, H, W)`` in [0, 1] degraded (from torch's global RNG) and
        restored again: plausible variants of them, for the augmentation op ``restore``.

        Raises
        ------
        NotFittedError; DataError (another shape than the model's).
        """
        self._check_fitted()
        if tuple(pixels.shape[1:]) != tuple(self.image_shape_):
            c, h, w = self.image_shape_
            raise DataError(
                f"images of shape {tuple(pixels.shape[1:])}: this {self.task} model takes ({c}, {h}, {w})"
            )
        with torch.inference_mode():
            self.net_.eval()
            y, m = self._degrade(pixels.to(self.device_))
            return self._apply(y, m).clamp(0.0, 1.0).to(pixels.device)

    def _check_shape(self, images: ImageSet, shape: tuple[int, ...], what: str) -> None:
        if not isinstance(images, ImageSet):
            raise DataError(f"{self.name} takes an ImageSet, got {type(images).__name__}")
        if tuple(images.images.shape[1:]) != tuple(shape):
            c, h, w = shape
            raise DataError(
                f"{what} images of shape {tuple(images.images.shape[1:])}: this {self.task} model takes "
                f"({c}, {h}, {w}); read them with size=({h}, {w}) and channels={c}"
            )

    def sample(self, n: int, **kwargs: Any) -> ImageSet:
        """Refused: a restoration model restores images (:meth:`restore`), it does not draw them.

        Raises
        ------
        ConfigError
            Always.
        """
        raise ConfigError(
            f"{self.name} restores images, it does not draw new ones; use simulacra prepare DATA "
            "--restore MODEL, or the augmentation op restore"
        )


def _quantised(x: torch.Tensor) -> torch.Tensor:
    """``x`` clipped to [0, 1] and rounded to 8 bits, as a saved image would be."""
    return x.clamp(0.0, 1.0).mul(255.0).round().div(255.0)
