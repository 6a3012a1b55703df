"""The text modality: labelled texts in a table, class folders of ``.txt`` files, ``label<TAB>text``
lines (the SMS Spam Collection's format) or a bundled set."""

from __future__ import annotations

from typing import Any

from simulacra.errors import DataError
from simulacra.modalities.base import Augmented, EvaluateOptions, Sampled, Source, Status
from simulacra.modalities.benchmarking import BenchJob
from simulacra.modalities.labelled import LabelledModality
from simulacra.requests import AugmentRequest, SampleRequest

#: the columns of a text benchmark: ``(result key, title, format)``
BENCH_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "texts/s", "{:,.1f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("tstr_accuracy", "TSTR acc", "{:.3f}"),
    ("minority_f1", "TSTR minority F1", "{:.3f}"),
    ("trtr_accuracy", "TRTR acc", "{:.3f}"),
    ("trtr_minority_f1", "TRTR minority F1", "{:.3f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
    ("exact_copy_rate", "exact copies", "{:.1%}"),
    ("holdout_copy_rate", "holdout copies", "{:.1%}"),
    ("distinct_2", "distinct-2", "{:.3f}"),
    ("real_distinct_2", "real distinct-2", "{:.3f}"),
    ("self_bleu", "self-BLEU", "{:.3f}"),
    ("frechet", "Fréchet", "{:.4f}"),
    ("detection_text", "detection", "{:.3f}"),
    ("perplexity", "perplexity", "{:.1f}"),
    ("bits_per_char", "bits/char", "{:.2f}"),
]
#: the EDA pipeline whose effect on TRTR a text benchmark reports (``reference: real + EDA``)
EDA_STEPS = [
    {"op": "synonym_replacement", "p": 0.1},
    {"op": "random_insertion", "p": 0.1},
    {"op": "random_swap", "p": 0.1},
    {"op": "random_deletion", "p": 0.1},
]


class TextModality(LabelledModality):
    """Labelled texts (:class:`~simulacra.io.TextSet`), scored on TF-IDF features (TSTR/TRTR, label
    agreement, C2ST, Fréchet distance, diversity, copies). The loader options are ``text_column`` and
    ``label_column``; naming a ``text_column`` makes any table a text source."""

    name = "text"
    unit = "texts"
    default_model = "textgpt"
    mix_model = "textgpt"
    bench_models = ("textgpt",)
    bench_columns = BENCH_COLUMNS
    bench_warmup = 32
    token_controls = True

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

    def sample(
        self, model: Any, request: SampleRequest, conditions: dict[str, Any], status: Status
    ) -> Sampled:
        """Class-balanced texts (or one class with ``conditions``), with the sampling controls
        (temperature, top-k, top-p) checked by the model before any work; texts that copy a training
        text are drawn again unless ``keep_copies``. The label filter keeps the texts that TF-IDF +
        logistic regression, trained on ``request.data``, does not give another class with at least
        the filter's confidence, and draws more in their place."""
        from contextlib import nullcontext

        from simulacra.experiments.filters import summarise
        from simulacra.io import check_table_target, is_sql_url, output_lock
        from simulacra.validation import check_rows

        r = request
        label_p = self.label_filter(r)
        rows = check_rows(r.rows)
        check_table_target(r.output, rows=rows, force=r.force)  # format, size and place, before sampling
        probe = {
            "temperature": r.temperature,
            "top_k": r.top_k,
            "top_p": r.top_p,
            "drop_copies": not r.keep_copies,
        }
        model.sample(0, **probe)  # every control checked before any work
        records: list[dict[str, Any]] = []
        with nullcontext() if is_sql_url(r.output) else output_lock(r.output):
            if label_p is None:
                texts = model.sample(rows, conditions=conditions or None, seed=r.seed, progress=True, **probe)
                if model.copies_dropped_:
                    status.note(f"drew {model.copies_dropped_:,} texts again that copied a training text")
            else:
                texts, found = self.filtered(model, rows, label_p, r, conditions.get("label"), **probe)
                records = summarise(found)
            where = self.write(texts, r.output, force=r.force)
        classes = None
        if texts.labels is not None:
            classes = dict(zip(texts.class_names, (int(k) for k in texts.class_counts()), strict=True))
        return Sampled(len(texts), where, self.unit, classes, "label", records)

    def loader_options(self, request: Any) -> dict[str, Any]:
        """The text and label columns a request names."""
        return {"text_column": request.text_column, "label_column": request.label_column}

    def downstream(self) -> Any:
        """TF-IDF + logistic regression (:class:`~simulacra.experiments.mix.TfidfDownstream`)."""
        from simulacra.experiments.mix import TfidfDownstream

        return TfidfDownstream()

    def filtered(self, model, rows, p, request, label, **sample_options):
        """The label filter judged by TF-IDF + logistic regression trained on ``request.data``
        (:func:`~simulacra.experiments.filters.filtered_texts`)."""
        from simulacra.experiments.filters import filtered_texts

        real = self.load(request.data, **self.loader_options(request))
        return filtered_texts(model, rows, p, real, label=label, seed=request.seed, **sample_options)

    def check_best_target(self, path: str, force: bool) -> None:
        """A table file or SQL URL (columns ``text``, ``label``)."""
        from simulacra.io import check_table_target

        check_table_target(path, rows=1, force=force)

    def augment(self, request: AugmentRequest, status: Status) -> Augmented:
        """EDA copies (synonym replacement, random insertion, swap, deletion), keyboard typos and
        ``lm_rewrite`` steps (a fitted text model rewrites spans); with labelled test texts, the effect
        line is TRTR (TF-IDF + logistic regression) with and without the copies."""
        from simulacra.augment.text import TextAugmenter, augment_texts
        from simulacra.io import check_table_target, output_lock

        r = request
        augmenter = TextAugmenter.from_yaml(r.pipeline)  # the pipeline, before any text is read
        rewriters = {}
        for folder in augmenter.models:  # lm_rewrite steps: each model loaded (and checked) first
            from simulacra.synthesizers.text import TextSynthesizer

            lm = TextSynthesizer.load(folder)
            rewriters[folder] = lambda part, keep, s, lm=lm: lm.rewrite(part, keep=keep, seed=s)
        found = self.resolve(r.source, test=r.test, **self.loader_options(r))
        texts, held = found.train, found.test
        check_table_target(str(r.output), rows=len(texts) * r.copies, force=r.force)
        with output_lock(r.output):
            with status.busy(f"augmenting {len(texts)} texts × {r.copies}"):
                out = augment_texts(texts, augmenter, copies=r.copies, seed=r.seed, rewriters=rewriters)
            where = self.write(out, str(r.output), force=r.force)
        effect = None
        if held is not None and texts.labels is not None and held.labels is not None:
            from simulacra.evaluate.text import augmentation_effect

            with status.busy("TRTR with and without the augmented copies"):
                e = augmentation_effect(texts, out, held, seed=r.seed)
            effect = (
                f"TRTR (TF-IDF + logistic regression) on {len(held)} test texts: accuracy {e['accuracy']:.3f} → "
                f"{e['augmented_accuracy']:.3f} with the copies; {e['minority_class']} F1 {e['minority_f1']:.3f} → "
                f"{e['augmented_minority_f1']:.3f}"
            )
        return Augmented(len(out), where, self.unit, effect)

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        from simulacra.workflow import evaluate_text_sets

        with options.status.busy("evaluating texts (TF-IDF features, classifiers, reference rows)"):
            return evaluate_text_sets(
                real.train,
                synthetic,
                real.test,
                seed=options.seed,
                title=options.title,
                model=options.model,
                info=options.info,
            )

    def bench_size(self, train: Any, rows: int) -> int:
        """At most as many texts as the training set."""
        return min(int(rows), len(train))

    def bench_extras(self, job: BenchJob, model: Any, found: Source, evaluation: Any) -> dict[str, Any]:
        """The real texts' distinct-2 and, with ``job.references``, the reference rows (real test,
        shuffled words, random text) and ``real + EDA``: TRTR with one EDA copy of every training text
        (:data:`EDA_STEPS`) added."""
        extra: dict[str, Any] = {"real_distinct_2": evaluation.details["real"]["distinct_2"]}
        if job.references:
            train, real_test = found.train, found.test
            refs = dict(evaluation.details.get("references", {}))
            if real_test is not None and train.labels is not None:
                from simulacra.augment.text import TextAugmenter, augment_texts
                from simulacra.evaluate.text import augmentation_effect

                copies = augment_texts(train, TextAugmenter(EDA_STEPS), copies=1, seed=job.seed)
                e = augmentation_effect(train, copies, real_test, seed=job.seed)
                refs["real + EDA (TRTR with one copy)"] = {
                    "trtr_accuracy": e["augmented_accuracy"],
                    "trtr_minority_f1": e["augmented_minority_f1"],
                }
            extra["references"] = refs
        return extra
