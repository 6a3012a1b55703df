"""Databases: the same tests against SQLite (the embedded default) and a live PostgreSQL server started
by the test run (see ``postgres_url``); the mid-read disconnection is PostgreSQL's."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from simulacra.errors import DataError, OutputExistsError
from simulacra.io import read_table, write_table


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_adult_round_trip_by_table_and_by_query(db_url, adult):
    train = adult[0]
    assert "adult" in write_table(train, f"{db_url}?table=adult")
    back = read_table(db_url, table="adult")
    assert back.shape == train.shape and list(back.columns) == list(train.columns)
    # SQL tables have no row order: compare as sorted multisets of rows
    cols = list(train.columns)
    pd.testing.assert_frame_equal(
        back.sort_values(cols).reset_index(drop=True), train.sort_values(cols).reset_index(drop=True)
    )
    rich = read_table(db_url, query="SELECT age, \"education-num\" FROM adult WHERE income = '>50K'")
    assert len(rich) == int((train["income"] == ">50K").sum()) and list(rich.columns) == [
        "age",
        "education-num",
    ]
    first = read_table(f"{db_url}?table=adult", nrows=10)
    assert len(first) == 10
    # streamed in 7 chunks of 5,000 rows: the same table
    pd.testing.assert_frame_equal(read_table(db_url, table="adult", chunk_rows=5000), back)
    head = read_table(db_url, query="SELECT * FROM adult", chunk_rows=5000, nrows=12_345)
    assert len(head) == 12_345


def test_replace_and_append_are_transactions(db_url, adult_small):
    small = adult_small[0].iloc[:500]
    url = f"{db_url}?table=people"
    write_table(small, url)
    with pytest.raises(OutputExistsError, match="already exists"):
        write_table(small, url)
    write_table(small.iloc[:100], url, if_exists="append")
    assert len(read_table(url)) == 600
    bad = small.copy()
    # row 401 fails: PostgreSQL rejects NUL in text; SQLite has no such rule, so a type it cannot bind
    bad["occupation"] = bad["occupation"].astype(object)
    bad.loc[400, "occupation"] = "nul\x00byte" if db_url.startswith("postgresql") else object()
    with pytest.raises(DataError, match="nothing was changed"):
        write_table(bad, url, force=True)
    assert len(read_table(url)) == 600  # the previous table is untouched
    with pytest.raises(DataError, match="nothing was changed"):
        write_table(bad, url, if_exists="append")
    assert len(read_table(url)) == 600


def test_failing_query_and_missing_table_give_one_line(db_url):
    write_table(pd.DataFrame({"x": [1]}), f"{db_url}?table=one", force=True)
    with pytest.raises(DataError, match=r"query failed|cannot connect or query") as err:
        read_table(db_url, query="SELECT no_such_column FROM one")
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="no table 'nope'"):
        read_table(db_url, table="nope")


def test_unreachable_server_is_a_clear_error(postgres_url):
    with pytest.raises(DataError, match="cannot connect"):
        read_table(postgres_url.replace("@127.0.0.1:", "@127.0.0.1:1"), table="adult")


def test_database_going_away_mid_read_is_a_clear_error(postgres_url):
    engine = sa.create_engine(postgres_url)

    def terminate_reader():
        time.sleep(1.0)
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            )

    killer = threading.Thread(target=terminate_reader)
    killer.start()
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"cannot connect or query|query failed") as err:
        read_table(postgres_url, query="SELECT pg_sleep(30), 1 AS x")
    killer.join()
    engine.dispose()
    assert time.perf_counter() - start < 20 and "\n" not in str(err.value)
