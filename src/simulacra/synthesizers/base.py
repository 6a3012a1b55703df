"""The synthesizer protocol, saving/loading without pickle, and the registry.

Every synthesizer follows scikit-learn's contract: hyper-parameters are ``__init__`` arguments stored
unchanged; learned state lives in attributes ending in ``_``; ``fit`` returns ``self``.

Saved model layout (a directory)::

    config.json     {"model": <registry name>, "params": {...}, "simulacra_version": ...}
    metadata.json   the Metadata the model was fitted with
    state.json      JSON-able learned state (transformer encoders, ...)
    arrays.npz      numeric learned state, read with ``allow_pickle=False``
    weights.pt      (neural models) ``torch.save(state_dict)``, read with ``weights_only=True``

Nothing is unpickled on load, so a model directory from an untrusted source cannot run code.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from simulacra.errors import ConditionError, ConfigError, DataError, NotFittedError
from simulacra.io import replace_dir, temporary_dir_for
from simulacra.metadata import Metadata

_REGISTRY: dict[str, type[Synthesizer]] = {}


def register(cls: type[Synthesizer]) -> type[Synthesizer]:
    """Class decorator: make ``cls`` available as ``make(cls.name)``."""
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Registry names of the synthesizers."""
    return sorted(_REGISTRY)


def model_class(name: str) -> type[Synthesizer]:
    """The synthesizer class registered as ``name``.

    Raises
    ------
    ConfigError
        Unknown name.
    """
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name]


def make(name: str, **params: Any) -> Synthesizer:
    """Create a synthesizer by registry name, e.g. ``make("copula", seed=1)``.

    Raises
    ------
    ConfigError
        Unknown name, or a hyper-parameter the model does not take.
    """
    cls = model_class(name)
    accepted = cls.param_names()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"model {name!r} has no parameter {', '.join(unknown)}; it takes: {', '.join(accepted)}"
        )
    return cls(**params)


class BaseSynthesizer(ABC):
    """What every synthesizer shares, tables or images: hyper-parameters, saving, loading.

    Subclasses set ``name`` (the registry name) and ``modality`` (``"table"`` or ``"image"``) and
    implement ``_get_state`` / ``_set_state``; ``_fitted_attr`` names the attribute that exists once fitted.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = "table"
    _fitted_attr: ClassVar[str] = "metadata_"

    # ------------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor's hyper-parameters, as given."""
        return {p: getattr(self, p) for p in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(data) first")

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
            config = {"model": self.name, "params": self.get_params(), "simulacra_version": __version__}
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

        Raises
        ------
        DataError
            ``path`` is not a saved model directory, or holds a model of another kind than ``cls``.
        """
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.is_file():
            raise DataError(
                f"{path}: not a saved model (no config.json); give the folder written by 'fit -o'"
            )
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
            params = dict(config["params"])
            defaults = inspect.signature(model_class(config["model"]).__init__).parameters
            for k, v in params.items():  # JSON has no tuples: restore tuple-valued parameters as tuples
                if isinstance(v, list) and k in defaults and isinstance(defaults[k].default, tuple):
                    params[k] = tuple(v)
            model = make(config["model"], **params)
            state = json.loads((path / "state.json").read_text(encoding="utf-8"))
            with np.load(path / "arrays.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            if isinstance(model, cls):
                model._load_description(path)
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path}: damaged model folder ({exc}); re-run 'simulacra fit'") from exc
        if not isinstance(model, cls):
            kind = f"{cls.name!r}" if cls.name else f"{cls.modality} model"
            raise DataError(f"{path}: holds a {config['model']!r} model of {model.modality}s, not a {kind}")
        model._set_state(state, arrays)
        model._load_extra(path)
        return model


class Synthesizer(BaseSynthesizer):
    """Base class of tabular synthesizers.

    Subclasses implement ``_fit``, ``_sample``, ``_get_state`` and ``_set_state``; the base class handles
    metadata detection, validation, saving and loading.
    """

    # ------------------------------------------------------------------ fit / sample
    def fit(self, data: pd.DataFrame, metadata: Metadata | None = None) -> Synthesizer:
        """Learn the joint distribution of ``data`` (one row per record).

        ``metadata`` defaults to ``Metadata.detect(data)``.

        Raises
        ------
        DataError
            ``data`` is not a DataFrame or has no rows.
        MetadataError
            ``data`` and ``metadata`` have different columns.
        """
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"{self.name} fits a table (pandas DataFrame), got {type(data).__name__}; "
                "for images use dcgan, cgan, vae or cvae"
            )
        if len(data) == 0:
            raise DataError("cannot fit on an empty table; give at least one row")
        self.metadata_ = metadata if metadata is not None else Metadata.detect(data)
        self.metadata_.validate(data)
        self._fit(data[self.metadata_.names])
        return self

    def sample(
        self, n: int, *, conditions: dict[str, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """Generate ``n`` synthetic rows with the fitted columns and dtypes.

        ``conditions`` maps column → value that every generated row must have. The same ``seed`` gives
        the same rows.

        Raises
        ------
        NotFittedError, ConfigError (``n`` < 0), ConditionError (unknown column or unmet value).
        """
        self._check_fitted()
        if int(n) < 0:
            raise ConfigError(f"number of rows must be ≥ 0, got {n}")
        if conditions:
            for col in conditions:
                self.metadata_[col]  # raises MetadataError naming the columns
        return self._sample(int(n), conditions=dict(conditions or {}), seed=seed)

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

    def _load_description(self, directory: Path) -> None:
        self.metadata_ = Metadata.from_json(directory / "metadata.json")
