"""The modality protocol (:class:`Modality`) and the small records it passes around."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from simulacra.errors import ConfigError


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
class FitOptions:
    """How ``fit`` reads its data, for every modality (a plug-in uses the fields that concern it).

    Attributes
    ----------
    metadata : str or None
        Tables: a JSON/YAML file of metadata overrides.
    max_rows : int
        Tables: at most this many rows of a file or SQL table are read (a stratified sample beyond).
    stratify : str or None
        Tables: the column the sample keeps the shares of.
    all_rows : bool
        Neural table models: train on every row, streamed from disk (the encoding fitted on the sample).
    batch_source : str or None
        Neural table models: where the encoded training rows live (``auto``, ``memory``, ``disk``).
    text_column, label_column : str or None
        Texts: the columns of a table holding the texts and their labels.
    """

    metadata: str | None = None
    max_rows: int = 1_000_000
    stratify: str | None = None
    all_rows: bool = False
    batch_source: str | None = None
    text_column: str | None = None
    label_column: str | None = None


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
    """

    seed: int = 0
    title: str = "simulacra"
    status: Status = field(default_factory=Status)
    model: Any = None
    metadata: str | None = None
    privacy: bool = False


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
    bench_models : tuple of str
        The registry names ``bench`` compares without ``--models``.
    privacy_attacks : bool
        Whether the table privacy attacks (membership inference, singling out, linkability,
        inference) apply; where they do not, the report's copy and memorisation rows are the privacy
        measures.
    """

    name: ClassVar[str] = ""
    unit: ClassVar[str] = "rows"
    default_model: ClassVar[str] = ""
    bench_models: ClassVar[tuple[str, ...]] = ()
    privacy_attacks: ClassVar[bool] = False

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

    def fit_data(self, source: str, model: Any, options: FitOptions, status: Status) -> FitData:
        """What ``model.fit`` takes from ``source``; the base class reads all of it with :meth:`load`."""
        data = self.load(source, text_column=options.text_column, label_column=options.label_column)
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

    def refuse(self, what: str, fix: str) -> ConfigError:
        """The one-line refusal of something this modality does not do: ``"<what> <fix>"``, to be
        raised by the caller (``raise modality.refuse(...)``)."""
        return ConfigError(f"{what}; {fix}")
