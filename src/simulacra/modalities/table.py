"""The table modality: a file (CSV, Parquet, JSONL, Excel, …), an SQL table or a bundled dataset."""

from __future__ import annotations

from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities.base import (
    EvaluateOptions,
    FitData,
    MixRun,
    Modality,
    Sampled,
    Source,
    Status,
    curve_options,
    parts_folder,
)
from simulacra.modalities.benchmarking import BenchJob
from simulacra.requests import FitRequest, MixRequest, SampleRequest

#: categories above which a neural model's one-hot layout gets slow and large (a warning, not a limit)
WIDE_CATEGORICAL = 1000


#: the columns of a table benchmark: ``(result key, title, format)``
BENCH_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "sample rows/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("column_shapes", "shapes", "{:.3f}"),
    ("column_pair_trends", "trends", "{:.3f}"),
    ("detection_xgb", "detection (XGB)", "{:.3f}"),
    ("detection", "detection (logistic)", "{:.3f}"),
    ("detection_gbm", "detection (GBM)", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("tstr_roc_auc", "TSTR AUC", "{:.3f}"),
    ("trtr_roc_auc", "TRTR AUC", "{:.3f}"),
    ("tstr_r2", "TSTR R²", "{:.3f}"),
    ("trtr_r2", "TRTR R²", "{:.3f}"),
    ("dcr_share", "DCR share", "{:.3f}"),
    ("exact_copy_rate", "exact copies", "{:.2%}"),
    ("epsilon", "ε spent", "{:.2f}"),
    ("membership_auc", "MIA AUC (DOMIAS)", "{:.3f}"),
    ("membership_tpr_at_1pct_fpr", "MIA TPR@1%FPR", "{:.3f}"),
    ("dcr_membership_auc", "MIA AUC (DCR)", "{:.3f}"),
    ("singling_out_risk", "singling out", "{:.3f}"),
    ("linkability_risk", "linkability", "{:.3f}"),
    ("inference_risk", "inference", "{:.3f}"),
    ("real_identifiers", "real ids", "{:.0f}"),
]


class TableModality(Modality):
    """Tables: rows of typed columns with :class:`~simulacra.metadata.Metadata`. Any source that no
    other plug-in recognises is read as a table, so this plug-in is asked last."""

    name = "table"
    unit = "rows"
    default_model = "mixture"
    mix_model = "mixture"
    bench_models = ("mixture", "diffusion", "copula", "ctgan", "tvae")
    bench_columns = BENCH_COLUMNS
    privacy_attacks = True
    tunable = True
    preparable = True
    bench_reports = False
    bench_temperatures = True

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

    def fit_data(self, request: FitRequest, model: Any, status: Status) -> FitData:
        """The rows a table fit reads (at most ``request.max_rows``, a stratified sample beyond, the
        whole table for a DP model or a refusal) and their metadata with the overrides; for a neural
        model, where its batches come from (``--all-rows`` streams every row from disk)."""
        from simulacra.io import redact_url
        from simulacra.workflow import load_fit_table, stream_rows, table_metadata

        source = request.source
        with status.busy(f"reading {redact_url(source)}"):
            data, sampled = load_fit_table(
                source,
                max_rows=request.max_rows,
                stratify=request.stratify,
                seed=model.get_params().get("seed", 0),
                private=model.differentially_private,
            )
        if sampled is not None:
            status.note(sampled.describe())
        meta = table_metadata(data, request.metadata)
        self._warn_wide_categoricals(model, meta, data, status)
        batches = None
        if model.streams_training_rows:
            batches = {"batch_source": request.batch_source or "auto"}
            if request.all_rows and sampled is not None:
                batches |= {"rows": stream_rows(source, data), "expected_rows": sampled.stats.rows}
                status.note(
                    f"training on all {sampled.stats.rows:,} rows from a memory-mapped file; "
                    "the encoding is fitted on the sample"
                )
        return FitData((data, meta), f"{len(data)} rows", batches)

    def advice(self, model: Any, data: FitData) -> str | None:
        """The advice line (:mod:`simulacra.synthesizers.advice`) when a model other than the suggested
        one was fitted; never for a DP model, whose choice is about privacy."""
        if model.differentially_private:
            return None
        from simulacra.synthesizers.advice import advise

        advice = advise(data.data, data.metadata)
        return advice.line() if advice.model != model.name else None

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
                    f"('simulacra prepare' with rare: {{max_categories: 50}}) or use `model` copula"
                )

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        from simulacra.workflow import evaluate_tables, table_metadata

        privacy = options.privacy
        meta = table_metadata(real.train, options.metadata, real.target)
        # a bundled dataset's test part is a holdout too, used when asked for (--test) or needed (--privacy)
        holdout = real.test if real.explicit_test or privacy else None
        if privacy and holdout is None:
            raise ConfigError("`privacy` needs real rows the model never saw: give `test` HOLDOUT")
        with options.status.busy("evaluating" + (" (with the privacy attacks)" if privacy else "")):
            return evaluate_tables(
                real.train,
                synthetic,
                meta,
                test=holdout,
                target=real.target,
                seed=options.seed,
                title=options.title,
                info=options.info,
                preparation=options.preparation,
                filtering=options.filtering,
                privacy_attacks=privacy,
                model_privacy=getattr(options.model, "privacy_", None),
            )

    # ------------------------------------------------------------------ mix
    def mix(self, request: MixRequest, models: list[str], settings: Any, status: Status) -> MixRun:
        """Mixing curves of each model and, with ``balance``, class balancing against random
        oversampling, SMOTE and SMOTE-NC, all scored on the real test rows by the downstream models;
        with ``write_best``, the best mixed training set is kept."""
        from simulacra.experiments import balancing_comparison, mixing_curves
        from simulacra.experiments.mix import MixResult
        from simulacra.io import check_table_target
        from simulacra.workflow import is_bundled, resolve_table, table_metadata

        r = request
        if r.write_best:
            check_table_target(r.write_best, rows=1, force=r.force)
        # only a bundled dataset brings its own target and test rows: refused before the data is read
        if r.target is None and r.balance is None and not is_bundled(r.source):
            raise ConfigError("mix needs a column to predict; give `target` COLUMN")
        if r.test is None and not is_bundled(r.source):
            raise ConfigError("mix scores every variant on real test rows; give `test` TABLE")
        src = resolve_table(r.source, test=r.test, target=r.target or r.balance)
        target = r.target or r.balance or src.target
        if r.balance is not None and r.balance != target:
            raise ConfigError(
                f"`balance` {r.balance} must be the predicted column ({target}); give `target` {r.balance}"
            )
        meta = table_metadata(src.train, r.metadata, target)
        common = curve_options(r, settings)
        with status.steps() as on_progress:
            runs = [
                mixing_curves(
                    src.train,
                    src.test,
                    meta,
                    target,
                    model=name,
                    downstream=settings.downstream,
                    keep_best=bool(r.write_best) and i == 0,
                    workers=r.workers,
                    address=r.ray_address,
                    on_progress=on_progress,
                    **common,
                )
                for i, name in enumerate(models)
            ]
            result = MixResult.combine(runs)
            balancing = None
            if r.balance is not None:
                balancing = balancing_comparison(
                    src.train,
                    src.test,
                    meta,
                    target,
                    models=models,
                    params=r.params,
                    repeats=settings.repeats,
                    seed=settings.seed,
                    downstream=settings.downstream,
                    on_progress=on_progress,
                )
        best = result.best if r.write_best else None
        note = f"column {best.columns[-1]!r} marks the synthetic rows" if best is not None else ""
        return MixRun(result, balancing, list(settings.downstream), f"{target} ({result.task})", best, note)

    # ------------------------------------------------------------------ sample
    def sample(
        self, model: Any, request: SampleRequest, conditions: dict[str, Any], status: Status
    ) -> Sampled:
        """Rows streamed chunk by chunk with bounded memory to a file, an SQL table (one transaction)
        or a folder of Parquet parts (optionally written by Ray workers); with filters, drawn, filtered
        and topped up in memory, then written at once. Exact class counts with ``balance``. Every
        option, the output's format and place and the disk space are checked before any row is drawn."""
        from pathlib import Path

        from simulacra.io import check_table_target, claim
        from simulacra.scale.blocks import check_chunk_rows
        from simulacra.scale.distributed import check_ray_options
        from simulacra.scale.stream import SampleOptions, check_disk_space, check_part_rows
        from simulacra.validation import check_rows
        from simulacra.workflow import class_counts

        r = request
        rows, counts = r.rows, None
        if r.balance is not None:
            if r.balance in conditions:
                raise ConfigError(
                    f"`balance` {r.balance} and `conditions` {r.balance}=… contradict; give one of them"
                )
            given = None
            if r.class_counts is not None:
                given = {name: check_rows(k, f"`class_counts` {name}") for name, k in r.class_counts.items()}
            else:
                rows = check_rows(rows)
            counts = class_counts(model, r.balance, rows, given)
            rows = sum(counts.values())
        rows = check_rows(rows)
        check_chunk_rows(r.chunk_rows)
        check_part_rows(r.part_rows)
        workers = check_ray_options(r.workers, r.ray_address, "sample")
        folder = parts_folder(r.output, workers)
        if folder and r.filters:
            raise ConfigError(
                "`filters` draws its rows in memory and writes one file; give `output` FILE (e.g. out.parquet)"
            )
        if folder:
            claim(Path(r.output), force=r.force, kind="dir")  # before sampling: place, no existing output
            fmt = "parquet"
        else:
            fmt = check_table_target(r.output, rows=rows, force=r.force)  # format, size, place
        model._check_temperature(r.temperature)  # before any work
        if not r.filters and fmt != "sql":  # the rows go to disk as they come: is there room for them?
            check_disk_space(
                model,
                rows,
                Path(r.output) / "part.parquet" if folder else r.output,
                SampleOptions(r.seed, conditions or None, temperature=r.temperature),
                fmt=fmt,
            )
        if r.filters:
            return self._sample_filtered(model, rows, conditions, counts, r)
        return self._stream(model, rows, conditions, counts, workers, folder, r, status)

    def _stream(self, model, rows, conditions, counts, workers, folder, r: SampleRequest, status) -> Sampled:
        """The rows as they come, to one file or SQL table, or to Parquet parts in a folder."""
        from contextlib import nullcontext

        from simulacra.io import is_sql_url, output_lock
        from simulacra.scale.distributed import RaySession, sample_parts
        from simulacra.scale.stream import SampleOptions, stream_sample
        from simulacra.workflow import output_folder

        options = SampleOptions(r.seed, conditions or None, r.balance, counts, r.temperature)
        stream = {"chunk_rows": r.chunk_rows, "count_column": r.balance}
        ray = RaySession(workers, r.ray_address) if workers is not None else nullcontext()
        # the output's lock is taken and Ray connected (or refused) before the progress bar starts
        if folder:
            with output_folder(r.output, force=r.force) as tmp, ray, status.rows(rows) as on_rows:
                written = sample_parts(
                    r.model,
                    rows,
                    tmp,
                    options,
                    part_rows=r.part_rows,
                    workers=workers,
                    address=r.ray_address,
                    model=model,
                    on_rows=on_rows,
                    **stream,
                )
            where = str(r.output)
        else:
            lock = nullcontext() if is_sql_url(r.output) else output_lock(r.output)
            with lock, ray, status.rows(rows) as on_rows:
                written = stream_sample(
                    model,
                    rows,
                    r.output,
                    options,
                    force=r.force,
                    on_rows=on_rows,
                    escape=not r.keep_formulas,
                    **stream,
                )
            where = str(written.where)
        classes = dict(written.classes) if r.balance is not None else None
        return Sampled(written.rows, where, self.unit, classes, r.balance)

    def _sample_filtered(self, model, rows, conditions, counts, r: SampleRequest) -> Sampled:
        """``sample --filter``: the rows drawn, filtered and topped up in memory, then written at once."""
        from contextlib import nullcontext

        from simulacra.experiments.filters import parse_filters
        from simulacra.io import is_sql_url, output_lock, write_table
        from simulacra.workflow import resolve_table, sample_table

        label_column = r.balance or (next(iter(conditions)) if len(conditions) == 1 else None)
        parse_filters(r.filters, label_column=label_column)  # the specs, before any work
        with nullcontext() if is_sql_url(r.output) else output_lock(r.output):
            src = resolve_table(r.data, test=r.test)
            df, records = sample_table(
                model,
                rows,
                conditions=conditions or None,
                column=r.balance,
                counts=counts,
                filters=r.filters,
                real_train=src.train,
                real_test=src.test,
                seed=r.seed,
                temperature=r.temperature,
            )
            where = write_table(df, r.output, force=r.force, escape=not r.keep_formulas)
        classes = None
        if r.balance is not None:
            classes = {c: int(k) for c, k in df[r.balance].value_counts(sort=False).items()}
        return Sampled(len(df), str(where), self.unit, classes, r.balance, records)

    def bench(self, job: BenchJob) -> dict[str, Any]:
        """Fit, sample at least as many rows as the training table (timed, after a 1,000-row warm-up)
        and score them with :func:`simulacra.evaluate.evaluate`, the privacy attacks with
        ``job.privacy``; with ``job.references``, the reference rows and the installed external
        reference models, computed after every timing and the peak memory were taken; with
        ``job.temperatures``, precision, recall, density and coverage at each temperature."""
        import time

        from simulacra.evaluate import evaluate
        from simulacra.modalities.benchmarking import (
            attack_details,
            external_rows,
            peak_rss_mb,
            table_references,
        )
        from simulacra.synthesizers import make
        from simulacra.workflow import resolve_table, table_metadata

        source = resolve_table(job.data, test=job.test, target=job.target)
        train, real_test, target = source.train, source.test, source.target
        metadata = table_metadata(train, None, target)
        model = make(job.name, **job.params)
        start = time.perf_counter()
        model.fit(train, metadata)
        fit_s = time.perf_counter() - start
        n = max(int(job.rows), len(train))
        model.sample(1000, seed=job.seed)  # warm-up: first-call allocations are not throughput
        start = time.perf_counter()
        synthetic = model.sample(n, seed=job.seed)
        sample_s = time.perf_counter() - start
        peak = peak_rss_mb()
        evaluation = evaluate(
            train,
            synthetic.iloc[: len(train)],
            metadata,
            real_test=real_test,
            target=target,
            seed=job.seed,
            privacy_attacks=job.privacy and real_test is not None,
        )
        spent = getattr(model, "privacy_", None)
        result = {
            "model": job.name,
            "modality": "table",
            "params": model.get_params(),
            "fit_s": fit_s,
            "epochs": getattr(model, "epochs_trained_", None),
            "sample_rows_per_s": n / max(sample_s, 1e-9),
            "peak_rss_mb": peak,
            **evaluation.flat(),
            **({"epsilon": spent["epsilon"], "privacy": spent} if spent else {}),
            **({"attacks": attack_details(evaluation)} if job.privacy and real_test is not None else {}),
        }
        if job.temperatures and model.supports_temperature:
            from simulacra.evaluate.diversity import diversity

            result["tradeoff"] = []
            for tau in job.temperatures:
                rows_t = model.sample(len(train), seed=job.seed, temperature=tau)
                div = diversity(train, rows_t, metadata, seed=job.seed)
                result["tradeoff"].append(
                    {
                        "temperature": tau,
                        **{k: div[k] for k in ("precision", "recall", "density", "coverage")},
                    }
                )
        if job.references:
            result["references"] = table_references(
                train, real_test, metadata, target, job.seed, privacy=job.privacy
            )
            result["external"] = external_rows(
                train, real_test, metadata, target, job.seed, privacy=job.privacy
            )
        return result
