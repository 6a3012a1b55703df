"""``prepare_table(df, config)``: the cleaning steps in a fixed order, a profile, and a split.

Config (every key optional; these are the defaults, which need no config at all)::

    types: true                       # coerce text numbers, percentages, booleans, dates
    categories: {strip: null, casefold: false}    # strip: extra characters, e.g. " ." for "x." → "x"
    duplicates: true                  # drop exact duplicate rows
    missing: {strategy: keep, fill_value: null}   # keep | drop | impute | constant
    outliers: {method: iqr, action: report}       # iqr | zscore; report | clip | drop
    rare: {max_categories: 50}        # group rarer categories as "Other"; null turns it off
    split: {method: random, fractions: [0.8, 0.2], column: null, seed: 0}   # null: no split
    target: null                      # for the profile's leakage check (and a default stratum)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulacra.errors import ConfigError
from simulacra.prepare.cleaning import (
    Change,
    coerce_types,
    drop_duplicates,
    group_rare,
    handle_missing,
    handle_outliers,
    normalize_categories,
)
from simulacra.prepare.profile import profile
from simulacra.prepare.split import split
from simulacra.validation import MAX_SEED, config_error

DEFAULTS: dict[str, Any] = {
    "types": True,
    "categories": {"strip": None, "casefold": False},
    "duplicates": True,
    "missing": {"strategy": "keep", "fill_value": None},
    "outliers": {"method": "iqr", "action": "report"},
    "rare": {"max_categories": 50},
    "split": {"method": "random", "fractions": [0.8, 0.2], "column": None, "seed": 0},
    "target": None,
}


#: the cleaning steps in the order they run: config key → step function
STEPS = (
    ("types", coerce_types),
    ("categories", normalize_categories),
    ("duplicates", drop_duplicates),
    ("missing", handle_missing),
    ("outliers", handle_outliers),
    ("rare", group_rare),
)


@dataclass
class Preparation:
    """What :func:`prepare_table` produced: the parts by name (``train``, [``validation``,] ``test``, or
    ``data`` when not split), the changes in order, the profile of the cleaned table, the config used."""

    parts: dict[str, pd.DataFrame]
    changes: list[Change]
    profile: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "changes": [c.to_dict() for c in self.changes],
            "profile": self.profile,
            "parts": {k: len(v) for k, v in self.parts.items()},
        }


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Categories(_Section):
    strip: str | None = None
    casefold: bool = False


class _Missing(_Section):
    strategy: Literal["keep", "drop", "impute", "constant"] = "keep"
    fill_value: Any = None


class _Outliers(_Section):
    method: Literal["iqr", "zscore"] = "iqr"
    action: Literal["report", "clip", "drop"] = "report"


class _Rare(_Section):
    max_categories: Annotated[int, Field(ge=2, le=1_000_000)] | None = 50


class _Split(_Section):
    method: Literal["random", "stratified", "group", "time"] = "random"
    fractions: Annotated[list[Annotated[float, Field(gt=0, lt=1)]], Field(min_length=2, max_length=3)] = [
        0.8,
        0.2,
    ]
    column: str | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0


class PrepareConfig(_Section):
    """The prepare config (see the module docstring), checked by pydantic: every key's type and allowed
    values; a section set to ``false``/``null`` is turned off."""

    types: bool = True
    categories: _Categories | Literal[False] | None = _Categories()
    duplicates: bool = True
    missing: _Missing | Literal[False] | None = _Missing()
    outliers: _Outliers | Literal[False] | None = _Outliers()
    rare: _Rare | Literal[False] | None = _Rare()
    split: _Split | Literal[False] | None = _Split()
    target: str | None = None


def load_prepare_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """``config`` checked against :class:`PrepareConfig` and merged over :data:`DEFAULTS` (a section given
    as a mapping keeps the defaults of the keys it does not set).

    Raises
    ------
    ConfigError
        Not a mapping, an unknown key, or a value of the wrong type or range (one line naming the key).
    """
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"prepare: the config must be a mapping of cleaning steps, got {type(config).__name__}"
        )
    try:
        checked = PrepareConfig.model_validate(config)
    except ValidationError as exc:
        raise config_error(exc, "prepare config") from None
    merged = copy.deepcopy(DEFAULTS)
    for key in config:
        value = getattr(checked, key)
        merged[key] = value.model_dump() if isinstance(value, BaseModel) else value
    return merged


def prepare_table(df: pd.DataFrame, config: dict[str, Any] | None = None) -> Preparation:
    """Clean ``df`` (types → categories → duplicates → missing → outliers → rare categories), profile
    the result and split it, recording every change. See the module docstring for the config.

    Raises
    ------
    ConfigError
        A bad config value (the message names the key).
    """
    cfg = load_prepare_config(config)
    changes: list[Change] = []
    for key, step in STEPS:
        options = cfg[key]
        if not options or (key == "rare" and not options.get("max_categories")):
            continue  # turned off (false / null)
        df, c = step(df, **(options if isinstance(options, dict) else {}))
        changes += c
    target = cfg["target"]
    if target is not None and target not in df.columns:
        raise ConfigError(f"prepare.target {target!r} is not a column of the table")
    prof = profile(df, target=target)
    if cfg["split"]:
        parts, c = split(df, **cfg["split"])
        changes += c
    else:
        parts = {"data": df}
    return Preparation(parts, changes, prof, cfg)
