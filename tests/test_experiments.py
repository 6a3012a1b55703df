"""Synthetic data for training: mixing curves, class balancing, filters, diversity and exact class counts,
on small real subsets of Adult and Bank Marketing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import chromium_plots
from simulacra.cli import main
from simulacra.datasets import load
from simulacra.errors import ConditionError, ConfigError
from simulacra.evaluate import evaluate
from simulacra.evaluate.diversity import diversity, prdc
from simulacra.experiments import (
    DetectionFilter,
    LabelFilter,
    NearCopyFilter,
    balancing_comparison,
    filtered_sample,
    mixing_curves,
    stratified_fraction,
)
from simulacra.experiments.balance import METHODS, _Codec, _oversampled
from simulacra.metadata import Metadata
from simulacra.synthesizers import make


@pytest.fixture(scope="module")
def bank_small():
    train, test = load("bank")
    return (
        train.sample(4000, random_state=0).reset_index(drop=True),
        test.sample(2000, random_state=0).reset_index(drop=True),
    )


def test_stratified_fraction_keeps_every_class_share(adult_small):
    train, _ = adult_small
    part = stratified_fraction(train, 0.1, "income", classification=True, seed=3)
    assert len(part) == pytest.approx(300, abs=2)
    share = (train.income == ">50K").mean()
    assert (part.income == ">50K").mean() == pytest.approx(share, abs=0.005)
    again = stratified_fraction(train, 0.1, "income", classification=True, seed=3)
    assert part.index.equals(again.index)
    assert not part.index.equals(stratified_fraction(train, 0.1, "income", classification=True, seed=4).index)
    assert stratified_fraction(train, 1.0, "income", classification=True, seed=0) is train


def test_mixing_curves_rows_verdicts_and_best_set(adult_small):
    train, test = adult_small
    meta = Metadata.detect(train)
    res = mixing_curves(
        train,
        test,
        meta,
        "income",
        model="copula",
        fractions=[0.2, 1.0],
        ratios=[0, 1],
        repeats=2,
        keep_best=True,
    )
    r = res.results
    # 2 repeats × 2 fractions × (real, real+synthetic ×1, synthetic only) × 2 downstream models × 5 metrics
    assert len(r) == 2 * 2 * 3 * 2 * 5
    assert set(r.metric) == {"roc_auc", "accuracy", "f1", "recall", "balanced_accuracy"}
    assert set(r.downstream) == {"hgb", "logreg"}
    small = r[(r.fraction == 0.2) & (r.repeat == 0)]
    n_real = int(small.n_real.iloc[0])
    assert n_real == pytest.approx(600, abs=2)
    assert set(small[small.variant == "real+synthetic"].n_synthetic) == {n_real}
    assert set(small[small.variant == "synthetic"].n_synthetic) == {n_real}
    assert small[small.variant == "real"].n_synthetic.eq(0).all()
    assert r.value.between(0, 1).all()
    # the real rows alone score like TRTR, better than a copula's rows alone on Adult
    s = res.summary()
    auc = s[(s.metric == "roc_auc") & (s.downstream == "hgb") & (s.fraction == 1.0)].set_index("variant")[
        "mean"
    ]
    assert auc["real"] > auc["synthetic"] + 0.02
    assert (s.repeats == 2).all() and (s.sd >= 0).all()
    lines = res.verdicts()
    assert len(lines) == 2 and "At 20\u00a0% real data" in lines[0] and "At 100\u00a0% real data" in lines[1]
    assert all("ROC-AUC" in line and "Synthetic rows alone" in line for line in lines)
    assert res.best is not None and res.best_ratio in (0.0, 1.0)
    assert res.best.synthetic.sum() == round(res.best_ratio * len(train))
    assert (~res.best.synthetic).sum() == len(train)


def test_mixing_curves_regression_and_bad_settings(adult_small):
    train, test = adult_small
    meta = Metadata.detect(train)
    res = mixing_curves(
        train,
        test,
        meta,
        "hours-per-week",
        model="independent",
        fractions=[1.0],
        ratios=[0.5],
        repeats=1,
        downstream=["hgb"],
    )
    assert res.task == "regression" and set(res.results.metric) == {"r2", "rmse"}
    assert set(res.results.ratio.dropna()) == {0.0, 0.5}  # ratio 0 (real only) is always measured
    assert "R²" in res.verdicts()[0]
    for bad in (
        dict(fractions=[0]),
        dict(fractions=[1.5]),
        dict(ratios=[-1]),
        dict(ratios=[11]),
        dict(fractions=[0.001]),
        dict(downstream=["svm"]),
        dict(repeats=0),
    ):
        with pytest.raises(ConfigError):
            mixing_curves(train, test, meta, "income", model="copula", **{"repeats": 1, **bad})


def test_every_balancing_method_equalises_the_classes(bank_small):
    train, _ = bank_small
    meta = Metadata.detect(train)
    codec = _Codec(train, meta, "y")
    largest = int(train.y.value_counts().max())
    assert _oversampled("none", train, codec, "y", seed=0) is train
    for method in METHODS[1:]:
        data = _oversampled(method, train, codec, "y", seed=0)
        counts = data.y.astype(str).value_counts()
        assert counts.min() == counts.max() == largest, method
        assert data.iloc[: len(train)].equals(train)  # the real rows are kept as they are
        new = data.iloc[len(train) :]
        if method in ("SMOTE", "SMOTE-NC"):  # interpolated rows stay inside the real ranges and levels
            assert new.age.between(train.age.min(), train.age.max()).all()
            assert set(new.job.dropna()) <= set(train.job.dropna())
            assert (new.y.astype(str) == "yes").all()


def test_balancing_comparison_scores_each_method(bank_small):
    train, test = bank_small
    meta = Metadata.detect(train)
    res = balancing_comparison(train, test, meta, "y", models=["copula"], repeats=1, downstream=["hgb"])
    assert set(res.method) == {*METHODS, "copula"}
    added = res.groupby("method").n_synthetic.first()
    counts = train.y.value_counts()
    assert added["none"] == 0 and (added.drop("none") == counts.max() - counts.min()).all()
    recall = res[res.metric == "recall"].set_index("method").value
    # balancing raises the minority recall over the imbalanced baseline, whatever the method
    assert (recall.drop("none") > recall["none"]).all()
    with pytest.raises(ConfigError):
        balancing_comparison(train, test, meta, "age", models=[], repeats=1)


@pytest.mark.parametrize("name", ["copula", "mixture"])
def test_sample_counts_are_exact_and_seeded(bank_small, name):
    train, _ = bank_small
    params = {"components": 20, "iterations": 10, "verbose": False} if name == "mixture" else {}
    model = make(name, **params).fit(train)
    counts = model.balanced_counts("y", 1001)
    assert counts == {"no": 501, "yes": 500}
    df = model.sample_counts("y", counts, seed=1)
    assert df.y.value_counts().to_dict() == {"no": 501, "yes": 500}
    assert df.equals(model.sample_counts("y", counts, seed=1))
    assert not df.equals(model.sample_counts("y", counts, seed=2))
    assert df.y.iloc[:50].nunique() == 2  # shuffled, not one class after the other
    both = model.sample_counts("y", {"yes": 30}, conditions={"housing": "yes"}, seed=0)
    assert len(both) == 30 and (both.y == "yes").all() and (both.housing == "yes").all()
    with pytest.raises(ConditionError, match="no class"):
        model.sample_counts("y", {"maybe": 3})
    with pytest.raises(ConditionError, match="numerical"):
        model.balanced_counts("age", 10)


def test_filters_drop_what_they_say(adult_small):
    train, test = adult_small
    meta = Metadata.detect(train)
    indep = make("independent").fit(train).sample(1500, seed=0)
    # near copies: training rows handed out as synthetic are all dropped, new rows mostly kept
    planted = pd.concat([train.iloc[:200], indep.iloc[:800]], ignore_index=True)
    f = NearCopyFilter().fit(train, test, meta, seed=0)
    keep, record = f.keep(planted)
    assert not keep[:200].any() and keep[200:].mean() > 0.9
    assert record.dropped == int((~keep).sum()) and record.seen == 1000 and "holdout" in record.why
    # detection: drops exactly the share asked, mostly the rows drawn from the marginals alone
    mixed = pd.concat([test.iloc[:1000], indep.iloc[:1000]], ignore_index=True)
    keep, record = DetectionFilter(0.25).fit(train, None, meta, seed=0).keep(mixed)
    assert record.dropped == 500 == (~keep).sum()
    assert (~keep[1000:]).sum() > 0.8 * 500
    # label: rows given the other income than a sure real-trained model predicts are dropped
    rows = test.iloc[:1000].copy()
    label = LabelFilter("income", 0.9).fit(train, None, meta, seed=0)
    proba = label.clf_.predict_proba(label.encoder_.ordinal(rows))
    predicted = label.clf_.classes_[proba.argmax(1)]
    sure = proba.max(1) >= 0.95
    against = np.where(predicted == ">50K", "<=50K", ">50K")
    keep, record = label.keep(rows.assign(income=np.where(sure, against, predicted)))
    assert sure.sum() > 100 and not keep[sure].any() and keep[~sure].all()
    assert record.dropped == sure.sum()


def test_filtered_sample_tops_up_to_exact_counts_or_fails(bank_small):
    train, test = bank_small
    meta = Metadata.detect(train)
    model = make("copula").fit(train)
    counts = {"yes": 700, "no": 300}
    filters = [NearCopyFilter(), DetectionFilter(0.3, column="y")]
    df, records = filtered_sample(
        lambda k, s: model.sample_counts("y", k, seed=s),
        1000,
        filters,
        real_train=train,
        real_test=test,
        metadata=meta,
        seed=0,
        column="y",
        counts=counts,
    )
    assert df.y.value_counts().to_dict() == counts
    assert {r.filter for r in records} == {"near-copies", "detection"}
    assert sum(r.dropped for r in records if r.filter == "detection") >= 0.3 * 1000 - 2
    plain, _ = filtered_sample(
        lambda k, s: model.sample(k, seed=s),
        1234,
        [DetectionFilter(0.5)],
        real_train=train,
        real_test=test,
        metadata=meta,
        seed=0,
    )
    assert len(plain) == 1234
    copies = [NearCopyFilter(50)]  # drawing training rows only: nothing ever passes
    with pytest.raises(ConfigError, match="short of"):
        filtered_sample(
            lambda k, s: train.sample(k, replace=True, random_state=s),
            10,
            copies,
            real_train=train,
            real_test=test,
            metadata=meta,
        )


def test_prdc_tells_a_good_sample_from_a_bad_one(adult_small):
    train, test = adult_small
    meta = Metadata.detect(train)
    real = diversity(train, test, meta)
    bad = diversity(train, make("independent").fit(train).sample(3000, seed=0), meta)
    assert real["rows"] == 1500 and real["k"] == 5
    assert real["precision"] > 0.8 and real["coverage"] > 0.8 and 0.7 < real["density"] < 1.3
    assert bad["density"] < 0.6 * real["density"] and bad["coverage"] < real["coverage"] - 0.2
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3))
    collapsed = prdc(a, a[:10].repeat(50, axis=0) + 1e-6 * rng.normal(size=(500, 3)))
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.2  # mode collapse: precise, not diverse
    ev = evaluate(train, test, meta, detection_gbm=False, detection_xgb=False)
    assert set(ev.metrics["diversity"]) == {"precision", "recall", "density", "coverage"}


@pytest.fixture(scope="module")
def adult_files(tmp_path_factory, adult_small):
    train, test = adult_small
    d = tmp_path_factory.mktemp("mix")
    train.to_csv(d / "train.csv", index=False)
    test.to_csv(d / "test.csv", index=False)
    return d


def test_cli_mix_writes_results_report_and_best_set(adult_files, tmp_path, capsys):
    out, best = tmp_path / "mix", tmp_path / "best.parquet"
    args = [
        "mix",
        str(adult_files / "train.csv"),
        "--test",
        str(adult_files / "test.csv"),
        "--target",
        "income",
        "--model",
        "copula",
        "--fractions",
        "0.2,1",
        "--ratios",
        "0,0.5",
        "--repeats",
        "1",
        "--balance",
        "income",
        "--write-best",
        str(best),
        "-o",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "At 20\u00a0% real data" in printed and "SMOTE-NC" in printed
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[:4]) == ["experiment", "fraction", "n_real", "method"]
    assert set(results.experiment) == {"mixing", "balancing"}
    assert len(results[results.experiment == "mixing"]) == 2 * 3 * 2 * 5
    written = pd.read_parquet(best)
    assert written.synthetic.dtype == bool and (~written.synthetic).sum() == 3000
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdicts"]["hgb"][0].startswith("At 20\u00a0% real data")
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5 + 2  # a curve per metric, the balancing bars per model
    assert "https://" not in html
    if shutil.which("chromium"):
        expected, rendered, shot = chromium_plots(out / "report.html", tmp_path)
        assert rendered == expected == 7 and shot > 50_000
    assert main(args) == 2  # the output exists: refused without --force
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fractions", "0,1"], "fraction 0 is not in (0, 1]"),
        (["--ratios", "a,b"], "must be comma-separated numbers"),
        (["--balance", "sex"], "must be the predicted column"),
        (["--model", "cgan"], "image model"),
        (["--downstream", "svm"], "unknown downstream model"),
    ],
)
def test_cli_mix_bad_input_one_line(adult_files, tmp_path, capsys, extra, message):
    args = [
        "mix",
        str(adult_files / "train.csv"),
        "--test",
        str(adult_files / "test.csv"),
        "--target",
        "income",
        "--model",
        "copula",
        "-o",
        str(tmp_path / "out"),
        *extra,
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_sample_balance_class_counts_and_filters(adult_files, tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["fit", str(adult_files / "train.csv"), "--model", "copula", "-o", str(model)]) == 0
    out = tmp_path / "balanced.csv"
    assert main(["sample", str(model), "-n", "1001", "--balance", "income", "-o", str(out)]) == 0
    assert pd.read_csv(out).income.value_counts().to_dict() == {"<=50K": 501, ">50K": 500}
    out = tmp_path / "counted.parquet"
    args = [
        "sample",
        str(model),
        "--balance",
        "income",
        "--class-counts",
        ">50K=600,<=50K=200",
        "--filter",
        "near-copies",
        "--filter",
        "detection=0.2",
        "--filter",
        "label=0.9",
        "--data",
        str(adult_files / "train.csv"),
        "--test",
        str(adult_files / "test.csv"),
        "-o",
        str(out),
    ]
    assert main(args) == 0
    assert pd.read_parquet(out).income.value_counts().to_dict() == {">50K": 600, "<=50K": 200}
    err = capsys.readouterr().err
    assert "near-copies" in err and "detection" in err and "label" in err
    for bad, message in [
        (["--class-counts", "a=1"], "--class-counts needs the column"),
        (["--balance", "age", "-n", "4"], "numerical"),
        (["--balance", "income", "--class-counts", "maybe=3"], "no class 'maybe'"),
        (["-n", "4", "--filter", "near-copies"], "add --data"),
        (["-n", "4", "--filter", "label=0.9", "--data", "adult"], "labelled column"),
    ]:
        assert main(["sample", str(model), "-o", str(tmp_path / "x.csv"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err, err
        assert not (tmp_path / "x.csv").exists()


def test_pipeline_filter_step_reports_before_and_after(adult_files, tmp_path):
    cfg = {
        "data": {
            "train": str(adult_files / "train.csv"),
            "test": str(adult_files / "test.csv"),
            "target": "income",
        },
        "model": {"name": "copula"},
        "sample": {"rows": 1200, "balance": "income", "class_counts": {">50K": 700, "<=50K": 500}},
        "filter": ["near-copies", "detection=0.2"],
        "output": str(tmp_path / "run"),
    }
    assert main(["run", str(_yaml(tmp_path, cfg))]) == 0
    synth = pd.read_parquet(tmp_path / "run" / "synthetic.parquet")
    assert synth.income.value_counts().to_dict() == {">50K": 700, "<=50K": 500}
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    dropped = {f["filter"]: f["dropped"] for f in metrics["filtering"]["filters"]}
    assert set(dropped) == {"near-copies", "detection"} and dropped["detection"] >= 0.2 * 1200 - 2
    assert "detection_xgb" in metrics["filtering"]["before"]["fidelity"]
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="before-after"' in html and "before filtering" in html
    log = (tmp_path / "run" / "run.log").read_text()
    assert "filter detection: dropped" in log
    for bad in (
        {**cfg, "filter": ["sharpen=2"]},
        {**cfg, "sample": {"rows": 10, "balance": "age"}},  # refused before the fit: not categorical
        {**cfg, "sample": {"rows": 10, "class_counts": {">50K": 5}}},  # counts without their column
        {**cfg, "sample": {"rows": 10, "temperature": 0}},
    ):
        assert main(["run", str(_yaml(tmp_path, {**bad, "output": str(tmp_path / "bad")}))]) == 2
        assert not (tmp_path / "bad").exists()


def test_a_pipeline_run_is_the_commands_typed_one_after_another(adult_files, tmp_path, capsys):
    """The table pipeline config runs the same requests as the CLI: fit, sample (unfiltered, then
    filtered with its record), evaluate with both: the same rows and the same metrics."""
    train, test = str(adult_files / "train.csv"), str(adult_files / "test.csv")
    cfg = {
        "data": {"train": train, "test": test, "target": "income"},
        "model": {"name": "copula"},
        "sample": {"rows": 600, "seed": 3},
        "filter": ["detection=0.2"],
        "output": str(tmp_path / "run"),
    }
    assert main(["run", str(_yaml(tmp_path, cfg))]) == 0
    d = tmp_path / "cli"
    assert main(["fit", train, "--model", "copula", "-o", str(d / "model")]) == 0
    base = ["sample", str(d / "model"), "-n", "600", "--seed", "3"]
    assert main([*base, "-o", str(d / "unfiltered.parquet")]) == 0
    filtered = [*base, "--filter", "detection=0.2", "--data", train, "--test", test]
    assert main([*filtered, "-o", str(d / "s.parquet"), "--filter-record", str(d / "f.json")]) == 0
    evaluate_args = ["evaluate", train, str(d / "s.parquet"), "--test", test, "--target", "income"]
    before = ["--unfiltered", str(d / "unfiltered.parquet"), "--filter-record", str(d / "f.json")]
    assert main([*evaluate_args, *before, "--seed", "3", "-o", str(d / "report.html")]) == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "run" / "synthetic.parquet"), pd.read_parquet(d / "s.parquet")
    )
    run = json.loads((tmp_path / "run" / "metrics.json").read_text())
    typed = json.loads((d / "report.json").read_text())
    assert run["metrics"] == typed["metrics"] and run["filtering"] == typed["filtering"]
    assert json.loads((d / "f.json").read_text())[0]["filter"] == "detection"
    capsys.readouterr()
    # the record and the unfiltered rows go together; a record needs filters; one line, nothing written
    for bad, message in (
        (
            [*evaluate_args, "--unfiltered", str(d / "unfiltered.parquet"), "-o", str(d / "r2.html")],
            "go together",
        ),
        ([*base, "--filter-record", str(d / "f2.json"), "-o", str(d / "s2.parquet")], "add --filter"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err and len(err.splitlines()) == 1, err
    assert not {"r2.html", "f2.json", "s2.parquet"} & {p.name for p in d.iterdir()}


def _yaml(tmp_path, cfg):
    import yaml

    path = tmp_path / f"cfg-{len(list(tmp_path.glob('cfg-*')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("name", ["mixture", "copula"])
def test_temperature_trades_recall_for_precision(adult_small, name):
    train, _ = adult_small
    meta = Metadata.detect(train)
    params = {"components": 50, "iterations": 30, "verbose": False} if name == "mixture" else {}
    model = make(name, **params).fit(train, meta)
    scores = {t: diversity(train, model.sample(3000, seed=0, temperature=t), meta) for t in (0.5, 1.0, 2.0)}
    assert scores[0.5]["precision"] > scores[1.0]["precision"] > scores[2.0]["precision"]
    assert scores[0.5]["recall"] < scores[2.0]["recall"]
    assert model.sample(50, seed=3, temperature=0.7).equals(model.sample(50, seed=3, temperature=0.7))
    assert model._temperature == 1.0  # restored after the call
    for bad in (0, -1, 11, "hot"):
        with pytest.raises(ConfigError, match="temperature"):
            model.sample(5, temperature=bad)
