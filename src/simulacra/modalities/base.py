"""The modality protocol (:class:`Modality`) and the small records it passes around."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from simulacra.errors import ConfigError
from simulacra.requests import AugmentRequest, FitRequest, MixRequest, SampleRequest


class Status:
    """Where a plug-in or a command says what it is doing: :meth:`busy` around a long step (the CLI
    shows a spinner), :meth:`note` for a line the user should read (a sample drawn from a large table,
    a warning with its fix). This base class is silent, for library calls; the CLI passes one that
    prints to stderr."""

    @contextmanager
    def busy(self, message: str) -> Iterator[None]:
        """Around a step that takes a while; ``message`` says which (e.g. ``"fitting mixture on 100
        rows"``)."""
        yield

    def note(self, message: str) -> None:
        """A line for the user (stderr in the CLI)."""

    @contextmanager
    def steps(self) -> Iterator[Callable[[int, int, str], None]]:
        """Around an experiment of many steps; yields ``on_progress(done, total, message)``."""
        yield lambda done, total, message: None

    @contextmanager
    def rows(self, total: int) -> Iterator[Callable[[int], None]]:
        """Around writing ``total`` samples; yields ``on_rows(k)``, called as each ``k`` more are
        written (the CLI shows a bar with rows/s and the ETA)."""
        yield lambda k: None


@dataclass
class Source:
    """A resolved source: its training part, its real test part (or ``None``), the target column
    (tables; ``None`` elsewhere) and the name it was given by.

    ``explicit_test`` tells whether the test part was given by the user (``--test``) rather than
    brought by a bundled dataset: a table evaluation uses a bundled test part as a holdout only when
    asked for one."""

    name: str
    train: Any
    test: Any | None = None
    target: str | None = None
    explicit_test: bool = False


@dataclass(frozen=True)
class EvaluateOptions:
    """How ``evaluate`` scores, for every modality.

    Attributes
    ----------
    seed : int
        Every random step of the metrics (detector folds, classifiers, subsamples).
    title : str
        The report's title.
    status : Status
        Where a long step is announced.
    model : object or None
        A fitted synthesizer: adds what only the model knows (training curves, grids, perplexity).
    metadata : str or None
        Tables: a JSON/YAML file of metadata overrides.
    privacy : bool
        Run the privacy attacks, where :attr:`Modality.privacy_attacks` is true.
    info : dict or None
        Extra lines for the report's run information (``bench``: the model, its fit seconds).
    preparation : dict or None
        Tables: a ``prepare`` record (``Preparation.to_dict()``) for the report's Preparation section.
    filtering : dict or None
        Tables: ``{"filters": records, "unfiltered": rows}``, for the report's before/after table.
    """

    seed: int = 0
    title: str = "simulacra"
    status: Status = field(default_factory=Status)
    model: Any = None
    metadata: str | os.PathLike[str] | None = None
    privacy: bool = False
    info: dict[str, Any] | None = None
    preparation: dict[str, Any] | None = None
    filtering: dict[str, Any] | None = None


@dataclass
class FitData:
    """What a model's ``fit`` takes, as read by :meth:`Modality.fit_data`.

    Attributes
    ----------
    args : tuple
        The positional arguments of ``fit``: ``(data,)``, or ``(DataFrame, Metadata)`` for tables.
    size : str
        How much was read, in words (``"32,561 rows"``, ``"1,000 images"``).
    batches : dict or None
        Neural table models: where their training rows come from (``fit``'s ``batches`` options).
    """

    args: tuple[Any, ...]
    size: str
    batches: dict[str, Any] | None = field(default=None)

    @property
    def data(self) -> Any:
        """The training data (the first argument of ``fit``)."""
        return self.args[0]

    @property
    def metadata(self) -> Any:
        """Tables: the metadata ``fit`` was given; ``None`` elsewhere."""
        return self.args[1] if len(self.args) > 1 else None


@dataclass
class Sampled:
    """What a plug-in's :meth:`Modality.sample` wrote.

    Attributes
    ----------
    count : int
        Samples written.
    where : str
        Where (a path, or an SQL table's redacted URL).
    unit : str
        What one sample is called, plural (the modality's :attr:`Modality.unit`).
    classes : dict or None
        Samples per class of ``class_column``, where the sample was balanced or labelled.
    class_column : str or None
        The column ``classes`` counts (``--balance``'s, or ``label``).
    filters : list of dict
        Per filter that ran: ``{filter, seen, dropped, why}``.
    """

    count: int
    where: str
    unit: str
    classes: dict[Any, int] | None = None
    class_column: str | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Restored:
    """What ``prepare --restore`` did: ``n`` items restored by a model of ``task`` (``denoise``,
    ``superres``), written to ``where``; ``rule`` how they were brought to the model's input size
    (empty when they had it)."""

    n: int
    where: str
    unit: str
    task: str
    rule: str = ""


@dataclass
class Augmented:
    """What a plug-in's :meth:`Modality.augment` wrote: ``count`` augmented items of ``unit`` at
    ``where``, and ``effect``, a line saying what the augmentation did (its strength against the
    originals, or the downstream score with and without the copies), or ``None``."""

    count: int
    where: str
    unit: str
    effect: str | None = None


def parts_folder(output: str, workers: int | None) -> bool:
    """Whether a sample's ``output`` names a folder of Parquet parts: it ends with ``/`` or has no
    suffix at all (and is not an SQL URL; an existing folder named like a file, ``out.csv``, stays an
    error).

    Raises
    ------
    ConfigError
        ``workers`` with a file output (each task writes its own part).
    """
    from pathlib import Path

    from simulacra.io import is_sql_url

    folder = not is_sql_url(output) and (output.endswith(("/", os.sep)) or not Path(output).suffix)
    if workers is not None and not folder:
        raise ConfigError(
            "`workers` writes one Parquet part per task into a folder; give `output` DIR/ (ending in /)"
        )
    return folder


def curve_options(request: MixRequest, settings: Any) -> dict[str, Any]:
    """The keyword arguments every mixing experiment takes from a request and its checked settings
    (:class:`~simulacra.experiments.mix.MixSettings`)."""
    return {
        "params": request.params,
        "fractions": settings.fractions,
        "ratios": settings.ratios,
        "repeats": settings.repeats,
        "seed": settings.seed,
    }


@dataclass
class MixRun:
    """What a plug-in's :meth:`Modality.mix` measured: the mixing curves (``MixResult``), the
    balancing comparison (or ``None``), the downstream models that scored them, the predicted column
    in words, the best mixed training set (or ``None``) and how its synthetic items are told apart."""

    result: Any
    balancing: Any
    downstream: list[str]
    target: str
    best: Any = None
    best_note: str = ""


class Modality(ABC):
    """One kind of data (tables, images, texts): how a command recognises, loads, fits, evaluates
    and reports it. Subclass it and :func:`simulacra.modalities.register` an instance to add a
    modality; the commands dispatch through it and hold no branch of their own.

    Class attributes
    ----------------
    name : str
        The modality's name, the same as its models' ``modality`` (``"table"``, ``"image"``, ``"text"``).
    unit : str
        What one item is called, plural (``"rows"``, ``"images"``, ``"texts"``).
    default_model : str
        The registry name ``fit`` uses without ``--model``.
    mix_model : str
        The registry name ``mix`` compares without ``--model`` (a class-conditional one where the
        experiment needs labels).
    bench_models : tuple of str
        The registry names ``bench`` compares without ``--models``.
    bench_columns : list of (str, str, str)
        The bench table's columns: ``(result key, title, format)``.
    bench_reports : bool
        Whether ``bench`` writes a report per model (the modality's metrics need its pictures or
        samples to be read); tables are read from the bench table alone.
    bench_temperatures : bool
        Whether ``bench --temperatures`` sweeps the sampling temperature here (the modality's
        ``bench_extras`` score a ``tradeoff``); elsewhere ``bench`` refuses the option.
    tunable : bool
        Whether ``tune`` can score trials on this modality (the table detector and TSTR on a column).
    preparable : bool
        Whether ``prepare``'s cleaning steps and splits (:mod:`simulacra.prepare`) apply.
    token_controls : bool
        Whether ``sample`` takes the language-model controls (``top_k``, ``top_p``, ``keep_copies``).
    sequences : bool
        Whether ``sample`` takes ``sequence_length`` (keyed series).
    privacy_attacks : bool
        Whether the table privacy attacks (membership inference, singling out, linkability,
        inference) apply; where they do not, the report's copy and memorisation rows are the privacy
        measures.
    """

    name: ClassVar[str] = ""
    unit: ClassVar[str] = "rows"
    default_model: ClassVar[str] = ""
    mix_model: ClassVar[str] = ""
    bench_models: ClassVar[tuple[str, ...]] = ()
    privacy_attacks: ClassVar[bool] = False
    token_controls: ClassVar[bool] = False
    sequences: ClassVar[bool] = False
    tunable: ClassVar[bool] = False
    preparable: ClassVar[bool] = False
    bench_reports: ClassVar[bool] = True
    bench_temperatures: ClassVar[bool] = False
    bench_columns: ClassVar[list[tuple[str, str, str]]] = []

    @abstractmethod
    def recognises(self, source: str, **options: Any) -> bool:
        """Whether ``source`` (a bundled name, a path, an SQL URL) holds this modality's data, given
        the loader ``options`` the user passed (e.g. ``text_column``)."""

    @abstractmethod
    def load(self, source: str, *, part: str = "train", **options: Any) -> Any:
        """A bundled dataset's ``part`` (``"train"``/``"test"``), or the data read from ``source``.

        Raises
        ------
        DataError
            ``source`` is unreadable, or holds another modality's data.
        """

    def resolve(
        self, source: str, *, test: str | None = None, target: str | None = None, **options: Any
    ) -> Source:
        """``source``'s training part and test part: ``test``'s test part when given, else a bundled
        dataset's own, else none. ``target`` is kept for the modalities that have one."""
        from simulacra.workflow import is_bundled

        test_src = test if test is not None else (source if is_bundled(source) else None)
        held = self.load(test_src, part="test", **options) if test_src else None
        return Source(source, self.load(source, **options), held, target, explicit_test=test is not None)

    def model_for(self, source: str, **options: Any) -> str:
        """The registry name ``fit`` uses for ``source`` without ``--model``: :attr:`default_model`,
        unless the plug-in knows better from a cheap look at the source (images without labels)."""
        return self.default_model

    def read_synthetic(self, path: str, **options: Any) -> Any:
        """A synthetic sample written by ``simulacra sample`` (or by hand), for ``evaluate``."""
        return self.load(path, **options)

    @abstractmethod
    def write(self, data: Any, path: str, *, force: bool = False) -> str:
        """Write samples (what this modality's models' ``sample`` returns) to ``path``, atomically;
        returns where they went (a path, or an SQL table's redacted URL).

        Raises
        ------
        ConfigError
            ``path`` names a format this modality cannot be written in.
        OutputExistsError
            ``path`` exists (without ``force``, or not written by simulacra).
        """

    @abstractmethod
    def sample(
        self, model: Any, request: SampleRequest, conditions: dict[str, Any], status: Status
    ) -> Sampled:
        """Draw ``request.rows`` samples from the fitted ``model`` under ``conditions`` (already
        parsed by the model) and write them to ``request.output``; every option this modality takes
        is checked, and the ones it does not take refused in one line, before any sample is drawn.

        Raises
        ------
        ConfigError
            An option this modality does not take, or a bad value.
        OutputExistsError
            The output exists (without ``force``), or is locked by another process.
        """

    def augment(self, request: AugmentRequest, status: Status) -> Augmented:
        """Write ``request.copies`` augmented copies of every item of ``request.source``, following
        the YAML pipeline; labels are kept. The base class refuses: a modality that augments
        overrides it.

        Raises
        ------
        ConfigError
            This modality has no augmentation, or the pipeline is malformed.
        """
        from pathlib import Path

        from simulacra.errors import DataError
        from simulacra.io import is_sql_url
        from simulacra.workflow import is_bundled

        source = request.source
        if not (is_bundled(source) or is_sql_url(source) or Path(source).exists()):
            raise DataError(
                f"{source}: not found; give images (a folder, .npz or IDX), labelled texts, a series or recordings"
            )
        raise self.refuse(
            f"augment takes images, texts, series or recordings, and {source!r} holds {self.unit}",
            "to enlarge a table, fit a model and sample more rows (simulacra sample), or compare "
            "oversamplers with simulacra mix --balance",
        )

    def mix(self, request: MixRequest, models: list[str], settings: Any, status: Status) -> MixRun:
        """Mixing curves (real fractions × synthetic ratios, ``settings``: the checked
        :class:`~simulacra.experiments.mix.MixSettings`) of ``models``, scored on the real test part
        by the modality's downstream model. The base class refuses: a modality with an experiment
        overrides it.

        Raises
        ------
        ConfigError
            This modality has no mixing experiment; an option it does not take; no test part.
        """
        raise self._no_mix()

    def _no_mix(self) -> ConfigError:
        return self.refuse(
            f"mix runs on tables and on labelled images and texts, not on {self.unit}",
            "compare with simulacra bench, which reports TSTR against TRTR",
        )

    def check_mix_model(self, name: str) -> None:
        """Refuse a model ``mix`` cannot compare on this modality.

        Raises
        ------
        ConfigError
            This modality has no mixing experiment, or ``name`` is another modality's model.
        """
        from simulacra.synthesizers.base import model_class

        if not self.mix_model:
            raise self._no_mix()
        kind = model_class(name).modality
        if kind != self.name:
            article = "an" if kind[:1] in "aeiou" else "a"
            raise ConfigError(
                f"{name} is {article} {kind} model and the source holds {self.unit}; give a matching `model`"
            )

    def advice(self, model: Any, data: FitData) -> str | None:
        """One line naming a model that suits the fitted data better than ``model``, or ``None``
        (the base class: no advice)."""
        return None

    def fit_data(self, request: FitRequest, model: Any, status: Status) -> FitData:
        """What ``model.fit`` takes from ``request.source`` (read as the request says: its loader
        columns, a table's row limit, sample and metadata overrides); the base class reads all of it
        with :meth:`load`, and notes the rule by which pictures or recordings were brought to one
        shape (their ``rule``), so a resized or padded set is never a surprise."""
        from simulacra.requests import loader_options

        data = self.load(request.source, **loader_options(request))
        if getattr(data, "rule", ""):
            status.note(f"read {data.rule}")
        return FitData((data,), f"{len(data):,} {self.unit}")

    @abstractmethod
    def evaluate(self, real: Source, synthetic: Any, options: EvaluateOptions) -> tuple[Any, Any]:
        """Score ``synthetic`` against ``real`` and build the report: ``(Evaluation, report)``, the
        report having ``to_json(path)`` and ``to_html(path)``.

        Raises
        ------
        ConfigError
            ``options.privacy`` where the attacks need a holdout that is not there.
        """

    def bench(self, job: Any) -> dict[str, Any]:
        """Fit, sample and score one model in this process for ``simulacra bench`` (a
        :class:`~simulacra.modalities.benchmarking.BenchJob`): the timing fields (``fit_s``,
        ``epochs``, ``sample_rows_per_s``, ``peak_rss_mb``), the modality's headline metrics, and with
        ``job.references`` its reference rows (``references``). The base class refuses.

        Raises
        ------
        ConfigError
            This modality has no benchmark.
        """
        raise self.refuse(f"bench has no benchmark for {self.unit}", "compare models with simulacra evaluate")

    def restore(self, request: Any) -> tuple[str, Restored]:
        """``prepare --restore``: every item of ``request.source`` restored by the model in
        ``request.restore``, written to ``request.output``: ``(where, Restored)``. The base class
        refuses (restoration models are for images).

        Raises
        ------
        ConfigError
            Always, here.
        """
        raise self.refuse(
            f"--restore restores images with a restoration model, and {request.source!r} holds {self.unit}",
            "drop --restore to clean a table",
        )

    def refuse(self, what: str, fix: str) -> ConfigError:
        """The one-line refusal of something this modality does not do: ``"<what> <fix>"``, to be
        raised by the caller (``raise modality.refuse(...)``)."""
        return ConfigError(f"{what}; {fix}")
