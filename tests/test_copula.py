from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulacra.errors import ConditionError, ConfigError, MetadataError
from simulacra.evaluate.fidelity import column_shapes
from simulacra.synthesizers import GaussianCopula, Synthesizer, make


@pytest.fixture(scope="module")
def fitted(adult_small):
    return make("copula").fit(adult_small[0])


def test_sample_has_columns_dtypes_and_fidelity(fitted, adult_small):
    train = adult_small[0]
    synth = fitted.sample(3000, seed=1)
    assert synth.shape == train.shape and synth.dtypes.equals(train.dtypes)
    assert column_shapes(train, synth, fitted.metadata_)["score"] > 0.9
    corr_real = train["education-num"].corr(train["age"])
    corr_syn = synth["education-num"].corr(synth["age"])
    assert abs(corr_real - corr_syn) < 0.1


def test_seed_reproduces(fitted):
    pd.testing.assert_frame_equal(fitted.sample(500, seed=7), fitted.sample(500, seed=7))
    assert not fitted.sample(500, seed=7).equals(fitted.sample(500, seed=8))


def test_single_condition_is_exact_and_shifts_the_rest(fitted, adult_small):
    train = adult_small[0]
    rich = fitted.sample(2000, conditions={"income": ">50K"}, seed=0)
    assert (rich["income"] == ">50K").all()
    real_gap = train.loc[train.income == ">50K", "education-num"].mean() - train["education-num"].mean()
    syn_gap = rich["education-num"].mean() - train["education-num"].mean()
    assert syn_gap > 0.3 * real_gap > 0  # the linear latent attenuates the dependence; direction must hold


def test_several_conditions_and_numeric_conditions(fitted):
    rows = fitted.sample(1000, conditions={"income": ">50K", "sex": "Female", "race": "Black"}, seed=0)
    assert (
        (rows["income"] == ">50K").all()
        and (rows["sex"] == "Female").all()
        and (rows["race"] == "Black").all()
    )
    aged = fitted.sample(300, conditions={"age": 40, "workclass": None}, seed=0)
    assert (aged["age"] == 40).all() and aged["workclass"].isna().all()


def test_bad_conditions_raise(fitted):
    with pytest.raises(ConditionError, match="never takes the value 'Martian'"):
        fitted.sample(10, conditions={"race": "Martian"})
    with pytest.raises(MetadataError, match="unknown column 'colour'"):
        fitted.sample(10, conditions={"colour": "red"})
    with pytest.raises(ConditionError, match="outside the real range"):
        fitted.sample(10, conditions={"age": 500})


def test_save_load_is_faithful(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == [
        ".simulacra",
        "arrays.npz",
        "config.json",
        "metadata.json",
        "state.json",
    ]
    loaded = Synthesizer.load(path)
    assert isinstance(loaded, GaussianCopula) and loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.sample(400, seed=3), fitted.sample(400, seed=3))
    pd.testing.assert_frame_equal(
        loaded.sample(50, conditions={"sex": "Male"}, seed=3),
        fitted.sample(50, conditions={"sex": "Male"}, seed=3),
    )


def test_hostile_table_fits_and_samples(hostile):
    model = make("copula").fit(hostile)
    out = model.sample(2000, seed=0)
    assert out["all_null"].isna().all() and (out["constant"] == 7).all()
    assert set(out["unicode"]) <= set(hostile["unicode"])
    assert set(out["many_levels"]) <= set(hostile["many_levels"])
    assert out["many_levels"].nunique() > 1000
    assert abs(out["flag"].mean() - hostile["flag"].mean()) < 0.05
    assert out["flag"].dtype == bool


def test_registry_errors():
    with pytest.raises(ConfigError, match="unknown model 'gpt'"):
        make("gpt")
    with pytest.raises(ConfigError, match="unknown parameter 'epochs'"):
        make("copula", epochs=3)
    assert np.isfinite(make("copula", seed=3).seed)


def test_one_registry_serves_names_and_classes():
    """``BUILTIN`` is the one table of models: every registry name and its class agree, and every
    model class (``AIM`` included) is importable from ``simulacra.synthesizers`` by its name."""
    import simulacra.synthesizers as package
    from simulacra.synthesizers.base import BUILTIN, available, model_class

    assert set(BUILTIN) <= set(available())
    for name, spec in BUILTIN.items():
        cls = getattr(package, spec.partition(":")[2])
        assert model_class(name) is cls and cls.name == name, name
    assert set(package._LAZY) | {"DEFAULT_MODEL", "available", "make"} <= set(package.__all__)
    assert set(package.__all__) <= set(package._LAZY) | set(vars(package))


def test_model_folders_carry_a_format_that_load_checks(fitted, tmp_path):
    """A folder of a newer format is refused with both versions named; a folder written before the
    field existed reads as format 1; a format that is not a positive whole number is damage."""
    import json

    from simulacra.errors import DataError
    from simulacra.synthesizers import Synthesizer
    from simulacra.synthesizers.base import FORMAT_VERSION

    fitted.save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    assert config["format"] == FORMAT_VERSION == 1
    config_path.write_text(json.dumps({**config, "format": 2, "simulacra_version": "9.0"}))
    with pytest.raises(
        DataError, match=r"of format 2, written by simulacra 9\.0; .* reads format 1 and older; upgrade"
    ):
        Synthesizer.load(tmp_path / "m")
    config_path.write_text(json.dumps({k: v for k, v in config.items() if k != "format"}))
    assert Synthesizer.load(tmp_path / "m").sample(5, seed=0).shape == (5, len(fitted.metadata_.names))
    config_path.write_text(json.dumps({**config, "format": "1"}))
    with pytest.raises(DataError, match=r"not a valid simulacra model folder.*format must be a positive"):
        Synthesizer.load(tmp_path / "m")
