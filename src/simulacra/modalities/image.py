"""The image modality: class folders of pictures, an ``.npz`` archive, IDX files or a bundled set."""

from __future__ import annotations

from typing import Any

from simulacra.modalities.base import Augmented, EvaluateOptions, Source, Status
from simulacra.modalities.benchmarking import BenchJob
from simulacra.modalities.labelled import ArchiveModality
from simulacra.requests import AugmentRequest

#: the columns of an image benchmark: ``(result key, title, format)``
BENCH_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "images/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("fid", "FID (local)", "{:.2f}"),
    ("kid", "KID", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("tstr_accuracy", "TSTR acc", "{:.3f}"),
    ("trtr_accuracy", "TRTR acc", "{:.3f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
    ("nn_distance_ratio", "NN distance ratio", "{:.2f}"),
]
#: the most images a benchmark samples
BENCH_IMAGES = 10_000


class ImageModality(ArchiveModality):
    """Labelled images (:class:`~simulacra.io.ImageSet`, uint8 ``(N, C, H, W)``), scored by a local
    classifier trained here (Fréchet distance, KID, precision/recall, TSTR, memorisation)."""

    name = "image"
    unit = "images"
    default_model = "cgan"
    mix_model = "cgan"
    bench_models = ("dcgan", "cgan", "vae", "cvae")
    bench_columns = BENCH_COLUMNS
    folder_files = "PNG files"

    def recognises(self, source: str, **options: Any) -> bool:
        from simulacra.workflow import is_image_source

        return options.get("text_column") is None and is_image_source(source)

    def model_for(self, source: str, **options: Any) -> str:
        """``cgan`` for labelled images (the best measured model on grey and on colour images, at
        equal fit time: ``benchmarks/results/mnist-cgan-cedm``, ``cifar10-cgan-cedm``); its
        unconditional counterpart ``dcgan`` for a flat folder or an archive without labels, which a
        class-conditional model refuses. Decided from the folder listing or the archive's index, no
        pixel read."""
        return self.default_model if _labelled(source) else "dcgan"

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        from simulacra.workflow import load_images

        return load_images(source, part=part)

    def read_synthetic(self, path: str, **options: Any) -> Any:
        from simulacra.io import ImageSet

        return ImageSet.read(path)  # a sample is a file or folder, never a bundled name

    def augment(self, request: AugmentRequest, status: Status) -> Augmented:
        """Kornia augmentations (flips, rotations, crops, affine, noise, mixup, …) of every image,
        ``copies`` times; the effect line is their strength against the originals (PSNR, SSIM)."""
        import numpy as np

        from simulacra.augment import ImageAugmenter, augment_images
        from simulacra.errors import ConfigError
        from simulacra.evaluate.image import psnr_ssim
        from simulacra.io import claim, output_lock
        from simulacra.validation import check_memory

        r = request
        if r.output.suffix not in ("", ".npz"):
            raise ConfigError(
                f"{r.output}: augmented images go to an .npz file or a folder (a name without suffix)"
            )
        claim(r.output, force=r.force, kind="file" if r.output.suffix == ".npz" else "dir")
        augmenter = ImageAugmenter.from_yaml(r.pipeline)
        with output_lock(r.output):
            images = self.load(r.source)
            check_memory(
                images.images.nbytes * r.copies * 6.0,
                f"{r.copies} augmented copies of {len(images):,} images",
                "use fewer `copies`",
            )
            with status.busy(f"augmenting {len(images)} images × {r.copies}"):
                out = augment_images(images, augmenter, copies=r.copies, seed=r.seed)
            where = self.write(out, str(r.output), force=r.force)
        strength = psnr_ssim(np.tile(images.images, (r.copies, 1, 1, 1)), out.images)
        effect = (
            f"augmentation strength against the originals: PSNR {strength['psnr']:.1f} dB, "
            f"SSIM {strength['ssim']:.3f}"
        )
        return Augmented(len(out), where, self.unit, effect)

    def downstream(self) -> Any:
        """The local CNN (:class:`~simulacra.experiments.mix.CnnDownstream`)."""
        from simulacra.experiments.mix import CnnDownstream

        return CnnDownstream()

    def filtered(self, model, rows, p, request, label, **sample_options):
        """The label filter judged by the local CNN trained on ``request.data``
        (:func:`~simulacra.experiments.filters.filtered_images`)."""
        from simulacra.experiments.filters import filtered_images

        real = self.load(request.data)
        return filtered_images(model, rows, p, real, label=label, seed=request.seed, **sample_options)

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        """Image metrics on the local CNN (a random one for unlabelled images); with a model that
        reconstructs (the VAEs) and real test images, PSNR and SSIM of its reconstructions too."""
        from simulacra.workflow import evaluate_image_sets

        model, recon = options.model, None
        with options.status.busy("evaluating images (the local classifier trains once per dataset)"):
            if real.test is not None and hasattr(model, "reconstruct"):
                recon = (real.test.images, model.reconstruct(real.test))
            return evaluate_image_sets(
                real.train,
                synthetic,
                real.test,
                seed=options.seed,
                title=options.title,
                model=model,
                info=options.info,
                reconstructions=recon,
            )

    def bench_size(self, train: Any, rows: int) -> int:
        """At most :data:`BENCH_IMAGES` images."""
        return min(int(rows), BENCH_IMAGES)

    def bench_extras(self, job: BenchJob, model: Any, found: Source, evaluation: Any) -> dict[str, Any]:
        """The reference rows (real test, blurred real, noise) and, with ``job.temperatures``,
        precision and recall (Kynkäänniemi et al. 2019, the local CNN's features) of as many images at
        each temperature (``tradeoff``)."""
        extra: dict[str, Any] = {"references": evaluation.details["references"]}
        if job.temperatures:
            from simulacra.evaluate.image import features, precision_recall, real_classifier

            n = self.bench_size(found.train, job.rows)
            cnn = real_classifier(found.train, seed=job.seed)
            real_feat = features(cnn, found.train.images)
            extra["tradeoff"] = [
                {
                    "temperature": tau,
                    **precision_recall(
                        real_feat,
                        features(cnn, model.sample(n, seed=job.seed, temperature=tau).images),
                        seed=job.seed,
                    ),
                }
                for tau in job.temperatures
            ]
        return extra


def _labelled(source: str) -> bool:
    """Whether ``source`` holds labelled images: a bundled set, a folder of class folders, an ``.npz``
    archive with ``labels``. Unreadable sources count as labelled: the loader reports them."""
    from pathlib import Path

    import numpy as np

    from simulacra.workflow import is_bundled

    path = Path(source)
    if is_bundled(source) or not path.exists():
        return True
    if path.is_dir():
        from simulacra.io.pictures import picture_files

        return not picture_files(path) or any(d.is_dir() and picture_files(d) for d in path.iterdir())
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return "labels" in npz.files
        except Exception:  # damaged: ImageSet.read says so in one line
            return True
    return True
