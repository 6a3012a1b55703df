"""The table pipeline config of ``simulacra run`` (load → prepare → fit → sample → evaluate into one
run directory): its form, its checks, and the cleaning step it shares with ``simulacra prepare``.
:func:`simulacra.commands.run_pipeline` runs it as the same requests the commands take.

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
``report.html``, ``run.log`` and, with a ``prepare`` section, ``data/`` (``simulacra prepare``'s
output: the parts, ``preparation.json`` and its report). It is assembled in a temporary folder beside
it and moved into place at the end, so a failed run leaves nothing behind and an existing run is never
touched without ``force``.
"""

from __future__ import annotations

import json
import os
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
from simulacra.experiments.filters import parse_filters
from simulacra.io import atomic_write_text, read_yaml, write_table
from simulacra.modalities import named
from simulacra.prepare import Change, Preparation, load_prepare_config, prepare_table
from simulacra.report import preparation_html
from simulacra.synthesizers import DEFAULT_MODEL, Synthesizer, make, model_class
from simulacra.validation import MAX_ROWS, MAX_SEED, config_error
from simulacra.workflow import (
    is_image_source,
    load_images,
    load_source,
    output_folder,
    refuse_private_filters,
)

__all__ = [
    "PipelineConfig",
    "is_image_source",
    "load_config",
    "load_images",
    "load_source",
    "prepare_parts",
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
