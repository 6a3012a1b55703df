"""Every registered modality plug-in through the commands layer: recognised from its bundled data,
fitted with its default model, its samples written and read back, evaluated with a report, and the
privacy attacks refused in one line where they do not apply. A new modality must add its bundled
example here (the test fails until it does)."""

from __future__ import annotations

import numpy as np
import pytest

from simulacra import modalities
from simulacra.commands import EvaluateRequest, FitRequest, evaluate, fit
from simulacra.errors import ConfigError
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
}
NAMES = [m.name for m in modalities.registered()]


def _part(modality, data, n: int, seed: int):
    """``n`` items of ``data`` drawn with ``seed``, in the modality's own type."""
    index = np.random.default_rng(seed).choice(len(data), size=n, replace=False)
    return data.iloc[index].reset_index(drop=True) if modality.name == "table" else data.subset(index)


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


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_evaluate_commands_on_every_modality(name, tmp_path):
    modality = modalities.named(name)
    source, file_name, params, options = EXAMPLES[name]
    found = modality.resolve(source)
    train = tmp_path / file_name
    held = tmp_path / f"test-{file_name}"
    modality.write(_part(modality, found.train, 300, 0), str(train))
    modality.write(_part(modality, found.test, 200, 1), str(held))
    assert modalities.of_source(str(train), **options) is modality  # what it wrote is recognised

    result = fit(FitRequest.of(source=str(train), output=tmp_path / "model", params=params, **options))
    assert result.model.name == modality.default_model  # no model given: the modality's default
    assert (tmp_path / "model" / "config.json").is_file()
    assert result.data.size.startswith("300 ")

    synthetic = tmp_path / f"synthetic-{file_name}"
    modality.write(result.model.sample(200, seed=0), str(synthetic))
    report = tmp_path / "report.html"
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
    with pytest.raises(ConfigError, match=r"^--privacy runs the attacks on tables; .*drop --privacy$"):
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
    with pytest.raises(ConfigError, match=r"^no modality 'toy'; simulacra knows text, image, table"):
        modalities.named("toy")
