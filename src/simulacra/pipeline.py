"""``run(config)``: load → detect metadata → fit → sample → evaluate → write one run directory.

A config is a mapping (or a YAML file holding one)::

    data:
      train: adult                # a bundled dataset name, a file path, or an SQL URL (…?table=NAME)
      test: null                  # real rows never used for fitting; a bundled dataset brings its own
      target: income              # column for TSTR/TRTR; a bundled dataset brings its own
      metadata: null              # JSON/YAML file of metadata overrides ({columns: {name: {sdtype: …}}})
    model:
      name: copula                # a registry name (simulacra.synthesizers.available())
      params: {}                  # hyper-parameters
    sample:
      rows: null                  # default: as many rows as the training table (aim: its noisy
                                  # count; tvae with dp: required)
      seed: 0
      conditions: {}              # column → value every synthetic row must have
      balance: null               # a categorical column: equal counts per class, exactly
      class_counts: null          # with balance: exact counts per class instead ({yes: 5000, no: 5000})
      temperature: 1.0            # < 1 crowds the dense regions, > 1 spreads out (models that have one)
    filter: []                    # drop low-quality rows and top up to `rows`: near-copies[=PERCENTILE],
                                  # detection=SHARE, label=CONFIDENCE (simulacra.experiments.filters);
                                  # the report shows what each dropped and the metrics before and after;
                                  # refused for DP models (a filter reads the real rows)
    prepare: null                 # cleaning and split options (simulacra.prepare.table); {} = defaults.
                                  # With no separate test table the split's test part is the holdout;
                                  # the parts are written to data/ in the run directory
    evaluate: true
    output: runs/my-run           # the run directory
    force: false                  # replace an existing run directory

The config is checked by pydantic (:class:`PipelineConfig`) before any work: unknown keys, wrong types
(``sample.rows: abc``, ``model.params: 5``, ``prepare: 5``) and out-of-range values are one-line errors.

The run directory holds ``synthetic.parquet``, ``metadata.json``, ``model/``, ``metrics.json``,
``report.html``, ``run.log`` and, with a ``prepare`` section, ``data/`` (the prepared parts). It is assembled in a temporary folder beside it and moved into place at
the end, so a failed run leaves nothing behind and an existing run is never touched without ``force``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from simulacra.errors import ConfigError
from simulacra.evaluate import Evaluation
from simulacra.experiments.filters import parse_filters
from simulacra.io import atomic_write_text, read_yaml, write_table
from simulacra.modalities import named
from simulacra.prepare import Change, Preparation, load_prepare_config, prepare_table
from simulacra.report import preparation_html
from simulacra.synthesizers import DEFAULT_MODEL, Synthesizer, make, model_class
from simulacra.validation import MAX_ROWS, MAX_SEED, config_error
from simulacra.workflow import (
    class_counts,
    evaluate_tables,
    fit_model,
    is_image_source,
    load_images,
    load_source,
    output_folder,
    refuse_private_filters,
    resolve_table,
    sample_table,
    table_metadata,
)

STEPS = ("load", "prepare", "metadata", "fit", "sample", "evaluate", "write")
__all__ = [
    "STEPS",
    "PipelineConfig",
    "RunResult",
    "is_image_source",
    "load_config",
    "load_images",
    "load_source",
    "run",
    "run_prepare",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DataConfig(_Section):
    train: Annotated[str, Field(min_length=1)]
    test: str | None = None
    target: str | None = None
    metadata: str | dict[str, Any] | None = None


class ModelConfig(_Section):
    name: str = DEFAULT_MODEL
    params: dict[str, Any] | None = None


class SampleConfig(_Section):
    rows: Annotated[int, Field(ge=1, le=MAX_ROWS)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    # one value per column (a list or a mapping reached the model and failed there)
    conditions: dict[str, StrictStr | StrictInt | StrictFloat | StrictBool | None] | None = None
    balance: str | None = None
    temperature: Annotated[float, Field(gt=0, le=10)] = 1.0
    class_counts: dict[str, Annotated[int, Field(ge=0, le=MAX_ROWS)]] | None = None


class PipelineConfig(_Section):
    """A pipeline config (see the module docstring)."""

    data: DataConfig
    model: ModelConfig = ModelConfig()
    sample: SampleConfig = SampleConfig()
    prepare: dict[str, Any] | None = None
    filter: list[str] = []
    evaluate: bool = True
    output: Annotated[str, Field(min_length=1)]
    force: bool = False


#: the defaults, as a mapping (the documented config)
DEFAULTS: dict[str, Any] = {
    "data": {"train": None, "test": None, "target": None, "metadata": None},
    "model": {"name": DEFAULT_MODEL, "params": {}},
    "sample": {
        "rows": None,
        "seed": 0,
        "conditions": {},
        "balance": None,
        "class_counts": None,
        "temperature": 1.0,
    },
    "prepare": None,
    "filter": [],
    "evaluate": True,
    "output": None,
    "force": False,
}


@dataclass
class RunResult:
    """What :func:`run` produced: the run directory, the evaluation (``None`` if skipped), timings (s)."""

    path: Path
    evaluation: Evaluation | None
    seconds: dict[str, float] = field(default_factory=dict)
    rows: int = 0


def load_config(config: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """``config`` (a mapping or a YAML path) checked against :class:`PipelineConfig`, as a mapping with
    every default filled in; the model name, its parameters and the prepare section are checked too.

    Raises
    ------
    ConfigError
        Unreadable YAML, not a mapping, unknown keys, wrong types or ranges, an unknown model or an
        image model (pipeline configs are tabular).
    """
    where = "config"
    if not isinstance(config, dict):
        where = str(config)
        config = read_yaml(config) or {}
        if not isinstance(config, dict):
            raise ConfigError(f"{where}: the config must be a mapping (data:, model:, sample:, output:)")
    try:
        checked = PipelineConfig.model_validate(config)
    except ValidationError as exc:
        raise config_error(exc, where) from None
    merged = checked.model_dump()
    merged["model"]["params"] = merged["model"]["params"] or {}
    merged["sample"]["conditions"] = merged["sample"]["conditions"] or {}
    name = merged["model"]["name"]
    if not issubclass(model_class(name), Synthesizer):
        unit = named(model_class(name).modality).unit
        raise ConfigError(
            f"model {name!r} generates {unit} and this config form (data:, model:, sample:) is for tables; "
            f"write the run as steps: (fit, sample, evaluate), or use 'simulacra fit SOURCE --model {name}'"
        )
    probe = make(name, **merged["model"]["params"])  # checks every parameter before any work
    refuse_private_filters(probe, merged["filter"], "filter")
    if probe.differentially_private and merged["sample"]["rows"] is None and not probe.counts_rows_privately:
        raise ConfigError(
            f"{where}: sample.rows is needed for {name} with dp: the training table's row count is not "
            "covered by its ε; give the number of rows to sample"
        )
    if merged["prepare"] is not None:
        load_prepare_config(merged["prepare"])
    sample = merged["sample"]
    if sample["class_counts"] is not None and sample["balance"] is None:
        raise ConfigError(f"{where}: sample.class_counts needs the column it counts; add sample.balance")
    label = sample["balance"] or (
        next(iter(sample["conditions"])) if len(sample["conditions"]) == 1 else None
    )
    parse_filters(merged["filter"], label_column=label)  # checks the filter specs before any work
    return merged


def prepare_parts(
    train: pd.DataFrame, test: pd.DataFrame | None, config: dict[str, Any] | None
) -> Preparation:
    """:func:`~simulacra.prepare.prepare_table` on ``train``; with a separate ``test`` table, both go
    through the same steps unsplit (test changes prefixed ``test:``) and become the two parts. How a
    file had to be decoded (``attrs["read_notes"]``) is listed first."""
    cfg = load_prepare_config(config)
    read = [Change("read", "noted", None, 0, n) for n in train.attrs.get("read_notes", [])]
    if test is None:
        prep = prepare_table(train, cfg)
    else:
        no_split = {**cfg, "split": None}
        prep = prepare_table(train, no_split)
        held = prepare_table(test, no_split)
        read += [Change("test: read", "noted", None, 0, n) for n in test.attrs.get("read_notes", [])]
        changes = prep.changes + [
            Change(f"test: {c.step}", c.action, c.column, c.count, c.detail) for c in held.changes
        ]
        prep = Preparation(
            {"train": prep.parts["data"], "test": held.parts["data"]}, changes, prep.profile, cfg
        )
    prep.changes[:0] = read
    return prep


def run_prepare(
    source: str,
    output: str | os.PathLike[str],
    *,
    test: str | None = None,
    config: dict[str, Any] | None = None,
    force: bool = False,
) -> tuple[Path, Preparation]:
    """Clean ``source`` (and ``test`` if given) with :func:`simulacra.prepare.prepare_table` and write the
    output directory: one Parquet file per part (``train``, [``validation``,] ``test``), the records in
    ``preparation.json`` and ``report.html`` (Preparation and Data profile sections). With ``test`` the
    table is not split: ``test`` goes through the same steps (its changes are listed with a ``test:``
    prefix) and becomes the test part. The directory is assembled aside and moved into place.

    Raises
    ------
    SimulacraError
        Bad input or config (one line saying which); nothing is written then.
    """
    load_prepare_config(config)
    with output_folder(output, force=force) as tmp:
        train = load_source(source, part="train")
        held = load_source(test, part="test") if test is not None else None
        prep = prepare_parts(train, held, config)
        for name, part in prep.parts.items():
            write_table(part, tmp / f"{name}.parquet")
        text = json.dumps(prep.to_dict(), indent=2, default=str) + "\n"
        atomic_write_text(tmp / "preparation.json", text)
        atomic_write_text(
            tmp / "report.html", preparation_html(prep.to_dict(), f"simulacra: preparing {source}")
        )
    return Path(output), prep


def run(
    config: dict[str, Any] | str | os.PathLike[str],
    *,
    on_step: Callable[[str, str], None] | None = None,
    on_progress: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Run the whole pipeline from a config (see the module docstring) and write the run directory.

    ``on_step(step, message)`` is called as each of :data:`STEPS` finishes (the CLI draws progress
    with it). ``on_progress(step, message)`` reports progress inside a step (a neural model's epochs and
    losses); neural models then keep their own progress bar off unless ``verbose`` is set in the config.

    Raises
    ------
    SimulacraError
        Any bad input (the message says which and what to do); nothing is written then.
    """
    cfg = load_config(config)
    out = Path(cfg["output"])
    with output_folder(out, force=cfg["force"]) as tmp:
        runner = _Run(cfg, tmp, on_step, on_progress)
        try:
            for name in STEPS:
                getattr(runner, name)()
        finally:
            runner.close()
    return RunResult(out, runner.evaluation, runner.seconds, runner.rows)


class _Run:
    """The state of one :func:`run`, one method per step of :data:`STEPS`, each logged to ``run.log``."""

    def __init__(self, cfg: dict[str, Any], tmp: Path, on_step, on_progress) -> None:
        self.cfg, self.tmp, self.on_step, self.on_progress = cfg, tmp, on_step, on_progress
        self.log = logging.getLogger(f"simulacra.run.{id(tmp)}")
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        self.handler = logging.FileHandler(tmp / "run.log", encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.log.addHandler(self.handler)
        self.seconds: dict[str, float] = {}
        self.evaluation: Evaluation | None = None
        self.preparation: dict[str, Any] | None = None
        self.rows = 0
        self.clock = time.perf_counter()

    def close(self) -> None:
        self.log.removeHandler(self.handler)
        self.handler.close()

    def _done(self, name: str, message: str) -> None:
        self.seconds[name] = time.perf_counter() - self.clock
        self.log.info("%s: %s (%.2f s)", name, message, self.seconds[name])
        if self.on_step:
            self.on_step(name, message)
        self.clock = time.perf_counter()

    def load(self) -> None:
        data = self.cfg["data"]
        self.source = resolve_table(str(data["train"]), test=data.get("test"), target=data.get("target"))
        self.train, self.test, self.target = self.source.train, self.source.test, self.source.target
        extra = f", {len(self.test)} test rows" if self.test is not None else ""
        self._done("load", f"{len(self.train)} training rows{extra}")

    def prepare(self) -> None:
        if self.cfg["prepare"] is None:
            self._done("prepare", "skipped (no prepare section)")
            return
        prep_cfg = dict(self.cfg["prepare"] or {})
        prep_cfg.setdefault("target", self.target)
        prep = prepare_parts(self.train, self.test, prep_cfg)
        self.train, self.test = prep.parts.get("train", prep.parts.get("data")), prep.parts.get("test")
        (self.tmp / "data").mkdir()
        for name, part in prep.parts.items():  # every later metric uses this same holdout
            write_table(part, self.tmp / "data" / f"{name}.parquet")
        self.preparation = prep.to_dict()
        parts = ", ".join(f"{k} {len(v)}" for k, v in prep.parts.items())
        self._done("prepare", f"{len(prep.changes)} changes; {parts}")

    def metadata(self) -> None:
        self.meta = table_metadata(self.train, self.cfg["data"].get("metadata"), self.target)
        column = self.cfg["sample"]["balance"]
        if column is not None and self.meta[column].sdtype not in ("categorical", "boolean"):
            raise ConfigError(
                f"sample.balance: column {column!r} is {self.meta[column].sdtype}; give a categorical column"
            )
        given = self.cfg["sample"]["class_counts"] or {}
        seen = set(self.train[column].dropna().astype(str)) if column is not None else set()
        unknown = [str(c) for c in given if str(c) not in seen]
        if unknown:
            raise ConfigError(
                f"sample.class_counts: column {column!r} has no class {unknown[0]!r}; "
                f"its classes are: {', '.join(sorted(seen))}"
            )
        self.meta.to_json(self.tmp / "metadata.json")
        self._done("metadata", f"{len(self.meta.names)} columns detected")

    def fit(self) -> None:
        model_cfg = self.cfg["model"]
        params = dict(model_cfg["params"])
        epochs = model_class(model_cfg["name"]).trains_in_epochs
        if epochs and self.on_progress is not None:
            params.setdefault("verbose", False)
        self.model = model = make(model_cfg["name"], **params)

        def on_epoch(epoch: int, losses: dict[str, float]) -> None:
            shown = " ".join(f"{k} {v:+.3f}" for k, v in losses.items())
            message = f"epoch {epoch + 1}/{model.epochs} {shown}"
            if (epoch + 1) % 10 == 0 or epoch + 1 == model.epochs:
                self.log.info("fit: %s", message)
            if self.on_progress:
                self.on_progress("fit", message)

        fit_model(model, self.train, self.meta, on_epoch=on_epoch)
        model.save(self.tmp / "model")
        self._done("fit", repr(model))

    def sample(self) -> None:
        sample_cfg = self.cfg["sample"]
        conditions, seed, column = sample_cfg["conditions"] or None, sample_cfg["seed"], sample_cfg["balance"]
        rows = int(sample_cfg["rows"] or self.model.default_rows(len(self.train)))
        counts = None
        if column is not None:
            given = sample_cfg["class_counts"]
            counts = class_counts(self.model, column, None if given else rows, given)
            rows = int(sum(counts.values()))
        self.rows = rows
        options = {
            "conditions": conditions,
            "column": column,
            "counts": counts,
            "seed": seed,
            "temperature": sample_cfg["temperature"],
        }
        self.filtering = None
        if self.cfg["filter"]:
            unfiltered, _ = sample_table(self.model, rows, **options)
            self.synthetic, records = sample_table(
                self.model,
                rows,
                filters=self.cfg["filter"],
                real_train=self.train,
                real_test=self.test,
                **options,
            )
            self.filtering = {"filters": records, "unfiltered": unfiltered}
            for r in records:
                self.log.info(
                    "filter %s: dropped %d of %d rows (%s)", r["filter"], r["dropped"], r["seen"], r["why"]
                )
        else:
            self.synthetic, _ = sample_table(self.model, rows, **options)
        write_table(self.synthetic, self.tmp / "synthetic.parquet")
        self._done("sample", f"{self.rows} synthetic rows")

    def evaluate(self) -> None:
        if not self.cfg["evaluate"]:
            return
        info = {
            "data": self.source.name,
            "model": repr(self.model),
            "training rows": len(self.train),
            "test rows": len(self.test) if self.test is not None else "none",
            "target": self.target or "none",
            "synthetic rows": self.rows,
            "fit seconds": round(self.seconds["fit"], 2),
            "sample seconds": round(self.seconds["sample"], 2),
        }
        self.evaluation, self.report = evaluate_tables(
            self.train,
            self.synthetic,
            self.meta,
            test=self.test,
            target=self.target,
            seed=self.cfg["sample"]["seed"],
            title=f"simulacra: {self.model.name} on {self.source.name}",
            info=info,
            preparation=self.preparation,
            filtering=self.filtering,
            model_privacy=getattr(self.model, "privacy_", None),
        )
        flat = ", ".join(f"{k} {v:.3f}" for k, v in self.evaluation.flat().items())
        self._done("evaluate", flat)

    def write(self) -> None:
        if self.evaluation is not None:
            self.report.to_json(self.tmp / "metrics.json")
            self.report.to_html(self.tmp / "report.html")
            self._done("write", "metrics.json and report.html")
        self.log.info("done: %s", self.cfg["output"])
