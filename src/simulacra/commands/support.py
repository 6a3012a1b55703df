"""What the command line shows beside the commands' results: names, formats and progress bars that
live in lower layers, gathered here so that the CLI imports only the command layer and the errors.
Import it inside a command (it pulls in the heavy modules)."""

from __future__ import annotations

from simulacra import datasets
from simulacra.bench import cells, columns, table_rows
from simulacra.experiments.mix import percent
from simulacra.experiments.tune import fit_command
from simulacra.io import read_yaml, redact_url
from simulacra.pipeline import STEPS as PIPELINE_STEPS
from simulacra.pipeline import load_config as load_pipeline_config
from simulacra.pipeline import run as run_pipeline
from simulacra.synthesizers.training import progress_bar
from simulacra.validation import load_yaml

__all__ = [
    "PIPELINE_STEPS",
    "cells",
    "columns",
    "datasets",
    "fit_command",
    "load_pipeline_config",
    "load_yaml",
    "percent",
    "progress_bar",
    "read_yaml",
    "redact_url",
    "run_pipeline",
    "table_rows",
]
