"""Audio augmentation: gain, time shift, noise at a signal-to-noise ratio, speed and pitch perturbation,
time stretch, SpecAugment's time and frequency masks, and mixing with another recording; seeded, each
step with a probability ``p``, labels (and speakers) kept.

References
----------
* I. Jordal et al., ``audiomentations`` (the maintained library behind ``gain``, ``shift``, ``noise``,
  ``pitch``, ``time_stretch`` and ``time_mask``).
* T. Ko, V. Peddinti, D. Povey, S. Khudanpur, "Audio Augmentation for Speech Recognition",
  Interspeech 2015 (speed perturbation: resampling, which moves tempo and pitch together).
* D. Park, W. Chan, Y. Zhang et al., "SpecAugment: A Simple Data Augmentation Method for Automatic
  Speech Recognition", Interspeech 2019 (time and frequency masking).

A pipeline is a list of steps applied in order to every recording; from YAML::

    steps:
      - {op: gain, min_db: -6, max_db: 6}
      - {op: noise, min_snr_db: 15, max_snr_db: 30, p: 0.5}
      - {op: frequency_mask, max_share: 0.15}

Operations (:data:`CONSTRAINTS`; each applies to a recording with probability ``p``, default 1; the
bracketed values are the defaults):

* ``gain`` [min_db −6, max_db 6] — the recording times a gain drawn uniformly in dB;
* ``shift`` [max_seconds 0.1] — moved in time by up to that much either way, silence filling in
  (no roll-over);
* ``noise`` [min_snr_db 10, max_snr_db 30] — Gaussian white noise at a drawn SNR;
* ``speed`` [min_rate 0.9, max_rate 1.1] — resampled (soxr) as if played ``rate`` times faster, tempo
  and pitch together, then padded or cut at the end to the duration;
* ``pitch`` [min_semitones −2, max_semitones 2] — pitch moved, duration kept;
* ``time_stretch`` [min_rate 0.9, max_rate 1.1] — tempo changed, pitch and duration kept;
* ``time_mask`` [max_share 0.1, masks 1] — ``masks`` spans of up to ``max_share`` of the duration
  silenced;
* ``frequency_mask`` [max_share 0.15, masks 1] — ``masks`` bands of up to ``max_share`` of the
  frequencies removed (zeroed in the short-time spectrum, 32 ms Hann windows, and resynthesised);
* ``mix`` [min_snr_db 5, max_snr_db 15] — another recording of the set, drawn at random, added
  underneath at a drawn SNR (a background voice); the label stays the recording's own.

Where this differs from the papers: SpecAugment masks the log-mel features a recogniser reads; here
the masks are applied to the waveform (a silenced span; a band removed from the STFT and resynthesised),
so the output is still audio any model or listener takes. Ko et al. perturb with three fixed rates
(0.9, 1.0, 1.1); here the rate is drawn in a range.
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import Any

import numpy as np

from simulacra.augment.steps import check_steps, read_steps
from simulacra.io.audio import AudioSet
from simulacra.validation import Integer, Param, Probability, Real

_P = {"p": Probability()}
_DB = Real(ge=-60, le=60)
_SNR = Real(ge=-20, le=100)
_RATE = Real(ge=0.5, le=2.0)
#: op name → the constraints of its parameters, checked when the pipeline is built
CONSTRAINTS: dict[str, dict[str, Param]] = {
    "gain": {**_P, "min_db": _DB, "max_db": _DB},
    "shift": {**_P, "max_seconds": Real(gt=0, le=60)},
    "noise": {**_P, "min_snr_db": _SNR, "max_snr_db": _SNR},
    "speed": {**_P, "min_rate": _RATE, "max_rate": _RATE},
    "pitch": {**_P, "min_semitones": Real(ge=-12, le=12), "max_semitones": Real(ge=-12, le=12)},
    "time_stretch": {**_P, "min_rate": _RATE, "max_rate": _RATE},
    "time_mask": {**_P, "max_share": Real(gt=0, lt=1), "masks": Integer(ge=1, le=20)},
    "frequency_mask": {**_P, "max_share": Real(gt=0, lt=1), "masks": Integer(ge=1, le=20)},
    "mix": {**_P, "min_snr_db": _SNR, "max_snr_db": _SNR},
}
#: each op's defaults
DEFAULTS: dict[str, dict[str, Any]] = {
    "gain": {"min_db": -6.0, "max_db": 6.0},
    "shift": {"max_seconds": 0.1},
    "noise": {"min_snr_db": 10.0, "max_snr_db": 30.0},
    "speed": {"min_rate": 0.9, "max_rate": 1.1},
    "pitch": {"min_semitones": -2.0, "max_semitones": 2.0},
    "time_stretch": {"min_rate": 0.9, "max_rate": 1.1},
    "time_mask": {"max_share": 0.1, "masks": 1},
    "frequency_mask": {"max_share": 0.15, "masks": 1},
    "mix": {"min_snr_db": 5.0, "max_snr_db": 15.0},
}
#: the ranges given as (low, high) parameter pairs, which must be in order
_RANGES = {
    "gain": ("min_db", "max_db"),
    "noise": ("min_snr_db", "max_snr_db"),
    "speed": ("min_rate", "max_rate"),
    "pitch": ("min_semitones", "max_semitones"),
    "time_stretch": ("min_rate", "max_rate"),
    "mix": ("min_snr_db", "max_snr_db"),
}
#: the STFT window of the frequency mask (seconds)
WINDOW_SECONDS = 0.032


class AudioAugmenter:
    """A pipeline of audio augmentation steps (see the module docstring).

    Parameters
    ----------
    steps : list of dict
        ``{op: NAME, p: SHARE, ...parameters}``, applied in order.

    Raises
    ------
    ConfigError
        An unknown op, a parameter the op does not take, a value out of range, or a range whose low
        end is above its high end.
    """

    def __init__(self, steps: list[dict[str, Any]]) -> None:
        from simulacra.errors import ConfigError

        self.steps = check_steps(
            steps, CONSTRAINTS, "{op: gain, min_db: -6, max_db: 6}", lambda op: {"p": 1.0, **DEFAULTS[op]}
        )
        for i, step in enumerate(self.steps):
            low, high = _RANGES.get(step["op"], (None, None))
            if low is not None and float(step[low]) > float(step[high]):
                raise ConfigError(
                    f"augmentation step {i + 1} ({step['op']}): {low} {step[low]} is above {high} "
                    f"{step[high]}; give {low} ≤ {high}"
                )

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> AudioAugmenter:
        """Read ``steps: [...]`` from a YAML file.

        Raises
        ------
        ConfigError
            Missing or unreadable file, no steps, or an unknown top-level key.
        """
        steps, _ = read_steps(path)
        return cls(steps)


@contextmanager
def _global_rngs(seed: int):
    """audiomentations draws from Python's ``random`` and NumPy's global generator: seed both for the
    block and give the caller's states back after it."""
    py, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002 - the library's global state
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)  # noqa: NPY002


def _fit_length(x: np.ndarray, samples: int) -> np.ndarray:
    out = np.zeros(samples, np.float32)
    out[: min(samples, len(x))] = x[:samples]
    return out


def _frequency_mask(x: np.ndarray, rate: int, share: float, rng: np.random.Generator) -> np.ndarray:
    import torch

    n_fft = 1 << max(4, round(np.log2(WINDOW_SECONDS * rate)))
    window = torch.hann_window(n_fft)
    spec = torch.stft(torch.from_numpy(x), n_fft, n_fft // 4, window=window, return_complex=True)
    bins = spec.shape[0]
    width = int(rng.integers(0, max(1, int(share * bins)) + 1))
    start = int(rng.integers(0, bins - width + 1))
    spec[start : start + width] = 0
    return torch.istft(spec, n_fft, n_fft // 4, window=window, length=len(x)).numpy().astype(np.float32)


def _mix(x: np.ndarray, other: np.ndarray, snr_db: float) -> np.ndarray:
    power = float(np.mean(x.astype(np.float64) ** 2))
    other_power = float(np.mean(other.astype(np.float64) ** 2))
    if power == 0 or other_power == 0:
        return x
    scale = np.sqrt(power / (other_power * 10 ** (snr_db / 10)))
    return (x + scale * other).astype(np.float32)


def _apply(
    step: dict[str, Any], x: np.ndarray, rate: int, pool: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One recording ``(T,)`` after one step (``pool``: the set's waveforms, for ``mix``)."""
    import audiomentations as am

    op = step["op"]
    if op == "speed":
        import soxr

        r = float(rng.uniform(step["min_rate"], step["max_rate"]))
        return _fit_length(np.asarray(soxr.resample(x, rate, max(1, round(rate / r))), np.float32), len(x))
    if op == "frequency_mask":
        for _ in range(int(step["masks"])):
            x = _frequency_mask(x, rate, float(step["max_share"]), rng)
        return x
    if op == "mix":
        other = pool[int(rng.integers(len(pool)))]
        return _mix(x, other, float(rng.uniform(step["min_snr_db"], step["max_snr_db"])))
    transform = {
        "gain": lambda: am.Gain(min_gain_db=step["min_db"], max_gain_db=step["max_db"], p=1.0),
        "shift": lambda: am.Shift(
            min_shift=-step["max_seconds"],
            max_shift=step["max_seconds"],
            shift_unit="seconds",
            rollover=False,
            p=1.0,
        ),
        "noise": lambda: am.AddGaussianSNR(
            min_snr_db=step["min_snr_db"], max_snr_db=step["max_snr_db"], p=1.0
        ),
        "pitch": lambda: am.PitchShift(
            min_semitones=step["min_semitones"], max_semitones=step["max_semitones"], p=1.0
        ),
        "time_stretch": lambda: am.TimeStretch(
            min_rate=step["min_rate"], max_rate=step["max_rate"], leave_length_unchanged=True, p=1.0
        ),
        "time_mask": lambda: am.TimeMask(min_band_part=0.0, max_band_part=step["max_share"], p=1.0),
    }[op]()
    for _ in range(int(step.get("masks", 1))):
        with _global_rngs(int(rng.integers(2**62))):
            x = np.asarray(transform(samples=x, sample_rate=rate), np.float32)
    return _fit_length(x, len(pool[0]))


def augment_audio(audio: AudioSet, augmenter: AudioAugmenter, *, copies: int = 1, seed: int = 0) -> AudioSet:
    """``copies`` augmented versions of every recording of ``audio`` (copy-major), seeded; labels,
    class names and speakers kept.

    Parameters
    ----------
    audio : AudioSet
        The real recordings, ``(N, T)`` at one rate.
    augmenter : AudioAugmenter
        The steps.
    copies : int
        Augmented copies of every recording, ≥ 1.
    seed : int
        The same seed gives the same output; the global random states are left as they were.

    Returns
    -------
    AudioSet
        ``(copies · N, T)`` float32 in [-1, 1] at the same rate.
    """
    rng = np.random.default_rng(seed)
    pool = audio.waveforms
    out = np.empty((int(copies) * len(audio), pool.shape[1]), np.float32)
    for copy in range(int(copies)):
        for i, wave in enumerate(pool):
            x = wave.copy()
            for step in augmenter.steps:
                if rng.random() < float(step["p"]):
                    x = _apply(step, x, audio.sample_rate, pool, rng)
            out[copy * len(pool) + i] = np.clip(x, -1.0, 1.0)
    tile = lambda a: None if a is None else np.tile(a, int(copies))  # noqa: E731
    return AudioSet(out, audio.sample_rate, tile(audio.labels), list(audio.class_names), tile(audio.groups))
