"""Hyper-parameters declared once: one :class:`Hyper` per parameter in the model's class body.

A model writes each hyper-parameter once, as a class attribute::

    class TVAE(DPTraining, TorchSynthesizer):
        embedding_dim = Hyper(128, Integer(ge=1, le=65_536), "latent size", space="64,128,256")

and everything else is derived from that line by :func:`collect` (called for every synthesizer class
by ``BaseSynthesizer.__init_subclass__``): the keyword-only constructor (scikit-learn's contract:
arguments stored unchanged as attributes of the same name), the constraints ``make``, ``set_params``
and ``fit`` check (``_parameter_constraints``), ``simulacra tune``'s default search space
(``search_space``), the "Parameters" section of the class docstring and the parameter table of the
docs site. Shared parameters are declared on the mixin that reads them (the training loop's
``epochs`` … ``verbose`` on :class:`~simulacra.synthesizers.training.TorchTraining`, DP-SGD's on
:class:`~simulacra.synthesizers.dp.sgd.DPTraining`); a model that needs another default writes
``epochs = TorchTraining.epochs.but(default=50)``, keeping the constraint and the words.

The design is the Hugging Face / nanoGPT config (each field's default, type and help in one place),
kept as constructor arguments so that ``make("tvae", epochs=5)``, ``get_params`` and
``sklearn.base.clone`` work as before.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

from simulacra.validation import Param


@dataclass(frozen=True)
class Hyper:
    """One hyper-parameter of a model, declared as a class attribute.

    Parameters
    ----------
    default : Any
        The value a model gets when the parameter is not given (copied per instance when mutable).
    check : Param
        Its type and range (:mod:`simulacra.validation`), checked by ``make``, ``set_params`` and ``fit``.
    doc : str
        One line saying what it does, with its unit; rendered in the docstring and the docs site.
    space : str or None
        ``simulacra tune``'s default range for it (:class:`~simulacra.experiments.tune.Dimension`
        syntax: ``LOW:HIGH[:log]`` or ``A,B,C``); ``None``: not searched unless ``--space`` names it.
    """

    default: Any
    check: Param
    doc: str
    space: str | None = None

    def but(self, **changes: Any) -> Hyper:
        """The same declaration with ``changes`` (e.g. another ``default`` or ``space``)."""
        return dataclasses.replace(self, **changes)


def declared(cls: type) -> dict[str, Hyper]:
    """Every :class:`Hyper` of ``cls`` and its bases, base-most first; a redeclaration in a subclass
    replaces the base's in place (so a shared parameter keeps its position)."""
    found: dict[str, Hyper] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Hyper):
                found[name] = value
    return found


def collect(cls: type) -> None:
    """Derive ``cls``'s constructor, ``_parameter_constraints``, ``search_space``, ``hyper_parameters``
    and the "Parameters" section of its docstring from its :class:`Hyper` declarations.

    A class without any declaration (its own or inherited) is left as written.

    Raises
    ------
    TypeError
        ``cls`` has hyper-parameters (declared or inherited) and also defines ``__init__``.
    """
    hypers = declared(cls)
    if not hypers:
        return
    if "__init__" in vars(cls):
        raise TypeError(f"{cls.__name__} declares Hyper parameters; drop its __init__, which they generate")
    cls.hyper_parameters = hypers
    cls._parameter_constraints = {name: h.check for name, h in hypers.items()}
    cls.search_space = {name: h.space for name, h in hypers.items() if h.space is not None}
    cls.__init__ = _constructor(cls, hypers)
    doc = cls.__doc__
    if doc is not None and "\n    Parameters\n" not in doc:  # numpydoc order: before Attributes
        head, mark, tail = doc.partition("\n    Attributes\n")
        cls.__doc__ = head.rstrip() + "\n\n" + parameters_section(hypers) + (mark + tail if mark else "")


def _constructor(cls: type, hypers: dict[str, Hyper]) -> Any:
    names = list(hypers)
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
        + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=hypers[n].default) for n in names]
    )

    def __init__(self: Any, **params: Any) -> None:
        unknown = [k for k in params if k not in hypers]
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}")
        for name in names:
            value = params[name] if name in params else hypers[name].default
            setattr(self, name, copy.copy(value) if isinstance(value, list | dict | set) else value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = f"Keyword-only: {', '.join(names)} (see the class docstring)."
    return __init__


def parameters_section(hypers: dict[str, Hyper]) -> str:
    """A numpydoc "Parameters" section for ``hypers`` (indented as a class docstring's body)."""
    lines = ["    Parameters", "    ----------"]
    for name, h in hypers.items():
        lines.append(f"    {name} : {h.check.allowed}, default {h.default!r}")
        lines.append(f"        {h.doc}")
    return "\n".join(lines) + "\n"
