"""``evaluate``: score a synthetic table, image set or text set against real data and write its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities import Status, of_source
from simulacra.modalities.base import EvaluateOptions
from simulacra.requests import EvaluateRequest, loader_options


@dataclass
class EvaluateResult:
    """What :func:`evaluate` did: the :class:`~simulacra.evaluate.Evaluation` (``rows()`` for a table
    of the metrics), and where the report and the metrics were written."""

    evaluation: Any
    report: Path
    metrics: Path


def evaluate(request: EvaluateRequest, status: Status | None = None) -> EvaluateResult:
    """Score ``request.synthetic`` against ``request.real`` and write ``report.html`` and its metrics
    JSON. The real source's modality (:func:`simulacra.modalities.of_source`) reads both sides and
    scores them; outputs are checked before any work and written under their lock.

    Raises
    ------
    ConfigError
        The output is not an ``.html`` file; ``privacy`` on a modality without the attacks, or without
        a holdout.
    OutputExistsError
        A report exists (without ``force``), or the output is one of the inputs.
    DataError
        Unreadable inputs.
    """
    from simulacra.io import check_not_input, claim, output_lock
    from simulacra.workflow import check_sources

    check_sources(request.real, request.synthetic, request.test)  # a missing input is refused before any work

    status = status or Status()
    r = request
    if r.output.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{r.output}: the report is an HTML file; end the name in .html")
    metrics = r.output.with_suffix(".json")
    for p in (r.output, metrics):
        check_not_input(p, r.real, r.synthetic, r.test, r.model, r.metadata, r.parent_table)
        claim(p, force=r.force, kind="file")
    columns = loader_options(r)
    modality = of_source(r.real, **columns)
    if r.privacy and not modality.privacy_attacks:
        raise modality.refuse(
            "`privacy` runs the attacks on tables",
            "for texts and images the report's copy and memorisation rows are the privacy measures: "
            "drop `privacy`",
        )
    with output_lock(r.output):
        real = modality.resolve(r.real, test=r.test, target=r.target, **columns)
        synthetic = modality.read_synthetic(r.synthetic, **columns)
        fitted = None
        if r.model is not None:
            from simulacra.synthesizers import BaseSynthesizer

            fitted = BaseSynthesizer.load(r.model)
        how = EvaluateOptions(
            seed=r.seed,
            title=f"simulacra: {r.synthetic} vs {r.real}",
            status=status,
            model=fitted,
            metadata=r.metadata,
            privacy=r.privacy,
        )
        evaluation, report = modality.evaluate(real, synthetic, how)
        report.to_json(metrics, force=r.force)
        report.to_html(r.output, force=r.force)
    return EvaluateResult(evaluation, r.output, metrics)
