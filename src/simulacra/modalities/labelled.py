"""What the modalities of labelled sets (images, texts) share: the label filter and the mixing
experiment with their own downstream classifier."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from simulacra.errors import ConfigError
from simulacra.modalities.base import MixRun, Modality, Source, Status, curve_options
from simulacra.requests import MixRequest, SampleRequest


class LabelledModality(Modality):
    """A modality whose items carry one class label each (an :class:`~simulacra.io.ImageSet`, a
    :class:`~simulacra.io.TextSet`), drawn class-balanced by class-conditional models.

    A subclass says which classifier judges its items (:meth:`downstream`, for ``mix``) and how a
    label-filtered sample is drawn (:meth:`filtered`); the filter parsing, the ``mix`` options it
    takes and refuses, and the experiment itself live here once."""

    #: items sampled (untimed) before a bench run's timed sample: first-call allocations are not throughput
    bench_warmup: int = 100

    @abstractmethod
    def downstream(self) -> Any:
        """The downstream classifier of ``mix`` (a :class:`~simulacra.experiments.mix.SetDownstream`)."""

    @abstractmethod
    def filtered(
        self, model: Any, rows: int, p: float, request: SampleRequest, label: Any, **sample_options: Any
    ) -> tuple[Any, list[Any]]:
        """``rows`` samples whose label the modality's classifier, trained on ``request.data``, does not
        contradict with probability ≥ ``p`` (:func:`~simulacra.experiments.filters.filtered_labelled`):
        the set and its :class:`~simulacra.experiments.filters.FilterRecord` list."""

    def loader_options(self, request: Any) -> dict[str, Any]:
        """The loader options a request carries for this modality (texts: the text and label
        columns); none by default."""
        return {}

    def label_filter(self, request: SampleRequest) -> float | None:
        """The confidence of the request's label filter (the last one given), or ``None``.

        Raises
        ------
        ConfigError
            ``balance`` (the samples are class-balanced already), or a filter other than ``label``.
        """
        from simulacra.experiments.filters import LabelFilter, parse_filters

        if request.balance or request.class_counts:
            raise ConfigError(
                f"{self.unit} are drawn class-balanced already (or one class with `conditions` label=…); "
                "`balance` and `class_counts` are for tables"
            )
        chosen = parse_filters(request.filters, label_column="label")
        if any(not isinstance(f, LabelFilter) for f in chosen):
            raise ConfigError(f"{self.unit} take only the label filter (`filters` label=0.9)")
        return chosen[-1].p if chosen else None

    def check_mix_model(self, name: str) -> None:
        """The model must be class-conditional (the experiment draws labelled items)."""
        from simulacra.synthesizers.base import model_class

        super().check_mix_model(name)
        if not getattr(model_class(name), "conditional", False):
            raise ConfigError(
                f"{name} is not a class-conditional {self.name} model; give `model` {self.mix_model}"
            )

    def check_best_target(self, path: str, force: bool) -> None:
        """Refuse, before any work, a ``write_best`` target this modality cannot be written to."""

    def mix(self, request: MixRequest, models: list[str], settings: Any, status: Status) -> MixRun:
        """Mixing curves (:func:`~simulacra.experiments.mix.labelled_mixing_curves`) of each model on
        the labelled training set, scored on the real test set by :meth:`downstream`; with
        ``write_best``, the best mixed training set (real items first, then the synthetic ones)."""
        from simulacra.experiments.mix import MixResult, labelled_mixing_curves

        r = request
        if r.balance:
            raise ConfigError(f"`balance` works on tables; {self.unit} are drawn class-balanced already")
        if r.workers is not None:
            raise ConfigError(f"`workers` runs the table experiments as Ray tasks; drop it for {self.unit}")
        if r.write_best:
            self.check_best_target(r.write_best, r.force)
        found = self.resolve(r.source, test=r.test, **self.loader_options(r))
        if found.test is None:
            raise ConfigError(f"mix scores every variant on real test {self.unit}; give `test`")
        judge = self.downstream()
        common = curve_options(r, settings)
        with status.steps() as on_progress:
            result = MixResult.combine(
                [
                    labelled_mixing_curves(
                        found.train,
                        found.test,
                        judge,
                        model=m,
                        keep_best=bool(r.write_best) and i == 0,
                        on_progress=on_progress,
                        **common,
                    )
                    for i, m in enumerate(models)
                ]
            )
        best, note = result.best if r.write_best else None, ""
        if best is not None:
            last = result.results[result.results.fraction == settings.fractions[-1]]
            n_real = int(last.n_real.iloc[0])
            note = f"the first {n_real:,} {self.unit} are real, the last {len(best) - n_real:,} synthetic"
        return MixRun(result, None, [judge.name], f"label ({judge.task}, {judge.name})", best, note)

    # ------------------------------------------------------------------ bench
    def bench_source(self, job: Any) -> Source:
        """The training and test parts a bench run uses: the job's data and test source as
        :meth:`resolve` reads them."""
        return self.resolve(job.data, test=job.test)

    @abstractmethod
    def bench_size(self, train: Any, rows: int) -> int:
        """How many items a bench run samples from a model fitted on ``train`` when asked for ``rows``."""

    @abstractmethod
    def bench_extras(self, job: Any, model: Any, found: Source, evaluation: Any) -> dict[str, Any]:
        """The fields a bench result adds beyond the timing and the evaluation's headline metrics
        (reference rows, a temperature sweep)."""

    def bench(self, job: Any) -> dict[str, Any]:
        """Fit and sample :meth:`bench_size` items (timed, after :attr:`bench_warmup` untimed ones), score them
        with :meth:`evaluate` (the model's curves and grids in the report, written to
        ``job.report_dir``), and add :meth:`bench_extras`; the peak memory is taken after the
        evaluation."""
        from simulacra.io import redact_url
        from simulacra.modalities.base import EvaluateOptions
        from simulacra.modalities.benchmarking import peak_rss_mb, timed_run

        found = self.bench_source(job)
        n = self.bench_size(found.train, job.rows)
        model, synthetic, result = timed_run(
            job.name, job.params, found.train, n, self.bench_warmup, job.seed, self.name
        )
        info = {"model": repr(model), "data": redact_url(job.data), "fit seconds": round(result["fit_s"], 1)}
        options = EvaluateOptions(
            seed=job.seed,
            title=f"simulacra bench: {job.name} on {redact_url(job.data)}",
            model=model,
            info={**info, self.unit: n},
        )
        evaluation, report = self.evaluate(found, synthetic, options)
        result |= {**evaluation.flat(), "peak_rss_mb": peak_rss_mb()}
        result |= self.bench_extras(job, model, found, evaluation)
        if job.report_dir is not None:
            report.to_json(job.report_dir / job.name / "metrics.json", force=True)
            report.to_html(job.report_dir / job.name / "report.html", force=True)
        return result


class ArchiveModality(LabelledModality):
    """A labelled modality whose sets are written as an ``.npz`` archive or, for a name without a
    suffix, a folder of one file per item in class folders (images: PNG; recordings: WAV), through
    the set's ``to_npz`` and ``to_folder``; its ``sample`` draws class-balanced items (or one class),
    with the label filter where asked, and counts them per class."""

    #: what the output folder holds, for the refusal of another output
    folder_files: ClassVar[str] = "files"

    #: the request fields this modality's loader reads
    loader_fields: ClassVar[tuple[str, ...]] = ("path_column", "label_column")

    def loader_options(self, request: Any) -> dict[str, Any]:
        """The :attr:`loader_fields` the request gives (items listed in a table; images: the size
        to read them at)."""
        return {k: getattr(request, k) for k in self.loader_fields if getattr(request, k, None)}

    def check_output(self, path: str) -> None:
        """Refuse, before any work, an output this modality's sets cannot be written to.

        Raises
        ------
        ConfigError
            ``path`` is an SQL URL or a file that is not ``.npz``.
        """
        from pathlib import Path

        from simulacra.io import is_sql_url

        if is_sql_url(str(path)) or Path(path).suffix not in ("", ".npz"):
            raise ConfigError(
                f"{path}: {self.unit} go to an .npz file or a folder (a name without suffix) of {self.folder_files}"
            )

    def claim_output(self, path: str, force: bool) -> None:
        """Refuse, before any work, an output that is taken (:func:`~simulacra.io.claim`) or that
        :meth:`check_output` refuses."""
        from pathlib import Path

        from simulacra.io import claim

        self.check_output(path)
        claim(Path(path), force=force, kind="file" if Path(path).suffix == ".npz" else "dir")

    def write(self, data: Any, path: str, *, force: bool = False) -> str:
        """An ``.npz`` archive or, for a name without a suffix, a folder of files per class."""
        from pathlib import Path

        self.check_output(path)
        target = Path(path)
        written = (
            data.to_npz(target, force=force)
            if target.suffix == ".npz"
            else data.to_folder(target, force=force)
        )
        return str(written)

    def check_best_target(self, path: str, force: bool) -> None:
        """An ``.npz`` file or a folder, free or simulacra's own with ``force``."""
        self.claim_output(path, force)

    def sample(self, model: Any, request: SampleRequest, conditions: dict[str, Any], status: Status) -> Any:
        """Class-balanced items (or one class with ``conditions``); the label filter keeps those the
        modality's classifier, trained on ``request.data``, gives the requested class with at least
        the filter's confidence, and draws more in their place. Returns a
        :class:`~simulacra.modalities.Sampled` with the items per class."""
        import numpy as np

        from simulacra.experiments.filters import summarise
        from simulacra.io import output_lock
        from simulacra.modalities.base import Sampled
        from simulacra.validation import check_rows

        r = request
        model._check_temperature(r.temperature)  # before any work
        label_p = self.label_filter(r)
        rows = check_rows(r.rows)
        self.claim_output(r.output, r.force)
        records: list[dict[str, Any]] = []
        with output_lock(r.output), status.busy(f"drawing {rows:,} {self.unit}"):
            if label_p is None:
                drawn = model.sample(
                    rows, conditions=conditions or None, seed=r.seed, temperature=r.temperature
                )
            else:
                drawn, found = self.filtered(
                    model, rows, label_p, r, conditions.get("label"), temperature=r.temperature
                )
                records = summarise(found)
            where = self.write(drawn, r.output, force=r.force)
        counts = None
        if drawn.labels is not None:
            per_class = np.bincount(drawn.labels, minlength=len(drawn.class_names))
            counts = {name: int(k) for name, k in zip(drawn.class_names, per_class, strict=True)}
        return Sampled(len(drawn), where, self.unit, counts, "label" if counts else None, records)
