"""Every registered modality plug-in through the commands layer: recognised from its bundled data,
fitted with its default model, sampled, its samples read back, evaluated with a report, and the
privacy attacks refused in one line where they do not apply. A new modality must add its bundled
example here (the test fails until it does)."""

from __future__ import annotations

import numpy as np
import pytest

from simulacra import modalities
from simulacra.cli import main
from simulacra.commands import (
    AugmentRequest,
    EvaluateRequest,
    FitRequest,
    MixRequest,
    SampleRequest,
    TuneRequest,
    augment,
    evaluate,
    fit,
    mix,
    sample,
    tune,
)
from simulacra.errors import ConfigError
from simulacra.modalities.labelled import LabelledModality
from simulacra.synthesizers import model_class

#: per modality: a bundled dataset, a file name for a small part of it, the default model's
#: hyper-parameters that make its fit take seconds, and the loader options that file needs
EXAMPLES = {
    "table": ("adult", "part.csv", {"iterations": 5}, {}),
    "image": ("mnist", "part.npz", {"epochs": 1, "batch_size": 64}, {}),
    "text": (
        "sms",
        "part.csv",
        {"epochs": 1, "vocab_size": 300, "block_size": 32, "n_layer": 1, "n_head": 2, "n_embd": 32},
        {"text_column": "text", "label_column": "label"},  # a table file of texts: their columns
    ),
    # 300 random rows of the energy series (its first 6 columns: the commands, not the scale, are under
    # test): an irregular index, so the gap column is learned too
    "series": ("energy", "part.csv", {"epochs": 1, "hidden": 16, "layers": 1}, {"sequence_index": "date"}),
    "audio": ("fsdd", "part.npz", {"epochs": 1, "griffin_lim_iterations": 4}, {}),
}
NAMES = [m.name for m in modalities.registered()]


@pytest.fixture(autouse=True)
def _quick_metric_models(monkeypatch):
    """The audio metrics' classifier trains for 3 epochs here, not 30, and the series' Context-FID
    encoder for 50 iterations, not 200: the commands, not the metrics' accuracy, are under test."""
    from simulacra.evaluate import audio, ts2vec

    monkeypatch.setattr(audio, "EPOCHS", 3)
    monkeypatch.setattr(ts2vec, "iterations_for", lambda values: 50)


def _part(modality, data, n: int, seed: int):
    """``n`` items of ``data`` drawn with ``seed``, in the modality's own type."""
    index = np.random.default_rng(seed).choice(len(data), size=min(n, len(data)), replace=False)
    if modality.name == "table":
        return data.iloc[index].reset_index(drop=True)
    part = data.subset(index)
    if modality.name == "series":
        part = part.like(part.frame[[part.sequence_index, *part.value_columns[:6]]])
    return part


def test_every_registered_modality_has_an_example_and_the_table_is_asked_last():
    assert set(NAMES) == set(EXAMPLES), "add the new modality's bundled example to EXAMPLES"
    assert NAMES[-1] == "table"  # the catch-all


@pytest.mark.parametrize("name", NAMES)
def test_plugin_recognises_loads_and_names_models_of_its_modality(name):
    modality = modalities.named(name)
    source = EXAMPLES[name][0]
    assert modalities.of_source(source) is modality
    found = modality.resolve(source)
    assert len(found.train) > 0 and found.test is not None and len(found.test) > 0
    assert not found.explicit_test  # the bundled test part, not one the user gave
    for model in (modality.default_model, *modality.bench_models):
        assert model_class(model).modality == name


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Per modality, fitted once: ``(folder, training file, test file, loader options, FitResult)``,
    the model fitted by the ``fit`` command with no model named (the modality's default) on 300 items
    of its bundled training part written by the plug-in."""
    made = {}

    def get(name):
        if name not in made:
            modality = modalities.named(name)
            source, file_name, params, options = EXAMPLES[name]
            found = modality.resolve(source)
            folder = tmp_path_factory.mktemp(name)
            train, held = folder / file_name, folder / f"test-{file_name}"
            modality.write(_part(modality, found.train, 300, 0), str(train))
            modality.write(_part(modality, found.test, 200, 1), str(held))
            result = fit(FitRequest.of(source=str(train), output=folder / "model", params=params, **options))
            made[name] = (folder, train, held, options, result)
        return made[name]

    return get


@pytest.mark.parametrize("name", NAMES)
def test_fit_sample_and_evaluate_commands_on_every_modality(name, fitted):
    modality = modalities.named(name)
    folder, train, held, options, result = fitted(name)
    assert modalities.of_source(str(train), **options) is modality  # what it wrote is recognised
    assert result.model.name == modality.default_model  # no model given: the modality's default
    assert (folder / "model" / "config.json").is_file()
    assert result.data.size.startswith("300 ")

    synthetic = folder / f"synthetic-{train.name}"
    done = sample(SampleRequest.of(model=folder / "model", output=str(synthetic), rows=200))
    assert (done.count, done.unit, done.where) == (200, modality.unit, str(synthetic))
    assert len(modality.read_synthetic(str(synthetic), **options)) == 200
    report = folder / "report.html"
    done = evaluate(
        EvaluateRequest.of(
            real=str(train), synthetic=str(synthetic), test=str(held), output=report, **options
        )
    )
    assert report.is_file() and done.metrics.is_file()
    assert len(done.evaluation.rows()) > 3


@pytest.mark.parametrize("name", [n for n in NAMES if not modalities.named(n).privacy_attacks])
def test_privacy_attacks_are_refused_in_one_line_where_they_do_not_apply(name, tmp_path):
    source = EXAMPLES[name][0]
    request = EvaluateRequest.of(real=source, synthetic=source, output=tmp_path / "r.html", privacy=True)
    with pytest.raises(ConfigError, match=r"^`privacy` runs the attacks on tables; .*drop `privacy`$"):
        evaluate(request)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_requests_refuse_unknown_fields_and_wrong_types_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^fit: unknown key 'epochs'"):
        FitRequest.of(source="adult", output=tmp_path / "m", epochs=3)
    with pytest.raises(ConfigError, match=r"^evaluate: seed=-1 is not valid"):
        EvaluateRequest.of(real="adult", synthetic="s.csv", output=tmp_path / "r.html", seed=-1)


def test_a_registered_plugin_is_asked_before_the_table_catch_all(tmp_path):
    class Toy(modalities.TableModality):
        name = "toy"

        def recognises(self, source, **options):
            return str(source).endswith(".toy")

    try:
        modalities.register(Toy())
        assert [m.name for m in modalities.registered()][-2:] == ["toy", "table"]
        assert modalities.of_source(str(tmp_path / "x.toy")).name == "toy"
        assert modalities.of_source("adult").name == "table"
    finally:
        modalities._REGISTRY.pop("toy", None)
    with pytest.raises(
        ConfigError, match=r"^no modality 'toy'; simulacra knows text, audio, image, series, table"
    ):
        modalities.named("toy")


@pytest.mark.parametrize(
    ("name", "option", "message"),
    [
        ("image", {"balance": "label"}, r"^images are drawn class-balanced already .* are for tables$"),
        ("text", {"balance": "label"}, r"^texts are drawn class-balanced already .* are for tables$"),
        (
            "image",
            {"filters": ["detection=0.1"], "data": "mnist"},
            r"^images take only the label filter \(`filters` label=0.9\)$",
        ),
        ("table", {"top_k": 5}, r"^`top_k`, `top_p` and `keep_copies` are for text models; drop them$"),
        ("image", {"keep_copies": True}, r"^`top_k`, `top_p` and `keep_copies` are for text models"),
    ],
)
def test_sample_options_a_modality_does_not_take_are_refused_before_any_work(name, option, message, fitted):
    folder, train, *_ = fitted(name)
    output = folder / f"refused-{train.name}"
    with pytest.raises(ConfigError, match=message):
        sample(SampleRequest.of(model=folder / "model", output=str(output), rows=10, **option))
    assert not output.exists()


#: an augmentation pipeline per modality that augments (a modality without one must refuse)
PIPELINES = {
    "image": "steps:\n  - {op: rotate, degrees: 10, p: 1.0}\n",
    "text": "steps:\n  - {op: random_swap, p: 0.2}\n",
    "series": "steps:\n  - {op: jitter, sigma: 0.03}\n  - {op: time_warp, p: 0.5}\n",
    "audio": "steps:\n  - {op: gain}\n  - {op: noise, min_snr_db: 20, max_snr_db: 30, p: 0.5}\n",
}


@pytest.mark.parametrize("name", NAMES)
def test_augment_writes_copies_or_refuses_in_one_line(name, fitted, tmp_path):
    modality = modalities.named(name)
    _, train, held, options, _ = fitted(name)
    pipeline = tmp_path / "aug.yaml"
    pipeline.write_text(PIPELINES.get(name, "steps: []\n"))
    output = tmp_path / f"augmented{'.npz' if name in ('image', 'audio') else '.csv'}"
    request = AugmentRequest.of(
        source=str(train), pipeline=pipeline, output=output, copies=2, test=str(held), **options
    )
    if name not in PIPELINES:
        with pytest.raises(
            ConfigError, match=r"^augment takes images, texts, series or recordings, .*; to enlarge a table"
        ):
            augment(request)
        assert not output.exists()
        return
    done = augment(request)
    assert (done.count, done.unit) == (600, modality.unit)
    assert len(modality.read_synthetic(str(output), **options)) == 600
    assert done.effect  # strength (images), TRTR (texts) or the predictive score (series) ± the copies


#: what mix needs beyond the source, and where its best mixed training set goes, per modality
MIX = {
    "table": ({"target": "income", "downstream": ["logreg"]}, "best.csv"),
    "image": ({}, "best.npz"),
    "audio": ({}, "best.npz"),
    "text": ({"text_column": "text", "label_column": "label"}, "best.csv"),
}


@pytest.mark.parametrize("name", NAMES)
def test_mix_runs_and_writes_the_best_set_or_refuses_in_one_line(name, fitted, tmp_path, monkeypatch):
    from simulacra.experiments import mix as experiment

    monkeypatch.setattr(experiment, "MIN_CNN_STEPS", 20)  # the image CNN's floor, 300 steps by default
    modality = modalities.named(name)
    _, train, held, options, _ = fitted(name)
    output = tmp_path / "mix"
    if not modality.mix_model:
        with pytest.raises(
            ConfigError, match=r"^mix runs on tables and on labelled images and texts, not on "
        ):
            mix(MixRequest.of(source=EXAMPLES[name][0], output=output))
        assert not output.exists()
        return
    extra, best_name = MIX[name]
    best = tmp_path / best_name
    request = MixRequest.of(
        source=str(train),
        test=str(held),
        fractions=[1.0],
        ratios=[0.0, 1.0],
        repeats=1,
        params=EXAMPLES[name][2],
        output=output,
        write_best=str(best),
        **extra,
    )
    done = mix(request)
    assert done.models == [modality.mix_model]
    assert {"results.csv", "metrics.json", "report.html"} <= {p.name for p in output.iterdir()}
    assert set(done.run.result.results["ratio"].dropna()) >= {0.0, 1.0}
    assert done.best_written == str(best)
    written = modality.read_synthetic(str(best), **options)
    assert len(written) == len(done.run.best) == 300 * (1 + done.run.result.best_ratio)
    assert done.run.best_note  # how the synthetic items are told apart


#: the label filter's confidence per labelled modality (the one-epoch models draw mostly noise)
LABEL_P = {"image": 0.6, "text": 0.8, "audio": 0.6}


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(modalities.named(n), LabelledModality)])
def test_label_filter_on_labelled_sets_keeps_the_count_and_the_balance(name, fitted, tmp_path):
    folder, train, _, options, _ = fitted(name)
    output = tmp_path / f"filtered-{train.name}"
    request = SampleRequest.of(
        model=folder / "model",
        output=str(output),
        rows=60,
        filters=[f"label={LABEL_P[name]}"],
        data=str(train),
        **options,
    )
    done = sample(request)
    assert done.count == 60 and done.filters and done.filters[0]["filter"] == "label"
    assert done.filters[0]["seen"] >= 60 and 0 <= done.filters[0]["dropped"] <= done.filters[0]["seen"]
    written = modalities.named(name).read_synthetic(str(output), **options)
    counts = np.bincount(written.labels)
    assert len(written) == 60 and counts.max() - counts[counts > 0].min() <= 1  # still balanced
    with pytest.raises(ConfigError, match="take only the label filter"):
        sample(request.model_copy(update={"filters": ["near-copies"], "force": True}))


@pytest.mark.parametrize("name", [n for n in NAMES if not modalities.named(n).tunable])
def test_tune_refuses_a_modality_it_cannot_score_in_one_line(name, tmp_path):
    output = tmp_path / "tune"
    with pytest.raises(
        ConfigError, match=r"^tune scores trials with the table detector and TSTR, .*bench --param"
    ):
        tune(TuneRequest.of(source=EXAMPLES[name][0], output=output))
    assert not output.exists()


@pytest.mark.parametrize("name", NAMES)
def test_run_takes_a_list_of_command_steps_for_every_modality(name, fitted, tmp_path, capsys):
    folder, train, *_ = fitted(name)
    output = tmp_path / f"again-{train.name}"
    config = tmp_path / "steps.yaml"
    config.write_text(
        f"steps:\n  - sample: {{model: {folder / 'model'}, rows: 50, output: {output}, seed: 3}}\n",
        encoding="utf-8",
    )
    assert main(["run", str(config)]) == 0
    assert f"sample: done → {output}" in capsys.readouterr().out
    assert len(modalities.named(name).read_synthetic(str(output), **EXAMPLES[name][3])) == 50


def test_run_checks_every_step_before_the_first_runs(fitted, tmp_path, capsys):
    folder, *_ = fitted("table")
    config = tmp_path / "steps.yaml"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    config.write_text(
        f"steps:\n  - sample: {{model: {folder / 'model'}, rows: 5, output: {first}}}\n"
        f"  - sample: {{model: {folder / 'model'}, rows: 5, output: {second}, seed: -1}}\n",
        encoding="utf-8",
    )
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: {config}: steps[1] (sample): sample: seed=-1 is not valid"
    )
    assert not first.exists() and not second.exists()  # the valid first step did not run either


def test_library_errors_name_parameters_and_each_front_end_shows_its_own_spelling(fitted, tmp_path, capsys):
    """A Python caller reads the request field, the CLI its option, a run config its YAML key."""
    folder, *_ = fitted("table")
    model, out = folder / "model", tmp_path / "x.csv"
    capsys.readouterr()  # the fixture's fit progress
    with pytest.raises(
        ConfigError, match=r"^`class_counts` needs the column it counts; add `balance` COLUMN$"
    ):
        sample(SampleRequest.of(model=model, class_counts={"yes": 5}, output=str(out)))
    assert main(["sample", str(model), "--class-counts", "yes=5", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --class-counts needs the column it counts; add --balance COLUMN"
    assert main(["sample", str(model), "-o", str(out)]) == 2  # an option with a short form: both shown
    assert "with -n/--rows (or exact --class-counts)" in capsys.readouterr().err
    config = tmp_path / "steps.yaml"
    config.write_text(f"steps:\n  - sample: {{model: {model}, class_counts: {{a: 5}}, output: {out}}}\n")
    assert main(["run", str(config)]) == 2
    assert "class_counts needs the column it counts; add balance COLUMN" in capsys.readouterr().err
    assert not out.exists()
