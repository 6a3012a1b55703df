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


def test_every_sqlite_url_variant_is_read_read_only_and_a_refused_read_creates_nothing(tmp_path, adult_small):
    """Only 'sqlite:///' was opened read-only: 'sqlite+pysqlite:///db?query=PRAGMA journal_mode=WAL'
    rewrote the source (WAL files appeared) and a read of a missing 'sqlite+pysqlite' file created it."""
    import hashlib

    db = tmp_path / "db.sqlite"
    write_table(adult_small[0].head(50), f"sqlite:///{db}", table="t")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for url in (
        f"sqlite+pysqlite:///{db}?query=PRAGMA journal_mode=WAL",
        f"sqlite+pysqlite:///file:{db}?mode=rwc&uri=true&query=PRAGMA journal_mode=WAL",
        f"sqlite+pysqlite:///{db}?query=CREATE TABLE evil (a INTEGER)",
        f"sqlite+pysqlite:///{db}?query=ATTACH DATABASE '{tmp_path / 'evil.db'}' AS e",
    ):
        try:
            read_table(url)
        except DataError as exc:
            assert "\n" not in str(exc)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.sqlite"]  # no -wal, -shm, evil.db
    assert len(read_table(f"sqlite+pysqlite:///{db}?table=t")) == 50
    with pytest.raises(DataError, match="not found"):
        read_table(f"sqlite+pysqlite:///{tmp_path / 'new.db'}?table=t")
    assert not (tmp_path / "new.db").exists()


def test_a_password_with_an_at_sign_never_reaches_a_message():
    """The redaction stopped at the first '@' while SQLAlchemy splits at the last one."""
    from simulacra.io import redact_url as _redact

    for url in (
        "postgresql://bob:p@ssS3cret@127.0.0.1:1/db?table=t",
        "postgresql+psycopg://bob:S3cret@127.0.0.1:1/db?table=t",
        "mysql+pymysql://bob:a/b@S3cret@host/db",
    ):
        assert "S3cret" not in _redact(url), url
    with pytest.raises(DataError) as info:
        read_table("postgresql+psycopg://bob:p@ssS3cret@127.0.0.1:1/db?table=t")
    assert "S3cret" not in str(info.value) and "bob" in str(info.value)


def test_hostile_files_are_refused_in_bounded_time(tmp_path):
    """A 70 KB first row of ';' hung the delimiter guess for minutes and would have built a 70,000-column
    table; a 200-byte YAML alias bomb made a 3.6 MB error line (one more level exhausts memory)."""
    import time

    from simulacra.errors import MetadataError
    from simulacra.metadata import Metadata

    wide = tmp_path / "wide.csv"
    wide.write_text("a" + ";" * 70_000 + "\n" + "1" + ";" * 70_000 + "\n")
    start = time.perf_counter()
    with pytest.raises(DataError, match="70,001 columns"):
        read_table(wide)
    assert time.perf_counter() - start < 10
    bomb = tmp_path / "bomb.yaml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        levels.append(
            f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]"
        )
    bomb.write_text("\n".join(levels) + "\n")
    assert len(bomb.read_bytes()) < 1000
    with pytest.raises(MetadataError, match="expands to more than 100,000 values") as info:
        Metadata.detect(pd.DataFrame({"a": [1, 2]})).apply_overrides(bomb)
    assert len(str(info.value)) < 300


def test_csv_and_tsv_escape_spreadsheet_formulas_unless_asked_not_to(tmp_path):
    """OWASP's advice covers CSV too: a spreadsheet runs =HYPERLINK(…) from a .csv as from an .xlsx."""
    from simulacra.io import TableWriter

    df = pd.DataFrame({"note": ['=HYPERLINK("http://x","y")', "@SUM(1)", "plain", "-rm"], "n": [-1, 2, 3, 4]})
    for suffix in (".csv", ".tsv"):
        write_table(df, tmp_path / f"out{suffix}")
        back = read_table(tmp_path / f"out{suffix}")
        assert back["note"].tolist() == ['\'=HYPERLINK("http://x","y")', "'@SUM(1)", "plain", "'-rm"]
        assert back["n"].tolist() == [-1, 2, 3, 4]  # numbers untouched
        with TableWriter(tmp_path / f"stream{suffix}") as out:
            out.write(df.head(2))
            out.write(df.tail(2))
        assert read_table(tmp_path / f"stream{suffix}")["note"].tolist() == back["note"].tolist()
    write_table(df, tmp_path / "raw.csv", escape=False)
    assert read_table(tmp_path / "raw.csv")["note"].tolist() == df["note"].tolist()
