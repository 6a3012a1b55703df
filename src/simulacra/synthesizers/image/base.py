"""The image synthesizer protocol and what the image models share.

``fit(images: ImageSet) -> self`` and ``sample(n, *, conditions=None, seed=None) -> ImageSet`` mirror the
table synthesizers; the training loop, progress, checkpoints, ``--resume``, seeding and ``state_dict``
persistence are :class:`~simulacra.synthesizers.training.TorchTraining`'s, shared with CTGAN and TVAE.

Besides, every ``grid_every`` epochs the model draws a grid of samples from fixed noise (one row per
class for the conditional models), kept in ``grids_`` and saved as ``samples/epoch_NNN.png`` in the model
directory, so training can be judged by eye.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from simulacra.errors import DataError
from simulacra.io import ImageSet, make_grid, png_bytes
from simulacra.synthesizers.base import BaseSynthesizer, ClassLabels
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.training import TorchTraining, resolve_device
from simulacra.validation import Integer

GRID_COLUMNS = 10
#: the latent noise size of the models that draw from a latent vector (the GANs and VAEs declare it)
LATENT_DIM = Hyper(100, Integer(ge=1, le=65_536), "size of the latent noise z")


def stages(height: int, width: int) -> tuple[int, int, int]:
    """How many ×2 up-sampling stages lead to an ``height × width`` image, and the starting size:
    halve while both sides are even and stay ≥ 4, at most 4 times (28 → 7·2², 32 → 4·2³, 64 → 4·2⁴)."""
    k = 0
    while k < 4 and height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 4:
        height, width, k = height // 2, width // 2, k + 1
    return k, height, width


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2015): weights (and label embeddings) ~ N(0, 0.02), batch-norm
    scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class UpsamplingDecoder(nn.Module):
    """``(B, latent_dim + cond_dim)`` → ``(B, C, H, W)`` logits: a linear layer to ``width·2^(k-1)``
    channels at the starting size, then ``k`` transposed convolutions (kernel 4, stride 2) halving the
    channels, each with batch norm and ReLU, and a 3×3 convolution to ``C`` channels (DCGAN's generator,
    Radford et al. 2015, sized by :func:`stages`)."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        k, h, w = stages(shape[1], shape[2])
        channels = width * 2 ** max(k - 1, 0)
        self.start = (channels, h, w)
        self.fc = nn.Sequential(
            nn.Linear(in_dim, channels * h * w, bias=False), nn.BatchNorm1d(channels * h * w), nn.ReLU()
        )
        layers: list[nn.Module] = []
        for _ in range(k):
            out = max(channels // 2, 8)
            layers += [nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        layers.append(nn.Conv2d(channels, shape[0], 3, 1, 1))
        self.conv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv(self.fc(z).view(-1, *self.start))


class DownsamplingEncoder(nn.Module):
    """``(B, C, H, W)`` → features ``(B, F)``: ``k`` strided 4×4 convolutions doubling the channels from
    ``width``, LeakyReLU 0.2, batch norm after all but the first when ``batch_norm`` (DCGAN's
    discriminator, Radford et al. 2015), flattened. ``spectral_norm`` divides each convolution's weight
    by its largest singular value (Miyato et al. 2018) instead of using batch norm."""

    def __init__(
        self, shape: tuple[int, int, int], width: int, batch_norm: bool = True, spectral_norm: bool = False
    ) -> None:
        super().__init__()
        k, h, w = stages(shape[1], shape[2])
        layers: list[nn.Module] = []
        channels, out = shape[0], width
        for i in range(k):
            conv = nn.Conv2d(channels, out, 4, 2, 1)
            layers.append(nn.utils.parametrizations.spectral_norm(conv) if spectral_norm else conv)
            if batch_norm and not spectral_norm and i > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            channels, out = out, out * 2
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.features = channels * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ImageSynthesizer(ClassLabels, TorchTraining, BaseSynthesizer):
    """Base of the image synthesizers (DCGAN, conditional GAN, VAE, conditional VAE).

    Subclass hooks: ``_build(x, y)`` (networks and optimizers) with the training images as float
    ``(N, C, H, W)`` in [0, 1] and their labels ``(N,)`` (or ``None``), also held as ``_x``/``_y`` during
    training; ``_train_epoch()``, ``_monitor(losses)``, ``_modules()``,
    ``_optimizers()`` and ``_generate(z, y) -> (B, C, H, W)`` pixels in [0, 1] from noise ``(B,
    *_latent_shape())`` and labels ``(B,)`` (or ``None``).

    Learned attributes: ``image_shape_`` ``(C, H, W)``, ``class_names_``, ``class_counts_``, ``history_``
    (per-epoch mean losses), ``epochs_trained_``, ``grids_`` (``[(epoch, uint8 (H, W, C))]``).
    """

    modality: ClassVar[str] = "image"
    #: what the model's training items are called, plural, in its error messages
    modality_unit: ClassVar[str] = "images"
    conditional_models: ClassVar[str] = "cgan or cvae"
    _fitted_attr: ClassVar[str] = "image_shape_"
    _training_only: ClassVar[tuple[str, ...]] = ("epochs", "verbose", "grid_every")

    batch_size = TorchTraining.batch_size.but(default=64, doc="images per step")
    width = Hyper(
        32,
        Integer(ge=1, le=4096),
        "channels of the first layer of the image-reading network and the last "
        "of the image-drawing one; the others double/halve from it",
    )
    grid_every = Hyper(5, Integer(ge=0, le=100_000), "draw a sample grid every N epochs (0: never)")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        images: ImageSet,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> ImageSynthesizer:
        """Learn the distribution of ``images`` (pixels of each class, for conditional models), with the
        training options of :class:`~simulacra.synthesizers.training.Trainer`.

        Raises
        ------
        DataError
            Not an ImageSet, no images, or (conditional models) no labels.
        ConfigError
            Bad hyper-parameters, or a checkpoint of other data or hyper-parameters.
        """
        self._validate_params()
        if not isinstance(images, ImageSet):
            raise DataError(f"{self.name} fits an ImageSet (images), got {type(images).__name__}")
        pixels = torch.from_numpy(images.images).float().div_(255.0)
        return self._fit_pixels(
            pixels,
            images.labels,
            images.class_names,
            images.images,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume=resume,
            on_epoch=on_epoch,
        )

    def _fit_pixels(
        self,
        pixels: torch.Tensor,
        labels: np.ndarray | None,
        class_names: list[str],
        data: np.ndarray,
        *,
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int,
        resume: bool,
        on_epoch: Callable[[int, dict[str, float]], None] | None,
    ) -> ImageSynthesizer:
        """Train on ``pixels`` float32 ``(N, C, H, W)`` in [0, 1] with ``labels`` ``(N,)`` (or
        ``None``) naming ``class_names``; ``data`` is what ties checkpoints to the training set.
        Every model drawing images of some kind (pictures, spectrograms) trains here.

        Raises
        ------
        DataError
            No items, (conditional models) no labels, or sides the networks cannot draw.
        """
        unit = self.modality_unit
        if len(pixels) == 0:
            raise DataError(f"cannot fit on an empty set; give at least one of the {unit}")
        if self.conditional and labels is None:
            raise DataError(
                f"{self.name} is class-conditional and these {unit} have no labels; "
                f"give labelled {unit} (class folders), or use an unconditional model"
            )
        h, w = pixels.shape[2:]
        if stages(h, w)[0] == 0:
            raise DataError(
                f"images of {h}×{w} pixels: {self.name} needs even sides of at least 8 (e.g. 28×28, "
                "32×32, 64×64); resize them first"
            )
        self.device_ = resolve_device(self.device)
        self.image_shape_ = tuple(int(v) for v in pixels.shape[1:])
        labelled = labels is not None
        self.class_names_ = list(class_names) if labelled else []
        self.class_counts_ = (
            np.bincount(labels, minlength=len(self.class_names_)).tolist() if labelled else []
        )
        x = pixels.to(self.device_)
        y = torch.from_numpy(labels).to(self.device_) if self.conditional else None
        self.grids_: list[tuple[int, np.ndarray]] = []
        self._fit_trainer = self._trainer(checkpoint_dir, checkpoint_every, resume, on_epoch)
        self._x, self._y = x, y  # the training data, for _train_epoch; released after training
        try:
            with self._seeded(self.seed):
                self._build(x, y)
                self._grid_z, self._grid_y = self._grid_inputs()
                self._fit_trainer.fit(self, data)
                self._after_training()
                self._ready_to_draw()
        finally:
            del self._fit_trainer, self._x, self._y
            self.__dict__.pop("_grid_z", None)
            self.__dict__.pop("_grid_y", None)
        return self

    def _grid_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Fixed noise for the training grids, from its own generator (training draws stay unchanged)."""
        rows = len(self.class_names_) if self.conditional else GRID_COLUMNS
        g = torch.Generator(device="cpu").manual_seed(int(self.seed) + 1)
        z = torch.randn((rows * GRID_COLUMNS, *self._latent_shape()), generator=g).to(self.device_)
        y = torch.arange(rows).repeat_interleave(GRID_COLUMNS).to(self.device_) if self.conditional else None
        return z, y

    def _end_of_epoch(self, epoch: int) -> None:
        every = int(self.grid_every)
        if every > 0 and ((epoch + 1) % every == 0 or epoch + 1 == int(self.epochs)):
            self._ready_to_draw()
            with torch.inference_mode():
                for m in self._modules().values():
                    m.eval()
                pixels = self._generate(self._grid_z, self._grid_y)
                for m in self._modules().values():
                    m.train()
            self.grids_.append((epoch + 1, make_grid(to_uint8(pixels), GRID_COLUMNS)))

    def _ready_to_draw(self) -> None:
        """Called before the networks draw during training (the grids) and once training ends: what a
        model must update in its drawing networks first (nothing by default)."""

    def _after_training(self) -> None:
        """Called once training ends, with the training data still in ``self._x``/``self._y``: what a
        model learns from its trained networks (nothing by default)."""

    def _latent_shape(self) -> tuple[int, ...]:
        """The shape of one item's noise ``z`` that :meth:`_generate` reads: ``(latent_dim,)`` for the
        GANs and VAEs; a diffusion model's starting noise has the image's shape."""
        return (int(self.latent_dim),)

    @abstractmethod
    def _build(self, x: torch.Tensor, y: torch.Tensor | None) -> None: ...

    @abstractmethod
    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor: ...

    def _batches(self, n: int) -> list[torch.Tensor]:
        """A fresh permutation of ``range(n)`` cut into training batches (the last one dropped when short,
        unless it is the only one: batch norm needs equal-sized batches to be stable)."""
        order = torch.randperm(n, device=self.device_)
        size = int(self.batch_size)
        batches = list(order.split(size))
        if len(batches) > 1 and len(batches[-1]) < size:
            batches.pop()
        return batches

    # ------------------------------------------------------------------ sample
    supports_temperature = True  # sample(temperature=τ): the GANs' noise and the VAEs' latent z ~ N(0, τ²I)

    def sample(
        self,
        n: int,
        *,
        conditions: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
    ) -> ImageSet:
        """Generate ``n`` images, uint8 ``(n, C, H, W)``; the same ``seed`` gives the same images.
        ``temperature`` (0 < τ ≤ 10) scales the noise (GANs) or latent (VAEs): below 1 the images are
        more typical and less varied (precision up, recall down).

        Conditional models label every image: ``conditions={"label": 7}`` (a class index or class name)
        gives only that class; without conditions the classes are balanced (``n // K`` each, the
        remainder to the first classes) in a seeded random order. Unconditional models return no labels.

        Raises
        ------
        NotFittedError, ConfigError (``n`` not an integer in [0, MAX_ROWS], or more images than fit in
        memory), ConditionError (an unconditional model, a column other
        than ``label``, or an unknown class).
        """
        self._check_fitted()
        n, seed = self._check_sample_args(n, seed)
        images, labels = self._draw(n, conditions, seed, temperature, to_uint8, np.uint8)
        return ImageSet(images, labels, list(self.class_names_) if labels is not None else [])

    def _draw(
        self,
        n: int,
        conditions: dict[str, Any] | None,
        seed: int | None,
        temperature: float,
        convert: Callable[[torch.Tensor], np.ndarray],
        dtype: type,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``n`` generated items ``(n, C, H, W)`` of ``dtype`` (each block of pixels in [0, 1]
        through ``convert``) and their labels (``None`` for unconditional models), under the rules of
        :meth:`sample`."""
        temperature = self._check_temperature(temperature)
        rng = np.random.default_rng(np.random.SeedSequence(seed).generate_state(1)[0])
        labels = self._sample_labels(n, dict(conditions or {}), rng)
        seed = int(rng.integers(2**62)) if seed is None else int(seed)
        out = np.empty((n, *self.image_shape_), dtype=dtype)
        with self._seeded(seed), torch.inference_mode():
            for m in self._modules().values():
                m.eval()
            for start in range(0, n, 1000):
                stop = min(n, start + 1000)
                z = torch.randn((stop - start, *self._latent_shape()), device=self.device_) * temperature
                y = torch.from_numpy(labels[start:stop]).to(self.device_) if labels is not None else None
                out[start:stop] = convert(self._generate(z, y))
        return out, labels

    def _bytes_per_row(self) -> float:
        c, h, w = self.image_shape_
        return c * h * w * 9.0  # uint8 output, plus float32 pixels of the 1,000-image generation blocks

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "image_shape": list(self.image_shape_),
            "class_names": self.class_names_,
            "class_counts": self.class_counts_,
            "history": self.history_,
            "epochs_trained": self.epochs_trained_,
        }
        return state, {}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.device_ = resolve_device(self.device)
        self.image_shape_ = tuple(int(v) for v in state["image_shape"])
        self.class_names_ = list(state["class_names"])
        self.class_counts_ = list(state["class_counts"])
        self.history_ = state["history"]
        self.epochs_trained_ = state["epochs_trained"]
        self.grids_ = []
        x = torch.zeros((1, *self.image_shape_), device=self.device_)
        y = torch.zeros(1, dtype=torch.long, device=self.device_) if self.conditional else None
        self._build(x, y)

    def _save_extra(self, directory: Path) -> None:
        super()._save_extra(directory)
        if getattr(self, "grids_", None):
            (directory / "samples").mkdir()
            for epoch, grid in self.grids_:
                (directory / "samples" / f"epoch_{epoch:03d}.png").write_bytes(png_bytes(grid, scale=2))

    def _load_extra(self, directory: Path) -> None:
        super()._load_extra(directory)
        from PIL import Image

        for png in sorted((directory / "samples").glob("epoch_*.png")):
            with Image.open(png) as im:
                grid = np.asarray(im)
            grid = grid[::2, ::2]
            self.grids_.append((int(png.stem.split("_")[1]), grid[:, :, None] if grid.ndim == 2 else grid))


def to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """Pixels in [0, 1] ``(B, C, H, W)`` → uint8 numpy."""
    return pixels.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).cpu().numpy()
