"""The CLI end to end on real Adult rows, and its behaviour on bad input (one line, exit 2, no output)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simulacra.cli import main
from simulacra.io import read_table, write_table


@pytest.fixture(scope="module")
def files(tmp_path_factory, adult_small):
    d = tmp_path_factory.mktemp("cli")
    write_table(adult_small[0], d / "train.csv")
    write_table(adult_small[1], d / "test.csv")
    return d


def test_fit_sample_evaluate(files, capsys):
    model = files / "model"
    assert (
        main(["fit", str(files / "train.csv"), "--model", "copula", "--param", "seed=3", "-o", str(model)])
        == 0
    )
    assert json.loads((model / "config.json").read_text())["params"]["seed"] == 3
    out = files / "synth.parquet"
    assert (
        main(["sample", str(model), "-n", "700", "-o", str(out), "--condition", "income=>50K", "--seed", "1"])
        == 0
    )
    synth = read_table(out)
    assert len(synth) == 700 and (synth["income"] == ">50K").all()
    db = f"sqlite:///{files / 'out.db'}?table=synthetic"
    assert main(["sample", str(model), "-n", "50", "-o", db, "--condition", "age=30"]) == 0
    assert (read_table(db)["age"] == 30).all()
    plain = files / "plain.csv"
    assert main(["sample", str(model), "-n", "2000", "-o", str(plain)]) == 0
    report = files / "report.html"
    code = main(
        [
            "evaluate",
            str(files / "train.csv"),
            str(plain),
            "--test",
            str(files / "test.csv"),
            "--target",
            "income",
            "-o",
            str(report),
        ]
    )
    assert code == 0 and report.exists()
    metrics = json.loads((files / "report.json").read_text())
    assert metrics["metrics"]["utility"]["tstr_roc_auc"] > 0.75
    assert "tstr_roc_auc" in capsys.readouterr().out


def test_inspect_shows_rules(files, capsys):
    assert main(["inspect", str(files / "train.csv"), "-o", str(files / "meta.json")]) == 0
    out = capsys.readouterr().out
    assert "numeric dtype" in out and "categorical" in out
    assert "suggested model: mixture — " in out  # Adult: mostly categorical
    assert json.loads((files / "meta.json").read_text())["columns"]["age"]["sdtype"] == "numerical"


def test_run_config(files, tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    run_dir = tmp_path / "run"
    cfg.write_text(
        f"data:\n  train: {files / 'train.csv'}\n  test: {files / 'test.csv'}\n  target: income\n"
        f"sample:\n  rows: 1000\n  seed: 2\noutput: {run_dir}\n"
    )
    assert main(["run", str(cfg)]) == 0
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [
        ".simulacra",
        "metadata.json",
        "metrics.json",
        "model",
        "report.html",
        "run.log",
        "synthetic.parquet",
    ]
    assert len(pd.read_parquet(run_dir / "synthetic.parquet")) == 1000
    assert "sample: 1000 synthetic rows" in (run_dir / "run.log").read_text()
    assert main(["run", str(cfg)]) == 2  # exists: refused, untouched
    assert "pass --force" in capsys.readouterr().err
    assert main(["run", str(cfg), "--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.yaml"]  # no temporary folders left


def test_run_config_with_a_neural_model_logs_its_epochs(files, tmp_path):
    cfg = tmp_path / "run.yaml"
    run_dir = tmp_path / "run"
    cfg.write_text(
        f"data:\n  train: {files / 'train.csv'}\n  test: {files / 'test.csv'}\n  target: income\n"
        "model:\n  name: ctgan\n  params: {epochs: 10, batch_size: 200}\n"
        f"sample:\n  rows: 500\n  conditions: {{income: '>50K'}}\noutput: {run_dir}\n"
    )
    assert main(["run", str(cfg)]) == 0
    log = (run_dir / "run.log").read_text()
    assert "fit: epoch 10/10 loss_g" in log and "fit: epoch 5/10" not in log  # every 10th epoch
    synth = pd.read_parquet(run_dir / "synthetic.parquet")
    assert len(synth) == 500 and (synth["income"] == ">50K").all()
    assert json.loads((run_dir / "model" / "config.json").read_text())["params"]["verbose"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{d}/nope.csv", "-o", "{d}/m1"], "nope.csv: file not found"),
        (["fit", "{d}/train.csv", "--model", "gpt", "-o", "{d}/m2"], "unknown model 'gpt'"),
        (
            ["sample", "{d}/model", "-n", "5", "-o", "{d}/x.csv", "--condition", "colour=red"],
            "unknown column 'colour'",
        ),
        (
            ["sample", "{d}/model", "-n", "5", "-o", "{d}/x.csv", "--condition", "race=Martian"],
            "never takes the value",
        ),
        (["sample", "{d}/model", "-n", "5", "-o", "{d}/x.weird"], "unknown file format"),
        (["sample", "{d}/model", "-n", "5", "-o", "{d}/synth.parquet"], "already exists"),
        (
            ["evaluate", "{d}/train.csv", "{d}/plain.csv", "--target", "salary", "-o", "{d}/r2.html"],
            "unknown target column 'salary'",
        ),
        (["inspect", "sqlite:///{d}/no/such.db?table=t"], "not found"),
    ],
)
def test_bad_input_one_line_exit_2(files, capsys, args, message):
    if not (files / "model").exists():
        main(["fit", str(files / "train.csv"), "-o", str(files / "model")])
        main(["sample", str(files / "model"), "-n", "100", "-o", str(files / "synth.parquet")])
        main(["sample", str(files / "model"), "-n", "100", "-o", str(files / "plain.csv")])
    before = sorted(p.name for p in files.iterdir())
    capsys.readouterr()
    assert main([a.format(d=files) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("error:") and "Traceback" not in err
    assert sorted(p.name for p in files.iterdir()) == before  # nothing partial left behind


def test_real_process_exit_code_and_no_traceback(tmp_path):
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulacra.cli",
            "fit",
            str(tmp_path / "missing.csv"),
            "-o",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_help_has_examples(capsys):
    for command in ("demo", "inspect", "fit", "sample", "evaluate", "run"):
        assert main([command, "--help"]) == 0
        assert "Example" in capsys.readouterr().out


def test_neural_fit_with_params_then_conditional_sample(files, tmp_path):
    model = tmp_path / "tvae"
    args = ["fit", str(files / "train.csv"), "--model", "tvae", "-o", str(model)]
    assert main([*args, "--param", "epochs=3", "--param", "batch_size=250", "--param", "verbose=false"]) == 0
    config = json.loads((model / "config.json").read_text())
    assert config["params"]["epochs"] == 3 and config["params"]["batch_size"] == 250
    assert not model.with_name("tvae.checkpoint").exists()  # checkpoints go once the model is saved
    out = tmp_path / "s.csv"
    assert main(["sample", str(model), "-n", "300", "-o", str(out), "--condition", "sex=Female"]) == 0
    assert (read_table(out)["sex"] == "Female").all()
    assert main([*args, "--param", "epochs=3", "--param", "nonsense=1", "--force"]) == 2


@pytest.mark.slow
def test_bench_writes_the_table(files, tmp_path, capsys):
    import torch

    out = tmp_path / "bench"
    argv = ["bench", "--models", "copula,tvae", "--data", str(files / "train.csv")]
    argv += ["--test", str(files / "test.csv"), "--target", "income", "--rows", "5000"]
    argv += ["--param", "tvae.epochs=2", "--param", "verbose=false", "--temperatures", "0.5,1,1.5"]
    argv += ["-o", str(out)]
    assert main(argv) == 0
    written = json.loads((out / "bench.json").read_text())
    results = written["results"]
    assert [r["model"] for r in results] == ["copula", "tvae"]
    # which install measured it: every required distribution's version, torch's the one running
    versions = written["info"]["versions"]
    assert versions["torch"] == torch.__version__ and {"numpy", "scipy", "soundfile"} <= set(versions)
    for r in results:
        assert r["fit_s"] > 0 and r["sample_rows_per_s"] > 0 and r["peak_rss_mb"] > 50
        assert 0 <= r["column_shapes"] <= 1 and 0.5 <= r["trtr_roc_auc"] <= 1
    assert results[1]["epochs"] == 2
    table, tradeoff = (out / "bench.md").read_text().split("\n\n", 1)
    assert table.count("\n") == 5 and "| tvae |" in table  # head, rule, 2 models, 2 references
    # the sampling temperature: a colder copula stays closer to the real rows, a warmer one spreads
    points = {p["temperature"]: p for p in results[0]["tradeoff"]}
    assert list(points) == [0.5, 1.0, 1.5] and len(results[1]["tradeoff"]) == 3
    assert points[0.5]["precision"] > points[1.0]["precision"] > points[1.5]["precision"]
    assert points[0.5]["recall"] < points[1.5]["recall"]
    assert "| copula | 0.5 |" in tradeoff and (out / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"
    assert "detection (XGB)" in table and "TSTR R²" not in table  # a column no row has is left out
    refs = results[0]["references"]
    assert refs["real holdout"]["detection_xgb"] > 0.7  # the ceiling: real rows scored as synthetic
    assert refs["independent marginals"]["detection_xgb"] < 0.3  # the floor
    # the privacy attacks, on by default: every model and reference row has them, as AUCs and risks
    for row in [*results, *refs.values()]:
        assert 0 <= row["membership_auc"] <= 1 and 0 <= row["singling_out_risk"] <= 1
    assert "MIA AUC" in table
    assert main(argv) == 2  # never overwrites without --force
    assert "already exists" in capsys.readouterr().err
    assert main(["bench", "--models", "copula", "--param", "epochs=3"]) == 2  # no model takes it


def test_bench_repeats_report_mean_and_spread_over_seeds(files, tmp_path):
    """The arithmetic of --repeats, checked directly on three in-process runs of the copula (seeds 5, 6,
    7) instead of through spawned bench processes; each run sweeps the temperatures too."""
    from simulacra.bench import aggregate, bench_one, markdown, write_results

    data, test = str(files / "train.csv"), str(files / "test.csv")
    runs = [
        bench_one(
            "copula", {"seed": 5 + i}, data, test, "income", 2000, i, temperatures=[0.5, 1.0], privacy=False
        )
        for i in range(3)
    ]
    result = aggregate(runs)
    assert result["seeds"] == [5, 6, 7] and [r["params"]["seed"] for r in result["runs"]] == [5, 6, 7]
    tstr = [r["tstr_roc_auc"] for r in runs]
    assert len(set(tstr)) == 3  # each seed is its own draw
    assert result["tstr_roc_auc"] == pytest.approx(np.mean(tstr))
    assert result["tstr_roc_auc_sd"] == pytest.approx(np.std(tstr, ddof=1))
    assert "trtr_roc_auc_sd" not in result  # the real-data baseline does not depend on the model's seed
    row = markdown([result]).splitlines()[2]
    assert f"{np.mean(tstr):.3f} ± {np.std(tstr, ddof=1):.3f}" in row
    # the sweep: each temperature's point is the mean ± sd of the three runs' points at it
    cold = [r["tradeoff"][0]["precision"] for r in runs]
    assert [p["temperature"] for p in result["tradeoff"]] == [0.5, 1.0] and len(set(cold)) == 3
    assert result["tradeoff"][0]["precision"] == pytest.approx(np.mean(cold))
    write_results([result], tmp_path, {}, force=False)
    sweep = (tmp_path / "bench.md").read_text().split("\n\n", 1)[1]
    assert "(mean ± sd of the runs)" in sweep
    assert f"| copula | 0.5 | {np.mean(cold):.3f} ± {np.std(cold, ddof=1):.3f} |" in sweep


def test_bench_repeats_average_reference_rows_every_run_scored():
    """Audio and image runs each score the reference rows with their own seeded metrics model, so
    after --repeats those rows are the mean ± sd of the runs, as the model's row is (here the three
    stored FSDD runs of specvae); a reference row only the first run computed is kept as it is."""
    from pathlib import Path

    from simulacra.bench import aggregate, markdown

    stored = Path(__file__).parents[1] / "benchmarks/results/fsdd-shared-specvae-tau085-3seeds/bench.json"
    runs = json.loads(stored.read_text())["results"][0]["runs"]
    noise = [r["references"]["noise"]["fad"] for r in runs]
    assert len(set(noise)) == 3  # each run's classifier is its own yardstick
    result = aggregate(runs)
    assert result["references"]["noise"]["fad"] == pytest.approx(np.mean(noise))
    assert result["references"]["noise"]["fad_sd"] == pytest.approx(np.std(noise, ddof=1))
    row = next(line for line in markdown([result]).splitlines() if line.startswith("| reference: noise"))
    assert f"{np.mean(noise):.2f} ± {np.std(noise, ddof=1):.2f}" in row
    once = [runs[0], *({k: v for k, v in r.items() if k != "references"} for r in runs[1:])]
    assert aggregate(once)["references"] == runs[0]["references"]


def test_bench_external_reference_rows_appear_only_where_installed(tmp_path, monkeypatch):
    from simulacra import bench
    from simulacra.modalities.benchmarking import external_pythons

    monkeypatch.setenv("SIMULACRA_MOSTLYAI_PYTHON", str(tmp_path / "no-such-venv" / "bin" / "python"))
    monkeypatch.chdir(tmp_path)  # no .venv-mostlyai here either
    assert external_pythons() == {}
    result = {"model": "mixture", "external": {"mostlyai-engine": {"error": "ModuleNotFoundError: mostlyai"}}}
    assert [r["model"] for r in bench.table_rows([result])] == ["mixture"]  # a failed reference is no row
    ok = {"model": "mixture", "external": {"mostlyai-engine": {"detection_xgb": 0.5, "fit_s": 9.0}}}
    assert [r["model"] for r in bench.table_rows([ok])] == ["mixture", "external: mostlyai-engine"]


def _scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files under ``log_dir``: ``{tag: [(step, value), …]}``,
    read from the TFRecord framing (length, CRC, an ``Event`` protobuf, CRC) as TensorBoard reads it."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at : at + 8])
            event = Event.FromString(data[at + 12 : at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_fit_log_dir_writes_each_epochs_losses_for_tensorboard(files, tmp_path, capsys):
    """``--log-dir``: a neural fit's per-epoch losses land in TensorBoard event files, one point per
    epoch and loss, equal to the model's own history; a model without epochs is refused in one line
    with nothing written."""
    logs = tmp_path / "logs"
    code = main(
        [
            "fit",
            str(files / "train.csv"),
            "--model",
            "tvae",
            "--param",
            "epochs=3",
            "--param",
            "verbose=false",
            "--log-dir",
            str(logs),
            "-o",
            str(tmp_path / "m"),
        ]
    )
    assert code == 0
    scalars = _scalars(logs)
    history = json.loads((tmp_path / "m" / "state.json").read_text())["history"]
    assert len(history) == 3 and set(scalars) == {f"tvae/{k}" for k in history[0]}
    for name, points in scalars.items():
        key = name.split("/", 1)[1]
        assert [step for step, _ in points] == [1, 2, 3]
        assert np.allclose([v for _, v in points], [h[key] for h in history], rtol=1e-5)
    capsys.readouterr()
    assert (
        main(["fit", str(files / "train.csv"), "--log-dir", str(tmp_path / "x"), "-o", str(tmp_path / "n")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: --log-dir logs the epochs of a neural model") and err.count("\n") == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "n").exists()
    # the event files never go into the model folder being written, nor into an input's folder
    for logs_at in (tmp_path / "n", tmp_path / "n" / "logs", files):
        capsys.readouterr()
        args = ["fit", str(files / "train.csv"), "--model", "tvae", "--log-dir", str(logs_at)]
        assert main([*args, "-o", str(tmp_path / "n")]) == 2
        assert capsys.readouterr().err.startswith("error: --log-dir ")
    assert not (tmp_path / "n").exists() and not list(files.glob("events.out.tfevents.*"))
