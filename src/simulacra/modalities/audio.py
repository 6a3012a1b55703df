"""The audio modality: labelled recordings (WAV, FLAC, OGG; class folders, FSDD-named files, an ``.npz``
archive) or the bundled ``fsdd`` set, generated as log-mel spectrograms and judged by a classifier
trained here (:mod:`simulacra.evaluate.audio`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities.base import Augmented, EvaluateOptions, Source, Status
from simulacra.modalities.labelled import ArchiveModality
from simulacra.requests import AugmentRequest

#: the columns of an audio benchmark: ``(result key, title, format)``
BENCH_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "recordings/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("fad", "FAD (local)", "{:.2f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("tstr_accuracy", "TSTR acc", "{:.3f}"),
    ("trtr_accuracy", "TRTR acc", "{:.3f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
    ("nn_embedding_ratio", "NN embedding ratio", "{:.2f}"),
    ("reconstruction_stoi", "reconstruction STOI", "{:.3f}"),
]
#: the most recordings a benchmark samples
BENCH_RECORDINGS = 2000


def _has_audio(folder: Path) -> bool:
    from simulacra.io.audio import EXTENSIONS

    def direct(f: Path) -> bool:
        return any(p.suffix.lower() in EXTENSIONS for p in f.iterdir() if p.is_file())

    return direct(folder) or any(direct(d) for d in folder.iterdir() if d.is_dir())


class AudioModality(ArchiveModality):
    """Labelled recordings (:class:`~simulacra.io.AudioSet`, float32 ``(N, T)`` at one rate), scored
    by a small CNN on log-mel spectrograms trained here (local FAD, precision/recall, TSTR on held-out
    speakers, label agreement, memorisation in its embedding space)."""

    name = "audio"
    unit = "recordings"
    bench_temperatures = True
    default_model = "specvae"
    mix_model = "specvae"
    bench_models = ("specgan", "specvae")
    bench_columns = BENCH_COLUMNS
    bench_warmup = 20
    folder_files = "WAV files"

    def recognises(self, source: str, **options: Any) -> bool:
        """A bundled audio set, an audio file, an ``.npz`` archive holding ``waveforms``, or a folder
        with audio files in it or in its class folders."""
        import numpy as np

        from simulacra import datasets
        from simulacra.io import is_sql_url
        from simulacra.io.audio import EXTENSIONS
        from simulacra.workflow import is_bundled

        if options.get("text_column") is not None:
            return False
        if options.get("path_column"):
            from simulacra.io.labelled import listed_suffix

            return listed_suffix(source, options["path_column"]) in EXTENSIONS
        if is_bundled(source):
            return datasets.is_audio(source)
        if is_sql_url(source):
            return False
        path = Path(source)
        if path.is_dir():
            return _has_audio(path)
        if path.suffix.lower() in EXTENSIONS:
            return True
        if path.suffix == ".npz" and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as npz:
                    return "waveforms" in npz.files
            except Exception:  # a damaged archive: the image reader will say so
                return False
        return False

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        """A bundled set's ``part``, or :meth:`~simulacra.io.AudioSet.read` of ``source``."""
        from simulacra import datasets
        from simulacra.errors import DataError
        from simulacra.io import AudioSet
        from simulacra.workflow import is_bundled

        if is_bundled(source):
            if not datasets.is_audio(source):
                raise DataError(
                    f"{source!r} is not an audio dataset; this command needs recordings here (e.g. 'fsdd')"
                )
            train, test = datasets.load(source)
            return train if part == "train" else test
        if options.get("path_column"):
            return AudioSet.read_table(
                source, options["path_column"], label_column=options.get("label_column")
            )
        return AudioSet.read(source)

    def augment(self, request: AugmentRequest, status: Status) -> Augmented:
        """audiomentations-based copies of every recording (:mod:`simulacra.augment.audio`), labels
        and speakers kept; the effect line is their strength against the originals (STOI, SNR) and,
        with labelled test recordings, TRTR with and without the copies."""
        import numpy as np

        from simulacra.augment.audio import AudioAugmenter, augment_audio
        from simulacra.evaluate.audio import augmentation_effect, augmentation_strength
        from simulacra.io import output_lock
        from simulacra.validation import check_memory

        r = request
        augmenter = AudioAugmenter.from_yaml(r.pipeline)  # the pipeline, before any recording is read
        self.claim_output(str(r.output), r.force)
        found = self.resolve(r.source, test=r.test, **self.loader_options(r))
        audio, held = found.train, found.test
        with output_lock(r.output):
            check_memory(
                audio.waveforms.nbytes * r.copies * 3.0,
                f"{r.copies} augmented copies of {len(audio):,} recordings",
                "use fewer `copies`",
            )
            with status.busy(f"augmenting {len(audio)} recordings × {r.copies}"):
                out = augment_audio(audio, augmenter, copies=r.copies, seed=r.seed)
            where = self.write(out, str(r.output), force=r.force)
        with status.busy("STOI and SNR of the copies against the originals"):
            strength = augmentation_strength(
                np.tile(audio.waveforms, (r.copies, 1)), out.waveforms, audio.sample_rate
            )
        effect = (
            f"against the originals: STOI {strength['stoi']:.3f} (1 = as intelligible), "
            f"SNR {strength['snr_db']:.1f} dB"
        )
        if held is not None and audio.labels is not None and held.labels is not None:
            with status.busy("TRTR with and without the augmented copies"):
                e = augmentation_effect(audio, out, held, seed=r.seed)
            effect += (
                f"; TRTR (the audio CNN) on {len(held)} test recordings: accuracy {e['accuracy']:.3f} → "
                f"{e['augmented_accuracy']:.3f} with the copies"
            )
        return Augmented(len(out), where, self.unit, effect)

    def downstream(self) -> Any:
        """The audio CNN (:class:`~simulacra.experiments.mix.AudioCnnDownstream`)."""
        from simulacra.experiments.mix import AudioCnnDownstream

        return AudioCnnDownstream()

    def filtered(self, model, rows, p, request, label, **sample_options):
        """The label filter judged by the audio CNN trained on ``request.data``
        (:func:`~simulacra.experiments.filters.filtered_labelled`)."""
        import torch

        from simulacra.evaluate.audio import train_classifier
        from simulacra.experiments.filters import filtered_labelled

        real = self.load(request.data, **self.loader_options(request))
        if real.labels is None:
            raise ConfigError("the label filter trains a classifier on `data`; give labelled recordings")
        cnn = train_classifier(real, seed=request.seed)
        order = [cnn.class_names.index(c) for c in model.class_names_]

        def proba(batch):
            with torch.inference_mode():
                return torch.softmax(cnn(torch.from_numpy(batch.waveforms)), dim=1).numpy()[:, order]

        judge = "the audio CNN trained on the real recordings"
        return filtered_labelled(
            model, rows, p, proba, label=label, seed=request.seed, judge=judge, **sample_options
        )

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        """The audio metrics (:func:`~simulacra.evaluate.audio.evaluate_audio`) and their report
        (:class:`~simulacra.report.audio.AudioReport`); ``options.model`` adds its training curves
        and spectrogram grids, and with real test recordings the STOI and SNR of what its
        representation keeps of them (``resynthesize``)."""
        from simulacra.evaluate.audio import evaluate_audio
        from simulacra.report.audio import AudioReport

        model, recon = options.model, None
        with options.status.busy("evaluating recordings (the audio classifier trains on the real ones)"):
            if real.test is not None and hasattr(model, "resynthesize") and model.draws_like(real.test):
                recon = (real.test.waveforms, model.resynthesize(real.test).waveforms)
            evaluation = evaluate_audio(
                real.train, synthetic, real.test, seed=options.seed, reconstructions=recon
            )
            report = AudioReport(
                evaluation,
                real.train,
                synthetic,
                title=options.title,
                info=options.info,
                history=getattr(model, "history_", None),
                grids=getattr(model, "grids_", None),
                seed=options.seed,
            )
        return evaluation, report

    def bench_source(self, job: Any) -> Source:
        """The bench's training and test parts: a source without a test part whose recordings name
        their speakers is split by speaker (a quarter of them, at least one, held out with seed 0), so
        TSTR and TRTR are measured on voices never heard in training."""
        found = self.resolve(job.data, test=job.test)
        if found.test is None and found.train.groups is not None and len(set(found.train.groups)) > 1:
            train, test = found.train.split_by_group(test_size=0.25, seed=0)
            return Source(found.name, train, test)
        return found

    def bench_size(self, train: Any, rows: int) -> int:
        """At most :data:`BENCH_RECORDINGS` recordings."""
        return min(int(rows), BENCH_RECORDINGS)

    def bench_extras(self, job: Any, model: Any, found: Source, evaluation: Any) -> dict[str, Any]:
        """The reference rows (real test, shuffled frames, noise), which speakers were held out and,
        with ``job.temperatures`` (a model with a sampling temperature), as many recordings at each
        temperature scored by FAD, precision, recall, label agreement and TSTR
        (:func:`~simulacra.evaluate.audio.temperature_tradeoff`; ``tradeoff``)."""
        held = (
            sorted(set(found.test.groups)) if found.test is not None and found.test.groups is not None else []
        )
        extra: dict[str, Any] = {"references": evaluation.details["references"], "test_speakers": held}
        if job.temperatures and model.supports_temperature:
            from simulacra.evaluate.audio import temperature_tradeoff

            n = self.bench_size(found.train, job.rows)
            extra["tradeoff"] = temperature_tradeoff(
                found.train,
                lambda tau: model.sample(n, seed=job.seed, temperature=tau),
                job.temperatures,
                found.test,
                seed=job.seed,
            )
        return extra
