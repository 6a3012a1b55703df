"""``run``: a list of command requests from a YAML file, checked together, then run in order.

A config with ``steps:`` is a list of the commands' requests, one mapping per step whose only key is
the verb and whose value holds the request's fields (the CLI's option names with ``_`` for ``-``)::

    steps:
      - fit: {source: mnist, output: models/cgan, params: {epochs: 5}}
      - sample: {model: models/cgan, rows: 1000, output: synthetic.npz}
      - evaluate: {real: mnist, synthetic: synthetic.npz, output: report.html}

So a run can do whatever the commands do, for every modality, with the same checks: every step's
request is built (unknown fields and wrong types refused) before the first step starts. A config
without ``steps:`` is the table pipeline of :mod:`simulacra.pipeline`, which
:func:`~simulacra.commands.run_pipeline` runs as the same requests into one run directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulacra.commands.augment import augment
from simulacra.commands.evaluate import evaluate
from simulacra.commands.fit import fit
from simulacra.commands.inspect import prepare
from simulacra.commands.mix import mix
from simulacra.commands.sample import sample
from simulacra.commands.tune import tune
from simulacra.errors import ConfigError
from simulacra.modalities import Status
from simulacra.requests import (
    AugmentRequest,
    EvaluateRequest,
    FitRequest,
    MixRequest,
    PrepareRequest,
    Request,
    SampleRequest,
    TuneRequest,
)

#: the verbs a step may name: their request class and their function
COMMANDS: dict[str, tuple[type[Request], Callable[..., Any]]] = {
    "prepare": (PrepareRequest, lambda request, status: prepare(request)),
    "fit": (FitRequest, fit),
    "sample": (SampleRequest, sample),
    "evaluate": (EvaluateRequest, evaluate),
    "augment": (AugmentRequest, augment),
    "mix": (MixRequest, mix),
    "tune": (TuneRequest, tune),
}


@dataclass
class Step:
    """One step of a run: its verb, its checked request and, once run, its result."""

    verb: str
    request: Request
    result: Any = None


def is_steps_config(config: Any) -> bool:
    """Whether a loaded config is a list of steps (rather than the table pipeline's sections)."""
    return isinstance(config, dict) and "steps" in config


def load_steps(config: dict[str, Any], where: str = "config", *, force: bool = False) -> list[Step]:
    """Every step's request, built and checked before any runs; ``force`` sets ``force`` on every
    step that writes.

    Raises
    ------
    ConfigError
        Not a list of one-verb mappings, an unknown verb, or a request's field refused; the line names
        the step (``steps[2] (sample): …``).
    """
    if set(config) != {"steps"}:
        extra = ", ".join(sorted(set(config) - {"steps"}))
        raise ConfigError(f"{where}: a steps config holds only steps:, not {extra}; move them into the steps")
    items = config["steps"]
    if not isinstance(items, list) or not items:
        raise ConfigError(
            f"{where}: steps must be a non-empty list, e.g. [{{fit: {{source: adult, output: m}}}}]"
        )
    steps = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(f"{where}: steps[{i}] must be one mapping 'verb: {{fields}}', e.g. fit: {{…}}")
        ((verb, fields),) = item.items()
        if verb not in COMMANDS:
            raise ConfigError(
                f"{where}: steps[{i}]: unknown command {verb!r}; use one of {', '.join(COMMANDS)}"
            )
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: steps[{i}] ({verb}): give its fields as a mapping")
        request_class = COMMANDS[verb][0]
        if force and "force" in request_class.model_fields:
            fields = {**fields, "force": True}
        try:
            steps.append(Step(verb, request_class.of(**fields)))
        except ConfigError as exc:
            raise ConfigError(f"{where}: steps[{i}] ({verb}): {exc}") from None
    return steps


def run_steps(
    steps: list[Step], status: Status | None = None, on_step: Callable[[Step], None] | None = None
) -> list[Step]:
    """Run the checked steps in order, each through its command; ``on_step(step)`` after each. A
    failing step stops the run (the steps before it keep what they wrote, as the same commands typed
    one after another would)."""
    status = status or Status()
    for step in steps:
        step.result = COMMANDS[step.verb][1](step.request, status)
        if on_step is not None:
            on_step(step)
    return steps


def written(step: Step) -> str:
    """Where a finished step wrote its output, in words."""
    result = step.result
    if isinstance(result, tuple):  # prepare: (output folder, Preparation)
        return str(result[0])
    for attribute in ("where", "report", "output"):
        value = getattr(result, attribute, None)
        if value is not None:
            return str(value)
    return ""
