"""The requests of the commands (:mod:`simulacra.commands`): one pydantic model per verb, holding
every input the verb takes, checked before any work.

They live in a layer of their own, low in the import layers, because both the commands and the
modality plug-ins (:mod:`simulacra.modalities`) read them: a plug-in takes the request of the
command it serves, so a field is declared once, here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulacra.validation import MAX_SEED, config_error

R = TypeVar("R", bound="Request")

#: what ``FitRequest.pii`` accepts: fresh Faker values, or keyed-hash pseudonyms (with a secret key)
PII_MODES = ("fake", "pseudonymize")


class Request(BaseModel):
    """A command's inputs, checked by pydantic before any work: unknown fields are refused, and so are
    values of the wrong type (an ``int`` field takes no ``"3"``). Build one with :meth:`of`, which
    turns a validation error into one :class:`~simulacra.errors.ConfigError` line naming the field.

    The field names are the CLI's option names with ``_`` for ``-`` (``max_rows`` is ``--max-rows``),
    so a config file, a library call and the command line say the same thing the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the command's name, used in error lines
    command: str = ""

    @classmethod
    def of(cls: type[R], **values: Any) -> R:
        """The request with ``values``.

        Raises
        ------
        ConfigError
            An unknown field, a missing one or a value of the wrong type.
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise config_error(exc, cls.model_fields["command"].default or cls.__name__) from None


#: the request fields that say how a source is read (and so which modality reads it)
LOADER_FIELDS = (
    "text_column",
    "label_column",
    "path_column",
    "image_size",
    "channels",
    "resize",
    "sequence_index",
    "sequence_key",
    "context_columns",
    "parent_table",
)


def loader_options(request: Request) -> dict[str, Any]:
    """The loader options a request holds (:data:`LOADER_FIELDS` it has), for
    :func:`simulacra.modalities.of_source` and a plug-in's ``load``."""
    return {k: getattr(request, k) for k in LOADER_FIELDS if k in type(request).model_fields}


class SeriesFields(Request):
    """The loader options of a time series, shared by the requests that read one.

    Attributes
    ----------
    sequence_index : str or None
        The column ordering rows in time (times or numbers); naming it makes a table a series.
    sequence_key : str or None
        The column naming each row's entity: many sequences rather than one long series.
    context_columns : tuple of str
        Keyed sequences: columns constant within an entity (``"a,b"`` or a list).
    parent_table : str or None
        Keyed sequences: a table (file or SQL URL) with one row per entity, joined on
        ``sequence_key``; its other columns are the sequences' context.
    """

    sequence_index: str | None = None
    sequence_key: str | None = None
    context_columns: tuple[str, ...] = ()
    parent_table: str | None = None

    @field_validator("context_columns", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value


class ItemFields(Request):
    """The loader options of texts, images and recordings, shared by the requests that read them.

    Attributes
    ----------
    text_column, label_column : str or None
        Texts in a table: the columns holding the texts and their labels (simulacra's own samples,
        with columns ``text`` and ``label``, need neither). Images or recordings listed in a table:
        ``label_column`` names their classes.
    path_column : str or None
        Images or recordings listed in a table: the column of their file paths (relative to the
        table's folder).
    image_size, channels, resize : str, int, str or None
        Images: bring every picture to this size (``"64"`` or ``"64x48"``, height × width), to 1
        (grey) or 3 (RGB) channels, by ``"crop"`` (scale to cover, centre crop) or ``"pad"``
        (:meth:`~simulacra.io.ImageSet.read`).
    """

    text_column: str | None = None
    label_column: str | None = None
    path_column: str | None = None
    image_size: str | None = None
    channels: int | None = None
    resize: str | None = None


class FitRequest(SeriesFields, ItemFields):
    """The inputs of :func:`fit`.

    Attributes
    ----------
    source : str
        Training data: a bundled name, a table file, an SQL URL, images (``.npz``, IDX, class
        folders) or texts.
    output : Path
        The model folder to write.
    model : str or None
        A registry name; ``None`` takes the default model of the source's modality.
    params : dict
        Hyper-parameters, checked by the model before any data is read.
    metadata : Path or None
        Tables: metadata overrides (JSON/YAML).
    text_column, label_column, path_column, image_size, channels, resize
        Texts, images and recordings: see :class:`ItemFields`.
    sequence_index, sequence_key, context_columns
        Series: see :class:`SeriesFields`.
    checkpoint_every : int
        Neural models: a checkpoint every this many epochs (0: never).
    resume : bool
        Neural models: continue from the checkpoint of an interrupted fit.
    max_rows : int
        Tables: a larger table is fitted on a stratified sample of this many rows, in [100, 10¹⁰].
    stratify : str or None
        Tables over ``max_rows``: the column whose shares the sample keeps.
    all_rows : bool
        Neural table models over ``max_rows``: train on every row, streamed from disk.
    batch_source : str or None
        Neural table models: ``memory``, ``disk`` or ``auto``.
    pii : str
        Tables: personal-identifier columns become ``fake`` values or keyed-hash ``pseudonymize``
        pseudonyms.
    pii_key_file : Path or None
        The secret key for ``pseudonymize`` (or the ``SIMULACRA_PII_KEY`` environment variable).
    log_dir : Path or None
        Models that train in epochs: write each epoch's losses as TensorBoard scalars into this
        folder (:class:`~simulacra.synthesizers.tensorboard.TensorBoardLogger`).
    force : bool
        Replace an existing model folder written by simulacra.
    """

    command: str = "fit"
    source: str
    output: Path
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: Path | None = None
    checkpoint_every: int = Field(10, ge=0)
    resume: bool = False
    max_rows: int = Field(1_000_000, ge=100, le=10**10)
    stratify: str | None = None
    all_rows: bool = False
    batch_source: str | None = None
    pii: str = "fake"
    pii_key_file: Path | None = None
    log_dir: Path | None = None
    force: bool = False

    @property
    def checkpoints(self) -> Path:
        """Where a neural model's checkpoints go: ``OUTPUT.checkpoint`` beside the model folder."""
        return self.output.with_name(self.output.name + ".checkpoint")


class EvaluateRequest(SeriesFields, ItemFields):
    """The inputs of :func:`evaluate`.

    Attributes
    ----------
    real : str
        The real training data: a bundled name, a file or folder, or an SQL URL; its modality decides
        how everything else is read and scored.
    synthetic : str
        The synthetic sample (a table file or SQL URL, an ``.npz``/folder of images, a text file).
    output : Path
        The ``report.html`` to write; the metrics go beside it as ``.json``.
    test : str or None
        Real test data (TSTR, the DCR holdout, the attacks' control set); a bundled dataset brings its own.
    target : str or None
        Tables: the column to predict for TSTR/TRTR (a bundled dataset brings its own).
    model : Path or None
        Images and texts: a fitted model folder, for its training curves (and grids, or perplexity).
    metadata : Path or None
        Tables: metadata overrides (JSON/YAML).
    text_column, label_column, path_column, image_size, channels, resize
        Texts, images and recordings: see :class:`ItemFields`.
    privacy : bool
        Tables: also run the privacy attacks, with the test rows as the control set.
    preparation : Path or None
        Tables: the ``preparation.json`` that ``prepare`` wrote for ``real``; the report shows its
        record of every change.
    unfiltered, filter_record : str, Path or None
        Tables, given together: the rows as drawn before ``sample``'s filters and the filters' record
        (``sample``'s ``filter_record``); the report shows what each filter dropped and the metrics
        before and after.
    seed : int
        In [0, 2³² − 1].
    title : str or None
        The report's title (default ``simulacra: SYNTHETIC vs REAL``).
    info : dict
        Extra lines for the report's run information (``run``: the model, its fit and sample seconds).
    metrics : Path or None
        The metrics JSON (default: ``output`` with ``.json``).
    force : bool
        Replace an existing report written by simulacra.
    """

    command: str = "evaluate"
    real: str
    synthetic: str
    output: Path
    test: str | None = None
    target: str | None = None
    model: Path | None = None
    metadata: Path | None = None
    privacy: bool = False
    preparation: Path | None = None
    unfiltered: str | None = None
    filter_record: Path | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    title: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    metrics: Path | None = None
    force: bool = False


class SampleRequest(ItemFields):
    """The inputs of :func:`simulacra.commands.sample`.

    Attributes
    ----------
    model : Path
        A fitted model folder.
    output : str
        Tables: a file (CSV, Parquet, JSONL, …), an SQL URL, or a folder of Parquet parts (a name
        ending in ``/`` or without a suffix). Images: an ``.npz`` file or a folder of PNGs per class.
        Texts: a table file or SQL URL (columns ``text``, ``label``).
    rows : int or None
        How many to generate, in [1, 2·10⁹]; with ``class_counts``, their sum (may be omitted).
    conditions : dict of str to str
        ``column=value`` every row must have; images and texts: ``label``.
    balance : str or None
        Tables: equal counts per class of this column, exactly.
    class_counts : dict of str to int or None
        Tables: exact counts per class of the ``balance`` column.
    filters : list of str
        ``near-copies[=PERCENTILE]``, ``detection=SHARE``, ``label=CONFIDENCE`` (images and
        texts: ``label`` only); needs ``data``.
    filter_record : Path or None
        Tables with ``filters``: write what each filter dropped, and why, to this JSON file (for
        ``evaluate``'s ``filter_record``).
    data, test : str or None
        The model's real training data and a real holdout, for the filters.
    text_column, label_column, path_column, image_size, channels, resize
        Texts, images and recordings: see :class:`ItemFields`.
    temperature : float
        In (0, 10]: below 1 the samples crowd the dense regions, above 1 they spread out.
    sequence_length : int or None
        Keyed series: the length of every sequence (else drawn with its context).
    context_output : str or None
        Keyed series with context columns: write the sampled entities' context here, one row per key
        (a parent table, as ``fit --parent-table`` reads one), and leave it out of ``output``.
    top_k, top_p : int, float or None
        Texts: the k most likely next tokens (0: all); nucleus sampling.
    keep_copies : bool
        Texts: keep generated texts that copy a training text (by default they are drawn again).
    keep_formulas : bool
        Tables in CSV/TSV: write text starting with ``=``, ``+``, ``-``, ``@`` as it is.
    chunk_rows : int
        Tables: rows written at a time; memory holds one chunk.
    part_rows : int
        Tables, keyed series and windows written to a folder: rows per Parquet part (and per Ray
        task; a series part holds whole blocks of 1,024 sequences).
    workers : int or None
        Written to a folder: Ray tasks at a time.
    ray_address : str or None
        With ``workers``: a Ray cluster address; default a local instance.
    seed : int
        In [0, 2³² − 1]; the same seed gives the same samples.
    force : bool
        Replace an existing output written by simulacra.
    """

    command: str = "sample"
    model: Path
    output: str
    rows: int | None = None  # checked by validation.check_rows, whose line names -n
    conditions: dict[str, str] = Field(default_factory=dict)
    balance: str | None = None
    class_counts: dict[str, int] | None = None
    filters: list[str] = Field(default_factory=list)
    filter_record: Path | None = None
    data: str | None = None
    test: str | None = None
    temperature: float = 1.0
    sequence_length: int | None = None
    context_output: str | None = None
    top_k: int | None = None
    top_p: float | None = None
    keep_copies: bool = False
    keep_formulas: bool = False
    chunk_rows: int = 100_000
    part_rows: int = 1_000_000
    workers: int | None = None
    ray_address: str | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    force: bool = False


class AugmentRequest(SeriesFields, ItemFields):
    """The inputs of :func:`simulacra.commands.augment`.

    Attributes
    ----------
    source : str
        Images (a bundled set's training part, class folders, ``.npz``, IDX), labelled texts (a
        bundled set, a text file or folder, a table with ``text_column``) or a series (a bundled set, or
        a table with ``sequence_index`` or ``sequence_key``).
    pipeline : Path
        YAML with ``steps:``, e.g. ``[{op: rotate, degrees: 15}]``, ``[{op: random_swap, p: 0.1}]`` or
        ``[{op: time_warp, sigma: 0.2}]``.
    output : Path
        Images: an ``.npz`` file or a folder (a name without suffix). Texts: ``.jsonl``, ``.csv`` or
        ``.parquet``. Series: ``.csv`` or ``.parquet``.
    copies : int
        Augmented copies of every item, in [1, 1000].
    text_column, label_column, path_column, image_size, channels, resize
        Texts, images and recordings: see :class:`ItemFields`.
    test : str or None
        Texts: real test texts, for TRTR with and without the copies; series: a real test series, for
        the predictive score with and without the copies (a bundled set brings its own).
    seed : int
        In [0, 2³² − 1]; the same seed gives the same output.
    force : bool
        Replace an existing output written by simulacra.
    """

    command: str = "augment"
    source: str
    pipeline: Path
    output: Path
    copies: int = Field(1, ge=1, le=1000)
    test: str | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    force: bool = False


class MixRequest(ItemFields):
    """The inputs of :func:`simulacra.commands.mix`.

    Attributes
    ----------
    source : str
        A training table (bundled name, file, SQL URL) or labelled images.
    models : list of str or None
        Synthesizers to compare; ``None`` takes the modality's (``mixture`` on tables, ``cgan`` on
        images).
    target : str or None
        Tables: the column to predict (a bundled dataset brings its own).
    test : str or None
        The real test data every variant is scored on (a bundled dataset brings its own).
    fractions : list of float
        Shares of the real training rows, each in (0, 1].
    ratios : list of float
        Synthetic rows per real row, each in [0, 10].
    repeats : int
        Repeats with successive seeds, in [1, 100].
    balance : str or None
        Tables: also compare class balancing of this column (it must be the target).
    downstream : list of str
        Tables: downstream models (``hgb``, ``logreg``).
    params : dict
        Hyper-parameters of the synthesizers.
    metadata : Path or None
        Tables: metadata overrides.
    write_best : str or None
        Where to write the best mixed training set (tables: a ``synthetic`` column marks its rows;
        images and texts: the real items first, then the synthetic ones).
    text_column, label_column, path_column, image_size, channels, resize
        Texts, images and recordings: see :class:`ItemFields`.
    seed : int
        The first repeat's seed.
    output : Path or None
        The folder for ``results.csv``, ``metrics.json`` and ``report.html``; default
        ``runs/mix-<time>``.
    workers, ray_address : int, str or None
        Tables: run every (repeat, fraction) as a Ray task, this many at a time; where.
    force : bool
        Replace an output simulacra wrote.
    """

    command: str = "mix"
    source: str
    models: list[str] | None = None
    target: str | None = None
    test: str | None = None
    fractions: list[float] = Field(default_factory=lambda: [0.01, 0.05, 0.1, 1.0])
    ratios: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 1.0, 2.0])
    repeats: int = 3
    balance: str | None = None
    downstream: list[str] = Field(default_factory=lambda: ["hgb", "logreg"])
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: Path | None = None
    write_best: str | None = None
    seed: int = 0
    output: Path | None = None
    workers: int | None = None
    ray_address: str | None = None
    force: bool = False


class TuneRequest(Request):
    """The inputs of :func:`simulacra.commands.tune`.

    Attributes
    ----------
    source : str
        The training table (bundled name, file, SQL URL).
    model : str or None
        The synthesizer to tune; ``None`` takes the modality's default.
    target : str or None
        The column TSTR predicts (a bundled dataset brings its own).
    test : str or None
        A real test table, used once to score the refitted best model; never by the search.
    trials : int
        Trials, the model's defaults (trial 0) included.
    space : dict of str to str
        Searched parameters, ``name → LOW:HIGH``, ``LOW:HIGH:log`` or ``A,B,C``; replaces or adds to
        the model's default space.
    params : dict
        Parameters fixed in every trial (not searched).
    objective : str
        ``combined`` (mean of detection and utility), ``detection`` or ``utility``.
    validation : float
        Share of the training rows held out to score the trials, in [0.05, 0.5].
    metadata : Path or None
        Metadata overrides.
    seed : int
        The seed of the split, the sampler, the models and the scores.
    workers : int
        Trials at once, as Ray Tune trials.
    ray_address : str or None
        A Ray cluster; default a local instance.
    refit : bool
        Fit the best parameters on all training rows and score them once on the test table.
    output : Path or None
        The folder for ``best_params.json``, ``tune.md``, ``tune.json``, ``trials.csv`` and ``model/``.
    force : bool
        Replace an output simulacra wrote.
    """

    command: str = "tune"
    source: str
    model: str | None = None
    target: str | None = None
    test: str | None = None
    trials: int = 20
    space: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    objective: str = "combined"
    validation: float = 0.2
    metadata: Path | None = None
    seed: int = 0
    workers: int = 1
    ray_address: str | None = None
    refit: bool = True
    output: Path | None = None
    force: bool = False


class BenchRequest(Request):
    """The inputs of :func:`simulacra.commands.bench`.

    Attributes
    ----------
    data : str
        Training data: a bundled name, a file or SQL URL, images or texts.
    models : list of str or None
        Registry names; ``None`` takes the modality's bench models.
    test, target : str or None
        The real test data and the column for TSTR/TRTR (a bundled dataset brings its own).
    params : dict
        ``name → value`` for every model taking it, or ``model.name → value``.
    rows : int
        Rows sampled to time sampling, in [1, 10⁸].
    seed : int
        The first run's seed.
    repeats : int
        Runs per model with successive seeds, in [1, 100].
    temperatures : list of float or None
        Also sample each model that has a temperature at these, each in (0, 10].
    privacy : bool
        Tables: run the privacy attacks on every model and reference row.
    workers, ray_address : int, str or None
        Run the models (and repeats) as Ray tasks, this many at a time; where.
    output : Path or None
        The folder for ``bench.json`` and ``bench.md``; default ``runs/bench-<time>``.
    force : bool
        Replace ``bench.json``/``bench.md`` in ``output``.
    """

    command: str = "bench"
    data: str = "adult"
    models: list[str] | None = None
    test: str | None = None
    target: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    rows: int = Field(100_000, ge=1, le=100_000_000)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    repeats: int = Field(1, ge=1, le=100)
    temperatures: list[float] | None = None
    privacy: bool = True
    workers: int | None = None
    ray_address: str | None = None
    output: Path | None = None
    force: bool = False


class InspectRequest(Request):
    """The inputs of :func:`simulacra.commands.inspect`: a table ``source``, metadata overrides to
    apply, and where to write the metadata JSON (``output``, replaced only with ``force``)."""

    command: str = "inspect"
    source: str
    metadata: Path | None = None
    output: Path | None = None
    force: bool = False


class PrepareRequest(Request):
    """The inputs of :func:`simulacra.commands.prepare`.

    Attributes
    ----------
    source : str
        The table to clean.
    output : Path
        The folder for the parts, ``preparation.json`` and ``report.html``.
    config : Path or None
        YAML of cleaning options (:mod:`simulacra.prepare.table`).
    test : str or None
        A separate test table, cleaned the same way; the table is then not split.
    split, split_column, fractions, seed
        Override the config's ``split`` section: ``random``, ``stratified``, ``group`` or ``time``;
        its column; the parts' shares; its seed.
    restore : Path or None
        Images: a restoration model folder (``simulacra fit DATA --model restore``); the images are
        denoised or super-resolved into ``output`` (an ``.npz`` file or a folder) instead of cleaned
        as a table.
    force : bool
        Replace an existing output folder written by simulacra.
    """

    command: str = "prepare"
    source: str
    output: Path
    config: Path | None = None
    test: str | None = None
    split: str | None = None
    split_column: str | None = None
    fractions: list[float] | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    restore: Path | None = None
    force: bool = False
