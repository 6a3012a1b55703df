from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from simulacra.errors import DataError, OutputExistsError
from simulacra.io import read_table, write_table


def test_semicolon_csv_with_booleans_and_decimal_comma(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name; score ;active\n Ann ;1,5;TRUE\nBob;2,25;FALSE\nCléo;?;true\n", encoding="utf-8")
    df = read_table(path)
    assert list(df.columns) == ["name", "score", "active"]
    assert df["name"].tolist() == ["Ann", "Bob", "Cléo"]
    assert df["score"].iloc[:2].tolist() == [1.5, 2.25] and pd.isna(df["score"].iloc[2])
    assert df["active"].dtype == bool and df["active"].tolist() == [True, False, True]


def test_adult_missing_markers_and_spaces(adult):
    train, test = adult
    assert train.shape == (32561, 15) and test.shape == (16281, 15)
    assert train["workclass"].isna().sum() == 1836  # the '?' markers
    assert not train["workclass"].dropna().str.startswith(" ").any()
    assert set(test["income"]) == {"<=50K", ">50K"}  # trailing '.' removed


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl", ".xlsx", ".csv.gz"])
def test_file_round_trip(tmp_path, adult_small, suffix):
    df = adult_small[0].head(200)
    target = tmp_path / f"out{suffix}"
    write_table(df, target)
    back = read_table(target)
    assert back.shape == df.shape
    assert back["age"].tolist() == df["age"].tolist()
    assert back["workclass"].fillna("?").tolist() == df["workclass"].fillna("?").tolist()


def test_sqlite_table_and_query(tmp_path, adult_small):
    df = adult_small[0]
    url = f"sqlite:///{tmp_path / 'adult.db'}"
    write_table(df, url, table="adult")
    by_table = read_table(url, table="adult")
    assert by_table.shape == df.shape
    by_query = read_table(f"{url}?query=SELECT age, income FROM adult WHERE age > 60")
    assert list(by_query.columns) == ["age", "income"] and (by_query["age"] > 60).all()
    assert len(by_query) == int((df["age"] > 60).sum())


def test_sql_write_is_transactional(tmp_path, adult_small):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_table(adult_small[0].head(10), url, table="t")
    with pytest.raises(OutputExistsError, match="already exists"):
        write_table(adult_small[0].head(99), url, table="t")
    bad = pd.DataFrame({"x": [object()]})  # cannot be bound by the driver: the write must roll back
    with pytest.raises(DataError, match="nothing was changed"):
        write_table(bad, url, table="t", force=True)
    assert len(read_table(url, table="t")) == 10
    write_table(adult_small[0].head(20), url, table="t", force=True)
    assert len(read_table(url, table="t")) == 20


def _file(directory, name, text):
    (directory / name).write_text(text)
    return directory / name


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda p: p / "nope.csv", "file not found"),
        (lambda p: _file(p, "x.weird", "a\n1\n"), "unknown file format"),
        (lambda p: _file(p, "empty.csv", ""), "empty"),
        (lambda p: _file(p, "header.csv", "a,b\n"), "no rows"),
        (lambda p: f"sqlite:///{p}/missing/db.sqlite?table=t", "not found"),
        (lambda p: "postgresql+psycopg://u:secret@127.0.0.1:1/db?table=t", "cannot connect|not a usable"),
    ],
)
def test_bad_sources_give_one_line_errors(tmp_path, make_source, message):
    with pytest.raises(DataError, match=message) as info:
        read_table(make_source(tmp_path))
    assert "\n" not in str(info.value)
    assert "secret" not in str(info.value)


def test_unknown_sqlite_table_lists_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (a INTEGER)"))
    engine.dispose()
    with pytest.raises(DataError, match="no table 'peeple'; tables there: people"):
        read_table(url, table="peeple")


def test_existing_file_is_not_overwritten(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    with pytest.raises(OutputExistsError):
        write_table(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "keep me"
    write_table(pd.DataFrame({"a": [1]}), target, force=True)
    assert read_table(target)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary files left
