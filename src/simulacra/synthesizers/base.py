"""The synthesizer protocol, saving/loading without pickle, and the registry.

Every synthesizer follows scikit-learn's contract: hyper-parameters are ``__init__`` arguments stored
unchanged; learned state lives in attributes ending in ``_``; ``fit`` returns ``self``.

Saved model layout (a directory)::

    config.json     {"model": <registry name>, "params": {...}, "format": FORMAT_VERSION,
                     "simulacra_version": ...}
    metadata.json   the Metadata the model was fitted with
    state.json      JSON-able learned state (transformer encoders, ...)
    arrays.npz      numeric learned state, read with ``allow_pickle=False``
    weights.pt      (neural models) ``torch.save(state_dict)``, read with ``weights_only=True``

Nothing is unpickled on load, so a model directory from an untrusted source cannot run code. A
folder of a newer :data:`FORMAT_VERSION` than this release reads is refused with the versions named (a
folder without one is format 1, as written before the field existed).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from simulacra.errors import ConditionError, ConfigError, DataError, MetadataError, NotFittedError
from simulacra.io import replace_dir, temporary_dir_for
from simulacra.metadata import Metadata
from simulacra.synthesizers.hyper import Hyper, collect
from simulacra.validation import (
    MAX_SEED,
    Integer,
    Param,
    Real,
    check_memory,
    check_params,
    check_rows,
    check_value,
)

_REGISTRY: dict[str, type[BaseSynthesizer]] = {}

#: The built-in models, the one registry of them: registry name → ``"module:Class"``. Modules are
#: imported on first use, so that listing the models (``simulacra --help``) or refusing a bad option
#: does not import torch; ``simulacra.synthesizers.<Class>`` is served from this table too.
BUILTIN: dict[str, str] = {
    "copula": "simulacra.synthesizers.copula:GaussianCopula",
    "independent": "simulacra.synthesizers.copula:IndependentMarginals",
    "mixture": "simulacra.synthesizers.mixture:Mixture",
    "diffusion": "simulacra.synthesizers.diffusion:Diffusion",
    "aim": "simulacra.synthesizers.dp.aim:AIM",
    "ctgan": "simulacra.synthesizers.ctgan:CTGAN",
    "tvae": "simulacra.synthesizers.tvae:TVAE",
    "dcgan": "simulacra.synthesizers.image.gan:DCGAN",
    "cgan": "simulacra.synthesizers.image.gan:ConditionalGAN",
    "vae": "simulacra.synthesizers.image.vae:VAE",
    "cvae": "simulacra.synthesizers.image.vae:ConditionalVAE",
    "edm": "simulacra.synthesizers.image.diffusion:EDM",
    "cedm": "simulacra.synthesizers.image.diffusion:ConditionalEDM",
    "restore": "simulacra.synthesizers.image.restore:ImageRestorer",
    "specgan": "simulacra.synthesizers.audio:SpecGAN",
    "specvae": "simulacra.synthesizers.audio:SpecVAE",
    "textgpt": "simulacra.synthesizers.text.gpt:TextGPT",
    "hf-causal-lm": "simulacra.synthesizers.text.hf:HFCausalLM",
    "series-ar": "simulacra.synthesizers.series:SeriesAR",
    "series-diffusion": "simulacra.synthesizers.series_diffusion:SeriesDiffusion",
}


#: the layout of a saved model folder; raised when that layout changes in a way older releases cannot read
FORMAT_VERSION = 1

#: what ``fit``, ``demo`` and pipeline configs use when no model is named: the fastest model that meets
#: the quality bar (docs/models.md, "the fast default")
DEFAULT_MODEL = "mixture"


def register(cls: type[BaseSynthesizer]) -> type[BaseSynthesizer]:
    """Class decorator: make ``cls`` available as ``make(cls.name)``."""
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Registry names of the synthesizers (built-in and registered)."""
    return sorted(set(BUILTIN) | set(_REGISTRY))


def model_class(name: str) -> type[BaseSynthesizer]:
    """The synthesizer class registered as ``name`` (its module is imported on first use).

    Raises
    ------
    ConfigError
        Unknown name, or a name that is not text.
    """
    if not isinstance(name, str) or name not in available():
        raise ConfigError(f"unknown model {_short(name)}; available: {', '.join(available())}")
    if name not in _REGISTRY:
        importlib.import_module(BUILTIN[name].partition(":")[0])
    return _REGISTRY[name]


def make(name: str, **params: Any) -> BaseSynthesizer:
    """Create a synthesizer by registry name, e.g. ``make("copula", seed=1)``; every parameter is
    checked against the model's declared constraints first (lists become tuples where a tuple is meant).

    Raises
    ------
    ConfigError
        Unknown name, a hyper-parameter the model does not take, or a value of the wrong type or range
        (the message names it and the allowed range).
    """
    cls = model_class(name)
    checked = check_params(name, cls._parameter_constraints, params)
    model = cls(**checked)
    model._check_params()
    return model


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: where a neural table model's encoded training rows may live (:mod:`simulacra.synthesizers.batches`):
#: ``auto`` (memory up to 1 GiB, else disk), ``memory``, ``disk`` (a memory-mapped file)
BATCH_SOURCES = ("auto", "memory", "disk")


class BaseSynthesizer(ABC):
    """What every synthesizer shares, tables or images: hyper-parameters, saving, loading.

    Subclasses set ``name`` (the registry name) and ``modality`` (``"table"`` or ``"image"``) and
    implement ``_get_state`` / ``_set_state``; ``_fitted_attr`` names the attribute that exists once fitted.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = "table"
    _fitted_attr: ClassVar[str] = "metadata_"
    #: each constructor parameter's type and range (:mod:`simulacra.validation`), checked by ``make``,
    #: ``set_params`` and at the top of ``fit``, as scikit-learn's ``_parameter_constraints``
    _parameter_constraints: ClassVar[dict[str, Param]] = {}
    #: ``simulacra tune``'s default search space, ``{parameter: spec}`` in the syntax of
    #: :class:`~simulacra.experiments.tune.Dimension` (``LOW:HIGH[:log]`` or ``A,B,C``); empty: the user
    #: names the dimensions (``--space``)
    search_space: ClassVar[dict[str, str]] = {}
    #: every hyper-parameter's declaration (:class:`~simulacra.synthesizers.hyper.Hyper`), base-most
    #: first; the three attributes above and the constructor are derived from it
    hyper_parameters: ClassVar[dict[str, Hyper]] = {}
    #: capability: ``fit`` trains in epochs and takes ``checkpoint_dir``, ``checkpoint_every``,
    #: ``resume`` and ``on_epoch`` (the CLI and the pipeline offer checkpoints and epoch progress then)
    trains_in_epochs: ClassVar[bool] = False
    #: capability: ``fit`` takes ``rows``, ``expected_rows``, ``batch_source`` (one of
    #: :data:`BATCH_SOURCES`) and ``batch_dir``: the training rows streamed, and kept in memory or in a
    #: memory-mapped file (:mod:`simulacra.synthesizers.batches`; ``fit --all-rows``)
    streams_training_rows: ClassVar[bool] = False
    #: capability: ``fit`` takes ``pii`` and ``pii_key`` (personal-identifier columns never reach the
    #: model; :class:`Synthesizer`, the table models)
    replaces_identifiers: ClassVar[bool] = False
    #: parameters added to the model after earlier releases saved models without them, with the value
    #: those models were trained with (a new default would rebuild them otherwise); :meth:`load` fills
    #: them in where a ``config.json`` lacks them
    saved_defaults: ClassVar[dict[str, Any]] = {}

    @property
    def differentially_private(self) -> bool:
        """Whether a fit with these parameters is (ε, δ)-differentially private: what post-processing
        with real rows (filters), subsampling with coverage rows and default row counts must respect."""
        return False

    #: whether the fit estimates the row count with DP noise (:meth:`default_rows`)
    counts_rows_privately: ClassVar[bool] = False

    def default_rows(self, training_rows: int) -> int:
        """Rows to sample when none are asked for: as many as the training table held — or, for a
        model that :attr:`counts_rows_privately`, its noisy count, since the exact ``N`` is not covered
        by a DP model's ε."""
        return int(training_rows)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each subclass's constructor, constraints, search space and docstring "Parameters" come
        from its :class:`~simulacra.synthesizers.hyper.Hyper` declarations (:func:`collect`)."""
        super().__init_subclass__(**kwargs)
        collect(cls)

    # ------------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's hyper-parameters, as given (scikit-learn's contract; ``deep`` is accepted
        for ``sklearn.base.clone`` and changes nothing, as no parameter is itself an estimator)."""
        return {p: getattr(self, p) for p in self.param_names()}

    def set_params(self, **params: Any) -> BaseSynthesizer:
        """Set hyper-parameters (checked against the declared constraints first); returns ``self``.

        Raises
        ------
        ConfigError
            A parameter the model does not take, or a value of the wrong type or range.
        """
        checked = check_params(self.name, self._parameter_constraints, params)
        old = self.get_params()
        for k, v in checked.items():
            setattr(self, k, v)
        try:
            self._check_params()
        except ConfigError:
            for k, v in old.items():
                setattr(self, k, v)
            raise
        return self

    def _validate_params(self) -> None:
        """Check every hyper-parameter (types and ranges, then :meth:`_check_params`); called at the top
        of ``fit``, so an attribute set by hand is checked too."""
        check_params(self.name, self._parameter_constraints, self.get_params())
        self._check_params()

    def _check_params(self) -> None:
        """Hook: checks that involve several parameters (e.g. CTGAN's ``batch_size`` a multiple of
        ``pac``); raise :class:`ConfigError`."""

    def __repr__(self) -> str:
        """The class with the parameters that differ from their defaults, as scikit-learn prints it."""
        defaults = {
            k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items() if k != "self"
        }
        changed = {k: v for k, v in self.get_params().items() if not _same(v, defaults.get(k))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    #: whether :meth:`sample`'s ``temperature`` changes anything (each such model says how in its
    #: docstring: the latent or noise scale, or a power of its category distributions)
    supports_temperature: ClassVar[bool] = False
    #: the temperature of the sampling call under way (1 outside one); models read it in ``_sample``
    _temperature: float = 1.0

    def _check_temperature(self, temperature: Any) -> float:
        value = float(check_value(self.name, "temperature", temperature, Real(gt=0, le=10)))
        if value != 1.0 and not self.supports_temperature:
            with_one = [m for m in available() if getattr(model_class(m), "supports_temperature", False)]
            raise ConfigError(
                f"{self.name} has no sampling temperature; leave it at 1 or use one of {', '.join(with_one)}"
            )
        return value

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(data) first")

    def _check_sample_args(self, n: Any, seed: Any) -> tuple[int, int | None]:
        """``(n, seed)`` checked before anything is generated: ``n`` an integer in ``[0, MAX_ROWS]``
        whose output fits in memory (``n × _bytes_per_row()``), ``seed`` ``None`` or an integer ≥ 0.

        Raises
        ------
        ConfigError
            A value of the wrong type or range, or too many rows (the message gives the memory needed).
        """
        n = check_rows(n)
        if seed is not None:
            seed = check_value(self.name, "seed", seed, Integer(ge=0, le=MAX_SEED))
        check_memory(
            n * self._bytes_per_row(),
            f"sampling {n:,} rows",
            "sample fewer rows per call and several times with different seeds",
        )
        return n, seed

    def _bytes_per_row(self) -> float:
        """Hook: peak bytes one generated row (or image) takes while sampling, a generous estimate."""
        return 1024.0

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @abstractmethod
    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None: ...

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Save the fitted model to the directory ``path`` (written aside, then moved into place).

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``force`` is false.
        """
        from simulacra import __version__

        self._check_fitted()
        path = Path(path)
        tmp = temporary_dir_for(path, force=force)
        try:
            state, arrays = self._get_state()
            config = {
                "model": self.name,
                "params": self.get_params(),
                "format": FORMAT_VERSION,
                "simulacra_version": __version__,
            }
            (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            (tmp / "state.json").write_text(json.dumps(state) + "\n", encoding="utf-8")
            np.savez_compressed(tmp / "arrays.npz", **arrays)
            self._save_extra(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return replace_dir(tmp, path)

    def _save_extra(self, directory: Path) -> None:
        """Hook: write what the JSON/npz state does not hold (metadata, weights, sample grids)."""

    def _load_description(self, directory: Path) -> None:
        """Hook: read what ``_set_state`` needs besides the state (the metadata of a table model)."""

    def _load_extra(self, directory: Path) -> None:
        """Hook: read what ``_set_state`` rebuilt empty (network weights)."""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BaseSynthesizer:
        """Load a model saved by :meth:`save`. It dispatches on ``config.json``: ``BaseSynthesizer.load``
        reads any model, ``Synthesizer.load`` any table model, ``CTGAN.load`` only a CTGAN.

        A model folder is untrusted input: ``config.json`` is checked for its shape and every parameter
        against the model's constraints, arrays are read with ``allow_pickle=False`` and weights with
        ``weights_only=True``; whatever fails on the way (a damaged or truncated file, a missing key, a
        pickle payload) is one :class:`DataError`.

        Raises
        ------
        DataError
            ``path`` is not a valid saved model folder (the message says what is wrong), or holds a
            model of another kind than ``cls``.
        """
        path = Path(path)
        if not (path / "config.json").is_file():
            raise DataError(
                f"{path} is not a simulacra model folder (no config.json); give the folder written by 'fit -o'"
            )
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            if not isinstance(config, dict) or not isinstance(config.get("model"), str):
                raise ValueError("config.json must be a mapping with a model name")
            if not isinstance(config.get("params"), dict):
                raise ValueError("config.json: params must be a mapping")
        except Exception as exc:
            raise _invalid(path, exc) from None
        _check_format(path, config)
        try:
            earlier = model_class(config["model"]).saved_defaults
            model = make(config["model"], **({**earlier, **config["params"]}))
        except Exception as exc:
            raise _invalid(path, exc) from None
        if not isinstance(model, cls):
            kind = f"{cls.name!r}" if cls.name else f"{cls.modality} model"
            raise DataError(f"{path}: holds a {config['model']!r} model of {model.modality}s, not a {kind}")
        try:
            state = json.loads((path / "state.json").read_text(encoding="utf-8"))
            if not isinstance(state, dict):
                raise ValueError("state.json must be a mapping")
            with np.load(path / "arrays.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            _check_arrays(arrays)
            model._load_description(path)
            model._set_state(state, arrays)
            model._load_extra(path)
        except Exception as exc:  # any damage: a model folder is untrusted input
            raise _invalid(path, exc) from None
        return model


def _check_format(path: Path, config: dict[str, Any]) -> None:
    """Refuse a model folder written in a newer layout than :data:`FORMAT_VERSION`, naming both
    versions and the release that wrote it (a folder without ``format`` is format 1).

    Raises
    ------
    DataError
        The folder's format is newer (upgrade simulacra to read it), or ``format`` is not a positive
        whole number (a damaged folder).
    """
    from simulacra import __version__

    fmt = config.get("format", 1)
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        raise _invalid(
            path, ValueError(f"config.json: format must be a positive whole number, not {str(fmt)[:40]!r}")
        )
    if fmt > FORMAT_VERSION:
        wrote = str(config.get("simulacra_version", "a newer release"))[:40]
        raise DataError(
            f"{path} is a model folder of format {fmt}, written by simulacra {wrote}; this simulacra "
            f"({__version__}) reads format {FORMAT_VERSION} and older; upgrade simulacra to load it"
        )


def _check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Every saved array is of booleans or real numbers, and every float is finite: a model never
    computes with (or samples) NaN, infinities or complex numbers from a damaged file.

    Raises
    ------
    ValueError
        Naming the array.
    """
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise ValueError(f"array {name!r} has dtype {a.dtype}, not numbers")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"array {name!r} holds NaN or infinite values")


def _invalid(path: Path, exc: BaseException) -> DataError:
    """The one-line error for a model folder that cannot be loaded."""
    if isinstance(exc, ConfigError | DataError):
        why = str(exc)
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
        first = text.split(". ")[0]  # torch appends paragraphs of advice (weights_only=False) after it
        why = f"{type(exc).__name__}: {first[:200]}"
    return DataError(f"{path} is not a valid simulacra model folder ({why}); refit it with 'simulacra fit'")


def _same(a: Any, b: Any) -> bool:
    """Parameter equality for the repr: a list and a tuple of the same numbers are the same."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return type(a) is type(b) and a == b


class Synthesizer(BaseSynthesizer):
    """Base class of tabular synthesizers.

    Subclasses implement ``_fit``, ``_sample``, ``_get_state`` and ``_set_state``; the base class handles
    metadata detection, validation, saving and loading.
    """

    replaces_identifiers: ClassVar[bool] = True

    # ------------------------------------------------------------------ fit / sample
    def fit(
        self,
        data: pd.DataFrame,
        metadata: Metadata | None = None,
        *,
        pii: str = "fake",
        pii_key: bytes | None = None,
    ) -> Synthesizer:
        """Learn the joint distribution of ``data`` (one row per record).

        ``metadata`` defaults to ``Metadata.detect(data)``. Personal-identifier (``pii``) columns are
        never learned: the model sees them empty, and each gets an
        :class:`~simulacra.transform.pii.IdentifierGenerator` (``identifiers_``) that fills it after
        sampling — fresh Faker values (``pii="fake"``) or keyed-hash pseudonyms
        (``pii="pseudonymize"`` with ``pii_key``, at least 16 bytes, never stored).

        Raises
        ------
        DataError
            ``data`` is not a DataFrame or has no rows.
        MetadataError
            ``data`` and ``metadata`` have different columns, or a column is free text (sdtype
            ``text``), which table models do not learn.
        ConfigError
            An unknown ``pii`` mode, or ``pseudonymize`` without a key of 16 bytes or more.
        """
        self._validate_params()
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"{self.name} fits a table (pandas DataFrame), got {type(data).__name__}; "
                "for images use dcgan, cgan, vae or cvae"
            )
        if len(data) == 0:
            raise DataError("cannot fit on an empty table; give at least one row")
        meta = metadata if metadata is not None else Metadata.detect(data)
        texts = meta.names_of("text")
        if texts:
            raise MetadataError(
                f"column {texts[0]!r} holds free text (sdtype text), which {self.name} would learn as "
                f"thousands of categories; drop it, or fit a text model on it: simulacra fit FILE "
                f"--model textgpt --text-column {texts[0]}"
            )
        self.metadata_ = meta
        self.metadata_.validate(data)
        if not self.differentially_private:
            self.metadata_.check_declared(data)
        self.identifiers_ = fit_identifiers(data, meta, mode=pii, key=pii_key)
        self._fit(self._learnable(data))
        return self

    def _learnable(self, data: pd.DataFrame) -> pd.DataFrame:
        """``data``'s metadata columns with the identifier columns emptied: what the model sees."""
        blank = data[self.metadata_.names]
        if self.identifiers_:  # identifiers never reach a model
            blank = blank.assign(
                **{
                    c: pd.Series([None] * len(blank), index=blank.index, dtype=object)
                    for c in self.identifiers_
                }
            )
        return blank

    def sample(
        self,
        n: int,
        *,
        conditions: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
    ) -> pd.DataFrame:
        """Generate ``n`` synthetic rows with the fitted columns and dtypes.

        ``conditions`` maps column → value that every generated row must have. The same ``seed`` gives
        the same rows. ``temperature`` (0 < τ ≤ 10, models with :attr:`supports_temperature`) trades
        diversity for fidelity: below 1 the rows crowd the dense regions (higher precision, lower
        recall), above 1 they spread out.

        Raises
        ------
        NotFittedError, ConfigError (``n`` not an integer in [0, MAX_ROWS], or more rows than fit in
        memory; a temperature out of range, or ≠ 1 for a model without one), ConditionError (unknown
        column or unmet value).
        """
        self._check_fitted()
        n, seed = self._check_sample_args(n, seed)
        temperature = self._check_temperature(temperature)
        if conditions:
            for col in conditions:
                if self.metadata_[col].sdtype == "pii":  # raises MetadataError for an unknown column
                    raise ConditionError(
                        f"column {col!r} holds personal identifiers, generated fresh for every row; "
                        "it cannot be conditioned on"
                    )
        self._temperature = temperature
        try:
            out = self._sample(n, conditions=dict(conditions or {}), seed=seed)
        finally:
            del self._temperature  # back to the class default, 1
        out = self.metadata_.enforce_declared(out, keep=set(conditions or {}))
        identifiers = getattr(self, "identifiers_", {})
        if identifiers:
            rng = np.random.default_rng(None if seed is None else [int(seed), 0x1D])
            for col, generator in identifiers.items():
                out[col] = generator.generate(len(out), rng).to_numpy()
        return out

    def categories(self, column: str) -> list[Any]:
        """The fitted categories of a categorical/boolean ``column`` (missing excluded), most frequent
        first as the transformer stores them.

        Raises
        ------
        MetadataError
            Unknown column. ConditionError: ``column`` is not categorical/boolean.
        """
        self._check_fitted()
        meta = self.metadata_[column]
        if meta.sdtype not in ("categorical", "boolean"):
            raise ConditionError(
                f"column {column!r} is {meta.sdtype}; class counts need a categorical or boolean column"
            )
        return [c for c in self.transformer_.columns_[column]["value"].categories_ if c is not None]

    def balanced_counts(self, column: str, n: int) -> dict[Any, int]:
        """``n`` rows split equally over ``column``'s classes; the first ``n mod k`` classes (in
        :meth:`categories` order) get one row more, so the counts sum to ``n`` exactly."""
        classes = self.categories(column)
        base, extra = divmod(int(n), len(classes))
        return {c: base + (i < extra) for i, c in enumerate(classes)}

    def sample_counts(
        self,
        column: str,
        counts: dict[Any, int],
        *,
        conditions: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
    ) -> pd.DataFrame:
        """Exactly ``counts[c]`` rows with ``column == c`` for every class ``c``, drawn through the model's
        conditional sampling (one :meth:`sample` call per class with ``conditions | {column: c}``) and
        shuffled. The class seeds derive from ``seed``, so the same seed gives the same rows.

        Returns
        -------
        DataFrame
            ``sum(counts.values())`` rows, index ``0 … n-1``.

        Raises
        ------
        ConditionError
            ``column`` is not categorical/boolean, a class it never had, a negative count, or a
            combination with ``conditions`` that never occurs. MetadataError: unknown column.
        """
        known = self.categories(column)
        for c, k in counts.items():
            if c not in known:
                raise ConditionError(
                    f"column {column!r} has no class {c!r}; its classes are: {', '.join(map(str, known))}"
                )
            if not isinstance(k, int | np.integer) or k < 0:
                raise ConditionError(f"class count {c}={k!r} must be a whole number ≥ 0")
        total = int(sum(counts.values()))
        self._check_sample_args(total, seed)
        seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=len(counts))
        parts = [
            self.sample(
                int(k), conditions={**(conditions or {}), column: c}, seed=int(s), temperature=temperature
            )
            for (c, k), s in zip(counts.items(), seeds, strict=True)
            if k > 0
        ]
        if not parts:
            return self.sample(0, seed=seed, temperature=temperature)
        out = pd.concat(parts, ignore_index=True)
        order = np.random.default_rng(seeds[0] if len(seeds) else seed).permutation(len(out))
        return out.iloc[order].reset_index(drop=True)

    def _bytes_per_row(self) -> float:
        # a DataFrame row: an 8-byte value per column plus Python objects for text, and a float64
        # working copy per column
        return 96.0 * len(self.metadata_.names)

    def parse_conditions(self, raw: dict[str, str]) -> dict[str, Any]:
        """Turn text condition values (from the command line) into typed values for :meth:`sample`.

        Numerical columns get numbers; categorical/boolean columns get the fitted category whose text is
        ``raw[col]`` (so ``"1"`` matches an integer category ``1``), else the text itself.

        Raises
        ------
        MetadataError
            Unknown column. ConditionError: a numerical column given a non-number.
        """
        self._check_fitted()
        out: dict[str, Any] = {}
        for col, text in raw.items():
            meta = self.metadata_[col]
            if meta.sdtype == "numerical":
                try:
                    value = float(text)
                except ValueError:
                    raise ConditionError(f"column {col!r} is numerical; {text!r} is not a number") from None
                out[col] = int(value) if meta.representation == "int" and value.is_integer() else value
            elif meta.sdtype in ("categorical", "boolean"):
                transformer = getattr(self, "transformer_", None)
                cats = transformer.columns_[col]["value"].categories_ if transformer is not None else []
                match = [c for c in cats if c is not None and str(c) == text]
                out[col] = match[0] if match else text
            else:
                out[col] = text
        return out

    @abstractmethod
    def _fit(self, data: pd.DataFrame) -> None: ...

    @abstractmethod
    def _sample(self, n: int, *, conditions: dict[str, Any], seed: int | None) -> pd.DataFrame: ...

    # ------------------------------------------------------------------ persistence
    def _save_extra(self, directory: Path) -> None:
        self.metadata_.to_json(directory / "metadata.json")
        if getattr(self, "identifiers_", None):
            state = {c: g.to_state() for c, g in self.identifiers_.items()}
            (directory / "identifiers.json").write_text(json.dumps(state) + "\n", encoding="utf-8")

    def _load_description(self, directory: Path) -> None:
        from simulacra.transform.pii import IdentifierGenerator

        self.metadata_ = Metadata.from_json(directory / "metadata.json")
        path = directory / "identifiers.json"
        self.identifiers_ = {}
        if self.metadata_.names_of("pii"):
            state = json.loads(path.read_text(encoding="utf-8"))
            self.identifiers_ = {
                c: IdentifierGenerator.from_state(state[c]) for c in self.metadata_.names_of("pii")
            }


def fit_identifiers(
    data: pd.DataFrame, metadata: Metadata, *, mode: str = "fake", key: bytes | None = None
) -> dict[str, Any]:
    """An :class:`~simulacra.transform.pii.IdentifierGenerator` fitted on each ``pii`` column of
    ``data`` (column → generator; empty without such columns). Their pools draw from OS entropy, not
    from a seed (:mod:`simulacra.transform.pii`).

    Raises
    ------
    ConfigError
        An unknown ``mode``, or ``pseudonymize`` without a key of 16 bytes or more.
    """
    from simulacra.transform.pii import MODES, NUMBER_KINDS, IdentifierGenerator

    if mode not in MODES:
        raise ConfigError(f"`pii` {mode!r}: use 'fake' (fresh values) or 'pseudonymize' (keyed hash)")
    for c in metadata.names_of("pii"):
        kind = metadata[c].pii
        if mode == "fake" and kind not in NUMBER_KINDS and pd.api.types.is_numeric_dtype(data[c]):
            # a fresh e-mail or name cannot be written as a number: every sampled value was missing
            raise MetadataError(
                f"column {c!r} holds numbers, and {kind} identifiers cannot be written as numbers; fix its "
                f"pii override (a number-coded identifier is pii: phone, credit_card or postcode, or id)"
            )
    return {
        c: IdentifierGenerator(metadata[c].pii, mode, metadata[c].locale).fit(data[c], key=key)
        for c in metadata.names_of("pii")
    }


class ClassLabels:
    """Class labels of the image and text synthesizers: ``label`` conditions and class-balanced draws.

    Reads ``conditional`` (the model takes class labels), ``class_names_``, ``class_counts_`` (items per
    class in the training data), ``modality`` and ``name``; the model's own ``_check_fitted``.
    """

    #: whether the model takes class labels (``cgan``, ``cvae``, ``textgpt``, ``hf-causal-lm``)
    conditional: ClassVar[bool] = False
    #: the conditional models of this modality, named in the error for an unconditional one
    conditional_models: ClassVar[str] = ""
    class_names_: list[str]
    class_counts_: list[int]

    def _sample_labels(
        self, n: int, conditions: dict[str, Any], rng: np.random.Generator
    ) -> np.ndarray | None:
        """``(n,)`` int64 class indices: all ``conditions["label"]``, or balanced over the classes that
        had training items (``n // K`` each, the remainder to the first) in a seeded random order;
        ``None`` for an unconditional model without conditions."""
        if not self.conditional:
            if conditions:
                raise ConditionError(
                    f"{self.name} is unconditional; use {self.conditional_models} to sample a chosen class"  # type: ignore[attr-defined]
                )
            return None
        unknown = sorted(set(conditions) - {"label"})
        if unknown:
            raise ConditionError(
                f"{self.modality}s take only a 'label' condition, got {', '.join(unknown)}"  # type: ignore[attr-defined]
            )
        if "label" in conditions:
            return np.full(n, self.class_index(conditions["label"]), dtype=np.int64)
        seen = np.flatnonzero(np.asarray(self.class_counts_) > 0)  # a class without items is never drawn
        return seen[rng.permutation(np.arange(n) % len(seen))].astype(np.int64)

    def class_index(self, value: Any) -> int:
        """The class index of ``value``: a class name (``"7"``, ``"spam"``) or an index.

        Raises
        ------
        ConditionError
            Not one of the fitted classes, or a class without training items.
        """
        self._check_fitted()  # type: ignore[attr-defined]
        what = f"training {self.modality}s"  # type: ignore[attr-defined]
        if isinstance(value, str) and value in self.class_names_:
            return self.class_names_.index(value)
        try:
            index = int(value)
        except (TypeError, ValueError):
            index = -1
        if isinstance(value, bool) or not 0 <= index < len(self.class_names_) or float(value) != index:
            raise ConditionError(
                f"label {value!r} is not a class of the {what}; classes: {', '.join(self.class_names_)}"
            )
        if not self.class_counts_[index]:
            raise ConditionError(
                f"label {value!r} had no {what}, so the model cannot draw it; pick a class it saw"
            )
        return index

    def parse_conditions(self, raw: dict[str, str]) -> dict[str, Any]:
        """Command-line ``label=VALUE`` → ``{"label": class index}``; see :meth:`class_index`."""
        return {k: (self.class_index(v) if k == "label" else v) for k, v in raw.items()}
