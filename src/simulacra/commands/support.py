"""What the command line shows beside the commands' results: names, formats and progress bars that
live in lower layers, gathered here so that the CLI imports only the command layer and the errors.

Each name is imported from its module when it is first used (PEP 562), so a command that refuses its
input in one line has not paid for torch, scikit-learn or matplotlib first."""

from __future__ import annotations

import importlib
from typing import Any

#: name → (module, attribute) in the layers below
_WHERE = {
    "cells": ("simulacra.bench", "cells"),
    "columns": ("simulacra.bench", "columns"),
    "datasets": ("simulacra.datasets", ""),
    "fit_command": ("simulacra.experiments.tune", "fit_command"),
    "load_pipeline_config": ("simulacra.pipeline", "load_config"),
    "load_yaml": ("simulacra.validation", "load_yaml"),
    "percent": ("simulacra.experiments.mix", "percent"),
    "progress_bar": ("simulacra.synthesizers.training", "progress_bar"),
    "read_yaml": ("simulacra.io", "read_yaml"),
    "redact_url": ("simulacra.io", "redact_url"),
    "table_rows": ("simulacra.bench", "table_rows"),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = importlib.import_module(module)  # an empty attribute names the module itself
    value = getattr(value, attribute) if attribute else value
    globals()[name] = value
    return value
