"""``mix``: does synthetic data help? Mixing curves and class balancing, written as a report folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simulacra.modalities import MixRun, Status, of_source
from simulacra.requests import MixRequest, loader_options


@dataclass
class MixOutcome:
    """What :func:`mix` did: the measured run (:class:`~simulacra.modalities.MixRun`), the report
    (its ``summary`` table: mean ± sd per variant and metric), the output folder, and where the best
    mixed training set went (or ``None``)."""

    run: MixRun
    report: Any
    output: Path
    models: list[str]
    best_written: str | None = None


def mix(request: MixRequest, status: Status | None = None) -> MixOutcome:
    """Run the source modality's mixing experiment (:meth:`simulacra.modalities.Modality.mix`) and
    write ``results.csv``, ``metrics.json`` and ``report.html`` into ``request.output`` (built aside,
    moved into place at the end); with ``write_best``, the best mixed training set too. Every setting,
    model and output is checked before any fit.

    Raises
    ------
    ConfigError
        Bad settings, a model of another modality, an option the modality does not take, no test part.
    OutputExistsError
        The output exists (without ``force``), or is one of the inputs.
    """
    from simulacra.experiments.mix import check_settings, percent
    from simulacra.io import check_not_input, claim, redact_url
    from simulacra.report import MixReport
    from simulacra.scale.distributed import check_ray_options
    from simulacra.workflow import check_sources, output_folder

    check_sources(request.source, request.test)  # a missing input is refused before any work

    status = status or Status()
    r = request
    modality = of_source(r.source, **loader_options(r))
    models = list(r.models or [modality.mix_model])
    for name in models:
        modality.check_mix_model(name)
    settings = check_settings(r.fractions, r.ratios, r.repeats, r.seed, r.downstream)
    output = r.output or Path("runs") / f"mix-{datetime.now():%Y%m%d-%H%M%S}"
    check_ray_options(r.workers, r.ray_address, "mix")
    check_not_input(output, r.source, r.test, r.metadata, r.write_best)
    claim(output, force=r.force, kind="dir")
    clock = time.perf_counter()
    run = modality.mix(r, models, settings, status)
    seconds = time.perf_counter() - clock
    info = {
        "data": redact_url(r.source),
        "target": run.target,
        "models": ", ".join(models),
        "real fractions": ", ".join(percent(f) for f in settings.fractions),
        "synthetic ratios": ", ".join(f"{x:g}" for x in settings.ratios),
        "repeats": settings.repeats,
        "seed": settings.seed,
        "downstream models": ", ".join(run.downstream),
        "seconds, whole run": round(seconds, 1),
        **{k: round(v, 1) for k, v in run.result.seconds.items()},
    }
    title = f"simulacra mix: {redact_url(r.source)}, {', '.join(models)}"
    report = MixReport(run.result, run.balancing, title=title, info=info)
    with output_folder(output, force=r.force) as tmp:
        report.results.to_csv(tmp / "results.csv", index=False)
        report.to_json(tmp / "metrics.json")
        report.to_html(tmp / "report.html")
    best = None
    if r.write_best and run.best is not None:
        best = modality.write(run.best, r.write_best, force=r.force)
    return MixOutcome(run, report, output, models, best)
