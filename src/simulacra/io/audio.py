"""Labelled audio: mono waveforms at one sample rate and one duration, read from WAV, FLAC or OGG files.

The first part of the audio modality (issue 32): the data. Files are read with ``soundfile``
(libsndfile), resampled with ``soxr`` (the SoX resampler, "high quality" setting) to one rate, and
brought to one duration: shorter recordings are padded with silence at the end, longer ones are cut at
the end, and :attr:`AudioSet.rule` says how many of each. Labels come from class folders or from
file names in the Free Spoken Digit Dataset's pattern ``{label}_{speaker}_{index}.wav``, which also
gives each recording's speaker, so that :meth:`AudioSet.split_by_group` keeps every speaker of the
test part out of training.

References
----------
* Z. Jackson, C. Souza, J. Flaks et al., "Free Spoken Digit Dataset" (Jakobovski/free-spoken-digit-
  dataset on GitHub, CC BY-SA 4.0): the file-name pattern.
* soxr: C. Bagwell and R. Sachs' SoX resampler library, through the ``soxr`` Python bindings.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulacra.errors import ConfigError, DataError
from simulacra.io.outputs import finish_file, replace_dir, temporary_dir_for, temporary_file_for

#: the audio files read (lower-case suffixes)
EXTENSIONS = (".wav", ".flac", ".ogg")
#: a recording longer than this (seconds) is refused: a multi-hour file is a stream, not one item
MAX_SECONDS = 600.0
#: the Free Spoken Digit Dataset's file names: ``{label}_{speaker}_{index}``
FSDD_NAME = re.compile(r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<index>\d+)$")


@dataclass
class AudioSet:
    """A set of mono recordings of one sample rate and one length.

    Attributes
    ----------
    waveforms : ndarray, shape (N, T), float32
        Samples in [-1, 1]; ``T = duration × sample_rate``.
    sample_rate : int
        Samples per second (Hz).
    labels : ndarray, shape (N,), int64, or None
        Class indices into ``class_names``.
    class_names : list of str
        The name of each class index.
    groups : ndarray, shape (N,), object, or None
        Each recording's speaker (or other group), where known.
    lengths : ndarray, shape (N,), int64, or None
        Each recording's length in samples at ``sample_rate`` before padding or cutting.
    rule : str
        How the recordings were brought to ``T`` samples, in words.

    Raises
    ------
    DataError
        Waveforms that are not 2-D, a sample rate that is not positive, or labels, groups or lengths
        of another length than the waveforms.
    """

    waveforms: np.ndarray
    sample_rate: int
    labels: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)
    groups: np.ndarray | None = None
    lengths: np.ndarray | None = None
    rule: str = ""

    def __post_init__(self) -> None:
        self.waveforms = np.asarray(self.waveforms, dtype=np.float32)
        if self.waveforms.ndim != 2:
            raise DataError(f"waveforms must be (N, T), got shape {self.waveforms.shape}")
        if int(self.sample_rate) <= 0:
            raise DataError(f"sample rate {self.sample_rate} Hz: give a positive rate")
        self.sample_rate = int(self.sample_rate)
        n = len(self.waveforms)
        for name in ("labels", "groups", "lengths"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise DataError(f"{len(value)} {name} for {n} recordings; give one per recording")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if n and (self.labels.min() < 0 or self.labels.max() >= max(len(self.class_names), 1)):
                raise DataError("a label is outside the class names; give one class name per label index")
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=object)

    def __len__(self) -> int:
        return len(self.waveforms)

    @property
    def duration(self) -> float:
        """Seconds per recording."""
        return self.waveforms.shape[1] / self.sample_rate

    def subset(self, index: Any) -> AudioSet:
        """The recordings ``index`` (an integer array or a boolean mask), in that order."""
        index = np.asarray(index)
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return AudioSet(
            self.waveforms[index],
            self.sample_rate,
            pick(self.labels),
            list(self.class_names),
            pick(self.groups),
            pick(self.lengths),
            self.rule,
        )

    @classmethod
    def concat(cls, sets: list[AudioSet]) -> AudioSet:
        """The recordings of ``sets`` one after the other, labels joined by class name
        (:func:`~simulacra.io.labelled.merged_labels`), speakers kept where every set has them.

        Raises
        ------
        DataError
            No set, sets of different rates or durations, or labelled and unlabelled sets together.
        """
        from simulacra.io.labelled import merged_labels

        if not sets or len({(s.sample_rate, s.waveforms.shape[1]) for s in sets}) > 1:
            raise DataError("concat needs at least one set, all of one sample rate and duration")
        labels, names = merged_labels(sets)
        groups = np.concatenate([s.groups for s in sets]) if all(s.groups is not None for s in sets) else None
        return cls(np.concatenate([s.waveforms for s in sets]), sets[0].sample_rate, labels, names, groups)

    def split_by_group(self, test_size: float = 0.25, seed: int = 0) -> tuple[AudioSet, AudioSet]:
        """``(train, test)`` with whole groups (speakers) in each part: about ``test_size`` of the
        groups, drawn with ``seed``, at least one, go to the test part, so no test speaker is heard in
        training.

        Raises
        ------
        DataError
            No groups, or fewer than two; ``test_size`` outside (0, 1).
        """
        if not 0 < test_size < 1:
            raise DataError(f"test size {test_size}: give a share in (0, 1)")
        if self.groups is None:
            raise DataError(
                "the recordings have no speakers or groups; name the files {label}_{speaker}_{index}"
            )
        names = sorted(set(self.groups))
        if len(names) < 2:
            raise DataError(f"one speaker ({names[0]!r}) cannot be split; give recordings of two or more")
        k = min(len(names) - 1, max(1, round(test_size * len(names))))
        held = set(np.random.default_rng(seed).permutation(np.array(names, dtype=object))[:k])
        mask = np.array([g in held for g in self.groups])
        return self.subset(np.flatnonzero(~mask)), self.subset(np.flatnonzero(mask))

    @classmethod
    def read(
        cls, source: str | Path, *, sample_rate: int | None = None, duration: float | None = None
    ) -> AudioSet:
        """Recordings from an audio file, a folder of class folders, a flat folder, or an ``.npz``
        archive written by :meth:`to_npz`.

        Labels come from the class folders' names or, in a flat folder, from file names of the Free
        Spoken Digit Dataset's pattern ``{label}_{speaker}_{index}`` (which also give the speakers);
        a flat folder of other names is unlabelled.

        Parameters
        ----------
        source : str or Path
            A ``.wav``/``.flac``/``.ogg`` file or a folder of them.
        sample_rate : int or None
            The rate to resample to (Hz); default the commonest rate of the files.
        duration : float or None
            Seconds per recording; default the 95th percentile of the lengths, rounded up to 0.1 s (so
            that few are cut). Shorter recordings are padded with silence at the end, longer ones cut
            at the end.

        Raises
        ------
        DataError
            A missing source, no audio file, or a file that is unreadable, empty, not mono, or longer
            than :data:`MAX_SECONDS` (the line names the file); a non-positive rate or duration.
        """
        _check_options(sample_rate, duration)
        if Path(source).suffix == ".npz" and Path(source).is_file():
            audio = cls.from_npz(source)
            if sample_rate not in (None, audio.sample_rate) or duration not in (None, audio.duration):
                raise DataError(
                    f"{source}: an archive is read at its own rate and duration; resample it with "
                    "AudioSet.from_clips"
                )
            return audio
        files, labels, groups = _listing(Path(source))
        return cls._assemble(files, labels, groups, sample_rate, duration)

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str]) -> AudioSet:
        """An archive written by :meth:`to_npz`: ``waveforms`` float32 ``(N, T)``, ``sample_rate``,
        and optional ``labels``, ``class_names``, ``groups``.

        Raises
        ------
        DataError
            Not a readable archive, or no ``waveforms`` or ``sample_rate`` in it.
        """
        try:
            with np.load(path, allow_pickle=False) as npz:
                missing = [k for k in ("waveforms", "sample_rate") if k not in npz.files]
                if missing:
                    raise DataError(
                        f"{path}: no {' or '.join(missing)} array (found {npz.files}); write it with "
                        "AudioSet.to_npz"
                    )
                labels = npz["labels"] if "labels" in npz.files else None
                names = [str(n) for n in npz["class_names"]] if "class_names" in npz.files else []
                groups = npz["groups"].astype(object) if "groups" in npz.files else None
                return cls(npz["waveforms"], int(npz["sample_rate"]), labels, names, groups)
        except DataError:
            raise
        except Exception as exc:  # OSError, zipfile.BadZipFile, ValueError: a damaged archive
            raise DataError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None

    def to_npz(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write ``waveforms``, ``sample_rate``, ``labels``, ``class_names`` and ``groups``
        (compressed), atomically.

        Raises
        ------
        ConfigError
            ``path`` does not end in ``.npz``.
        OutputExistsError
            ``path`` exists (without ``force``, or not written by simulacra).
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ConfigError(f"{path}: audio archives are .npz files; end the name in .npz")
        tmp = temporary_file_for(path, force=force)
        try:
            arrays: dict[str, np.ndarray] = {
                "waveforms": self.waveforms,
                "sample_rate": np.array(self.sample_rate),
            }
            if self.labels is not None:
                arrays |= {"labels": self.labels, "class_names": np.array(self.class_names, dtype=str)}
            if self.groups is not None:
                arrays["groups"] = np.array(self.groups, dtype=str)
            with open(tmp, "wb") as f:  # a file object: numpy would append .npz to a name
                np.savez_compressed(f, **arrays)
            finish_file(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def to_folder(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write one 16-bit PCM WAV file per recording into class folders (``unlabelled/`` without
        labels), named ``{label}_{speaker}_{index}.wav`` as the Free Spoken Digit Dataset (speaker
        ``synthetic`` where unknown), so :meth:`read` reads the folder back; atomically.

        Raises
        ------
        OutputExistsError
            ``path`` exists (without ``force``, or not written by simulacra).
        """
        import soundfile

        path = Path(path)
        tmp = temporary_dir_for(path, force=force)
        try:
            names = self.class_names if self.labels is not None else ["unlabelled"]
            labels = self.labels if self.labels is not None else np.zeros(len(self), dtype=np.int64)
            for name in names:
                (tmp / name).mkdir()
            for i, (wave, y) in enumerate(zip(self.waveforms, labels, strict=True)):
                speaker = str(self.groups[i]) if self.groups is not None else "synthetic"
                target = tmp / names[y] / f"{names[y]}_{speaker}_{i}.wav"
                soundfile.write(str(target), np.clip(wave, -1.0, 1.0), self.sample_rate, subtype="PCM_16")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return replace_dir(tmp, path)

    @classmethod
    def read_table(
        cls,
        source: str | Path,
        path_column: str,
        *,
        label_column: str | None = None,
        group_column: str | None = None,
        sample_rate: int | None = None,
        duration: float | None = None,
    ) -> AudioSet:
        """Recordings listed in a table (any file or SQL URL :func:`~simulacra.io.read_table` reads):
        one row per recording, its file in ``path_column`` (relative to the table file's folder, or
        absolute), its class in ``label_column`` and its speaker in ``group_column``, where given.
        ``sample_rate`` and ``duration`` are as in :meth:`read`.

        Raises
        ------
        DataError
            A column the table lacks, an empty path or a missing file (the line names its row), or a
            file :meth:`read` would refuse.
        """
        from simulacra.io.labelled import listed_files

        _check_options(sample_rate, duration)
        files, values = listed_files(source, path_column, label_column, group_column)
        labels = values[label_column] if label_column else []
        groups = values[group_column] if group_column else []
        return cls._assemble(files, labels, groups, sample_rate, duration)

    @classmethod
    def _assemble(
        cls,
        files: list[Path],
        labels: list[str],
        groups: list[str],
        sample_rate: int | None,
        duration: float | None,
    ) -> AudioSet:
        """The recordings of ``files`` at one rate and one duration, with their labels and groups."""
        if not files:
            raise DataError("no recording to read; give at least one audio file")
        return cls.from_clips([_read_clip(f) for f in files], labels, groups, sample_rate, duration)

    @classmethod
    def from_clips(
        cls,
        clips: list[tuple[np.ndarray, int]],
        labels: list[str] | None = None,
        groups: list[str] | None = None,
        sample_rate: int | None = None,
        duration: float | None = None,
    ) -> AudioSet:
        """Recordings of any lengths and rates, ``[(samples (T_i,) float32, rate Hz), …]``, brought
        to one rate and one duration as :meth:`read` does, with their class names ``labels`` and
        speakers ``groups`` (one per clip, or ``None``).

        Raises
        ------
        DataError
            No clip; a non-positive rate or duration.
        """
        _check_options(sample_rate, duration)
        if not clips:
            raise DataError("no recording to read; give at least one audio file")
        labels, groups = list(labels or []), list(groups or [])
        rate = sample_rate or Counter(sr for _, sr in clips).most_common(1)[0][0]
        waves = [_resample(x, sr, rate) for x, sr in clips]
        lengths = np.array([len(w) for w in waves], dtype=np.int64)
        seconds = duration or np.ceil(np.percentile(lengths, 95) / rate * 10) / 10
        T = max(1, round(seconds * rate))
        out = np.zeros((len(waves), T), np.float32)
        for i, w in enumerate(waves):
            out[i, : min(T, len(w))] = w[:T]
        cut, padded = int((lengths > T).sum()), int((lengths < T).sum())
        rule = (
            f"{seconds:g} s at {rate} Hz ({T} samples): {padded} of {len(waves)} padded with silence at the end, "
            f"{cut} cut at the end"
        )
        class_names = sorted(set(labels)) if labels else []
        label_index = {c: i for i, c in enumerate(class_names)}
        return cls(
            out,
            rate,
            np.array([label_index[c] for c in labels], np.int64) if labels else None,
            class_names,
            np.array(groups, dtype=object) if groups else None,
            lengths,
            rule,
        )


def _check_options(sample_rate: int | None, duration: float | None) -> None:
    if sample_rate is not None and sample_rate <= 0:
        raise DataError(f"sample rate {sample_rate} Hz: give a positive rate")
    if duration is not None and not 0 < duration <= MAX_SECONDS:
        raise DataError(f"duration {duration} s: give seconds in (0, {MAX_SECONDS:g}]")


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def _listing(path: Path) -> tuple[list[Path], list[str], list[str]]:
    """The files of ``path`` with their labels and speakers (empty lists where unknown)."""
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path")
    if path.is_file():
        if path.suffix.lower() not in EXTENSIONS:
            raise DataError(
                f"{path}: not an audio file; give a {', '.join(EXTENSIONS)} file or a folder of them"
            )
        return [path], [], []
    classes = sorted(p for p in path.iterdir() if p.is_dir() and _audio_files(p))
    files, labels, groups = [], [], []
    if classes:
        for folder in classes:
            for f in _audio_files(folder):
                files.append(f)
                labels.append(folder.name)
                match = FSDD_NAME.match(f.stem)
                groups.append(match["speaker"] if match else "")
        return files, labels, groups if all(groups) else []
    files = _audio_files(path)
    if not files:
        raise DataError(f"{path}: no {', '.join(EXTENSIONS)} file in it or in its class folders")
    matches = [FSDD_NAME.match(f.stem) for f in files]
    if all(matches):
        return files, [m["label"] for m in matches], [m["speaker"] for m in matches]
    return files, [], []


def _read_clip(path: Path) -> tuple[np.ndarray, int]:
    """``(samples (T,) float32, rate)`` of one mono file, checked from its header before it is read."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise DataError(
            f"{path}: not a readable audio file ({str(exc).splitlines()[0]}); replace or remove it"
        ) from None
    if info.frames == 0:
        raise DataError(f"{path}: an empty recording (no samples); remove it")
    if info.channels != 1:
        raise DataError(f"{path}: {info.channels} channels; give mono recordings (mix them down first)")
    if info.frames / info.samplerate > MAX_SECONDS:
        raise DataError(
            f"{path}: {info.frames / info.samplerate / 60:.0f} minutes long, beyond one recording's "
            f"{MAX_SECONDS / 60:.0f}; cut it into items first"
        )
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise DataError(
            f"{path}: not a readable audio file ({str(exc).splitlines()[0]}); replace or remove it"
        ) from None
    return np.asarray(samples, np.float32), int(rate)


def _resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``x`` at ``target`` Hz (soxr, high quality); unchanged when the rates agree."""
    if rate == target:
        return x
    import soxr

    return np.asarray(soxr.resample(x, rate, target, quality="HQ"), np.float32)
