"""``evaluate``: score a synthetic table, image set or text set against real data and write its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from simulacra.commands.base import Request
from simulacra.errors import ConfigError
from simulacra.modalities import Status, of_source
from simulacra.modalities.base import EvaluateOptions
from simulacra.validation import MAX_SEED


class EvaluateRequest(Request):
    """The inputs of :func:`evaluate`.

    Attributes
    ----------
    real : str
        The real training data: a bundled name, a file or folder, or an SQL URL; its modality decides
        how everything else is read and scored.
    synthetic : str
        The synthetic sample (a table file or SQL URL, an ``.npz``/folder of images, a text file).
    output : Path
        The ``report.html`` to write; the metrics go beside it as ``.json``.
    test : str or None
        Real test data (TSTR, the DCR holdout, the attacks' control set); a bundled dataset brings its own.
    target : str or None
        Tables: the column to predict for TSTR/TRTR (a bundled dataset brings its own).
    model : Path or None
        Images and texts: a fitted model folder, for its training curves (and grids, or perplexity).
    metadata : Path or None
        Tables: metadata overrides (JSON/YAML).
    text_column, label_column : str or None
        Texts in a table file: the columns holding the texts and their labels.
    privacy : bool
        Tables: also run the privacy attacks, with the test rows as the control set.
    seed : int
        In [0, 2³² − 1].
    force : bool
        Replace an existing report written by simulacra.
    """

    command: str = "evaluate"
    real: str
    synthetic: str
    output: Path
    test: str | None = None
    target: str | None = None
    model: Path | None = None
    metadata: Path | None = None
    text_column: str | None = None
    label_column: str | None = None
    privacy: bool = False
    seed: int = Field(0, ge=0, le=MAX_SEED)
    force: bool = False


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

    status = status or Status()
    r = request
    if r.output.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{r.output}: the report is an HTML file; end the name in .html")
    metrics = r.output.with_suffix(".json")
    for p in (r.output, metrics):
        check_not_input(p, r.real, r.synthetic, r.test, r.model, r.metadata)
        claim(p, force=r.force, kind="file")
    columns = {"text_column": r.text_column, "label_column": r.label_column}
    modality = of_source(r.real, **columns)
    if r.privacy and not modality.privacy_attacks:
        raise modality.refuse(
            "--privacy runs the attacks on tables",
            "for texts and images the report's copy and memorisation rows are the privacy measures: "
            "drop --privacy",
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
            metadata=None if r.metadata is None else str(r.metadata),
            privacy=r.privacy,
        )
        evaluation, report = modality.evaluate(real, synthetic, how)
        report.to_json(metrics, force=r.force)
        report.to_html(r.output, force=r.force)
    return EvaluateResult(evaluation, r.output, metrics)
