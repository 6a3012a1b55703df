"""Audio synthesizers that draw log-mel spectrograms and recover the waveform: ``specgan`` and ``specvae``.

References
----------
* C. Donahue, J. McAuley, M. Puckette, "Adversarial Audio Synthesis", ICLR 2019 (SpecGAN: a DCGAN on
  log-magnitude spectrograms normalised per frequency bin by the training set's moments and clipped
  at 3 standard deviations, waveforms back by Griffin–Lim).
* A. Radford, L. Metz, S. Chintala, "Unsupervised Representation Learning with Deep Convolutional
  GANs", 2015, with M. Mirza & S. Osindero 2014 and T. Miyato & M. Koyama 2018 for the class
  conditioning (:mod:`simulacra.synthesizers.image.gan`, whose networks and training are used as they are).
* K. Sohn, H. Lee, X. Yan, "Learning Structured Output Representation using Deep Conditional
  Generative Models", NeurIPS 2015 (the conditional VAE, :mod:`simulacra.synthesizers.image.vae`).
* I. Higgins, L. Matthey, A. Pal et al., "β-VAE: Learning Basic Visual Concepts with a Constrained
  Variational Framework", ICLR 2017 (the KL term weighted by β; ``specvae``'s β = 2).
* D. Griffin, J. Lim 1984; N. Perraudin et al. 2013 (fast Griffin–Lim, :mod:`simulacra.transform.audio`).

Method
------
::

    x                       # (N, T) waveforms at the set's rate
    S = LogMel(x)           # (N, n_mels, frames); Hann window ≈ 32 ms, hop a quarter of it
    S = max(S, max_recording(S) − 80 dB)          # a floor: digital silence and padding sit on it
    Z = clip((S − μ_band) / σ_band, −3, 3)        # μ, σ: (n_mels,) moments of the training spectrograms
    P = (Z / 3 + 1) / 2     # pixels in [0, 1], padded at the high bands and the end in time with 0
                            # to (1, 16·⌈n_mels/16⌉, 16·⌈frames/16⌉): four ×2 stages of the image networks
    fit an image model on P with the labels       # cgan (specgan) or cvae (specvae)

    sampling: P̂ = model(z, y) → crop → Ŝ = (6 P̂ − 3) σ_band + μ_band → x̂ = Griffin–Lim(Ŝ)

Where this differs from the paper: SpecGAN draws 128×128 linear-frequency spectrograms of 16 kHz audio
and uses the WGAN-GP loss with five critic steps per generator step; here the spectrogram is log-mel
(fewer, perceptually spaced bands, so the networks are smaller), sized by the recordings rather than
fixed, and the networks, loss and conditioning are the image cgan's (non-saturating loss, projection
discriminator with spectral norm), which train in minutes on two CPU cores, with an auxiliary
classifier loss (AC-GAN, Odena et al. 2017: ``class_weight``) that draws recognisable digits in fewer
steps. The conditional VAE of the same pixels is the second family (likelihood-based instead of
adversarial); it draws each class's latent code from the Gaussian of that class's training encodings
(``prior="fitted"``, :mod:`simulacra.synthesizers.image.vae`) rather than from ``N(0, I)``, and
weights its KL term by β = 2 rather than the ELBO's 1 (on the shared FSDD, three seeds: higher TSTR,
lower recall; docs/audio.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from simulacra.errors import DataError
from simulacra.io import AudioSet
from simulacra.synthesizers.base import register
from simulacra.synthesizers.hyper import Hyper
from simulacra.synthesizers.image.gan import EMA_DOC, ConditionalGAN
from simulacra.synthesizers.image.vae import ConditionalVAE
from simulacra.transform.audio import LogMel, top_db_floor
from simulacra.validation import Integer

#: the spectrogram's analysis window (seconds), as the metrics' classifier's
WINDOW_SECONDS = 0.032
#: the spectrogram's sides are padded to a multiple of this: four ×2 stages of the image networks
SIDE_MULTIPLE = 16
#: normalised log-magnitudes are clipped at this many standard deviations (SpecGAN's 3)
CLIP_SIGMAS = 3.0
#: recordings inverted per Griffin–Lim block (bounds the memory of sampling)
INVERT_BLOCK = 256


def window_for(sample_rate: int) -> int:
    """The STFT window in samples at ``sample_rate``: the power of two nearest :data:`WINDOW_SECONDS`."""
    return 1 << max(4, round(math.log2(WINDOW_SECONDS * sample_rate)))


class SpectrogramModel:
    """What the spectrogram models add to an image model: ``fit`` takes an
    :class:`~simulacra.io.AudioSet` and trains the image model on its normalised log-mel spectrograms;
    ``sample`` returns an AudioSet, the waveforms recovered by Griffin–Lim.

    Learned attributes: ``sample_rate_`` (Hz), ``samples_`` (per recording), ``frames_`` and
    ``band_mean_``/``band_std_`` ``(n_mels,)`` (the normalisation), besides the image model's.
    """

    modality: ClassVar[str] = "audio"
    modality_unit: ClassVar[str] = "recordings"
    conditional_models: ClassVar[str] = "specgan or specvae"
    _fitted_attr: ClassVar[str] = "sample_rate_"

    n_mels = Hyper(64, Integer(ge=8, le=256), "mel bands of the spectrograms the model draws")
    griffin_lim_iterations = Hyper(
        32, Integer(ge=1, le=1000), "fast Griffin–Lim iterations recovering the phase when sampling"
    )

    def _front(self) -> LogMel:
        return LogMel(self.sample_rate_, n_fft=window_for(self.sample_rate_), n_mels=int(self.n_mels))

    def fit(
        self,
        audio: AudioSet,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> Any:
        """Learn the log-mel spectrograms of ``audio``'s recordings of each class, with the training
        options of :class:`~simulacra.synthesizers.training.Trainer`.

        Raises
        ------
        DataError
            Not an AudioSet, no recordings, or no labels.
        ConfigError
            Bad hyper-parameters, or a checkpoint of other data or hyper-parameters.
        """
        self._validate_params()
        if not isinstance(audio, AudioSet):
            raise DataError(f"{self.name} fits an AudioSet (recordings), got {type(audio).__name__}")
        if len(audio) == 0:
            raise DataError("cannot fit on an empty set; give at least one recording")
        self.sample_rate_, self.samples_ = audio.sample_rate, int(audio.waveforms.shape[1])
        front = self._front()
        with torch.no_grad():
            spec = torch.cat([front(block) for block in torch.from_numpy(audio.waveforms).split(512)])
        self.frames_ = int(spec.shape[2])  # spec: (N, n_mels, frames)
        spec = top_db_floor(spec)
        self.band_mean_ = spec.mean(dim=(0, 2)).numpy()
        self.band_std_ = spec.std(dim=(0, 2)).clamp_min(1e-3).numpy()
        return self._fit_pixels(
            self._to_pixels(spec),
            audio.labels,
            audio.class_names,
            audio.waveforms,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume=resume,
            on_epoch=on_epoch,
        )

    def _moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(self.band_mean_)[:, None], torch.as_tensor(self.band_std_)[:, None]

    def _to_pixels(self, spec: torch.Tensor) -> torch.Tensor:
        """``(N, n_mels, frames)`` log-mel → ``(N, 1, H, W)`` pixels in [0, 1], padded with 0."""
        mean, std = self._moments()
        z = ((top_db_floor(spec) - mean) / std).clamp(-CLIP_SIGMAS, CLIP_SIGMAS)
        pixels = (z / CLIP_SIGMAS + 1.0) / 2.0
        h, w = (SIDE_MULTIPLE * math.ceil(v / SIDE_MULTIPLE) for v in spec.shape[1:])
        return F.pad(pixels, (0, w - spec.shape[2], 0, h - spec.shape[1]))[:, None].contiguous()

    def _to_spectrograms(self, pixels: np.ndarray) -> torch.Tensor:
        """``(N, 1, H, W)`` pixels in [0, 1] → ``(N, n_mels, frames)`` log-mel (the inverse of
        :meth:`_to_pixels`, cropped)."""
        mean, std = self._moments()
        p = torch.from_numpy(pixels[:, 0, : int(self.n_mels), : self.frames_])
        return (p * 2.0 - 1.0) * CLIP_SIGMAS * std + mean

    supports_temperature = True

    def sample(
        self,
        n: int,
        *,
        conditions: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
    ) -> AudioSet:
        """Generate ``n`` recordings, an :class:`~simulacra.io.AudioSet` of float32 ``(n, T)`` at the
        training rate and duration, every one labelled: ``conditions={"label": "7"}`` (a class name
        or index) gives one class, else the classes are balanced (``n // K`` each, the remainder to
        the first classes) in a seeded random order. The same ``seed`` gives the same recordings;
        ``temperature`` (0 < τ ≤ 10) scales the latent noise.

        Raises
        ------
        NotFittedError, ConfigError (``n`` not an integer in [0, MAX_ROWS], or more recordings than
        fit in memory), ConditionError (a column other than ``label``, or an unknown class).
        """
        self._check_fitted()
        n, seed = self._check_sample_args(n, seed)
        pixels, labels = self._draw(
            n, conditions, seed, temperature, lambda t: t.float().cpu().numpy(), np.float32
        )
        return AudioSet(self._invert(pixels), self.sample_rate_, labels, list(self.class_names_))

    def _invert(self, pixels: np.ndarray) -> np.ndarray:
        """``(N, 1, H, W)`` pixels → ``(N, samples_)`` float32 waveforms by Griffin–Lim, in blocks of
        :data:`INVERT_BLOCK`."""
        front, iterations = self._front(), int(self.griffin_lim_iterations)
        waves = np.empty((len(pixels), self.samples_), np.float32)
        with torch.inference_mode():
            for start in range(0, len(pixels), INVERT_BLOCK):
                spec = self._to_spectrograms(pixels[start : start + INVERT_BLOCK])
                waves[start : start + INVERT_BLOCK] = front.invert(spec, self.samples_, iterations=iterations)
        return waves

    def draws_like(self, audio: AudioSet) -> bool:
        """Whether ``audio`` has the rate and duration of the recordings the model draws."""
        return (audio.sample_rate, audio.waveforms.shape[1]) == (self.sample_rate_, self.samples_)

    def resynthesize(self, audio: AudioSet) -> AudioSet:
        """``audio``'s recordings through the model's representation and back, with no generator: the
        log-mel spectrogram, normalised and clipped as in training, then the waveform by Griffin–Lim
        (``griffin_lim_iterations``). Its intelligibility (STOI) against the originals is the ceiling
        of what the model can draw. Returns an AudioSet ``(N, T)`` float32 with ``audio``'s labels.

        Raises
        ------
        NotFittedError; DataError (recordings of another rate or duration than the training ones).
        """
        self._check_fitted()
        if not self.draws_like(audio):
            raise DataError(
                f"recordings of {audio.duration:g} s at {audio.sample_rate} Hz; the model draws "
                f"{self.samples_ / self.sample_rate_:g} s at {self.sample_rate_} Hz; read them at that rate and duration"
            )
        with torch.inference_mode():
            spec = torch.cat(
                [self._front()(b) for b in torch.from_numpy(audio.waveforms).split(INVERT_BLOCK)]
            )
        waves = self._invert(self._to_pixels(spec).numpy())
        return AudioSet(waves, self.sample_rate_, audio.labels, list(audio.class_names), groups=audio.groups)

    def _bytes_per_row(self) -> float:
        c, h, w = self.image_shape_
        return c * h * w * 8.0 + self.samples_ * 4.0  # float32 pixels (kept until inverted) and waveforms

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = super()._get_state()
        state |= {"sample_rate": self.sample_rate_, "samples": self.samples_, "frames": self.frames_}
        return state, arrays | {"band_mean": self.band_mean_, "band_std": self.band_std_}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.sample_rate_, self.samples_ = int(state["sample_rate"]), int(state["samples"])
        self.frames_ = int(state["frames"])
        self.band_mean_ = np.asarray(arrays["band_mean"], np.float32)
        self.band_std_ = np.asarray(arrays["band_std"], np.float32)
        super()._set_state(state, arrays)


@register
class SpecGAN(SpectrogramModel, ConditionalGAN):
    """Class-conditional SpecGAN (Donahue et al. 2019) on log-mel spectrograms, waveforms by
    Griffin–Lim; the networks and training of :class:`~simulacra.synthesizers.image.gan.ConditionalGAN`.
    See the module docstring."""

    name = "specgan"
    conditional: ClassVar[bool] = True
    epochs = ConditionalGAN.epochs.but(default=60, doc="passes over the shuffled recordings")
    class_weight = ConditionalGAN.class_weight.but(
        default=1.0,
        doc=ConditionalGAN.class_weight.doc
        + "; on the shared FSDD (lucas held out, seed 0) it raised the label agreement at 20 epochs "
        "from 0.16 to 0.42 and at 60 from 0.28 to 0.47 (the metrics' classifier before its cepstral mean "
        "normalisation)",
    )
    ema = ConditionalGAN.ema.but(
        default=None,
        doc=EMA_DOC + ". Off for specgan: not measured on spectrograms yet",
    )
    saved_defaults: ClassVar[dict[str, Any]] = ConditionalGAN.saved_defaults | {
        "class_weight": 0.0
    }  # saved before it had the options


@register
class SpecVAE(SpectrogramModel, ConditionalVAE):
    """Class-conditional VAE (Sohn et al. 2015) on the same log-mel spectrograms as :class:`SpecGAN`,
    waveforms by Griffin–Lim; the networks and loss of
    :class:`~simulacra.synthesizers.image.vae.ConditionalVAE`. See the module docstring."""

    name = "specvae"
    conditional: ClassVar[bool] = True
    epochs = ConditionalVAE.epochs.but(
        default=50,
        doc="passes over the shuffled recordings (on the shared FSDD, three seeds, 50 rather than 30 "
        "raised TSTR at every seed and label agreement on the mean, and brought the draws nearer "
        "their nearest training recordings, docs/audio.md)",
    )
    prior = ConditionalVAE.prior.but(default="fitted")
    beta = ConditionalVAE.beta.but(
        default=2.0,
        doc="weight of the KL term (1: the ELBO; 2, a β-VAE (Higgins et al. 2017): on the shared FSDD "
        "its draws trained a better classifier and covered fewer of the real recordings, docs/audio.md)",
    )
    saved_defaults: ClassVar[dict[str, Any]] = {"prior": "standard"}  # saved before it had the option
