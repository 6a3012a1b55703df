"""The report of an image evaluation: ``metrics.json`` and one self-contained ``report.html``.

The page shows the metric table, FID/KID/precision/recall of the synthetic images beside three reference
rows (real test images: the floor; Gaussian-blurred real images; uniform noise) so the local FID's scale
is readable, a grid of synthetic images per class beside real ones, each of the first synthetic images
beside its nearest training image (the memorisation check made visible), the training curves and the
sample grids drawn during training. Every picture is an inline base64 PNG.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from simulacra.evaluate import Evaluation
from simulacra.io import ImageSet, make_grid, png_bytes
from simulacra.report.html import WrittenReport, _png, _templates

PER_CLASS = 10


def _b64(picture: np.ndarray, scale: int = 2) -> str:
    return base64.b64encode(png_bytes(picture, scale=scale)).decode("ascii")


def _class_grid(images: ImageSet, seed: int) -> str:
    """``PER_CLASS`` images of each class in a row (10×10 unlabelled)."""
    rng = np.random.default_rng(seed)
    if images.labels is None:
        pick = rng.choice(len(images), min(len(images), PER_CLASS * PER_CLASS), replace=False)
        return _b64(make_grid(images.images[np.sort(pick)], PER_CLASS))
    rows = []
    for k in range(len(images.class_names)):
        idx = np.flatnonzero(images.labels == k)
        idx = rng.choice(idx, min(len(idx), PER_CLASS), replace=False) if len(idx) else idx
        row = np.full((PER_CLASS, *images.images.shape[1:]), 255, dtype=np.uint8)
        row[: len(idx)] = images.images[np.sort(idx)]
        rows.append(row)
    return _b64(make_grid(np.concatenate(rows), PER_CLASS))


def _curves(history: list[dict[str, float]]) -> str:
    keys = list(history[0])
    fig = Figure(figsize=(3.0 * len(keys), 2.4))
    axes = fig.subplots(1, len(keys))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        ax.plot(range(1, len(history) + 1), [h[key] for h in history], color="#1f77b4")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


class ImageReport(WrittenReport):
    """An image :class:`~simulacra.evaluate.Evaluation` with its pictures.

    Parameters
    ----------
    evaluation: from :func:`simulacra.evaluate.image.evaluate_images`.
    real, synthetic: the real training images and the synthetic images.
    title: the page title.
    info: run facts shown at the top and stored in ``metrics.json`` (model, images, seconds, …).
    history: the model's per-epoch losses (``history_``), drawn as training curves.
    grids: the model's ``grids_`` ``[(epoch, uint8 (H, W, C))]``, shown in order.
    seed: which images the class grids show.
    """

    def __init__(
        self,
        evaluation: Evaluation,
        real: ImageSet,
        synthetic: ImageSet,
        *,
        title: str = "simulacra image report",
        info: dict[str, Any] | None = None,
        history: list[dict[str, float]] | None = None,
        grids: list[tuple[int, np.ndarray]] | None = None,
        seed: int = 0,
    ) -> None:
        self.evaluation = evaluation
        self.real = real
        self.synthetic = synthetic
        self.title = title
        self.info = dict(info or {})
        self.history = list(history or [])
        self.grids = list(grids or [])
        self.seed = seed

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "info": self.info, **self.evaluation.to_dict(), "history": self.history}

    def render(self) -> str:
        details = self.evaluation.details
        references = [{"name": "synthetic", **details.get("synthetic", {})}]
        references += [{"name": k, **v} for k, v in details.get("references", {}).items()]
        neighbours = []
        nn = details.get("neighbours", {})
        for i, j, d in zip(nn.get("synthetic", []), nn.get("train", []), nn.get("distance", []), strict=True):
            pair = np.stack([self.synthetic.images[i], self.real.images[j]])
            neighbours.append({"png": _b64(make_grid(pair, 2), scale=3), "distance": d})
        return (
            _templates()
            .get_template("image_report.html.j2")
            .render(
                title=self.title,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                info=self.info,
                rows=self.evaluation.rows(),
                skipped=self.evaluation.skipped,
                references=references,
                synthetic_grid=_class_grid(self.synthetic, self.seed),
                real_grid=_class_grid(self.real, self.seed),
                neighbours=neighbours,
                curves=_curves(self.history) if self.history else None,
                grids=[{"epoch": e, "png": _b64(g, scale=1)} for e, g in self.grids],
                n_real=len(self.real),
                n_synth=len(self.synthetic),
            )
        )
