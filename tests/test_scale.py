"""Scale: streamed samples hold the same rows whatever the chunking, parts or Ray workers; writes stay
all-or-nothing; memory stays bounded. Ray runs for real (a local instance with two CPUs)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulacra.cli import main
from simulacra.errors import ConfigError, DataError
from simulacra.scale import BLOCK_ROWS, SampleOptions, iter_chunks, iter_rows, stream_sample
from simulacra.scale.blocks import BlockPlan, block_seed
from simulacra.scale.stream import part_ranges
from simulacra.synthesizers import make

ROWS = 2 * BLOCK_ROWS + 12_345  # three sampling blocks, the last one short


@pytest.fixture(scope="module")
def model_dir(adult_small, tmp_path_factory) -> Path:
    """A copula model of 3,000 Adult rows, saved (Ray tasks and the CLI load it from disk)."""
    path = tmp_path_factory.mktemp("scale") / "copula"
    make("copula", seed=0).fit(adult_small[0]).save(path)
    return path


@pytest.fixture(scope="module")
def model(model_dir):
    from simulacra.synthesizers import BaseSynthesizer

    return BaseSynthesizer.load(model_dir)


@pytest.fixture(scope="module")
def whole(model) -> pd.DataFrame:
    """The reference: the request's blocks drawn one by one and put together in memory."""
    return pd.concat(list(iter_rows(model, ROWS, seed=5)), ignore_index=True)


def test_a_request_within_one_block_is_exactly_model_sample(model):
    direct = model.sample(5_000, seed=11)
    streamed = pd.concat(list(iter_chunks(iter_rows(model, 5_000, seed=11), 999)), ignore_index=True)
    pd.testing.assert_frame_equal(direct, streamed)
    assert block_seed(11, 0) == 11 and block_seed(11, 1) != block_seed(11, 2) != block_seed(12, 1)


def test_same_rows_whatever_the_chunk_size_and_format(model, whole, tmp_path):
    assert len(whole) == ROWS and not whole.duplicated().all()
    options = SampleOptions(seed=5)
    for chunk in (7_777, BLOCK_ROWS, 300_000):
        out = tmp_path / f"s{chunk}.parquet"
        written = stream_sample(model, ROWS, out, options, chunk_rows=chunk)
        assert written.rows == ROWS
        pd.testing.assert_frame_equal(pd.read_parquet(out), whole)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "s7777.parquet").metadata.num_row_groups == -(-ROWS // 7_777)
    stream_sample(model, ROWS, tmp_path / "s.csv.gz", options, chunk_rows=50_000)
    back = pd.read_csv(tmp_path / "s.csv.gz")
    assert back.shape == whole.shape
    assert (back["age"].to_numpy() == whole["age"].to_numpy()).all()
    assert (back["income"].to_numpy() == whole["income"].to_numpy()).all()
    stream_sample(model, 30_000, tmp_path / "s.jsonl", options, chunk_rows=4_000)
    assert pd.read_json(tmp_path / "s.jsonl", lines=True)["age"].tolist() == whole["age"][:30_000].tolist()


def test_parts_put_together_are_the_single_stream(model, whole, tmp_path):
    from simulacra.scale.distributed import sample_parts

    assert part_ranges(ROWS, 90_000) == [(0, 90_000), (90_000, 180_000), (180_000, ROWS)]
    sample_parts(None, ROWS, tmp_path, SampleOptions(seed=5), part_rows=90_000, model=model)
    files = sorted(p.name for p in tmp_path.glob("*.parquet"))
    assert files == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path), whole)


def test_exact_class_counts_stream_over_blocks(model, tmp_path):
    counts = {">50K": 150_001, "<=50K": 60_000}
    plan = BlockPlan.make(0, counts)
    assert plan.rows == 210_001 and plan.n_blocks == 3
    assert [sum(d[c] for d in plan.counts) for c in counts] == [150_001, 60_000]
    out = tmp_path / "balanced.parquet"
    written = stream_sample(
        model, 0, out, SampleOptions(seed=1, column="income", counts=counts), count_column="income"
    )
    got = pd.read_parquet(out)["income"].value_counts().to_dict()
    assert got == counts and written.classes == counts
    first = pd.read_parquet(out).iloc[:1000]["income"]
    assert first.nunique() == 2  # shuffled within blocks, not sorted by class


def test_sql_stream_is_one_transaction(model, tmp_path):
    import sqlalchemy as sa

    db = tmp_path / "out.db"
    url = f"sqlite:///{db}?table=synthetic"
    stream_sample(model, 1_000, url, SampleOptions(seed=2))
    calls = []

    def interrupt(k):  # the user presses Ctrl-C after the first chunk has been inserted
        calls.append(k)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream_sample(
            model, 50_000, url, SampleOptions(seed=3), chunk_rows=10_000, force=True, on_rows=interrupt
        )
    assert calls == [10_000]
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        kept = pd.read_sql("select * from synthetic", conn)
    engine.dispose()
    pd.testing.assert_frame_equal(kept, model.sample(1_000, seed=2), check_dtype=False)  # the old table


def test_an_interrupted_file_stream_leaves_nothing(model, tmp_path):
    out = tmp_path / "x.parquet"

    def interrupt(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream_sample(model, 30_000, out, SampleOptions(), chunk_rows=10_000, on_rows=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_cli_streams_and_refuses_bad_scale_options(model_dir, whole, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    assert (
        main(
            [
                "sample",
                str(model_dir),
                "-n",
                str(ROWS),
                "--seed",
                "5",
                "--chunk-rows",
                "40000",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), whole)
    folder = tmp_path / "parts"
    args = ["sample", str(model_dir), "-n", "3000", "--part-rows", "1000", "-o", f"{folder}/"]
    assert main(args) == 0
    assert len(list(folder.glob("part-*.parquet"))) == 3 and (folder / ".simulacra").is_file()
    capsys.readouterr()
    bad = [
        (["--workers", "2", "-o", str(tmp_path / "w.parquet")], "give -o/--output DIR/"),
        (["--ray-address", "auto", "-o", str(tmp_path / "r.parquet")], "add --workers"),
        (["--chunk-rows", "0", "-o", str(tmp_path / "c.parquet")], "--chunk-rows"),
        (["--part-rows", "-3", "-o", f"{tmp_path / 'p'}/"], "--part-rows"),
        (["--filter", "near-copies", "--data", "adult", "-o", f"{tmp_path / 'f'}/"], "-o/--output FILE"),
        (["-o", f"{folder}/"], "already exists"),
    ]
    for extra, expected in bad:
        assert main(["sample", str(model_dir), "-n", "100", *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.parquet", "parts"]


@pytest.mark.slow
def test_streaming_memory_stays_bounded(model_dir, tmp_path):
    """1,000,000 rows streamed in a child process: its peak RSS grows by well under what the rows take
    in memory (≈ 200 MB as a DataFrame), because only a block and a chunk are held."""
    code = (
        "import resource, sys\n"
        "from simulacra.synthesizers import BaseSynthesizer\n"
        "from simulacra.scale import SampleOptions, stream_sample\n"
        "m = BaseSynthesizer.load(sys.argv[1])\n"
        "m.sample(BLOCK := 100_000, seed=0)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "stream_sample(m, 1_000_000, sys.argv[2], SampleOptions(seed=1))\n"
        "print(before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_dir), str(tmp_path / "m.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = map(int, out.stdout.split())
    assert pd.read_parquet(tmp_path / "m.parquet", columns=["age"]).shape == (1_000_000, 1)
    assert after - before < 150, (before, after)  # MiB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray instance with two CPUs, shared by the Ray tests and stopped after them."""
    ray = pytest.importorskip("ray", reason="the extra simulacra[ray] is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 1024**2)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_workers_write_the_same_files_for_any_k(local_ray, model_dir, tmp_path):
    from simulacra.scale.distributed import sample_parts

    options = SampleOptions(seed=4, column="income", counts={">50K": 140_000, "<=50K": 100_000})
    folders = {}
    for k in (None, 1, 2):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        written = sample_parts(
            model_dir, 0, folder, options, part_rows=80_000, workers=k, count_column="income"
        )
        assert written.rows == 240_000 and written.classes == {">50K": 140_000, "<=50K": 100_000}
        folders[k] = {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}
    assert len(folders[None]) == 3
    assert folders[1] == folders[None] and folders[2] == folders[None]  # byte for byte
    cli = tmp_path / "cli"  # the command line reuses the connected Ray
    argv = ["sample", str(model_dir), "--balance", "income", "--class-counts", ">50K=140000,<=50K=100000"]
    assert main([*argv, "--seed", "4", "--part-rows", "80000", "--workers", "2", "-o", f"{cli}/"]) == 0
    assert {p.name: p.read_bytes() for p in sorted(cli.glob("*.parquet"))} == folders[None]


def test_series_windows_in_parts_are_the_same_for_any_number_of_workers(local_ray, tmp_path, capsys):
    model = tmp_path / "stocks-model"
    small = ["--param", "epochs=1", "--param", "hidden=16", "--param", "layers=1", "--param", "verbose=false"]
    assert main(["fit", "stocks", "-o", str(model), *small]) == 0
    argv = [
        "sample",
        str(model),
        "-n",
        "2100",
        "--sequence-length",
        "24",
        "--part-rows",
        "24000",
        "--seed",
        "3",
    ]
    folders = {}
    for k in (None, 1, 2):  # 1,024 windows a block, one block a part: three parts
        out = tmp_path / f"k{k}"
        assert main([*argv, *(["--workers", str(k)] if k else []), "-o", f"{out}/"]) == 0
        folders[k] = {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}
    assert list(folders[None]) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert folders[1] == folders[None] and folders[2] == folders[None]  # byte for byte
    windows = pd.concat(pd.read_parquet(tmp_path / "kNone" / name) for name in folders[None])
    assert windows["window"].tolist() == np.repeat(np.arange(1, 2101), 24).tolist()  # numbered across parts
    capsys.readouterr()
    assert main([*argv[:4], "-o", f"{tmp_path / 'one'}/"]) == 2  # one long series: one piece
    assert "one long series is drawn in one piece" in capsys.readouterr().err
    assert main([*argv, "--workers", "2", "-o", str(tmp_path / "w.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --workers writes one Parquet part per task into a folder; give -o/--output DIR/ (ending in /)"
    )
    assert not (tmp_path / "one").exists() and not (tmp_path / "w.csv").exists()


def test_ray_task_errors_reach_the_caller(local_ray, model_dir, tmp_path):
    from simulacra.errors import ConditionError
    from simulacra.scale.distributed import sample_parts

    with pytest.raises(ConditionError, match="never"):
        sample_parts(
            model_dir, 1000, tmp_path, SampleOptions(conditions={"income": "never"}), part_rows=500, workers=2
        )


@pytest.mark.slow
def test_bench_workers_give_the_same_quality_as_one_after_another(local_ray, adult_small, tmp_path):
    from simulacra.bench import run_bench

    train, test = adult_small
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    common = {"test": str(tmp_path / "test.csv"), "target": "income", "rows": 2000, "privacy": False}
    models = ["independent", "copula"]
    one_by_one = run_bench(models, str(tmp_path / "train.csv"), **common)
    shown = []
    on_ray = run_bench(models, str(tmp_path / "train.csv"), workers=2, on_result=shown.append, **common)
    assert [r["model"] for r in on_ray] == models and [r["model"] for r in shown] == models
    for a, b in zip(one_by_one, on_ray, strict=True):
        for key in ("column_shapes", "column_pair_trends", "detection_xgb", "tstr_roc_auc"):
            assert a[key] == pytest.approx(b[key], abs=1e-9), key  # same seeds, same numbers
        assert b["peak_rss_mb"] > 50 and b["fit_s"] > 0  # measured in the task's own process
    assert "references" in on_ray[0] and "references" not in on_ray[1]


def test_mix_workers_give_the_same_curves(local_ray, adult_small):
    from simulacra.experiments import mixing_curves
    from simulacra.metadata import Metadata

    train, test = adult_small
    meta = Metadata.detect(train)
    common = {"model": "copula", "fractions": [0.2, 1.0], "ratios": [0, 1], "repeats": 1, "keep_best": True}
    common |= {"downstream": ["logreg"]}
    seen = []
    alone = mixing_curves(train, test, meta, "income", **common)
    on_ray = mixing_curves(
        train, test, meta, "income", workers=2, on_progress=lambda d, t, m: seen.append((d, t)), **common
    )
    pd.testing.assert_frame_equal(alone.results, on_ray.results)
    assert on_ray.best_ratio == alone.best_ratio and len(on_ray.best) == len(alone.best)
    assert seen[-1][0] == seen[-1][1]  # the progress reaches its total


# ------------------------------------------------------------------ simulacra tune
def test_every_declared_search_space_is_valid_and_private_models_are_refused():
    from simulacra.experiments.tune import search_space
    from simulacra.synthesizers import available, model_class

    tables = [m for m in available() if model_class(m).modality == "table"]
    searched = [m for m in tables if model_class(m).search_space]
    assert {"mixture", "copula", "ctgan", "tvae", "diffusion"} <= set(searched)
    for name in searched:  # every end and every choice makes a valid model (search_space checks them)
        if "epsilon" not in model_class(name)().get_params() or name == "tvae":
            assert set(search_space(name)) == set(model_class(name).search_space), name
    with pytest.raises(ConfigError, match="differentially private"):
        search_space("aim")
    with pytest.raises(ConfigError, match="differentially private"):
        search_space("tvae", params={"dp": True})
    with pytest.raises(ConfigError, match="nothing to search"):
        search_space("independent")
    with pytest.raises(ConfigError, match="nothing to search"):  # every dimension fixed by --param
        search_space("copula", params={"max_quantiles": 100})
    with pytest.raises(ConfigError, match="multiple of pac"):  # a choice CTGAN cannot take
        search_space("ctgan", {"batch_size": "250,333"})
    with pytest.raises(ConfigError, match="no parameter 'width'"):
        search_space("mixture", {"width": "1:2"})


def test_search_dimensions_parse_like_the_cli_writes_them():
    from simulacra.experiments.tune import Dimension

    d = Dimension.parse("components", "50:600:log")
    assert (d.kind, d.low, d.high, d.log) == ("int", 50, 600, True) and d.contains(300) and not d.contains(7)
    d = Dimension.parse("smoothing", "0.1:10")
    assert (d.kind, d.log) == ("float", False) and d.corners() == [0.1, 10.0]
    d = Dimension.parse("generator_dim", "[128, 128],[256,256]")
    assert d.values == ((128, 128), (256, 256)) and d.contains([256, 256])
    assert d.decode(d.encode((256, 256))) == (256, 256)
    assert Dimension.parse("lr", "5e-5,1e-4").values == (5e-5, 1e-4)  # numbers, not YAML 1.1 text
    from simulacra.cli import _params

    params = _params(["learning_rate=5e-5", "compress_dims=[64, 64]"])  # --param reads 5e-5 as 5·10⁻⁵ too
    assert params == {"learning_rate": 5e-5, "compress_dims": [64, 64]}
    assert make("tvae", **params).learning_rate == 5e-5
    for spec, message in [
        ("5:1", "below"),
        ("0:1:log", "positive"),
        ("1:2:lin", "only be 'log'"),
        ("a:b", "numbers"),
        ("64", "two or more"),
        ("64,64", "twice"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Dimension.parse("x", spec)


@pytest.mark.slow
def test_tune_starts_from_the_defaults_and_repeats_itself(local_ray, adult_small):
    from simulacra.experiments.tune import tune_model
    from simulacra.metadata import Metadata

    train, test = adult_small
    meta = Metadata.detect(train)
    seen = []
    common = {"trials": 3, "params": {"iterations": 3}, "seed": 1}
    first = tune_model(train, meta, "income", "mixture", test=test, on_trial=seen.append, **common)
    trials = first.trials
    assert trials["trial"].tolist() == [0, 1, 2] and (trials["error"] == "").all() and len(seen) == 3
    assert trials.loc[0, ["components", "bins", "smoothing"]].tolist() == [300, 64, 1.0]  # the defaults
    assert trials[["components", "bins"]].drop_duplicates().shape[0] == 3  # TPE proposed new points
    assert trials["detection"].between(0, 1).all() and trials["utility"].between(0, 1).all()
    assert (trials["trtr"] > 0.8).all() and (trials["tstr"] > 0.6).all()  # income is predictable
    assert first.best["score"] == trials["score"].max()
    assert (
        first.best_params["iterations"] == 3 and first.best_params["components"] == first.best["components"]
    )
    assert first.info["fit rows"] == 2400 and first.info["validation rows"] == 600
    assert first.model is not None and first.model.components == first.best["components"]
    assert set(first.test) >= {"detection", "tstr", "trtr", "score"} and 0 < first.test["score"] <= 1
    assert set(first.test_defaults) == set(first.test)  # the defaults refitted and scored alike
    again = tune_model(train, meta, "income", "mixture", refit=False, **common)
    assert again.model is None and again.test is None
    pd.testing.assert_frame_equal(first.trials.drop(columns="fit_s"), again.trials.drop(columns="fit_s"))


def test_tune_cli_writes_the_best_parameters_report_and_model(local_ray, adult_small, tmp_path, capsys):
    import json

    from simulacra.synthesizers import BaseSynthesizer

    train, test = adult_small
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "tuned"
    argv = ["tune", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--target", "income"]
    argv += ["--model", "copula", "--trials", "2", "--workers", "2", "-o", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert (
        "fit them: simulacra fit" in printed
        and "scored once on the test" in printed
        and "defaults" in printed
    )
    assert sorted(p.name for p in out.iterdir()) == [
        ".simulacra",
        "best_params.json",
        "model",
        "trials.csv",
        "tune.json",
        "tune.md",
    ]
    best = json.loads((out / "best_params.json").read_text())
    report = json.loads((out / "tune.json").read_text())
    assert best == report["best_params"] and best["max_quantiles"] == report["best_trial"]["max_quantiles"]
    assert len(report["trials"]) == 2 and report["info"]["workers"] == 2
    assert "Trial 0 (the defaults)" in (out / "tune.md").read_text()
    model = BaseSynthesizer.load(out / "model")
    assert model.max_quantiles == best["max_quantiles"] and len(model.sample(10, seed=0)) == 10
    assert main(argv) == 2  # an existing output is refused before any trial
    assert "already exists" in capsys.readouterr().err


# ------------------------------------------------------------------ large inputs
@pytest.mark.slow
def test_large_inputs_give_one_stratified_sample_whatever_the_reader(adult, tmp_path, capsys):
    import sqlite3

    from simulacra.scale.inputs import quotas, read_for_fit

    train, _ = adult
    big = pd.concat([train, train], ignore_index=True)  # 65,122 rows
    big.loc[len(big) - 1, "age"] = 99  # one extreme value and one category in the last rows only
    big.loc[len(big) - 2, "race"] = "Martian"
    big.to_csv(tmp_path / "big.csv", index=False)
    big.to_parquet(tmp_path / "big.parquet")
    with sqlite3.connect(tmp_path / "big.db") as conn:
        big.to_sql("big", conn, index=False)
    common = {"max_rows": 4000, "stratify": "income", "seed": 3}
    rows, info = read_for_fit(tmp_path / "big.csv", chunk_rows=7777, large_bytes=0, **common)
    assert info.stats.rows == len(big) and info.sampled == 4000 and len(rows) == 4000 + info.coverage
    others = [
        read_for_fit(tmp_path / "big.csv", chunk_rows=50_000, large_bytes=0, **common),  # other chunks
        read_for_fit(tmp_path / "big.parquet", chunk_rows=3000, **common),  # record batches
        read_for_fit(f"sqlite:///{tmp_path / 'big.db'}?table=big", chunk_rows=9000, **common),  # a cursor
        read_for_fit(tmp_path / "big.csv", **common),  # a small file: loaded, then sampled alike
    ]
    for other, _ in others:
        pd.testing.assert_frame_equal(rows, other)
    sampled = rows.iloc[:4000]["income"].value_counts().to_dict()  # the shares, exactly
    assert sampled == quotas(big["income"].value_counts().to_dict(), len(big), 4000)
    assert (
        rows["age"].max() == 99 and rows["age"].min() == big["age"].min() and "Martian" in set(rows["race"])
    )
    for col in big.columns:  # every category of the whole table, and its exact missing count
        assert info.stats.columns[col].missing == big[col].isna().sum()
        if big[col].dtype == object:
            assert set(rows[col].dropna()) == set(big[col].dropna()), col
    assert info.coverage <= 10 and info.stats.missing_gap(rows) < 0.02
    again, _ = read_for_fit(tmp_path / "big.csv", max_rows=4000, stratify="income", seed=4)
    assert not again.equals(rows)
    small, none = read_for_fit(tmp_path / "big.csv", max_rows=100_000)
    assert none is None and len(small) == len(big)
    with pytest.raises(DataError, match="`stratify` 'nope'"):
        read_for_fit(tmp_path / "big.csv", max_rows=4000, stratify="nope", large_bytes=0)
    with pytest.raises(DataError, match="more than 1,000 values"):  # a continuous column is no stratum
        read_for_fit(tmp_path / "big.csv", max_rows=4000, stratify="fnlwgt", large_bytes=0)
    argv = ["fit", str(tmp_path / "big.csv"), "--model", "independent", "--max-rows", "4000"]
    assert main([*argv, "--stratify", "income", "-o", str(tmp_path / "m")]) == 0
    assert "65,122 rows; fitting on a sample of 4,000, stratified by income" in capsys.readouterr().err
