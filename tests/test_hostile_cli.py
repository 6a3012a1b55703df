"""Hostile input through the CLI: every case must end in exactly one ``error: …`` line on stderr with
exit code 2 (or 0 where the input is valid), no traceback, nothing created or changed outside the
requested output, and the shared input files untouched.

Most cases run in process through :func:`simulacra.cli.main` (one interpreter, no 2-second torch import
per case), with the case's own folder as the working folder; the cases named in :data:`PROCESS` run as
``python -m simulacra.cli`` subprocesses, as a user would, so the process boundary (the exit status,
stderr, Click's usage errors, a lock held by another process, payloads) is still crossed with the same
assertions. The cases are grouped by the classes of defects of issue 11: CLI values, hyper-parameters,
configs (pipelines, prepare, augmentation), model folders, tables, SQL, images, outputs. The shared
inputs (a table, a fitted model, images) live in one read-only folder that is hashed before and after
the whole run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulacra.datasets import load
from simulacra.io import write_table
from simulacra.synthesizers import make


@dataclass
class Case:
    name: str
    argv: list[str]  # "{s}" is the shared folder; commands run in the case's own folder
    setup: Callable[[Path, Path], None] | None = None
    code: int = 2
    output: tuple[str, ...] = ()  # what may change on exit 0 (path prefixes in the case folder)
    message: str | None = None  # a fragment the error line must hold


def _w(rel: str, data: bytes | str) -> Callable[[Path, Path], None]:
    def setup(d: Path, s: Path) -> None:
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def _yaml(text: str) -> Callable[[Path, Path], None]:
    return _w("c.yaml", text)


def _model_copy(edit: Callable[[Path], None]) -> Callable[[Path, Path], None]:
    """Copy the shared copula model into ./m and damage it with ``edit``."""

    def setup(d: Path, s: Path) -> None:
        import shutil

        shutil.copytree(s / "model", d / "m")
        edit(d / "m")

    return setup


def _image_model_copy(edit: Callable[[Path], None]) -> Callable[[Path, Path], None]:
    def setup(d: Path, s: Path) -> None:
        import shutil

        shutil.copytree(s / "imodel", d / "m")
        edit(d / "m")

    return setup


def _set_json(name: str, value) -> Callable[[Path], None]:
    return lambda m: (m / name).write_text(json.dumps(value))


def _edit_config(**changes) -> Callable[[Path], None]:
    def edit(m: Path) -> None:
        cfg = json.loads((m / "config.json").read_text())
        cfg.update(changes)
        (m / "config.json").write_text(json.dumps(cfg))

    return edit


def _truncate(name: str, keep: int) -> Callable[[Path], None]:
    return lambda m: (m / name).write_bytes((m / name).read_bytes()[:keep])


class _Payload:
    """Unpickling this runs ``touch PWNED``: the test checks that no such file appears."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _pickle_bomb(m: Path) -> None:
    import pickle

    (m / "weights.pt").write_bytes(pickle.dumps(_Payload()))


def _npz(rel: str, **arrays) -> Callable[[Path, Path], None]:
    def setup(d: Path, s: Path) -> None:
        np.savez(d / rel, **arrays)

    return setup


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width × height`` (the data holds one row: decoders fail or refuse)."""
    raw = zlib.compress(b"\x00" + b"\x00" * 8)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _real_png(size: int = 28) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.fromarray(np.zeros((size, size), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _folder_with(file: bytes, name: str = "a.png") -> Callable[[Path, Path], None]:
    def setup(d: Path, s: Path) -> None:
        (d / "imgs" / "0").mkdir(parents=True)
        (d / "imgs" / "0" / "ok.png").write_bytes(_real_png())
        (d / "imgs" / "0" / name).write_bytes(file)

    return setup


def _table(rel: str, df: pd.DataFrame) -> Callable[[Path, Path], None]:
    def setup(d: Path, s: Path) -> None:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(d / rel, index=False)

    return setup


def _lock_held(d: Path, s: Path) -> None:
    (d / ".out.csv.simulacra-lock").write_text(f"{os.getppid()}\n")  # the test process: alive


def _sqlite(d: Path, s: Path) -> None:
    import sqlite3

    con = sqlite3.connect(d / "db.sqlite")
    pd.DataFrame({"a": [1, 2, 3]}).to_sql("t", con, index=False)
    con.close()


S = "{s}"
DATA = f"{S}/data.csv"
MODEL = f"{S}/model"
IMAGES = f"{S}/images.npz"

# --------------------------------------------------------------------------- the cases
CASES: list[Case] = []


def case(name: str, argv: list[str], **kw) -> None:
    CASES.append(Case(name, argv, **kw))


# CLI usage and values
case("unknown option", ["--bogus"], message="No such option")
case("unknown command", ["frobnicate"], message="No such command")
case("fit without -o", ["fit", DATA], message="Missing option")
case("sample -n abc", ["sample", MODEL, "-n", "abc", "-o", "x.csv"], message="-n")
case("sample -n 1e3", ["sample", MODEL, "-n", "1e3", "-o", "x.csv"])
case("sample -n -1", ["sample", MODEL, "-n", "-1", "-o", "x.csv"], message="greater than or equal to 0")
case("sample -n huge", ["sample", MODEL, "-n", "10000000000", "-o", "x.csv"], message="less than or equal")
case(  # about 660 GB of JSON: more than the disk holds (the rows themselves stream, memory is no limit)
    "sample -n 2e9 too big for the disk",
    ["sample", MODEL, "-n", "2000000000", "-o", "x.json"],
    message="GiB of disk",
)
case("sample --seed -1", ["sample", MODEL, "-n", "5", "-o", "x.csv", "--seed", "-1"])
case("sample --seed abc", ["sample", MODEL, "-n", "5", "-o", "x.csv", "--seed", "abc"])
case(
    "sample condition without =",
    ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "age"],
    message="name=value",
)
case("sample condition unknown column", ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "zz=1"])
case("sample condition not a number", ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "age=old"])
case("sample condition out of range", ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "age=999"])
case(  # the error line is text, not Rich markup: the brackets survive
    "sample condition in brackets",
    ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "race=[bold]x"],
    message="'[bold]x'",
)
case(
    "sample condition unseen category",
    ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "race=Martian"],
)
case("fit unknown model", ["fit", DATA, "--model", "gpt", "-o", "m"], message="unknown model")
case("fit --param without =", ["fit", DATA, "--param", "epochs", "-o", "m"])
case("fit --checkpoint-every -1", ["fit", DATA, "--checkpoint-every", "-1", "-o", "m"])
case("bench --rows -1", ["bench", "--models", "copula", "--rows", "-1", "-o", "b"])
case("bench --repeats 0", ["bench", "--models", "copula", "--repeats", "0", "-o", "b"])
case("bench unknown model", ["bench", "--models", "gpt", "-o", "b"], message="unknown model")
case("bench image model on a table", ["bench", "--models", "cgan", "-o", "b"])
case("bench bad param", ["bench", "--models", "copula", "--param", "seed=abc", "-o", "b"])
case("mix fraction 2", ["mix", DATA, "--target", "race", "--test", DATA, "--fractions", "2", "-o", "mx"])
case("mix ratios abc", ["mix", DATA, "--target", "race", "--test", DATA, "--ratios", "a,b", "-o", "mx"])
case("mix without test rows", ["mix", DATA, "--target", "race", "-o", "mx"], message="--test")
case("mix without a target", ["mix", DATA, "--test", DATA, "-o", "mx"], message="--target")
case("fit --max-rows 5", ["fit", DATA, "--max-rows", "5", "-o", "m"], message="--max-rows")
case(
    "valid: an output named like markup",
    ["sample", MODEL, "-n", "5", "-o", "x[/bold].csv"],
    code=0,
    output=("x[",),
)
case(
    "valid: columns and values named like markup",
    ["inspect", "m.csv"],
    setup=_w("m.csv", "[/x],[red]b\n[/b],1\n[/b],2\n[red]c,3\n"),
    code=0,
)
case(
    "inspect -o its own input --force",
    ["inspect", "t.csv", "-o", "t.csv", "--force"],
    setup=_w("t.csv", "a,b\n1,x\n2,y\n"),
    message="the input",
)
case(
    "sample -o inside the model it samples --force",
    ["sample", "m", "-n", "5", "-o", "m/state.json", "--force"],
    setup=_model_copy(lambda m: None),
    message="the input",
)
case(
    "sample -o the SQL table given as --data --force",
    [
        "sample",
        MODEL,
        "-n",
        "5",
        "-o",
        "sqlite:///db.sqlite?table=t",
        "--data",
        "sqlite:///db.sqlite?table=t",
        "--force",
    ],
    setup=_sqlite,
    message="the input",
)
case(
    "sample repeated --condition",
    ["sample", MODEL, "-n", "5", "--condition", "sex=Male", "--condition", "sex=Female", "-o", "x.csv"],
    message="given twice",
)
case(
    "sample repeated --class-counts class",
    ["sample", MODEL, "--balance", "sex", "--class-counts", "Male=3,Male=4", "-o", "x.csv"],
    message="given twice",
)
case(
    "fit repeated --param",
    ["fit", DATA, "--param", "seed=1", "--param", "seed=2", "-o", "m"],
    message="twice",
)
case(
    "evaluate --seed 2**70", ["evaluate", DATA, DATA, "--seed", str(2**70), "-o", "r.html"], message="--seed"
)
case(
    "sample --seed 2**32", ["sample", MODEL, "-n", "5", "--seed", str(2**32), "-o", "x.csv"], message="--seed"
)
case("fit --param seed=2**40", ["fit", DATA, "--param", f"seed={2**40}", "-o", "m"], message="seed")
case(
    "fit unknown stratify column", ["fit", DATA, "--stratify", "nope", "-o", "m"], message="--stratify 'nope'"
)
case(
    "fit sampled, unknown stratify column",
    ["fit", DATA, "--max-rows", "100", "--stratify", "nope", "-o", "m"],
    message="--stratify 'nope'",
)
case("fit --all-rows, not a neural model", ["fit", DATA, "--all-rows", "-o", "m"], message="--all-rows")
case(
    "fit a DP model on a sample",
    ["fit", DATA, "--model", "aim", "--max-rows", "100", "-o", "m"],
    message="trains on every row",
)
case("sample --keep-copies on a table model", ["sample", MODEL, "-n", "5", "--keep-copies", "-o", "x.csv"])
case(
    "fit --batch-source unknown",
    ["fit", DATA, "--model", "tvae", "--batch-source", "ram", "-o", "m"],
    message="--batch-source 'ram'",
)
case("tune --trials 0", ["tune", DATA, "--target", "race", "--trials", "0", "-o", "t"], message="--trials")
case(
    "tune inverted range",
    ["tune", DATA, "--target", "race", "--space", "bins=64:8", "-o", "t"],
    message="below",
)
case("tune unknown parameter", ["tune", DATA, "--space", "width=1:9", "-o", "t"], message="no parameter")
case("tune out-of-range choice", ["tune", DATA, "--space", "bins=1,64", "-o", "t"], message="bins")
case("tune private model", ["tune", DATA, "--model", "aim", "-o", "t"], message="differentially private")
case("tune nothing to search", ["tune", DATA, "--model", "independent", "-o", "t"], message="--space")
case("tune objective", ["tune", DATA, "--objective", "fid", "-o", "t"], message="combined")
case("tune validation share", ["tune", DATA, "--validation", "0.9", "-o", "t"], message="--validation")
case("tune without a target", ["tune", DATA, "-o", "t"], message="--target")
case("sample --class-counts alone", ["sample", MODEL, "--class-counts", "a=1", "-o", "x.csv"])
case("sample --temperature 0", ["sample", MODEL, "-n", "5", "--temperature", "0", "-o", "x.csv"])
case(
    "sample --filter unknown", ["sample", MODEL, "-n", "5", "--filter", "blur", "--data", DATA, "-o", "x.csv"]
)
case("bench --temperatures 0", ["bench", "--models", "copula", "--temperatures", "0,1", "-o", "b"])
case(
    "bench --temperatures on series",
    ["bench", "--data", "stocks", "--models", "series-ar", "--temperatures", "0.5,1", "-o", "b"],
    message="does not sweep",
)
case("augment --copies 0", ["augment", IMAGES, "--pipeline", "p.yaml", "--copies", "0", "-o", "o.npz"])
case("prepare --fractions abc", ["prepare", DATA, "--fractions", "a,b", "-o", "p"])
case("prepare --seed -3", ["prepare", DATA, "--seed", "-3", "-o", "p"])
case("evaluate report not html", ["evaluate", DATA, DATA, "-o", "r.txt"], message=".html")
case("evaluate --seed abc", ["evaluate", DATA, DATA, "-o", "r.html", "--seed", "abc"])
case(
    "evaluate --preparation not JSON",
    ["evaluate", DATA, DATA, "-o", "r.html", "--preparation", "p.json"],
    setup=_w("p.json", "not json"),
    message="not a readable JSON record",
)
case(
    "evaluate --unfiltered without --filter-record",
    ["evaluate", DATA, DATA, "-o", "r.html", "--unfiltered", DATA],
    message="--unfiltered and --filter-record go together",
)
case("evaluate --preparation on images", ["evaluate", IMAGES, IMAGES, "-o", "r.html", "--preparation", DATA])
case(
    "sample --filter-record without --filter",
    ["sample", MODEL, "-n", "5", "-o", "x.csv", "--filter-record", "f.json"],
    message="add --filter",
)
case(
    "sample --filter-record is -o",
    [
        "sample",
        MODEL,
        "-n",
        "5",
        "-o",
        "x.csv",
        "--filter",
        "near-copies",
        "--data",
        DATA,
        "--filter-record",
        "x.csv",
    ],
    message="give the record a file of its own",
)

# hyper-parameters (each refused before any data is read)
for model, param in [
    ("ctgan", "epochs=abc"),
    ("ctgan", "epochs=2.7"),
    ("ctgan", "epochs=-1"),
    ("ctgan", "seed=abc"),
    ("ctgan", "seed=-1"),
    ("ctgan", "generator_lr=abc"),
    ("ctgan", "patience=abc"),
    ("ctgan", "patience=0"),
    ("ctgan", "embedding_dim=0"),
    ("ctgan", "batch_size=0"),
    ("ctgan", "batch_size=7"),
    ("ctgan", "generator_dim=abc"),
    ("ctgan", "generator_dim=[0, 5]"),
    ("ctgan", "log_frequency=maybe"),
    ("ctgan", "device=5"),
    ("ctgan", "device=tpu"),
    ("ctgan", "verbose=3"),
    ("ctgan", "gumbel_tau=0"),
    ("ctgan", "pac=0"),
    ("ctgan", "bogus=1"),
    ("tvae", "learning_rate=abc"),
    ("tvae", "learning_rate=.inf"),
    ("tvae", "embedding_dim=0"),
    ("tvae", "compress_dims=5"),
    ("tvae", "loss_factor=-2"),
    ("tvae", "max_modes=0"),
    ("tvae", "l2scale=-1"),
    ("copula", "max_quantiles=1"),
    ("copula", "gibbs_sweeps=0"),
    ("copula", "seed=1.5"),
    ("copula", "epochs=3"),
    ("cgan", "latent_dim=0"),
    ("cgan", "label_smoothing=1"),
    ("vae", "beta=-1"),
    ("dcgan", "grid_every=-1"),
    ("aim", "epsilon=0"),
    ("aim", "epsilon=-1"),
    ("aim", "epsilon=abc"),
    ("aim", "delta=1"),
    ("aim", "delta=0"),
    ("aim", "bins=1"),
    ("aim", "workload=quads"),
    ("aim", "domain_share=1"),
    ("aim", "max_model_size=0"),
    ("aim", "rounds=0"),
    ("tvae", "dp=maybe"),
    ("tvae", "epsilon=-1"),
    ("tvae", "max_grad_norm=0"),
]:
    case(f"--param {model} {param}", ["fit", DATA, "--model", model, "--param", param, "-o", "m"])

# privacy: identifiers, differential privacy, attacks
case(
    "tvae dp with early stopping",
    ["fit", DATA, "--model", "tvae", "--param", "dp=true", "--param", "patience=3", "-o", "m"],
    message="patience",
)
case("--pii unknown mode", ["fit", DATA, "--pii", "scramble", "-o", "m"], message="--pii")
case("--pii pseudonymize without a key", ["fit", DATA, "--pii", "pseudonymize", "-o", "m"], message="key")
case("--pii-key-file missing", ["fit", DATA, "--pii", "pseudonymize", "--pii-key-file", "nokey", "-o", "m"])
case(
    "--pii-key-file too short",
    ["fit", DATA, "--pii", "pseudonymize", "--pii-key-file", "k", "-o", "m"],
    setup=_w("k", "short\n"),
    message="16",
)
case(
    "declared bounds min above max",
    ["fit", DATA, "--model", "aim", "--metadata", "c.yaml", "-o", "m"],
    setup=_w("c.yaml", "columns:\n  age: {min: 90, max: 17}\n"),
    message="min ≤ max",
)
case(
    "declared categories not a list",
    ["fit", DATA, "--model", "aim", "--metadata", "c.yaml", "-o", "m"],
    setup=_w("c.yaml", "columns:\n  sex: {categories: Male}\n"),
    message="categories",
)
case(
    "declared categories on a number column",
    ["fit", DATA, "--model", "aim", "--metadata", "c.yaml", "-o", "m"],
    setup=_w("c.yaml", "columns:\n  age: {categories: [1, 2]}\n"),
    message="categorical or boolean",
)
case(
    "pii kind unknown",
    ["inspect", DATA, "--metadata", "c.yaml"],
    setup=_w("c.yaml", "columns:\n  age: {sdtype: pii, pii: dna}\n"),
)
case(
    "pii locale malformed",
    ["inspect", DATA, "--metadata", "c.yaml"],
    setup=_w("c.yaml", "columns:\n  age: {sdtype: pii, pii: name, locale: 'x y'}\n"),
)
case(
    "evaluate --privacy without a holdout",
    ["evaluate", DATA, DATA, "--privacy", "-o", "r.html"],
    message="--test",
)
case(
    "evaluate --privacy on images",
    ["evaluate", IMAGES, IMAGES, "--privacy", "-o", "r.html"],
    message="tables",
)
case(
    "condition on an identifier column",
    ["sample", MODEL, "-n", "5", "-o", "x.csv", "--condition", "email=a@b.org"],
)

# pipeline configs
_RUN = ["run", "c.yaml"]
for name, text in [
    ("rows abc", "data: {train: @D@}\noutput: r\nsample: {rows: abc}\n".replace("@D@", DATA)),
    ("rows 0", "data: {train: @D@}\noutput: r\nsample: {rows: 0}\n".replace("@D@", DATA)),
    ("rows float", "data: {train: @D@}\noutput: r\nsample: {rows: 2.5}\n".replace("@D@", DATA)),
    ("seed -1", "data: {train: @D@}\noutput: r\nsample: {seed: -1}\n".replace("@D@", DATA)),
    ("seed 2**32", "data: {train: @D@}\noutput: r\nsample: {seed: 4294967296}\n".replace("@D@", DATA)),
    (
        "model seed 2**32",
        "data: {train: @D@}\noutput: r\nmodel: {name: copula, params: {seed: 4294967296}}\n".replace(
            "@D@", DATA
        ),
    ),
    ("conditions 5", "data: {train: @D@}\noutput: r\nsample: {conditions: 5}\n".replace("@D@", DATA)),
    (
        "condition a list",
        "data: {train: @D@}\noutput: r\nsample: {conditions: {sex: [a, b]}}\n".replace("@D@", DATA),
    ),
    (
        "condition a mapping",
        "data: {train: @D@}\noutput: r\nsample: {conditions: {sex: {a: 1}}}\n".replace("@D@", DATA),
    ),
    ("params 5", "data: {train: @D@}\noutput: r\nmodel: {name: copula, params: 5}\n".replace("@D@", DATA)),
    (
        "params bad value",
        "data: {train: @D@}\noutput: r\nmodel: {name: ctgan, params: {epochs: abc}}\n".replace("@D@", DATA),
    ),
    ("model name list", "data: {train: @D@}\noutput: r\nmodel: {name: [1, 2]}\n".replace("@D@", DATA)),
    ("model unknown", "data: {train: @D@}\noutput: r\nmodel: {name: gpt}\n".replace("@D@", DATA)),
    ("image model", "data: {train: @D@}\noutput: r\nmodel: {name: cgan}\n".replace("@D@", DATA)),
    ("prepare 5", "data: {train: @D@}\noutput: r\nprepare: 5\n".replace("@D@", DATA)),
    (
        "prepare bad strategy",
        "data: {train: @D@}\noutput: r\nprepare: {missing: {strategy: guess}}\n".replace("@D@", DATA),
    ),
    (
        "prepare bad fractions",
        "data: {train: @D@}\noutput: r\nprepare: {split: {fractions: [0.5, x]}}\n".replace("@D@", DATA),
    ),
    (
        "prepare rare 1",
        "data: {train: @D@}\noutput: r\nprepare: {rare: {max_categories: 1}}\n".replace("@D@", DATA),
    ),
    ("unknown section", "data: {train: @D@}\noutput: r\nextra: 1\n".replace("@D@", DATA)),
    ("unknown key", "data: {train: @D@, colour: red}\noutput: r\n".replace("@D@", DATA)),
    ("no data", "output: r\n"),
    ("no output", "data: {train: @D@}\n".replace("@D@", DATA)),
    ("train 5", "data: {train: 5}\noutput: r\n"),
    ("evaluate yes-text", "data: {train: @D@}\noutput: r\nevaluate: sure\n".replace("@D@", DATA)),
    ("force text", "data: {train: @D@}\noutput: r\nforce: yes please\n".replace("@D@", DATA)),
    ("a list", "- data\n- output\n"),
    ("invalid yaml", "data: [unclosed\n"),
    ("python tag", "!!python/object/apply:os.system ['touch PWNED']\n"),
    ("missing train file", "data: {train: nowhere.csv}\noutput: r\n"),
    (
        "filter on a DP model",
        "data: {train: @D@}\noutput: r\nmodel: {name: aim}\nfilter: [near-copies]\n".replace("@D@", DATA),
    ),
    (
        "DP-TVAE without rows",
        "data: {train: @D@}\noutput: r\nmodel: {name: tvae, params: {dp: true}}\n".replace("@D@", DATA),
    ),
]:
    case(f"run config: {name}", _RUN, setup=_yaml(text))
case("run missing config", ["run", "nope.yaml"], message="not found")

# augmentation pipelines
_AUG = ["augment", IMAGES, "--pipeline", "p.yaml", "-o", "o.npz"]
for name, text in [
    ("p 2", "steps: [{op: hflip, p: 2}]"),
    ("p -1", "steps: [{op: hflip, p: -1}]"),
    ("degrees abc", "steps: [{op: rotate, degrees: abc}]"),
    ("mixup lam [0, 5]", "steps: [{op: mixup, lam: [0, 5]}]"),
    ("scale reversed", "steps: [{op: resized_crop, scale: [0.9, 0.5]}]"),
    ("std -1", "steps: [{op: gaussian_noise, std: -1}]"),
    ("unknown op", "steps: [{op: teleport}]"),
    ("op missing", "steps: [{p: 0.5}]"),
    ("steps not a list", "steps: 5"),
    ("no steps", "steps: []"),
    ("grayscale on gray", "steps: [{op: grayscale}]"),
    ("unknown parameter", "steps: [{op: rotate, angle: 3}]"),
]:
    case(f"augment: {name}", _AUG, setup=_w("p.yaml", text))
_TEXT_AUG = ["augment", "sms", "--pipeline", "p.yaml", "-o", "o.jsonl"]
for name, text in [
    ("p 2", "steps: [{op: random_swap, p: 2}]"),
    ("unknown key", "colour: red\nsteps: [{op: random_swap}]"),
    ("lm_rewrite without a model", "steps: [{op: lm_rewrite}]"),
    ("lm_rewrite of a missing model", "steps: [{op: lm_rewrite, model: nowhere}]"),
    ("synonyms thesaurus", "synonyms: thesaurus\nsteps: [{op: random_swap}]"),
]:
    case(f"augment texts: {name}", _TEXT_AUG, setup=_w("p.yaml", text))
case("prepare config 5", ["prepare", DATA, "--config", "c.yaml", "-o", "p"], setup=_yaml("5\n"))
case(
    "prepare config bad key",
    ["prepare", DATA, "--config", "c.yaml", "-o", "p"],
    setup=_yaml("shuffle: true\n"),
)

# model folders (damaged or hostile)
_SAMPLE_M = ["sample", "m", "-n", "5", "-o", "x.csv"]
for name, edit in [
    ("config is a list", _set_json("config.json", [1, 2])),
    ("config not json", lambda m: (m / "config.json").write_text("{nope")),
    ("model name a list", _edit_config(model=["copula"])),
    ("model unknown", _edit_config(model="gpt")),
    ("params 5", _edit_config(params=5)),
    ("params bad value", _edit_config(params={"seed": "abc"})),
    ("params unknown", _edit_config(params={"epochs": 3})),
    ("state {}", _set_json("state.json", {})),
    ("state a list", _set_json("state.json", [])),
    ("state missing", lambda m: (m / "state.json").unlink()),
    ("arrays truncated", _truncate("arrays.npz", 100)),
    ("arrays garbage", lambda m: (m / "arrays.npz").write_bytes(b"garbage")),
    ("metadata garbage", lambda m: (m / "metadata.json").write_text("[]")),
]:
    case(
        f"model folder: {name}",
        _SAMPLE_M,
        setup=_model_copy(edit),
        message="not a valid simulacra model folder",
    )
case("model folder: missing", ["sample", "nowhere", "-n", "5", "-o", "x.csv"], message="model folder")
case("model folder: a file", ["sample", DATA, "-n", "5", "-o", "x.csv"])
_ISAMPLE = ["sample", "m", "-n", "5", "-o", "x.npz"]
for name, edit in [
    ("pickle payload weights", _pickle_bomb),
    ("weights truncated", _truncate("weights.pt", 50)),
    ("weights garbage", lambda m: (m / "weights.pt").write_bytes(b"\x00" * 64)),
    ("image state missing a key", lambda m: _drop_key(m, "image_shape")),
    ("image config missing a key", lambda m: _drop_param(m, "latent_dim")),
]:
    case(
        f"image model folder: {name}",
        _ISAMPLE,
        setup=_image_model_copy(edit),
        message="not a valid simulacra model folder",
    )


def _drop_key(m: Path, key: str) -> None:
    state = json.loads((m / "state.json").read_text())
    state.pop(key, None)
    (m / "state.json").write_text(json.dumps(state))


def _drop_param(m: Path, key: str) -> None:
    cfg = json.loads((m / "config.json").read_text())
    cfg["params"][key] = None
    (m / "config.json").write_text(json.dumps(cfg))


def _hostile_checkpoint(d: Path, s: Path) -> None:
    import pickle

    (d / "m.checkpoint").mkdir()
    (d / "m.checkpoint" / "checkpoint.pt").write_bytes(pickle.dumps(_Payload()))


case(
    "hostile checkpoint with --resume",
    ["fit", DATA, "--model", "tvae", "--param", "epochs=1", "--resume", "-o", "m"],
    setup=_hostile_checkpoint,
    message="not a readable simulacra checkpoint",
)

# tables
case("table missing", ["fit", "nowhere.csv", "-o", "m"], message="not found")
case("table is a folder", ["fit", ".", "-o", "m"])
case("table unknown suffix", ["fit", "t.weird", "-o", "m"], setup=_w("t.weird", "a\n1\n"))
case("table empty", ["fit", "t.csv", "-o", "m"], setup=_w("t.csv", ""))
case("table header only", ["fit", "t.csv", "-o", "m"], setup=_w("t.csv", "a,b\n"))
case("table malformed rows", ["fit", "t.csv", "-o", "m"], setup=_w("t.csv", "a,b\n1,2\n3\n4,5,6\n"))
case("table duplicate names", ["fit", "t.csv", "-o", "m"], setup=_w("t.csv", "a,a\n1,2\n"))
case(
    "corrupt csv.gz",
    ["fit", "t.csv.gz", "-o", "m"],
    setup=_w("t.csv.gz", b"\x1f\x8b\x08\x00garbage-not-deflate"),
)
case(
    "truncated csv.gz",
    ["fit", "t.csv.gz", "-o", "m"],
    setup=_w("t.csv.gz", gzip.compress(b"a,b\n" * 5000)[:60]),
)
case("not gzip at all", ["fit", "t.csv.gz", "-o", "m"], setup=_w("t.csv.gz", b"plain text, not gzip"))
case("garbage parquet", ["fit", "t.parquet", "-o", "m"], setup=_w("t.parquet", b"PAR1garbage"))
case("garbage xlsx", ["fit", "t.xlsx", "-o", "m"], setup=_w("t.xlsx", b"PK\x03\x04garbage"))
case("garbage jsonl", ["fit", "t.jsonl", "-o", "m"], setup=_w("t.jsonl", "{nope\n"))
case("json not records", ["fit", "t.json", "-o", "m"], setup=_w("t.json", "5"))
case(
    "+inf in a numeric column",
    ["fit", "t.csv", "-o", "m"],
    setup=_table("t.csv", pd.DataFrame({"x": [1.0, 2.0, np.inf] * 10, "y": ["a", "b", "c"] * 10})),
    message="infinite",
)
case(
    "-inf in a numeric column",
    ["fit", "t.csv", "-o", "m"],
    setup=_table("t.csv", pd.DataFrame({"x": [1.0, -np.inf, 3.0] * 10, "y": ["a", "b", "c"] * 10})),
    message="infinite",
)
case(
    "override text column to numerical",
    ["fit", DATA, "--metadata", "o.yaml", "-o", "m"],
    setup=_w("o.yaml", "columns: {workclass: {sdtype: numerical}}\n"),
    message="not numbers",
)
case(
    "override text column to datetime",
    ["fit", DATA, "--metadata", "o.yaml", "-o", "m"],
    setup=_w("o.yaml", "columns: {race: {sdtype: datetime}}\n"),
    message="not dates",
)
case(
    "override unknown column",
    ["fit", DATA, "--metadata", "o.yaml", "-o", "m"],
    setup=_w("o.yaml", "columns: {zz: {sdtype: id}}\n"),
)
case(
    "override bad sdtype",
    ["fit", DATA, "--metadata", "o.yaml", "-o", "m"],
    setup=_w("o.yaml", "columns: {age: {sdtype: colour}}\n"),
)
case("override not a mapping", ["fit", DATA, "--metadata", "o.yaml", "-o", "m"], setup=_w("o.yaml", "- 1\n"))
case("override file missing", ["fit", DATA, "--metadata", "o.yaml", "-o", "m"])
case(
    "inspect override to numerical",
    ["inspect", DATA, "--metadata", "o.yaml"],
    setup=_w("o.yaml", "columns: {sex: {sdtype: numerical}}\n"),
)
case("prepare one-row table", ["prepare", "t.csv", "-o", "p"], setup=_w("t.csv", "a,b\n1,x\n"))
case(
    "prepare stratified on a numeric column",
    ["prepare", DATA, "--split", "stratified", "--split-column", "fnlwgt", "-o", "p"],
)
case("prepare stratified without column", ["prepare", DATA, "--split", "stratified", "-o", "p"])
case("prepare unknown split", ["prepare", DATA, "--split", "diagonal", "-o", "p"])
case(
    "evaluate a 2-row synthetic table",
    ["evaluate", DATA, "s.csv", "-o", "r.html"],
    setup=lambda d, s: pd.read_csv(s / "data.csv").head(2).to_csv(d / "s.csv", index=False),
    message="at least",
)
case(
    "evaluate other columns",
    ["evaluate", DATA, "s.csv", "-o", "r.html"],
    setup=_w("s.csv", "x,y\n" + "1,2\n" * 30),
)
case(
    "evaluate unknown target",
    ["evaluate", DATA, DATA, "--target", "salary", "-o", "r.html"],
    message="salary",
)
case("evaluate table vs images", ["evaluate", DATA, IMAGES, "-o", "r.html"])
case("fit image model on a table", ["fit", DATA, "--model", "cgan", "-o", "m"])
case("fit table model on images", ["fit", IMAGES, "--model", "copula", "-o", "m"])

# SQL
case("sql missing database", ["inspect", "sqlite:///nowhere.db?table=t"], message="not found")
case(
    "sql driver variant: a missing database is not created",
    ["inspect", "sqlite+pysqlite:///nowhere.db?table=t"],
    message="not found",
)
case(
    "sql driver variant: PRAGMA cannot switch the journal",
    ["inspect", "sqlite+pysqlite:///db.sqlite?query=PRAGMA journal_mode=WAL"],
    setup=_sqlite,
    message="readonly",
)
case(
    "sql password with an @",
    ["inspect", "postgresql+psycopg://bob:p@ssS3cret@127.0.0.1:1/db?table=t"],
    message="%40",
)
_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
case("metadata alias bomb", ["inspect", DATA, "--metadata", "bomb.yaml"], setup=_w("bomb.yaml", _BOMB))
case(
    "csv 70,000 separators in the first row",
    ["inspect", "wide.csv"],
    setup=_w("wide.csv", "a" + ";" * 70_000 + "\n1" + ";" * 70_000 + "\n"),
    message="columns",
)
case("sql no table", ["inspect", "sqlite:///db.sqlite?table=nope"], setup=_sqlite, message="no table")
case("sql table and query", ["inspect", "sqlite:///db.sqlite?table=t&query=select 1"], setup=_sqlite)
case("sql neither table nor query", ["inspect", "sqlite:///db.sqlite"], setup=_sqlite)
case("sql bad dialect", ["inspect", "nosuchdb://x/y?table=t"])
case(
    "sql ATTACH creates nothing",
    ["inspect", "sqlite:///db.sqlite?query=ATTACH DATABASE 'evil.db' AS e"],
    setup=_sqlite,
)
case("sql DROP refused", ["inspect", "sqlite:///db.sqlite?query=DROP TABLE t"], setup=_sqlite)
case("sql INSERT refused", ["inspect", "sqlite:///db.sqlite?query=INSERT INTO t VALUES (9)"], setup=_sqlite)
case("sql two statements", ["inspect", "sqlite:///db.sqlite?query=SELECT 1; DROP TABLE t"], setup=_sqlite)
case(
    "sample to in-memory sqlite", ["sample", MODEL, "-n", "5", "-o", "sqlite://?table=t"], message="in-memory"
)
case(
    "sample to :memory:",
    ["sample", MODEL, "-n", "5", "-o", "sqlite:///:memory:?table=t"],
    message="in-memory",
)
case(
    "sample to an existing table",
    ["sample", MODEL, "-n", "5", "-o", "sqlite:///db.sqlite?table=t"],
    setup=_sqlite,
    message="already exists",
)

# images
case("truncated PNG", ["fit", "imgs", "--model", "dcgan", "-o", "m"], setup=_folder_with(_real_png()[:40]))
case("not a PNG", ["fit", "imgs", "--model", "dcgan", "-o", "m"], setup=_folder_with(b"hello"))
case(
    "15000x15000 PNG",
    ["fit", "imgs", "--model", "dcgan", "-o", "m"],
    setup=_folder_with(_png(15000, 15000)),
    message="pixel",
)
case(  # images of two sizes are resized by a recorded rule (tests/test_images.py); loose ones are refused
    "pictures beside class folders",
    ["fit", "imgs", "--model", "dcgan", "-o", "m"],
    setup=_folder_with(_real_png(), name="../../imgs/stray.png"),
    message="beside 1 class folders",
)
case(
    "folder without class folders",
    ["fit", "imgs", "--model", "dcgan", "-o", "m"],
    setup=_w("imgs/a.txt", "x"),
)
_LABELS = np.zeros(10, np.int64)
_IMGS = np.zeros((10, 1, 28, 28), np.uint8)
for name, arrays in [
    ("negative labels", {"images": _IMGS, "labels": np.full(10, -1)}),
    ("fractional labels", {"images": _IMGS, "labels": np.full(10, 3.7)}),
    (
        "label beyond class names",
        {"images": _IMGS, "labels": np.full(10, 50), "class_names": np.array([str(i) for i in range(10)])},
    ),
    ("huge label", {"images": _IMGS, "labels": np.full(10, 10**12)}),
    ("labels of another length", {"images": _IMGS, "labels": np.zeros(3, np.int64)}),
    ("float images", {"images": _IMGS.astype(np.float32), "labels": _LABELS}),
    ("3-d images", {"images": _IMGS[:, 0], "labels": _LABELS}),
    ("no images key", {"pixels": _IMGS}),
    ("object array", {"images": np.array([{"a": 1}] * 10, dtype=object)}),
]:
    case(f"npz: {name}", ["fit", "i.npz", "--model", "cgan", "-o", "m"], setup=_npz("i.npz", **arrays))
case(
    "npz truncated", ["fit", "i.npz", "--model", "cgan", "-o", "m"], setup=_w("i.npz", b"PK\x03\x04\x14\x00")
)
case(
    "idx bad magic",
    ["fit", "t-idx3-ubyte", "--model", "dcgan", "-o", "m"],
    setup=_w("t-idx3-ubyte", b"\x01\x02\x03\x04"),
)
case(
    "idx truncated",
    ["fit", "t-idx3-ubyte", "--model", "dcgan", "-o", "m"],
    setup=_w("t-idx3-ubyte", b"\x00\x00\x08\x03\x00\x00\x00\x0a\x00\x00\x00\x1c\x00\x00\x00\x1c\x00"),
)
case(
    "unconditional model given a label",
    ["sample", f"{S}/imodel", "-n", "5", "-o", "x.npz", "--condition", "label=3"],
)
case("image sample to csv", ["sample", f"{S}/imodel", "-n", "5", "-o", "x.csv"])

# outputs
case(
    "fit -o the data folder --force",
    ["fit", "data/t.csv", "-o", "data", "--force"],
    setup=_table("data/t.csv", pd.DataFrame({"a": range(30), "b": list("xyz") * 10})),
    message="which this command reads",  # refused as the input's folder, before ownership is asked
)
case(
    "fit -o another user folder --force",
    ["fit", DATA, "-o", "data", "--force"],
    setup=_table("data/t.csv", pd.DataFrame({"a": range(30), "b": list("xyz") * 10})),
    message="not written by simulacra",
)
case("fit -o an existing file", ["fit", DATA, "-o", "f"], setup=_w("f", "mine"), message="is a file")
case("fit -o an existing file --force", ["fit", DATA, "-o", "f", "--force"], setup=_w("f", "mine"))
case(
    "sample -o existing",
    ["sample", MODEL, "-n", "5", "-o", "x.csv"],
    setup=_w("x.csv", "mine"),
    message="already exists",
)
case("sample -o /proc", ["sample", MODEL, "-n", "5", "-o", "/proc/x.csv"])
case("sample -o under a file", ["sample", MODEL, "-n", "5", "-o", "f.csv/x.csv"], setup=_w("f.csv", "mine"))
case(
    "sample -o a folder named .csv",
    ["sample", MODEL, "-n", "5", "-o", "dir.csv"],
    setup=_w("dir.csv/keep", "mine"),
    message="is a folder",
)
case(
    "sample -o a folder named .csv --force",
    ["sample", MODEL, "-n", "5", "-o", "dir.csv", "--force"],
    setup=_w("dir.csv/keep", "mine"),
)
case("xlsx beyond its row limit", ["sample", MODEL, "-n", "1100000", "-o", "x.xlsx"], message="Excel")
case("xlsx.gz", ["sample", MODEL, "-n", "5", "-o", "x.xlsx.gz"])
case("xls", ["sample", MODEL, "-n", "5", "-o", "x.xls"], message=".xlsx")
case("parquet.gz", ["sample", MODEL, "-n", "5", "-o", "x.parquet.gz"])
case("unknown output format", ["sample", MODEL, "-n", "5", "-o", "x.xyz"])
case(
    "augment -o out.xyz",
    ["augment", IMAGES, "--pipeline", "p.yaml", "-o", "out.xyz"],
    setup=_w("p.yaml", "steps: [{op: hflip}]"),
)
case(
    "augment -o an existing folder --force",
    ["augment", IMAGES, "--pipeline", "p.yaml", "-o", "o", "--force"],
    setup=lambda d, s: (_w("p.yaml", "steps: [{op: hflip}]")(d, s), _w("o/keep", "mine")(d, s)),
)
case(
    "prepare -o a user's folder --force", ["prepare", DATA, "-o", "o", "--force"], setup=_w("o/keep", "mine")
)
case("inspect -o existing", ["inspect", DATA, "-o", "meta.json"], setup=_w("meta.json", "{}"))
case("evaluate -o existing", ["evaluate", DATA, DATA, "-o", "r.html"], setup=_w("r.html", "mine"))
case(
    "output locked by a live process",
    ["sample", MODEL, "-n", "5", "-o", "out.csv"],
    setup=_lock_held,
    message="another simulacra process",
)
case("bench -o existing table", ["bench", "--models", "copula", "-o", "b"], setup=_w("b/bench.md", "mine"))

# valid inputs: exit 0, only the output appears
case("valid: sample csv", ["sample", MODEL, "-n", "20", "-o", "x.csv"], code=0, output=("x.csv",))
case("valid: sample csv.gz", ["sample", MODEL, "-n", "20", "-o", "x.csv.gz"], code=0, output=("x.csv.gz",))
case(
    "valid: sample to sqlite file",
    ["sample", MODEL, "-n", "20", "-o", "sqlite:///o.db?table=t"],
    code=0,
    output=("o.db",),
)
case(
    "valid: inspect sqlite query",
    ["inspect", "sqlite:///db.sqlite?query=SELECT * FROM t"],
    setup=_sqlite,
    code=0,
)
case("valid: bare simulacra shows help", [], code=0)
case("valid: --help", ["--help"], code=0)
case("valid: datasets", ["datasets"], code=0)
case(
    "valid: lock left by a dead process is taken over",
    ["sample", MODEL, "-n", "5", "-o", "out.csv"],
    setup=_w(".out.csv.simulacra-lock", "999999999\n"),
    code=0,
    output=("out.csv", ".out.csv.simulacra-lock"),
)


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    s = tmp_path_factory.mktemp("shared")
    train, _ = load("adult")
    small = train.sample(300, random_state=0).reset_index(drop=True)
    write_table(small, s / "data.csv")
    make("copula").fit(small).save(s / "model")
    mnist, _ = load("mnist")
    images = mnist.subset(np.arange(64))
    images.to_npz(s / "images.npz")
    make("dcgan", epochs=0, verbose=False).fit(images).save(s / "imodel")
    return s


#: the cases that also run as real subprocesses: Click's usage errors, a bad value of each command, a
#: lock another process holds, payloads in YAML and in a model folder, damaged inputs of each kind
PROCESS = {
    "unknown option",
    "unknown command",
    "fit without -o",
    "sample -n abc",
    "sample -n 2e9 too big for the disk",
    "sample condition in brackets",
    "fit unknown model",
    "bench unknown model",
    "mix without test rows",
    "tune --trials 0",
    "augment --copies 0",
    "prepare --seed -3",
    "evaluate --seed 2**70",
    "run config: python tag",
    "run missing config",
    "valid: an output named like markup",
    "inspect -o its own input --force",
    "image model folder: pickle payload weights",
    "hostile checkpoint with --resume",
    "output locked by a live process",
}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def _case_folder(case: Case, shared: Path, root: Path) -> tuple[Path, list[str], dict]:
    d = root / f"case{CASES.index(case):03d}"
    d.mkdir()
    if case.setup:
        case.setup(d, shared)
    return d, [a.replace("{s}", str(shared)) for a in case.argv], _fingerprint(d)


def _run(case: Case, shared: Path, root: Path) -> tuple[Case, Outcome, dict, dict]:
    """One case as a ``python -m simulacra.cli`` subprocess in its own folder."""
    d, argv, before = _case_folder(case, shared, root)
    env = dict(os.environ, COLUMNS="300", OMP_NUM_THREADS="1", SIMULACRA_CACHE_DIR=str(root / "cache"))
    env.pop("SIMULACRA_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "simulacra.cli", *argv],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return case, Outcome(proc.returncode, proc.stdout, proc.stderr), before, _fingerprint(d)


def _run_in_process(case: Case, shared: Path, root: Path, capsys) -> tuple[Case, Outcome, dict, dict]:
    """One case through :func:`simulacra.cli.main` with its own folder as the working folder; an
    exception escaping ``main`` is recorded as the traceback a user would see."""
    import traceback

    from simulacra.cli import main

    d, argv, before = _case_folder(case, shared, root)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        code = main(argv)
        escaped = ""
    except BaseException:  # a case must never let anything out of main
        code, escaped = -1, traceback.format_exc()
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return case, Outcome(code, out.out, out.err + escaped), before, _fingerprint(d)


def test_at_least_150_hostile_inputs():
    assert sum(c.code == 2 for c in CASES) >= 150, sum(c.code == 2 for c in CASES)
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names) and PROCESS <= set(names), PROCESS - set(names)


def test_every_hostile_input_gets_one_line_and_changes_nothing(shared, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("SIMULACRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SIMULACRA_DEBUG", raising=False)
    shared_before = _fingerprint(shared)
    results = [_run_in_process(c, shared, tmp_path, capsys) for c in CASES if c.name not in PROCESS]
    with ThreadPoolExecutor(2) as pool:
        results += list(
            pool.map(lambda c: _run(c, shared, tmp_path), [c for c in CASES if c.name in PROCESS])
        )
    failures = []
    for case, proc, before, after in results:
        out = proc.stdout + proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        problems = []
        if proc.returncode != case.code:
            problems.append(f"exit {proc.returncode}, expected {case.code}")
        if "Traceback" in out:
            problems.append("traceback")
        if "weights_only=False" in out:
            problems.append("torch's unsafe-load advice")
        if case.code == 2 and len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        if case.message and not any(case.message in e for e in errors):
            problems.append(f"no {case.message!r} in the error")
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        changed = {k for k in changed if not k.startswith(case.output)} if case.output else changed
        if changed:
            problems.append(f"changed {sorted(changed)[:5]}")
        if (tmp_path / f"case{CASES.index(case):03d}" / "PWNED").exists():
            problems.append("a payload ran")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)} :: {proc.stderr.strip()[-300:]}")
    assert _fingerprint(shared) == shared_before, "a shared input was changed"
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- decisions that are not errors
def test_outputs_follow_the_umask_and_force_replaces_only_simulacra_folders(shared, tmp_path):
    from simulacra.cli import main

    old = os.umask(0o022)
    try:
        assert main(["sample", str(shared / "model"), "-n", "5", "-o", str(tmp_path / "x.csv")]) == 0
        assert main(["fit", str(shared / "data.csv"), "-o", str(tmp_path / "m")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o644  # not the 0600 of a temporary file
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "m" / "config.json").stat().st_mode & 0o777 == 0o644
    assert main(["fit", str(shared / "data.csv"), "-o", str(tmp_path / "m"), "--force"]) == 0  # simulacra's


def test_stale_temporaries_of_dead_processes_are_removed(shared, tmp_path):
    from simulacra.cli import main

    stale = tmp_path / ".x.csv.999999999.abc.tmp.csv"  # a writer killed with -9 left it
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".x.csv.{os.getpid()}.abc.tmp.csv"  # a live writer's is kept
    live.write_bytes(b"y")
    assert main(["sample", str(shared / "model"), "-n", "5", "-o", str(tmp_path / "x.csv")]) == 0
    assert not stale.exists() and live.exists()


def test_spreadsheet_output_escapes_formulas(tmp_path):
    from openpyxl import load_workbook

    from simulacra.io import read_table

    df = pd.DataFrame({"name": ['=HYPERLINK("http://evil","x")', "+1", "plain", "-x"], "n": [1, -2, 3, 4]})
    write_table(df, tmp_path / "o.xlsx")
    sheet = load_workbook(tmp_path / "o.xlsx").active
    values = [sheet.cell(row=i, column=1).value for i in range(2, 6)]
    assert values == ['\'=HYPERLINK("http://evil","x")', "'+1", "plain", "'-x"]
    assert sheet.cell(row=3, column=2).value == -2  # numbers untouched
    assert sheet.cell(row=2, column=1).data_type == "s"  # text, not a formula
    assert read_table(tmp_path / "o.xlsx")["n"].tolist() == [1, -2, 3, 4]


def test_a_second_writer_of_one_output_is_refused_before_training(shared, tmp_path, capsys):
    from simulacra.cli import main
    from simulacra.io import output_lock

    with output_lock(tmp_path / "m"):  # another fit holds it
        assert main(["fit", str(shared / "data.csv"), "-o", str(tmp_path / "m")]) == 2
    assert "another simulacra process" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no temporary, no lock


def test_wide_categorical_warns_with_the_fix(tmp_path, capsys):
    from simulacra.cli import main

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"code": [f"c{i}" for i in rng.integers(0, 5000, 6000)], "x": rng.normal(size=6000)})
    df.to_csv(tmp_path / "wide.csv", index=False)
    argv = [
        "fit",
        str(tmp_path / "wide.csv"),
        "--model",
        "tvae",
        "--param",
        "epochs=0",
        "-o",
        str(tmp_path / "m"),
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "'code'" in err and "max_categories" in err


def test_every_model_declares_each_parameter_once_and_the_rest_follows():
    import sklearn.base

    from simulacra.synthesizers import available, model_class
    from simulacra.validation import check_params

    for name in available():
        cls = model_class(name)
        hypers = cls.hyper_parameters  # the one declaration: constructor, constraints, space, docs follow
        assert cls.param_names() == list(hypers), name
        assert cls._parameter_constraints == {k: h.check for k, h in hypers.items()}, name
        assert cls.search_space == {k: h.space for k, h in hypers.items() if h.space is not None}, name
        for key, h in hypers.items():
            assert f"    {key} : {h.check.allowed}, default {h.default!r}\n        {h.doc}" in cls.__doc__, (
                key
            )
        defaults = {
            k: h.default for k, h in hypers.items() if (name, k) != ("hf-causal-lm", "model")
        }  # required
        assert check_params(name, cls._parameter_constraints, defaults) == defaults, name
        given = {
            "seed": 7,
            **({"model": "some/model"} if name == "hf-causal-lm" else {}),
        }  # it has no default
        clone = sklearn.base.clone(make(name, **given))  # scikit-learn's clone works on every synthesizer
        shown = ", ".join(f"{k}={given[k]!r}" for k in cls.param_names() if k in given)
        assert clone.get_params()["seed"] == 7 and repr(clone) == f"{cls.__name__}({shown})"


def test_a_hyper_parameter_is_keyword_only_its_default_fresh_and_a_second_init_refused():
    from simulacra.synthesizers import model_class
    from simulacra.synthesizers.copula import GaussianCopula
    from simulacra.synthesizers.hyper import Hyper
    from simulacra.validation import Integer, Widths

    tvae = model_class("tvae")
    with pytest.raises(TypeError, match="positional"):
        tvae(5)
    with pytest.raises(TypeError, match="'epoch'"):
        tvae(epoch=5)  # a misspelt name is refused, as by a written constructor
    assert tvae(epochs=5).epochs == 5 and tvae().epochs == 300

    class Widened(GaussianCopula):
        """A copula with two more parameters."""

        widths = Hyper([8, 8], Widths(), "hidden widths")
        depth = Hyper(2, Integer(ge=1, le=9), "layers", space="1:4")

    a, b = Widened(), Widened()
    a.widths.append(16)
    assert b.widths == [8, 8]  # a mutable default is copied per model, never shared

    class Deeper(Widened):
        """Deeper by default."""

        depth = Widened.depth.but(default=3)  # redeclared: the new default, the old place, range and words

    assert Deeper.param_names()[-2:] == ["widths", "depth"] and Deeper().depth == 3
    assert Deeper.search_space["depth"] == "1:4" and "default 3\n        layers" in Deeper.__doc__

    with pytest.raises(TypeError, match="drop its __init__"):

        class Both(GaussianCopula):
            size = Hyper(1, Integer(ge=1, le=9), "size")

            def __init__(self, size: int = 1) -> None:
                self.size = size
