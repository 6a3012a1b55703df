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
        a holdout; ``unfiltered`` without ``filter_record`` or the other way round; ``preparation`` or
        the filtering off tables.
    OutputExistsError
        A report exists (without ``force``), or the output is one of the inputs.
    DataError
        Unreadable inputs, or a preparation or filter record that is not JSON.
    """
    from simulacra.io import check_not_input, claim, output_lock
    from simulacra.workflow import check_sources

    check_sources(request.real, request.synthetic, request.test)  # a missing input is refused before any work

    status = status or Status()
    r = request
    if r.output.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{r.output}: the report is an HTML file; end the name in .html")
    if (r.unfiltered is None) != (r.filter_record is None):
        raise ConfigError(
            "`unfiltered` and `filter_record` go together (the rows before the filters and what they dropped); "
            "give both or neither"
        )
    check_sources(r.unfiltered, r.filter_record, r.preparation)
    metrics = r.metrics or r.output.with_suffix(".json")
    inputs = (r.real, r.synthetic, r.test, r.model, r.metadata, r.parent_table, r.unfiltered, r.filter_record)
    for p in (r.output, metrics):
        check_not_input(p, *inputs, r.preparation)
        claim(p, force=r.force, kind="file")
    if Path(metrics).resolve() == Path(r.output).resolve():
        raise ConfigError("`metrics` is `output`; give the metrics a JSON file of its own")
    columns = loader_options(r)
    modality = of_source(r.real, **columns)
    if r.privacy and not modality.privacy_attacks:
        raise modality.refuse(
            "`privacy` runs the attacks on tables",
            "for texts and images the report's copy and memorisation rows are the privacy measures: "
            "drop `privacy`",
        )
    if (r.preparation is not None or r.unfiltered is not None) and not modality.preparable:
        raise modality.refuse("`preparation`, `unfiltered` and `filter_record` report on tables", "drop them")
    # the records are read before any work: a file that is not one is refused at once
    preparation = _read_json(r.preparation) if r.preparation is not None else None
    records = _read_json(r.filter_record) if r.filter_record is not None else None
    with output_lock(r.output):
        real = modality.resolve(r.real, test=r.test, target=r.target, **columns)
        synthetic = modality.read_synthetic(r.synthetic, **columns)
        fitted = None
        if r.model is not None:
            from simulacra.synthesizers import BaseSynthesizer

            fitted = BaseSynthesizer.load(r.model)
        filtering = None
        if r.unfiltered is not None:
            filtering = {
                "filters": records,
                "unfiltered": modality.read_synthetic(r.unfiltered, **columns),
            }
        how = EvaluateOptions(
            seed=r.seed,
            title=r.title or f"simulacra: {r.synthetic} vs {r.real}",
            status=status,
            model=fitted,
            metadata=r.metadata,
            privacy=r.privacy,
            info=dict(r.info) or None,
            preparation=preparation,
            filtering=filtering,
        )
        evaluation, report = modality.evaluate(real, synthetic, how)
        report.to_json(metrics, force=r.force)
        report.to_html(r.output, force=r.force)
    return EvaluateResult(evaluation, r.output, metrics)


def _read_json(path: Any) -> Any:
    """A JSON record another command wrote (``prepare``'s ``preparation.json``, ``sample``'s filter
    record).

    Raises
    ------
    DataError
        Not JSON.
    """
    import json

    from simulacra.errors import DataError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path}: not a readable JSON record ({exc}); give the file the command wrote"
        ) from None
