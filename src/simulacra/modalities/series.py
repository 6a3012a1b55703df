"""The time-series modality: one long series or many keyed sequences (:class:`~simulacra.io.SeriesSet`),
read from a table with ``sequence_index`` / ``sequence_key`` / ``context_columns`` (and a ``parent_table``
of each entity's context), or a bundled set
(``stocks``, ``energy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError, DataError
from simulacra.modalities.base import (
    Augmented,
    EvaluateOptions,
    FitData,
    Modality,
    Sampled,
    Source,
    Status,
    parts_folder,
)
from simulacra.requests import FitRequest, SampleRequest

#: the columns of a series benchmark: ``(result key, title, format)``
BENCH_COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{:.0f}"),
    ("sample_rows_per_s", "windows/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("discriminative_score", "discriminative", "{:.3f}"),
    ("context_fid", "Context-FID", "{:.3f}"),
    ("correlational_score", "correlational", "{:.3f}"),
    ("predictive_score", "predictive", "{:.4f}"),
    ("predictive_score_real", "predictive (real)", "{:.4f}"),
    ("predictive_score_heldout", "predictive, held out", "{:.4f}"),
    ("predictive_score_real_heldout", "predictive (real), held out", "{:.4f}"),
    ("autocorrelation_error", "ACF error", "{:.3f}"),
    ("sequence_length_similarity", "length sim.", "{:.3f}"),
    ("tstr_accuracy", "TSTR acc.", "{:.3f}"),
    ("trtr_accuracy", "TRTR acc.", "{:.3f}"),
]

#: the loader options of a series, as the requests name them
SERIES_OPTIONS = ("sequence_index", "sequence_key", "context_columns", "parent_table")


def series_options(request: Any) -> dict[str, Any]:
    """The series loader options a request holds (``None``/empty where not given)."""
    return {k: getattr(request, k, None) for k in SERIES_OPTIONS}


#: sequences (or windows) drawn per seeded block when a sample is written in parts: block ``k`` takes
#: the seed ``SeedSequence([seed, k])``, so the parts hold the same rows however many workers wrote them
PART_BLOCK = 1024


def write_series_part(
    model: Any,
    folder: str,
    index: int,
    start: int,
    stop: int,
    draw: dict[str, Any],
    progress: Any = None,
) -> int:
    """Write part ``index`` of a sample in parts: sequences (windows) ``[start, stop)``, drawn block by
    block (:data:`PART_BLOCK`, each with its own seed from ``draw["seed"]``), keys numbered from
    ``start``, to ``folder/part-NNNNN.parquet``. Returns the rows written."""
    import numpy as np
    import pandas as pd

    from simulacra.io import write_table
    from simulacra.scale.stream import part_name

    frames = []
    for begin in range(start, stop, PART_BLOCK):
        seed = int(np.random.SeedSequence([int(draw["seed"]), begin // PART_BLOCK]).generate_state(1)[0])
        n = min(PART_BLOCK, stop - begin)
        frames.append(model.sample(n, **{**draw, "seed": seed}, first=begin, progress=progress).frame)
    frame = pd.concat(frames, ignore_index=True) if frames else model.sample(0, **draw).frame
    write_table(frame, Path(folder) / part_name(index))
    return len(frame)


def _series_part_task(model_dir: str, folder: str, index: int, start: int, stop: int, draw: dict) -> int:
    """A Ray task: :func:`write_series_part` on one core with the model loaded once per worker."""
    from threadpoolctl import threadpool_limits

    from simulacra.scale.distributed import load_once

    with threadpool_limits(1):
        import torch

        torch.set_num_threads(1)
        return write_series_part(load_once(model_dir), folder, index, start, stop, draw)


class SeriesModality(Modality):
    """Sequential data, scored by the TimeGAN protocol (discriminative and predictive scores on
    24-step windows), autocorrelation, sequence lengths and context, and nearest windows
    (:mod:`simulacra.evaluate.series`). A source is a series when it is a bundled series or when
    ``sequence_index`` or ``sequence_key`` names its order."""

    name = "series"
    unit = "rows"
    default_model = "series-ar"
    bench_models = ("series-ar",)
    bench_columns = BENCH_COLUMNS
    sequences = True

    def recognises(self, source: str, **options: Any) -> bool:
        from simulacra import datasets
        from simulacra.workflow import is_bundled

        if is_bundled(source):
            return datasets.is_series(source)
        return bool(
            options.get("sequence_index") or options.get("sequence_key") or options.get("parent_table")
        )

    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        from simulacra import datasets
        from simulacra.io import SeriesSet, is_sql_url
        from simulacra.workflow import check_sources, is_bundled

        given = {k: options.get(k) for k in SERIES_OPTIONS if options.get(k)}
        if is_bundled(source):
            if not datasets.is_series(source):
                raise DataError(
                    f"{source!r} is not a time series; give a series (e.g. 'stocks') or a table with `sequence_index`"
                )
            train, test = datasets.load(source)
            found = train if part == "train" else test
            if "parent_table" in given or {k: getattr(found, k) for k in given} != {
                k: tuple(v) if k == "context_columns" else v for k, v in given.items()
            }:
                raise ConfigError(
                    f"{source!r} is one series as bundled; drop `sequence_index`, `sequence_key`, `context_columns` "
                    "and `parent_table`"
                )
            return found
        if not is_sql_url(source):
            check_sources(source)
        return SeriesSet.read(
            source,
            sequence_index=options.get("sequence_index"),
            sequence_key=options.get("sequence_key"),
            context_columns=tuple(options.get("context_columns") or ()),
            parent_table=self._parent(options.get("parent_table")),
        )

    @staticmethod
    def _parent(parent: str | None) -> str | None:
        """The parent table's source, checked as the series' own (a missing file refused in one line)."""
        from simulacra.io import is_sql_url
        from simulacra.workflow import check_sources

        if parent is not None and not is_sql_url(parent):
            check_sources(parent)
        return parent

    def write(self, data: Any, path: str, *, force: bool = False) -> str:
        from simulacra.io import write_table

        return str(write_table(data.frame, path, force=force))

    def fit_data(self, request: FitRequest, model: Any, status: Status) -> FitData:
        series = self.load(request.source, **series_options(request))
        return FitData((series,), series.describe())

    def sample(
        self, model: Any, request: SampleRequest, conditions: dict[str, Any], status: Status
    ) -> Sampled:
        """``request.rows`` rows of one long series, or that many sequences of a keyed model (each
        ``sequence_length`` long, or of a drawn length), with exact context ``conditions``; a
        single-series model with ``sequence_length`` writes that many independent windows. With
        ``context_output``, a keyed model's context goes to that file as a parent table (one row per
        key) and the sequences are written without it.

        Raises
        ------
        ConfigError
            ``balance``, ``class_counts`` or filters (not for series), or a bad value.
        """
        from contextlib import nullcontext

        from simulacra.io import check_table_target, claim, is_sql_url, output_lock, write_table
        from simulacra.io.series import split_parent
        from simulacra.scale.distributed import RaySession, check_ray_options, run_tasks
        from simulacra.scale.stream import check_part_rows, part_ranges
        from simulacra.validation import check_rows
        from simulacra.workflow import output_folder

        r = request
        if r.balance is not None or r.class_counts is not None:
            raise self.refuse(
                "`balance` and `class_counts` are for tables", "condition on a context column instead"
            )
        if r.filters:
            raise self.refuse("`filters` are for tables, images and texts", "drop them for a series")
        rows = check_rows(r.rows)
        keyed = model.sequence_key_ is not None or r.sequence_length is not None
        workers = check_ray_options(r.workers, r.ray_address, "sample")
        folder = parts_folder(r.output, workers)
        if folder and not keyed:
            raise ConfigError(
                "one long series is drawn in one piece; give `output` FILE, or `sequence_length` for windows"
            )
        if r.context_output is not None:
            if model.sequence_key_ is None or not model.context_columns_:
                raise self.refuse(
                    "`context_output` writes a keyed model's context columns, one row per entity",
                    "this model has none: drop it",
                )
            if folder:
                raise ConfigError("`context_output` is written beside one `output` FILE; give `output` FILE")
            check_table_target(r.context_output, rows=rows, force=r.force)
        if folder:
            check_part_rows(r.part_rows)
            claim(Path(r.output), force=r.force, kind="dir")  # before sampling: place, no existing output
        else:
            check_table_target(r.output, rows=rows, force=r.force)  # format, size and place
        # every value checked before any sample is drawn
        model.sample(0, temperature=r.temperature, sequence_length=r.sequence_length)

        # the rows the progress counts: a keyed model's sequences are as long as the training ones on average
        learned = getattr(model, "lengths_", None) if model.sequence_key_ is not None else None
        per = r.sequence_length or (sum(learned) / len(learned) if learned else 1)
        total = round(rows * per) if keyed else rows
        what = "rows" if not keyed else ("sequences" if model.sequence_key_ is not None else "windows")
        if folder:
            draw = {
                "conditions": conditions or None,
                "seed": r.seed,
                "temperature": r.temperature,
                "sequence_length": r.sequence_length,
            }
            # whole blocks per part, about part_rows rows each
            size = max(PART_BLOCK, int(r.part_rows / per) // PART_BLOCK * PART_BLOCK)
            ray = RaySession(workers, r.ray_address) if workers is not None else nullcontext()
            with output_folder(r.output, force=r.force) as tmp, ray, status.rows(total) as on_rows:
                jobs = [(str(tmp), i, a, b, draw) for i, (a, b) in enumerate(part_ranges(rows, size))]
                if workers is None:
                    for job in jobs:
                        write_series_part(model, *job, progress=on_rows)
                else:
                    run_tasks(
                        _series_part_task,
                        [(str(r.model), *job) for job in jobs],
                        workers=workers,
                        address=r.ray_address,
                        on_done=lambda _, written: on_rows(written),
                    )
            return Sampled(rows, str(r.output), what)
        with nullcontext() if is_sql_url(r.output) else output_lock(r.output), status.rows(total) as on_rows:
            series = model.sample(
                rows,
                conditions=conditions or None,
                seed=r.seed,
                temperature=r.temperature,
                sequence_length=r.sequence_length,
                progress=on_rows,
            )
            if r.context_output is None:
                where = self.write(series, r.output, force=r.force)
            else:  # the context as a parent table of its own
                frame, parent = split_parent(series)
                with nullcontext() if is_sql_url(r.context_output) else output_lock(r.context_output):
                    write_table(parent, r.context_output, force=r.force)
                where = str(write_table(frame, r.output, force=r.force))
        return Sampled(rows, where, what)

    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        from simulacra.evaluate.series import evaluate_series
        from simulacra.report.series import SeriesReport

        synthetic = self._as_real(real.train, synthetic.frame)
        with options.status.busy("evaluating the series (TimeGAN scores, autocorrelation, reference rows)"):
            ev = evaluate_series(real.train, synthetic, real.test, seed=options.seed, target=real.target)
        report = SeriesReport(
            ev,
            real.train,
            synthetic,
            title=options.title,
            info=options.info,
            history=getattr(options.model, "history_", None),
        )
        return ev, report

    def augment(self, request: Any, status: Status) -> Augmented:
        """Jittering, scaling, magnitude and time warping, window slicing and warping, and permuted
        segments (:mod:`simulacra.augment.series`) of every sequence, ``copies`` times. With a real test
        part (a bundled set's, or ``test``), the effect line is the predictive score (MAE on the test
        windows) of the predictor trained on the real windows, with and without the copies."""
        from simulacra.augment.series import SeriesAugmenter, augment_series
        from simulacra.io import check_table_target, output_lock

        r = request
        augmenter = SeriesAugmenter.from_yaml(r.pipeline)  # the pipeline, before any row is read
        found = self.resolve(r.source, test=r.test, **series_options(r))
        series, held = found.train, found.test
        check_table_target(str(r.output), rows=len(series) * r.copies, force=r.force)
        with output_lock(r.output):
            with status.busy(f"augmenting {len(series.lengths())} sequence(s) × {r.copies}"):
                out = augment_series(series, augmenter, copies=r.copies, seed=r.seed)
            where = self.write(out, str(r.output), force=r.force)
        effect = None
        if held is not None:
            from simulacra.evaluate.series import augmentation_effect

            with status.busy("the predictive score with and without the augmented copies"):
                e = augmentation_effect(series, out, held, seed=r.seed)
            effect = (
                f"predictive score (MAE on {len(held):,} test rows' windows, lower is better): "
                f"{e['predictive_score_real']:.4f} → {e['predictive_score_augmented']:.4f} with the copies; "
                f"discriminative score of the copies against the real windows {e['discriminative_score']:.3f}"
            )
        return Augmented(len(out), where, "rows", effect)

    @staticmethod
    def _as_real(real: Any, frame: Any) -> Any:
        """A synthetic table read with the real series' index, key and context; windows of one
        series (a ``window`` column the real data lacks) are read as keyed by it."""
        from simulacra.io import SeriesSet

        if not real.keyed and "window" in frame.columns and "window" not in real.frame.columns:
            return SeriesSet(frame, real.sequence_index, "window")
        return real.like(frame)

    def bench(self, job: Any) -> dict[str, Any]:
        """One model on a series as the TimeGAN protocol reports it: fitted on the whole series (one
        series: the training and test parts joined again, in time order; keyed: the training
        sequences), then as many independent 24-step windows sampled as the real series has (keyed:
        as many sequences), timed, and scored against the real windows with the reference rows when
        ``job.references`` (keyed: with the test sequences as the holdout, for the real-test row, the
        privacy attacks and the sequence-classification TSTR)."""
        import time

        import pandas as pd

        from simulacra.evaluate.series import WINDOW, evaluate_series
        from simulacra.io import redact_url
        from simulacra.modalities.benchmarking import peak_rss_mb
        from simulacra.synthesizers import make

        found = self.resolve(job.data, test=job.test)
        series = found.train
        if not series.keyed and found.test is not None:
            series = series.like(pd.concat([series.frame, found.test.frame], ignore_index=True))
        model = make(job.name, **job.params)
        start = time.perf_counter()
        model.fit(series)
        fit_s = time.perf_counter() - start
        keyed = series.keyed
        count = len(series.lengths()) if keyed else max(1, len(series) - WINDOW + 1)
        length = None if keyed else WINDOW
        model.sample(8, sequence_length=length, seed=job.seed)  # warm-up
        start = time.perf_counter()
        synthetic = model.sample(count, sequence_length=length, seed=job.seed)
        sample_s = time.perf_counter() - start
        held = found.test if keyed else None  # keyed: the test entities (one series' later part was fitted)
        evaluation = evaluate_series(series, synthetic, held, seed=job.seed, references=job.references)
        result = {
            "model": job.name,
            "modality": self.name,
            "params": model.get_params(),
            "fit_s": fit_s,
            "epochs": getattr(model, "epochs_trained_", None),
            "sample_rows_per_s": count / max(sample_s, 1e-9),
            **evaluation.flat(),
            "peak_rss_mb": peak_rss_mb(),
        }
        if job.references:
            result["references"] = evaluation.details.get("references", {})
        if job.report_dir is not None:
            from simulacra.report.series import SeriesReport

            info = {"model": repr(model), "data": redact_url(job.data), "fit seconds": round(fit_s, 1)}
            report = SeriesReport(
                evaluation, series, synthetic, title=f"simulacra bench: {job.name}", info=info
            )
            report.to_json(job.report_dir / job.name / "metrics.json", force=True)
            report.to_html(job.report_dir / job.name / "report.html", force=True)
        return result

    def read_synthetic(self, path: str, **options: Any) -> Any:
        from simulacra.io import SeriesSet, read_table

        return SeriesSet(read_table(path))  # re-read with the real data's index and key by evaluate
