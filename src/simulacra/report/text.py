"""The report of a text evaluation: ``metrics.json`` and one self-contained ``report.html``.

The page shows the metric table; the fidelity, diversity and memorisation numbers of the synthetic texts
beside the reference rows (real test texts: the ceiling; shuffled words; random text: no learning) and
the real training texts' own diversity, so each scale is readable; samples of each class beside their
nearest training text (cosine similarity of TF-IDF features, exact copies flagged); and the training
curves. All text is HTML-escaped (Jinja2 autoescaping): a synthetic message cannot inject markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulacra.evaluate import Evaluation
from simulacra.report.html import WrittenReport, _templates
from simulacra.report.image import _curves

#: the reference table's columns: (metric key, heading, format)
REFERENCE_COLUMNS = [
    ("length_similarity", "length sim.", "{:.3f}"),
    ("unigram_js", "unigram JS", "{:.3f}"),
    ("bigram_js", "bigram JS", "{:.3f}"),
    ("frechet", "Fréchet", "{:.4f}"),
    ("detection_text", "detection", "{:.3f}"),
    ("distinct_1", "distinct-1", "{:.3f}"),
    ("distinct_2", "distinct-2", "{:.3f}"),
    ("distinct_3", "distinct-3", "{:.3f}"),
    ("self_bleu", "self-BLEU", "{:.3f}"),
    ("exact_copy_rate", "exact copies", "{:.1%}"),
    ("longest_shared_ngram", "shared n-gram", "{:.0f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
    ("tstr_accuracy", "TSTR acc.", "{:.3f}"),
    ("minority_f1", "TSTR minority F1", "{:.3f}"),
]


def reference_rows(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The synthetic row, the real training texts' own diversity and the reference rows, each as
    ``{"name", "cells": [str]}`` in :data:`REFERENCE_COLUMNS` order (``–`` where a row has no value)."""
    flat = evaluation.flat()
    rows = [("synthetic", flat), ("real training (own diversity)", evaluation.details.get("real", {}))]
    rows += list(evaluation.details.get("references", {}).items())
    return [
        {
            "name": name,
            "cells": ["–" if v.get(k) is None else fmt.format(v[k]) for k, _, fmt in REFERENCE_COLUMNS],
        }
        for name, v in rows
    ]


class TextReport(WrittenReport):
    """A text :class:`~simulacra.evaluate.Evaluation` with its samples.

    Parameters
    ----------
    evaluation: from :func:`simulacra.evaluate.text.evaluate_texts`.
    title: the page title.
    info: run facts shown at the top and stored in ``metrics.json`` (model, texts, seconds, …).
    history: the model's per-epoch losses (``history_``), drawn as training curves.
    counts: ``{"real": int, "synthetic": int}`` texts, shown under the title.
    """

    def __init__(
        self,
        evaluation: Evaluation,
        *,
        title: str = "simulacra text report",
        info: dict[str, Any] | None = None,
        history: list[dict[str, float]] | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.evaluation = evaluation
        self.title = title
        self.info = dict(info or {})
        self.history = list(history or [])
        self.counts = dict(counts or {})

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "info": self.info, **self.evaluation.to_dict(), "history": self.history}

    def render(self) -> str:
        return (
            _templates()
            .get_template("text_report.html.j2")
            .render(
                title=self.title,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                info=self.info,
                counts=self.counts,
                rows=self.evaluation.rows(),
                skipped=self.evaluation.skipped,
                columns=[title for _, title, _ in REFERENCE_COLUMNS],
                references=reference_rows(self.evaluation),
                neighbours=self.evaluation.details.get("neighbours", []),
                curves=_curves(self.history) if self.history else None,
            )
        )
