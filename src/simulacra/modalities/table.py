"""The table modality: a file (CSV, Parquet, JSONL, Excel, …), an SQL table or a bundled dataset."""

from __future__ import annotations

from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities.base import EvaluateOptions, FitData, FitOptions, Modality, Source, Status

#: categories above which a neural model's one-hot layout gets slow and large (a warning, not a limit)
WIDE_CATEGORICAL = 1000


class TableModality(Modality):
    """Tables: rows of typed columns with :class:`~simulacra.metadata.Metadata`. Any source that no
    other plug-in recognises is read as a table, so this plug-in is asked last."""

    name = "table"
    unit = "rows"
    default_model = "mixture"
    bench_models = ("mixture", "diffusion", "copula", "ctgan", "tvae")
    privacy_attacks = True

    def recognises(self, source: str, **options: Any) -> bool:
        return True

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        from simulacra.workflow import load_source

        return load_source(source, part=part)

    def resolve(
        self, source: str, *, test: str | None = None, target: str | None = None, **options: Any
    ) -> Source:
        from simulacra.workflow import resolve_table

        found = resolve_table(source, test=test, target=target)
        return Source(source, found.train, found.test, found.target, explicit_test=test is not None)

    def write(self, data: Any, path: str, *, force: bool = False) -> str:
        from simulacra.io import write_table

        return str(write_table(data, path, force=force))

    def fit_data(self, source: str, model: Any, options: FitOptions, status: Status) -> FitData:
        """The rows a table fit reads (at most ``options.max_rows``, a stratified sample beyond, the
        whole table for a DP model or a refusal) and their metadata with the overrides; for a neural
        model, where its batches come from (``--all-rows`` streams every row from disk)."""
        from simulacra.io import redact_url
        from simulacra.workflow import load_fit_table, stream_rows, table_metadata

        with status.busy(f"reading {redact_url(source)}"):
            data, sampled = load_fit_table(
                source,
                max_rows=options.max_rows,
                stratify=options.stratify,
                seed=model.get_params().get("seed", 0),
                private=model.differentially_private,
            )
        if sampled is not None:
            status.note(sampled.describe())
        meta = table_metadata(data, options.metadata)
        self._warn_wide_categoricals(model, meta, data, status)
        batches = None
        if model.streams_training_rows:
            batches = {"batch_source": options.batch_source or "auto"}
            if options.all_rows and sampled is not None:
                batches |= {"rows": stream_rows(source, data), "expected_rows": sampled.stats.rows}
                status.note(
                    f"training on all {sampled.stats.rows:,} rows from a memory-mapped file; "
                    "the encoding is fitted on the sample"
                )
        return FitData((data, meta), f"{len(data)} rows", batches)

    @staticmethod
    def _warn_wide_categoricals(model: Any, metadata: Any, data: Any, status: Status) -> None:
        """Neural models one-hot every category: warn, with the fix, before a fit that would take
        minutes per epoch and write huge weights."""
        if not model.trains_in_epochs:
            return
        for name in metadata.names_of("categorical"):
            levels = int(data[name].nunique())
            if levels > WIDE_CATEGORICAL:
                status.note(
                    f"warning: column {name!r} has {levels:,} categories; {model.name} one-hots "
                    f"each, which makes epochs slow and the model file large; group rare categories first "
                    f"('simulacra prepare' with rare: {{max_categories: 50}}) or use --model copula"
                )

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        from simulacra.workflow import evaluate_tables, table_metadata

        privacy = options.privacy
        meta = table_metadata(real.train, options.metadata, real.target)
        # a bundled dataset's test part is a holdout too, used when asked for (--test) or needed (--privacy)
        holdout = real.test if real.explicit_test or privacy else None
        if privacy and holdout is None:
            raise ConfigError("--privacy needs real rows the model never saw: give --test HOLDOUT")
        with options.status.busy("evaluating" + (" (with the privacy attacks)" if privacy else "")):
            return evaluate_tables(
                real.train,
                synthetic,
                meta,
                test=holdout,
                target=real.target,
                seed=options.seed,
                title=options.title,
                privacy_attacks=privacy,
            )
