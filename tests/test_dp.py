"""Differential privacy: the accountant, the public domain, the graphical-model estimator, AIM and
DP-SGD, on real Adult rows."""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from simulacra.errors import ConditionError, ConfigError, PrivacyWarning
from simulacra.metadata import Metadata
from simulacra.synthesizers import Synthesizer, make
from simulacra.synthesizers.dp.accounting import epsilon_of_rho, rho_of_epsilon, sgd_epsilon, sgd_noise
from simulacra.synthesizers.dp.graphical import GraphicalModel, Measurement, estimate
from simulacra.transform import TableTransformer
from simulacra.transform.domain import OTHER, estimate_domain, is_declared
from simulacra.transform.encoders import ModeSpecificEncoder


def test_accountant_never_spends_more_than_asked():
    for eps, delta in ((0.1, 1e-6), (1.0, 1e-5), (10.0, 1e-5)):
        rho = rho_of_epsilon(eps, delta)
        assert epsilon_of_rho(rho, delta) <= eps and epsilon_of_rho(rho * 1.01, delta) > eps
    noise = sgd_noise(1.0, 1e-5, q=0.01, steps=1000)
    assert sgd_epsilon(0.01, noise, 1000, 1e-5) <= 1.0 < sgd_epsilon(0.01, noise * 0.9, 1000, 1e-5)
    # a zCDP domain estimate composed in costs more noise for the same ε
    assert sgd_noise(1.0, 1e-5, q=0.01, steps=1000, rho=0.005) > noise


def test_domain_declared_costs_nothing_and_estimates_hide_rare_values(adult_small):
    train, _ = adult_small
    meta = Metadata.detect(train)
    meta.apply_overrides({"age": {"min": 0, "max": 120}, "sex": {"categories": ["Male", "Female"]}})
    declared = estimate_domain(train, meta, ["age", "sex"], rho=0.01, delta=1e-6)
    assert declared.rho == 0.0 and declared.delta == 0.0 and not declared.estimated
    assert (declared.columns["age"].lo, declared.columns["age"].hi) == (0.0, 120.0)
    rare = train.copy()
    rare.loc[0, "native-country"] = "Atlantis"  # one person's value
    meta = Metadata.detect(rare)
    for _ in range(5):  # five draws of the secret noise
        dom = estimate_domain(rare, meta, ["native-country", "hours-per-week"], rho=0.05, delta=1e-6)
        assert "Atlantis" not in dom.columns["native-country"].categories
        assert "United-States" in dom.columns["native-country"].categories
        h = dom.columns["hours-per-week"]
        assert h.lo <= 40 <= h.hi and dom.estimated == ["native-country", "hours-per-week"]
    codes = dom.category_codes("native-country", pd.Series(["Atlantis", None, "United-States"], dtype=object))
    values = list(dom.category_values("native-country", codes))
    assert values[0] == OTHER and pd.isna(values[1]) and values[2] == "United-States"


def test_a_dp_encoding_hides_unreleased_categories_and_reads_no_data(adult_small):
    """TableTransformer.from_domain: one person's category falls into the other bucket, which decodes
    as "(other)" in a text column and as missing in a number-coded one, never as a made-up value."""
    train = adult_small[0].head(2000).copy()
    train["grade"] = np.where(np.arange(len(train)) % 2 == 0, 1, 2)
    train.loc[0, "grade"], train.loc[0, "native-country"] = 99, "Atlantis"
    meta = Metadata.detect(train)
    meta.update_column("grade", sdtype="categorical")
    cols = ["grade", "native-country", "age"]
    dom = estimate_domain(train, meta, cols, rho=0.05, delta=1e-6)
    tt = TableTransformer.from_domain(dom, meta, cols)
    back = tt.inverse_transform(tt.transform(train[cols]))
    assert pd.isna(back.loc[0, "grade"]) and back.loc[0, "native-country"] == OTHER
    assert back.loc[1:, "grade"].tolist() == train.loc[1:, "grade"].tolist()
    kept = back.loc[1:, "native-country"].fillna("?")
    real = train.loc[1:, "native-country"].fillna("?")
    assert ((kept == real) | ((kept == OTHER) & ~real.isin(dom.columns["native-country"].categories))).all()


def test_marginals_of_the_graphical_model_are_exact():
    """Any marginal, inside a clique or across the tree, equals the one summed from the full joint."""
    rng = np.random.default_rng(0)
    sizes = [2, 3, 2, 4, 3]
    cliques = [(0, 1), (1, 2), (2, 3), (1, 3), (3, 4)]
    model = GraphicalModel(sizes, cliques, total=1000.0)
    for c in model.cliques:
        model.theta[c] = rng.normal(0, 1.5, model.theta[c].shape)
    model.calibrate()
    joint = np.zeros(sizes)
    for x in itertools.product(*(range(k) for k in sizes)):
        joint[x] = np.exp(sum(model.theta[c][tuple(x[a] for a in c)] for c in model.cliques))
    joint *= 1000.0 / joint.sum()
    for attrs in ((0,), (0, 1), (0, 4), (0, 2, 4), (1, 3, 4), (0, 1, 2, 3)):
        other = tuple(a for a in range(5) if a not in attrs)
        assert np.allclose(model.marginal(attrs), joint.sum(axis=other), rtol=1e-9), attrs


def test_estimation_recovers_measured_marginals():
    rng = np.random.default_rng(1)
    n = 20_000
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 4
    c = (2 * b + rng.integers(0, 2, n)) % 5
    x, sizes = np.column_stack([a, b, c]), [3, 4, 5]

    def counts(attrs):
        idx = np.ravel_multi_index(tuple(x[:, i] for i in attrs), [sizes[i] for i in attrs])
        return np.bincount(idx, minlength=int(np.prod([sizes[i] for i in attrs]))).astype(float)

    measured = [(0,), (1,), (2,), (0, 1), (1, 2)]
    model = estimate(
        sizes,
        [Measurement(m, counts(m) + rng.normal(0, 1, counts(m).size), 1.0) for m in measured],
        iterations=300,
    )
    for m in measured:
        assert np.abs(model.marginal(m).ravel() - counts(m)).sum() / n < 0.003, m
    draws = model.sample(n, rng)
    assert np.abs(np.bincount(draws[:, 0] * 4 + draws[:, 1], minlength=12) - counts((0, 1))).sum() / n < 0.05


@pytest.fixture(scope="module")
def aim(adult_small, tmp_path_factory):
    train, _ = adult_small
    meta = Metadata.detect(train)
    model = make("aim", epsilon=3.0, verbose=False, seed=0).fit(train, meta)
    folder = tmp_path_factory.mktemp("aim") / "m"
    model.save(folder)
    return train, meta, model, folder


def test_aim_spends_at_most_its_budget_and_stores_no_data_bounds(aim):
    train, meta, model, folder = aim
    p = model.privacy_
    assert p["epsilon"] <= p["epsilon_requested"] == 3.0 and p["delta"] <= 1e-5
    assert p["rho_domain"] > 0 and set(p["estimated_domain"]) == set(meta.names)
    saved = json.loads((folder / "metadata.json").read_text())["columns"]
    for name, col in saved.items():
        d = model.domain_.columns[name]
        assert "reason" not in col or "public schema" in col["reason"]
        if d.kind == "numeric":
            assert (col["min"], col["max"]) == (d.lo, d.hi)
    assert saved["age"]["min"] != train["age"].min() or saved["age"]["max"] != train["age"].max()


def test_aim_learns_the_links_the_marginals_miss(aim):
    train, meta, model, _ = aim
    synth = model.sample(len(train), seed=0)
    floor = make("independent").fit(train, meta).sample(len(train), seed=0)

    def tv(df):
        p = pd.crosstab(train["relationship"], train["income"], normalize=True)
        q = pd.crosstab(df["relationship"], df["income"], normalize=True).reindex_like(p).fillna(0)
        return float(np.abs(p - q).to_numpy().sum() / 2)

    assert tv(synth) < 0.5 * tv(floor), (tv(synth), tv(floor))


def test_aim_conditions_seeds_temperature_and_reload(aim):
    _train, _meta, model, folder = aim
    rich = model.sample(300, conditions={"income": ">50K"}, seed=1)
    assert (rich["income"] == ">50K").all()
    assert rich["relationship"].value_counts(normalize=True).get("Husband", 0) > 0.5  # steered, not just set
    pd.testing.assert_frame_equal(model.sample(200, seed=2), Synthesizer.load(folder).sample(200, seed=2))
    cold = model.sample(3000, seed=3, temperature=0.5)
    assert (
        cold["workclass"].value_counts(normalize=True).iloc[0]
        > model.sample(3000, seed=3)["workclass"].value_counts(normalize=True).iloc[0]
    )
    with pytest.raises(ConditionError, match="no released category"):
        model.sample(5, conditions={"native-country": "Atlantis"})
    counts = model.sample_counts("income", {"<=50K": 7, ">50K": 5}, seed=0)
    assert counts["income"].value_counts().to_dict() == {"<=50K": 7, ">50K": 5}
    # an estimated category set leaves an other bucket and a missing slot, which fit names; class
    # counts draw released categories only
    assert "income" in model.privacy_["other_bucket"]
    drawn = model.sample_counts("income", {"<=50K": 3000, ">50K": 1000}, seed=1)["income"]
    assert drawn.notna().all() and not (drawn == OTHER).any()


def test_aim_refuses_too_few_rounds_for_its_columns(adult_small):
    """The first one-way measurements take d rounds' share of ρ: fewer than 2·d rounds would overspend."""
    train, _ = adult_small
    with pytest.raises(ConfigError, match="at least 30"):
        make("aim", rounds=4, verbose=False).fit(train, Metadata.detect(train))


def test_dp_tvae_trains_from_the_public_domain_and_accounts_its_steps(adult_small, tmp_path):
    train, _ = adult_small
    meta = Metadata.detect(train.head(1000))
    model = make("tvae", dp=True, epsilon=2.0, epochs=2, batch_size=200, verbose=False, seed=0)
    model.fit(train.head(1000), meta)
    p = model.privacy_
    assert 0 < p["epsilon"] <= 2.0 and p["steps"] == 2 * 5 and p["noise_multiplier"] > 0.5
    assert not any(
        isinstance(c.get("value"), ModeSpecificEncoder) for c in model.transformer_.columns_.values()
    )
    rows = model.sample(50, conditions={"sex": "Female"}, seed=0)
    assert (rows["sex"] == "Female").all()
    model.save(tmp_path / "m")
    again = Synthesizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(model.sample(100, seed=1), again.sample(100, seed=1))
    assert again.privacy_["epsilon"] == p["epsilon"]
    with pytest.raises(ConfigError, match="patience"):
        make("tvae", dp=True, patience=3)


def test_dp_noise_is_secret_so_two_fits_with_one_seed_differ(adult_small):
    """A mechanism's noise seeded publicly can be replayed (refit on D and D + x, compare): ε = ∞. Two
    fits of one table with one seed must differ, for AIM (measurements, selections, domain) and DP-SGD
    (Poisson batches, gradient noise), while the released model still samples reproducibly."""
    train = adult_small[0].head(1500)[["age", "workclass", "education", "sex", "hours-per-week", "income"]]
    meta = Metadata.detect(train)
    a, b = (make("aim", epsilon=1.0, rounds=24, verbose=False, seed=0).fit(train, meta) for _ in range(2))
    assert not np.allclose(a.model_.total, b.model_.total)
    assert not a.sample(500, seed=0).equals(b.sample(500, seed=0))
    pd.testing.assert_frame_equal(a.sample(200, seed=3), a.sample(200, seed=3))
    assert "seed" not in json.dumps(a.privacy_) and "OS entropy" in a.privacy_["noise"]
    t1, t2 = (
        make("tvae", dp=True, epsilon=2.0, epochs=1, batch_size=300, verbose=False, seed=0).fit(train, meta)
        for _ in range(2)
    )
    w1, w2 = t1.decoder_.state_dict(), t2.decoder_.state_dict()
    assert any(not np.allclose(w1[k].numpy(), w2[k].numpy()) for k in w1)


def test_observed_bounds_are_never_declared_and_copied_ones_are_warned_about(adult_small, tmp_path):
    """inspect -o then --metadata must not turn the data's extremes into free, public bounds."""
    train = adult_small[0]
    written = tmp_path / "meta.json"
    Metadata.detect(train).to_json(written)
    saved = json.loads(written.read_text())["columns"]["age"]
    assert "min" not in saved and saved["observed"] == {"min": int(train["age"].min()), "max": 90}
    meta = Metadata.detect(train).apply_overrides(written)
    assert not is_declared(meta, "age") and meta["age"].min == train["age"].min()
    assert Metadata.from_dict(json.loads(written.read_text()))["age"].max == 90  # read back, undeclared
    dom = estimate_domain(train, meta, ["age"], rho=0.05, delta=1e-6)
    assert dom.estimated == ["age"] and dom.rho > 0
    meta.apply_overrides({"age": {"min": 0, "max": 120}})  # outside knowledge
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrivacyWarning)
        assert estimate_domain(train, meta, ["age"], rho=0.05, delta=1e-6).rho == 0.0
    meta.apply_overrides({"age": {"min": 0, "max": int(train["age"].max())}})  # copied from the data
    with pytest.warns(PrivacyWarning, match="declared max equals the data"):
        estimate_domain(train, meta, ["age"], rho=0.05, delta=1e-6)
    round_trip = Metadata.from_dict(meta.to_dict())
    assert is_declared(round_trip, "age") and round_trip["age"].max == train["age"].max()


def test_the_domain_dtype_comes_from_the_schema_not_from_missing_values(adult_small):
    """An integer column with one missing value is float64 in pandas: storing the data's dtype would
    tell that the column has a missing value, which no mechanism paid for."""
    base = adult_small[0].head(500)[["age", "education-num", "sex"]].copy()
    base["grade"] = (np.arange(len(base)) % 3).astype("int64")
    holed = base.copy()
    holed.loc[7, ["age", "grade"]] = np.nan
    holed.loc[8, "sex"] = None
    kinds = []
    for df in (base, holed):
        meta = Metadata.detect(base)
        meta.update_column("grade", sdtype="categorical", categories=[0, 1, 2])
        dom = estimate_domain(df, meta, list(base.columns), rho=0.5, delta=1e-6)
        kinds.append({c: d.dtype for c, d in dom.columns.items()})
    assert kinds[0] == kinds[1] and kinds[0]["grade"] == "Int64" and kinds[0]["age"] == "int64"


@pytest.fixture(scope="module")
def dp_tvae_rows(adult_small):
    return adult_small[0].head(600)[["age", "workclass", "education", "sex", "hours-per-week", "income"]]


def test_dp_tvae_shows_no_private_loss_and_steps_on_empty_batches(dp_tvae_rows):
    """Losses on private batches are not covered by the accountant; a skipped empty Poisson batch would
    tell that it was empty: every planned step is an optimizer step, noise-only when the batch is empty."""
    seen = []
    model = make("tvae", dp=True, epsilon=3.0, epochs=2, batch_size=2, verbose=False, seed=0)
    model.fit(dp_tvae_rows, Metadata.detect(dp_tvae_rows), on_epoch=lambda e, losses: seen.append(losses))
    assert seen == [{}, {}] and model.history_ == [{}, {}]
    planned = 2 * round(len(dp_tvae_rows) / 2)
    assert model.privacy_["steps"] == planned
    adam = model.opt_.original_optimizer
    assert {int(adam.state[p]["step"]) for group in adam.param_groups for p in group["params"]} == {planned}
    assert all(np.isfinite(v.numpy()).all() for v in model.decoder_.state_dict().values())


def test_a_resumed_dp_fit_counts_the_steps_before_the_interruption(dp_tvae_rows, tmp_path):
    meta = Metadata.detect(dp_tvae_rows)
    params = {"dp": True, "epsilon": 3.0, "epochs": 3, "batch_size": 100, "verbose": False}

    def stop(epoch, losses):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make("tvae", **params).fit(
            dp_tvae_rows, meta, checkpoint_dir=tmp_path, checkpoint_every=1, on_epoch=stop
        )
    with pytest.raises(ConfigError, match="other hyper-parameters"):  # its noise was planned for 3 epochs
        make("tvae", **{**params, "epochs": 5}).fit(dp_tvae_rows, meta, checkpoint_dir=tmp_path, resume=True)
    model = make("tvae", **params).fit(dp_tvae_rows, meta, checkpoint_dir=tmp_path, resume=True)
    assert model.privacy_["steps"] == 3 * 6 and model.privacy_["epsilon"] <= 3.0


def test_dp_models_refuse_subsamples_filters_and_the_exact_row_count(adult_small, tmp_path):
    from simulacra.pipeline import load_config
    from simulacra.workflow import load_fit_table, sample_table

    train = adult_small[0].head(1200)
    path = tmp_path / "t.csv"
    train.to_csv(path, index=False)
    with pytest.raises(ConfigError, match="trains on every row"):
        load_fit_table(str(path), max_rows=1000, private=True)
    assert load_fit_table(str(path), max_rows=1000)[1] is not None  # a non-private fit samples
    assert len(load_fit_table(str(path), max_rows=1200, private=True)[0]) == 1200
    small = train[["age", "sex", "income"]]
    aim = make("aim", epsilon=1.0, rounds=12, verbose=False).fit(small, Metadata.detect(small))
    with pytest.raises(ConfigError, match="differentially private"):
        sample_table(aim, 50, filters=["near-copies"], real_train=small)
    assert aim.default_rows(len(small)) == round(aim.model_.total)
    base = {"data": {"train": "adult"}, "output": str(tmp_path / "run")}
    with pytest.raises(ConfigError, match="differentially private"):
        load_config({**base, "model": {"name": "aim"}, "filter": ["near-copies"]})
    with pytest.raises(ConfigError, match=r"sample\.rows"):
        load_config({**base, "model": {"name": "tvae", "params": {"dp": True}}})
    assert load_config({**base, "model": {"name": "tvae", "params": {"dp": True}}, "sample": {"rows": 10}})
