"""Hostile input, round two (issue 28), in process: each case runs ``simulacra.cli.main`` in its own
folder and must end in exactly one ``error: …`` line with exit code 2 and nothing created or changed —
or, for input that is accepted, in the exact values. The classes: outputs and ``--force`` (SQL tables
simulacra did not write, targets that are not databases, names near NAME_MAX, a lock path taken by a
folder, symbolic links, SIGTERM), SQL queries that URL decoding would mangle, values that pandas or
numpy would change or cannot represent, damaged model arrays, text encodings, declared bounds, images.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulacra.cli import main
from simulacra.datasets import load
from simulacra.io import read_table, write_table
from simulacra.synthesizers import make


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def _cli(argv: list[str], folder: Path, capsys) -> tuple[int, str, str]:
    """Run the CLI in process with ``folder`` as the working folder: ``(exit code, stdout, stderr)``."""
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(argv: list[str], folder: Path, capsys, message: str) -> str:
    """Run the CLI in ``folder``: exit 2, one ``error:`` line holding ``message``, nothing changed."""
    before = _fingerprint(folder)
    code, _, err = _cli(argv, folder, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(errors) == 1 and "Traceback" not in err, err
    assert message in errors[0], errors[0]
    assert _fingerprint(folder) == before, "something was written or changed"
    return errors[0]


def accepted(argv: list[str], folder: Path, capsys) -> str:
    """Run the CLI in ``folder``: exit 0; returns stdout and stderr together."""
    code, out, err = _cli(argv, folder, capsys)
    assert code == 0, err
    return out + err


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("model")
    train, _ = load("adult")
    make("copula").fit(train.sample(300, random_state=0)).save(d / "m")
    return d / "m"


# --------------------------------------------------------------------------- outputs and --force
def test_force_replaces_only_an_sql_table_simulacra_wrote(model, tmp_path, capsys):
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ann')")
    url = f"sqlite:///{db}?table=users"
    refused(
        ["sample", str(model), "-n", "5", "-o", url, "--force"], tmp_path, capsys, "not written by simulacra"
    )
    assert read_table(url)["name"].tolist() == ["ann"]
    refused(
        ["sample", str(model), "-n", "5", "-o", f"sqlite:///{db}?table=simulacra_tables"],
        tmp_path,
        capsys,
        "lists its own tables",
    )
    ours = f"sqlite:///{db}?table=synthetic"
    accepted(["sample", str(model), "-n", "5", "-o", ours], tmp_path, capsys)
    refused(["sample", str(model), "-n", "7", "-o", ours], tmp_path, capsys, "already exists")
    accepted(["sample", str(model), "-n", "7", "-o", ours, "--force"], tmp_path, capsys)  # ours: replaced
    assert len(read_table(ours)) == 7
    registry = read_table(f"sqlite:///{db}?table=simulacra_tables")
    assert registry["name"].tolist() == ["synthetic"]
    with pytest.raises(Exception, match="not written by simulacra"):  # the library call too
        write_table(pd.DataFrame({"name": ["eve"]}), url, force=True)
    write_table(pd.DataFrame({"name": ["bob"]}), url, if_exists="append")  # asked for: adds, replaces nothing
    assert read_table(url)["name"].tolist() == ["ann", "bob"]


def test_an_sqlite_target_that_is_not_a_database_is_refused_before_sampling(model, tmp_path, capsys):
    (tmp_path / "notes.db").write_text("my notes, not a database\n")
    refused(
        ["sample", str(model), "-n", "5", "-o", "sqlite:///notes.db?table=t", "--force"],
        tmp_path,
        capsys,
        "not an SQLite database",
    )
    (tmp_path / "folder.db").mkdir()
    refused(
        ["sample", str(model), "-n", "5", "-o", "sqlite:///folder.db?table=t"], tmp_path, capsys, "folder"
    )


def test_names_near_name_max_get_a_lock_and_temporaries_and_longer_ones_are_refused(model, tmp_path, capsys):
    name = "n" * 240 + ".csv"  # legal (244 bytes); its lock '.NAME.simulacra-lock' would not be
    accepted(["sample", str(model), "-n", "5", "-o", name], tmp_path, capsys)
    assert len(read_table(tmp_path / name)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no lock or temporary left
    refused(["sample", str(model), "-n", "5", "-o", "n" * 300 + ".csv"], tmp_path, capsys, "longer than")


def test_a_lock_path_taken_by_a_folder_is_refused_before_work(model, tmp_path, capsys):
    (tmp_path / ".out.csv.simulacra-lock").mkdir()
    refused(["sample", str(model), "-n", "5", "-o", "out.csv"], tmp_path, capsys, "lock path")
    refused(["fit", "adult", "-o", "out.csv"], tmp_path, capsys, "lock path")


def test_force_onto_a_symlinked_model_folder_replaces_the_link_and_leaves_nothing(model, tmp_path, capsys):
    real = tmp_path / "real"
    shutil.copytree(model, real)
    (tmp_path / "link").symlink_to(real)
    data = tmp_path / "d.csv"
    write_table(load("adult")[0].head(200), data)
    before = _fingerprint(real)
    accepted(["fit", str(data), "-o", "link", "--force"], tmp_path, capsys)
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "link" / "config.json").is_file()
    assert _fingerprint(real) == before  # what the link pointed to is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "link", "real"]  # no .old.tmp


@pytest.mark.parametrize("target", ["x.csv", "sqlite:///new.db?table=t"])
def test_sigterm_removes_what_was_begun_and_says_so(model, tmp_path, target):
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulacra.cli", "sample", str(model), "-n", "5000000", "-o", target],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(p.name != "m" for p in tmp_path.iterdir()):
        time.sleep(0.2)  # until it has begun writing
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated; nothing was written" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no output, temporary, lock, database or journal


# --------------------------------------------------------------------------- SQL queries are not mangled
def test_sql_queries_keep_plus_and_ampersand_and_may_come_from_a_file(tmp_path, capsys):
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (k TEXT, price REAL, tax REAL)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [("a+b", 1, 2), ("a b", 3, 4), ("x&y", 5, 6)])
    base = f"sqlite:///{db}"
    df = read_table(f"{base}?query=SELECT k, price+tax AS total FROM t WHERE k='a+b'")
    assert df.to_dict("records") == [{"k": "a+b", "total": 3.0}]
    df = read_table(f"{base}?query=SELECT k FROM t WHERE k='x&y' OR k = 'a b'")
    assert sorted(df["k"]) == ["a b", "x&y"]
    (tmp_path / "q.sql").write_text("SELECT price+tax AS total FROM t WHERE k = 'a+b'\n")
    assert read_table(f"{base}?query=@{tmp_path / 'q.sql'}")["total"].tolist() == [3.0]
    refused(["inspect", f"{base}?query=@missing.sql"], tmp_path, capsys, "query file")


# --------------------------------------------------------------------------- values pandas would change
@pytest.mark.parametrize(
    ("name", "frame", "message"),
    [
        ("list.parquet", pd.DataFrame({"a": [1, 2], "l": [[1, 2], [3]]}), "nested values"),
        ("struct.parquet", pd.DataFrame({"a": [1, 2], "s": [{"x": 1}, {"x": 2}]}), "nested values"),
        ("bytes.parquet", pd.DataFrame({"a": [1, 2], "b": [b"x", b"y"]}), "binary values"),
        ("td.parquet", pd.DataFrame({"a": [1, 2], "t": pd.to_timedelta([1, 2], unit="s")}), "durations"),
        ("u64.parquet", pd.DataFrame({"u": np.array([1, 2**64 - 1], dtype=np.uint64)}), "unsigned"),
    ],
)
def test_values_simulacra_cannot_model_are_refused_in_one_line(tmp_path, capsys, name, frame, message):
    frame.to_parquet(tmp_path / name)
    refused(["fit", name, "-o", "m"], tmp_path, capsys, message)


def test_json_records_nested_or_with_keys_equal_once_stripped_are_refused(tmp_path, capsys):
    (tmp_path / "n.jsonl").write_text('{"a": 1, "b": {"x": 1}}\n{"a": 2, "b": {"x": 2}}\n')
    refused(["inspect", "n.jsonl"], tmp_path, capsys, "nested values")
    (tmp_path / "k.jsonl").write_text('{"a": 1, " a": 2}\n{"a": 3, " a": 4}\n')
    refused(["inspect", "k.jsonl"], tmp_path, capsys, "same name once surrounding spaces")


def test_ids_beyond_two_to_the_53_with_a_missing_value_are_not_rounded(tmp_path, capsys):
    ids = [2**60 + i for i in range(40)]
    (tmp_path / "ids.csv").write_text(
        "a,id\n" + "".join(f"{i % 3},{v}\n" for i, v in enumerate(ids)) + "1,\n"
    )
    df = read_table(tmp_path / "ids.csv")
    assert df["id"].dropna().map(int).tolist() == ids  # through float64 they would all be 2^60
    assert "kept as text" in df.attrs["read_notes"][0]
    accepted(["prepare", "ids.csv", "-o", "p"], tmp_path, capsys)
    parts = [pd.read_parquet(f) for f in (tmp_path / "p").glob("*.parquet")]
    prepared = pd.concat(parts)["id"].dropna()
    assert sorted(int(v) for v in prepared) == ids  # exact, and no row dropped as a duplicate


# --------------------------------------------------------------------------- damaged model arrays
def _damage(model: Path, to: Path, *, arrays=None, state=None) -> Path:
    import json

    shutil.copytree(model, to)
    if arrays is not None:
        with np.load(to / "arrays.npz") as npz:
            saved = {k: npz[k] for k in npz.files}
        np.savez(to / "arrays.npz", **arrays(saved))
    if state is not None:
        doc = json.loads((to / "state.json").read_text())
        state(doc)
        (to / "state.json").write_text(json.dumps(doc))
    return to


def _nan_corner(a):
    c = a["correlation"].copy()
    c[0, 1] = c[1, 0] = np.nan
    return {"correlation": c}


def _first_numeric(doc):
    cols = doc["transformer"]["columns"]
    return next(c for c in cols.values() if c["sdtype"] == "numerical")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"arrays": _nan_corner}, "NaN"),
        ({"arrays": lambda a: {"correlation": np.eye(3)}}, "correlation matrix is (3, 3)"),
        ({"arrays": lambda a: {"correlation": a["correlation"].astype(np.complex128)}}, "complex"),
        ({"arrays": lambda a: {"correlation": 2 * a["correlation"]}}, "unit diagonal"),
        (
            {"state": lambda d: d["transformer"].__setitem__("order", d["transformer"]["order"][:1] * 2)},
            "order repeats",
        ),
        ({"state": lambda d: _first_numeric(d)["value"]["quantiles"].__setitem__(3, float("nan"))}, "NaN"),
        ({"state": lambda d: _first_numeric(d)["value"]["quantiles"].reverse()}, "non-decreasing"),
    ],
    ids=["nan", "shape", "complex", "diagonal", "order", "grid-nan", "grid-order"],
)
def test_a_damaged_model_is_not_a_valid_model_folder(model, tmp_path, capsys, damage, message):
    _damage(model, tmp_path / "m", **damage)
    line = refused(["sample", "m", "-n", "5", "-o", "x.csv"], tmp_path, capsys, "not a valid simulacra model")
    assert message in line


# --------------------------------------------------------------------------- encodings
def test_one_stray_latin1_byte_changes_one_value_and_is_reported_on_the_terminal(tmp_path, capsys):
    body = "name,city\n" + "".join(f"p{i},Zürich\n" for i in range(40))
    (tmp_path / "mixed.csv").write_bytes(body.encode("utf-8") + b"q,M\xfcnchen\n")
    df = read_table(tmp_path / "mixed.csv")
    assert df["city"].value_counts().to_dict() == {"Zürich": 40, "München": 1}  # not 40 × 'ZÃ¼rich'
    out = accepted(["inspect", "mixed.csv"], tmp_path, capsys)
    warning = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "0xfc at offset" in warning[0] and "otherwise UTF-8" in warning[0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_byte_order_marks_name_the_encoding(tmp_path, encoding):
    text = "name,city\nAnn,Zürich\nBob,Köln\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # Python writes no BOM for an explicit byte order
    (tmp_path / "t.csv").write_bytes(data)
    df = read_table(tmp_path / "t.csv")
    assert list(df.columns) == ["name", "city"] and df["city"].tolist() == ["Zürich", "Köln"]
    assert not df.attrs.get("read_notes")


# --------------------------------------------------------------------------- declared bounds hold
def test_data_outside_declared_bounds_or_categories_is_refused_and_samples_keep_them(tmp_path, capsys):
    import json

    train = load("adult")[0].sample(1500, random_state=0)
    write_table(train, tmp_path / "d.csv")
    meta = {"columns": {"age": {"min": 30, "max": 40}}}
    (tmp_path / "narrow.json").write_text(json.dumps(meta))
    line = refused(["fit", "d.csv", "--metadata", "narrow.json", "-o", "m"], tmp_path, capsys, "outside the")
    assert "declared range [30, 40]" in line and "np.int64" not in line
    (tmp_path / "cats.json").write_text(json.dumps({"columns": {"sex": {"categories": ["Male"]}}}))
    refused(["fit", "d.csv", "--metadata", "cats.json", "-o", "m"], tmp_path, capsys, "declared categories")
    wide = {"columns": {"age": {"min": 17, "max": 90}, "hours-per-week": {"min": 1, "max": 99}}}
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    for model in ("mixture", "tvae"):
        params = ["--param", "epochs=2"] if model == "tvae" else []
        accepted(
            ["fit", "d.csv", "--model", model, *params, "--metadata", "wide.json", "-o", model],
            tmp_path,
            capsys,
        )
        accepted(["sample", model, "-n", "5000", "-o", f"{model}.csv"], tmp_path, capsys)
        rows = read_table(tmp_path / f"{model}.csv")
        assert rows["age"].between(17, 90).all() and rows["hours-per-week"].between(1, 99).all(), model


# --------------------------------------------------------------------------- images
def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_sixteen_bit_pngs_are_scaled_and_one_colour_image_makes_the_set_rgb(tmp_path):
    from simulacra.io import ImageSet

    ramp = (np.arange(28 * 28, dtype=np.uint32).reshape(28, 28) * 83).astype(np.uint16)  # 0 … 65,005
    _png(tmp_path / "s" / "a" / "ramp.png", ramp)
    _png(tmp_path / "s" / "b" / "grey.png", np.full((28, 28), 128, np.uint8))
    grey = ImageSet.read(tmp_path / "s")
    assert grey.images.shape == (2, 1, 28, 28)
    assert grey.images[0, 0].max() == round(65005 / 257) and grey.images[0, 0].min() == 0  # not all 255
    assert len(np.unique(grey.images[0])) > 200  # the ramp survives as a ramp
    _png(tmp_path / "s" / "b" / "z_red.png", np.dstack([np.full((28, 28), v, np.uint8) for v in (255, 0, 0)]))
    colour = ImageSet.read(tmp_path / "s")  # grey files come first; the red one still makes the set RGB
    assert colour.images.shape == (3, 3, 28, 28)
    assert colour.images[2, :, 0, 0].tolist() == [255, 0, 0]
    assert colour.images[1, :, 0, 0].tolist() == [128, 128, 128]


def test_a_local_folder_named_like_a_bundled_set_wins_and_is_said(tmp_path, monkeypatch):
    from simulacra import workflow
    from simulacra.errors import DataWarning

    for label in ("0", "1"):
        for i in range(3):
            _png(tmp_path / "mnist" / label / f"{i}.png", np.full((28, 28), 40 * i, np.uint8))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(workflow, "_SHADOWED", set())
    with pytest.warns(DataWarning, match="reading the local path"):
        images = workflow.load_images("mnist")
    assert len(images) == 6 and images.class_names == ["0", "1"]  # not the bundled 8,000 digits


# --------------------------------------------------------------------------- evaluate checks the synthetic table
def test_evaluate_refuses_a_synthetic_table_whose_numbers_are_text(tmp_path, capsys):
    train = load("adult")[0].sample(400, random_state=0).reset_index(drop=True)
    write_table(train, tmp_path / "real.csv")
    fake = train.copy()
    fake["age"] = "old"
    write_table(fake, tmp_path / "synth.csv")
    line = refused(["evaluate", "real.csv", "synth.csv", "-o", "r.html"], tmp_path, capsys, "synthetic table")
    assert "'age' is numerical" in line


def test_codes_with_leading_zeros_keep_them_through_read_and_prepare(tmp_path, capsys):
    codes = [f"{i:05d}" for i in range(0, 4000, 37)]
    (tmp_path / "z.csv").write_text("zip,n\n" + "".join(f"{c},{i % 7}\n" for i, c in enumerate(codes)))
    assert read_table(tmp_path / "z.csv")["zip"].tolist() == codes  # not 0, 37, 74, …
    accepted(["prepare", "z.csv", "-o", "p"], tmp_path, capsys)
    prepared = pd.concat([pd.read_parquet(f) for f in (tmp_path / "p").glob("*.parquet")])
    assert set(prepared["zip"]) <= set(codes) | {"Other"} and prepared["zip"].str.len().eq(5).all()
