"""``bench``: fit, sample and evaluate several models on one dataset, each in a fresh process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError, OutputExistsError
from simulacra.modalities import of_source
from simulacra.requests import BenchRequest


@dataclass
class BenchOutcome:
    """What :func:`bench` did: one result per model (mean ± sd over repeats), the models, the
    modality benched, the folder holding ``bench.json`` and ``bench.md``, and the report of each model
    where the modality writes one (images and texts)."""

    results: list[dict[str, Any]]
    models: list[str]
    modality: str
    output: Path
    reports: list[Path]


def bench(request: BenchRequest, on_result: Any = None) -> BenchOutcome:
    """Run :func:`simulacra.bench.run_bench` on the models (the data modality's bench models by
    default) and write ``bench.json`` and ``bench.md`` (and, for images and texts, a report per
    model); ``on_result(result)`` is called as each model's run ends. Every output is checked before
    the first fit.

    Raises
    ------
    ConfigError
        A temperature outside (0, 10], a model of another modality, bad Ray options.
    OutputExistsError
        ``bench.json``, ``bench.md`` or ``tradeoff.png`` exists in the output (without ``force``).
    """
    from simulacra.bench import run_bench, write_results
    from simulacra.io import check_writable, redact_url
    from simulacra.scale.distributed import check_ray_options

    r = request
    plugin = of_source(r.data)
    models = list(r.models or plugin.bench_models)
    output = r.output or Path("runs") / f"bench-{datetime.now():%Y%m%d-%H%M%S}"
    for tau in r.temperatures or []:
        if not 0 < tau <= 10:
            raise ConfigError(f"`temperatures`: {tau:g} is not in (0, 10]; give e.g. 0.5,1,1.5")
    for name in ("bench.json", "bench.md", "tradeoff.png"):  # checked before any fit, created after the last
        if (output / name).exists() and not r.force:
            raise OutputExistsError(
                f"{output / name}: already exists; choose another `output` or pass `force`"
            )
        check_writable(output / name, kind="file")
    workers = check_ray_options(r.workers, r.ray_address, "bench")
    results = run_bench(
        models,
        r.data,
        test=r.test,
        target=r.target,
        params=r.params,
        rows=r.rows,
        seed=r.seed,
        repeats=r.repeats,
        on_result=on_result,
        report_dir=output if plugin.bench_reports else None,
        temperatures=r.temperatures,
        privacy=r.privacy,
        workers=workers,
        address=r.ray_address,
    )
    info = {
        "data": redact_url(r.data),
        "models": models,
        "rows": r.rows,
        "seed": r.seed,
        "repeats": r.repeats,
    }
    write_results(results, output, info, force=r.force)
    reports = [p for p in (output / name / "report.html" for name in models) if p.is_file()]
    return BenchOutcome(results, models, plugin.name, output, reports)
