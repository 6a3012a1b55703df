"""``run`` with a table pipeline config (``data:``, ``model:``, ``sample:``, ``output:``): the same
``prepare``, ``fit``, ``sample`` and ``evaluate`` requests the command line builds, run one after
another into one run directory.

The config's form and its checks are :mod:`simulacra.pipeline`'s (:func:`~simulacra.pipeline.load_config`,
every value checked before any work). Each section becomes a request of the commands in this layer, so
a pipeline fits, samples and evaluates exactly as ``simulacra fit``, ``sample`` and ``evaluate`` do
(PII columns replaced, the training rows bounded by ``max_rows``, samples streamed to disk). What the
pipeline adds is only what a run directory needs:

- the run directory is assembled in a temporary folder beside it and moved into place at the end, so a
  failed run leaves nothing behind and an existing run is never touched without ``force``;
- ``run.log`` holds one line per step (and every 10th epoch of a neural model);
- ``metadata.json`` is the detected metadata (with the config's overrides), checked against the
  ``balance`` and ``class_counts`` of the sample section before the fit;
- with a ``prepare`` section, ``data/`` is ``simulacra prepare``'s output folder (the parts,
  ``preparation.json`` and its report), and the prepared parts are what the model is fitted to and
  evaluated on;
- with ``filter``, the rows as drawn before filtering are sampled too (same seed) and the report shows
  the metrics before and after;
- a bundled dataset's test part is the holdout of the evaluation, as it was when the pipeline had its
  own loader.

The run directory holds ``synthetic.parquet``, ``metadata.json``, ``model/``, ``metrics.json``,
``report.html`` and ``run.log``, and ``data/`` with a ``prepare`` section.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulacra.commands.evaluate import evaluate
from simulacra.commands.fit import fit
from simulacra.commands.inspect import prepare
from simulacra.commands.sample import sample
from simulacra.errors import ConfigError
from simulacra.modalities import Status
from simulacra.requests import EvaluateRequest, FitRequest, PrepareRequest, SampleRequest

#: the steps of a pipeline run, in order (the CLI's progress bar counts them)
STEPS = ("load", "prepare", "metadata", "fit", "sample", "evaluate")


@dataclass
class RunResult:
    """What :func:`run_pipeline` produced: the run directory, the evaluation (``None`` if skipped),
    each step's seconds and the number of synthetic rows."""

    path: Path
    evaluation: Any
    seconds: dict[str, float] = field(default_factory=dict)
    rows: int = 0


@contextmanager
def _run_log(path: Path) -> Iterator[logging.Logger]:
    """A logger writing ``path`` (``run.log``), detached and closed when the run ends."""
    log = logging.getLogger(f"simulacra.run.{id(path)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        yield log
    finally:
        log.removeHandler(handler)
        handler.close()


def run_pipeline(
    config: dict[str, Any] | str | os.PathLike[str],
    *,
    status: Status | None = None,
    on_step: Callable[[str, str], None] | None = None,
    on_progress: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Run a table pipeline config (see :mod:`simulacra.pipeline`) and write its run directory.

    ``on_step(step, message)`` is called as each of :data:`STEPS` finishes (the CLI draws progress
    with it); ``on_progress(step, message)`` reports a neural model's epochs, whose own progress bar
    is then off unless the config sets ``verbose``.

    Raises
    ------
    SimulacraError
        Any bad input (the message says which and what to do); nothing is written then.
    """
    from simulacra.pipeline import load_config
    from simulacra.workflow import output_folder

    cfg = load_config(config)
    out = Path(cfg["output"])
    with (
        output_folder(out, force=cfg["force"]) as tmp,
        tempfile.TemporaryDirectory(prefix="simulacra-run-") as aux,
        _run_log(tmp / "run.log") as log,
    ):
        run = _PipelineRun(cfg, tmp, Path(aux), log, status or Status(), on_step, on_progress)
        for name in STEPS:
            getattr(run, name)()
        log.info("done: %s", cfg["output"])
    return RunResult(out, run.evaluation, run.seconds, run.rows)


class _PipelineRun:
    """One :func:`run_pipeline`: each step of :data:`STEPS` turns its config section into a command
    request and runs it; ``tmp`` becomes the run directory, ``aux`` holds what the requests read that
    the run directory does not keep (inline overrides, the unfiltered rows)."""

    def __init__(self, cfg, tmp: Path, aux: Path, log, status: Status, on_step, on_progress) -> None:
        self.cfg, self.tmp, self.aux, self.log, self.status = cfg, tmp, aux, log, status
        self.on_step, self.on_progress = on_step, on_progress
        self.seconds: dict[str, float] = {}
        self.evaluation: Any = None
        self.rows = 0
        self.preparation: Path | None = None  # prepare's record, with a prepare section
        self.unfiltered: str | None = None  # with filters: the same draw unfiltered, and their record
        self.filter_record: Path | None = None
        self.clock = time.perf_counter()

    def _done(self, name: str, message: str) -> None:
        self.seconds[name] = time.perf_counter() - self.clock
        self.log.info("%s: %s (%.2f s)", name, message, self.seconds[name])
        if self.on_step:
            self.on_step(name, message)
        self.clock = time.perf_counter()

    def load(self) -> None:
        """The tables as the commands will read them: ``train_source`` and ``test_source`` are what
        the requests name; a bundled dataset's test part is written aside so that it is the holdout."""
        from simulacra.io import write_table
        from simulacra.workflow import resolve_table

        data = self.cfg["data"]
        found = resolve_table(str(data["train"]), test=data["test"], target=data["target"])
        self.train, self.test, self.target = found.train, found.test, found.target
        self.train_source, self.test_source = str(data["train"]), data["test"]
        if self.test_source is None and self.test is not None:
            self.test_source = str(write_table(self.test, self.aux / "test.parquet"))
        extra = f", {len(self.test)} test rows" if self.test is not None else ""
        self._done("load", f"{len(self.train)} training rows{extra}")

    def prepare(self) -> None:
        if self.cfg["prepare"] is None:
            self._done("prepare", "skipped (no prepare section)")
            return
        options = {"target": self.target, **self.cfg["prepare"]}
        (self.aux / "prepare.yaml").write_text(json.dumps(options), encoding="utf-8")  # JSON is YAML
        request = PrepareRequest.of(
            source=self.train_source,
            test=self.test_source,
            config=self.aux / "prepare.yaml",
            output=self.tmp / "data",
        )
        _, prep = prepare(request)
        self.train, self.test = prep.parts.get("train", prep.parts.get("data")), prep.parts.get("test")
        first = "train" if "train" in prep.parts else "data"
        self.train_source = str(self.tmp / "data" / f"{first}.parquet")
        self.test_source = str(self.tmp / "data" / "test.parquet") if self.test is not None else None
        self.preparation = self.tmp / "data" / "preparation.json"
        parts = ", ".join(f"{k} {len(v)}" for k, v in prep.parts.items())
        self._done("prepare", f"{len(prep.changes)} changes; {parts}")

    def metadata(self) -> None:
        """The detected metadata, written to the run directory, and the sample section's class column
        and counts checked against it before the fit."""
        from simulacra.workflow import table_metadata

        overrides = self.cfg["data"]["metadata"]
        if isinstance(overrides, dict):  # inline overrides: a file for the requests
            (self.aux / "metadata.json").write_text(json.dumps(overrides), encoding="utf-8")
            overrides = self.aux / "metadata.json"
        self.overrides = Path(overrides) if overrides is not None else None
        meta = table_metadata(self.train, self.overrides, self.target)
        column = self.cfg["sample"]["balance"]
        if column is not None and meta[column].sdtype not in ("categorical", "boolean"):
            raise ConfigError(
                f"sample.balance: column {column!r} is {meta[column].sdtype}; give a categorical column"
            )
        seen = set(self.train[column].dropna().astype(str)) if column is not None else set()
        unknown = [str(c) for c in self.cfg["sample"]["class_counts"] or {} if str(c) not in seen]
        if unknown:
            raise ConfigError(
                f"sample.class_counts: column {column!r} has no class {unknown[0]!r}; "
                f"its classes are: {', '.join(sorted(seen))}"
            )
        meta.to_json(self.tmp / "metadata.json")
        self._done("metadata", f"{len(meta.names)} columns detected")

    def fit(self) -> None:
        from simulacra.synthesizers import make

        name, params = self.cfg["model"]["name"], dict(self.cfg["model"]["params"])
        probe, on_epoch = make(name, **params), None
        if probe.trains_in_epochs:
            if self.on_progress is not None:
                params.setdefault("verbose", False)
            on_epoch = self._on_epoch(probe.epochs)
        request = FitRequest.of(  # no checkpoints: an interrupted run leaves nothing to resume from
            source=self.train_source,
            output=self.tmp / "model",
            model=name,
            params=params,
            metadata=self.overrides,
            checkpoint_every=0,
        )
        self.fitted = fit(request, self.status, on_epoch=on_epoch)
        self._done("fit", repr(self.fitted.model))

    def _on_epoch(self, total: Any) -> Callable[[int, dict[str, float]], None]:
        def on_epoch(epoch: int, losses: dict[str, float]) -> None:
            shown = " ".join(f"{k} {v:+.3f}" for k, v in losses.items())
            message = f"epoch {epoch + 1}/{total} {shown}"
            if (epoch + 1) % 10 == 0 or epoch + 1 == total:
                self.log.info("fit: %s", message)
            if self.on_progress:
                self.on_progress("fit", message)

        return on_epoch

    def sample(self) -> None:
        section = self.cfg["sample"]
        fields: dict[str, Any] = {
            "model": self.tmp / "model",
            "rows": section["rows"] or self.fitted.model.default_rows(len(self.train)),
            "conditions": {k: str(v) for k, v in section["conditions"].items()},
            "balance": section["balance"],
            "class_counts": section["class_counts"],
            "temperature": section["temperature"],
            "seed": section["seed"],
        }
        if self.cfg["filter"]:  # the same draw unfiltered, for the report's before/after table
            self.unfiltered = str(self.aux / "unfiltered.parquet")
            self.filter_record = self.aux / "filters.json"
            sample(SampleRequest.of(output=self.unfiltered, **fields), self.status)
            fields |= {
                "filters": self.cfg["filter"],
                "filter_record": self.filter_record,
                "data": self.train_source,
                "test": self.test_source,
            }
        done = sample(SampleRequest.of(output=str(self.tmp / "synthetic.parquet"), **fields), self.status)
        for r in done.filters:
            self.log.info(
                "filter %s: dropped %d of %d rows (%s)", r["filter"], r["dropped"], r["seen"], r["why"]
            )
        self.rows = done.count
        self._done("sample", f"{self.rows} synthetic rows")

    def evaluate(self) -> None:
        if not self.cfg["evaluate"]:
            return
        info = {
            "data": self.cfg["data"]["train"],
            "model": repr(self.fitted.model),
            "training rows": len(self.train),
            "test rows": len(self.test) if self.test is not None else "none",
            "target": self.target or "none",
            "synthetic rows": self.rows,
            "fit seconds": round(self.seconds["fit"], 2),
            "sample seconds": round(self.seconds["sample"], 2),
        }
        request = EvaluateRequest.of(
            real=self.train_source,
            synthetic=str(self.tmp / "synthetic.parquet"),
            test=self.test_source,
            target=self.target,
            model=self.tmp / "model",
            metadata=self.overrides,
            preparation=self.preparation,
            unfiltered=self.unfiltered,
            filter_record=self.filter_record,
            seed=self.cfg["sample"]["seed"],
            title=f"simulacra: {self.fitted.model.name} on {self.cfg['data']['train']}",
            info=info,
            output=self.tmp / "report.html",
            metrics=self.tmp / "metrics.json",
        )
        self.evaluation = evaluate(request, self.status).evaluation
        self._done("evaluate", ", ".join(f"{k} {v:.3f}" for k, v in self.evaluation.flat().items()))
