"""``tune``: search a synthesizer's hyper-parameters and write the best ones with a report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simulacra.errors import ConfigError
from simulacra.modalities import Status, of_source
from simulacra.requests import TuneRequest


@dataclass
class TuneOutcome:
    """What :func:`tune` did: the search's :class:`~simulacra.experiments.tune.TuneResult`, the
    model tuned, the training rows it searched on, and the output folder."""

    result: Any
    model: str
    rows: int
    output: Path


def tune(request: TuneRequest, status: Status | None = None) -> TuneOutcome:
    """Ray Tune trials proposed by Optuna (TPE), each scored on a validation split by detection and
    TSTR, then (``refit``) the best parameters fitted on every training row and scored once on the
    test table; writes ``best_params.json``, ``tune.json``, ``tune.md``, ``trials.csv`` and
    ``model/``. Tables only: another modality is refused in one line, since the trials are scored by
    the table detector and TSTR.

    Raises
    ------
    ConfigError
        Bad settings or space, Ray Tune missing, no target, a source that is not a table.
    OutputExistsError
        The output exists (without ``force``), or is one of the inputs.
    """
    from simulacra.experiments.tune import (
        check_settings,
        report_markdown,
        require_tune,
        search_space,
        to_json,
    )
    from simulacra.experiments.tune import tune_model as search
    from simulacra.io import check_not_input, claim
    from simulacra.workflow import check_sources, output_folder, table_metadata

    check_sources(request.source, request.test)  # a missing input is refused before any work

    status = status or Status()
    r = request
    modality = of_source(r.source)
    if not modality.tunable:
        raise modality.refuse(
            f"tune scores trials with the table detector and TSTR, and {r.source!r} holds {modality.unit}",
            "compare a few settings with simulacra bench --param instead",
        )
    model = r.model or modality.default_model
    trials, validation, objective, seed, workers = check_settings(
        r.trials, r.validation, r.objective, r.seed, r.workers
    )
    dims = search_space(model, dict(r.space), r.params)  # every bound checked before any data
    require_tune()
    output = r.output or Path("runs") / f"tune-{model}-{datetime.now():%Y%m%d-%H%M%S}"
    check_not_input(output, r.source, r.test)
    claim(output, force=r.force, kind="dir")
    src = modality.resolve(r.source, test=r.test, target=r.target)
    if src.target is None:
        raise ConfigError("tune scores trials by TSTR on a column; give `target` COLUMN")
    meta = table_metadata(src.train, r.metadata, src.target)
    status.note(
        f"tuning {model} on {len(src.train):,} rows → {src.target}: {trials} trials over "
        f"{', '.join(dims)}, {workers} at a time"
    )
    best = {"score": float("-inf")}
    with status.steps() as on_progress:
        done = [0]

        def on_trial(row: dict[str, Any]) -> None:
            done[0] += 1
            if not row["error"] and row["score"] > best["score"]:
                best.update(row)
            shown = f"best {best['score']:.4f} (trial {best['trial']})" if "trial" in best else "searching"
            on_progress(done[0], trials, shown)

        result = search(
            src.train,
            meta,
            src.target,
            model,
            trials=trials,
            space=dict(r.space),
            params=r.params,
            objective=objective,
            validation=validation,
            seed=seed,
            workers=workers,
            address=r.ray_address,
            test=src.test,
            refit=r.refit,
            on_trial=on_trial,
        )
    with output_folder(output, force=r.force) as tmp:
        (tmp / "best_params.json").write_text(
            json.dumps(result.best_params, indent=2) + "\n", encoding="utf-8"
        )
        (tmp / "tune.json").write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
        (tmp / "tune.md").write_text(report_markdown(result), encoding="utf-8")
        result.trials.to_csv(tmp / "trials.csv", index=False)
        if result.model is not None:
            result.model.save(tmp / "model")
    return TuneOutcome(result, model, len(src.train), output)
