from __future__ import annotations

import pandas as pd
import pytest

from simulacra.errors import MetadataError
from simulacra.metadata import Metadata


def test_adult_sdtypes(adult):
    meta = Metadata.detect(adult[0])
    assert meta.names_of("numerical") == [
        "age",
        "fnlwgt",
        "education-num",
        "capital-gain",
        "capital-loss",
        "hours-per-week",
    ]
    assert meta["age"].representation == "int" and (meta["age"].min, meta["age"].max) == (17, 90)
    assert meta["workclass"].sdtype == "categorical" and meta["workclass"].nullable
    assert meta["income"].sdtype == "categorical" and not meta["income"].nullable


def test_hostile_columns(hostile):
    meta = Metadata.detect(hostile)
    assert meta["all_null"].sdtype == "categorical" and meta["all_null"].nullable
    assert meta["constant"].sdtype == "numerical" and meta["constant"].min == meta["constant"].max == 7
    assert meta["unicode"].sdtype == "categorical"
    assert meta["many_levels"].sdtype == "categorical"
    assert meta["mixed"].sdtype == "categorical" and "mixed types" in meta["mixed"].reason
    assert meta["when"].sdtype == "datetime" and meta["when"].format == "mixed"
    assert meta["amount"].representation == "float"
    assert meta["flag"].sdtype == "boolean"


def test_ids_booleans_and_text_numbers():
    df = pd.DataFrame(
        {
            "customer_id": range(100),
            "answer": ["yes", "no"] * 50,
            "price": [f"{i}.5" for i in range(100)],
            "day": pd.date_range("2024-01-01", periods=100).strftime("%Y-%m-%d"),
            "email": [f"u{i}@example.org" for i in range(100)],
        }
    )
    meta = Metadata.detect(df)
    assert [meta[c].sdtype for c in df.columns] == ["id", "boolean", "numerical", "datetime", "pii"]
    assert meta["day"].format == "%Y-%m-%d" and meta["email"].pii == "email"


def test_json_round_trip_and_overrides(tmp_path, adult_small):
    meta = Metadata.detect(adult_small[0])
    path = tmp_path / "metadata.json"
    meta.to_json(path)
    assert Metadata.from_json(path).to_dict() == meta.to_dict()
    overrides = tmp_path / "fix.yaml"
    overrides.write_text("columns:\n  education-num:\n    sdtype: categorical\n")
    meta.apply_overrides(overrides)
    assert meta["education-num"].sdtype == "categorical" and meta["education-num"].representation is None
    with pytest.raises(MetadataError, match="unknown column 'nope'"):
        meta.update_column("nope", sdtype="categorical")
    with pytest.raises(MetadataError, match="sdtype 'texture'"):
        meta.update_column("age", sdtype="texture")
