"""Shared fixtures: the bundled Adult table (real data) and small hostile tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulacra.datasets import load


@pytest.fixture(scope="session")
def adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load("adult")


@pytest.fixture(scope="session")
def adult_small(adult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """3,000 training and 1,500 test rows of Adult, fixed seed."""
    train, test = adult
    return train.sample(3000, random_state=0).reset_index(drop=True), test.sample(
        1500, random_state=0
    ).reset_index(drop=True)


@pytest.fixture()
def hostile() -> pd.DataFrame:
    """A table of awkward columns: all-null, constant, unicode, 10,000 levels, mixed types, two date formats."""
    rng = np.random.default_rng(0)
    n = 20_000
    dates_a = pd.date_range("2020-01-01", periods=n // 2, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    dates_b = pd.date_range("2021-06-01", periods=n - n // 2, freq="h").strftime("%d/%m/%Y %H:%M")
    mixed = rng.integers(0, 50, n).astype(object)
    mixed[rng.random(n) < 0.1] = "unknown"
    return pd.DataFrame(
        {
            "all_null": [None] * n,
            "constant": 7,
            "unicode": rng.choice(["東京", "München", "São Paulo", "Zürich 🚀"], n),
            "many_levels": [f"level-{i}" for i in rng.integers(0, 10_000, n)],
            "mixed": mixed,
            "when": np.concatenate([dates_a, dates_b]),
            "amount": np.round(rng.lognormal(3, 1, n), 2),
            "flag": rng.random(n) < 0.3,
        }
    )
