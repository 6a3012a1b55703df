"""Bundled real datasets, shipped compressed inside the package (no downloads).

``load("adult")`` returns ``(train, test)``: the UCI Adult census income table (Becker & Kohavi 1996,
CC BY 4.0), 32,561 training and 16,281 test rows, 15 columns. As bundled: ``?`` is read as missing,
surrounding spaces are stripped, the test labels' trailing ``.`` is removed, and the label column (``Y``
in the source files) is named ``income`` (values ``<=50K`` / ``>50K``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pandas as pd

from simulacra.errors import DataError
from simulacra.io import read_table

#: name → description, target column and task, for the CLI and the pipeline.
DATASETS: dict[str, dict[str, Any]] = {
    "adult": {
        "description": "UCI Adult census income (32,561 train / 16,281 test rows, 15 columns)",
        "target": "income",
        "task": "classification",
    },
}


def available() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(DATASETS)


def _adult_part(filename: str) -> pd.DataFrame:
    path = resources.files("simulacra.datasets") / "data" / filename
    with resources.as_file(path) as p:
        df = read_table(p)
    df = df.rename(columns={"Y": "income"})
    df["income"] = df["income"].str.rstrip(".")
    return df


def load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load a bundled dataset as ``(train, test)`` DataFrames.

    Raises
    ------
    DataError
        For an unknown name (the message lists the bundled ones).
    """
    if name == "adult":
        return _adult_part("adult.data.csv.gz"), _adult_part("adult.test.csv.gz")
    raise DataError(f"unknown dataset {name!r}; bundled datasets: {', '.join(available())}")
