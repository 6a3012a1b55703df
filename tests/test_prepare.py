"""Cleaning steps and splits on the raw bundled Adult files (``?`` markers, test labels ending in '.')."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from simulacra.errors import ConfigError
from simulacra.io import read_table
from simulacra.prepare import (
    coerce_types,
    drop_duplicates,
    group_rare,
    handle_missing,
    handle_outliers,
    normalize_categories,
    split,
)


@pytest.fixture(scope="module")
def raw_test() -> pd.DataFrame:
    """The raw Adult test file as bundled: label column ``Y`` with a trailing '.'."""
    path = resources.files("simulacra.datasets") / "data" / "adult.test.csv.gz"
    with resources.as_file(path) as p:
        return read_table(p)


def test_duplicates_are_dropped_and_counted(raw_test):
    out, changes = drop_duplicates(raw_test)
    n = int(raw_test.duplicated().sum())
    assert n > 0 and len(out) == len(raw_test) - n and not out.duplicated().any()
    assert changes[0].count == n and changes[0].column is None
    assert drop_duplicates(out)[1] == []


def test_missing_values_keep_impute_drop_constant(raw_test):
    kept, changes = handle_missing(raw_test)
    assert kept.equals(raw_test)
    by_col = {c.column: c.count for c in changes}
    assert by_col == {c: int(n) for c, n in raw_test.isna().sum().items() if n}
    imputed, changes = handle_missing(raw_test, "impute")
    assert not imputed.isna().any().any()
    mode = raw_test["workclass"].mode().iloc[0]
    assert (imputed.loc[raw_test["workclass"].isna(), "workclass"] == mode).all()
    dropped, changes = handle_missing(raw_test, "drop")
    assert len(dropped) == len(raw_test) - changes[0].count == int(raw_test.notna().all(axis=1).sum())
    const, _ = handle_missing(raw_test, "constant", fill_value="unknown", columns=["occupation"])
    assert (const.loc[raw_test["occupation"].isna(), "occupation"] == "unknown").all()
    assert const["workclass"].isna().sum() == raw_test["workclass"].isna().sum()
    with pytest.raises(ConfigError, match="needs fill_value"):
        handle_missing(raw_test, "constant")


def test_outliers_report_clip_drop(raw_test):
    reported, changes = handle_outliers(raw_test, "iqr", "report", columns=["age", "hours-per-week"])
    assert reported.equals(raw_test) and {c.column for c in changes} == {"age", "hours-per-week"}
    q1, q3 = raw_test["age"].quantile([0.25, 0.75])
    hi = q3 + 1.5 * (q3 - q1)
    n_age = int((raw_test["age"] > hi).sum() + (raw_test["age"] < q1 - 1.5 * (q3 - q1)).sum())
    assert next(c.count for c in changes if c.column == "age") == n_age > 0
    clipped, _ = handle_outliers(raw_test, "iqr", "clip", columns=["age"])
    assert clipped["age"].max() <= hi and clipped["age"].dtype == raw_test["age"].dtype
    dropped, changes = handle_outliers(raw_test, "zscore", "drop", threshold=3, columns=["age"])
    assert len(dropped) == len(raw_test) - changes[-1].count and changes[-1].action == "dropped rows"


def test_categories_trimmed_and_trailing_period_removed(raw_test):
    out, changes = normalize_categories(raw_test, strip=" .", columns=["Y"])
    assert set(out["Y"]) == {"<=50K", ">50K"} and set(raw_test["Y"]) == {"<=50K.", ">50K."}
    assert changes[0].count == len(raw_test) and "2 → 2 categories" in changes[0].detail
    folded, changes = normalize_categories(raw_test, casefold=True, columns=["sex"])
    assert set(folded["sex"]) == {"male", "female"}


def test_rare_categories_grouped(raw_test):
    out, changes = group_rare(raw_test, max_categories=10, columns=["native-country"])
    assert out["native-country"].nunique() == 10 and "Other" in set(out["native-country"])
    top9 = raw_test["native-country"].value_counts().index[:9]
    assert changes[0].count == int(
        (raw_test["native-country"].notna() & ~raw_test["native-country"].isin(top9)).sum()
    )
    assert out["native-country"].isna().sum() == raw_test["native-country"].isna().sum()


def test_type_coercion_of_several_spellings():
    df = pd.DataFrame(
        {
            "amount": ["1,234.5", "12", "3,000", None, "7"],
            "share": ["12.5%", "50 %", "100%", "0%", "7%"],
            "flag": ["yes", "No", "Y", "n", "yes"],
            "when": ["2024-01-05", "2024/02/06", "March 3, 2024", "2024-04-07 10:00", "2024-05-08"],
            "name": ["a", "b", "c", "d", "e"],
        }
    )
    out, changes = coerce_types(df)
    assert out["amount"].tolist()[:3] == [1234.5, 12.0, 3000.0] and pd.isna(out["amount"][3])
    assert np.allclose(out["share"], [0.125, 0.5, 1.0, 0.0, 0.07])
    assert out["flag"].tolist() == [True, False, True, False, True]
    assert pd.api.types.is_datetime64_any_dtype(out["when"]) and out["when"][2] == pd.Timestamp("2024-03-03")
    assert out["name"].tolist() == list("abcde")
    assert {c.column for c in changes} == {"amount", "share", "flag", "when"}


@pytest.mark.parametrize("method", ["random", "stratified", "group", "time"])
def test_splits(raw_test, method):
    column = {"random": None, "stratified": "Y", "group": "native-country", "time": "age"}[method]
    parts, changes = split(raw_test, method, fractions=(0.7, 0.1, 0.2), column=column, seed=3)
    assert list(parts) == ["train", "validation", "test"]
    assert sum(len(p) for p in parts.values()) == len(raw_test)
    assert [c.count for c in changes] == [len(p) for p in parts.values()]
    if method == "stratified":
        shares = [p["Y"].eq(">50K.").mean() for p in parts.values()]
        assert max(shares) - min(shares) < 0.01
    if method == "group":
        seen = [set(p["native-country"].astype(str)) for p in parts.values()]
        assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    if method == "time":
        assert parts["train"]["age"].max() <= parts["test"]["age"].min()
    again, _ = split(raw_test, method, fractions=(0.7, 0.1, 0.2), column=column, seed=3)
    assert all(again[k].equals(parts[k]) for k in parts)


def test_split_errors(raw_test):
    with pytest.raises(ConfigError, match="summing to 1"):
        split(raw_test, fractions=(0.5, 0.2))
    with pytest.raises(ConfigError, match="needs a column"):
        split(raw_test, "stratified")
    with pytest.raises(ConfigError, match="not in the table"):
        split(raw_test, "group", column="nope")


def test_prepare_cli_on_the_raw_adult_files(tmp_path, capsys):
    from simulacra.cli import main

    data = resources.files("simulacra.datasets") / "data"
    with resources.as_file(data) as d:
        cfg = tmp_path / "prep.yaml"
        cfg.write_text('categories: {strip: " ."}\ntarget: Y\n')
        out = tmp_path / "prepared"
        argv = ["prepare", str(d / "adult.data.csv.gz"), "--test", str(d / "adult.test.csv.gz")]
        assert main([*argv, "--config", str(cfg), "-o", str(out)]) == 0
        raw_train = read_table(d / "adult.data.csv.gz")
    assert sorted(p.name for p in out.iterdir()) == [
        ".simulacra",
        "preparation.json",
        "report.html",
        "test.parquet",
        "train.parquet",
    ]
    train, test = pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "test.parquet")
    assert set(test["Y"]) == set(train["Y"]) == {"<=50K", ">50K"}  # the test labels' '.' is gone
    assert len(train) == len(raw_train) - int(raw_train.duplicated().sum())
    record = json.loads((out / "preparation.json").read_text())
    steps = [(c["step"], c["action"], c["column"]) for c in record["changes"]]
    assert ("test: categories", "normalized", "Y") in steps and ("duplicates", "dropped rows", None) in steps
    assert record["parts"] == {"train": len(train), "test": len(test)}
    html = (out / "report.html").read_text()
    assert html.count("<tr><td>") == len(record["changes"]) + len(record["profile"]["columns"])
    assert "<h2>Preparation</h2>" in html and "heavy skew" in html
    assert main([*argv, "-o", str(out)]) == 2  # exists: refused
    assert main(["prepare", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "x")]) == 2
    assert main(["prepare", "adult", "--split", "stratified", "-o", str(tmp_path / "y")]) == 2  # no column
    assert "needs a column" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_prepare_splits_a_bundled_table_three_ways(tmp_path):
    from simulacra.cli import main

    out = tmp_path / "p"
    argv = ["prepare", "adult", "--split", "stratified", "--split-column", "income"]
    assert main([*argv, "--fractions", "0.7,0.1,0.2", "--seed", "4", "-o", str(out)]) == 0
    parts = {n: pd.read_parquet(out / f"{n}.parquet") for n in ("train", "validation", "test")}
    assert abs(len(parts["validation"]) / sum(len(p) for p in parts.values()) - 0.1) < 0.01
    shares = [p["income"].eq(">50K").mean() for p in parts.values()]
    assert max(shares) - min(shares) < 0.01


def test_pipeline_prepare_section_splits_and_reports(tmp_path, adult_small):
    from simulacra.cli import main
    from simulacra.io import write_table

    train = adult_small[0].copy()
    train.loc[:9, "sex"] = " Male "  # untrimmed categories, to be normalized and recorded
    write_table(pd.concat([train, train.iloc[:5]]), tmp_path / "t.csv")  # 5 duplicates
    cfg = tmp_path / "run.yaml"
    run_dir = tmp_path / "run"
    cfg.write_text(
        f"data:\n  train: {tmp_path / 't.csv'}\n  target: income\n"
        "prepare:\n  split: {method: stratified, column: income, fractions: [0.75, 0.25], seed: 1}\n"
        f"sample:\n  rows: 800\noutput: {run_dir}\n"
    )
    assert main(["run", str(cfg)]) == 0
    parts = {p.stem: pd.read_parquet(p) for p in (run_dir / "data").glob("*.parquet")}
    assert sorted(parts) == ["test", "train"] and len(parts["train"]) + len(parts["test"]) == 3000
    # data/ is `simulacra prepare`'s output folder: the parts, its record and its report
    assert {"preparation.json", "report.html"} <= {p.name for p in (run_dir / "data").iterdir()}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    steps = {(c["step"], c["action"]) for c in metrics["preparation"]["changes"]}
    assert ("duplicates", "dropped rows") in steps and ("split", "test") in steps
    assert "tstr_roc_auc" in metrics["metrics"]["utility"]  # the split's test part is the holdout
    html = (run_dir / "report.html").read_text()
    assert "<h2>Preparation</h2>" in html and "<h2>Metrics</h2>" in html
    assert "prepare: " in (run_dir / "run.log").read_text()


def test_profile_warns_of_leakage_ids_constants_and_skew(adult_small):
    from simulacra.prepare import profile

    df = adult_small[0].copy()
    df["label_copy"] = df["income"].map({">50K": "rich", "<=50K": "not rich"})
    df["row_id"] = [f"r{i}" for i in range(len(df))]
    df["const"] = 1
    prof = profile(df, target="income")
    warned = {w.split(":")[0] for w in prof["warnings"]}
    assert {"label_copy", "row_id", "const", "capital-gain"} <= warned
    assert "age" not in warned and "workclass" not in warned
    age = next(c for c in prof["columns"] if c["column"] == "age")
    assert age["min"] == df["age"].min() and age["max"] == df["age"].max()
    assert abs(age["mean"] - df["age"].mean()) < 1e-9
    sex = next(c for c in prof["columns"] if c["column"] == "sex")
    assert sex["top"][0] == ["Male", int((df["sex"] == "Male").sum())]


def test_a_steps_run_prepares_a_table_then_fits_its_train_part(tmp_path, adult_small, capsys):
    from simulacra.cli import main
    from simulacra.io import write_table

    write_table(adult_small[0], tmp_path / "t.csv")
    parts, model = tmp_path / "prepared", tmp_path / "model"
    cfg = tmp_path / "steps.yaml"
    cfg.write_text(
        "steps:\n"
        f"  - prepare: {{source: {tmp_path / 't.csv'}, output: {parts}, split: random, fractions: [0.8, 0.2]}}\n"
        f"  - fit: {{source: {parts / 'train.parquet'}, model: independent, output: {model}}}\n"
    )
    assert main(["run", str(cfg)]) == 0
    assert f"prepare: done → {parts}" in capsys.readouterr().out
    assert (
        len(pd.read_parquet(parts / "train.parquet")) + len(pd.read_parquet(parts / "test.parquet")) == 3000
    )
    assert (model / "config.json").is_file()
