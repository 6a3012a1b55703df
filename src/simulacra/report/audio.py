"""The report of an audio evaluation: ``metrics.json`` and one self-contained ``report.html``.

The page shows the metric table; the local Fréchet audio distance, precision and recall of the
synthetic recordings beside the reference rows (real test recordings: the floor; the real recordings
with their frames shuffled in time; white noise); the spectral statistics; per class, synthetic and real
recordings to play (HTML ``<audio>`` elements with inline WAV data) under their log-mel spectrograms;
the first synthetic recordings beside their nearest training recording in the classifier's embedding
space (the memorisation check made audible); and the model's training curves and the spectrograms it
drew during training. Nothing is fetched: every sound and picture is inline base64.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import numpy as np

from simulacra.evaluate import Evaluation
from simulacra.io import AudioSet
from simulacra.report.html import WrittenReport, _templates
from simulacra.report.image import _b64, _curves

#: recordings per class played in the report, of each of the synthetic and the real sets
PER_CLASS = 2
#: synthetic recordings shown beside their nearest training recording
NEIGHBOURS = 6
#: the most classes the report plays (the rest are in the metrics only)
MAX_CLASSES = 20


def wav_b64(wave: np.ndarray, sample_rate: int) -> str:
    """Base64 of a 16-bit PCM WAV file of one ``(T,)`` float waveform in [-1, 1]."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(wave, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def spectrogram_png(wave: np.ndarray, sample_rate: int) -> str:
    """Base64 PNG of the log-mel spectrogram of ``(T,)`` (low bands at the bottom; 80 dB of range,
    darker is louder), enlarged twice."""
    import torch

    from simulacra.evaluate.audio import log_mel_for

    spec = log_mel_for(sample_rate)(torch.from_numpy(np.asarray(wave, np.float32)[None]))[0].numpy()
    top = spec.max()
    scaled = np.clip((spec - (top - 9.2)) / 9.2, 0.0, 1.0)  # 9.2 nats of magnitude ≈ 80 dB
    picture = (255 - scaled[::-1] * 255).round().astype(np.uint8)
    return _b64(picture[:, :, None], scale=2)


def _clip(audio: AudioSet, i: int) -> dict[str, str]:
    return {
        "wav": wav_b64(audio.waveforms[i], audio.sample_rate),
        "png": spectrogram_png(audio.waveforms[i], audio.sample_rate),
    }


class AudioReport(WrittenReport):
    """An audio :class:`~simulacra.evaluate.Evaluation` with its recordings.

    Parameters
    ----------
    evaluation : Evaluation
        From :func:`simulacra.evaluate.audio.evaluate_audio`.
    real, synthetic : AudioSet
        The real training recordings and the synthetic ones.
    title : str
        The page title.
    info : dict or None
        Run facts shown at the top and stored in ``metrics.json``.
    history : list of dict or None
        The model's per-epoch losses (``history_``), drawn as training curves.
    grids : list of (int, ndarray) or None
        The model's ``grids_``: the spectrograms it drew after each of some epochs.
    seed : int
        Which recordings are played.
    """

    def __init__(
        self,
        evaluation: Evaluation,
        real: AudioSet,
        synthetic: AudioSet,
        *,
        title: str = "simulacra audio report",
        info: dict[str, Any] | None = None,
        history: list[dict[str, float]] | None = None,
        grids: list[tuple[int, np.ndarray]] | None = None,
        seed: int = 0,
    ) -> None:
        self.evaluation, self.real, self.synthetic = evaluation, real, synthetic
        self.title, self.info, self.seed = title, dict(info or {}), seed
        self.history, self.grids = list(history or []), list(grids or [])

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "info": self.info, **self.evaluation.to_dict(), "history": self.history}

    def _per_class(self) -> list[dict[str, Any]]:
        rng = np.random.default_rng(self.seed)
        classes = []
        for name in self.real.class_names[:MAX_CLASSES]:
            row: dict[str, Any] = {"name": name}
            for key, audio in (("synthetic", self.synthetic), ("real", self.real)):
                if audio.labels is None:
                    row[key] = []
                    continue
                idx = np.flatnonzero(np.array(audio.class_names, dtype=object)[audio.labels] == name)
                pick = np.sort(rng.choice(idx, min(len(idx), PER_CLASS), replace=False)) if len(idx) else idx
                row[key] = [_clip(audio, int(i)) for i in pick]
            classes.append(row)
        return classes

    def render(self) -> str:
        details = self.evaluation.details
        references = [{"name": "synthetic", **details.get("synthetic", {})}]
        references += [{"name": k, **v} for k, v in details.get("references", {}).items()]
        mem = details.get("memorisation", {})
        neighbours = [
            {"synthetic": _clip(self.synthetic, i), "train": _clip(self.real, j), "distance": d}
            for i, (j, d) in enumerate(zip(mem.get("nearest", []), mem.get("distance", []), strict=True))
            if i < NEIGHBOURS
        ]
        return (
            _templates()
            .get_template("audio_report.html.j2")
            .render(
                title=self.title,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                info=self.info,
                rows=self.evaluation.rows(),
                skipped=self.evaluation.skipped,
                references=references,
                statistics=details.get("statistics", {}),
                per_class=details.get("per_class", {}),
                classes=self._per_class(),
                neighbours=neighbours,
                curves=_curves(self.history) if self.history else None,
                grids=[{"epoch": e, "png": _b64(g, scale=1)} for e, g in self.grids],
                n_real=len(self.real),
                n_synth=len(self.synthetic),
                rate=self.real.sample_rate,
                duration=self.real.duration,
            )
        )
