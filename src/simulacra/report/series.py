"""The report of a time-series evaluation: ``metrics.json`` and one self-contained ``report.html``.

The page shows the metric table; the discriminative score, Context-FID and correlational score beside
the reference rows (real test windows:
what a perfect generator scores; real windows with their steps shuffled: the right values in the wrong
order; rows shuffled across time: no temporal structure at all); real and synthetic series overlaid; the
autocorrelation functions; a PCA of the windows (as the TimeGAN paper shows); and the training curves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from simulacra.evaluate import Evaluation
from simulacra.io.series import SeriesSet
from simulacra.report.html import REAL, SYNTH, WrittenReport, _png, _templates
from simulacra.report.image import _curves

#: the most columns drawn, and the most steps of each series
MAX_COLUMNS, MAX_STEPS = 6, 400


def _overlay(real: list[np.ndarray], synthetic: list[np.ndarray], names: list[str]) -> str:
    k = min(MAX_COLUMNS, len(names))
    fig = Figure(figsize=(9, 1.6 * k))
    axes = np.atleast_1d(fig.subplots(k, 1))
    r, s = real[0][:MAX_STEPS], synthetic[0][:MAX_STEPS]
    for j, ax in enumerate(axes):
        ax.plot(r[:, j], color=REAL, lw=0.9, label="real")
        ax.plot(s[:, j], color=SYNTH, lw=0.9, label="synthetic")
        ax.set_ylabel(names[j][:14], fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("step (scaled values)", fontsize=8)
    return _png(fig)


def _acf(acf: dict[str, list[list[float]]], names: list[str]) -> str:
    real, synth = np.asarray(acf["real"]), np.asarray(acf["synthetic"])
    k = min(MAX_COLUMNS, len(names))
    fig = Figure(figsize=(2.2 * k, 2.2))
    axes = np.atleast_1d(fig.subplots(1, k))
    lags = np.arange(1, len(real) + 1)
    for j, ax in enumerate(axes):
        ax.plot(lags, real[:, j], "o-", color=REAL, ms=3, label="real")
        ax.plot(lags, synth[:, j], "o-", color=SYNTH, ms=3, label="synthetic")
        ax.set_title(names[j][:14], fontsize=8)
        ax.set_ylim(-1.05, 1.05)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _pca(real: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> str:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    a = real[rng.permutation(len(real))[:1000]].reshape(min(1000, len(real)), -1)
    b = synthetic[rng.permutation(len(synthetic))[:1000]].reshape(min(1000, len(synthetic)), -1)
    pca = PCA(n_components=2, random_state=seed).fit(a)
    fig = Figure(figsize=(4, 3.4))
    ax = fig.subplots()
    for w, color, label in ((a, REAL, "real"), (b, SYNTH, "synthetic")):
        p = pca.transform(w)
        ax.scatter(p[:, 0], p[:, 1], s=4, alpha=0.4, color=color, label=label)
    ax.set_title("PCA of 24-step windows", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


class SeriesReport(WrittenReport):
    """A time-series :class:`~simulacra.evaluate.Evaluation` with its pictures.

    Parameters
    ----------
    evaluation : Evaluation
        From :func:`simulacra.evaluate.series.evaluate_series`.
    real, synthetic : SeriesSet
        The real training series and the synthetic one (plotted scaled to the real range).
    title : str
        The page title.
    info : dict or None
        Run facts shown at the top and stored in ``metrics.json``.
    history : list of dict or None
        The model's per-epoch losses, drawn as training curves.
    """

    def __init__(
        self,
        evaluation: Evaluation,
        real: SeriesSet,
        synthetic: SeriesSet,
        *,
        title: str = "simulacra series report",
        info: dict[str, Any] | None = None,
        history: list[dict[str, float]] | None = None,
    ) -> None:
        self.evaluation = evaluation
        self.real, self.synthetic = real, synthetic
        self.title = title
        self.info = dict(info or {})
        self.history = list(history or [])

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "info": self.info, **self.evaluation.to_dict(), "history": self.history}

    def render(self) -> str:
        from simulacra.evaluate.series import Scaler, window_length, windows

        scaler = Scaler(self.real)
        real, synth = scaler.sequences(self.real), scaler.sequences(self.synthetic)
        names = scaler.columns
        length = window_length(real)
        refs = self.evaluation.details.get("references", {})
        flat = self.evaluation.flat()
        keys = ("discriminative_score", "context_fid", "correlational_score")
        references = [{"name": "synthetic", **{k: flat.get(k) for k in keys}}]
        references += [{"name": name, **{k: v.get(k) for k in keys}} for name, v in refs.items()]
        return (
            _templates()
            .get_template("series_report.html.j2")
            .render(
                title=self.title,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                info=self.info,
                counts={"real training": self.real.describe(), "synthetic": self.synthetic.describe()},
                rows=self.evaluation.rows(),
                skipped=self.evaluation.skipped,
                references=references,
                overlay=_overlay(real, synth, names),
                acf=_acf(self.evaluation.details["acf"], names) if "acf" in self.evaluation.details else None,
                pca=_pca(windows(real, length), windows(synth, length)),
                curves=_curves(self.history) if self.history else None,
            )
        )
