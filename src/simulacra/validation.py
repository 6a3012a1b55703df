"""Declared constraints on every hyper-parameter and config value, checked in one place.

The idea is scikit-learn's ``_parameter_constraints`` (each estimator declares the type and range of its
parameters, and ``fit`` checks them before any work); the checking is pydantic's, in strict mode: an
integer parameter takes an ``int`` only (not ``2.7``, not ``"abc"``, not ``True``), a real one an ``int``
or a finite ``float``. Each constraint also carries the words that say what is allowed, so a rejected
value gets one line naming the value and its allowed range::

    ctgan: epochs='abc' is not valid (Input should be a valid integer); give an integer ≥ 0

:func:`config_error` turns the :class:`pydantic.ValidationError` of a config model (the pipeline config,
an augmentation pipeline) into the same kind of line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from simulacra.errors import ConfigError

#: The most rows (or images) one call may generate or read in one piece; larger requests are refused
#: before any work, and the memory check of the caller refuses smaller ones that do not fit either.
MAX_ROWS = 2_000_000_000
#: the largest seed, for every seed simulacra takes (CLI options, configs, hyper-parameters, sample
#: calls): NumPy's legacy RandomState and scikit-learn's random_state stop at 2³² − 1, so a larger
#: seed passed the old checks and then failed inside a library
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Param:
    """One parameter's constraint: a type pydantic checks, and how to say what it accepts."""

    type: Any
    allowed: str


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that also reads exponent floats without a dot (``5e-5``, ``1E3``) as numbers,
    as YAML 1.2 and JSON do; PyYAML follows YAML 1.1, where they are text, and a learning rate written
    ``--param learning_rate=5e-5`` would be refused as "not a number".

    Raises
    ------
    yaml.YAMLError
        Malformed YAML, or one that expands past :data:`MAX_YAML_VALUES` values through aliases.
    """
    import yaml

    data = yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass: no arbitrary objects
    size = _expanded_size(data, {})
    if size > MAX_YAML_VALUES:
        # anchors and aliases share one object per reference: 200 bytes of nested aliases expand to
        # millions of values as soon as anything walks or prints them (the "billion laughs")
        raise yaml.YAMLError(
            f"the document expands to more than {MAX_YAML_VALUES:,} values through anchors and aliases; "
            "write the values out"
        )
    return data


#: values a YAML or JSON document may hold once its aliases are expanded
MAX_YAML_VALUES = 100_000


def _expanded_size(value: Any, seen: dict[int, int]) -> int:
    """How many values ``value`` holds with every shared (aliased) list or mapping counted each time
    it is referenced, computed once per object (so without expanding anything)."""
    if not isinstance(value, list | dict):
        return 1
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = MAX_YAML_VALUES + 1  # a reference cycle expands without end
    items = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
    total = 1
    for item in items:
        total += _expanded_size(item, seen)
        if total > MAX_YAML_VALUES:
            break
    seen[key] = total
    return total


@lru_cache(maxsize=1)
def _yaml_loader() -> type:
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )
    return Loader


def _bound_words(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    def num(v: float) -> str:
        return f"{v:g}" if isinstance(v, float) else f"{v:,}"

    parts = [f"{op} {num(v)}" for op, v in (("≥", ge), (">", gt), ("≤", le), ("<", lt)) if v is not None]
    return " and ".join(parts)


def Integer(ge: int | None = None, le: int | None = None) -> Param:
    """An ``int`` (strictly: no floats, strings or booleans) within ``[ge, le]``."""
    words = _bound_words(ge, None, le, None)
    return Param(
        Annotated[int, Field(strict=True, ge=ge, le=le)], "an integer" + (f" {words}" if words else "")
    )


def Real(
    ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
) -> Param:
    """A finite number (``int`` or ``float``) within the bounds."""
    words = _bound_words(ge, gt, le, lt)
    return Param(
        Annotated[float, Field(strict=True, ge=ge, gt=gt, le=le, lt=lt, allow_inf_nan=False)],
        "a number" + (f" {words}" if words else ""),
    )


def Boolean() -> Param:
    """``true`` or ``false`` (not 0/1, not text)."""
    return Param(Annotated[bool, Field(strict=True)], "true or false")


def Choice(*values: str) -> Param:
    """One of the given strings."""
    return Param(Literal[values], "one of " + ", ".join(repr(v) for v in values))


def Text() -> Param:
    """A non-empty string."""
    return Param(Annotated[str, Field(strict=True, min_length=1)], "a non-empty text")


def Widths(max_width: int = 65_536) -> Param:
    """Layer widths: a list of integers in ``[1, max_width]`` (an empty list means no hidden layer)."""
    item = Annotated[int, Field(strict=True, ge=1, le=max_width)]
    return Param(tuple[item, ...], f"a list of integers from 1 to {max_width}, e.g. [256, 256]")


def Pair(ge: float | None = None, le: float | None = None) -> Param:
    """A ``(low, high)`` pair of finite numbers within ``[ge, le]``, ``low ≤ high``; a single number
    ``v`` stands for ``(v, v)``."""
    item = Annotated[float, Field(strict=True, ge=ge, le=le, allow_inf_nan=False)]
    words = _bound_words(ge, None, le, None)
    return Param(
        item | tuple[item, item],
        "a number or a pair [low, high]" + (f" with values {words}" if words else ""),
    )


def Optional(param: Param) -> Param:
    """``param`` or ``None`` (``null`` in YAML/JSON)."""
    return Param(param.type | None, f"{param.allowed}, or null")


def Probability() -> Param:
    """A number in ``[0, 1]``."""
    return Real(ge=0.0, le=1.0)


@lru_cache(maxsize=512)
def _adapter(kind: Any) -> TypeAdapter:
    return TypeAdapter(kind, config=ConfigDict(arbitrary_types_allowed=True))


def check_value(owner: str, name: str, value: Any, param: Param) -> Any:
    """``value`` checked against ``param`` (lists become tuples where the type says so).

    Raises
    ------
    ConfigError
        ``owner: name=value is not valid (<why>); give <allowed>``.
    """
    try:
        out = _adapter(param.type).validate_python(value)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"]
        raise ConfigError(
            f"{owner}: {name}={_shown(value)} is not valid ({why}); give {param.allowed}"
        ) from None
    if isinstance(out, tuple) and len(out) == 2 and param.allowed.startswith("a number or a pair"):
        if out[0] > out[1]:
            raise ConfigError(f"{owner}: {name}={_shown(value)} has low > high; give [low, high]")
    return out


def check_params(owner: str, constraints: dict[str, Param], params: dict[str, Any]) -> dict[str, Any]:
    """Every value of ``params`` checked against ``constraints`` (see :func:`check_value`); returns the
    checked values. A name without a constraint is refused, so no parameter goes unchecked.

    Raises
    ------
    ConfigError
        The first invalid or undeclared parameter, in one line.
    """
    out = {}
    for name, value in params.items():
        if name not in constraints:
            raise ConfigError(
                f"{owner}: unknown parameter {name!r}; it takes: {', '.join(sorted(constraints))}"
            )
        out[name] = check_value(owner, name, value, constraints[name])
    return out


def check_rows(n: Any, what: str = "`rows`") -> int:
    """A row or image count: an integer in ``[0, MAX_ROWS]``.

    Raises
    ------
    ConfigError
        Anything else.
    """
    return check_value("sample", what, n, Integer(ge=0, le=MAX_ROWS))


def config_error(exc: ValidationError, where: str) -> ConfigError:
    """One line for the first error of a pydantic config model: the dotted key, the value and why."""
    err = exc.errors()[0]
    # pydantic names the member of a union it tried (``_Split``, ``literal[False]``): not a key
    loc = [
        str(p)
        for p in err["loc"]
        if not (isinstance(p, str) and (p[:1] in "_" or p[:1].isupper() or "[" in p))
    ]
    key = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return ConfigError(f"{where}: unknown key {key!r}; see the documented keys")
    if err["type"] == "missing":
        return ConfigError(f"{where}: {key} is required")
    return ConfigError(
        f"{where}: {key}={_shown(err['input'])} is not valid ({err['msg']}); see the documented keys and types"
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def available_memory() -> int:
    """Bytes of memory this process can still use: ``MemAvailable`` of ``/proc/meminfo`` (Linux), else
    the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(need: float, what: str, fix: str) -> None:
    """Refuse work that needs more than the memory available, before it starts.

    Raises
    ------
    ConfigError
        ``what needs about X GiB of memory and Y GiB is available; <fix>``.
    """
    have = available_memory()
    if need > have:
        raise ConfigError(
            f"{what} needs about {need / 2**30:,.1f} GiB of memory and {have / 2**30:,.1f} GiB is available; {fix}"
        )
