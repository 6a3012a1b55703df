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
from typing import Any

import pandas as pd

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


def load_prepare_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """Merge ``config`` over :data:`DEFAULTS`.

    Raises
    ------
    ConfigError
        Unknown keys.
    """
    merged = copy.deepcopy(DEFAULTS)
    for key, value in (config or {}).items():
        if key not in merged:
            raise ConfigError(f"unknown prepare key {key!r}; known: {', '.join(DEFAULTS)}")
        if isinstance(merged[key], dict) and isinstance(value, dict):
            bad = set(value) - set(merged[key])
            if bad:
                raise ConfigError(
                    f"unknown key(s) {sorted(bad)} in prepare.{key}; known: {', '.join(merged[key])}"
                )
            merged[key].update(value)
        else:
            merged[key] = value
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
