"""Fit ``mostlyai-engine``'s TabularARGN (Tiwald et al. 2025) at its defaults and sample: run by the
Python of a separate virtual environment that has ``mostlyai-engine`` installed, for ``simulacra bench``.

Usage: ``python mostlyai_engine.py TRAIN.parquet OUT.parquet ROWS SEED``. Prints one JSON line,
``{"fit_s": …, "sample_s": …, "version": …}``, on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

import pandas as pd
from mostlyai.engine import TabularARGN


def main(train_path: str, out_path: str, rows: int, seed: int) -> None:
    train = pd.read_parquet(train_path)
    model = TabularARGN(random_state=seed, verbose=0)
    start = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(n_samples=rows)
    sample_s = time.perf_counter() - start
    synthetic[list(train.columns)].to_parquet(out_path, index=False)
    print(json.dumps({"fit_s": fit_s, "sample_s": sample_s, "version": version("mostlyai-engine")}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
