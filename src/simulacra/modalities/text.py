"""The text modality: labelled texts in a table, class folders of ``.txt`` files, ``label<TAB>text``
lines (the SMS Spam Collection's format) or a bundled set."""

from __future__ import annotations

from typing import Any

from simulacra.errors import DataError
from simulacra.modalities.base import EvaluateOptions, Modality, Source


class TextModality(Modality):
    """Labelled texts (:class:`~simulacra.io.TextSet`), scored on TF-IDF features (TSTR/TRTR, label
    agreement, C2ST, Fréchet distance, diversity, copies). The loader options are ``text_column`` and
    ``label_column``; naming a ``text_column`` makes any table a text source."""

    name = "text"
    unit = "texts"
    default_model = "textgpt"
    bench_models = ("textgpt",)

    def recognises(self, source: str, **options: Any) -> bool:
        from simulacra.workflow import is_text_source

        return is_text_source(source, options.get("text_column"))

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        from simulacra.workflow import load_texts

        columns = {k: options.get(k) for k in ("text_column", "label_column")}
        return load_texts(source, part=part, **columns)

    def read_synthetic(self, path: str, **options: Any) -> Any:
        try:
            return self.load(path, **options)
        except DataError as first:  # simulacra's own samples name their columns text and label
            try:
                return self.load(path)
            except DataError:
                raise first from None

    def write(self, data: Any, path: str, *, force: bool = False) -> str:
        from simulacra.io import write_table

        return str(write_table(data.to_frame(), path, force=force))  # columns text and label

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        from simulacra.workflow import evaluate_text_sets

        with options.status.busy("evaluating texts (TF-IDF features, classifiers, reference rows)"):
            return evaluate_text_sets(
                real.train, synthetic, real.test, seed=options.seed, title=options.title, model=options.model
            )
