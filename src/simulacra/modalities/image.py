"""The image modality: class folders of pictures, an ``.npz`` archive, IDX files or a bundled set."""

from __future__ import annotations

from typing import Any

from simulacra.modalities.base import EvaluateOptions, Modality, Source


class ImageModality(Modality):
    """Labelled images (:class:`~simulacra.io.ImageSet`, uint8 ``(N, C, H, W)``), scored by a local
    classifier trained here (Fréchet distance, KID, precision/recall, TSTR, memorisation)."""

    name = "image"
    unit = "images"
    default_model = "cgan"
    bench_models = ("dcgan", "cgan", "vae", "cvae")

    def recognises(self, source: str, **options: Any) -> bool:
        from simulacra.workflow import is_image_source

        return options.get("text_column") is None and is_image_source(source)

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        from simulacra.workflow import load_images

        return load_images(source, part=part)

    def read_synthetic(self, path: str, **options: Any) -> Any:
        from simulacra.io import ImageSet

        return ImageSet.read(path)  # a sample is a file or folder, never a bundled name

    @staticmethod
    def check_output(path: str) -> None:
        """Refuse, before any work, an output images cannot be written to.

        Raises
        ------
        ConfigError
            ``path`` is an SQL URL or a file that is not ``.npz``.
        """
        from pathlib import Path

        from simulacra.errors import ConfigError
        from simulacra.io import is_sql_url

        if is_sql_url(str(path)) or Path(path).suffix not in ("", ".npz"):
            raise ConfigError(f"{path}: image samples go to an .npz file or a folder (a name without suffix)")

    def write(self, data: Any, path: str, *, force: bool = False) -> str:
        """An ``.npz`` archive (``images``, ``labels``, ``class_names``) or, for a name without a
        suffix, a folder of PNG files per class."""
        from pathlib import Path

        self.check_output(path)
        target = Path(path)
        written = (
            data.to_npz(target, force=force)
            if target.suffix == ".npz"
            else data.to_folder(target, force=force)
        )
        return str(written)

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        from simulacra.workflow import evaluate_image_sets

        with options.status.busy("evaluating images (the local classifier trains once per dataset)"):
            return evaluate_image_sets(
                real.train, synthetic, real.test, seed=options.seed, title=options.title, model=options.model
            )
