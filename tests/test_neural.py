"""CTGAN, TVAE and the diffusion model on a few thousand real Adult rows, a few epochs: behaviour, not quality (that is the
bench's job)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import assert_same_history, assert_same_rows, assert_same_weights
from simulacra.errors import ConditionError, ConfigError
from simulacra.synthesizers import Synthesizer, make

MODELS = ["ctgan", "tvae", "diffusion"]


def _fit(name, train, **params):
    params = {"epochs": 6, "batch_size": 500, "verbose": False, "seed": 0, **params}
    return make(name, **params).fit(train)


@pytest.fixture(scope="module", params=MODELS)
def fitted(request, adult_small):
    return _fit(request.param, adult_small[0])


def test_losses_fall(fitted):
    first, last = fitted.history_[0], fitted.history_[-1]
    assert len(fitted.history_) == fitted.epochs_trained_ == 6
    if fitted.name == "tvae":
        assert last["reconstruction"] < 0.7 * first["reconstruction"]
    elif fitted.name == "diffusion":  # the denoising losses (numerical MSE on F, masked cross-entropy)
        assert last["categorical"] < 0.8 * first["categorical"]
        assert last["numerical"] < first["numerical"]
    else:  # the critic becomes 1-Lipschitz along the interpolates (the cross-entropy falls later)
        assert last["penalty"] < 0.5 * first["penalty"]


def test_sample_keeps_columns_types_bounds_and_categories(fitted, adult_small):
    train = adult_small[0]
    synth = fitted.sample(2000, seed=1)
    assert synth.shape == (2000, train.shape[1]) and synth.dtypes.equals(train.dtypes)
    for c in fitted.metadata_.names_of("numerical"):
        assert train[c].min() <= synth[c].min() and synth[c].max() <= train[c].max()
        assert (synth[c] % 1 == 0).all()
    for c in fitted.metadata_.names_of("categorical"):
        assert set(synth[c].dropna()) <= set(train[c].dropna())
    if fitted.name == "ctgan":  # categories are drawn from the softmax: the missing category appears
        assert 0 < synth["workclass"].isna().mean() < 0.2


def test_seed_reproduces_fit_and_sample(fitted, adult_small):
    pd.testing.assert_frame_equal(fitted.sample(700, seed=5), fitted.sample(700, seed=5))
    assert not fitted.sample(700, seed=5).equals(fitted.sample(700, seed=6))
    again = _fit(fitted.name, adult_small[0])
    assert_same_weights(fitted, again)
    assert_same_rows(fitted.sample(300, seed=2), again.sample(300, seed=2))
    other = _fit(fitted.name, adult_small[0], seed=1)
    with pytest.raises(AssertionError, match="weights differ"):
        assert_same_weights(fitted, other)


def test_conditions_are_exact_and_steer_the_rest(fitted, adult_small):
    train = adult_small[0]
    rich = fitted.sample(1500, conditions={"income": ">50K"}, seed=0)
    poor = fitted.sample(1500, conditions={"income": "<=50K"}, seed=0)
    assert (rich["income"] == ">50K").all() and (poor["income"] == "<=50K").all()
    assert len(rich) == 1500
    several = fitted.sample(300, conditions={"sex": "Female", "race": "White", "age": 37}, seed=0)
    assert (several["sex"] == "Female").all() and (several["race"] == "White").all()
    assert (several["age"] == 37).all() and several["age"].dtype == train["age"].dtype
    missing = fitted.sample(100, conditions={"workclass": None}, seed=0)
    assert missing["workclass"].isna().all()


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"income": "rich"}, "never takes the value 'rich'"),
        ({"age": 300}, "outside the real range"),
        ({"age": None}, "has no missing values"),
    ],
)
def test_impossible_conditions_raise(fitted, conditions, message):
    with pytest.raises(ConditionError, match=message):
        fitted.sample(10, conditions=conditions, seed=0)


def test_save_load_is_faithful(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "weights.pt").is_file()
    loaded = Synthesizer.load(tmp_path / "m")
    assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.sample(500, seed=4), fitted.sample(500, seed=4))
    pd.testing.assert_frame_equal(
        loaded.sample(200, conditions={"income": ">50K"}, seed=4),
        fitted.sample(200, conditions={"income": ">50K"}, seed=4),
    )


@pytest.mark.parametrize("name", MODELS)
def test_resume_after_interruption_matches_an_uninterrupted_fit(name, adult_small, tmp_path):
    train = adult_small[0].iloc[:1500]
    straight = _fit(name, train, epochs=4)

    def interrupt(epoch, losses):
        if epoch == 1:
            raise KeyboardInterrupt

    same = {"epochs": 4, "batch_size": 500, "verbose": False, "seed": 0}
    model = make(name, **same)
    with pytest.raises(KeyboardInterrupt):
        model.fit(train, checkpoint_dir=tmp_path / "ckpt", checkpoint_every=1, on_epoch=interrupt)
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file()
    resumed = make(name, **same)
    resumed.fit(train, checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert_same_weights(straight, resumed)
    assert_same_history(resumed.history_, straight.history_)
    assert not (tmp_path / "ckpt").exists()  # removed after a successful fit
    # a checkpoint is only resumed by the same hyper-parameters
    with pytest.raises(KeyboardInterrupt):
        make(name, epochs=4, verbose=False, seed=0).fit(
            train, checkpoint_dir=tmp_path / "c2", checkpoint_every=1, on_epoch=interrupt
        )
    with pytest.raises(ConfigError, match="other hyper-parameters"):
        make(name, epochs=4, verbose=False, seed=1).fit(train, checkpoint_dir=tmp_path / "c2", resume=True)


@pytest.mark.parametrize("fitted", ["diffusion"], indirect=True)
def test_diffusion_samplers_meet_conditions_and_reproduce(fitted, adult_small, tmp_path):
    fitted.save(tmp_path / "m")
    model = Synthesizer.load(tmp_path / "m").set_params(sampler="heun", steps=4)
    wanted = {"income": ">50K", "workclass": "Private", "age": 40}
    rows = model.sample(400, conditions=wanted, seed=3)
    assert (rows["income"] == ">50K").all() and (rows["workclass"] == "Private").all()
    assert (rows["age"] == 40).all()
    pd.testing.assert_frame_equal(rows, model.sample(400, conditions=wanted, seed=3))
    assert not rows.equals(fitted.sample(400, conditions=wanted, seed=3))  # Euler, 32 steps
    # a categorical condition steers the rest through the denoiser (revealed columns were trained on)
    train = adult_small[0]
    rich = model.sample(1500, conditions={"income": ">50K"}, seed=0)["education-num"].mean()
    poor = model.sample(1500, conditions={"income": "<=50K"}, seed=0)["education-num"].mean()
    real = train.groupby("income")["education-num"].mean()
    assert rich - poor > 0.25 * (real[">50K"] - real["<=50K"])


def test_early_stopping_stops_a_model_that_cannot_improve(adult_small):
    model = _fit("tvae", adult_small[0].iloc[:1000], epochs=40, learning_rate=0.0, patience=2)
    # the first epoch counts as an improvement (the loop compared it with inf − 1e-3·inf = NaN, so it
    # stopped after exactly `patience` epochs whatever the losses); with lr = 0 the loss only wanders
    assert 2 < model.epochs_trained_ < 40


def test_bad_hyper_parameters_and_devices(adult_small):
    with pytest.raises(ConfigError, match="multiple of pac"):
        make("ctgan", batch_size=505, verbose=False).fit(adult_small[0])
    with pytest.raises(ConfigError, match="not a torch device"):
        make("tvae", device="tpu9", verbose=False).fit(adult_small[0])
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            model = make("tvae", device="cuda", epochs=1, verbose=False).fit(adult_small[0].iloc[:500])
        assert model.device_.type == "cpu" and len(model.sample(10, seed=0)) == 10


def test_second_condition_is_met_by_bounded_rejection(fitted):
    # the rarer category steers the model; the other condition is met by keeping matching rows
    rows = fitted.sample(50, conditions={"income": "<=50K", "sex": "Male"}, seed=0)
    assert (rows["income"] == "<=50K").all() and (rows["sex"] == "Male").all()
    assert np.isfinite(rows["age"]).all()


@pytest.fixture(scope="module")
def spans_and_rows(adult_small):
    from simulacra.metadata import Metadata
    from simulacra.transform import TableTransformer

    train = adult_small[0]
    transformer = TableTransformer(numerical="mode_specific", categorical="onehot", seed=0).fit(
        train, Metadata.detect(train)
    )
    return transformer.spans_, torch.from_numpy(transformer.transform(train.iloc[:64])).double()


def _per_span(layout, logits, fn):
    out = torch.zeros_like(logits)
    for s in layout.discrete_spans:
        out[:, s.start : s.end] = fn(logits[:, s.start : s.end])
    return out


@pytest.mark.parametrize("scale", [1.0, 60.0])  # 60: spans far apart, each needs its own shift
def test_span_cross_entropy_and_softmax_match_a_loop_over_spans(spans_and_rows, scale):
    from simulacra.synthesizers.spans import SpanLayout

    spans, x = spans_and_rows
    layout = SpanLayout(spans, torch.device("cpu"))
    layout.member, layout.discrete_mask = (
        layout.member.double(),
        layout.discrete_mask.double(),
    )  # for gradcheck
    logits = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * scale
    target = x * layout.discrete_mask
    expected = -(target * _per_span(layout, logits, lambda v: torch.log_softmax(v, 1))).sum()
    assert torch.allclose(layout.cross_entropy(logits, target), expected, rtol=1e-9)
    soft, cols = layout.activate(logits), layout.discrete_columns
    assert torch.allclose(soft[:, cols], _per_span(layout, logits, lambda v: torch.softmax(v, 1))[:, cols])
    assert torch.allclose(soft[:, layout.continuous], torch.tanh(logits[:, layout.continuous]))
    small = logits[:4].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: layout.cross_entropy(v, target[:4]), (small,))
    assert torch.autograd.gradcheck(lambda v: layout.activate(v), (small,))
