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
      rows: null                  # default: as many rows as the training table
      seed: 0
      conditions: {}              # column → value every synthetic row must have
    prepare: null                 # cleaning and split options (simulacra.prepare.table); {} = defaults.
                                  # With no separate test table the split's test part is the holdout;
                                  # the parts are written to data/ in the run directory
    evaluate: true
    output: runs/my-run           # the run directory
    force: false                  # replace an existing run directory

The run directory holds ``synthetic.parquet``, ``metadata.json``, ``model/``, ``metrics.json``,
``report.html``, ``run.log`` and, with a ``prepare`` section, ``data/`` (the prepared parts). It is assembled in a temporary folder beside it and moved into place at
the end, so a failed run leaves nothing behind and an existing run is never touched without ``force``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulacra import datasets
from simulacra.errors import ConfigError, DataError
from simulacra.evaluate import Evaluation, check_target, evaluate
from simulacra.io import (
    FILE_FORMATS,
    ImageSet,
    atomic_write_text,
    is_sql_url,
    read_table,
    read_yaml,
    replace_dir,
    temporary_dir_for,
    write_table,
)
from simulacra.metadata import Metadata
from simulacra.prepare import Change, Preparation, load_prepare_config, prepare_table
from simulacra.report import Report, preparation_html
from simulacra.synthesizers import make, model_class
from simulacra.synthesizers.neural import TorchTraining

DEFAULTS: dict[str, Any] = {
    "data": {"train": None, "test": None, "target": None, "metadata": None},
    "model": {"name": "copula", "params": {}},
    "sample": {"rows": None, "seed": 0, "conditions": {}},
    "prepare": None,
    "evaluate": True,
    "output": None,
    "force": False,
}
STEPS = ("load", "prepare", "metadata", "fit", "sample", "evaluate", "write")


@dataclass
class RunResult:
    """What :func:`run` produced: the run directory, the evaluation (``None`` if skipped), timings (s)."""

    path: Path
    evaluation: Evaluation | None
    seconds: dict[str, float] = field(default_factory=dict)
    rows: int = 0


def load_source(source: str, *, part: str = "train") -> pd.DataFrame:
    """A bundled dataset's ``part`` (``train``/``test``) when ``source`` names one, else ``read_table``."""
    if source in datasets.available():
        if datasets.is_image(source):
            raise DataError(f"{source!r} is an image dataset; this command needs a table (e.g. 'adult')")
        train, test = datasets.load(source)
        return train if part == "train" else test
    return read_table(source)


def is_image_source(source: str) -> bool:
    """Whether ``source`` names images: a bundled image dataset, an ``.npz`` archive, an IDX file or a
    folder (of class folders)."""
    if source in datasets.available():
        return datasets.is_image(source)
    if is_sql_url(source):
        return False
    path = Path(source)
    if path.suffix == ".npz" or path.is_dir():
        return True
    tabular = any(suffix in FILE_FORMATS for suffix in path.suffixes)
    return not tabular and ("idx" in path.name or "ubyte" in path.name)


def load_images(source: str, *, part: str = "train") -> ImageSet:
    """A bundled image dataset's ``part`` (``train``/``test``) when ``source`` names one, else
    :meth:`ImageSet.read` (class folders, ``.npz``, IDX).

    Raises
    ------
    DataError
        ``source`` is a bundled table, or unreadable images.
    """
    if source in datasets.available():
        if not datasets.is_image(source):
            raise DataError(f"{source!r} is a table; this command needs images here (e.g. 'mnist')")
        train, test = datasets.load(source)
        return train if part == "train" else test
    return ImageSet.read(source)


def load_config(config: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Merge ``config`` (mapping or YAML path) over :data:`DEFAULTS` and check it.

    Raises
    ------
    ConfigError
        Unreadable YAML, unknown sections, or no ``data.train``/``output``.
    """
    if not isinstance(config, dict):
        path = Path(config)
        config = read_yaml(path) or {}
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: the config must be a mapping (data:, model:, sample:, output:)")
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown config section(s) {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
    merged = copy.deepcopy(DEFAULTS)
    for key, value in config.items():
        if isinstance(merged[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config section {key!r} must be a mapping")
            bad = set(value) - set(merged[key])
            if bad:
                raise ConfigError(f"unknown key(s) {sorted(bad)} in {key!r}; known: {', '.join(merged[key])}")
            merged[key].update({k: v for k, v in value.items() if v is not None or k in ("test", "target")})
        else:
            merged[key] = value
    if not merged["data"]["train"]:
        raise ConfigError("config needs data.train (a dataset name, file path or SQL URL)")
    if not merged["output"]:
        raise ConfigError("config needs output (the run directory to write)")
    name = merged["model"].get("name")
    if name and model_class(name).modality != "table":
        raise ConfigError(
            f"model {name!r} generates images and pipeline configs are tabular; "
            f"use 'simulacra fit mnist --model {name} -o MODEL' and 'simulacra sample'"
        )
    return merged


def prepare_parts(
    train: pd.DataFrame, test: pd.DataFrame | None, config: dict[str, Any] | None
) -> Preparation:
    """:func:`~simulacra.prepare.prepare_table` on ``train``; with a separate ``test`` table, both go
    through the same steps unsplit (test changes prefixed ``test:``) and become the two parts. How a
    file had to be decoded (``attrs["read_notes"]``) is listed first."""
    cfg = load_prepare_config(config)
    read = [Change("read", "decoded", None, 0, n) for n in train.attrs.get("read_notes", [])]
    if test is None:
        prep = prepare_table(train, cfg)
    else:
        no_split = {**cfg, "split": None}
        prep = prepare_table(train, no_split)
        held = prepare_table(test, no_split)
        read += [Change("test: read", "decoded", None, 0, n) for n in test.attrs.get("read_notes", [])]
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
    out = Path(output)
    train = load_source(source, part="train")
    prep = prepare_parts(train, load_source(test, part="test") if test is not None else None, config)
    tmp = temporary_dir_for(out, force=force)
    try:
        for name, part in prep.parts.items():
            write_table(part, tmp / f"{name}.parquet")
        text = json.dumps(prep.to_dict(), indent=2, default=str) + "\n"
        atomic_write_text(tmp / "preparation.json", text)
        atomic_write_text(
            tmp / "report.html", preparation_html(prep.to_dict(), f"simulacra: preparing {source}")
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, out)
    return out, prep


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
    data, model_cfg, sample_cfg = cfg["data"], cfg["model"], cfg["sample"]
    out = Path(cfg["output"])
    tmp = temporary_dir_for(out, force=bool(cfg["force"]))
    log = logging.getLogger(f"simulacra.run.{id(tmp)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(tmp / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    seconds: dict[str, float] = {}

    def step(name: str, message: str, started: float) -> None:
        seconds[name] = time.perf_counter() - started
        log.info("%s: %s (%.2f s)", name, message, seconds[name])
        if on_step:
            on_step(name, message)

    try:
        t = time.perf_counter()
        train_src = str(data["train"])
        bundled = datasets.DATASETS.get(train_src, {})
        train = load_source(train_src, part="train")
        test_src = data.get("test") if data.get("test") is not None else (train_src if bundled else None)
        test = load_source(str(test_src), part="test") if test_src else None
        target = data.get("target") or bundled.get("target")
        step(
            "load",
            f"{len(train)} training rows" + (f", {len(test)} test rows" if test is not None else ""),
            t,
        )

        t = time.perf_counter()
        preparation = None
        if cfg["prepare"] is not None:
            prep_cfg = dict(cfg["prepare"] or {})
            prep_cfg.setdefault("target", target)
            prep = prepare_parts(train, test, prep_cfg)
            train, test = prep.parts.get("train", prep.parts.get("data")), prep.parts.get("test")
            (tmp / "data").mkdir()
            for name, part in prep.parts.items():  # every later metric uses this same holdout
                write_table(part, tmp / "data" / f"{name}.parquet")
            preparation = prep.to_dict()
            step(
                "prepare",
                f"{len(prep.changes)} changes; " + ", ".join(f"{k} {len(v)}" for k, v in prep.parts.items()),
                t,
            )
        else:
            step("prepare", "skipped (no prepare section)", t)

        t = time.perf_counter()
        metadata = Metadata.detect(train)
        if data.get("metadata"):
            metadata.apply_overrides(data["metadata"])
        check_target(metadata, target)
        metadata.to_json(tmp / "metadata.json")
        step("metadata", f"{len(metadata.names)} columns detected", t)

        t = time.perf_counter()
        params = dict(model_cfg.get("params") or {})
        neural = issubclass(model_class(model_cfg["name"]), TorchTraining)
        if neural and on_progress is not None:
            params.setdefault("verbose", False)
        model = make(model_cfg["name"], **params)
        if neural:

            def on_epoch(epoch: int, losses: dict[str, float]) -> None:
                shown = " ".join(f"{k} {v:+.3f}" for k, v in losses.items())
                message = f"epoch {epoch + 1}/{model.epochs} {shown}"
                if (epoch + 1) % 10 == 0 or epoch + 1 == model.epochs:
                    log.info("fit: %s", message)
                if on_progress:
                    on_progress("fit", message)

            model.fit(train, metadata, on_epoch=on_epoch)
        else:
            model.fit(train, metadata)
        model.save(tmp / "model")
        step("fit", f"{model!r}", t)

        t = time.perf_counter()
        rows = int(sample_cfg["rows"] or len(train))
        synthetic = model.sample(
            rows, conditions=sample_cfg.get("conditions") or None, seed=sample_cfg.get("seed")
        )
        write_table(synthetic, tmp / "synthetic.parquet")
        step("sample", f"{rows} synthetic rows", t)

        evaluation = None
        if cfg["evaluate"]:
            t = time.perf_counter()
            evaluation = evaluate(
                train,
                synthetic,
                metadata,
                real_test=test,
                target=target,
                seed=int(sample_cfg.get("seed") or 0),
            )
            step("evaluate", ", ".join(f"{k} {v:.3f}" for k, v in evaluation.flat().items()), t)

            t = time.perf_counter()
            info = {
                "data": train_src,
                "model": repr(model),
                "training rows": len(train),
                "test rows": len(test) if test is not None else "none",
                "target": target or "none",
                "synthetic rows": rows,
                "fit seconds": round(seconds["fit"], 2),
                "sample seconds": round(seconds["sample"], 2),
            }
            report = Report(
                evaluation,
                train,
                synthetic,
                metadata,
                title=f"simulacra: {model.name} on {train_src}",
                info=info,
                preparation=preparation,
            )
            report.to_json(tmp / "metrics.json")
            report.to_html(tmp / "report.html")
            step("write", "metrics.json and report.html", t)
        log.info("done: %s", out)
    except BaseException:
        log.removeHandler(handler)
        handler.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.removeHandler(handler)
    handler.close()
    replace_dir(tmp, out)
    return RunResult(out, evaluation, seconds, rows)
