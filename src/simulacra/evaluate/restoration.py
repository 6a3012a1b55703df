"""How well a restoration model (:class:`~simulacra.synthesizers.image.restore.ImageRestorer`) undoes
a degradation, against the simple baseline for it, in PSNR and SSIM on held-out images.

The baselines are the classical methods a learned one must beat:

* **denoise** — the 3×3 median filter (Kornia's ``median_blur``), per channel;
* **superres** — bicubic upscaling of the low-resolution image (what the model starts from);
* **inpaint** — normalised convolution (Knutsson & Westin 1993, "Normalized and differential
  convolution"): the known pixels blurred with a Gaussian (σ = 2 pixels), divided by the blurred mask of
  known pixels, so each hole pixel gets a distance-weighted mean of the pixels around it; repeated at
  σ = 4 and 8 for pixels still without known neighbours.

Each row scores the images against the clean originals: the degraded input itself, the baseline and the
model, so the gain over doing nothing is visible too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from simulacra.evaluate.image import psnr_ssim
from simulacra.io import ImageSet

#: the baseline each task is measured against
BASELINES = {
    "denoise": "median filter 3×3",
    "superres": "bicubic upscaling",
    "inpaint": "normalised convolution",
}


def baseline(task: str, degraded: np.ndarray, mask: np.ndarray | None = None, scale: int = 2) -> np.ndarray:
    """The classical restoration of uint8 ``degraded`` ``(N, C, h, w)`` for ``task`` (see the module
    docstring): uint8 ``(N, C, H, W)``, ``H = h·scale`` for superres, ``H = h`` otherwise.

    Parameters
    ----------
    task : {"denoise", "inpaint", "superres"}
    degraded : uint8 array (N, C, h, w)
    mask : bool array (N, 1, h, w) or None
        inpaint: the missing pixels (``True``).
    scale : int
        superres: the upscaling factor.
    """
    from kornia.filters import gaussian_blur2d, median_blur

    x = torch.from_numpy(degraded).float().div_(255.0)
    if task == "denoise":
        out = median_blur(x, (3, 3))
    elif task == "superres":
        out = F.interpolate(x, scale_factor=scale, mode="bicubic")
    else:
        known = 1.0 - torch.from_numpy(mask).float()  # (N, 1, H, W)
        out = x * known
        filled = known.clone()
        for sigma in (2.0, 4.0, 8.0):
            size = 2 * int(np.ceil(3 * sigma)) + 1
            num = gaussian_blur2d(x * known, (size, size), (sigma, sigma), border_type="constant")
            den = gaussian_blur2d(known, (size, size), (sigma, sigma), border_type="constant")
            fresh = (den > 1e-3) & (filled == 0)
            out = torch.where(fresh, num / den.clamp_min(1e-3), out)
            filled = torch.where(fresh, torch.ones_like(filled), filled)
        out = torch.where(filled == 0, x, out)  # beyond every reach: left as it was
    return out.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).numpy()


def evaluate_restoration(model: Any, images: ImageSet, *, seed: int = 0) -> dict[str, Any]:
    """Degrade held-out ``images`` as ``model`` was trained to undo (seeded), restore them with the
    baseline and with the model, and score each against the originals.

    Parameters
    ----------
    model : ImageRestorer
        A fitted restoration model.
    images : ImageSet
        Clean held-out images of the model's shape, uint8 ``(N, C, H, W)``.
    seed : int
        Seeds the degradation (noise, masks).

    Returns
    -------
    dict
        ``task``, ``baseline`` (its name), ``n`` and ``rows``: ``{"degraded" | "baseline" | "model":
        {"psnr": dB, "ssim": in [−1, 1]}}``; ``degraded`` is missing for superres, whose input has
        another size (its bicubic upscaling is the baseline).

    Raises
    ------
    NotFittedError, DataError
        An unfitted model, or images of another shape.
    """
    degraded, mask = model.degrade(images, seed=seed)
    scale = int(model.scale)
    rows = {}
    if model.task != "superres":
        rows["degraded"] = psnr_ssim(images.images, degraded.images)
    rows["baseline"] = psnr_ssim(images.images, baseline(model.task, degraded.images, mask, scale))
    rows["model"] = psnr_ssim(images.images, model.restore(degraded, mask).images)
    return {"task": model.task, "baseline": BASELINES[model.task], "n": len(images), "rows": rows}
