"""Fit time of the default model against the number of columns (issue 29: at most linear growth).

A synthetic benchmark table of 20,000 rows: ``d`` numerical columns drawn from a 5-component Gaussian
mixture with random correlations, pushed through ``exp``/``square`` on every third column (skewed
marginals), plus one categorical column per five numerical ones derived from a numerical column. The
default ``mixture`` is fitted once per width, alone, on whatever cores there are; the table is written
to ``benchmarks/results/columns_scaling.md`` (and ``.json``).

Run: ``python benchmarks/columns_scaling.py`` (about nine minutes on 2 cores).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulacra.synthesizers import make

ROWS = 20_000
WIDTHS = (10, 25, 50, 100)


def table(d: int, seed: int = 0) -> pd.DataFrame:
    """``ROWS`` rows of ``d`` columns (numerical, and every fifth a category), reproducible."""
    rng = np.random.default_rng(seed)
    n_num = d - d // 5
    parts = []
    for _ in range(5):
        a = rng.normal(size=(n_num, n_num)) / np.sqrt(n_num)
        mean = rng.normal(scale=2.0, size=n_num)
        parts.append(rng.multivariate_normal(mean, a @ a.T + 0.1 * np.eye(n_num), size=ROWS // 5))
    x = np.concatenate(parts)
    rng.shuffle(x)
    cols = {}
    for j in range(n_num):
        v = x[:, j]
        cols[f"x{j}"] = np.exp(v / 2) if j % 3 == 1 else (v**2 if j % 3 == 2 else v)
    for j in range(d // 5):
        cols[f"c{j}"] = np.where(x[:, j] > np.median(x[:, j]), "high", "low")
    return pd.DataFrame(cols)


def main() -> None:
    rows = []
    for d in WIDTHS:
        df = table(d)
        start = time.perf_counter()
        model = make("mixture", verbose=False).fit(df)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "columns": d,
                "fit_s": round(seconds, 1),
                "iterations": model.epochs_trained_,
                "gaussian_columns": len(model.gaussian_),
                "blocks": len(model.blocks_),
            }
        )
        print(rows[-1], flush=True)
    write(rows, Path(__file__).parent / "results")


def write(rows: list[dict], out: Path) -> None:
    """``columns_scaling.json`` and ``.md``: EM may stop early (``tol``), so seconds per iteration are
    the cost that must grow at most linearly with the columns."""
    out.mkdir(exist_ok=True)
    (out / "columns_scaling.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "| columns | fit s | EM iterations | s per iteration | s per iteration and column | Gaussian columns | blocks |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per_it = r["fit_s"] / max(r["iterations"], 1)
        lines.append(
            f"| {r['columns']} | {r['fit_s']} | {r['iterations']} | {per_it:.2f} | {per_it / r['columns']:.3f} "
            f"| {r['gaussian_columns']} | {r['blocks']} |"
        )
    (out / "columns_scaling.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
