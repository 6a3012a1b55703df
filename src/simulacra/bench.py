"""``simulacra bench``: fit several models on one table and tabulate their speed and quality.

Each model runs in a fresh child process (``spawn``), so its peak resident memory is its own and no
model warms caches for the next. Per model the table holds:

* ``fit_s`` — wall-clock seconds of ``fit`` (transformer included), and ``epochs`` trained;
* ``sample_rows_per_s`` — rows generated per second by ``sample(rows)`` after a 1,000-row warm-up;
* ``peak_rss_mb`` — the child's peak resident set size (``getrusage``), MiB, data and libraries included;
* the headline metrics of :func:`simulacra.evaluate.evaluate` on as many synthetic rows as real training
  rows: column shapes, pair trends, detection (logistic and gradient boosting), TSTR/TRTR ROC-AUC (or
  accuracy), DCR share.

``bench.json`` (every number) and ``bench.md`` (the table) are written to the output directory.
"""

from __future__ import annotations

import json
import multiprocessing
import platform
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.io import atomic_write_text
from simulacra.synthesizers import model_class

COLUMNS = [
    ("model", "model", "{}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("epochs", "epochs", "{}"),
    ("sample_rows_per_s", "sample rows/s", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MiB", "{:,.0f}"),
    ("column_shapes", "shapes", "{:.3f}"),
    ("column_pair_trends", "trends", "{:.3f}"),
    ("detection", "detection", "{:.3f}"),
    ("detection_gbm", "detection (GBM)", "{:.3f}"),
    ("tstr_roc_auc", "TSTR AUC", "{:.3f}"),
    ("trtr_roc_auc", "TRTR AUC", "{:.3f}"),
    ("dcr_share", "DCR share", "{:.3f}"),
]


def split_params(models: list[str], params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Route ``--param`` values to models: ``name=value`` goes to every model that takes ``name``;
    ``model.name=value`` only to ``model``.

    Raises
    ------
    ConfigError
        A parameter no listed model takes, or an unknown model.
    """
    accepted = {m: set(model_class(m).param_names()) for m in models}
    routed: dict[str, dict[str, Any]] = {m: {} for m in models}
    for key, value in params.items():
        model, _, name = key.rpartition(".")
        targets = [model] if model else [m for m in models if name in accepted[m]]
        if model and model not in accepted:
            raise ConfigError(f"--param {key}: {model!r} is not among the benchmarked models {models}")
        if not targets or (model and name not in accepted[model]):
            raise ConfigError(f"--param {key}: no benchmarked model takes a parameter {name!r}")
        for m in targets:
            routed[m][name] = value
    return routed


def bench_one(
    name: str, params: dict[str, Any], data: str, test: str | None, target: str | None, rows: int, seed: int
) -> dict[str, Any]:
    """Fit, sample and evaluate one model in this process; see the module docstring for the fields."""
    from simulacra import datasets
    from simulacra.evaluate import check_target, evaluate
    from simulacra.metadata import Metadata
    from simulacra.pipeline import load_source
    from simulacra.synthesizers import make

    bundled = datasets.DATASETS.get(data, {})
    train = load_source(data, part="train")
    test_src = test if test is not None else (data if bundled else None)
    real_test = load_source(test_src, part="test") if test_src else None
    target = target or bundled.get("target")
    metadata = Metadata.detect(train)
    check_target(metadata, target)
    model = make(name, **params)
    start = time.perf_counter()
    model.fit(train, metadata)
    fit_s = time.perf_counter() - start
    n = max(int(rows), len(train))
    model.sample(1000, seed=seed)  # warm-up: first-call allocations are not throughput
    start = time.perf_counter()
    synthetic = model.sample(n, seed=seed)
    sample_s = time.perf_counter() - start
    evaluation = evaluate(
        train, synthetic.iloc[: len(train)], metadata, real_test=real_test, target=target, seed=seed
    )
    return {
        "model": name,
        "params": model.get_params(),
        "fit_s": fit_s,
        "epochs": getattr(model, "epochs_trained_", None),
        "sample_rows_per_s": n / max(sample_s, 1e-9),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **evaluation.flat(),
    }


def run_bench(
    models: list[str],
    data: str = "adult",
    *,
    test: str | None = None,
    target: str | None = None,
    params: dict[str, Any] | None = None,
    rows: int = 100_000,
    seed: int = 0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Benchmark ``models`` (registry names) on ``data`` (bundled name, file or SQL URL), each in a fresh
    process, one after another. ``params`` are ``--param`` values routed by :func:`split_params`.

    Raises
    ------
    ConfigError
        No models, an unknown model or a parameter no model takes; errors of a child are re-raised.
    """
    if not models:
        raise ConfigError("give at least one model, e.g. --models copula,ctgan,tvae")
    routed = split_params(models, dict(params or {}))
    results = []
    for name in models:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result = pool.submit(bench_one, name, routed[name], data, test, target, rows, seed).result()
        results.append(result)
        if on_result:
            on_result(result)
    return results


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (missing metrics shown as ``–``)."""
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" if k == "model" else "---:" for k, _, _ in COLUMNS) + "|"
    lines = [head, rule]
    for r in results:
        cells = [fmt.format(r[k]) if r.get(k) is not None else "–" for k, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(
    results: list[dict[str, Any]], directory: Path, info: dict[str, Any], *, force: bool
) -> None:
    """Write ``bench.json`` and ``bench.md`` into ``directory`` (each atomically)."""
    info = {**info, "python": platform.python_version(), "machine": platform.machine(), "cpus": _cores()}
    atomic_write_text(
        directory / "bench.json", json.dumps({"info": info, "results": results}, indent=2) + "\n", force=force
    )
    atomic_write_text(directory / "bench.md", markdown(results), force=force)


def _cores() -> int:
    from simulacra.synthesizers.neural import available_cores

    return available_cores()
