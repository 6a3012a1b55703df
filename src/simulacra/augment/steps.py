"""What the image and text augmentation pipelines share: reading ``steps:`` from YAML and checking each
``{op: NAME, ...parameters}`` step against the op's declared constraints."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.io import read_yaml
from simulacra.validation import Param, check_params


def check_steps(
    steps: Any,
    constraints: dict[str, dict[str, Param]],
    example: str,
    defaults: Callable[[str], dict[str, Any]] = lambda op: {},
) -> list[dict[str, Any]]:
    """Each step as ``{"op": NAME, **defaults(NAME), **checked parameters}``.

    Raises
    ------
    ConfigError
        No steps (``example`` shows one), a step that is not a mapping with a known ``op``, a parameter
        the op does not take, or a value of the wrong type or range.
    """
    if not steps:
        raise ConfigError(f"an augmentation pipeline needs at least one step, e.g. [{example}]")
    checked = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("op"), str) or step["op"] not in constraints:
            raise ConfigError(
                f"augmentation step {i + 1} ({step!r}): give op: one of {', '.join(sorted(constraints))}"
            )
        params = {k: v for k, v in step.items() if k != "op"}
        owner = f"augmentation step {i + 1} ({step['op']})"
        checked.append(
            {"op": step["op"], **defaults(step["op"]), **check_params(owner, constraints[step["op"]], params)}
        )
    return checked


def read_steps(
    path: str | os.PathLike[str], keys: tuple[str, ...] = ("steps",)
) -> tuple[list[Any], dict[str, Any]]:
    """``(steps, document)`` of a pipeline YAML file: ``steps: [...]`` (or a bare list of steps) and
    the other top-level ``keys`` it may hold.

    Raises
    ------
    ConfigError
        Missing or unreadable file, no list of steps, or an unknown top-level key.
    """
    path = Path(path)
    doc = read_yaml(path)
    steps = doc.get("steps") if isinstance(doc, dict) else doc
    if not isinstance(steps, list):
        raise ConfigError(f"{path}: give 'steps:' followed by a list of {{op: NAME, ...}} entries")
    unknown = sorted(set(doc) - set(keys)) if isinstance(doc, dict) else []
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; a pipeline takes {', '.join(keys)}")
    return steps, doc if isinstance(doc, dict) else {}
