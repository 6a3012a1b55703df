"""Log-mel spectrograms of waveforms, and waveforms back from them (Griffin–Lim phase recovery).

The representation the audio generators will work in (issue 32): a SpecGAN-style model generates
log-mel spectrograms, and the waveform is recovered from them here, with no vocoder to download.

References
----------
* C. Donahue, J. McAuley, M. Puckette, "Adversarial Audio Synthesis", ICLR 2019 (SpecGAN: generate
  log-magnitude spectrograms, invert with Griffin–Lim).
* D. Griffin, J. Lim, "Signal Estimation from Modified Short-Time Fourier Transform", IEEE TASSP 1984.
* N. Perraudin, P. Balazs, P. Søndergaard, "A Fast Griffin–Lim Algorithm", WASPAA 2013 (the momentum
  step, α = 0.99).
* The mel scale and its triangular filters with area normalisation: as librosa's ``filters.mel``
  with ``htk=True, norm="slaney"``; S. Stevens, J. Volkmann, E. Newman 1937 for the scale.

Method
------
::

    X = STFT(x)                       # (N, F, frames) complex, Hann window, F = n_fft/2 + 1
    M = B |X|                         # (N, n_mels, frames); B (n_mels, F) triangular mel filters
    S = log(M + ε)                    # the log-mel spectrogram

    inversion:  |X̂| = max(B⁺ exp(S) − ε, 0)     # B⁺ the pseudo-inverse, clipped at zero
                x̂ = fast Griffin–Lim(|X̂|)       # 32 iterations, momentum 0.99, zero initial phase

Where this differs from the sources: SpecGAN normalises each frequency bin by the training set's
moments; that belongs to the model, which sees the training set, not to this transform. The mel
inversion is the least-squares one (as librosa's ``mel_to_stft`` before its NNLS refinement).
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: floor inside the logarithm (a silent bin's log-magnitude is log ε)
EPS = 1e-5


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale: ``2595 · log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` float32 triangular filters, equally spaced on the mel scale
    between ``fmin`` and ``fmax`` (default the Nyquist frequency) Hz, each scaled to unit area
    (``2 / (f_{m+1} − f_{m−1})``).

    Raises
    ------
    ValueError
        ``n_mels`` < 1, or ``fmin`` ≥ ``fmax`` or ``fmax`` beyond the Nyquist frequency.
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    if n_mels < 1 or not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"mel filters: need n_mels ≥ 1 and 0 ≤ fmin < fmax ≤ {sample_rate / 2:g} Hz")
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (upper - lower))
    return weights.astype(np.float32)


def top_db_floor(log_mel: torch.Tensor, top_db: float = 80.0) -> torch.Tensor:
    """``log_mel`` ``(N, n_mels, frames)`` with every bin raised to at least ``top_db`` dB below its
    recording's loudest bin (librosa's ``amplitude_to_db(top_db=80)`` convention): digital silence,
    padding and a vocoder's faint noise all sit on the same floor."""
    floor = log_mel.amax(dim=(1, 2), keepdim=True) - top_db / 20.0 * math.log(10.0)
    return torch.maximum(log_mel, floor)


class LogMel:
    """Waveforms ``(N, T)`` ↔ log-mel spectrograms ``(N, n_mels, frames)``.

    Parameters
    ----------
    sample_rate : int
        Hz.
    n_fft : int
        STFT window length in samples (a Hann window); default 256 (32 ms at 8 kHz).
    hop : int
        Samples between frames; default ``n_fft // 4``.
    n_mels : int
        Mel bands; default 64.
    """

    def __init__(self, sample_rate: int, n_fft: int = 256, hop: int | None = None, n_mels: int = 64) -> None:
        self.sample_rate, self.n_fft, self.hop, self.n_mels = sample_rate, n_fft, hop or n_fft // 4, n_mels
        self.window = torch.hann_window(n_fft)
        self.filters = torch.as_tensor(mel_filterbank(sample_rate, n_fft, n_mels))  # (n_mels, F)
        self.inverse = torch.linalg.pinv(self.filters)  # (F, n_mels)

    def frames(self, samples: int) -> int:
        """Frames of a waveform of ``samples`` samples (centred frames, as ``torch.stft``)."""
        return samples // self.hop + 1

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, self.n_fft, self.hop, window=self.window, center=True, return_complex=True)

    def __call__(self, waveforms: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``(N, n_mels, frames)`` float32 log-mel spectrograms of ``(N, T)`` waveforms."""
        x = torch.as_tensor(
            np.asarray(waveforms, np.float32) if isinstance(waveforms, np.ndarray) else waveforms
        )
        magnitude = self._stft(x).abs()  # (N, F, frames)
        return torch.log(self.filters @ magnitude + EPS)

    def invert(
        self, log_mel: torch.Tensor, samples: int, *, iterations: int = 32, momentum: float = 0.99
    ) -> np.ndarray:
        """``(N, samples)`` float32 waveforms whose log-mel spectrograms approach ``log_mel``
        ``(N, n_mels, frames)``: the magnitudes by the filters' pseudo-inverse, the phase by fast
        Griffin–Lim (deterministic: it starts from zero phase)."""
        with torch.no_grad():
            target = (self.inverse @ (torch.exp(log_mel) - EPS)).clamp_min(0.0)  # (N, F, frames)
            phase = torch.ones_like(target, dtype=torch.complex64)
            previous = torch.zeros_like(phase)
            for _ in range(iterations):
                x = torch.istft(
                    target * phase, self.n_fft, self.hop, window=self.window, center=True, length=samples
                )
                rebuilt = self._stft(x)
                accelerated = rebuilt + momentum * (rebuilt - previous)
                previous = rebuilt
                phase = accelerated / accelerated.abs().clamp_min(1e-12)
            x = torch.istft(
                target * phase, self.n_fft, self.hop, window=self.window, center=True, length=samples
            )
        return x.clamp(-1.0, 1.0).numpy().astype(np.float32)


def spectral_convergence(reference: np.ndarray, estimate: np.ndarray, n_fft: int = 256) -> float:
    """``‖|X| − |X̂|‖_F / ‖|X|‖_F`` of two waveforms' STFT magnitudes (Sturmel & Daudet 2011): 0 for
    the same magnitudes, about 1 for unrelated ones."""
    window = torch.hann_window(n_fft)

    def magnitude(x: np.ndarray) -> torch.Tensor:
        tensor = torch.as_tensor(np.asarray(x, np.float32))
        return torch.stft(tensor, n_fft, n_fft // 4, window=window, return_complex=True).abs()

    a, b = magnitude(reference), magnitude(estimate)
    return float(torch.linalg.norm(a - b) / max(float(torch.linalg.norm(a)), math.ulp(1.0)))
