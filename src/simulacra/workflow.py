"""The steps the modality plug-ins, the commands, :mod:`simulacra.pipeline` and :mod:`simulacra.bench`
share, written once.

* **Sources**: :func:`resolve_table` turns a table source (a bundled dataset name, a file, an SQL
  URL) into its training part, its test part (a bundled dataset brings its own) and its target
  column; :func:`load_images` and :func:`load_texts` read one part of an image or text source, which
  :meth:`simulacra.modalities.Modality.resolve` pairs into a training and test part;
  :mod:`simulacra.modalities` tells which modality a source is, with :func:`is_text_source` and
  :func:`is_image_source`.
* **Metadata**: :func:`table_metadata` detects it and applies the user's overrides, checking the target.
* **Fitting**: :func:`fit_model` passes checkpoints and epoch callbacks to models that train in epochs
  (the :attr:`~simulacra.synthesizers.BaseSynthesizer.trains_in_epochs` capability).
* **Sampling**: :func:`class_counts` and :func:`sample_table` (exact class counts, temperature,
  filters with top-up) for the ``sample`` command and pipeline configs alike.
* **Evaluation and report**: :func:`evaluate_tables`, :func:`evaluate_image_sets` and
  :func:`evaluate_text_sets` score and build the report object, which the caller writes.
* **Output folders**: :func:`output_folder` holds the output's lock, builds the folder aside and moves
  it into place only when the block succeeds.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulacra import datasets
from simulacra.errors import ConditionError, ConfigError, DataError, DataWarning
from simulacra.io import (
    FILE_FORMATS,
    ImageSet,
    TextSet,
    file_not_found,
    is_sql_url,
    output_lock,
    read_table,
    replace_dir,
    temporary_dir_for,
)
from simulacra.metadata import Metadata


@dataclass
class TableSource:
    """A resolved table source: training rows, real test rows (or ``None``), the target column (or
    ``None``) and the name it was given by."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame | None
    target: str | None


_SHADOWED: set[str] = set()


def is_bundled(source: str) -> bool:
    """Whether ``source`` names a bundled dataset: one of :func:`simulacra.datasets.available` that is
    not also a local path. A local file or folder always wins over a bundled name (a ``mnist/`` folder of
    your own is read as it is), and a :class:`~simulacra.errors.DataWarning` says so, once per process."""
    if source not in datasets.available():
        return False
    if Path(source).exists():
        if source not in _SHADOWED:
            _SHADOWED.add(source)
            warnings.warn(
                f"{source!r}: reading the local path {Path(source).resolve()}, not the bundled dataset of "
                f"that name (run elsewhere, or rename the local one, for the bundled {source!r})",
                DataWarning,
                stacklevel=2,
            )
        return False
    return True


def is_text_source(source: str, text_column: str | None = None) -> bool:
    """Whether ``source`` names texts: a bundled text dataset, a folder of class folders of ``.txt``
    files, a ``label<TAB>text`` file without a table suffix (the SMS Spam Collection's format), or any
    table when ``text_column`` names its text column."""
    from simulacra.io.text import is_sms_format

    if is_bundled(source):
        return datasets.is_text(source)
    if text_column is not None:
        return True
    if is_sql_url(source):
        return False
    path = Path(source)
    if path.is_dir():
        return any(path.glob("*/*.txt"))
    return path.is_file() and is_sms_format(path)


def is_image_source(source: str) -> bool:
    """Whether ``source`` names images: a bundled image dataset, an ``.npz`` archive, an IDX file or a
    folder (of class folders of pictures)."""
    if is_bundled(source):
        return datasets.is_image(source)
    if is_sql_url(source) or is_text_source(source):
        return False
    path = Path(source)
    if path.suffix == ".npz" or path.is_dir():
        return True
    tabular = any(suffix in FILE_FORMATS for suffix in path.suffixes)
    return not tabular and ("idx" in path.name or "ubyte" in path.name)


def check_sources(*sources: str | os.PathLike[str] | None) -> None:
    """Refuse, before any model is built or heavy library imported, a source that is none of a bundled
    dataset name, an SQL URL or an existing file or folder (``None`` is skipped: an option not given).
    A missing input is then reported in a fraction of a second, not after torch has loaded.

    Raises
    ------
    DataError
        The first source that does not exist, in the words :func:`~simulacra.io.read_table` uses.
    """
    for source in sources:
        if source is None or str(source) in datasets.available() or is_sql_url(str(source)):
            continue
        if not Path(source).exists():
            raise file_not_found(source)


def load_source(source: str, *, part: str = "train") -> pd.DataFrame:
    """A bundled dataset's ``part`` (``train``/``test``) when ``source`` names one, else ``read_table``.

    Raises
    ------
    DataError
        ``source`` is a bundled image, text or series set, or an unreadable table.
    """
    if is_bundled(source):
        if datasets.is_image(source) or datasets.is_text(source) or datasets.is_series(source):
            kind = {
                "image classification": "an image",
                "text classification": "a text",
                "series": "a time series",
            }
            raise DataError(
                f"{source!r} is {kind[datasets.DATASETS[source]['task']]} dataset; this command needs a table (e.g. 'adult')"
            )
        train, test = datasets.load(source)
        return train if part == "train" else test
    if is_text_source(source):
        raise DataError(
            f"{source}: holds labelled texts, not a table; use a text model (`model` textgpt) or "
            "a table file with columns"
        )
    return read_table(source)


def load_fit_table(
    source: str, *, max_rows: int, stratify: str | None = None, seed: int = 0, private: bool = False
) -> tuple[pd.DataFrame, Any]:
    """The rows a table fit reads: a bundled dataset's training part, or at most ``max_rows`` rows of
    a file or SQL table — all of them when it holds no more, else a stratified sample plus the rows
    that keep every bound and category (:func:`simulacra.scale.inputs.read_for_fit`). Returns
    ``(rows, FitSample or None)``.

    A differentially private fit (``private``) takes every row or none: the sample is drawn with the
    public seed and its coverage rows hold each column's extremes and every rare category with
    certainty, while the accountant assumes that one row changes one row of the input.

    Raises
    ------
    DataError
        As :func:`load_source`, or an unknown ``stratify`` column.
    ConfigError
        ``max_rows`` out of range; ``private`` and a table of more than ``max_rows`` rows.
    """
    from simulacra.scale.inputs import read_for_fit

    if is_bundled(source) or is_text_source(source):
        data, sampled = load_source(source), None
    else:
        data, sampled = read_for_fit(source, max_rows=max_rows, stratify=stratify, seed=seed)
    if private and sampled is not None:
        rows = sampled.stats.rows
        raise ConfigError(
            f"{source} holds {rows:,} rows, more than `max_rows` {max_rows:,}, and a differentially private "
            f"model trains on every row (a sample that keeps the extremes and rare categories would break "
            f"the guarantee); give `max_rows` {rows} or more"
        )
    if stratify is not None and stratify not in data.columns:  # refused even when nothing was sampled
        raise DataError(
            f"`stratify` {stratify!r} is not a column; choose one of {', '.join(map(str, data.columns))}"
        )
    return data, sampled


def stream_rows(
    source: str, like: pd.DataFrame, chunk_rows: int = 100_000
) -> Callable[[], Iterator[pd.DataFrame]]:
    """Every row of a table file or SQL table, as a function returning a fresh stream of chunks
    (:func:`simulacra.io.iter_table`), each made like ``like`` (:func:`simulacra.io.conform_chunk`):
    what a neural table model trains on with ``fit --all-rows`` when ``like`` is the sample
    :func:`load_fit_table` drew."""
    from simulacra.io import conform_chunk, iter_table

    def rows() -> Iterator[pd.DataFrame]:
        for chunk in iter_table(source, chunk_rows=chunk_rows):
            yield conform_chunk(chunk, like, str(source))

    return rows


def load_images(
    source: str,
    *,
    part: str = "train",
    path_column: str | None = None,
    label_column: str | None = None,
    size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    fit: str = "crop",
) -> ImageSet:
    """A bundled image dataset's ``part`` (``train``/``test``) when ``source`` names one, else
    :meth:`ImageSet.read_table` of a table listing pictures in ``path_column`` (classes in
    ``label_column``), else :meth:`ImageSet.read` (class folders, flat folders, ``.npz``, IDX); each
    brought to ``size`` and ``channels`` by ``fit`` where given (:meth:`ImageSet.read`).

    Raises
    ------
    DataError
        ``source`` is a bundled table, or unreadable images.
    """
    if is_bundled(source):
        if not datasets.is_image(source):
            raise DataError(
                f"{source!r} is not an image dataset; this command needs images here (e.g. 'mnist')"
            )
        train, test = datasets.load(source)
        return (train if part == "train" else test).resized(size, channels, fit)
    if path_column:
        return ImageSet.read_table(
            source, path_column, label_column=label_column, size=size, channels=channels, fit=fit
        )
    return ImageSet.read(source, size=size, channels=channels, fit=fit)


def load_texts(
    source: str,
    *,
    part: str = "train",
    text_column: str | None = None,
    label_column: str | None = None,
) -> TextSet:
    """A bundled text dataset's ``part`` (``train``/``test``) when ``source`` names one, else
    :meth:`TextSet.read` (a table file with ``text_column``/``label_column``, class folders of ``.txt``,
    or ``label<TAB>text`` lines).

    Raises
    ------
    DataError
        ``source`` is a bundled table or image set, or unreadable texts.
    """
    if is_bundled(source):
        if not datasets.is_text(source):
            raise DataError(f"{source!r} is not a text dataset; this command needs texts here (e.g. 'sms')")
        train, test = datasets.load(source)
        return train if part == "train" else test
    if is_sql_url(source):
        return TextSet.from_frame(read_table(source), text_column=text_column, label_column=label_column)
    return TextSet.read(source, text_column=text_column, label_column=label_column)


def resolve_table(source: str, *, test: str | None = None, target: str | None = None) -> TableSource:
    """Load ``source``'s training rows, its test rows (``test``, or a bundled dataset's own test part)
    and its target (``target``, or a bundled dataset's own).

    Raises
    ------
    DataError
        Unreadable sources, or an image source.
    """
    bundled = datasets.DATASETS.get(source, {}) if is_bundled(source) else {}
    train = load_source(source, part="train")
    test_src = test if test is not None else (source if bundled else None)
    real_test = load_source(test_src, part="test") if test_src else None
    return TableSource(source, train, real_test, target or bundled.get("target"))


def table_metadata(
    df: pd.DataFrame,
    overrides: str | os.PathLike[str] | dict[str, Any] | None = None,
    target: str | None = None,
) -> Metadata:
    """Detected metadata of ``df`` with the user's ``overrides`` (a JSON/YAML file or mapping) applied,
    checked against the data and, when given, the ``target`` column.

    Raises
    ------
    MetadataError
        Malformed overrides, an override the values do not fit, or an unknown target.
    """
    from simulacra.evaluate import check_target

    meta = Metadata.detect(df)
    if overrides:
        meta.apply_overrides(overrides)
        meta.validate(df)
    check_target(meta, target)
    return meta


def fit_model(
    model: Any,
    *args: Any,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 10,
    resume: bool = False,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    pii: str = "fake",
    pii_key: bytes | None = None,
    batches: dict[str, Any] | None = None,
) -> Any:
    """``model.fit(*args)``, with checkpoints and the epoch callback when the model trains in epochs,
    the personal-identifier options (``pii``, ``pii_key``) when it replaces identifiers (the table
    models, ``replaces_identifiers``), and ``batches``
    (``rows``, ``expected_rows``, ``batch_source``: where a neural table model's training rows come from
    and live, :meth:`~simulacra.synthesizers.neural.TorchSynthesizer.fit`) when it is given."""
    extra: dict[str, Any] = {"pii": pii, "pii_key": pii_key} if model.replaces_identifiers else {}
    extra |= batches or {}
    if model.trains_in_epochs:
        return model.fit(
            *args,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume=resume,
            on_epoch=on_epoch,
            **extra,
        )
    return model.fit(*args, **extra)


def pii_key(path: str | os.PathLike[str] | None) -> bytes | None:
    """The secret key for pseudonymising identifiers: the bytes of ``path`` (surrounding whitespace
    stripped), else the ``SIMULACRA_PII_KEY`` environment variable, else ``None``.

    Raises
    ------
    ConfigError
        The file cannot be read, or the key is shorter than 16 bytes.
    """
    if path is not None:
        try:
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"`pii_key_file` {path}: cannot be read ({exc.strerror}); give a readable file"
            ) from None
    elif os.environ.get("SIMULACRA_PII_KEY"):
        key = os.environ["SIMULACRA_PII_KEY"].encode()
    else:
        return None
    if len(key) < 16:
        raise ConfigError(
            f"the pseudonymisation key has {len(key)} bytes; use at least 16 (e.g. openssl rand -hex 32 > key)"
        )
    return key


def class_counts(
    model: Any, column: str, rows: int | None, given: dict[Any, int] | None = None
) -> dict[Any, int]:
    """Exact rows per class of ``column`` for :meth:`~simulacra.synthesizers.Synthesizer.sample_counts`:
    ``given`` (class → rows; a class given as text is matched to the fitted class as a condition is),
    or ``rows`` split equally (:meth:`~simulacra.synthesizers.Synthesizer.balanced_counts`).

    Raises
    ------
    ConditionError
        ``column`` is not categorical/boolean, or a class it never had.
    ConfigError
        ``rows`` given and different from the counts' total.
    """
    if given is None:
        return model.balanced_counts(column, rows)
    counts = {model.parse_conditions({column: str(c)})[column]: int(k) for c, k in given.items()}
    known = model.categories(column)
    unknown = [c for c in counts if c not in known]
    if unknown:
        raise ConditionError(
            f"column {column!r} has no class {unknown[0]!r}; its classes are: {', '.join(map(str, known))}"
        )
    total = sum(counts.values())
    if rows is not None and rows != total:
        raise ConfigError(f"{rows} rows asked for, but the class counts add up to {total}; give one of them")
    return counts


def refuse_private_filters(model: Any, filters: list[str] | tuple[str, ...], flag: str = "`filters`") -> None:
    """Filters compare synthetic rows with the real training rows (near copies, a detector, a label
    model fitted on them): post-processing with private data, which a differentially private model's ε
    does not cover. So they are refused on such a model, before any work.

    Raises
    ------
    ConfigError
        ``filters`` given for a model whose ``differentially_private`` is true.
    """
    if filters and getattr(model, "differentially_private", False):
        raise ConfigError(
            f"{flag}: {model.name} is differentially private, and a filter reads the real training rows, "
            "which its ε does not cover (the released rows would no longer be private); drop the filter"
        )


def sample_table(
    model: Any,
    rows: int,
    *,
    conditions: dict[str, Any] | None = None,
    column: str | None = None,
    counts: dict[Any, int] | None = None,
    filters: list[str] | tuple[str, ...] = (),
    real_train: pd.DataFrame | None = None,
    real_test: pd.DataFrame | None = None,
    seed: int = 0,
    temperature: float = 1.0,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Synthetic rows as ``sample`` and pipeline configs ask for them: ``rows`` rows (exactly
    ``counts`` of ``column``'s classes when given), under ``conditions``, at ``temperature``, passed
    through ``filters`` (:func:`~simulacra.experiments.filters.parse_filters` spellings, fitted on the
    ``real_train`` rows and the ``real_test`` holdout) with top-up.

    Returns
    -------
    (DataFrame, list of dict)
        The rows, and per filter ``{filter, seen, dropped, why}`` (empty without filters).

    Raises
    ------
    SimulacraError
        A bad temperature, class or filter, filters that cannot pass enough rows, or filters on a
        differentially private model (:func:`refuse_private_filters`).
    """
    from simulacra.experiments.filters import filtered_sample, parse_filters, summarise

    model._check_temperature(temperature)
    refuse_private_filters(model, filters)

    def draw(k: Any, s: int) -> pd.DataFrame:
        if counts is not None:
            batch = k if isinstance(k, dict) else counts
            return model.sample_counts(column, batch, conditions=conditions, seed=s, temperature=temperature)
        return model.sample(k, conditions=conditions, seed=s, temperature=temperature)

    if not filters:
        return draw(counts if counts is not None else rows, seed), []
    label = column or (next(iter(conditions)) if conditions and len(conditions) == 1 else None)
    chosen = parse_filters(list(filters), label_column=label)
    df, records = filtered_sample(
        draw,
        rows,
        chosen,
        real_train=real_train,
        real_test=real_test,
        metadata=model.metadata_,
        seed=seed,
        column=column if counts is not None else None,
        counts=counts,
    )
    return df, summarise(records)


def evaluate_tables(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata,
    *,
    test: pd.DataFrame | None,
    target: str | None,
    seed: int,
    title: str,
    info: dict[str, Any] | None = None,
    preparation: dict[str, Any] | None = None,
    filtering: dict[str, Any] | None = None,
    privacy_attacks: bool = False,
    model_privacy: dict[str, Any] | None = None,
):
    """Evaluate a synthetic table and build its report: ``(Evaluation, Report)``. ``filtering``
    (``{"filters": records, "unfiltered": DataFrame}``) evaluates the unfiltered rows too, for the
    report's before/after table; ``privacy_attacks`` runs the attacks of
    :func:`simulacra.evaluate.evaluate`; ``model_privacy`` (a DP model's ``privacy_``) is shown in the
    report's privacy section."""
    from simulacra.evaluate import evaluate
    from simulacra.report import Report

    ev = evaluate(
        train, synthetic, metadata, real_test=test, target=target, seed=seed, privacy_attacks=privacy_attacks
    )
    shown = None
    if filtering is not None:
        before = evaluate(train, filtering["unfiltered"], metadata, real_test=test, target=target, seed=seed)
        shown = {"filters": filtering["filters"], "before": before}
    report = Report(
        ev,
        train,
        synthetic,
        metadata,
        title=title,
        info=info,
        preparation=preparation,
        filtering=shown,
        seed=seed,
        model_privacy=model_privacy,
    )
    return ev, report


def evaluate_image_sets(
    train: ImageSet,
    synthetic: ImageSet,
    test: ImageSet | None,
    *,
    seed: int,
    title: str,
    model: Any = None,
    info: dict[str, Any] | None = None,
    reconstructions: Any = None,
):
    """Evaluate synthetic images and build their report: ``(Evaluation, ImageReport)``; ``model`` (a
    fitted image synthesizer, optional) contributes its training curves and grids."""
    from simulacra.evaluate.image import evaluate_images
    from simulacra.report import ImageReport

    ev = evaluate_images(train, synthetic, test, reconstructions=reconstructions, seed=seed)
    report = ImageReport(
        ev,
        train,
        synthetic,
        title=title,
        info=info,
        history=getattr(model, "history_", None),
        grids=getattr(model, "grids_", None),
        seed=seed,
    )
    return ev, report


def evaluate_text_sets(
    train: TextSet,
    synthetic: TextSet,
    test: TextSet | None,
    *,
    seed: int,
    title: str,
    model: Any = None,
    info: dict[str, Any] | None = None,
):
    """Evaluate synthetic texts and build their report: ``(Evaluation, TextReport)``; ``model`` (a
    fitted text synthesizer, optional) adds its perplexity on the test texts and its training curves."""
    from simulacra.evaluate.text import evaluate_texts
    from simulacra.report import TextReport

    ev = evaluate_texts(train, synthetic, test, model=model, seed=seed)
    report = TextReport(
        ev,
        title=title,
        info=info,
        history=getattr(model, "history_", None),
        counts={"real training": len(train), "synthetic": len(synthetic)},
    )
    return ev, report


@contextmanager
def output_folder(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Build an output folder: yields an empty temporary folder beside ``path`` while holding the
    output's lock; when the block ends without an error the folder is moved to ``path`` (replacing a
    previous simulacra output only with ``force``), otherwise it is removed and ``path`` is untouched.

    Raises
    ------
    OutputExistsError
        ``path`` exists (without ``force``, or not written by simulacra), or another process is
        writing it.
    ConfigError
        ``path`` cannot be written.
    """
    path = Path(path)
    with output_lock(path):
        tmp = temporary_dir_for(path, force=force)
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        replace_dir(tmp, path)
