"""Image augmentation pipelines on Kornia (Riba et al. 2020, "Kornia: an Open Source Differentiable
Computer Vision Library for PyTorch"), batched, seeded and deterministic.

A pipeline is a list of steps, each ``{op: NAME, ...parameters}``, applied in order to every image
with its own probability ``p``; from YAML::

    steps:
      - {op: rotate, degrees: 15, p: 0.5}
      - {op: affine, translate: [0.1, 0.1], scale: [0.9, 1.1]}
      - {op: salt_pepper, amount: 0.02, p: 0.3}

Operations (:data:`OPS`; defaults in brackets): ``hflip`` / ``vflip`` [p 0.5]; ``rotate`` [degrees 15];
``resized_crop`` [scale (0.8, 1), ratio (0.9, 1.1)]; ``affine`` [degrees 0, translate (0.1, 0.1), scale
(0.9, 1.1)]; ``grayscale`` (RGB images only); ``brightness`` / ``contrast`` [factor (0.8, 1.2)];
``gaussian_noise`` [std 0.05, on the [0, 1] pixel scale]; ``salt_pepper`` [amount 0.02]; ``restore``
[model: a restoration model folder, ``simulacra fit DATA --model restore``] degrades an image as that
model was trained to undo (noise, a masked rectangle, a lower resolution) and restores it with the
model, giving a plausible variant (:class:`RestoreOp`). Every step takes ``p`` (default 0.5), the
probability that it changes an image.

Two steps mix pairs of images from the same batch and mix their labels the same way, giving
``soft_labels`` ``(N, K)`` in the output (:data:`MIX_OPS`):

* ``mixup`` [lam (0, 0.4)] — ``(1 − λ)·x_i + λ·x_j`` with ``λ`` uniform in ``lam`` (Zhang et al. 2018,
  "mixup: Beyond Empirical Risk Minimization"); labels ``(1 − λ)·y_i + λ·y_j``;
* ``cutmix`` — a random rectangle of ``x_j`` pasted into ``x_i`` (Yun et al. 2019, "CutMix"), Kornia's
  box-size distribution; labels weighted by the pasted area.

Kornia applies its mix ops to whole batches; here ``p`` is made per-image by keeping the mixed version of
a random share ``p`` of the images (and ``λ = 0`` for the others).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from simulacra.augment.steps import check_steps, read_steps
from simulacra.errors import ConfigError
from simulacra.io import ImageSet
from simulacra.validation import Pair, Param, Probability, Real, Text


def _kornia():
    import kornia.augmentation as K

    return K


def _pair(v: Any) -> tuple[float, float]:
    if isinstance(v, int | float):
        return (float(v), float(v))
    return (float(v[0]), float(v[1]))


#: op name → builder(image shape (C, H, W), parameters) → a Kornia augmentation module
OPS: dict[str, Callable[..., Any]] = {
    "hflip": lambda shape, p=0.5: _kornia().RandomHorizontalFlip(p=p),
    "vflip": lambda shape, p=0.5: _kornia().RandomVerticalFlip(p=p),
    "rotate": lambda shape, degrees=15.0, p=0.5: _kornia().RandomRotation(float(degrees), p=p),
    "resized_crop": lambda shape, scale=(0.8, 1.0), ratio=(0.9, 1.1), p=0.5: _kornia().RandomResizedCrop(
        shape[1:], scale=_pair(scale), ratio=_pair(ratio), p=p
    ),
    "affine": lambda shape, degrees=0.0, translate=(0.1, 0.1), scale=(0.9, 1.1), p=0.5: (
        _kornia().RandomAffine(float(degrees), translate=_pair(translate), scale=_pair(scale), p=p)
    ),
    "grayscale": lambda shape, p=0.5: _kornia().RandomGrayscale(p=p),
    "brightness": lambda shape, factor=(0.8, 1.2), p=0.5: _kornia().RandomBrightness(_pair(factor), p=p),
    "contrast": lambda shape, factor=(0.8, 1.2), p=0.5: _kornia().RandomContrast(_pair(factor), p=p),
    "gaussian_noise": lambda shape, std=0.05, p=0.5: _kornia().RandomGaussianNoise(std=float(std), p=p),
    "salt_pepper": lambda shape, amount=0.02, p=0.5: _kornia().RandomSaltAndPepperNoise(
        amount=float(amount), salt_vs_pepper=0.5, p=p
    ),
    "restore": lambda shape, model=None, p=0.5: RestoreOp(shape, model, p),
}


class RestoreOp(torch.nn.Module):
    """The ``restore`` step: a share ``p`` of the images (drawn from torch's global RNG) degraded and
    restored by a fitted restoration model
    (:meth:`~simulacra.synthesizers.image.restore.ImageRestorer.round_trip`); ``(B, C, H, W)`` in
    [0, 1] → the same. The pipeline names the model's folder; :class:`ImageAugmenter` is given the
    loaded models (``models``) by the caller, which owns model loading.

    Raises
    ------
    ConfigError
        ``model`` was trained on images of another shape.
    """

    def __init__(self, shape: tuple[int, int, int], model: Any, p: float = 0.5) -> None:
        super().__init__()
        if model is None:
            raise ConfigError("restore: give the restoration model's folder, {op: restore, model: DIR}")
        if tuple(model.image_shape_) != tuple(shape):
            raise ConfigError(
                f"restore: the model restores images of shape {tuple(model.image_shape_)}, these are "
                f"{tuple(shape)}; fit it on images like these"
            )
        self.model = model
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chosen = torch.rand(x.shape[0]) < self.p  # (B,)
        if not bool(chosen.any()):
            return x
        out = x.clone()
        out[chosen] = self.model.round_trip(x[chosen])
        return out


#: op name → builder(parameters) → a Kornia mix module (these also take and mix the labels)
MIX_OPS: dict[str, Callable[..., Any]] = {
    "mixup": lambda lam=(0.0, 0.4): _kornia().RandomMixUpV2(
        lambda_val=_pair(lam), p=1.0, data_keys=["input", "class"]
    ),
    "cutmix": lambda: _cutmix(),
}


def _cutmix():
    import inspect

    cls = _kornia().RandomCutMixV2
    if "use_correct_lambda" in inspect.signature(cls).parameters:  # Kornia ≥ 0.8: λ is the kept area
        return cls(num_mix=1, p=1.0, data_keys=["input", "class"], use_correct_lambda=True), True
    return cls(num_mix=1, p=1.0, data_keys=["input", "class"]), False  # λ is the pasted area


_P = {"p": Probability()}
#: op name → the constraints of its parameters (:mod:`simulacra.validation`), checked when a pipeline
#: is built, before any image is read
CONSTRAINTS: dict[str, dict[str, Param]] = {
    "hflip": _P,
    "vflip": _P,
    "grayscale": _P,
    "rotate": {"degrees": Real(ge=0, le=360), **_P},
    "resized_crop": {"scale": Pair(ge=1e-3, le=1), "ratio": Pair(ge=1e-2, le=100), **_P},
    "affine": {
        "degrees": Real(ge=0, le=360),
        "translate": Pair(ge=0, le=1),
        "scale": Pair(ge=1e-2, le=100),
        **_P,
    },
    "brightness": {"factor": Pair(ge=0, le=10), **_P},
    "contrast": {"factor": Pair(ge=0, le=10), **_P},
    "gaussian_noise": {"std": Real(ge=0, le=10), **_P},
    "salt_pepper": {"amount": Real(ge=0, le=1), **_P},
    "restore": {"model": Text(), **_P},
    "mixup": {"lam": Pair(ge=0, le=1), **_P},
    "cutmix": _P,
}


class ImageAugmenter:
    """A pipeline of :data:`OPS` steps (see the module docstring).

    Raises
    ------
    ConfigError
        An unknown op, a parameter the op does not take, a value of the wrong type or range
        (:data:`CONSTRAINTS`), or ``grayscale`` on single-channel images (raised when the pipeline meets
        the images).
    """

    def __init__(self, steps: list[dict[str, Any]], models: dict[str, Any] | None = None) -> None:
        self.steps = check_steps(steps, CONSTRAINTS, "{op: hflip}")
        #: fitted restoration models by the folder a ``restore`` step names (see :meth:`model_paths`)
        self.models = dict(models or {})

    def model_paths(self) -> list[str]:
        """The model folders the ``restore`` steps name, for the caller to load into :attr:`models`."""
        return [str(s["model"]) for s in self.steps if s["op"] == "restore" and "model" in s]

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> ImageAugmenter:
        """Read ``steps: [...]`` (or a bare list of steps) from a YAML file.

        Raises
        ------
        ConfigError
            Missing or unreadable file, no steps, or an unknown top-level key.
        """
        return cls(read_steps(path)[0])

    def build(self, shape: tuple[int, int, int]) -> list[tuple[str, Any, float]]:
        """The stages for images of ``shape`` ``(C, H, W)``: runs of per-image ops as one sequential
        module (``("image", module, 1.0)``), mix ops as ``("mixup" | "cutmix", module, p)``."""
        stages: list[tuple[str, Any, float]] = []
        run: list[Any] = []
        for step in self.steps:
            op, params = step["op"], {k: v for k, v in step.items() if k != "op"}
            if op == "grayscale" and shape[0] != 3:
                raise ConfigError("grayscale needs RGB images (3 channels); these have 1")
            try:
                if op in MIX_OPS:
                    p = float(params.pop("p", 0.5))
                    if run:
                        stages.append(("image", torch.nn.Sequential(*run), 1.0))
                        run = []
                    stages.append((op, MIX_OPS[op](**params), p))
                else:
                    if op == "restore" and "model" in params:
                        if params["model"] not in self.models:
                            raise ConfigError(
                                f"restore: {params['model']}: no model loaded; augment through simulacra "
                                "augment, or pass models={folder: fitted model}"
                            )
                        params["model"] = self.models[params["model"]]
                    run.append(OPS[op](shape, **params))
            except TypeError as exc:
                raise ConfigError(f"augmentation op {op!r}: {exc}") from None
        if run:
            stages.append(("image", torch.nn.Sequential(*run), 1.0))
        return stages

    @property
    def mixes(self) -> bool:
        """Whether a step mixes images (and so produces soft labels)."""
        return any(s["op"] in MIX_OPS for s in self.steps)


def _mix(kind: str, module: Any, p: float, x: torch.Tensor, soft: torch.Tensor | None):
    """Apply a mix stage to a batch; the partner of each image is found by passing the row indices to
    Kornia as "labels", so any soft labels are mixed exactly as the pixels were."""
    rows = torch.arange(x.shape[0])
    if kind == "cutmix":
        module, kept = module
        mixed, info = module(x, rows)
        info = info[0]
        lam = 1.0 - info[:, 2] if kept else info[:, 2]
    else:
        mixed, info = module(x, rows)
        lam = info[:, 2]
    partner = info[:, 1].long()
    chosen = torch.rand(x.shape[0]) < p
    lam = torch.where(chosen, lam, torch.zeros_like(lam))
    x = torch.where(chosen[:, None, None, None], mixed, x)
    if soft is not None:
        soft = (1.0 - lam)[:, None] * soft + lam[:, None] * soft[partner]
    return x, soft


def augment_images(
    images: ImageSet, augmenter: ImageAugmenter, *, copies: int = 1, seed: int = 0, batch_size: int = 512
) -> ImageSet:
    """``copies`` augmented versions of every image, copy by copy (image ``i`` of copy ``k`` is row
    ``k·N + i``), labels repeated; uint8 in, uint8 out (pixels scaled to [0, 1] for Kornia, clamped and
    rounded back). With mixup/cutmix steps and labelled images the result has ``soft_labels`` and each
    image's ``labels`` is its largest class. The same ``seed`` gives the same images; the caller's torch
    RNG state is untouched.

    Raises
    ------
    ConfigError
        ``copies`` < 1, or a pipeline that does not fit the images.
    """
    if int(copies) < 1:
        raise ConfigError(f"copies must be ≥ 1, got {copies}")
    stages = augmenter.build(tuple(images.images.shape[1:]))
    n = len(images)
    out = np.empty((n * int(copies), *images.images.shape[1:]), dtype=np.uint8)
    labelled = images.labels is not None
    soft_in = None
    if labelled and (augmenter.mixes or images.soft_labels is not None):
        soft_in = (
            images.soft_labels
            if images.soft_labels is not None
            else np.eye(len(images.class_names), dtype=np.float32)[images.labels]
        )
    soft_out = np.empty((len(out), soft_in.shape[1]), np.float32) if soft_in is not None else None
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(int(seed))
        for k in range(int(copies)):
            for start in range(0, n, batch_size):
                x = torch.from_numpy(images.images[start : start + batch_size]).float().div_(255.0)
                soft = torch.from_numpy(soft_in[start : start + batch_size]) if soft_in is not None else None
                for kind, module, p in stages:
                    if kind == "image":
                        x = module(x)
                    else:
                        x, soft = _mix(kind, module, p, x, soft)
                rows = slice(k * n + start, k * n + start + len(x))
                out[rows] = x.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).numpy()
                if soft_out is not None:
                    soft_out[rows] = soft.numpy()
    if soft_out is not None:
        return ImageSet(out, soft_out.argmax(1), list(images.class_names), soft_out)
    labels = np.tile(images.labels, int(copies)) if labelled else None
    return ImageSet(out, labels, list(images.class_names))
