"""Modality plug-ins: everything that differs between tables, images, texts and series, in one object each.

A command asks the registry once which modality it works on — :func:`of_source` for a data source,
:func:`named` for a fitted model's :attr:`~simulacra.synthesizers.BaseSynthesizer.modality` — and from
then on calls the plug-in; it never branches on the modality itself. A new modality (time series,
audio) is a subclass of :class:`Modality` passed to :func:`register`, and the commands take it without
change.

What a plug-in says (the :class:`Modality` protocol):

* **recognise and load** a source: :meth:`~Modality.recognises`, :meth:`~Modality.load` (a bundled
  dataset's part, or a file, folder or SQL URL), :meth:`~Modality.resolve` (training part, test part,
  target), :meth:`~Modality.read_synthetic` (a sample written by ``simulacra sample`` or by hand);
* **fit**: :meth:`~Modality.fit_data` (what a model's ``fit`` takes, read under the fit options);
  :attr:`~Modality.default_model` and :attr:`~Modality.bench_models` (registry names);
* **evaluate and report**: :meth:`~Modality.evaluate` (the :class:`~simulacra.evaluate.Evaluation` and
  the report object the caller writes), and whether the table privacy attacks apply
  (:attr:`~Modality.privacy_attacks`);
* **refuse** what does not apply, in one line (:meth:`~Modality.refuse`).

The plug-ins sit above :mod:`simulacra.workflow`, whose shared steps (loading with a bundled dataset's
parts, metadata with overrides, evaluation with its report) they call; the commands sit above them.
"""

from __future__ import annotations

from simulacra.errors import ConfigError
from simulacra.modalities.audio import AudioModality
from simulacra.modalities.base import (
    Augmented,
    EvaluateOptions,
    FitData,
    MixRun,
    Modality,
    Restored,
    Sampled,
    Source,
    Status,
)
from simulacra.modalities.image import ImageModality
from simulacra.modalities.series import SeriesModality
from simulacra.modalities.table import TableModality
from simulacra.modalities.text import TextModality

__all__ = [
    "AudioModality",
    "Augmented",
    "EvaluateOptions",
    "FitData",
    "ImageModality",
    "MixRun",
    "Modality",
    "Restored",
    "Sampled",
    "SeriesModality",
    "Source",
    "Status",
    "TableModality",
    "TextModality",
    "named",
    "of_source",
    "register",
    "registered",
]

#: the plug-ins in the order :func:`of_source` asks them; the table plug-in, which recognises any
#: source, is asked last
_REGISTRY: dict[str, Modality] = {}


def register(modality: Modality, *, before: str | None = "table") -> None:
    """Add a plug-in (or replace the one of the same :attr:`~Modality.name`). It is asked before the
    plug-in named ``before`` (default: before ``table``, the catch-all), or last with ``before=None``.

    Raises
    ------
    ConfigError
        ``modality`` has no name, or ``before`` names no registered plug-in.
    """
    if not getattr(modality, "name", ""):
        raise ConfigError(f"{type(modality).__name__} has no name; set the class attribute name")
    items = [(k, v) for k, v in _REGISTRY.items() if k != modality.name]
    if before is None:
        items.append((modality.name, modality))
    else:
        keys = [k for k, _ in items]
        if before not in keys:
            raise ConfigError(f"before={before!r} is not a registered modality; use one of {', '.join(keys)}")
        items.insert(keys.index(before), (modality.name, modality))
    _REGISTRY.clear()
    _REGISTRY.update(items)


def registered() -> list[Modality]:
    """The plug-ins, in the order :func:`of_source` asks them."""
    return list(_REGISTRY.values())


def named(name: str) -> Modality:
    """The plug-in called ``name`` (a model's ``modality``).

    Raises
    ------
    ConfigError
        No plug-in has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"no modality {name!r}; simulacra knows {', '.join(_REGISTRY)} (is the plug-in registered?)"
        ) from None


def of_source(source: str, **options: str | None) -> Modality:
    """The plug-in of the first modality that recognises ``source`` (a bundled name, a path, an SQL
    URL); ``options`` are the loader options the user gave (``text_column`` makes any table a text
    source). The table plug-in recognises every source, so there is always an answer."""
    for modality in _REGISTRY.values():
        if modality.recognises(source, **options):
            return modality
    return _REGISTRY["table"]  # pragma: no cover - the table plug-in recognises every source


for _builtin in (TextModality(), AudioModality(), ImageModality(), SeriesModality(), TableModality()):
    register(_builtin, before=None)
