"""The mixture model (the fast default) on real Adult and Bank Marketing rows: EM's guarantees, exact
conditions, seeds, save/load. Quality and speed are the bench's job."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from simulacra.datasets import load
from simulacra.errors import ConditionError, ConfigError, DataError
from simulacra.synthesizers import Synthesizer, make


def _fit(train, **params):
    params = {"components": 40, "iterations": 25, "verbose": False, "seed": 0, **params}
    return make("mixture", **params).fit(train)


@pytest.fixture(scope="module")
def fitted(adult_small):
    return _fit(adult_small[0])


def test_em_never_lowers_the_likelihood(fitted):
    loglik = [h["loglik"] for h in fitted.history_]
    assert len(loglik) == fitted.epochs_trained_ >= 5
    # EM with a Dirichlet prior climbs the posterior; the likelihood term alone may dip by rounding only
    assert all(b >= a - 1e-3 for a, b in itertools.pairwise(loglik))
    assert loglik[-1] > loglik[0] + 1.0  # nats per row: the components learned something
    assert np.isclose(fitted.weights_.sum(), 1.0)


def test_sample_keeps_types_bounds_categories_and_value_grids(fitted, adult_small):
    train = adult_small[0]
    synth = fitted.sample(3000, seed=1)
    assert synth.shape == (3000, train.shape[1]) and synth.dtypes.equals(train.dtypes)
    for c in fitted.metadata_.names_of("numerical"):
        assert train[c].min() <= synth[c].min() and synth[c].max() <= train[c].max()
        if train[c].nunique() <= 1000:  # on the value grid: only values the column really takes
            assert set(synth[c].unique()) <= set(train[c].unique()), c
    for c in fitted.metadata_.names_of("categorical"):
        assert set(synth[c].dropna()) <= set(train[c].dropna())
    # the missing category of workclass is reproduced at about its real rate
    assert abs(synth["workclass"].isna().mean() - train["workclass"].isna().mean()) < 0.03
    # and the dependence is learned: education-num follows education (a deterministic link in Adult)
    pairs = synth.groupby("education")["education-num"].agg(lambda s: s.value_counts(normalize=True).iloc[0])
    assert pairs.mean() > 0.8


def test_seed_reproduces_fit_and_sample(fitted, adult_small):
    pd.testing.assert_frame_equal(fitted.sample(700, seed=5), fitted.sample(700, seed=5))
    assert not fitted.sample(700, seed=5).equals(fitted.sample(700, seed=6))
    again = _fit(adult_small[0])
    np.testing.assert_array_equal(again.probs_, fitted.probs_)
    other = _fit(adult_small[0], seed=1)
    assert np.abs(other.probs_[:, :20].sum(0) - fitted.probs_[:, :20].sum(0)).max() > 1e-3


def test_conditions_are_exact_rejection_free_and_steer_the_rest(fitted, adult_small):
    rich = fitted.sample(2000, conditions={"income": ">50K"}, seed=0)
    poor = fitted.sample(2000, conditions={"income": "<=50K"}, seed=0)
    assert (rich["income"] == ">50K").all() and (poor["income"] == "<=50K").all()
    train = adult_small[0]
    real_gap = (
        train.loc[train.income == ">50K", "age"].mean() - train.loc[train.income == "<=50K", "age"].mean()
    )
    gap = rich["age"].mean() - poor["age"].mean()
    assert real_gap > 5 and 0.5 * real_gap < gap < 1.5 * real_gap
    several = fitted.sample(300, conditions={"sex": "Female", "race": "White", "age": 37}, seed=0)
    assert (several["sex"] == "Female").all() and (several["race"] == "White").all()
    assert (several["age"] == 37).all() and several["age"].dtype == train["age"].dtype
    missing = fitted.sample(100, conditions={"workclass": None}, seed=0)
    assert missing["workclass"].isna().all()
    # a rare combination is met exactly too, with no rejection loop to run out of draws
    rare = fitted.sample(50, conditions={"native-country": "Honduras", "income": ">50K"}, seed=0)
    assert (rare["native-country"] == "Honduras").all() and (rare["income"] == ">50K").all()


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"income": "rich"}, "never takes the value 'rich'"),
        ({"age": 300}, "outside the real range"),
        ({"age": 37.5}, "not one of its"),
        ({"age": None}, "has no missing values"),
    ],
)
def test_impossible_conditions_raise(fitted, conditions, message):
    with pytest.raises(ConditionError, match=message):
        fitted.sample(10, conditions=conditions, seed=0)


def test_save_load_is_faithful_and_damage_is_one_error(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.sample(500, seed=4), fitted.sample(500, seed=4))
    pd.testing.assert_frame_equal(
        loaded.sample(200, conditions={"income": ">50K", "age": 50}, seed=4),
        fitted.sample(200, conditions={"income": ">50K", "age": 50}, seed=4),
    )
    with np.load(tmp_path / "m" / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["probs"] = arrays["probs"][:, :-3]  # a truncated table of probabilities
    np.savez(tmp_path / "m" / "arrays.npz", **arrays)
    with pytest.raises(DataError, match="not a valid simulacra model folder"):
        Synthesizer.load(tmp_path / "m")


def test_bank_marketing_and_bad_parameters():
    train, _ = load("bank")
    assert len(train) == 30_141 and train["y"].value_counts()["yes"] == 3527
    model = _fit(train.iloc[:4000], components=20, iterations=10)
    synth = model.sample(2000, seed=0)
    assert set(synth["month"]) <= set(train["month"])
    assert (synth["pdays"] == -1).mean() > 0.6  # the spike of "never contacted" survives binning
    for params, message in [
        ({"components": 0}, "components=0"),
        ({"bins": 1}, "bins=1"),
        ({"smoothing": 0}, "smoothing=0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            make("mixture", **params)


@pytest.fixture(scope="module")
def housing_rows():
    train, _ = load("housing")
    assert train.shape == (16_512, 10) and train["total_bedrooms"].isna().sum() > 100
    return train.sample(4000, random_state=0).reset_index(drop=True)


def test_gaussian_leaves_keep_the_continuous_ridges_that_bins_break(housing_rows, tmp_path):
    """California Housing: rooms, bedrooms, population and households lie on a ridge. Binned leaves
    draw each column on its own inside a bin, so a tree detector separates the rows; Gaussian leaves
    on the normal scores keep the ridge. The median age (52 values) stays binned."""
    from simulacra.evaluate.fidelity import detection
    from simulacra.metadata import Metadata

    meta = Metadata.detect(housing_rows)
    gaussian = _fit(housing_rows, components=60, iterations=40)
    binned = _fit(housing_rows, components=60, iterations=40, continuous="bins")
    leaves = {gaussian.transformer_.spans_[i].column for i in gaussian.gaussian_}
    assert {"total_rooms", "households", "population", "median_income"} <= leaves
    assert len(leaves) == 6 and "housing_median_age" not in leaves
    # the map is a curved joint: longitude and latitude binned together, the ridges kept Gaussian
    assert gaussian.curved_ == [("longitude", "latitude")]
    assert "Gaussian leaves for 6" in gaussian.summary() and "longitude × latitude" in gaussian.summary()
    scores = {
        name: detection(housing_rows, model.sample(4000, seed=1), meta, model="xgb", seed=0)["score"]
        for name, model in (("gaussian", gaussian), ("bins", binned))
    }
    assert scores["gaussian"] > scores["bins"] + 0.1, scores
    # save/load, exact numeric conditions through the conditional Gaussian, and a damaged leaf refused
    gaussian.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.sample(300, seed=2), gaussian.sample(300, seed=2))
    value = float(housing_rows["median_income"].iloc[0])
    rich = gaussian.sample(500, conditions={"median_income": value}, seed=3)
    assert (rich["median_income"] == value).all()
    assert loaded.curved_ == gaussian.curved_
    coast = gaussian.sample(300, conditions={"longitude": -122.25}, seed=3)  # a binned pair: exact too
    assert (coast["longitude"] == -122.25).all() and coast["latitude"].between(36.0, 39.5).mean() > 0.8
    poor = gaussian.sample(
        500, conditions={"median_income": float(housing_rows["median_income"].min())}, seed=3
    )
    assert rich["median_house_value"].median() > poor["median_house_value"].median()  # steered
    with np.load(tmp_path / "m" / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["chol_0"] = -arrays["chol_0"]  # negative diagonal: not a Cholesky factor
    np.savez(tmp_path / "m" / "arrays.npz", **arrays)
    with pytest.raises(DataError, match="not a valid simulacra model folder"):
        Synthesizer.load(tmp_path / "m")


def test_advice_names_the_continuous_tables_and_agrees_with_the_leaves(housing_rows, adult_small):
    """``inspect``/``fit`` advice: Housing is continuous (the mixture advised, diffusion named as the
    model to compare), Adult is not; the advice's continuum columns are the mixture's Gaussian leaves."""
    from simulacra.metadata import Metadata
    from simulacra.synthesizers.advice import advise

    housing = advise(housing_rows, Metadata.detect(housing_rows))
    assert (housing.model, housing.alternative) == ("mixture", "diffusion")
    assert len(housing.continuous) == 8 and "housing_median_age" not in housing.continuous
    assert (
        "8 of 10 columns are continuous" in housing.line() and "--models mixture,diffusion" in housing.line()
    )
    fitted = _fit(housing_rows, components=5, iterations=1)
    modelled = {fitted.transformer_.spans_[i].column for i in fitted.gaussian_}
    assert set(housing.continuous) == modelled | {c for pair in fitted.curved_ for c in pair}
    adult = advise(adult_small[0], Metadata.detect(adult_small[0]))
    assert (adult.model, adult.alternative) == ("mixture", None)
    assert "capital-gain" not in adult.continuous and "fnlwgt" in adult.continuous
    assert adult.line().startswith("suggested model: mixture — ")


def test_a_curved_pair_is_binned_together_and_a_straight_ridge_stays_gaussian():
    """The rule behind ``longitude × latitude``, on shapes with a known answer: points on a ring (a
    thin curved set) fill far fewer cells than a Gaussian with their correlation, two noisy linear
    ridges fill as many, and independent columns are left alone."""
    from simulacra.synthesizers.mixture import _curved_pairs

    rng = np.random.default_rng(0)
    n = 6000
    angle = rng.uniform(0, 2 * np.pi, n)
    t = rng.standard_normal(n)
    table = pd.DataFrame(
        {
            "ring_x": np.cos(angle) + 0.01 * rng.standard_normal(n),
            "line_a": t,
            "ring_y": np.sin(angle) + 0.01 * rng.standard_normal(n),
            "line_b": 2.0 * t + 0.3 * rng.standard_normal(n),
            "free": rng.standard_normal(n),
        }
    )
    from scipy.special import ndtri

    scores = ndtri((table.rank().to_numpy() - 0.5) / n)
    assert _curved_pairs(scores, 64, 0) == [(0, 2)]
    model = _fit(table, components=20, iterations=10)
    assert model.curved_ == [("ring_x", "ring_y")]
    synth = model.sample(4000, seed=1)
    radius = np.hypot(synth["ring_x"], synth["ring_y"])
    assert radius.between(0.9, 1.1).mean() > 0.95  # on the ring, not smeared into its disc
