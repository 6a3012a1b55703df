"""The audio metrics' classifier, trained here on the real recordings (issue 32; no downloaded weights).

As for images (:mod:`simulacra.evaluate.image`), the audio metrics will rest on one small network
trained on the real training recordings: TSTR against TRTR on held-out speakers, the label agreement of
a conditional model's samples, and a local Fréchet audio distance on its features. This module holds
that network and its training.

References
----------
* K. Kilgour, M. Zuluaga, D. Roblek, M. Sharifi, "Fréchet Audio Distance", Interspeech 2019 (the
  distance on a classifier's embeddings; here on this locally trained one, not VGGish).
* C. Esteban, S. Hyland, G. Rätsch, "Real-valued (Medical) Time Series Generation with Recurrent
  Conditional GANs", 2017 (TSTR/TRTR).
* T. Sainath, C. Parada, "Convolutional Neural Networks for Small-footprint Keyword Spotting",
  Interspeech 2015 (small CNNs on log-mel features for spoken words).

Method
------
::

    S = LogMel(x)                          # (B, n_mels = 40, frames), 32 ms Hann window, 8 ms hop
    S = (S − μ_band) / σ_band              # per-band moments of the training recordings
    h = [Conv3×3 → BatchNorm → ReLU → MaxPool2] × 2 (32, 64 channels) → Conv3×3 (64) → ReLU
    e = Linear(64 · N_MELS/4 → 128)(mean over time of h), ReLU     # (B, 128): the features
    logits = Linear(128 → K)(Dropout(0.25)(e))

Adam 1e-3, cross-entropy, batches of 64, 30 epochs, seeded.

Where this differs from the papers: Sainath & Parada's networks are sized for 16 kHz keyword spotting
and trained for far longer; this one is sized to train in seconds on two CPU cores, and pools over
time, keeping the bands.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simulacra.errors import DataError
from simulacra.evaluate.image import _batched
from simulacra.io import AudioSet
from simulacra.transform.audio import LogMel

#: the classifier's recipe, declared once
N_MELS, FEATURES, EPOCHS, BATCH, LEARNING_RATE, WINDOW_SECONDS = 40, 128, 30, 64, 1e-3, 0.032


def log_mel_for(sample_rate: int) -> LogMel:
    """The classifier's front end at ``sample_rate``: a Hann window of about 32 ms (a power of two
    of samples), a hop of a quarter window, :data:`N_MELS` bands."""
    n_fft = 1 << max(4, round(np.log2(WINDOW_SECONDS * sample_rate)))
    return LogMel(sample_rate, n_fft=n_fft, n_mels=N_MELS)


class AudioClassifier(nn.Module):
    """A small CNN on log-mel spectrograms: waveforms ``(B, T)`` float32 → class logits ``(B, K)``;
    :meth:`features` gives the 128-d embeddings ``(B, 128)``.

    Parameters
    ----------
    sample_rate : int
        Hz, of every waveform it reads.
    class_names : list of str
        The K classes, in the order of the logits.
    mean, std : ndarray, shape (N_MELS,)
        Per-band moments of the training recordings' log-mel spectrograms.
    """

    def __init__(self, sample_rate: int, class_names: list[str], mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.sample_rate, self.class_names = int(sample_rate), list(class_names)
        self.n_classes = len(self.class_names)
        self.front = log_mel_for(sample_rate)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32)[:, None])
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32)[:, None])
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
        )
        self.embed = nn.Sequential(nn.Linear(64 * (N_MELS // 4), FEATURES), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(FEATURES, max(self.n_classes, 1)))

    def spectrograms(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``(B, 1, N_MELS, frames)``: the normalised log-mel spectrograms of ``(B, T)`` waveforms."""
        return ((self.front(waveforms) - self.mean) / self.std)[:, None]

    def features(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``(B, 128)`` embeddings."""
        h = self.body(self.spectrograms(waveforms))  # (B, 64, N_MELS / 4, frames / 4)
        return self.embed(h.mean(dim=3).flatten(1))  # pooled over time; the bands kept

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(waveforms))


def train_classifier(
    audio: AudioSet, *, epochs: int = EPOCHS, seed: int = 0, batch_size: int = BATCH
) -> AudioClassifier:
    """An :class:`AudioClassifier` trained on labelled ``audio``; returned in eval mode. The same
    seed gives the same weights; the caller's RNG is untouched.

    Raises
    ------
    DataError
        The recordings have no labels.
    """
    if audio.labels is None:
        raise DataError("a classifier needs labelled recordings; give an AudioSet with labels")
    x = torch.from_numpy(audio.waveforms)
    y = torch.from_numpy(audio.labels)
    with torch.no_grad():
        spec = log_mel_for(audio.sample_rate)(x)  # (N, N_MELS, frames)
        mean, std = spec.mean(dim=(0, 2)).numpy(), spec.std(dim=(0, 2)).clamp_min(1e-3).numpy()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = AudioClassifier(audio.sample_rate, audio.class_names, mean, std)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        model.train()
        for _ in range(int(epochs)):
            for index in torch.randperm(len(x)).split(int(batch_size)):
                if len(index) < 2:  # batch norm needs two recordings
                    continue
                loss = F.cross_entropy(model(x[index]), y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return model.eval()


def predict(model: AudioClassifier, audio: AudioSet) -> np.ndarray:
    """``(N,)`` int64: the predicted class index of each recording.

    Raises
    ------
    DataError
        Recordings at another sample rate than the classifier's.
    """
    _check_rate(model, audio)
    return _batched(lambda x: model(x).argmax(1), audio.waveforms, np.zeros(0, np.int64), 512)


def features(model: AudioClassifier, audio: AudioSet) -> np.ndarray:
    """``(N, 128)`` float32 embeddings of the recordings (the local Fréchet audio distance's space).

    Raises
    ------
    DataError
        Recordings at another sample rate than the classifier's.
    """
    _check_rate(model, audio)
    return _batched(model.features, audio.waveforms, np.zeros((0, FEATURES), np.float32), 512)


def accuracy(model: AudioClassifier, audio: AudioSet) -> float:
    """Share of labelled ``audio`` the classifier gets right, with the classes matched by name.

    Raises
    ------
    DataError
        Unlabelled recordings, or another sample rate.
    """
    if audio.labels is None:
        raise DataError("accuracy needs labelled recordings")
    names = np.array(audio.class_names, dtype=object)[audio.labels]
    predicted = np.array(model.class_names, dtype=object)[predict(model, audio)]
    return float(np.mean(predicted == names)) if len(audio) else 0.0


def tstr(
    real_train: AudioSet, synthetic: AudioSet, real_test: AudioSet, *, seed: int = 0
) -> dict[str, float]:
    """Train on synthetic, test on real (TSTR), against train on real, test on real (TRTR): the
    accuracy on ``real_test`` (held-out speakers) of a classifier trained on each, same recipe and seed.

    Raises
    ------
    DataError
        Any of the three is unlabelled, or their sample rates differ.
    """
    rates = {real_train.sample_rate, synthetic.sample_rate, real_test.sample_rate}
    if len(rates) > 1:
        raise DataError(f"the recordings have sample rates {sorted(rates)} Hz; resample them to one rate")
    scores = {}
    for name, train in (("tstr_accuracy", synthetic), ("trtr_accuracy", real_train)):
        scores[name] = accuracy(train_classifier(train, seed=seed), real_test)
    return scores


def _check_rate(model: AudioClassifier, audio: AudioSet) -> None:
    if audio.sample_rate != model.sample_rate:
        raise DataError(
            f"recordings at {audio.sample_rate} Hz for a classifier of {model.sample_rate} Hz; read them at one rate"
        )
