"""The image modality: class folders of pictures, an ``.npz`` archive, IDX files or a bundled set."""

from __future__ import annotations

from typing import Any

from simulacra.modalities.base import Augmented, EvaluateOptions, Restored, Source, Status
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
    ("task", "restoration task", "{}"),
    ("psnr", "PSNR dB", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
]
#: the most images a benchmark samples
BENCH_IMAGES = 10_000


class ImageModality(ArchiveModality):
    """Labelled images (:class:`~simulacra.io.ImageSet`, uint8 ``(N, C, H, W)``), scored by a local
    classifier trained here (Fréchet distance, KID, precision/recall, TSTR, memorisation)."""

    name = "image"
    unit = "images"
    bench_temperatures = True
    default_model = "cgan"
    mix_model = "cgan"
    bench_models = ("dcgan", "cgan", "vae", "cvae")
    bench_columns = BENCH_COLUMNS
    folder_files = "PNG files"
    loader_fields = ("path_column", "label_column", "image_size", "channels", "resize")

    def recognises(self, source: str, **options: Any) -> bool:
        from simulacra.workflow import is_image_source

        if options.get("path_column"):  # a table listing files that are not recordings (asked first)
            return True  # the picture reader says what is wrong with a table that lists no pictures
        return options.get("text_column") is None and is_image_source(source)

    def model_for(self, source: str, **options: Any) -> str:
        """``cgan`` for labelled images (the best measured model on grey and on colour images, at
        equal fit time: ``benchmarks/results/mnist-cgan-cedm``, ``cifar10-cgan-cedm``); its
        unconditional counterpart ``dcgan`` for a flat folder or an archive without labels, which a
        class-conditional model refuses. Decided from the folder listing or the archive's index, no
        pixel read."""
        if options.get("path_column"):
            return self.default_model if options.get("label_column") else "dcgan"
        return self.default_model if _labelled(source) else "dcgan"

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        from simulacra.errors import DataError
        from simulacra.io.pictures import FITS, parse_size
        from simulacra.workflow import load_images

        if options.get("resize") not in (None, *FITS):
            raise DataError(f"--resize {options['resize']!r}: give crop or pad")
        columns = {k: options.get(k) for k in ("path_column", "label_column")}
        shape = {
            "size": parse_size(options.get("image_size")),
            "channels": options.get("channels"),
            "fit": options.get("resize") or "crop",
        }
        return load_images(source, part=part, **columns, **shape)

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
        augmenter = ImageAugmenter.from_yaml(r.pipeline)
        augmenter.models = {path: restoration_model(path, "restore") for path in augmenter.model_paths()}
        claim(r.output, force=r.force, kind="file" if r.output.suffix == ".npz" else "dir")
        with output_lock(r.output):
            images = self.load(r.source, **self.loader_options(r))
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

    def restore(self, request: Any) -> tuple[str, Restored]:
        """``prepare DATA --restore MODEL``: denoise or super-resolve every image of ``request.source``
        with a restoration model (``restore``), written as an ``.npz`` file or a PNG folder. Images
        of another size than the model's input are first resized by
        :meth:`~simulacra.io.ImageSet.resized` (its rule is returned).

        Raises
        ------
        ConfigError
            Cleaning or split options beside ``restore``, a model that is not a restoration model or
            that inpaints (which needs masks), or an output that is taken.
        """
        from simulacra.errors import ConfigError
        from simulacra.io import output_lock

        r = request
        given = [
            f"--{k.replace('_', '-')}"
            for k in ("config", "test", "split", "split_column", "fractions")
            if getattr(r, k) is not None
        ]
        if given:
            raise ConfigError(
                f"{', '.join(given)}: for cleaning tables; --restore takes the images and -o only"
            )
        model = restoration_model(r.restore, "--restore")
        if model.task == "inpaint":
            raise ConfigError(
                f"{r.restore}: an inpainting model needs the mask of the missing pixels, which prepare "
                "cannot know; call ImageRestorer.restore(images, mask) from Python"
            )
        self.claim_output(str(r.output), r.force)
        c, h, w = model.image_shape_
        s = int(model.scale) if model.task == "superres" else 1
        with output_lock(r.output):
            images = self.load(r.source, **self.loader_options(r))
            sized = images.resized((h // s, w // s), c)
            restored = model.restore(sized)
            where = self.write(restored, str(r.output), force=r.force)
        return where, Restored(
            len(restored), where, self.unit, model.task, sized.rule if sized is not images else ""
        )

    def downstream(self) -> Any:
        """The local CNN (:class:`~simulacra.experiments.mix.CnnDownstream`)."""
        from simulacra.experiments.mix import CnnDownstream

        return CnnDownstream()

    def filtered(self, model, rows, p, request, label, **sample_options):
        """The label filter judged by the local CNN trained on ``request.data``
        (:func:`~simulacra.experiments.filters.filtered_images`)."""
        from simulacra.experiments.filters import filtered_images

        real = self.load(request.data, **self.loader_options(request))
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

    def bench(self, job: BenchJob) -> dict[str, Any]:
        """A generator's run (:meth:`LabelledModality.bench`), or for a restoration model
        (``restore``) :func:`restoration_bench`."""
        from simulacra.synthesizers import model_class

        if hasattr(model_class(job.name), "restore"):
            return restoration_bench(job, self.bench_source(job))
        return super().bench(job)

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


def restoration_model(path: Any, where: str) -> Any:
    """The fitted restoration model (``restore``) in folder ``path``, for ``prepare --restore`` and
    the augmentation op ``restore`` (``where`` names the option in messages).

    Raises
    ------
    ConfigError
        ``path`` is not a model folder, or holds another model.
    """
    from pathlib import Path

    from simulacra.errors import ConfigError
    from simulacra.synthesizers import BaseSynthesizer

    if not (Path(path) / "config.json").is_file():
        raise ConfigError(
            f"{where}: {path}: not a model folder; fit one with simulacra fit DATA --model restore"
        )
    model = BaseSynthesizer.load(path)
    if not hasattr(model, "round_trip"):
        raise ConfigError(
            f"{where}: {path} holds a {model.name} model, not a restoration model; fit one with "
            "simulacra fit DATA --model restore --param task=denoise"
        )
    return model


def restoration_bench(job: BenchJob, found: Source) -> dict[str, Any]:
    """Fit a restoration model on the training images (timed), then degrade at most ``job.rows`` real
    test images, restore them (timed: ``sample_rows_per_s`` is restored images per second) and score
    them (:func:`~simulacra.evaluate.restoration.evaluate_restoration`): ``psnr`` and ``ssim`` of
    the model, with the degraded input and the task's baseline as reference rows. With
    ``job.report_dir``, ``<report_dir>/<name>/examples.png`` shows ten test images: clean,
    degraded, the baseline's and the model's restoration, one row each.

    Raises
    ------
    ConfigError
        No real test images (``--test``, or a bundled set).
    """
    import time

    import numpy as np

    from simulacra.errors import ConfigError
    from simulacra.evaluate.restoration import baseline, evaluate_restoration
    from simulacra.io import atomic_write_bytes, make_grid, png_bytes
    from simulacra.modalities.benchmarking import peak_rss_mb
    from simulacra.synthesizers import make

    if found.test is None:
        raise ConfigError("a restoration model is scored on real test images; give `test`")
    model = make(job.name, **job.params)
    start = time.perf_counter()
    model.fit(found.train)
    fit_s = time.perf_counter() - start
    held = found.test.subset(np.arange(min(len(found.test), int(job.rows))))
    start = time.perf_counter()
    scores = evaluate_restoration(model, held, seed=job.seed)
    restore_s = time.perf_counter() - start
    rows = scores["rows"]
    result = {
        "model": job.name,
        "modality": "image",
        "params": model.get_params(),
        "fit_s": fit_s,
        "epochs": model.epochs_trained_,
        "sample_rows_per_s": len(held) / max(restore_s, 1e-9),
        "task": model.task + (f" ×{int(model.scale)}" if model.task == "superres" else ""),
        **rows["model"],
        "peak_rss_mb": peak_rss_mb(),
        "restoration": scores,
    }
    if job.references:
        result["references"] = {
            **({"degraded input": rows["degraded"]} if "degraded" in rows else {}),
            scores["baseline"]: rows["baseline"],
        }
    if job.report_dir is not None:
        ten = held.subset(np.arange(min(10, len(held))))
        degraded, mask = model.degrade(ten, seed=job.seed)
        scale = int(model.scale)
        shown = degraded.images
        if model.task == "superres":  # the low-resolution input, enlarged without interpolation
            shown = shown.repeat(scale, axis=2).repeat(scale, axis=3)
        stacked = np.concatenate(
            [
                ten.images,
                shown,
                baseline(model.task, degraded.images, mask, scale),
                model.restore(degraded, mask).images,
            ]
        )
        picture = png_bytes(make_grid(stacked, len(ten)), scale=3)
        (job.report_dir / job.name).mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(job.report_dir / job.name / "examples.png", picture, force=True)
    return result


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
